#include "storage/internal/clock_watch.h"

#include <time.h>

#include <vector>

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
  // CLOCK_BOOTTIME: steady, and counts a suspended machine's sleep, which
  // the wall clock also moves on by.
  ::clock_gettime(CLOCK_BOOTTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", t, absl::UTCTimeZone());
}

std::string PastEnd(absl::Time now) {
  return absl::StrCat(
      "the server's clock says ", Rfc3339(now),
      ", after 2200, the last time the server takes: the clock is wrong, and a time recorded "
      "now would stand for every later event. Appends are refused until it is put right "
      "(nothing was written; retry then)");
}

std::string Behind(absl::Time now, absl::Time last) {
  return absl::StrCat(
      "the server's clock (", Rfc3339(now),
      ") is behind the time the last append was recorded at (", Rfc3339(last),
      "): appends are recorded at that time, not the clock's, until the clock passes it (the "
      "log's times never go back). A clock that jumped forward and back? A report as of a "
      "time before then leaves those appends out");
}

}  // namespace

void ClockWatch::Opened(absl::Time last) {
  absl::MutexLock lock(&mu_);
  last_ = last;
}

absl::Status ClockWatch::Refusal(absl::Time now) {
  if (now < absl::FromUnixSeconds(kEndCouncilSecond)) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat("storage: ", PastEnd(now)));
}

absl::StatusOr<absl::Time> ClockWatch::Stamp(absl::Time now, absl::Time last) {
  if (absl::Status refused = Refusal(now); !refused.ok()) {
    if (!past_end_said_) logging::Error(kComponent, refused.message());  // once, not per append
    past_end_said_ = true;
    return refused;
  }
  past_end_said_ = false;
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
  const bool behind = now + kBehindTolerance < last;
  if (behind && !behind_said_) logging::Error(kComponent, Behind(now, last));
  if (!behind && behind_said_ && now >= last) {
    logging::Info(kComponent,
                  absl::StrCat("the server's clock has passed the time appends were recorded at (",
                               Rfc3339(last), "): they are recorded at the clock's time again"));
  }
  if (behind) behind_said_ = true;
  if (now >= last) behind_said_ = false;
  const absl::Time at = std::max(now, last);
  absl::MutexLock lock(&mu_);
  last_ = at;
  return at;
}

std::vector<std::string> ClockWatch::Warnings(absl::Time now) const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> out;
  if (now >= absl::FromUnixSeconds(kEndCouncilSecond)) out.push_back(PastEnd(now));
  if (now + kBehindTolerance < last_) out.push_back(Behind(now, last_));
  if (!stepped_.empty()) out.push_back(stepped_);
  return out;
}

}  // namespace evenhand::storage::internal
