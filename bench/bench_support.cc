#include "bench/bench_support.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/time_util.h"
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

History WriteCouncilHistory(storage::EventStore* store, uint64_t target_events,
                            std::atomic<int64_t>* clock_nanos, int years) {
  History h;
  h.years = std::max(1, years);
  // A busy council runs ~1,950 events a year at intensity 1.
  h.intensity = std::max(1.0, static_cast<double>(target_events) / (1950.0 * h.years));
  const absl::Time t0 = absl::Now();
  const absl::Time now = absl::Now();
  h.end = now;
  services::AppendLimits limits;
  // As it happens, few in flight: the clock is read as each is sequenced.
  BoundedAppender appender(store, clock_nanos == nullptr ? 20000 : 256);
  for (int y = 0; y < h.years; ++y) {
    demo::GeneratorOptions g;
    g.seed = 100 + y;
    g.start = now - absl::Hours(24 * 365 * (h.years - y));
    g.days = 365;
    g.intensity = h.intensity;
    g.id_prefix = absl::StrCat("y", y, "-");
    g.register_council = y == 0;
    g.cutoff = now;
    std::vector<demo::StreamAppend> appends = demo::GenerateCouncil(g);
    if (clock_nanos == nullptr) {
      for (auto& append : appends) {
        if (!services::PrepareEvents(limits, absl::Now(), &append.events).ok()) {
          ++h.appends_failed;
          continue;
        }
        appender.Append(std::move(append.stream_id), std::move(append.events));
      }
      appender.Drain();
      h.year_end_positions.push_back(store->LastPosition());
      continue;
    }
    // As it happens: every event of the year in the order of when it
    // happened (a stream's events never before the one it follows).
    struct One {
      int64_t at;
      size_t append;
      size_t index;
    };
    std::vector<One> order;
    for (size_t a = 0; a < appends.size(); ++a) {
      int64_t at = INT64_MIN;
      for (size_t i = 0; i < appends[a].events.size(); ++i) {
        at = std::max(at, absl::ToUnixNanos(FromProtoTime(appends[a].events[i].occurred_at())));
        order.push_back({at, a, i});
      }
    }
    std::stable_sort(order.begin(), order.end(),
                     [](const One& x, const One& y) { return x.at < y.at; });
    for (const One& o : order) {
      // The store records it no earlier than it happened.
      clock_nanos->store(std::max(clock_nanos->load(), o.at));
      std::vector<v1::Event> one;
      one.push_back(std::move(appends[o.append].events[o.index]));
      if (!services::PrepareEvents(limits, absl::Now(), &one).ok()) {
        ++h.appends_failed;
        continue;
      }
      appender.Append(appends[o.append].stream_id, std::move(one));
    }
    appender.Drain();
    h.year_end_positions.push_back(store->LastPosition());
  }
  h.appends_failed += appender.failed();
  h.seconds = absl::ToDoubleSeconds(absl::Now() - t0);
  return h;
}

absl::StatusOr<v1::SignedCheckpoint> CheckpointOnceMapBuilt(integrity::IntegrityLog* log) {
  // Half an hour at 10M events; give up after four times that.
  const absl::Time give_up = absl::Now() + absl::Hours(2);
  for (;;) {
    absl::StatusOr<v1::SignedCheckpoint> c = log->CheckpointNow();
    if (c.ok() || !absl::IsUnavailable(c.status()) || absl::Now() > give_up) return c;
    absl::SleepFor(absl::Milliseconds(200));
  }
}

}  // namespace evenhand::bench
