// A minimal line logger for the server and tools.
//
// One line per call, to stderr, as
//   2026-11-25T12:00:00.123Z INFO evenhandd: started data_dir=./data ...
// Lines are written with a single write(2), so lines from different threads
// never interleave. Thread-safe.
#ifndef EVENHAND_BASE_LOGGING_H_
#define EVENHAND_BASE_LOGGING_H_

#include "absl/strings/string_view.h"

namespace evenhand::logging {

enum class Severity { kInfo, kWarning, kError };

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

// Silences kInfo lines (tests and benchmarks that start many servers).
void SetMinimumSeverity(Severity severity);

// Tests: also hands every line at kWarning or above (whatever the minimum
// severity) to `observer`, e.g. to check that no failure went unreported.
// Pass nullptr to stop. `observer` must be thread-safe.
using Observer = void (*)(Severity severity, absl::string_view component,
                          absl::string_view message);
void SetObserverForTest(Observer observer);

}  // namespace evenhand::logging

#endif  // EVENHAND_BASE_LOGGING_H_
