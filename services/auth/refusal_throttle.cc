#include "services/auth/refusal_throttle.h"

#include "absl/container/flat_hash_map.h"

namespace evenhand::services::auth {

std::optional<RefusalThrottle::PassedOver> RefusalThrottle::Take(const std::string& principal,
                                                                 const std::string& kind,
                                                                 absl::Time now) {
  absl::MutexLock lock(&mu_);
  auto stale = [&](absl::Time t) { return now - t >= every_; };
  if (principals_.size() >= max_kept_ && !principals_.contains(principal)) {
    absl::erase_if(principals_, [&](const auto& p) { return stale(p.second.last_recorded); });
    if (principals_.size() >= max_kept_) principals_.clear();
  }
  auto [it, first] = principals_.try_emplace(principal);
  Principal& p = it->second;
  if (first) {
    p.last_recorded = now;
    p.window_start = now;
    p.recorded_in_window = 1;
    p.kinds.emplace(kind, now);
    return PassedOver{0, now};
  }
  if (stale(p.window_start)) {
    p.window_start = now;
    p.recorded_in_window = 0;
  }
  if (p.kinds.size() >= max_kept_ && !p.kinds.contains(kind)) {
    absl::erase_if(p.kinds, [&](const auto& k) { return stale(k.second); });
    if (p.kinds.size() >= max_kept_) p.kinds.clear();
  }
  auto known = p.kinds.find(kind);
  if ((known != p.kinds.end() && !stale(known->second)) || p.recorded_in_window >= per_every_) {
    ++p.passed_over;
    return std::nullopt;
  }
  PassedOver out{p.passed_over, p.last_recorded};
  p.passed_over = 0;
  p.last_recorded = now;
  ++p.recorded_in_window;
  p.kinds[kind] = now;
  return out;
}

}  // namespace evenhand::services::auth
