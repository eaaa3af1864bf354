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
//     recorded one (so a table by principal and method adds up);
//   - refusals passed over that no recorded one counted, none of which
//     came in the last `every` (a flood that stopped), are overdue
//     (TakeOverdue), with the last of them.
// It knows principals, methods, kinds and times, not what a refusal is:
// `Last` is what its user keeps of the last refusal passed over of each
// principal's method (made only when one is passed over).
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
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace evenhand::services::auth {

template <typename Last>
class RefusalThrottle {
 public:
  RefusalThrottle(absl::Duration every, size_t per_every, size_t max_kept)
      : every_(every), per_every_(per_every), max_kept_(max_kept) {}

  // A refusal of `principal` calling `method`, of `kind` (which includes
  // the method), at `now`: nullopt if it is not to be recorded (counted
  // instead, and `last()` kept as the method's last passed over), else how
  // many of the principal's refusals of `method` were
  // passed over since its last recorded one of `method`, and when that was
  // (`now` for its first).
  struct PassedOver {
    uint64_t count = 0;
    absl::Time since;
  };
  std::optional<PassedOver> Take(const std::string& principal, const std::string& method,
                                 const std::string& kind, absl::Time now,
                                 absl::FunctionRef<Last()> last);

  // The principals' methods with refusals passed over, none of which came
  // in the last `every`: each with how many and the last of them (and
  // when it came), then reset as if one had been recorded at `now`. So that a flood which stops is
  // counted on the record (recorded late) rather than only when the next refusal of the method
  // comes, which may be never. With `all`, every method with refusals
  // passed over, quiet or not (the server stops).
  struct Overdue {
    std::string principal;
    std::string method;
    uint64_t count = 0;
    Last last;
    absl::Time last_at;
  };
  std::vector<Overdue> TakeOverdue(absl::Time now, bool all = false);

 private:
  struct Method {
    absl::Time last_recorded;
    uint64_t passed_over = 0;
    absl::Time last_passed_over;
    std::optional<Last> last;  // of those passed over
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

template <typename Last>
std::optional<typename RefusalThrottle<Last>::PassedOver> RefusalThrottle<Last>::Take(
    const std::string& principal, const std::string& method, const std::string& kind,
    absl::Time now, absl::FunctionRef<Last()> last) {
  absl::MutexLock lock(&mu_);
  auto stale = [&](absl::Time t) { return now - t >= every_; };
  if (principals_.size() >= max_kept_ && !principals_.contains(principal)) {
    absl::erase_if(principals_, [&](const auto& p) { return stale(p.second.last_recorded); });
    if (principals_.size() >= max_kept_) principals_.clear();
  }
  Principal& p = principals_[principal];
  if (p.kinds.empty() && p.methods.empty()) p.window_start = now;  // its first
  if (stale(p.window_start)) {
    p.window_start = now;
    p.recorded_in_window = 0;
  }
  // Kinds recorded over a minute ago decide nothing: let go once they
  // could outnumber those of the last minute (at most 2 * per_every_).
  if (p.kinds.size() >= 2 * per_every_ + 16 && !p.kinds.contains(kind)) {
    absl::erase_if(p.kinds, [&](const auto& k) { return stale(k.second); });
    if (p.kinds.size() >= max_kept_) p.kinds.clear();
  }
  auto [m, first_of_method] =
      p.methods.try_emplace(method, Method{now, 0, absl::InfinitePast(), std::nullopt});
  auto known = p.kinds.find(kind);
  if ((known != p.kinds.end() && !stale(known->second)) || p.recorded_in_window >= per_every_) {
    ++m->second.passed_over;
    m->second.last_passed_over = now;
    m->second.last = last();
    return std::nullopt;
  }
  PassedOver out{m->second.passed_over, first_of_method ? now : m->second.last_recorded};
  m->second = Method{now, 0, absl::InfinitePast(), std::nullopt};
  p.last_recorded = now;
  ++p.recorded_in_window;
  p.kinds[kind] = now;
  return out;
}

template <typename Last>
std::vector<typename RefusalThrottle<Last>::Overdue> RefusalThrottle<Last>::TakeOverdue(
    absl::Time now, bool all) {
  std::vector<Overdue> out;
  absl::MutexLock lock(&mu_);
  for (auto& [principal, p] : principals_) {
    for (auto& [method, m] : p.methods) {
      if (m.passed_over == 0 || (!all && now - m.last_passed_over < every_)) continue;
      out.push_back(
          Overdue{principal, method, m.passed_over, std::move(*m.last), m.last_passed_over});
      m = Method{now, 0, absl::InfinitePast(), std::nullopt};
      p.last_recorded = now;
    }
  }
  return out;
}

}  // namespace evenhand::services::auth

#endif  // EVENHAND_SERVICES_AUTH_REFUSAL_THROTTLE_H_
