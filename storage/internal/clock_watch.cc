#include "storage/internal/clock_watch.h"

#include <time.h>

#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "base/time_util.h"

namespace evenhand::storage::internal {
namespace {

constexpr char kComponent[] = "storage";
// Behind by less is the clock's own jitter (NTP slews it), not a step.
constexpr absl::Duration kBehindTolerance = absl::Seconds(1);
constexpr absl::Duration kStepTolerance = absl::Minutes(1);

int64_t SteadyNanos() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", t, absl::UTCTimeZone());
}

}  // namespace

absl::StatusOr<absl::Time> ClockWatch::Stamp(absl::Time now, absl::Time last) {
  if (now >= absl::FromUnixSeconds(kEndCouncilSecond)) {
    const std::string message = absl::StrCat(
        "storage: the server's clock says ", Rfc3339(now),
        ", after 2200, the last time the server takes: the clock is wrong, and a time recorded "
        "now would stand for every later event. Appends are refused until it is put right "
        "(nothing was written; retry then)");
    logging::Error(kComponent, message);
    return absl::UnavailableError(message);
  }
  if (watch_steps_) {
    const int64_t steady = SteadyNanos();
    if (previous_clock_ != absl::InfinitePast()) {
      const absl::Duration step =
          (now - previous_clock_) - absl::Nanoseconds(steady - previous_steady_ns_);
      if (step > kStepTolerance) {
        std::string warning = absl::StrCat(
            "the server's clock jumped forward by ",
            absl::FormatDuration(absl::Trunc(step + absl::Milliseconds(500), absl::Seconds(1))),
            " (to ", Rfc3339(now),
            ") while its steady clock did not: the events appended since are recorded at that "
            "clock's time; if it was wrong, they look later than they were, and once it is "
            "put back every append is recorded at the last time given until the clock passes it "
            "(said until the next start)");
        logging::Error(kComponent, warning);
        absl::MutexLock lock(&mu_);
        stepped_ = std::move(warning);
      }
    }
    previous_clock_ = now;
    previous_steady_ns_ = steady;
  }
  if (now + kBehindTolerance < last) {
    absl::MutexLock lock(&mu_);
    if (behind_.empty()) {
      behind_ = absl::StrCat(
          "the server's clock (", Rfc3339(now),
          ") is behind the time the last append was recorded at (", Rfc3339(last),
          "): appends are recorded at that time, not the clock's, until the clock passes it "
          "(the log's times never go back). A clock that jumped forward and back? A report as of "
          "a time before then leaves those appends out");
      logging::Error(kComponent, behind_);
    }
    return last;
  }
  absl::MutexLock lock(&mu_);
  if (!behind_.empty() && now >= last) {
    logging::Info(kComponent,
                  absl::StrCat("the server's clock has passed the time appends were recorded at (",
                               Rfc3339(last), "): they are recorded at the clock's time again"));
    behind_.clear();
  }
  return std::max(now, last);
}

std::optional<std::string> ClockWatch::warning() const {
  absl::MutexLock lock(&mu_);
  if (behind_.empty() && stepped_.empty()) return std::nullopt;
  if (behind_.empty()) return stepped_;
  if (stepped_.empty()) return behind_;
  return absl::StrCat(behind_, "; ", stepped_);
}

}  // namespace evenhand::storage::internal
