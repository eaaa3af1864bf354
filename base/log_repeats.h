// Lines of one kind repeated without end (a refusal per call of a client
// retrying in a loop, a failed TLS handshake per connection of a scanner)
// would bury every other line and fill the disk, and journald, past its
// rate limit, then drops lines of every kind. So a line of a kind is
// written only while that kind has written fewer than `burst` in the
// current window; the rest are counted, and the next line of the kind
// written says how many were not.
//
//   logging::Repeated(Severity::kWarning, "auth", "refused 10.1.2.3",
//                     "refused evenhand.v1.Fairness/GetReport from ...");
//   -> ... " (and 1,234 lines like it not written since 12:00:00Z)"
//
// Kinds are held up to a bound (4,096). Past it, the kinds whose window
// has passed are forgotten (at most one sweep a window), their lines not
// written handed to one shared kind, which new kinds then share while the
// bound holds; its lines not written are told with the next line written
// of any kind once its window has passed.
//
// Thread-safe.
#ifndef EVENHAND_BASE_LOG_REPEATS_H_
#define EVENHAND_BASE_LOG_REPEATS_H_

#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/logging.h"

namespace evenhand::logging {

class RepeatLimiter {
 public:
  RepeatLimiter(int burst, absl::Duration window, size_t max_kinds = 4096);

  struct Untold {
    uint64_t like_it = 0;  // of its kind, since the last written
    absl::Time since;      // when the first of those came
    uint64_t others = 0;   // of kinds past the bound
    absl::Time others_since;
  };
  // Whether a line of `kind` is written at `now`; if so, `*untold` says
  // what was not written that it must tell.
  bool Admit(absl::string_view kind, absl::Time now, Untold* untold);
  void SetWindow(absl::Duration window);

 private:
  struct Kind {
    absl::Time window_start;
    int written = 0;
    uint64_t unwritten = 0;
    absl::Time first_unwritten;
  };
  const int burst_;
  const size_t max_kinds_;
  absl::Mutex mu_;
  absl::Duration window_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Kind> kinds_ ABSL_GUARDED_BY(mu_);
  absl::Time last_sweep_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

// Log() through one RepeatLimiter for the process: 5 lines of a kind in
// each window (default 60 s; log.repeat_seconds in the server's config).
void Repeated(Severity severity, absl::string_view component, absl::string_view kind,
              absl::string_view message);
void SetRepeatWindow(absl::Duration window);

}  // namespace evenhand::logging

#endif  // EVENHAND_BASE_LOG_REPEATS_H_
