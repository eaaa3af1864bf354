#include "services/internal/append_budget.h"

#include <utility>
#include <vector>

namespace evenhand::services::internal {

AppendBudget::Hold& AppendBudget::Hold::operator=(Hold&& other) noexcept {
  if (this != &other) {
    if (budget_ != nullptr) budget_->Release(bytes_);
    budget_ = other.budget_;
    bytes_ = other.bytes_;
    other.budget_ = nullptr;
  }
  return *this;
}

AppendBudget::Hold::~Hold() {
  if (budget_ != nullptr) budget_->Release(bytes_);
}

std::optional<AppendBudget::Hold> AppendBudget::TakeOrWait(uint64_t bytes, Granted granted) {
  absl::MutexLock lock(&mu_);
  if (!waiting_.empty() || !Fits(bytes)) {
    waiting_.push_back(Waiting{bytes, std::move(granted)});
    return std::nullopt;
  }
  held_ += bytes;
  return Hold(this, bytes);
}

uint64_t AppendBudget::held() const {
  absl::MutexLock lock(&mu_);
  return held_;
}

void AppendBudget::Release(uint64_t bytes) {
  std::vector<std::pair<Granted, Hold>> granted;
  {
    absl::MutexLock lock(&mu_);
    held_ -= bytes;
    // In line, as far as they fit.
    while (!waiting_.empty() && Fits(waiting_.front().bytes)) {
      held_ += waiting_.front().bytes;
      granted.emplace_back(std::move(waiting_.front().granted), Hold(this, waiting_.front().bytes));
      waiting_.pop_front();
    }
  }
  for (auto& [f, hold] : granted) std::move(f)(std::move(hold));
}

}  // namespace evenhand::services::internal
