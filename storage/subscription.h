// Subscription: a cursor that follows the log, for in-process readers (the
// fairness projection's runner). It first reads committed events from
// RocksDB (catching up), then from the store's LiveFeed as events commit. If
// it falls so far behind that the feed no longer holds its next position, it
// reads from RocksDB again. Positions are dense, so it never skips or
// repeats one.
//
// Next() blocks the calling thread while there is nothing to read; gRPC
// subscribers use the feed's waits instead (services/subscribe_reactor.h).
//
// Thread-safety: one thread at a time may use a Subscription; it must not
// outlive its store.
#ifndef EVENHAND_STORAGE_SUBSCRIPTION_H_
#define EVENHAND_STORAGE_SUBSCRIPTION_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "storage/live_feed.h"

namespace evenhand::storage {

class EventStore;

class Subscription {
 public:
  enum class Mode { kCatchingUp, kLive };

  // `*store` must outlive the subscription. `from_position` >= 1.
  Subscription(const EventStore* store, uint64_t from_position)
      : store_(store), next_position_(from_position) {}

  // Appends to `*out` up to `max_events` events starting at next_position(),
  // and (after the first) about `max_bytes` of them as stored: a catch-up
  // through a run of large events hands them over a few at a time rather
  // than thousands at once (4,096 events of 60 KB each are 240 MB parsed).
  // Blocks until at least one event is available or `deadline` passes (then
  // returns OK with nothing added). Returns Unavailable once the store is
  // shutting down.
  absl::Status Next(size_t max_events, size_t max_bytes, absl::Time deadline,
                    std::vector<EventPtr>* out);

  // The position the next event will have.
  uint64_t next_position() const { return next_position_; }
  // kLive once the subscriber has been handed the last committed event (or
  // found nothing left to read); kCatchingUp before that, and again after it
  // fell behind the live feed.
  Mode mode() const { return mode_; }
  // True once after a Next() whose events came from RocksDB because the
  // subscriber, while live, fell behind the live feed.
  bool TakeFellBehind();

 private:
  const EventStore* store_;
  uint64_t next_position_;
  Mode mode_ = Mode::kCatchingUp;
  bool fell_behind_ = false;
};

}  // namespace evenhand::storage

#endif  // EVENHAND_STORAGE_SUBSCRIPTION_H_
