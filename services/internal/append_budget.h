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
// the server past the budget waits in line, first come first served, until
// the requests ahead of it were taken and its bytes fit (TakeOrWait): an
// AppendStream call reads no more meanwhile, so that one stream's requests
// keep their order, and an Append waits on its own. (Until 2026-12-06 such
// requests were refused APPENDS_IN_FLIGHT_FULL with a retry delay; an
// outside probe found a stream's refused requests re-sent after later ones,
// out of order, and then unary retries losing every time to streams
// waiting in line.) One request on its own is always taken, however large
// (maxRequestBytes bounds it), and nothing is taken past a request waiting,
// so a large one is never passed over for good.
//
// What it does not know: what the requests are, or who sent them (a
// principal's share is its rate limit's business). Thread-safe.
#ifndef EVENHAND_SERVICES_INTERNAL_APPEND_BUDGET_H_
#define EVENHAND_SERVICES_INTERNAL_APPEND_BUDGET_H_

#include <cstdint>
#include <deque>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
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

  // A hold of `bytes` now, if they fit beside those held (always when
  // nothing is held) and no request waits ahead. Otherwise it waits in
  // line: its
  // hold is handed to `granted` once every request ahead of it was given
  // its own and its bytes fit (on the thread letting bytes go: it must not
  // block); nullopt then. First come, first served, so a large request is
  // not passed over for ever by smaller ones (it fits once nothing is
  // held, and nothing is taken past it meanwhile). Bytes are held whenever
  // one waits, so `granted` is called.
  using Granted = absl::AnyInvocable<void(Hold) &&>;
  std::optional<Hold> TakeOrWait(uint64_t bytes, Granted granted);

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
  struct Waiting {
    uint64_t bytes;
    Granted granted;
  };
  std::deque<Waiting> waiting_ ABSL_GUARDED_BY(mu_);
};

}  // namespace evenhand::services::internal

#endif  // EVENHAND_SERVICES_INTERNAL_APPEND_BUDGET_H_
