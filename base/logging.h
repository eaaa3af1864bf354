// A minimal line logger for the server and tools.
//
// One line per call, to stderr, in one of two formats:
//   text: 2026-11-25T12:00:00.123Z INFO evenhandd: started data_dir=./data ...
//   json: {"time":"2026-11-25T12:00:00.123Z","level":"info",
//          "component":"evenhandd","message":"started data_dir=./data ...",
//          "request_id":"…"}
// (one JSON object per line, for journald and log shippers; evenhandd's
// default). `request_id` is there when the line is written while a gRPC
// call is handled on this thread (RequestScope): the caller's
// "x-request-id" metadata, or one made up for the call.
//
// Lines are written with a single write(2), so lines from different threads
// never interleave. Messages say what happened and to what (positions,
// stream ids, principals), never an event's payload values: the log is
// read by IT staff who may not read the briefings it is about.
// Thread-safe.
#ifndef EVENHAND_BASE_LOGGING_H_
#define EVENHAND_BASE_LOGGING_H_

#include <string>

#include "absl/strings/string_view.h"

namespace evenhand::logging {

enum class Severity { kInfo, kWarning, kError };
enum class Format { kText, kJson };

// Writes one line. `component` names the program or module ("evenhandd").
void Log(Severity severity, absl::string_view component, absl::string_view message);

inline void Info(absl::string_view component, absl::string_view message) {
  Log(Severity::kInfo, component, message);
}
inline void Warning(absl::string_view component, absl::string_view message) {
  Log(Severity::kWarning, component, message);
}
inline void Error(absl::string_view component, absl::string_view message) {
  Log(Severity::kError, component, message);
}

// Lines below `severity` are not written (tests and benchmarks that start
// many servers silence kInfo).
void SetMinimumSeverity(Severity severity);
void SetFormat(Format format);

// Parses "info", "warning" or "error"; and "text" or "json". False if not one.
bool ParseSeverity(absl::string_view text, Severity* severity);
bool ParseFormat(absl::string_view text, Format* format);

// While alive, lines written on this thread carry `request_id`.
class RequestScope {
 public:
  explicit RequestScope(std::string request_id);
  ~RequestScope();
  RequestScope(const RequestScope&) = delete;
  RequestScope& operator=(const RequestScope&) = delete;

 private:
  std::string previous_;
};

// Sets this thread's request id until the next call sets another (for a
// gRPC handler thread, where every call sets its own first); "" clears it.
void SetThreadRequestId(std::string request_id);
const std::string& ThreadRequestId();

// Tests: also hands every line at kWarning or above (whatever the minimum
// severity) to `observer`, e.g. to check that no failure went unreported.
// Pass nullptr to stop. `observer` must be thread-safe.
using Observer = void (*)(Severity severity, absl::string_view component,
                          absl::string_view message);
void SetObserverForTest(Observer observer);

// One line as it would be written (without the newline), for tests.
std::string FormatLine(Format format, Severity severity, absl::string_view component,
                       absl::string_view message, absl::string_view request_id);

}  // namespace evenhand::logging

#endif  // EVENHAND_BASE_LOGGING_H_
