// A rate limiter for RocksDB's background writes (rocksdb::RateLimiter): a
// token bucket refilled every `refill_micros` with bytes_per_second's share,
// shared by the databases of derived state beside the log
// (ShareTheDiskWithTheLog).
//
// Why not RocksDB's own: the GenericRateLimiter of RocksDB 7.8 (Debian's)
// can stop granting requests for good (facebook/rocksdb#11742, fixed in
// 8.6 by #11763): after one thread has waited for a refill, the others may
// all be waiting untimed with nobody to wake them. Seen here: a flush of
// the stream-head map's RocksDB waited in it for over a quarter of an hour,
// its writes stalled behind the flush, and evenhandd never finished
// shutting down. Here every waiter waits with a deadline (the next refill)
// and refills the bucket itself when it wakes, so none depends on another
// to be woken.
//
// Priorities: a request of Env::IO_HIGH (flushes) is granted before any of
// IO_LOW (compactions) waiting, but for one refill in ten, when a lower one
// goes first (as RocksDB's `fairness`), so compactions are never starved;
// within one priority, in no set order. Refills are timed on the
// monotonic clock: a wall clock stepped back delays nothing.
//
// Thread-safe.
#ifndef EVENHAND_STORAGE_RATE_LIMITER_H_
#define EVENHAND_STORAGE_RATE_LIMITER_H_

#include <chrono>
#include <cstdint>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "rocksdb/rate_limiter.h"

namespace evenhand::storage {

class TokenBucketRateLimiter : public rocksdb::RateLimiter {
 public:
  TokenBucketRateLimiter(int64_t bytes_per_second, int64_t refill_micros);

  using rocksdb::RateLimiter::Request;
  void SetBytesPerSecond(int64_t bytes_per_second) override;
  int64_t GetBytesPerSecond() const override;
  // What one refill adds: the most one request is granted at once (RocksDB
  // asks for no more).
  int64_t GetSingleBurstBytes() const override;
  void Request(int64_t bytes, rocksdb::Env::IOPriority pri, rocksdb::Statistics* stats) override;
  int64_t GetTotalBytesThrough(rocksdb::Env::IOPriority pri) const override;
  int64_t GetTotalRequests(rocksdb::Env::IOPriority pri) const override;
  rocksdb::Status GetTotalPendingRequests(int64_t* pending,
                                          rocksdb::Env::IOPriority pri) const override;

 private:
  using Clock = std::chrono::steady_clock;
  // Refills the bucket (to one burst: no more is held) if a refill is due
  // by `now`.
  void RefillLocked(Clock::time_point now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int64_t BurstLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Clock::duration refill_period_;
  mutable absl::Mutex mu_;
  absl::CondVar refilled_;
  int64_t bytes_per_second_ ABSL_GUARDED_BY(mu_);
  int64_t available_ ABSL_GUARDED_BY(mu_) = 0;
  Clock::time_point next_refill_ ABSL_GUARDED_BY(mu_);
  // Refills so far: every tenth lets a lower priority go first.
  uint64_t refills_ ABSL_GUARDED_BY(mu_) = 0;
  // By priority (IO_LOW, IO_MID, IO_HIGH, IO_USER): bytes granted, requests,
  // and requests waiting.
  static constexpr int kPriorities = 4;
  int64_t bytes_through_[kPriorities] ABSL_GUARDED_BY(mu_) = {};
  int64_t requests_[kPriorities] ABSL_GUARDED_BY(mu_) = {};
  int64_t waiting_[kPriorities] ABSL_GUARDED_BY(mu_) = {};
};

}  // namespace evenhand::storage

#endif  // EVENHAND_STORAGE_RATE_LIMITER_H_
