#include "services/internal/append_budget.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "base/error_details.h"
#include "storage/disk_space.h"

namespace evenhand::services::internal {
namespace {

std::string Mib(uint64_t bytes) { return absl::StrCat((bytes + (1 << 20) - 1) >> 20, " MiB"); }

}  // namespace

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

absl::StatusOr<AppendBudget::Hold> AppendBudget::Take(uint64_t bytes) {
  absl::MutexLock lock(&mu_);
  if (!Fits(bytes)) {
    return WithRetryDelay(
        WithErrorInfo(
            absl::ResourceExhaustedError(absl::StrCat(
                "the server is holding ", storage::FormatBytes(held_),
                " of appends not yet answered, and this request's ", storage::FormatBytes(bytes),
                " would take it past maxAppendMibInFlight (", Mib(max_bytes_),
                "); nothing of it was written: send it again shortly with the same event ids")),
            "APPENDS_IN_FLIGHT_FULL", {{"setting", "maxAppendMibInFlight"}}),
        absl::Milliseconds(200));
  }
  held_ += bytes;
  return Hold(this, bytes);
}

std::optional<AppendBudget::Hold> AppendBudget::TakeOrWait(uint64_t bytes,
                                                           std::function<void()> when_room) {
  absl::MutexLock lock(&mu_);
  if (!Fits(bytes)) {
    waiting_.push_back(std::move(when_room));
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
  std::vector<std::function<void()>> wake;
  {
    absl::MutexLock lock(&mu_);
    held_ -= bytes;
    wake.swap(waiting_);
  }
  for (std::function<void()>& f : wake) f();
}

}  // namespace evenhand::services::internal
