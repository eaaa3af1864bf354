// TokenBucketRateLimiter: see rate_limiter.h.
#include "storage/rate_limiter.h"

#include <algorithm>

namespace evenhand::storage {
namespace {

int Index(rocksdb::Env::IOPriority pri) {
  const int i = static_cast<int>(pri);
  return i < 0 || i >= 4 ? 0 : i;
}

}  // namespace

TokenBucketRateLimiter::TokenBucketRateLimiter(int64_t bytes_per_second, int64_t refill_micros)
    : rocksdb::RateLimiter(rocksdb::RateLimiter::Mode::kWritesOnly),
      refill_period_(std::chrono::microseconds(std::max<int64_t>(refill_micros, 100))),
      bytes_per_second_(std::max<int64_t>(bytes_per_second, 1)) {
  absl::MutexLock lock(&mu_);
  available_ = BurstLocked();
  next_refill_ = Clock::now() + refill_period_;
}

int64_t TokenBucketRateLimiter::BurstLocked() const {
  const double seconds = std::chrono::duration<double>(refill_period_).count();
  return std::max<int64_t>(
      1, static_cast<int64_t>(static_cast<double>(bytes_per_second_) * seconds));
}

void TokenBucketRateLimiter::SetBytesPerSecond(int64_t bytes_per_second) {
  absl::MutexLock lock(&mu_);
  bytes_per_second_ = std::max<int64_t>(bytes_per_second, 1);
  available_ = std::min(available_, BurstLocked());
}

int64_t TokenBucketRateLimiter::GetBytesPerSecond() const {
  absl::MutexLock lock(&mu_);
  return bytes_per_second_;
}

int64_t TokenBucketRateLimiter::GetSingleBurstBytes() const {
  absl::MutexLock lock(&mu_);
  return BurstLocked();
}

void TokenBucketRateLimiter::RefillLocked(Clock::time_point now) {
  if (now < next_refill_) return;
  const auto periods = 1 + (now - next_refill_) / refill_period_;
  available_ = BurstLocked();  // at least one refill's worth, at most one burst held
  next_refill_ += periods * refill_period_;
  ++refills_;
  refilled_.SignalAll();
}

void TokenBucketRateLimiter::Request(int64_t bytes, rocksdb::Env::IOPriority pri,
                                     rocksdb::Statistics* /*stats*/) {
  const int p = Index(pri);
  absl::MutexLock lock(&mu_);
  ++requests_[p];
  // Granted a burst at a time (RocksDB asks for no more than one).
  int64_t needed = std::max<int64_t>(bytes, 0);
  ++waiting_[p];
  while (needed > 0) {
    RefillLocked(Clock::now());
    // Flushes first: a lower priority waits while a higher one does, but
    // for one refill in ten.
    bool higher_waiting = false;
    for (int q = p + 1; q < kPriorities; ++q) higher_waiting = higher_waiting || waiting_[q] > 0;
    if (higher_waiting && refills_ % 10 == 0) higher_waiting = false;
    if (available_ > 0 && !higher_waiting) {
      const int64_t granted = std::min(needed, available_);
      available_ -= granted;
      needed -= granted;
      bytes_through_[p] += granted;
      continue;
    }
    // Woken by whoever refills first, or at the refill by its own deadline:
    // never waiting on another thread alone.
    const Clock::duration until = next_refill_ - Clock::now();
    refilled_.WaitWithTimeout(&mu_, absl::FromChrono(std::max(until, Clock::duration::zero())));
  }
  --waiting_[p];
  // A lower priority held back by this one may go on now.
  refilled_.SignalAll();
}

int64_t TokenBucketRateLimiter::GetTotalBytesThrough(rocksdb::Env::IOPriority pri) const {
  absl::MutexLock lock(&mu_);
  if (pri == rocksdb::Env::IO_TOTAL) {
    int64_t total = 0;
    for (int64_t b : bytes_through_) total += b;
    return total;
  }
  return bytes_through_[Index(pri)];
}

int64_t TokenBucketRateLimiter::GetTotalRequests(rocksdb::Env::IOPriority pri) const {
  absl::MutexLock lock(&mu_);
  if (pri == rocksdb::Env::IO_TOTAL) {
    int64_t total = 0;
    for (int64_t r : requests_) total += r;
    return total;
  }
  return requests_[Index(pri)];
}

rocksdb::Status TokenBucketRateLimiter::GetTotalPendingRequests(
    int64_t* pending, rocksdb::Env::IOPriority pri) const {
  absl::MutexLock lock(&mu_);
  if (pri == rocksdb::Env::IO_TOTAL) {
    *pending = 0;
    for (int64_t w : waiting_) *pending += w;
  } else {
    *pending = waiting_[Index(pri)];
  }
  return rocksdb::Status::OK();
}

}  // namespace evenhand::storage
