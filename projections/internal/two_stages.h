// TwoStages: a producer on a thread of its own hands chunks of work to a
// consumer on the calling thread, with at most `queued` chunks between them,
// so that reading and parsing (the producer) overlap with folding (the
// consumer) on a machine with two cores, and memory stays bounded.
//
// Each chunk is destroyed on the producer's thread, which allocated it,
// once consumed: freed on the consumer's, its thousands of small pieces
// went into the producer's malloc arena under that arena's lock, and
// freeing its large buffer made glibc consolidate that arena there
// (malloc_consolidate alone was 11% of a rebuild's fold thread at 10M
// events, 5% after).
//
// The projection runner uses it to fold the log's backlog (events read and
// parsed, then folded) and to read its checkpoint (cases read and parsed,
// then filed). It knows nothing of either.
#ifndef EVENHAND_PROJECTIONS_INTERNAL_TWO_STAGES_H_
#define EVENHAND_PROJECTIONS_INTERNAL_TWO_STAGES_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "base/thread_name.h"

namespace evenhand::projections::internal {

// Runs `produce` on a thread named `thread_name` (at a lower CPU priority):
// it calls hand_over(chunk) for each chunk, which waits for room and returns
// false once the consumer has stopped (the producer should then return);
// it also destroys the chunks consumed since its last call. Each chunk is
// passed to `consume` on the calling thread, in order; it returns false to
// stop. Returns what `produce` returned.
template <typename Chunk>
absl::Status TwoStages(
    const char* thread_name, size_t queued,
    const std::function<absl::Status(const std::function<bool(Chunk&&)>&)>& produce,
    const std::function<bool(Chunk&)>& consume) {
  absl::Mutex mu;
  std::deque<Chunk> queue;        // guarded by mu
  std::deque<Chunk> spent;        // guarded by mu: consumed, to destroy
  bool produced = false;          // guarded by mu
  bool consumer_stopped = false;  // guarded by mu
  absl::Status status;            // written by the producer before `produced`
  std::thread producer([&] {
    SetThreadName(thread_name);
    LowerThreadPriority(5);
    auto hand_over = [&](Chunk&& chunk) {
      std::deque<Chunk> done;  // destroyed here, after the lock is released
      absl::MutexLock lock(&mu);
      auto room = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
        return queue.size() < queued || consumer_stopped;
      };
      mu.Await(absl::Condition(&room));
      done.swap(spent);
      if (consumer_stopped) return false;
      queue.push_back(std::move(chunk));
      return true;
    };
    absl::Status s = produce(hand_over);
    absl::MutexLock lock(&mu);
    status = std::move(s);
    produced = true;
  });
  for (;;) {
    Chunk chunk;
    {
      absl::MutexLock lock(&mu);
      auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return !queue.empty() || produced; };
      mu.Await(absl::Condition(&ready));
      if (queue.empty()) break;
      chunk = std::move(queue.front());
      queue.pop_front();
    }
    const bool go_on = consume(chunk);
    {
      absl::MutexLock lock(&mu);
      spent.push_back(std::move(chunk));
    }
    if (!go_on) break;
  }
  {
    absl::MutexLock lock(&mu);
    consumer_stopped = true;
  }
  producer.join();
  return status;
}

}  // namespace evenhand::projections::internal

#endif  // EVENHAND_PROJECTIONS_INTERNAL_TWO_STAGES_H_
