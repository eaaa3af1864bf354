// What the `evenhand` commands share: the connection flags, the registry
// every command adds itself to, exit codes, output formats and parsing of
// dates. One file per command (clients/cli/*.cc), as git's builtins are.
//
// Exit codes (documented in README.md):
//   0  done
//   1  verification failed (a bundle, a report, the server's log)
//   2  usage: a flag or argument is wrong
//   3  the server could not be reached, or refused the request
//   4  a local file could not be read or written
#ifndef EVENHAND_CLIENTS_CLI_COMMON_H_
#define EVENHAND_CLIENTS_CLI_COMMON_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "base/quoted.h"
#include "clients/connection.h"
#include "evenhand/v1/audit.pb.h"
#include "evenhand/v1/events.pb.h"
#include "evenhand/v1/fairness.pb.h"
#include "google/protobuf/message.h"
#include "grpcpp/grpcpp.h"

namespace evenhand::cli {

enum ExitCode {
  kOk = 0,
  kVerificationFailed = 1,
  kUsage = 2,
  kServer = 3,
  kLocalIo = 4,
  // Stopped by Ctrl-C or SIGTERM (128 + SIGINT, as a shell reports it):
  // `due --watch`, which says where to resume.
  kInterrupted = 130,
};

// What every command runs with.
struct Context {
  clients::Connection connection;
  // A channel to the server (dialled on first use).
  absl::StatusOr<std::shared_ptr<grpc::Channel>> Channel() const;
};

// Commands add themselves here; main runs the one that was parsed.
class Registry {
 public:
  explicit Registry(CLI::App* app) : app_(app) {}
  // A new subcommand; `run` is called if it is the one given.
  CLI::App* Add(const std::string& name, const std::string& description,
                std::function<int(const Context&)> run);
  CLI::App* app() { return app_; }
  // The parsed command's exit code; -1 if none was given.
  int RunParsed(const Context& context) const;

 private:
  CLI::App* app_;
  std::vector<std::pair<CLI::App*, std::function<int(const Context&)>>> commands_;
};

// Every command file has one of these (see main.cc).
void AddAppend(Registry& r);
void AddRead(Registry& r);
void AddTail(Registry& r);
void AddStatus(Registry& r);
void AddReport(Registry& r);
void AddFindings(Registry& r);
void AddRules(Registry& r);
void AddReplay(Registry& r);
void AddExport(Registry& r);
void AddVerify(Registry& r);
void AddVerifyReport(Registry& r);
void AddCheckpoint(Registry& r);
void AddPubkey(Registry& r);
void AddAccess(Registry& r);
void AddImport(Registry& r);
void AddDue(Registry& r);
void AddBackup(Registry& r);
void AddRestore(Registry& r);

// ---- failing ------------------------------------------------------------------

// A status from the server: says what went wrong and, when it could not be
// reached, what to do. Exit code 3.
int FailServer(const absl::Status& status, const Context& context);
// True if `status` is gRPC's word that the call never reached a server (no
// connection could be made: refused, no such name, nothing listening), so
// the server cannot have acted on it. A connection lost after the request
// was sent is not this: its answer may have been lost, not its request.
bool NeverConnected(const absl::Status& status);

// gRPC's own log lines are not written (they would come before the
// command's error, which says the same with what to do) unless
// GRPC_VERBOSITY asks for them; its last errors are kept, for FailServer to
// show when its status alone does not say what went wrong (a key that is
// not the certificate's: "empty address list").
void KeepGrpcLogs();
// A flag or argument that is wrong. Exit code 2.
int FailUsage(const absl::Status& status);
// A local file that cannot be read or written. Exit code 4.
int FailIo(const absl::Status& status);
// OK if `path` is a file this process can open to read; else NotFound or
// FailedPrecondition saying why, `flag` first (a folder opens, and then
// reads as nothing, which must not pass for an empty file).
absl::Status CheckReadableFile(const std::string& flag, const std::string& path);
// The bytes of the file at `path`, `what` it should be ("bundle", "saved
// checkpoint"...): NotFound as CheckReadableFile for a file that is not
// there, a folder or one that cannot be opened; InvalidArgument for an
// empty file or one larger than `max_bytes` (read no further: a file far
// larger than any `what` is not one, and protobuf parses at most 2 GiB).
absl::StatusOr<std::string> ReadLocalFile(const std::string& flag, const std::string& path,
                                          uint64_t max_bytes, absl::string_view what);
// The largest file each kind can be: a bundle or a report document as
// large as a reply may be (2 GiB - 1); a saved checkpoint, a public key or
// a config far smaller.
inline constexpr uint64_t kMaxDocumentBytes = (uint64_t{1} << 31) - 1;
inline constexpr uint64_t kMaxSmallFileBytes = uint64_t{16} << 20;
// A problem found before any server is asked: a file that is not there or
// cannot be read (NotFound, PermissionDenied: exit code 4, as FailIo) or
// flags that do not fit (anything else: exit code 2, as FailUsage).
int FailLocal(const absl::Status& status);
// Verification failed (prints VERIFICATION FAILED). Exit code 1.
int VerificationFailed(const std::string& why);

// ---- output --------------------------------------------------------------------

std::string ToJsonLine(const google::protobuf::Message& m);
absl::Status ParseJson(const std::string& json, google::protobuf::Message* m,
                       const std::string& what);
std::string FormatTimestamp(const google::protobuf::Timestamp& ts);

// --format, the same on every command that lists things: "table" for
// people (a header row, times labelled occurred or recorded, hashes in full
// lowercase hex) or "json" for programs, one object per line (JSON Lines) in
// the API's proto3 JSON mapping (bytes base64, 64-bit integers as strings,
// enums by name); "jsonl" is accepted as another name for "json" where
// `json_lines`. `report` alone prints one JSON object (the signed document,
// over many lines), so it takes no "jsonl" (outside probe).
CLI::Option* AddFormatOption(CLI::App* cmd, std::string* format,
                             const std::vector<std::string>& formats, bool json_lines = true);

// Recorded events as a table (PrintEventHeader first, then a row each; with
// `chain`, the event's chain hash ends the row) or as JSON Lines.
void PrintEventHeader(bool chain = false);
void PrintEvent(const v1::RecordedEvent& e, const std::string& format,
                const std::string* chain_hash = nullptr);
// Writes `text` to `path` ("" or "-": stdout); errors are local I/O.
absl::Status WriteOutput(const std::string& path, const std::string& text,
                         absl::string_view flag = "--output");
// OK if a file could be written at `path` (not a folder, in a folder that
// exists); else PermissionDenied naming `flag`: checked before long work
// whose result goes there.
absl::Status CheckWritablePath(absl::string_view flag, const std::string& path);
std::string Hex(const std::string& bytes);

// --progress (auto, always, never), the same on every long command.
CLI::Option* AddProgressOption(CLI::App* cmd, std::string* mode);

// Lower-cases an option's value before it is checked: the CLI's words
// (formats, tables, modes, expected states) are taken in any case.
CLI::Validator AnyCase();

// An --output/-o file name as given: not empty ("-o ''" wrote to stdout
// while "--output=" was refused), and not one "-o=name" made ("=name":
// a short option takes its value after a space). Outside probe.
CLI::Validator OutputFileName();

// A one-line progress bar on stderr, for long replays and verifications.
class ProgressBar {
 public:
  // `mode`: auto (when stderr is a terminal), always or never.
  static constexpr uint64_t kUnknown = UINT64_MAX;
  ProgressBar(const std::string& label, const std::string& mode);
  // `done` of `total` positions scanned; `matched` events so far (kUnknown:
  // not shown).
  void Update(uint64_t done, uint64_t total, uint64_t matched = kUnknown);
  void Done();

 private:
  std::string label_;
  bool on_;
  bool drawn_ = false;
  absl::Time last_ = absl::InfinitePast();
};

// ---- parsing --------------------------------------------------------------------

// For every number flag (as ->transform): plain decimal digits only. CLI11 would read
// "0100" as octal, "0x10" as hex and "-3" as 2^64-3; leading zeros are
// dropped ("0100" is 100), anything else is refused.
const CLI::Validator& Decimal();

// An RFC 3339 time (absl::RFC3339_full), but for a 60th second: absl
// takes "23:59:60" as the next minute's first, and the UK has had no leap
// second since 2016 (found from outside: "00:03:60Z" answered as of
// 00:04:00). false with `*error` set if it is not one.
bool ParseRfc3339(const std::string& text, absl::Time* t, std::string* error);

// A date (YYYY-MM-DD, UK time) or an RFC 3339 instant, with a four-digit
// year from 1900 to 2199 (so "26-03-01" or "20266-03-01" is refused, not
// read as the year 26 or 20266). For a date, `end_of_day` picks the
// midnight that ends it rather than the one that starts it.
absl::StatusOr<absl::Time> ParseWhen(const std::string& flag, const std::string& text,
                                     bool end_of_day);

// --from and --to (either may be empty: unbounded), by ParseWhen: --from's
// day from its start, --to's to its end. A period that ends before it
// begins, or as it begins, is refused (it would select nothing, silently).
struct Period {
  std::optional<absl::Time> from, to;
};
absl::StatusOr<Period> ParsePeriod(const std::string& from, const std::string& to);

// The replay/export filter flags.
struct FilterFlags {
  std::string case_id;
  std::vector<std::string> prefixes;
  std::vector<std::string> types;
  std::string actor, group, officer, member;
  std::string from, to;
  uint64_t from_position = 0, to_position = 0;
};
void AddFilterFlags(CLI::App* cmd, FilterFlags* f);
absl::StatusOr<v1::ReplayFilter> MakeFilter(const FilterFlags& f);
// The filter flags given, as typed ("--case=query-Q-1 --group=green"); ""
// for none.
std::string DescribeFilterFlags(const FilterFlags& f);

// The period flags of report, findings and access.
struct PeriodFlags {
  std::string from, to, as_of;
};
void AddPeriodFlags(CLI::App* cmd, PeriodFlags* flags);
// A report request for the period (--as-of also takes a position).
absl::StatusOr<v1::ReportRequest> MakeReportRequest(const PeriodFlags& flags);
// `status`, with a hint when it refuses a position beyond the log and
// --as-of was eight digits that also spell a day ("20260301": the position,
// as asked, but most likely meant as 2026-03-01).
absl::Status WithAsOfHint(absl::Status status, const std::string& as_of);

absl::StatusOr<v1::PublicKey> ReadPublicKey(const std::string& path);
// One line for people: tree size, root (hex), when and by which key.
std::string DescribeCheckpoint(const v1::SignedCheckpoint& c);

}  // namespace evenhand::cli

#endif  // EVENHAND_CLIENTS_CLI_COMMON_H_
