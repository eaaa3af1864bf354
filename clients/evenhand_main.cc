// evenhand: the command-line client.
//
//   evenhand [--server=HOST:PORT] append|read|tail|status ...
//   evenhand <command> --help
//
// Events are read and printed in protobuf's JSON mapping, one per line, so
// the output of `read` can be fed to other tools (and back to `append`).
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "base/time_util.h"
#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/uuid.h"
#include "clients/event_log_client.h"
#include "clients/audit_client.h"
#include "clients/fairness_client.h"
#include "integrity/bundle.h"
#include "integrity/canonical.h"
#include "integrity/merkle.h"
#include "integrity/signing.h"
#include "clients/report_render.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/json_util.h"

namespace evenhand::cli {
namespace {

std::string DefaultServer() {
  const char* env = std::getenv("EVENHAND_SERVER");
  return env != nullptr ? env : "127.0.0.1:50051";
}

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "evenhand: %s: %s\n", absl::StatusCodeToString(status.code()).c_str(),
               std::string(status.message()).c_str());
  return 1;
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

void PrintEvent(const v1::RecordedEvent& e, const std::string& format) {
  if (format == "table") {
    std::printf("%10llu  %-32s  %-34s  %s\n", static_cast<unsigned long long>(e.position()),
                absl::StrCat(e.event().stream_id(), "@", e.stream_revision()).c_str(),
                e.event().type().c_str(), FormatTimestamp(e.event().recorded_at()).c_str());
  } else {
    std::printf("%s\n", ToJsonLine(e).c_str());
  }
}

// ---- append ---------------------------------------------------------------

struct AppendFlags {
  std::string stream;
  std::string expected = "any";
  std::string file;
  std::string type;
  std::string payload;
  std::string source = "evenhand-cli";
  std::string actor;
  std::string occurred_at;
  std::string event_id;
  std::string correlation_id;
  std::string causation_id;
};

// The payload from `--type BriefingRequested --payload '{...}'`.
absl::StatusOr<v1::Payload> PayloadFromFlags(const std::string& type, const std::string& json) {
  const google::protobuf::OneofDescriptor* kind =
      v1::Payload::descriptor()->FindOneofByName("kind");
  for (int i = 0; i < kind->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* f = kind->field(i);
    if (f->message_type()->name() == type) {
      v1::Payload payload;
      absl::Status s = ParseJson(absl::StrCat("{\"", f->json_name(), "\":", json, "}"), &payload,
                                 "--payload");
      if (!s.ok()) return s;
      return payload;
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "--type: unknown event type \"", type,
      "\"; see proto/evenhand/v1/events.proto (e.g. BriefingRequested)"));
}

// Events from JSON text: one Event object, a JSON array of them, or one
// object per line.
absl::StatusOr<std::vector<v1::Event>> EventsFromJson(const std::string& text) {
  std::string trimmed(absl::StripAsciiWhitespace(text));
  if (trimmed.empty()) return absl::InvalidArgumentError("no events on input");
  v1::AppendRequest wrapper;
  if (trimmed.front() == '[') {
    absl::Status s = ParseJson(absl::StrCat("{\"events\":", trimmed, "}"), &wrapper, "input");
    if (!s.ok()) return s;
    return std::vector<v1::Event>(wrapper.events().begin(), wrapper.events().end());
  }
  v1::Event single;
  if (ParseJson(trimmed, &single, "input").ok()) return std::vector<v1::Event>{single};
  std::vector<v1::Event> events;
  std::istringstream lines(trimmed);
  std::string line;
  int number = 0;
  while (std::getline(lines, line)) {
    ++number;
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    v1::Event e;
    absl::Status s = ParseJson(line, &e, absl::StrCat("input line ", number));
    if (!s.ok()) return s;
    events.push_back(std::move(e));
  }
  return events;
}

absl::Status FillDefaults(const AppendFlags& flags, v1::Event* e) {
  if (e->event_id().empty()) e->set_event_id(flags.event_id.empty() ? NewUuid() : flags.event_id);
  if (!e->has_occurred_at()) {
    absl::Time at = absl::Now();
    if (!flags.occurred_at.empty()) {
      std::string error;
      if (!absl::ParseTime(absl::RFC3339_full, flags.occurred_at, &at, &error)) {
        return absl::InvalidArgumentError(
            absl::StrCat("--occurred-at: not an RFC 3339 time (", error, ")"));
      }
    }
    int64_t nanos = absl::ToUnixNanos(at);
    e->mutable_occurred_at()->set_seconds(nanos / 1000000000);
    e->mutable_occurred_at()->set_nanos(static_cast<int32_t>(nanos % 1000000000));
  }
  if (e->source_system().empty()) e->set_source_system(flags.source);
  if (e->actor().empty()) {
    if (!flags.actor.empty()) {
      e->set_actor(flags.actor);
    } else if (const char* user = std::getenv("USER"); user != nullptr) {
      e->set_actor(user);
    }
  }
  if (e->correlation_id().empty()) e->set_correlation_id(flags.correlation_id);
  if (e->causation_id().empty()) e->set_causation_id(flags.causation_id);
  return absl::OkStatus();
}

int RunAppend(const std::string& server, const AppendFlags& flags) {
  v1::AppendRequest request;
  request.set_stream_id(flags.stream);
  if (flags.expected == "any") {
    request.set_expected_state(v1::ANY);
  } else if (flags.expected == "no_stream") {
    request.set_expected_state(v1::NO_STREAM);
  } else if (flags.expected == "exists") {
    request.set_expected_state(v1::STREAM_EXISTS);
  } else {
    uint64_t revision;
    if (!absl::SimpleAtoi(flags.expected, &revision)) {
      return Fail(absl::InvalidArgumentError(
          "--expected: use any, no_stream, exists or a revision number"));
    }
    request.set_exact_revision(revision);
  }
  std::vector<v1::Event> events;
  if (!flags.type.empty()) {
    absl::StatusOr<v1::Payload> payload =
        PayloadFromFlags(flags.type, flags.payload.empty() ? "{}" : flags.payload);
    if (!payload.ok()) return Fail(payload.status());
    v1::Event e;
    *e.mutable_payload() = *payload;
    events.push_back(std::move(e));
  } else {
    std::stringstream text;
    if (flags.file.empty() || flags.file == "-") {
      text << std::cin.rdbuf();
    } else {
      std::ifstream in(flags.file);
      if (!in) return Fail(absl::NotFoundError(absl::StrCat("--file: cannot open ", flags.file)));
      text << in.rdbuf();
    }
    absl::StatusOr<std::vector<v1::Event>> parsed = EventsFromJson(text.str());
    if (!parsed.ok()) return Fail(parsed.status());
    events = std::move(*parsed);
  }
  for (v1::Event& e : events) {
    if (absl::Status s = FillDefaults(flags, &e); !s.ok()) return Fail(s);
    *request.add_events() = std::move(e);
  }
  auto client = clients::EventLogClient::Connect(server);
  absl::StatusOr<v1::AppendResponse> response = client->Append(request);
  if (!response.ok()) return Fail(response.status());
  std::printf("%s\n", ToJsonLine(*response).c_str());
  return 0;
}

// ---- read / tail ------------------------------------------------------------

struct ReadFlags {
  std::string stream;
  bool all = false;
  int64_t from = -1;
  bool backwards = false;
  uint64_t max = 0;
  std::vector<std::string> types;
  std::vector<std::string> prefixes;
  std::string format = "json";
  uint64_t count = 0;
};

void FillFilter(const ReadFlags& flags, v1::Filter* filter) {
  for (const auto& t : flags.types) filter->add_event_types(t);
  for (const auto& p : flags.prefixes) filter->add_stream_prefixes(p);
}

int RunRead(const std::string& server, const ReadFlags& flags) {
  auto client = clients::EventLogClient::Connect(server);
  auto print = [&](const v1::RecordedEvent& e) {
    PrintEvent(e, flags.format);
    return true;
  };
  absl::Status status;
  if (flags.all) {
    v1::ReadAllRequest request;
    if (flags.from >= 0) request.set_from_position(static_cast<uint64_t>(flags.from));
    request.set_direction(flags.backwards ? v1::BACKWARDS : v1::FORWARDS);
    request.set_max_count(flags.max);
    FillFilter(flags, request.mutable_filter());
    status = client->ReadAll(request, print);
  } else {
    if (flags.stream.empty()) {
      return Fail(absl::InvalidArgumentError("give --stream=ID or --all"));
    }
    v1::ReadStreamRequest request;
    request.set_stream_id(flags.stream);
    if (flags.from >= 0) request.set_from_revision(static_cast<uint64_t>(flags.from));
    request.set_direction(flags.backwards ? v1::BACKWARDS : v1::FORWARDS);
    request.set_max_count(flags.max);
    status = client->ReadStream(request, print);
  }
  std::fflush(stdout);
  return status.ok() ? 0 : Fail(status);
}

int RunTail(const std::string& server, const ReadFlags& flags) {
  auto client = clients::EventLogClient::Connect(server);
  v1::SubscribeRequest request;
  if (flags.from >= 0) {
    request.set_from_position(static_cast<uint64_t>(flags.from));
  } else {
    request.set_from_end(true);
  }
  FillFilter(flags, request.mutable_filter());
  uint64_t seen = 0;
  absl::Status status = client->Subscribe(request, [&](const v1::SubscribeResponse& m) {
    switch (m.content_case()) {
      case v1::SubscribeResponse::kEvents:
        for (const auto& e : m.events().events()) {
          PrintEvent(e, flags.format);
          if (flags.count != 0 && ++seen >= flags.count) {
            std::fflush(stdout);
            return false;
          }
        }
        std::fflush(stdout);
        break;
      case v1::SubscribeResponse::kCaughtUp:
        std::fprintf(stderr, "evenhand: caught up at position %llu; following live events\n",
                     static_cast<unsigned long long>(m.caught_up().position()));
        break;
      case v1::SubscribeResponse::kFellBehind:
        std::fprintf(stderr, "evenhand: fell behind; catching up from position %llu\n",
                     static_cast<unsigned long long>(m.fell_behind().next_position()));
        break;
      default:
        break;
    }
    return true;
  });
  return status.ok() ? 0 : Fail(status);
}

int RunStatus(const std::string& server) {
  auto client = clients::EventLogClient::Connect(server);
  absl::StatusOr<v1::GetStatusResponse> status = client->GetStatus();
  if (!status.ok()) return Fail(status.status());
  std::printf("server          %s\nversion         %s\nlog id          %s\nlast position   %llu\n"
              "max event size  %llu bytes\nmax batch       %u events\n",
              server.c_str(), status->server_version().c_str(), status->log_id().c_str(),
              static_cast<unsigned long long>(status->last_position()),
              static_cast<unsigned long long>(status->max_event_bytes()),
              status->max_batch_events());
  std::printf("appends         %s\n",
              status->accepting_appends()
                  ? "accepted"
                  : absl::StrCat("refused: ", status->appends_refused()).c_str());
  if (status->read_only()) std::printf("read-only       yes\n");
  std::printf("disk free       %.1f MiB (floor %.1f MiB)\n",
              static_cast<double>(status->free_disk_bytes()) / (1 << 20),
              static_cast<double>(status->min_free_disk_bytes()) / (1 << 20));
  if (status->problems().empty()) {
    std::printf("integrity       no problems known\n");
  } else {
    for (const std::string& p : status->problems()) std::printf("PROBLEM         %s\n", p.c_str());
  }
  return 0;
}

// ---- report / findings / rules -------------------------------------------------

struct ReportFlags {
  std::string from;
  std::string to;
  std::string as_of;
  std::string format = "html";
  std::string table = "groups";
  std::string output;
  std::vector<std::string> rules;
  std::vector<std::string> groups;
  std::string min_severity;
};

// A date (YYYY-MM-DD, UK time) or an RFC 3339 instant. For a date,
// `end_of_day` picks the midnight that ends it rather than the one that
// starts it.
absl::StatusOr<absl::Time> ParseWhen(const std::string& flag, const std::string& text,
                                     bool end_of_day) {
  absl::CivilDay day;
  if (absl::ParseCivilTime(text, &day)) {
    return absl::FromCivil(end_of_day ? day + 1 : day, UkTimeZone());
  }
  absl::Time t;
  std::string error;
  if (absl::ParseTime(absl::RFC3339_full, text, &t, &error)) return t;
  return absl::InvalidArgumentError(absl::StrCat(
      flag, ": \"", text, "\" is neither a date (2026-03-01) nor an RFC 3339 time"));
}

absl::StatusOr<v1::ReportRequest> MakeReportRequest(const ReportFlags& flags) {
  v1::ReportRequest request;
  if (!flags.from.empty()) {
    absl::StatusOr<absl::Time> t = ParseWhen("--from", flags.from, false);
    if (!t.ok()) return t.status();
    *request.mutable_from() = ToProtoTime(*t);
  }
  if (!flags.to.empty()) {
    // --to names the last day of the period, which it includes.
    absl::StatusOr<absl::Time> t = ParseWhen("--to", flags.to, true);
    if (!t.ok()) return t.status();
    *request.mutable_to() = ToProtoTime(*t);
  }
  if (!flags.as_of.empty()) {
    uint64_t position;
    if (absl::SimpleAtoi(flags.as_of, &position)) {
      request.set_as_of_position(position);
    } else {
      // "As the log stood on 1 March": at the end of that day, or now if
      // the day is not over yet.
      absl::StatusOr<absl::Time> t = ParseWhen("--as-of", flags.as_of, true);
      if (!t.ok()) return t.status();
      *request.mutable_as_of_time() = ToProtoTime(std::min(*t, absl::Now()));
    }
  }
  return request;
}

absl::Status WriteOutput(const std::string& path, const std::string& text) {
  if (path.empty() || path == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return absl::OkStatus();
  }
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out) return absl::UnavailableError(absl::StrCat("--output: cannot write ", path));
  std::fprintf(stderr, "evenhand: wrote %s\n", path.c_str());
  return absl::OkStatus();
}

int RunReport(const std::string& server, const ReportFlags& flags) {
  absl::StatusOr<v1::ReportRequest> request = MakeReportRequest(flags);
  if (!request.ok()) return Fail(request.status());
  auto client = clients::FairnessClient::Connect(server);
  absl::StatusOr<v1::FairnessReport> report = client->GetReport(*request);
  if (!report.ok()) return Fail(report.status());
  std::string text;
  if (flags.format == "html") {
    text = clients::RenderReportHtml(*report);
  } else if (flags.format == "json") {
    text = clients::RenderReportJson(*report);
  } else {
    text = flags.table == "findings" ? clients::RenderFindingsCsv(*report)
                                     : clients::RenderGroupsCsv(*report);
  }
  absl::Status written = WriteOutput(flags.output, text);
  return written.ok() ? 0 : Fail(written);
}

int RunFindings(const std::string& server, const ReportFlags& flags) {
  absl::StatusOr<v1::ReportRequest> report = MakeReportRequest(flags);
  if (!report.ok()) return Fail(report.status());
  v1::ListFindingsRequest request;
  *request.mutable_report() = *report;
  for (const auto& r : flags.rules) request.add_rule_ids(r);
  for (const auto& g : flags.groups) request.add_group_ids(g);
  if (!flags.min_severity.empty()) {
    v1::Severity severity;
    if (!v1::Severity_Parse(flags.min_severity, &severity)) {
      return Fail(absl::InvalidArgumentError("--min-severity: use INFO, LOW, MEDIUM or HIGH"));
    }
    request.set_min_severity(severity);
  }
  auto client = clients::FairnessClient::Connect(server);
  absl::StatusOr<v1::ListFindingsResponse> response = client->ListFindings(request);
  if (!response.ok()) return Fail(response.status());
  for (const auto& f : response->findings()) {
    if (flags.format == "json") {
      std::printf("%s\n", ToJsonLine(f).c_str());
    } else {
      std::printf("%s  %-8s %-26s %-14s %s\n", FormatTimestamp(f.occurred_at()).substr(0, 10).c_str(),
                  v1::Severity_Name(f.severity()).c_str(), f.rule_id().c_str(),
                  f.group_id().empty() ? "-" : f.group_id().c_str(), f.explanation().c_str());
    }
  }
  return 0;
}

int RunRules(const std::string& server) {
  auto client = clients::FairnessClient::Connect(server);
  absl::StatusOr<v1::ListRulesResponse> rules = client->ListRules();
  if (!rules.ok()) return Fail(rules.status());
  for (const auto& r : rules->rules()) {
    std::printf("%-26s %-7s %s\n  %s\n  %s\n\n", r.rule_id().c_str(),
                v1::Severity_Name(r.severity()).c_str(), r.title().c_str(), r.citation().c_str(),
                r.description().c_str());
  }
  return 0;
}

// ---- replay / export / verify / checkpoint / pubkey --------------------------

struct AuditFlags {
  std::string case_id;
  std::vector<std::string> prefixes;
  std::vector<std::string> types;
  std::string actor, group, officer, member;
  std::string from, to;
  uint64_t from_position = 0, to_position = 0;
  std::string format = "jsonl";
  std::string progress = "auto";
  std::string description;
  std::string output;
  // verify
  std::string bundle;
  std::string pubkey;
  bool server = false;
  std::string checkpoint;
  std::string save_checkpoint;
};

void AddFilterFlags(CLI::App* cmd, AuditFlags* f) {
  cmd->add_option("--case", f->case_id, "one case: its stream, e.g. complaint-C-17");
  cmd->add_option("--prefix", f->prefixes, "streams starting with these");
  cmd->add_option("--type", f->types, "events of these types");
  cmd->add_option("--actor", f->actor, "events caused by this actor");
  cmd->add_option("--group", f->group, "events concerning this political group (naming it, or in its cases)");
  cmd->add_option("--officer", f->officer, "events concerning this officer");
  cmd->add_option("--member", f->member, "events concerning this councillor");
  cmd->add_option("--from", f->from, "happened on or after this day (YYYY-MM-DD, UK) or time");
  cmd->add_option("--to", f->to, "happened on or before this day (included) or before this time");
  cmd->add_option("--from-position", f->from_position, "first position");
  cmd->add_option("--to-position", f->to_position, "last position");
}

absl::StatusOr<v1::ReplayFilter> MakeFilter(const AuditFlags& f) {
  v1::ReplayFilter filter;
  filter.set_stream_id(f.case_id);
  for (const auto& p : f.prefixes) filter.add_stream_prefixes(p);
  for (const auto& t : f.types) filter.add_event_types(t);
  filter.set_actor(f.actor);
  filter.set_group_id(f.group);
  filter.set_officer_id(f.officer);
  filter.set_member_id(f.member);
  if (!f.from.empty()) {
    absl::StatusOr<absl::Time> t = ParseWhen("--from", f.from, false);
    if (!t.ok()) return t.status();
    *filter.mutable_occurred_from() = ToProtoTime(*t);
  }
  if (!f.to.empty()) {
    absl::StatusOr<absl::Time> t = ParseWhen("--to", f.to, true);
    if (!t.ok()) return t.status();
    *filter.mutable_occurred_to() = ToProtoTime(*t);
  }
  filter.set_from_position(f.from_position);
  filter.set_to_position(f.to_position);
  return filter;
}

// A one-line progress bar on stderr, for long replays and verifications.
class ProgressBar {
 public:
  ProgressBar(const std::string& label, const std::string& mode)
      : label_(label), on_(mode == "always" || (mode == "auto" && isatty(STDERR_FILENO))) {}
  void Update(uint64_t done, uint64_t total, uint64_t matched) {
    if (!on_ || total == 0) return;
    const absl::Time now = absl::Now();
    if (now - last_ < absl::Milliseconds(100) && done < total) return;
    last_ = now;
    const int width = 30;
    const int filled = static_cast<int>(width * std::min<uint64_t>(done, total) / total);
    std::fprintf(stderr, "\r%s [%s%s] %3d%%  %llu of %llu positions  %llu events", label_.c_str(),
                 std::string(static_cast<size_t>(filled), '#').c_str(),
                 std::string(static_cast<size_t>(width - filled), '.').c_str(),
                 static_cast<int>(100 * std::min<uint64_t>(done, total) / total),
                 static_cast<unsigned long long>(done), static_cast<unsigned long long>(total),
                 static_cast<unsigned long long>(matched));
    drawn_ = true;
  }
  void Done() {
    if (drawn_) std::fprintf(stderr, "\n");
  }

 private:
  std::string label_;
  bool on_;
  bool drawn_ = false;
  absl::Time last_ = absl::InfinitePast();
};

std::string Hex(const std::string& bytes) { return absl::BytesToHexString(bytes); }

int RunReplay(const std::string& server, const AuditFlags& flags) {
  absl::StatusOr<v1::ReplayFilter> filter = MakeFilter(flags);
  if (!filter.ok()) return Fail(filter.status());
  v1::ReplayRequest request;
  *request.mutable_filter() = *filter;
  auto client = clients::AuditClient::Connect(server);
  ProgressBar bar("replaying", flags.progress);
  uint64_t matched = 0;
  absl::Status status = client->Replay(
      request,
      [&](const v1::AuditedEvent& e) {
        ++matched;
        if (flags.format == "table") {
          std::printf("%10llu  %-30s  %-30s  %s  %s\n",
                      static_cast<unsigned long long>(e.event().position()),
                      absl::StrCat(e.event().event().stream_id(), "@", e.event().stream_revision())
                          .c_str(),
                      e.event().event().type().c_str(),
                      FormatTimestamp(e.event().event().occurred_at()).c_str(),
                      Hex(e.chain_hash()).substr(0, 16).c_str());
        } else {
          std::printf("%s\n", ToJsonLine(e).c_str());
        }
        return true;
      },
      [&](uint64_t scanned, uint64_t last) { bar.Update(scanned, last, matched); });
  bar.Done();
  std::fflush(stdout);
  return status.ok() ? 0 : Fail(status);
}

int RunExport(const std::string& server, const AuditFlags& flags) {
  if (flags.output.empty()) {
    return Fail(absl::InvalidArgumentError("--output: name the bundle file to write"));
  }
  absl::StatusOr<v1::ReplayFilter> filter = MakeFilter(flags);
  if (!filter.ok()) return Fail(filter.status());
  v1::ExportRequest request;
  *request.mutable_filter() = *filter;
  request.set_description(flags.description);
  auto client = clients::AuditClient::Connect(server);
  absl::StatusOr<std::string> bundle = client->Export(request);
  if (!bundle.ok()) return Fail(bundle.status());
  // Check it before handing it over: an auditor should never carry away a
  // bundle that does not verify.
  absl::StatusOr<integrity::BundleReport> report = integrity::VerifyBundle(*bundle, nullptr);
  if (!report.ok()) return Fail(report.status());
  absl::Status written = WriteOutput(flags.output, *bundle);
  if (!written.ok()) return Fail(written);
  std::printf("exported %zu events (%s) proven against the checkpoint of tree size %llu, "
              "%zu bytes (%.0f bytes per event)\n",
              report->events.size(), report->selection.c_str(),
              static_cast<unsigned long long>(report->tree_size), bundle->size(),
              report->events.empty() ? 0.0
                                     : static_cast<double>(bundle->size()) / report->events.size());
  return 0;
}

absl::StatusOr<v1::PublicKey> ReadPublicKey(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("--pubkey: cannot open ", path));
  std::stringstream pem;
  pem << in.rdbuf();
  absl::StatusOr<v1::PublicKey> key = integrity::PublicKeyFromPem(pem.str());
  if (!key.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--pubkey: ", path, ": ", key.status().message()));
  }
  return key;
}

std::string DescribeCheckpoint(const v1::SignedCheckpoint& c) {
  return absl::StrCat("tree size ", c.checkpoint().tree_size(), ", root ",
                      Hex(c.checkpoint().root_hash()).substr(0, 16), "..., signed ",
                      FormatTimestamp(c.checkpoint().timestamp()), " by key ", c.key_id());
}

int VerificationFailed(const std::string& why) {
  std::fprintf(stderr, "VERIFICATION FAILED: %s\n", why.c_str());
  return 1;
}

int RunVerifyBundle(const AuditFlags& flags) {
  std::ifstream in(flags.bundle, std::ios::binary);
  if (!in) return Fail(absl::NotFoundError(absl::StrCat("cannot open ", flags.bundle)));
  std::stringstream bytes;
  bytes << in.rdbuf();
  std::optional<v1::PublicKey> pinned;
  if (!flags.pubkey.empty()) {
    absl::StatusOr<v1::PublicKey> key = ReadPublicKey(flags.pubkey);
    if (!key.ok()) return Fail(key.status());
    pinned = *key;
  }
  const absl::Time start = absl::Now();
  absl::StatusOr<integrity::BundleReport> r =
      integrity::VerifyBundle(bytes.str(), pinned ? &*pinned : nullptr);
  if (!r.ok()) return VerificationFailed(std::string(r.status().message()));
  const double seconds = std::max(1e-9, absl::ToDoubleSeconds(absl::Now() - start));
  std::printf("bundle %s: VERIFIED\n", flags.bundle.c_str());
  std::printf("  description  %s\n  selection    %s\n  created      %s\n", r->description.c_str(),
              r->selection.c_str(), absl::FormatTime(r->created_at, absl::UTCTimeZone()).c_str());
  std::printf("  checkpoint   tree size %llu, root %s\n               signed %s by key %s (%s)\n",
              static_cast<unsigned long long>(r->tree_size), Hex(r->root_hash).c_str(),
              absl::FormatTime(r->checkpoint_time, absl::UTCTimeZone()).c_str(), r->key_id.c_str(),
              r->key_pinned ? "the key you gave with --pubkey"
                            : "the key inside the bundle: NOT PINNED, compare it with the "
                              "council's published key or pass --pubkey");
  std::printf("  events       %zu, each: canonical record, leaf hash, inclusion proof to the root, "
              "chain link; manifest signature\n",
              r->events.size());
  for (const auto& e : r->events) {
    std::printf("    %10llu  %-30s  %-30s  %s\n", static_cast<unsigned long long>(e.position()),
                e.event().stream_id().c_str(), e.event().type().c_str(),
                FormatTimestamp(e.event().occurred_at()).c_str());
  }
  std::printf("  verified in %.3f s (%.0f events/s)\n", seconds, r->events.size() / seconds);
  return 0;
}

int RunVerifyServer(const std::string& server, const AuditFlags& flags) {
  auto client = clients::AuditClient::Connect(server);
  v1::PublicKey key;
  bool pinned = false;
  if (!flags.pubkey.empty()) {
    absl::StatusOr<v1::PublicKey> k = ReadPublicKey(flags.pubkey);
    if (!k.ok()) return Fail(k.status());
    key = *k;
    pinned = true;
  } else {
    absl::StatusOr<v1::PublicKey> k = client->GetPublicKey();
    if (!k.ok()) return Fail(k.status());
    key = *k;
  }
  std::optional<v1::SignedCheckpoint> old;
  if (!flags.checkpoint.empty()) {
    std::ifstream in(flags.checkpoint);
    std::stringstream text;
    text << in.rdbuf();
    v1::SignedCheckpoint c;
    if (!in || !google::protobuf::util::JsonStringToMessage(text.str(), &c).ok()) {
      return Fail(absl::InvalidArgumentError(
          absl::StrCat("--checkpoint: ", flags.checkpoint, " is not a saved checkpoint")));
    }
    if (absl::Status s = integrity::VerifyCheckpoint(c, key); !s.ok()) {
      return VerificationFailed(absl::StrCat("your saved checkpoint: ", s.message()));
    }
    old = c;
  }
  absl::StatusOr<v1::SignedCheckpoint> latest = client->GetCheckpoint(0);
  if (!latest.ok()) return Fail(latest.status());
  if (absl::Status s = integrity::VerifyCheckpoint(*latest, key); !s.ok()) {
    return VerificationFailed(absl::StrCat("the server's latest checkpoint: ", s.message()));
  }
  const uint64_t n = latest->checkpoint().tree_size();
  if (old && old->checkpoint().log_id() != latest->checkpoint().log_id()) {
    return VerificationFailed("your saved checkpoint is of another log");
  }
  if (old && old->checkpoint().tree_size() > n) {
    return VerificationFailed(absl::StrCat(
        "the log has shrunk: your checkpoint has ", old->checkpoint().tree_size(),
        " events, the server's latest ", n));
  }
  // Recompute every leaf and chain link from the events themselves.
  v1::ReplayRequest request;
  request.mutable_filter()->set_to_position(n);
  integrity::CompactRange range;
  std::string chain = integrity::GenesisChainHash();
  std::string problem;
  std::optional<std::string> old_root_recomputed;
  if (old && old->checkpoint().tree_size() == 0) old_root_recomputed = range.Root();
  ProgressBar bar("verifying", flags.progress);
  const absl::Time start = absl::Now();
  absl::Status status = client->Replay(
      request,
      [&](const v1::AuditedEvent& e) {
        const uint64_t p = e.event().position();
        if (p != range.size() + 1) {
          problem = absl::StrCat("position ", range.size() + 1, " is missing (next came ", p, ")");
          return false;
        }
        absl::StatusOr<std::string> canonical = integrity::CanonicalRecord(e.event());
        if (!canonical.ok()) {
          problem = absl::StrCat("event at position ", p, ": ", canonical.status().message());
          return false;
        }
        const std::string leaf = integrity::LeafHash(*canonical);
        if (leaf != e.leaf_hash()) {
          problem = absl::StrCat("event at position ", p,
                                 ": the server's leaf hash is not the hash of the event");
          return false;
        }
        chain = integrity::ChainHash(chain, *canonical);
        if (chain != e.chain_hash()) {
          problem = absl::StrCat("event at position ", p, ": the hash chain breaks here");
          return false;
        }
        range.Append(leaf, [](int, uint64_t, const std::string&) {});
        if (old && range.size() == old->checkpoint().tree_size()) old_root_recomputed = range.Root();
        return true;
      },
      [&](uint64_t scanned, uint64_t last) { bar.Update(scanned, last, range.size()); });
  bar.Done();
  if (!status.ok()) return Fail(status);
  if (!problem.empty()) return VerificationFailed(problem);
  const double seconds = std::max(1e-9, absl::ToDoubleSeconds(absl::Now() - start));
  if (range.size() != n) {
    return VerificationFailed(absl::StrCat("the server replayed ", range.size(),
                                           " events but its checkpoint says ", n));
  }
  if (range.Root() != latest->checkpoint().root_hash()) {
    return VerificationFailed("the root recomputed from the events is not the checkpoint's root");
  }
  std::printf("log %s: VERIFIED\n", latest->checkpoint().log_id().c_str());
  std::printf("  %llu events replayed; every leaf hash and chain link recomputed from the events "
              "(%.0f events/s)\n",
              static_cast<unsigned long long>(n), n / seconds);
  std::printf("  root matches the latest checkpoint: %s\n", DescribeCheckpoint(*latest).c_str());
  std::printf("  key %s (%s)\n", key.key_id().c_str(),
              pinned ? "pinned with --pubkey" : "as the server reports it: NOT PINNED");
  if (old) {
    absl::StatusOr<v1::ConsistencyProof> proof =
        client->GetConsistencyProof(old->checkpoint().tree_size(), n);
    if (!proof.ok()) return Fail(proof.status());
    std::vector<std::string> path(proof->hashes().begin(), proof->hashes().end());
    if (old->checkpoint().tree_size() > 0) {
      if (absl::Status s = integrity::VerifyConsistency(old->checkpoint().tree_size(), n,
                                                        old->checkpoint().root_hash(),
                                                        latest->checkpoint().root_hash(), path);
          !s.ok()) {
        return VerificationFailed(absl::StrCat(
            "the log is not an extension of your saved checkpoint: ", s.message()));
      }
    }
    if (!old_root_recomputed || *old_root_recomputed != old->checkpoint().root_hash()) {
      return VerificationFailed(
          "the first events of the log no longer hash to your saved checkpoint's root: history "
          "was rewritten");
    }
    std::printf("  consistent with your saved checkpoint (%s): the consistency proof verifies "
                "and its root was recomputed from the events\n",
                DescribeCheckpoint(*old).c_str());
  }
  if (!flags.save_checkpoint.empty()) {
    google::protobuf::util::JsonPrintOptions o;
    o.add_whitespace = true;
    std::string json;
    (void)google::protobuf::util::MessageToJsonString(*latest, &json, o);
    absl::Status w = WriteOutput(flags.save_checkpoint, json);
    if (!w.ok()) return Fail(w);
  }
  return 0;
}

int RunCheckpoint(const std::string& server, const AuditFlags& flags) {
  auto client = clients::AuditClient::Connect(server);
  absl::StatusOr<v1::SignedCheckpoint> c = client->GetCheckpoint(0);
  if (!c.ok()) return Fail(c.status());
  google::protobuf::util::JsonPrintOptions o;
  o.add_whitespace = true;
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(*c, &json, o);
  absl::Status w = WriteOutput(flags.output, json);
  return w.ok() ? 0 : Fail(w);
}

int RunPubkey(const std::string& server, const AuditFlags& flags) {
  auto client = clients::AuditClient::Connect(server);
  absl::StatusOr<v1::PublicKey> k = client->GetPublicKey();
  if (!k.ok()) return Fail(k.status());
  absl::Status w = WriteOutput(flags.output, k->pem());
  if (!w.ok()) return Fail(w);
  std::fprintf(stderr, "evenhand: Ed25519 key id %s\n", k->key_id().c_str());
  return 0;
}

void AddPeriodFlags(CLI::App* cmd, ReportFlags* flags) {
  cmd->add_option("--from", flags->from, "first day of the period (YYYY-MM-DD, UK) or a time");
  cmd->add_option("--to", flags->to, "last day of the period, included (YYYY-MM-DD) or a time");
  cmd->add_option("--as-of", flags->as_of,
                  "read the log as it stood at a position (a number), at the end of a day "
                  "(YYYY-MM-DD) or at a time (RFC 3339)");
}

}  // namespace

int Main(int argc, char** argv) {
  CLI::App app{"evenhand: the Even Hand command-line client"};
  app.require_subcommand(1);
  std::string server = DefaultServer();
  app.add_option("--server", server, "server address host:port (env EVENHAND_SERVER)")
      ->capture_default_str();

  AppendFlags append;
  CLI::App* append_cmd = app.add_subcommand(
      "append",
      "append events to a stream: JSON events on stdin (one object, an array or one per "
      "line), or one event from --type and --payload");
  append_cmd->add_option("--stream", append.stream, "stream id, e.g. briefing-B-1001")
      ->required();
  append_cmd->add_option("--expected", append.expected,
                         "expected revision: any, no_stream, exists or a number")
      ->capture_default_str();
  append_cmd->add_option("--file", append.file, "read events from this file instead of stdin");
  append_cmd->add_option("--type", append.type, "event type, e.g. BriefingRequested");
  append_cmd->add_option("--payload", append.payload, "the event's fields as JSON, with --type");
  append_cmd->add_option("--source", append.source, "source_system of the events")
      ->capture_default_str();
  append_cmd->add_option("--actor", append.actor, "actor (default $USER)");
  append_cmd->add_option("--occurred-at", append.occurred_at, "RFC 3339 time (default now)");
  append_cmd->add_option("--event-id", append.event_id, "UUID (default a new one)");
  append_cmd->add_option("--correlation-id", append.correlation_id, "correlation id");
  append_cmd->add_option("--causation-id", append.causation_id, "causation id");

  ReadFlags read;
  CLI::App* read_cmd = app.add_subcommand("read", "read a stream, or the whole log with --all");
  read_cmd->add_option("--stream", read.stream, "stream id");
  read_cmd->add_flag("--all", read.all, "read the whole log in position order");
  read_cmd->add_option("--from", read.from, "first revision (stream) or position (--all)");
  read_cmd->add_flag("--backwards", read.backwards, "newest first");
  read_cmd->add_option("--max", read.max, "at most this many events (0: all)");
  read_cmd->add_option("--type", read.types, "only these event types (--all)");
  read_cmd->add_option("--prefix", read.prefixes, "only streams starting with these (--all)");
  read_cmd->add_option("--format", read.format, "json or table")
      ->check(CLI::IsMember({"json", "table"}))
      ->capture_default_str();

  ReadFlags tail;
  CLI::App* tail_cmd =
      app.add_subcommand("tail", "follow the log live (from the end, or from --from)");
  tail_cmd->add_option("--from", tail.from, "first position (default: only new events)");
  tail_cmd->add_option("--type", tail.types, "only these event types");
  tail_cmd->add_option("--prefix", tail.prefixes, "only streams starting with these");
  tail_cmd->add_option("--count", tail.count, "stop after this many events (0: never)");
  tail_cmd->add_option("--format", tail.format, "json or table")
      ->check(CLI::IsMember({"json", "table"}))
      ->capture_default_str();

  CLI::App* status_cmd = app.add_subcommand("status", "show the server's log status");

  ReportFlags report;
  CLI::App* report_cmd = app.add_subcommand(
      "report", "the fairness report for the standards committee (HTML page, JSON or CSV)");
  AddPeriodFlags(report_cmd, &report);
  report_cmd->add_option("--format", report.format, "html, json or csv")
      ->check(CLI::IsMember({"html", "json", "csv"}))
      ->capture_default_str();
  report_cmd->add_option("--table", report.table, "with csv: groups or findings")
      ->check(CLI::IsMember({"groups", "findings"}))
      ->capture_default_str();
  report_cmd->add_option("--output,-o", report.output, "write to this file (default stdout)");

  ReportFlags findings;
  CLI::App* findings_cmd = app.add_subcommand("findings", "list findings, filtered");
  AddPeriodFlags(findings_cmd, &findings);
  findings_cmd->add_option("--rule", findings.rules, "only these rule ids");
  findings_cmd->add_option("--group", findings.groups, "only these group ids");
  findings_cmd->add_option("--min-severity", findings.min_severity, "INFO, LOW, MEDIUM or HIGH");
  findings_cmd->add_option("--format", findings.format, "table or json")
      ->check(CLI::IsMember({"table", "json"}));
  findings.format = "table";

  CLI::App* rules_cmd = app.add_subcommand("rules", "list the rules checked, with citations");

  AuditFlags replay;
  CLI::App* replay_cmd = app.add_subcommand(
      "replay", "replay recorded events for an investigation, each with its hashes");
  AddFilterFlags(replay_cmd, &replay);
  replay_cmd->add_option("--format", replay.format, "jsonl or table")
      ->check(CLI::IsMember({"jsonl", "table"}))
      ->capture_default_str();
  replay_cmd->add_option("--progress", replay.progress, "auto (when stderr is a terminal), always "
                                                        "or never")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->capture_default_str();

  AuditFlags exporting;
  CLI::App* export_cmd = app.add_subcommand(
      "export", "write an investigation bundle: events, inclusion proofs, signed checkpoint, key");
  AddFilterFlags(export_cmd, &exporting);
  export_cmd->add_option("--description", exporting.description, "what the bundle is for");
  export_cmd->add_option("--output,-o", exporting.output, "the bundle file")->required();

  AuditFlags verify;
  CLI::App* verify_cmd = app.add_subcommand(
      "verify", "check a bundle offline, or with --server the live log's whole history");
  verify_cmd->add_option("bundle", verify.bundle, "the bundle file to check offline");
  verify_cmd->add_option("--pubkey", verify.pubkey,
                         "the council's published public key (PEM) to pin");
  verify_cmd->add_flag("--server", verify.server,
                       "replay the live log and recompute its chain and root");
  verify_cmd->add_option("--checkpoint", verify.checkpoint,
                         "with --server: a checkpoint saved earlier; the log must extend it");
  verify_cmd->add_option("--save-checkpoint", verify.save_checkpoint,
                         "with --server: save the verified checkpoint for next time");
  verify_cmd->add_option("--progress", verify.progress, "auto, always or never")
      ->check(CLI::IsMember({"auto", "always", "never"}));

  AuditFlags checkpoint;
  CLI::App* checkpoint_cmd = app.add_subcommand(
      "checkpoint", "fetch the latest signed checkpoint (JSON) to keep for later verification");
  checkpoint_cmd->add_option("--output,-o", checkpoint.output, "write to this file");

  AuditFlags pubkey;
  CLI::App* pubkey_cmd =
      app.add_subcommand("pubkey", "print the log's public key (PEM) that signs checkpoints");
  pubkey_cmd->add_option("--output,-o", pubkey.output, "write to this file");

  CLI11_PARSE(app, argc, argv);
  if (append_cmd->parsed()) return RunAppend(server, append);
  if (read_cmd->parsed()) return RunRead(server, read);
  if (tail_cmd->parsed()) return RunTail(server, tail);
  if (status_cmd->parsed()) return RunStatus(server);
  if (report_cmd->parsed()) return RunReport(server, report);
  if (findings_cmd->parsed()) return RunFindings(server, findings);
  if (rules_cmd->parsed()) return RunRules(server);
  if (replay_cmd->parsed()) return RunReplay(server, replay);
  if (export_cmd->parsed()) return RunExport(server, exporting);
  if (verify_cmd->parsed()) {
    if (verify.server) return RunVerifyServer(server, verify);
    if (verify.bundle.empty()) {
      return Fail(absl::InvalidArgumentError("give a bundle file, or --server"));
    }
    return RunVerifyBundle(verify);
  }
  if (checkpoint_cmd->parsed()) return RunCheckpoint(server, checkpoint);
  if (pubkey_cmd->parsed()) return RunPubkey(server, pubkey);
  return 2;
}

}  // namespace evenhand::cli

int main(int argc, char** argv) { return evenhand::cli::Main(argc, argv); }
