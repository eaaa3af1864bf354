// DeliveryPool: a few low-priority threads that do subscribers' work (reading
// catch-up chunks from RocksDB, assembling messages, handing them to gRPC,
// which writes them to the socket on the same thread).
//
// Fan-out is the expensive side of a log: every subscriber wants every event,
// and a client whose gRPC library keeps accepting data (its flow-control
// window grows with the bandwidth it sees) takes it as fast as it is sent.
// Done on gRPC's threads that work competes with appends as an equal; here
// it runs at a lower CPU priority (nice +10), so under contention the
// sequencer, writer and appenders come first and subscribers get what is
// left. And what all subscribers are sent together is capped (a token bucket
// of `bytes_per_second`): subscribers whose clients accept without limit
// (gRPC's BDP probing grows a stream's window even when the application
// never reads) cannot take the machine's network and CPU from appends. A
// pool thread that has sent more than the budget sleeps off the debt before
// it takes the next subscriber's work. Internal to services/.
//
// With no cap and at the normal priority it also serves as a plain work
// queue: AppendStream resumes a parked request on one (never on the store's
// completer thread, which must not block).
//
// Thread-safe.
#ifndef EVENHAND_SERVICES_INTERNAL_DELIVERY_POOL_H_
#define EVENHAND_SERVICES_INTERNAL_DELIVERY_POOL_H_

#include <cstdint>
#include <deque>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace evenhand::services::internal {

class DeliveryPool {
 public:
  // `bytes_per_second` 0: no cap. Its threads are named `thread_name` and
  // run `nice` steps below the process's priority.
  DeliveryPool(int threads, uint64_t bytes_per_second, const char* thread_name = "eh-subscribers",
               int nice = 10);
  // Runs what is queued, then stops.
  ~DeliveryPool();

  // `work` returns the bytes it handed to gRPC.
  void Submit(absl::AnyInvocable<size_t() &&> work);

  // Waits until nothing is queued or running; the number of pieces of work
  // still queued or running if `deadline` passed first (0: all done).
  size_t WaitUntilIdle(absl::Time deadline);

 private:
  void Run();

  // Charges `bytes` to the budget; sleeps while it is overdrawn.
  void Charge(size_t bytes);

  const uint64_t bytes_per_second_;
  absl::Mutex mu_;
  std::deque<absl::AnyInvocable<size_t() &&>> queue_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  // Pieces of work taken from the queue and not yet done.
  size_t running_ ABSL_GUARDED_BY(mu_) = 0;
  // The token bucket: bytes available (negative: owed) as of `refilled_`.
  double tokens_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time refilled_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_;
};

}  // namespace evenhand::services::internal

#endif  // EVENHAND_SERVICES_INTERNAL_DELIVERY_POOL_H_
