#include "services/auth/standing_grants.h"

#include <algorithm>
#include <functional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/error_details.h"
#include "base/metrics.h"
#include "base/quoted.h"
#include "base/status_macros.h"
#include "base/thread_name.h"

namespace evenhand::services::auth {
namespace {

metrics::Counter& Withdrawn(absl::StatusCode code) {
  return metrics::Registry::Default().GetCounter(
      "evenhand_streams_withdrawn_total",
      "Streams (subscriptions, reads, replays, exports, obligation watches) ended because a "
      "reloaded security configuration no longer granted them as they were granted, or because "
      "the credential they were opened with expired (UNAUTHENTICATED), by gRPC status.",
      {{"code", absl::StatusCodeToString(code)}});
}

// Refuses a call over its principal's limit of `counted` calls (`open` of
// them open already), or says OK.
absl::Status CheckLimit(StandingGrants::Counted counted, const Grant& grant, size_t open) {
  switch (counted) {
    case StandingGrants::Counted::kNot:
      return absl::OkStatus();
    case StandingGrants::Counted::kRead:
      if (open < grant.max_concurrent_reads) return absl::OkStatus();
      return WithErrorInfo(
          absl::ResourceExhaustedError(absl::StrCat(
              "principal ", Quoted(grant.identity.principal), " has ", open,
              " reads open (ReadStream, ReadAll, Replay, Export), and may have ",
              grant.max_concurrent_reads,
              " at once (security.limits.maxConcurrentReads); let one finish, or cancel one no "
              "longer read")),
          "TOO_MANY_READS", {{"max_concurrent_reads", absl::StrCat(grant.max_concurrent_reads)}});
    case StandingGrants::Counted::kWatch:
      if (open < grant.max_obligation_watches) return absl::OkStatus();
      return WithErrorInfo(
          absl::ResourceExhaustedError(absl::StrCat(
              "principal ", Quoted(grant.identity.principal), " has ", open,
              " obligation watches open, and may have ", grant.max_obligation_watches,
              " at once (security.limits.maxObligationWatches); follow several groups and "
              "officers with one watch, or cancel one no longer read")),
          "TOO_MANY_WATCHES",
          {{"max_obligation_watches", absl::StrCat(grant.max_obligation_watches)}});
  }
  return absl::OkStatus();
}

}  // namespace

StandingGrants::StandingGrants(std::function<absl::Time()> clock) : clock_(std::move(clock)) {
  // Shown as 0 before the first, so that a rate can be taken.
  Withdrawn(absl::StatusCode::kPermissionDenied);
  Withdrawn(absl::StatusCode::kAborted);
  Withdrawn(absl::StatusCode::kUnauthenticated);
  expirer_ = std::thread([this] { ExpireLoop(); });
}

StandingGrants::~StandingGrants() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = wake_ = true;
  }
  expirer_.join();
}

struct StandingGrants::Entry {
  Caller caller;
  absl::Time admitted_at;
  std::string method;
  std::unique_ptr<google::protobuf::Message> request;
  Grant grant;
  Counted counted = Counted::kNot;

  std::atomic<bool> withdrawn{false};
  absl::Mutex mu;
  absl::Status status ABSL_GUARDED_BY(mu);
  std::function<void(const absl::Status&)> on_withdrawn ABSL_GUARDED_BY(mu);
};

StandingGrants::Hold::Hold(StandingGrants* owner, std::shared_ptr<Entry> entry)
    : owner_(owner), entry_(std::move(entry)) {}

StandingGrants::Hold::~Hold() { owner_->Forget(entry_); }

bool StandingGrants::Hold::withdrawn() const {
  return entry_->withdrawn.load(std::memory_order_acquire);
}

absl::Status StandingGrants::Hold::status() const {
  if (!withdrawn()) return absl::OkStatus();
  absl::MutexLock lock(&entry_->mu);
  return entry_->status;
}

void StandingGrants::Hold::OnWithdrawn(std::function<void(const absl::Status&)> on_withdrawn) {
  absl::Status already;
  {
    absl::MutexLock lock(&entry_->mu);
    if (entry_->status.ok()) {
      entry_->on_withdrawn = std::move(on_withdrawn);
      return;
    }
    already = entry_->status;
  }
  if (on_withdrawn) on_withdrawn(already);
}

absl::StatusOr<std::unique_ptr<StandingGrants::Hold>> StandingGrants::Keep(
    Authorizer& authorizer, Caller caller, std::string method,
    const google::protobuf::Message& request, Grant grant, Counted counted) {
  auto entry = std::make_shared<Entry>();
  entry->counted = counted;
  entry->caller = std::move(caller);
  entry->admitted_at = grant.decided_at;
  entry->method = std::move(method);
  entry->request.reset(request.New());
  entry->request->CopyFrom(request);
  entry->grant = std::move(grant);
  {
    absl::MutexLock lock(&mu_);
    if (counted != Counted::kNot) {
      const std::pair<Counted, std::string> key(counted, entry->grant.identity.principal);
      auto it = open_.find(key);
      EH_RETURN_IF_ERROR(CheckLimit(counted, entry->grant, it == open_.end() ? 0 : it->second));
      ++open_[key];
    }
    entries_.insert(entry);
    if (entry->grant.identity.expires_at < next_expiry_) {
      next_expiry_ = entry->grant.identity.expires_at;
      wake_ = true;
    }
  }
  // Held first, then the generation read: a reload after this read
  // reconsiders the entry; one before it (since the call was admitted) is
  // caught here.
  if (authorizer.generation() != entry->grant.policy_generation) Reconsider(authorizer, entry);
  return std::make_unique<Hold>(this, std::move(entry));
}

void StandingGrants::Forget(const std::shared_ptr<Entry>& entry) {
  absl::MutexLock lock(&mu_);
  entries_.erase(entry);
  if (entry->counted != Counted::kNot) {
    auto it = open_.find(std::make_pair(entry->counted, entry->grant.identity.principal));
    if (it != open_.end() && --it->second == 0) open_.erase(it);
  }
}

size_t StandingGrants::held() const {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

size_t StandingGrants::Reconsider(Authorizer& authorizer) {
  std::vector<std::shared_ptr<Entry>> entries;
  {
    absl::MutexLock lock(&mu_);
    entries.assign(entries_.begin(), entries_.end());
  }
  // Decided outside the lock: a decision may read the log (whose case a
  // stream is), and calls come and go meanwhile.
  size_t withdrawn = 0;
  for (const std::shared_ptr<Entry>& e : entries) {
    if (Reconsider(authorizer, e)) ++withdrawn;
  }
  return withdrawn;
}

bool StandingGrants::Reconsider(Authorizer& authorizer, const std::shared_ptr<Entry>& e) {
  if (e->withdrawn.load(std::memory_order_acquire)) return false;
  absl::Status s =
      authorizer.Reconfirm(e->caller, e->admitted_at, e->method, *e->request, e->grant);
  if (s.ok()) return false;
  return Withdraw(e, std::move(s));
}

bool StandingGrants::Withdraw(const std::shared_ptr<Entry>& e, absl::Status s) {
  std::function<void(const absl::Status&)> tell;
  {
    absl::MutexLock lock(&e->mu);
    if (!e->status.ok()) return false;  // another pass's
    e->status = s;
    tell = std::move(e->on_withdrawn);
    e->withdrawn.store(true, std::memory_order_release);
  }
  Withdrawn(s.code()).Add();
  if (tell) tell(s);
  return true;
}

void StandingGrants::ExpireLoop() {
  SetThreadName("eh-grants");
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    const absl::Time now = clock_();
    std::vector<std::shared_ptr<Entry>> expired;
    absl::Time next = absl::InfiniteFuture();
    for (const std::shared_ptr<Entry>& e : entries_) {
      if (e->withdrawn.load(std::memory_order_acquire)) continue;
      const absl::Time at = e->grant.identity.expires_at;
      // Taken up to its moment itself (a certificate's notAfter is within
      // it): over once that has passed.
      if (at < now) {
        expired.push_back(e);
      } else {
        next = std::min(next, at);
      }
    }
    next_expiry_ = next;
    wake_ = false;
    if (!expired.empty()) {
      mu_.Unlock();
      for (const std::shared_ptr<Entry>& e : expired) {
        const Identity& who = e->grant.identity;
        const bool certificate = who.expires_at == e->caller.certificate_not_after;
        Withdraw(e, WithErrorInfo(absl::UnauthenticatedError(absl::StrCat(
                                      "the ", certificate ? "client certificate" : "bearer token",
                                      " this ", e->method, " call of principal ",
                                      Quoted(who.principal), " was opened with expired at ",
                                      absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", who.expires_at,
                                                       absl::UTCTimeZone()),
                                      "; what was sent before stands: call again with a renewed ",
                                      certificate ? "certificate" : "token")),
                                  "CREDENTIAL_EXPIRED", {{"principal", who.principal}}));
      }
      expired.clear();
      mu_.Lock();
      continue;
    }
    // Until just past the next expiry, or sooner if a call expiring sooner
    // comes. (The clock is absl::Now()'s in the server; a test's clock
    // moves on its own, and a wake-up a second at most looks again.)
    // The wait is counted from the clock's now, in real time.
    mu_.AwaitWithDeadline(absl::Condition(&wake_),
                          absl::Now() + std::clamp(next - now + absl::Milliseconds(1),
                                                   absl::ZeroDuration(), absl::Seconds(1)));
  }
}

}  // namespace evenhand::services::auth
