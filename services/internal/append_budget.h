// AppendBudget: the bytes of append requests the server holds at once,
// across every call (Append and AppendStream), from when a request is taken
// until its group commit answers it. Internal to services/.
//
// Why: each request is held several times over while it is in the server
// (the events handed to the store, their serialised records and the write
// batch), until its group commit answers it, and nothing bounded the calls
// together: with a disk slower than the publishers, what waits grew with
// them. What it cannot bound: gRPC receives and parses each request whole
// before the service sees it, so a refused request has cost that already
// (an outside probe: sixteen 48 MB requests at once peaked near 1.8 GB
// whatever the budget; docs/PERFORMANCE.md). A request that would take
// the server past the budget is refused, RESOURCE_EXHAUSTED
// (APPENDS_IN_FLIGHT_FULL) with a retry delay and nothing written; the
// publisher library and `evenhand import` retry it. An AppendStream
// request waits instead (TakeOrWait): reading no more of its call, it is
// taken once bytes are let go, so that one stream's requests keep their
// order (an outside probe: refused ones re-sent after later ones went in
// read back 0, 2, 8, 12, ...). One request on its
// own is always taken, however large (maxRequestBytes bounds it), so a
// budget below a request's size slows such requests to one at a time but
// never refuses them for good.
//
// What it does not know: what the requests are, or who sent them (a
// principal's share is its rate limit's business). Thread-safe.
#ifndef EVENHAND_SERVICES_INTERNAL_APPEND_BUDGET_H_
#define EVENHAND_SERVICES_INTERNAL_APPEND_BUDGET_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace evenhand::services::internal {

class AppendBudget {
 public:
  // `max_bytes`: 0 for no bound.
  explicit AppendBudget(uint64_t max_bytes) : max_bytes_(max_bytes) {}
  AppendBudget(const AppendBudget&) = delete;
  AppendBudget& operator=(const AppendBudget&) = delete;

  // Bytes taken until it is destroyed (or moved from). Movable, so it can
  // travel with the request to the store's answer.
  class Hold {
   public:
    Hold() = default;
    Hold(Hold&& other) noexcept : budget_(other.budget_), bytes_(other.bytes_) {
      other.budget_ = nullptr;
    }
    Hold& operator=(Hold&& other) noexcept;
    Hold(const Hold&) = delete;
    Hold& operator=(const Hold&) = delete;
    ~Hold();

   private:
    friend class AppendBudget;
    Hold(AppendBudget* budget, uint64_t bytes) : budget_(budget), bytes_(bytes) {}
    AppendBudget* budget_ = nullptr;
    uint64_t bytes_ = 0;
  };

  // A hold of `bytes`, or ResourceExhausted if the bytes already held and
  // these would be more than the budget (never when nothing is held).
  absl::StatusOr<Hold> Take(uint64_t bytes);

  // As Take, but a request that cannot be taken now is not refused:
  // `when_room` is kept and called once, when bytes are next let go (on
  // the thread letting them go: it must not block), to try again; nullopt
  // then. Bytes are held when it is kept, so it is called.
  std::optional<Hold> TakeOrWait(uint64_t bytes, std::function<void()> when_room);

  uint64_t held() const;
  uint64_t max_bytes() const { return max_bytes_; }

 private:
  void Release(uint64_t bytes);

  // Whether `bytes` fit beside those held.
  bool Fits(uint64_t bytes) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return max_bytes_ == 0 || held_ == 0 || held_ + bytes <= max_bytes_;
  }

  const uint64_t max_bytes_;
  mutable absl::Mutex mu_;
  uint64_t held_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::function<void()>> waiting_ ABSL_GUARDED_BY(mu_);
};

}  // namespace evenhand::services::internal

#endif  // EVENHAND_SERVICES_INTERNAL_APPEND_BUDGET_H_
