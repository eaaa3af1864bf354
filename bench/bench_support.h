// What the benchmark programs share: writing many appends into a store with
// a bounded number in flight, and writing a generated council history.
#ifndef EVENHAND_BENCH_BENCH_SUPPORT_H_
#define EVENHAND_BENCH_BENCH_SUPPORT_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "evenhand/v1/audit.pb.h"
#include "evenhand/v1/events.pb.h"
#include "integrity/integrity_log.h"
#include "storage/event_store.h"

namespace evenhand::bench {

// Appends asynchronously, at most `max_in_flight` at once (Append() waits
// for room), so a writer can keep the group commit full without queueing
// the whole input in memory.
class BoundedAppender {
 public:
  BoundedAppender(storage::EventStore* store, uint64_t max_in_flight)
      : store_(store), max_in_flight_(max_in_flight) {}
  // Waits for the appends still in flight.
  ~BoundedAppender() { Drain(); }

  void Append(std::string stream_id, std::vector<v1::Event> events);
  // Waits until every append has been answered.
  void Drain();
  // Appends answered with an error so far.
  uint64_t failed() const;

 private:
  storage::EventStore* const store_;
  const uint64_t max_in_flight_;
  mutable absl::Mutex mu_;
  uint64_t in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t failed_ ABSL_GUARDED_BY(mu_) = 0;
};

struct History {
  uint64_t appends_failed = 0;  // refused by validation or by the store
  double seconds = 0;
  double intensity = 0;
  int years = 0;
  // When the history ends: year y (from 0) covers the 365 days from
  // end - 365 days * (years - y).
  absl::Time end;
  // The log's last position once each year was written (years in order,
  // the last ending now).
  std::vector<uint64_t> year_end_positions;
};

// Writes a generated council history of about `target_events` events into
// `store`: `years` years ending now, the demo generator's intensity scaled to
// reach the target, one year generated at a time to bound its memory. Each
// append is prepared as the server would (ids, types, timestamps checked).
//
// Without `clock_nanos`, each case's events are appended together as soon
// as generated, so every event is recorded within seconds of now, long
// after it happened. With it, the year's events are appended one at a time
// in the order they happened (each stream's in its own order), and
// `*clock_nanos` (which the store's clock must read) is set to when each
// happened first: the log is recorded as it happens, as a live server's.
History WriteCouncilHistory(storage::EventStore* store, uint64_t target_events,
                            std::atomic<int64_t>* clock_nanos = nullptr, int years = 5);

// A checkpoint of the whole log, once the stream-head map is built: a map
// far behind (a bulk load) is built in steps, and CheckpointNow is refused
// (STREAM_MAP_BUILDING) until it is.
absl::StatusOr<v1::SignedCheckpoint> CheckpointOnceMapBuilt(integrity::IntegrityLog* log);

}  // namespace evenhand::bench

#endif  // EVENHAND_BENCH_BENCH_SUPPORT_H_
