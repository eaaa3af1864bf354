#include "bench/bench_support.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "demo/council_generator.h"
#include "services/event_validation.h"

namespace evenhand::bench {

void BoundedAppender::Append(std::string stream_id, std::vector<v1::Event> events) {
  {
    absl::MutexLock lock(&mu_);
    auto room = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return in_flight_ < max_in_flight_;
    };
    mu_.Await(absl::Condition(&room));
    ++in_flight_;
  }
  store_->AppendAsync(std::move(stream_id), storage::ExpectedRevision::Any(), std::move(events),
                      [this](absl::StatusOr<storage::AppendResult> r) {
                        absl::MutexLock lock(&mu_);
                        if (!r.ok()) ++failed_;
                        --in_flight_;
                      });
}

void BoundedAppender::Drain() {
  absl::MutexLock lock(&mu_);
  auto drained = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return in_flight_ == 0; };
  mu_.Await(absl::Condition(&drained));
}

uint64_t BoundedAppender::failed() const {
  absl::MutexLock lock(&mu_);
  return failed_;
}

History WriteCouncilHistory(storage::EventStore* store, uint64_t target_events) {
  History h;
  h.years = 5;
  // A busy council runs ~1,950 events a year at intensity 1.
  h.intensity = std::max(1.0, static_cast<double>(target_events) / (1950.0 * h.years));
  const absl::Time t0 = absl::Now();
  const absl::Time now = absl::Now();
  services::AppendLimits limits;
  BoundedAppender appender(store, 20000);
  for (int y = 0; y < h.years; ++y) {
    demo::GeneratorOptions g;
    g.seed = 100 + y;
    g.start = now - absl::Hours(24 * 365 * (h.years - y));
    g.days = 365;
    g.intensity = h.intensity;
    g.id_prefix = absl::StrCat("y", y, "-");
    g.register_council = y == 0;
    g.cutoff = now;
    for (auto& append : demo::GenerateCouncil(g)) {
      if (!services::PrepareEvents(limits, absl::Now(), &append.events).ok()) {
        ++h.appends_failed;
        continue;
      }
      appender.Append(std::move(append.stream_id), std::move(append.events));
    }
  }
  appender.Drain();
  h.appends_failed += appender.failed();
  h.seconds = absl::ToDoubleSeconds(absl::Now() - t0);
  return h;
}

}  // namespace evenhand::bench
