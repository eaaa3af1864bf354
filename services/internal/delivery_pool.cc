#include "services/internal/delivery_pool.h"

#include <algorithm>
#include <utility>

#include "absl/time/clock.h"

#include "base/thread_name.h"

namespace evenhand::services::internal {

DeliveryPool::DeliveryPool(int threads, uint64_t bytes_per_second, const char* thread_name,
                           int nice)
    : bytes_per_second_(bytes_per_second), refilled_(absl::Now()) {
  tokens_ = static_cast<double>(bytes_per_second_) / 10;  // a 100 ms burst
  for (int i = 0; i < threads; ++i) {
    threads_.emplace_back([this, thread_name, nice] {
      SetThreadName(thread_name);
      if (nice > 0) LowerThreadPriority(nice);
      Run();
    });
  }
}

DeliveryPool::~DeliveryPool() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  for (auto& t : threads_) t.join();
}

void DeliveryPool::Submit(absl::AnyInvocable<size_t() &&> work) {
  absl::MutexLock lock(&mu_);
  queue_.push_back(std::move(work));
}

void DeliveryPool::Run() {
  for (;;) {
    absl::AnyInvocable<size_t() &&> work;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !queue_.empty() || stop_; };
      mu_.Await(absl::Condition(&ready));
      if (queue_.empty()) return;
      work = std::move(queue_.front());
      queue_.pop_front();
      ++running_;
    }
    const size_t bytes = std::move(work)();
    {
      absl::MutexLock lock(&mu_);
      --running_;
    }
    Charge(bytes);
  }
}

size_t DeliveryPool::WaitUntilIdle(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  auto idle = [this]()
                  ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return queue_.empty() && running_ == 0; };
  mu_.AwaitWithDeadline(absl::Condition(&idle), deadline);
  return queue_.size() + running_;
}

void DeliveryPool::Charge(size_t bytes) {
  if (bytes_per_second_ == 0 || bytes == 0) return;
  absl::Duration owed;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = absl::Now();
    const double burst = static_cast<double>(bytes_per_second_) / 10;
    tokens_ = std::min(burst, tokens_ + absl::ToDoubleSeconds(now - refilled_) *
                                            static_cast<double>(bytes_per_second_));
    refilled_ = now;
    tokens_ -= static_cast<double>(bytes);
    if (tokens_ < 0) owed = absl::Seconds(-tokens_ / static_cast<double>(bytes_per_second_));
  }
  if (owed > absl::ZeroDuration()) absl::SleepFor(owed);
}

}  // namespace evenhand::services::internal
