// RefusalThrottle: which refusals go on the record. The log keeps every
// record forever, and a caller can be refused in a loop; a refusal reads
// nothing, so recording each one would let any authenticated caller grow the
// log at its own pace (an outside probe: a monitoring certificate refused
// 2,365 times a second, 1.4 MB a second of records). So, per principal:
//   - a refusal alike one recorded in the last `every` (the same `kind`:
//     for a caller with a role, its method, status and message) is not
//     recorded;
//   - nor is any once `per_every` were recorded in the current `every`;
//   - the next one recorded of the same method says how many of the
//     principal's refusals of that method were passed over since its last
//     recorded one (so a table by principal and method adds up).
// It knows principals, methods, kinds and times, not what a refusal is.
//
// At most `max_kept` principals are remembered: past that, those not
// recorded for `every` are forgotten, or all if that is not enough (a
// forgotten principal's next refusal is recorded, with no count). A
// principal's kinds older than `every` are let go as it records more.
//
// Thread-safe.
#ifndef EVENHAND_SERVICES_AUTH_REFUSAL_THROTTLE_H_
#define EVENHAND_SERVICES_AUTH_REFUSAL_THROTTLE_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace evenhand::services::auth {

class RefusalThrottle {
 public:
  RefusalThrottle(absl::Duration every, size_t per_every, size_t max_kept)
      : every_(every), per_every_(per_every), max_kept_(max_kept) {}

  // A refusal of `principal` calling `method`, of `kind` (which includes
  // the method), at `now`: nullopt if it is not to be recorded (counted
  // instead), else how many of the principal's refusals of `method` were
  // passed over since its last recorded one of `method`, and when that was
  // (`now` for its first).
  struct PassedOver {
    uint64_t count = 0;
    absl::Time since;
  };
  std::optional<PassedOver> Take(const std::string& principal, const std::string& method,
                                 const std::string& kind, absl::Time now);

  // The principals' methods with refusals passed over, none of which came
  // in the last `every`: each with how many, then reset as if one had been
  // recorded at `now`. So that a flood which stops is counted on the record
  // (recorded late) rather than only when the next refusal of the method
  // comes, which may be never. With `all`, every method with refusals
  // passed over, quiet or not (the server stops).
  struct Overdue {
    std::string principal;
    std::string method;
    uint64_t count = 0;
  };
  std::vector<Overdue> TakeOverdue(absl::Time now, bool all = false);

 private:
  struct Method {
    absl::Time last_recorded;
    uint64_t passed_over = 0;
    absl::Time last_passed_over;
  };
  struct Principal {
    absl::Time last_recorded;
    absl::Time window_start;
    size_t recorded_in_window = 0;
    absl::flat_hash_map<std::string, Method> methods;
    absl::flat_hash_map<std::string, absl::Time> kinds;  // when each was last recorded
  };
  const absl::Duration every_;
  const size_t per_every_;
  const size_t max_kept_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Principal> principals_ ABSL_GUARDED_BY(mu_);
};

}  // namespace evenhand::services::auth

#endif  // EVENHAND_SERVICES_AUTH_REFUSAL_THROTTLE_H_
