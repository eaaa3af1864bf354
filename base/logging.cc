#include "base/logging.h"

#include <unistd.h>

#include <atomic>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace evenhand::logging {
namespace {

std::atomic<Severity> min_severity{Severity::kInfo};
std::atomic<Observer> observer{nullptr};

const char* SeverityName(Severity s) {
  switch (s) {
    case Severity::kInfo:
      return "INFO";
    case Severity::kWarning:
      return "WARN";
    case Severity::kError:
      return "ERROR";
  }
  return "?";
}

}  // namespace

void SetMinimumSeverity(Severity severity) { min_severity.store(severity); }
void SetObserverForTest(Observer o) { observer.store(o); }

void Log(Severity severity, absl::string_view component, absl::string_view message) {
  if (Observer o = observer.load(); o != nullptr && severity != Severity::kInfo) {
    o(severity, component, message);
  }
  if (static_cast<int>(severity) < static_cast<int>(min_severity.load())) return;
  std::string line = absl::StrCat(
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()), " ",
      SeverityName(severity), " ", component,
      ": ", message, "\n");
  // One write per line: concurrent lines do not interleave. A failed write to
  // stderr has nowhere better to be reported.
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace evenhand::logging
