// ClockWatch: the time a group of appends is recorded at, and what is wrong
// with the clock it is read from. Internal to storage/.
//
// recorded_at never goes back (the log's times are in position order), so a
// clock that stepped back, or forward and back, leaves appends recorded at
// the last time given until the clock passes it: a forward jump of seconds
// put right can pin every later event days ahead, and reports "as of now"
// leave them out (outside probe: nothing said it). That is said: an ERROR
// when it begins, and a warning (GetStatus, read against the clock then, so
// also after a restart) until the clock has passed it. A
// step forward (the wall clock moving on more than a minute further than
// the steady clock between two groups) is said the same way, and stays a
// warning until the next start: what was recorded after it carries that
// clock's time. A clock past 2200, the last time the server takes, refuses
// appends (UNAVAILABLE): a time recorded then would pin the log there for
// good.
//
// Knows nothing of events: times. Thread-compatible for Stamp (the
// sequencer's thread), thread-safe for warning().
#ifndef EVENHAND_STORAGE_INTERNAL_CLOCK_WATCH_H_
#define EVENHAND_STORAGE_INTERNAL_CLOCK_WATCH_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace evenhand::storage::internal {

class ClockWatch {
 public:
  // `watch_steps`: compare the clock with the steady clock (not for a
  // test's clock, which moves as the test says).
  explicit ClockWatch(bool watch_steps = true) : watch_steps_(watch_steps) {}

  // The time the log's last event was recorded at, when it is opened.
  void Opened(absl::Time last);

  // The time to record a group at, `now` from the clock: max(now, last),
  // `last` the time the previous group was recorded at. UNAVAILABLE if
  // `now` is past 2200. Logs what is wrong when it begins.
  absl::StatusOr<absl::Time> Stamp(absl::Time now, absl::Time last);

  // UNAVAILABLE if a group could not be recorded at `now` (past 2200): for
  // the store's write state, which says appends are refused.
  static absl::Status Refusal(absl::Time now);

  // What is wrong with the clock, reading `now` from it: past 2200, behind
  // the last recorded time (so also after a restart, before any append),
  // and any step forward seen since the start.
  std::vector<std::string> Warnings(absl::Time now) const;

 private:
  const bool watch_steps_;
  // The previous Stamp's clock and steady clock readings.
  absl::Time previous_clock_ = absl::InfinitePast();
  int64_t previous_steady_ns_ = 0;
  // Said once when each begins (Stamp's thread only).
  bool past_end_said_ = false;
  bool behind_said_ = false;
  mutable absl::Mutex mu_;
  absl::Time last_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();  // recorded
  std::string stepped_ ABSL_GUARDED_BY(mu_);                     // since a step forward
};

}  // namespace evenhand::storage::internal

#endif  // EVENHAND_STORAGE_INTERNAL_CLOCK_WATCH_H_
