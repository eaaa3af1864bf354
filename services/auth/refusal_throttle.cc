#include "services/auth/refusal_throttle.h"

#include "absl/container/flat_hash_map.h"

namespace evenhand::services::auth {

std::optional<RefusalThrottle::PassedOver> RefusalThrottle::Take(const std::string& principal,
                                                                 const std::string& method,
                                                                 const std::string& kind,
                                                                 absl::Time now) {
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
  auto [m, first_of_method] = p.methods.try_emplace(method, Method{now, 0, absl::InfinitePast()});
  auto known = p.kinds.find(kind);
  if ((known != p.kinds.end() && !stale(known->second)) || p.recorded_in_window >= per_every_) {
    ++m->second.passed_over;
    m->second.last_passed_over = now;
    return std::nullopt;
  }
  PassedOver out{m->second.passed_over, first_of_method ? now : m->second.last_recorded};
  m->second = Method{now, 0, absl::InfinitePast()};
  p.last_recorded = now;
  ++p.recorded_in_window;
  p.kinds[kind] = now;
  return out;
}

std::vector<RefusalThrottle::Overdue> RefusalThrottle::TakeOverdue(absl::Time now, bool all) {
  std::vector<Overdue> out;
  absl::MutexLock lock(&mu_);
  for (auto& [principal, p] : principals_) {
    for (auto& [method, m] : p.methods) {
      if (m.passed_over == 0 || (!all && now - m.last_passed_over < every_)) continue;
      out.push_back(Overdue{principal, method, m.passed_over});
      m = Method{now, 0, absl::InfinitePast()};
      p.last_recorded = now;
    }
  }
  return out;
}

}  // namespace evenhand::services::auth
