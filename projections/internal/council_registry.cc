#include "projections/internal/council_registry.h"

#include <utility>

namespace evenhand::projections::internal {

std::shared_ptr<const CouncilRegistry> CouncilRegistryCache::Get(
    uint64_t position, const WorkingDayCalendar& calendar) const {
  absl::MutexLock lock(&mu_);
  if (registry_ == nullptr || position < changed_at_ || !(*calendar_ == calendar)) return nullptr;
  return registry_;
}

void CouncilRegistryCache::Put(std::shared_ptr<const CouncilRegistry> registry, uint64_t position,
                               const WorkingDayCalendar& calendar) {
  absl::MutexLock lock(&mu_);
  if (position < changed_at_) return;  // as of an earlier registry
  registry_ = std::move(registry);
  calendar_ = calendar;
}

void CouncilRegistryCache::Changed(uint64_t position) {
  absl::MutexLock lock(&mu_);
  changed_at_ = position;
  registry_.reset();
}

}  // namespace evenhand::projections::internal
