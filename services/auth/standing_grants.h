// StandingGrants: the calls that go on reading after they were admitted
// (Subscribe, ReadAll, ReadStream, Replay, Export, WatchObligations), held
// so that a new security configuration reaches them too.
//
// A call admitted by the CallGate takes a Hold for as long as it streams.
// When the server reads its configuration again (SIGHUP), Reconsider()
// asks the Authorizer, for every call held, whether the new policy grants
// it what it was granted (Authorizer::Reconfirm). A call it no longer
// grants, or grants differently, is withdrawn: its Hold's status says why
// from then on, and its `on_withdrawn` function is called once, so that a
// call idle at the end of the log ends at once rather than at its next
// event. The call then ends with that status: PERMISSION_DENIED when the
// call is no longer allowed, ABORTED when it would be granted differently
// (call again). What it sent before stands.
//
// A call also ends when the credential it was admitted with stops being
// taken (Identity::expires_at: its client certificate's notAfter, its bearer
// token's expiry with the leeway): withdrawn then with UNAUTHENTICATED
// (reason CREDENTIAL_EXPIRED), by a thread of this module that wakes at the
// next such moment. A new call with that credential is refused by the
// Authorizer from that moment too, so a stream is no way to read past it.
//
// This module decides no grant itself; it keeps what the Authorizer needs
// to decide again (the caller's connection facts, the method, the request,
// the time it was admitted) and tells the call. It does count, by principal,
// the calls held against one of its limits (open reads, obligation watches:
// Counted), from Keep until the Hold is destroyed, and refuses one over it.
//
// Thread-safe.
#ifndef EVENHAND_SERVICES_AUTH_STANDING_GRANTS_H_
#define EVENHAND_SERVICES_AUTH_STANDING_GRANTS_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "services/auth/authorizer.h"

namespace evenhand::services::auth {

class StandingGrants {
 public:
  struct Entry;

  // One call's standing, while the call streams. Forgotten when destroyed.
  class Hold {
   public:
    Hold(StandingGrants* owner, std::shared_ptr<Entry> entry);
    ~Hold();
    Hold(const Hold&) = delete;
    Hold& operator=(const Hold&) = delete;

    // OK while the grant stands; why the call must end once it was
    // withdrawn. Cheap: one atomic load while it stands.
    absl::Status status() const;
    bool withdrawn() const;

    // Called once, with the status, when the grant is withdrawn (at once
    // if it already was). It runs on the thread that reloads the
    // configuration, may run after the call is over, and must not wait.
    void OnWithdrawn(std::function<void(const absl::Status&)> on_withdrawn);

   private:
    StandingGrants* const owner_;
    const std::shared_ptr<Entry> entry_;
  };

  // What a held call counts against, of its principal's limits.
  enum class Counted {
    kNot,    // a limit of its own (Subscribe), or none
    kRead,   // grant.max_concurrent_reads (TOO_MANY_READS)
    kWatch,  // grant.max_obligation_watches (TOO_MANY_WATCHES)
  };

  // `clock` tells when a credential has expired (the Authorizer's).
  explicit StandingGrants(std::function<absl::Time()> clock = [] { return absl::Now(); });
  ~StandingGrants();
  StandingGrants(const StandingGrants&) = delete;
  StandingGrants& operator=(const StandingGrants&) = delete;

  // Holds a call `authorizer` admitted with `grant` (at its decided_at).
  // If `authorizer` has taken a newer policy since (a reload between the
  // call's admission and now, which Reconsider may have passed over), the
  // call is decided again at once. A call `counted` against one of its
  // principal's limits is refused RESOURCE_EXHAUSTED (TOO_MANY_READS or
  // TOO_MANY_WATCHES) when the principal holds that many such calls already.
  absl::StatusOr<std::unique_ptr<Hold>> Keep(Authorizer& authorizer, Caller caller,
                                             std::string method,
                                             const google::protobuf::Message& request, Grant grant,
                                             Counted counted);

  // Decides every call held again by `authorizer`'s policy now, and
  // withdraws those it does not grant as they were granted. Returns how
  // many were withdrawn.
  size_t Reconsider(Authorizer& authorizer);

  size_t held() const;

 private:
  void Forget(const std::shared_ptr<Entry>& entry);
  // Decides `entry` again; whether it was withdrawn now.
  static bool Reconsider(Authorizer& authorizer, const std::shared_ptr<Entry>& entry);
  // Withdraws `entry` with `why` (unless it was already); whether it was now.
  static bool Withdraw(const std::shared_ptr<Entry>& entry, absl::Status why);
  // The expirer's thread: withdraws each call held once its credential's
  // moment has come, and sleeps until the next.
  void ExpireLoop();

  mutable absl::Mutex mu_;
  absl::flat_hash_set<std::shared_ptr<Entry>> entries_ ABSL_GUARDED_BY(mu_);
  // Open calls that count, by kind and principal.
  absl::flat_hash_map<std::pair<Counted, std::string>, size_t> open_ ABSL_GUARDED_BY(mu_);
  // The expirer's: the earliest moment a call held expires (as last seen),
  // and whether it must look again (a call expiring sooner came, or the
  // module stops).
  absl::Time next_expiry_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  bool wake_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  const std::function<absl::Time()> clock_;
  std::thread expirer_;
};

}  // namespace evenhand::services::auth

#endif  // EVENHAND_SERVICES_AUTH_STANDING_GRANTS_H_
