// CallGate: what every method of the EventLog, Fairness, Audit and Operations services
// does first, and what a read does before it answers.
//
//   absl::StatusOr<auth::Grant> grant = gate->Admit(*context, kMethod, *request);
//   if (!grant.ok()) return ToGrpcStatus(grant.status());
//
// Admit authenticates and authorises (the Authorizer decides; the gate only
// asks), records a refusal on the log, and notes that the call was admitted.
// The server's interceptor (services/call_guard.h) turns any call that ends
// OK without having been admitted into PERMISSION_DENIED, so a method that
// forgot to ask fails closed.
//
// Hold keeps a stream's grant standing while it reads; Reconsider
// withdraws the grants a reloaded configuration no longer gives.
//
// A refusal of a caller who authenticated is on the record too, but a
// caller can be refused in a loop and the log keeps every record forever:
// a refusal alike one recorded in the last minute (the same principal,
// method, status and message) is not recorded, nor any once a principal has
// had 60 recorded in the minute (for a caller no principal names, a
// certificate of the council's CA that no principal lists or a person whose
// token maps to no role: one a minute). Those are logged (a few lines a
// minute) and counted, and the principal's next recorded refusal of the
// method says how many were not recorded (RefusalThrottle); if none comes
// within a minute, the last of them is recorded late with that count
// (RecordPassedOver).
//
// A read's request is on its record whole: one too long to be (over 16 KiB
// of text) is refused INVALID_ARGUMENT, REQUEST_TOO_LONG_TO_RECORD.
//
// Record puts an allowed read on the record: an AccessRecorded event in
// stream "access-<principal>", appended and made durable before the read
// answers. If that fails the read must be refused: Record's error says so.
//
// Thread-safe.
#ifndef EVENHAND_SERVICES_AUTH_CALL_GATE_H_
#define EVENHAND_SERVICES_AUTH_CALL_GATE_H_

#include <functional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "evenhand/v1/events.pb.h"
#include "google/protobuf/message.h"
#include "grpcpp/grpcpp.h"
#include "services/auth/authorizer.h"
#include "services/auth/refusal_throttle.h"
#include "services/auth/standing_grants.h"
#include "storage/event_store.h"

namespace evenhand::services::auth {

class CallGate {
 public:
  // `*authorizer` and `*store` must outlive the gate.
  CallGate(Authorizer* authorizer, storage::EventStore* store,
           std::function<absl::Time()> clock = [] { return absl::Now(); });

  absl::StatusOr<Grant> Admit(const grpc::ServerContextBase& context, absl::string_view method,
                              const google::protobuf::Message& request);

  // An allowed read, on the record before it answers. `request` describes
  // what was asked (the request's text form is used if empty).
  absl::Status Record(const Grant& grant, absl::string_view method,
                      const google::protobuf::Message& request, uint64_t events_returned,
                      absl::string_view outcome);

  // The end of a read already answered ("completed", "cancelled"): on the
  // record with what it returned. There is no read left to refuse, so an
  // append that fails (the log stopped after a storage failure, or closed)
  // is logged, not dropped in silence.
  void RecordEnd(const Grant& grant, absl::string_view method,
                 const google::protobuf::Message& request, uint64_t events_returned,
                 absl::string_view outcome);

  // A call that goes on reading after it was admitted (a stream) holds its
  // grant for as long as it reads, so that a new security configuration
  // reaches it (services/auth/standing_grants.h): it checks the Hold's
  // status before each message it sends, and ends with that status once
  // the grant is withdrawn.
  // A read that streams (ReadStream, ReadAll, Replay, Export) counts
  // against its principal's security.limits.maxConcurrentReads, an
  // obligation watch against maxObligationWatches: over it, the hold is
  // refused (RESOURCE_EXHAUSTED, TOO_MANY_READS or TOO_MANY_WATCHES)
  // before the call is on the record as opened or allowed; the refusal is
  // recorded as denied.
  absl::StatusOr<std::unique_ptr<StandingGrants::Hold>> Hold(
      const grpc::ServerContextBase& context, absl::string_view method,
      const google::protobuf::Message& request, const Grant& grant);

  // A call a service refuses by a policy of its own after admission (a
  // backup folder outside backup.dir, say): counted in
  // evenhand_access_denials_total and on the record as denied, as the
  // Authorizer's refusals are.
  void Refused(const Grant& grant, absl::string_view method,
               const google::protobuf::Message& request, const absl::Status& why);

  // A call refused on its headers, its request never read (HeaderGate:
  // the caller authenticated, but none of its roles may call `method`):
  // counted, logged, and on the record as any other refusal (throttled
  // alike), its request shown as not read. The record is appended without
  // waiting for it to be durable: this runs on gRPC's thread, which must
  // not block. Never refuses; for a caller no principal names too.
  void RefusedUnread(const Identity& identity, absl::string_view method, const absl::Status& why);

  // Puts on the record the refusals passed over that no recorded refusal
  // has counted and none of which came in the last minute (a flood that
  // stopped): per principal and method, the last of them, recorded late
  // (dated when it was refused), saying how many came before it. Called
  // every second or so by the server, and with `all` as it stops (every
  // refusal passed over, quiet or not). Returns how many records it wrote.
  size_t RecordPassedOver(bool all = false);

  // Which of its principal's limits `method` counts against: every method
  // that streams counts against one, but for Subscribe, which has limits
  // of its own (maxSubscriptions).
  static StandingGrants::Counted CountedAs(absl::string_view method);

  // After the Authorizer took a new policy: every held call decided again,
  // those no longer granted as they were withdrawn. Returns how many.
  size_t Reconsider() { return standing_.Reconsider(*authorizer_); }

  // The interceptor's side: whether this call was admitted (and forget it).
  bool TakeAdmitted(const grpc::ServerContextBase* context);

  Authorizer& authorizer() { return *authorizer_; }

 private:
  absl::Status Append(const Identity& identity, absl::string_view method,
                      const google::protobuf::Message& request, uint64_t events_returned,
                      absl::string_view outcome, uint64_t refusals_not_recorded = 0);
  // The AccessRecorded event Append() appends, `request` described so.
  v1::Event RecordOf(const Identity& identity, absl::string_view method, std::string request,
                     uint64_t events_returned, absl::string_view outcome,
                     uint64_t refusals_not_recorded) const;
  // A refusal of `identity` (`roleless`: no principal names it): counted,
  // and on the record unless one alike was recorded in the last minute.
  // `request` null: refused on its headers, not read (RefusedUnread).
  void Refused(const Identity& identity, bool roleless, absl::string_view method,
               const google::protobuf::Message* request, const absl::Status& why);

  Authorizer* const authorizer_;
  storage::EventStore* const store_;
  const std::function<absl::Time()> clock_;
  absl::Mutex mu_;
  absl::flat_hash_set<const grpc::ServerContextBase*> admitted_ ABSL_GUARDED_BY(mu_);
  // Which refusals go on the record: of principals, and of callers
  // without a role; each keeps the last refusal it passed over of each
  // principal's method, for RecordPassedOver.
  struct LastRefusal {
    Identity identity;
    std::string why;
  };
  RefusalThrottle<LastRefusal> refusals_;
  RefusalThrottle<LastRefusal> roleless_refusals_;
  StandingGrants standing_;
};

}  // namespace evenhand::services::auth

#endif  // EVENHAND_SERVICES_AUTH_CALL_GATE_H_
