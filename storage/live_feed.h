// LiveFeed: the most recent committed events, in memory, for subscribers, and
// the waits of subscribers that have read everything committed so far.
//
// The store's writer publishes each group once it is durable. A subscriber
// reads from the feed while the position it wants is still held (the feed
// keeps at most `max_events` events and about `max_bytes` bytes); one that
// has fallen further behind reads from RocksDB instead, so a slow subscriber
// never holds memory or a writer back.
//
// A subscriber at the end of the log registers a one-shot wait. Waits cost a
// few dozen bytes each and no thread: when a group commits, the feed's
// notifier thread (not the writer) runs the callbacks of the waits it
// satisfies. That is how gRPC subscriptions (services/subscribe_reactor.h)
// follow the log without a thread per subscriber.
//
// Thread-safety: every method is safe to call concurrently. Wake callbacks
// run on the notifier thread, never with the feed's lock held, and must not
// block.
#ifndef EVENHAND_STORAGE_LIVE_FEED_H_
#define EVENHAND_STORAGE_LIVE_FEED_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "evenhand/v1/events.pb.h"

namespace evenhand::storage {

using EventPtr = std::shared_ptr<const v1::RecordedEvent>;

// A committed event, parsed and as stored (its serialised RecordedEvent),
// so that subscribers share one serialisation instead of making their own.
struct FeedEvent {
  EventPtr event;
  std::shared_ptr<const std::string> bytes;
};

class LiveFeed {
 public:
  // `last_position` is the log's last committed position when it opens.
  LiveFeed(size_t max_events, size_t max_bytes, uint64_t last_position);
  // Stops the notifier; waits still registered are dropped without a call.
  ~LiveFeed();

  LiveFeed(const LiveFeed&) = delete;
  LiveFeed& operator=(const LiveFeed&) = delete;

  // Writer thread: `events` (consecutive positions, following the last
  // published) are durable.
  void Publish(const std::vector<FeedEvent>& events);

  // Wakes every wait and makes Read() answer kShutdown from now on.
  void Shutdown();

  enum class ReadResult {
    kOk,        // events were added to *out
    kNotYet,    // `from` is not committed yet
    kBehind,    // the feed no longer holds `from`: read it from the log
    kShutdown,  // the store is shutting down
  };
  // Adds to *out the events from `from` on, at most `max_events` and (after
  // the first) about `max_bytes` of them.
  ReadResult Read(uint64_t from, size_t max_events, size_t max_bytes,
                  std::vector<FeedEvent>* out) const;

  // The last committed position.
  uint64_t committed() const;
  bool shutting_down() const;

  using WaitId = uint64_t;
  // Calls `wake` once, on the notifier thread, when the event at `from` has
  // committed or the feed shuts down (at once, on the notifier thread, if
  // either is already so).
  WaitId WaitFor(uint64_t from, absl::AnyInvocable<void() &&> wake);
  // Withdraws a wait. True if it was still registered (its callback will
  // never run); false if it has run or is running now.
  bool CancelWait(WaitId id);
  // Registered waits (for limits and metrics).
  size_t waiting() const;

  // Blocks until the event at `from` has committed, the feed shuts down, or
  // `deadline` passes; true in the first two cases.
  bool AwaitCommitted(uint64_t from, absl::Time deadline) const;

 private:
  void RunNotifier();

  const size_t max_events_;
  const size_t max_bytes_;

  mutable absl::Mutex mu_;
  std::deque<FeedEvent> events_ ABSL_GUARDED_BY(mu_);
  // Position of events_.front() (or of the next event when empty).
  uint64_t first_ ABSL_GUARDED_BY(mu_);
  uint64_t committed_ ABSL_GUARDED_BY(mu_);
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_notifier_ ABSL_GUARDED_BY(mu_) = false;

  // Waits by the position they wait for; callbacks by id.
  WaitId next_wait_id_ ABSL_GUARDED_BY(mu_) = 1;
  absl::btree_multimap<uint64_t, WaitId> waits_by_position_ ABSL_GUARDED_BY(mu_);
  struct Wait {
    uint64_t from;
    absl::AnyInvocable<void() &&> wake;
  };
  absl::flat_hash_map<WaitId, Wait> waits_ ABSL_GUARDED_BY(mu_);
  // Waits taken out of the maps whose callbacks the notifier is about to run.
  std::vector<absl::AnyInvocable<void() &&>> ready_ ABSL_GUARDED_BY(mu_);

  std::thread notifier_;
};

}  // namespace evenhand::storage

#endif  // EVENHAND_STORAGE_LIVE_FEED_H_
