#include "clients/cli/common.h"

#include <grpc/support/log.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "base/quoted.h"
#include "base/status_macros.h"
#include "base/time_util.h"
#include "google/protobuf/util/json_util.h"
#include "integrity/signing.h"

namespace evenhand::cli {

absl::StatusOr<std::shared_ptr<grpc::Channel>> Context::Channel() const {
  return clients::Dial(connection);
}

CLI::App* Registry::Add(const std::string& name, const std::string& description,
                        std::function<int(const Context&)> run) {
  CLI::App* sub = app_->add_subcommand(name, description);
  commands_.emplace_back(sub, std::move(run));
  return sub;
}

int Registry::RunParsed(const Context& context) const {
  for (const auto& [sub, run] : commands_) {
    if (sub->parsed()) return run(context);
  }
  return -1;
}

namespace {

ABSL_CONST_INIT absl::Mutex grpc_said_mu(absl::kConstInit);
std::deque<std::string>& GrpcSaid() {
  static auto* said = new std::deque<std::string>();
  return *said;
}

void KeepGrpcLine(gpr_log_func_args* args) {
  if (args->severity != GPR_LOG_SEVERITY_ERROR || args->message == nullptr) return;
  absl::MutexLock lock(&grpc_said_mu);
  GrpcSaid().push_back(OneLine(args->message, 240));
  if (GrpcSaid().size() > 3) GrpcSaid().pop_front();
}

}  // namespace

void KeepGrpcLogs() {
  if (std::getenv("GRPC_VERBOSITY") == nullptr) gpr_set_log_function(&KeepGrpcLine);
}

bool NeverConnected(const absl::Status& status) {
  const absl::string_view m = status.message();
  return absl::IsUnavailable(status) &&
         (absl::StrContains(m, "failed to connect") || absl::StrContains(m, "Connection refused") ||
          absl::StrContains(m, "DNS resolution failed"));
}

int FailServer(const absl::Status& status, const Context& context) {
  const clients::Connection& c = context.connection;
  const absl::string_view m = status.message();
  const bool unavailable = absl::IsUnavailable(status);
  // The server hung up: not running there, or (with TLS) on this client.
  const bool hung_up = absl::StrContains(m, "Socket closed") ||
                       absl::StrContains(m, "Connection reset by peer") ||
                       absl::StrContains(m, "Broken pipe");
  const std::string host = c.address.substr(0, c.address.rfind(':'));
  std::string hint;
  bool specific = true;
  if (unavailable && c.tls() && absl::StrContains(m, "wrong version number")) {
    hint = absl::StrCat("\n  the server at ", c.address,
                        " does not speak TLS (a server in local mode is plain text on loopback): "
                        "drop --ca, --cert, --key and EVENHAND_CA");
  } else if (unavailable && c.tls() && absl::StrContains(m, "Peer name")) {
    hint = absl::StrCat("\n  the server's certificate does not name \"",
                        c.server_name.empty() ? host : c.server_name,
                        "\": set --server-name to a name it holds");
  } else if (unavailable && c.tls() && absl::StrContains(m, "certificate verify failed")) {
    // The server answered, but what it showed is not what --ca vouches for.
    hint = absl::StrCat("\n  the server's certificate did not verify against --ca (", c.ca_file,
                        "): is that the CA that issued it, and is the certificate within "
                        "its dates (not expired)?");
  } else if (NeverConnected(status) || (unavailable && hung_up)) {
    specific = false;
    hint = absl::StrCat(
        "\n  is evenhandd running at ", c.address, "? set --server or EVENHAND_SERVER",
        !c.tls() ? "; a server with TLS needs --ca"
        : hung_up && !c.cert_file.empty()
            ? absl::StrCat("; if it is, it hung up on the client certificate (", c.cert_file,
                           "): it takes certificates of the council's CA only, "
                           "and not expired")
            : "");
  } else if (absl::IsDeadlineExceeded(status)) {
    hint = absl::StrCat("\n  no answer from ", c.address, " in time; is it the right address?");
  } else if (absl::IsCancelled(status)) {
    // gRPC's own when a server stopping (or a connection lost) cuts a call
    // off: "CANCELLED: CANCELLED" said nothing (outside probe).
    hint = absl::StrCat("\n  the call to ", c.address,
                        " ended before its answer: the server stopped or restarted, or the "
                        "connection was lost. Ask again once `evenhand status` answers");
  } else if (absl::IsUnauthenticated(status)) {
    hint =
        absl::StrContains(status.message(), "takes no bearer token") ||
                absl::StrContains(status.message(), "listed by two principals")
            ? "\n  ask the server's operator: its configuration refuses these credentials"
            : "\n  give a client certificate (--cert, --key) or a token (--token-file), with --ca";
  } else {
    specific = false;
  }
  // gRPC's own words, when its status may come from it (not an answer of
  // the server's, which says what it means).
  if (!specific && (unavailable || absl::IsUnknown(status) || absl::IsInternal(status))) {
    absl::MutexLock lock(&grpc_said_mu);
    for (const std::string& line : GrpcSaid()) absl::StrAppend(&hint, "\n  gRPC: ", line);
  }
  std::fprintf(stderr, "evenhand: %s: %s%s\n", absl::StatusCodeToString(status.code()).c_str(),
               Printable(m, true).c_str(), hint.c_str());
  return kServer;
}

int FailUsage(const absl::Status& status) {
  std::fprintf(stderr, "evenhand: %s\n", Printable(status.message(), true).c_str());
  return kUsage;
}

int FailIo(const absl::Status& status) {
  std::fprintf(stderr, "evenhand: %s\n", Printable(status.message(), true).c_str());
  return kLocalIo;
}

int FailLocal(const absl::Status& status) {
  return absl::IsNotFound(status) || absl::IsPermissionDenied(status) ? FailIo(status)
                                                                      : FailUsage(status);
}

int VerificationFailed(const std::string& why) {
  std::fprintf(stderr, "VERIFICATION FAILED: %s\n", Printable(why, true).c_str());
  return kVerificationFailed;
}

std::string ToJsonLine(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = false;
  // Printing a well-formed message to JSON cannot fail.
  (void)google::protobuf::util::MessageToJsonString(m, &out, options);
  return out;
}

absl::Status ParseJson(const std::string& json, google::protobuf::Message* m,
                       const std::string& what) {
  auto status = google::protobuf::util::JsonStringToMessage(json, m);
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", status.message().as_string()));
  }
  return absl::OkStatus();
}

std::string FormatTimestamp(const google::protobuf::Timestamp& ts) {
  absl::Time t = absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

CLI::Option* AddFormatOption(CLI::App* cmd, std::string* format,
                             const std::vector<std::string>& formats, bool json_lines) {
  std::vector<std::string> allowed = formats;
  std::string help = absl::StrJoin(formats, ", ");
  if (json_lines && std::find(formats.begin(), formats.end(), "json") != formats.end()) {
    allowed.push_back("jsonl");
    help = absl::StrCat(help, " (jsonl is another name for json)");
  }
  // One transform, lower-casing first: CLI11 runs transforms in the reverse
  // of the order they are added, so "JSONL" passed a separate "jsonl" step
  // before it was lower-cased, and was taken as "jsonl", which no command
  // prints: a table came out (outside probe).
  return cmd->add_option("--format", *format, help)
      ->transform(CLI::Validator(
          [json_lines](std::string& value) {
            absl::AsciiStrToLower(&value);
            if (json_lines && value == "jsonl") value = "json";
            return std::string();
          },
          "", "any case"))
      ->check(CLI::IsMember(allowed))
      ->capture_default_str();
}

CLI::Validator OutputFileName() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        if (value.empty() || value == "=")
          return "needs a file name (or - for the standard output)";
        if (value[0] == '=') {
          return absl::StrCat("\"", value, "\" begins with \"=\": write -o ", value.substr(1),
                              " or --output=", value.substr(1));
        }
        return "";
      },
      "FILE");
}

CLI::Validator AnyCase() {
  return CLI::Validator(
      [](std::string& value) {
        absl::AsciiStrToLower(&value);
        return std::string();
      },
      "", "any case");
}

CLI::Option* AddProgressOption(CLI::App* cmd, std::string* mode) {
  return cmd
      ->add_option("--progress", *mode,
                   "a progress bar on stderr: auto (when stderr is a terminal), always or never")
      ->transform(AnyCase())
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->capture_default_str();
}

void PrintEventHeader(bool chain) {
  std::printf("%10s  %-32s  %-32s  %-20s  %-20s%s\n", "position", "stream@revision", "type",
              "occurred (UTC)", "recorded (UTC)", chain ? "  chain hash (hex)" : "");
}

void PrintEvent(const v1::RecordedEvent& e, const std::string& format,
                const std::string* chain_hash) {
  if (format == "table") {
    std::printf(
        "%10llu  %-32s  %-32s  %-20s  %-20s%s\n", static_cast<unsigned long long>(e.position()),
        Printable(absl::StrCat(e.event().stream_id(), "@", e.stream_revision())).c_str(),
        Printable(e.event().type()).c_str(), FormatTimestamp(e.event().occurred_at()).c_str(),
        FormatTimestamp(e.event().recorded_at()).c_str(),
        chain_hash != nullptr ? absl::StrCat("  ", Hex(*chain_hash)).c_str() : "");
  } else {
    std::printf("%s\n", ToJsonLine(e).c_str());
  }
}

absl::Status WriteOutput(const std::string& path, const std::string& text, absl::string_view flag) {
  if (path.empty() || path == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return absl::OkStatus();
  }
  EH_RETURN_IF_ERROR(CheckWritablePath(flag, path));
  errno = 0;
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  if (!out) {
    return absl::PermissionDeniedError(absl::StrCat(flag, ": cannot write ", path,
                                                    errno != 0 ? ": " : "",
                                                    errno != 0 ? std::strerror(errno) : ""));
  }
  std::fprintf(stderr, "evenhand: wrote %s\n", path.c_str());
  return absl::OkStatus();
}

absl::Status CheckWritablePath(absl::string_view flag, const std::string& path) {
  if (path.empty() || path == "-") return absl::OkStatus();
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return absl::PermissionDeniedError(
        absl::StrCat(flag, ": cannot write ", path, ": it is a folder; name a file in it"));
  }
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty() && !std::filesystem::is_directory(parent, ec)) {
    return absl::PermissionDeniedError(
        absl::StrCat(flag, ": cannot write ", path, ": there is no folder ", parent.string()));
  }
  return absl::OkStatus();
}

std::string Hex(const std::string& bytes) { return absl::BytesToHexString(bytes); }

ProgressBar::ProgressBar(const std::string& label, const std::string& mode)
    : label_(label), on_(mode == "always" || (mode == "auto" && isatty(STDERR_FILENO))) {}

void ProgressBar::Update(uint64_t done, uint64_t total, uint64_t matched) {
  if (!on_ || total == 0) return;
  const absl::Time now = absl::Now();
  if (now - last_ < absl::Milliseconds(100) && done < total) return;
  last_ = now;
  const int width = 30;
  const int filled = static_cast<int>(width * std::min<uint64_t>(done, total) / total);
  std::fprintf(stderr, "\r%s [%s%s] %3d%%  %llu of %llu positions%s", label_.c_str(),
               std::string(static_cast<size_t>(filled), '#').c_str(),
               std::string(static_cast<size_t>(width - filled), '.').c_str(),
               static_cast<int>(100 * std::min<uint64_t>(done, total) / total),
               static_cast<unsigned long long>(done), static_cast<unsigned long long>(total),
               matched == kUnknown ? "" : absl::StrCat("  ", matched, " events").c_str());
  drawn_ = true;
}

void ProgressBar::Done() {
  if (drawn_) std::fprintf(stderr, "\n");
}

const CLI::Validator& Decimal() {
  static const CLI::Validator* const decimal = new CLI::Validator(
      [](std::string& text) -> std::string {
        if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) {
          return "must be a whole number in decimal digits (0-9), e.g. 42";
        }
        const size_t first = text.find_first_not_of('0');
        text = first == std::string::npos ? "0" : text.substr(first);
        // (CLI11 would take a number too large for the flag as the largest
        // it holds, silently.)
        uint64_t value = 0;
        if (!absl::SimpleAtoi(text, &value)) {
          return "is too large: at most 18446744073709551615";
        }
        return "";
      },
      "DECIMAL");
  return *decimal;
}

namespace {

// YYYY-MM-DD exactly, each part in digits.
bool IsDateShape(const std::string& text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (text[i] < '0' || text[i] > '9') return false;
  }
  return true;
}

// The years a report may name, as the server takes them (base/time_util.h:
// from 1900-01-01T00:00:00Z, before 2200-01-01T00:00:00Z).
constexpr int64_t kFirstYear = 1900;
constexpr int64_t kLastYear = 2199;

}  // namespace

bool ParseRfc3339(const std::string& text, absl::Time* t, std::string* error) {
  if (!absl::ParseTime(absl::RFC3339_full, text, t, error)) return false;
  // YYYY-MM-DDTHH:MM:SS...: the seconds at 17 and 18.
  if (text.size() >= 19 && text.compare(17, 2, "60") == 0) {
    *error = "second 60 (a leap second) is not taken: write :59, or the next minute's :00";
    return false;
  }
  return true;
}

absl::StatusOr<absl::Time> ParseWhen(const std::string& flag, const std::string& text,
                                     bool end_of_day) {
  const absl::Status neither = absl::InvalidArgumentError(absl::StrCat(
      flag, ": \"", text,
      "\" is neither a date (2026-03-01) nor an RFC 3339 time (2026-03-01T09:30:00Z)"));
  // Both forms begin with a four-digit year and a dash: absl alone would
  // also take "26-03-01" (the year 26) or "+2026-03-01".
  if (!IsDateShape(text.substr(0, 10))) return neither;
  absl::Time t;
  absl::CivilDay day;
  if (text.size() == 10) {
    if (!absl::ParseCivilTime(text, &day)) {
      return absl::InvalidArgumentError(
          absl::StrCat(flag, ": \"", text, "\" is not a day of the calendar"));
    }
    t = absl::FromCivil(end_of_day ? day + 1 : day, UkTimeZone());
  } else {
    std::string error;
    if (!ParseRfc3339(text, &t, &error)) {
      if (error.rfind("second 60", 0) == 0) {
        return absl::InvalidArgumentError(absl::StrCat(flag, ": \"", text, "\": ", error));
      }
      return neither;
    }
    day = absl::ToCivilDay(t, UkTimeZone());
  }
  if (day.year() < kFirstYear) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": \"", text, "\" is before ", kFirstYear,
                     ", the first year the server takes (a mistyped year?)"));
  }
  if (day.year() > kLastYear) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": \"", text,
                                                   "\" is in the future, after ", kLastYear,
                                                   ", the last year the server takes (a "
                                                   "mistyped year?)"));
  }
  return t;
}

void AddFilterFlags(CLI::App* cmd, FilterFlags* f) {
  cmd->add_option("--case", f->case_id, "one case: its stream, e.g. complaint-C-17");
  cmd->add_option("--prefix", f->prefixes,
                  "streams starting with these (comma-separated or repeated)")
      ->delimiter(',');
  cmd->add_option("--type", f->types, "events of these types (comma-separated or repeated)")
      ->delimiter(',');
  cmd->add_option("--actor", f->actor, "events caused by this actor");
  cmd->add_option("--group", f->group,
                  "events concerning this political group (naming it or one of its councillors "
                  "then, or in a case opened so: its councillors' queries and complaints too)");
  cmd->add_option("--officer", f->officer, "events concerning this officer");
  cmd->add_option("--member", f->member, "events concerning this councillor");
  cmd->add_option("--from", f->from, "happened on or after this day (YYYY-MM-DD, UK) or time");
  cmd->add_option("--to", f->to,
                  "happened on or before this day (included), or before this time (excluded)");
  cmd->add_option("--from-position", f->from_position, "first position")->transform(Decimal());
  cmd->add_option("--to-position", f->to_position, "last position")->transform(Decimal());
}

absl::Status CheckReadableFile(const std::string& flag, const std::string& path) {
  std::error_code ec;
  const std::filesystem::file_status st = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(st)) {
    return absl::NotFoundError(absl::StrCat(flag, ": cannot read ", path, ": no such file"));
  }
  if (std::filesystem::is_directory(st)) {
    return absl::NotFoundError(
        absl::StrCat(flag, ": cannot read ", path, ": it is a folder; name a file in it"));
  }
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(flag, ": cannot open ", path));
  return absl::OkStatus();
}

// "2049.0 MiB", "512 bytes".
static std::string SizeText(uint64_t bytes) {
  if (bytes >= (uint64_t{1} << 20)) {
    return absl::StrFormat("%.1f MiB", static_cast<double>(bytes) / (uint64_t{1} << 20));
  }
  return absl::StrCat(bytes, " bytes");
}

absl::StatusOr<std::string> ReadLocalFile(const std::string& flag, const std::string& path,
                                          uint64_t max_bytes, absl::string_view what) {
  EH_RETURN_IF_ERROR(CheckReadableFile(flag, path));
  std::error_code ec;
  const uintmax_t size = std::filesystem::file_size(path, ec);
  // (A pipe or a device has no size: it is read, and its bytes counted.)
  if (!ec && size > max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": ", path, " is ", SizeText(size),
                                                   ", larger than any ", what, " can be (",
                                                   SizeText(max_bytes), "): not a ", what));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(flag, ": cannot open ", path));
  std::string bytes;
  char buffer[1 << 16];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    if (bytes.size() + static_cast<uint64_t>(in.gcount()) > max_bytes) {
      return absl::InvalidArgumentError(absl::StrCat(flag, ": ", path, " is larger than any ", what,
                                                     " can be (", SizeText(max_bytes), "): not a ",
                                                     what));
    }
    bytes.append(buffer, static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) return absl::NotFoundError(absl::StrCat(flag, ": cannot read ", path));
  if (bytes.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": ", path, " is empty: not a ", what));
  }
  return bytes;
}

absl::StatusOr<Period> ParsePeriod(const std::string& from, const std::string& to) {
  Period p;
  if (!from.empty()) {
    absl::StatusOr<absl::Time> t = ParseWhen("--from", from, false);
    if (!t.ok()) return t.status();
    p.from = *t;
  }
  if (!to.empty()) {
    absl::StatusOr<absl::Time> t = ParseWhen("--to", to, true);
    if (!t.ok()) return t.status();
    p.to = *t;
  }
  if (p.from && p.to && *p.from >= *p.to) {
    return absl::InvalidArgumentError(
        absl::StrCat("--from=", from, " is not before --to=", to,
                     ": the period would hold nothing; give its first day as --from and its last "
                     "as --to"));
  }
  return p;
}

std::string DescribeFilterFlags(const FilterFlags& f) {
  std::vector<std::string> parts;
  auto add = [&parts](const char* flag, const std::string& value) {
    if (!value.empty()) parts.push_back(absl::StrCat(flag, "=", value));
  };
  add("--case", f.case_id);
  add("--prefix", absl::StrJoin(f.prefixes, ","));
  add("--type", absl::StrJoin(f.types, ","));
  add("--actor", f.actor);
  add("--group", f.group);
  add("--officer", f.officer);
  add("--member", f.member);
  add("--from", f.from);
  add("--to", f.to);
  if (f.from_position != 0) add("--from-position", absl::StrCat(f.from_position));
  if (f.to_position != 0) add("--to-position", absl::StrCat(f.to_position));
  return absl::StrJoin(parts, " ");
}

absl::StatusOr<v1::ReplayFilter> MakeFilter(const FilterFlags& f) {
  v1::ReplayFilter filter;
  filter.set_stream_id(f.case_id);
  for (const auto& p : f.prefixes) filter.add_stream_prefixes(p);
  for (const auto& t : f.types) filter.add_event_types(t);
  filter.set_actor(f.actor);
  filter.set_group_id(f.group);
  filter.set_officer_id(f.officer);
  filter.set_member_id(f.member);
  absl::StatusOr<Period> period = ParsePeriod(f.from, f.to);
  if (!period.ok()) return period.status();
  if (period->from) *filter.mutable_occurred_from() = ToProtoTime(*period->from);
  if (period->to) *filter.mutable_occurred_to() = ToProtoTime(*period->to);
  filter.set_from_position(f.from_position);
  filter.set_to_position(f.to_position);
  return filter;
}

void AddPeriodFlags(CLI::App* cmd, PeriodFlags* flags) {
  cmd->add_option("--from", flags->from, "first day of the period (YYYY-MM-DD, UK) or a time");
  cmd->add_option("--to", flags->to,
                  "last day of the period, included (YYYY-MM-DD), or the time it ends, excluded "
                  "(RFC 3339)");
  cmd->add_option("--as-of", flags->as_of,
                  "read the log as it stood at a position (a number), at the end of a day "
                  "(YYYY-MM-DD) or at a time (RFC 3339)");
}

absl::StatusOr<v1::ReportRequest> MakeReportRequest(const PeriodFlags& flags) {
  v1::ReportRequest request;
  // --to names the last day of the period, which it includes.
  absl::StatusOr<Period> period = ParsePeriod(flags.from, flags.to);
  if (!period.ok()) return period.status();
  if (period->from) *request.mutable_from() = ToProtoTime(*period->from);
  if (period->to) *request.mutable_to() = ToProtoTime(*period->to);
  if (!flags.as_of.empty()) {
    uint64_t position;
    // Digits alone are a position (not " 5" or "+5", which SimpleAtoi takes).
    const bool digits = std::all_of(flags.as_of.begin(), flags.as_of.end(), absl::ascii_isdigit);
    if (digits && !absl::SimpleAtoi(flags.as_of, &position)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--as-of: ", flags.as_of, " is too large for a log position (at most 2^64 - 1)"));
    }
    if (digits) {
      request.set_as_of_position(position);
    } else {
      // "As the log stood on 1 March": at the end of that day, or now if
      // the day is not over yet.
      absl::StatusOr<absl::Time> t = ParseWhen("--as-of", flags.as_of, true);
      if (!t.ok()) {
        // --as-of also takes a position: say so ("-1", "1e3" and "0x10" are
        // none of the three). A value shaped as a date is refused as one.
        if (IsDateShape(flags.as_of.substr(0, 10))) return t.status();
        return absl::InvalidArgumentError(
            absl::StrCat(t.status().message(), ", nor a log position (a whole number, 1 or more)"));
      }
      absl::StatusOr<absl::Time> start = ParseWhen("--as-of", flags.as_of, false);
      const absl::Time now = absl::Now();
      if (*start > now) {
        return absl::InvalidArgumentError(
            absl::StrCat("--as-of: ", flags.as_of,
                         " is in the future; a report can only say how the log stood up to now"));
      }
      if (*t > now) {
        std::fprintf(stderr, "evenhand: %s is not over yet: reporting as the log stands now\n",
                     flags.as_of.c_str());
      }
      *request.mutable_as_of_time() = ToProtoTime(std::min(*t, now));
    }
  }
  return request;
}

absl::Status WithAsOfHint(absl::Status status, const std::string& as_of) {
  if (!absl::IsOutOfRange(status) || as_of.size() != 8 ||
      !std::all_of(as_of.begin(), as_of.end(), absl::ascii_isdigit)) {
    return status;
  }
  const std::string day =
      absl::StrCat(as_of.substr(0, 4), "-", as_of.substr(4, 2), "-", as_of.substr(6, 2));
  if (!ParseWhen("--as-of", day, false).ok()) return status;
  return absl::Status(status.code(),
                      absl::StrCat(status.message(), "\n  --as-of=", as_of,
                                   " is read as a log position; for the day, write --as-of=", day));
}

absl::StatusOr<v1::PublicKey> ReadPublicKey(const std::string& path) {
  absl::StatusOr<std::string> pem =
      ReadLocalFile("--pubkey", path, kMaxSmallFileBytes, "public key");
  if (!pem.ok()) return pem.status();
  absl::StatusOr<v1::PublicKey> key = integrity::PublicKeyFromPem(*pem);
  if (!key.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--pubkey: ", path, ": ", key.status().message()));
  }
  return key;
}

std::string DescribeCheckpoint(const v1::SignedCheckpoint& c) {
  return absl::StrCat(
      "tree size ", c.checkpoint().tree_size(), ", root ", Hex(c.checkpoint().root_hash()),
      ", signed ", FormatTimestamp(c.checkpoint().timestamp()), " by key ", Printable(c.key_id()));
}

}  // namespace evenhand::cli
