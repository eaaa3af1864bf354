// AuditService: replay and proofs for auditors (proto/evenhand/v1/audit.proto).
//
// Sync API: replays and exports are long reads whose writes block on flow
// control, as the EventLog's reads are. Thread-safe; `store` and `integrity`
// must outlive the service.
#ifndef EVENHAND_SERVICES_AUDIT_SERVICE_H_
#define EVENHAND_SERVICES_AUDIT_SERVICE_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "evenhand/v1/audit.grpc.pb.h"
#include "integrity/integrity_log.h"
#include "projections/fairness_projection.h"
#include "services/auth/call_gate.h"
#include "storage/event_store.h"

namespace evenhand::services {

struct AuditOptions {
  // Most events one Export may hold; more is RESOURCE_EXHAUSTED.
  size_t max_export_events = 200000;
  // Who may call what (services/auth); must outlive the service.
  auth::CallGate* gate = nullptr;
  // Groups, officers and councillors are registered in streams of their
  // own (group-<id>, ...), as domain validation makes sure: a filter naming
  // one that is not is refused. False for a log written without it.
  bool names_are_registered = true;
  // The councillors of a group over time, known once the log is folded
  // `through` a position (FairnessService::GroupMemberships; an error if it
  // is not by `deadline`): a group's written queries and complaints name
  // their councillor, not the group. Unset: "concerning a group" is naming
  // it, or in a case opened so.
  std::function<absl::StatusOr<std::vector<projections::MembershipSpell>>(
      const std::string& group_id, uint64_t through, absl::Time deadline)>
      group_memberships;
};

class AuditService final : public v1::Audit::Service {
 public:
  AuditService(const storage::EventStore* store, integrity::IntegrityLog* integrity,
               AuditOptions options = {});

  grpc::Status Replay(grpc::ServerContext* context, const v1::ReplayRequest* request,
                      grpc::ServerWriter<v1::ReplayResponse>* writer) override;
  grpc::Status GetInclusionProof(grpc::ServerContext* context,
                                 const v1::GetInclusionProofRequest* request,
                                 v1::InclusionProof* response) override;
  grpc::Status GetConsistencyProof(grpc::ServerContext* context,
                                   const v1::GetConsistencyProofRequest* request,
                                   v1::ConsistencyProof* response) override;
  grpc::Status GetTreeHead(grpc::ServerContext* context, const v1::GetTreeHeadRequest* request,
                           v1::TreeHead* response) override;
  grpc::Status GetCheckpoint(grpc::ServerContext* context,
                             const v1::GetCheckpointRequest* request,
                             v1::SignedCheckpoint* response) override;
  grpc::Status ListCheckpoints(grpc::ServerContext* context,
                               const v1::ListCheckpointsRequest* request,
                               v1::ListCheckpointsResponse* response) override;
  grpc::Status GetPublicKey(grpc::ServerContext* context, const v1::GetPublicKeyRequest* request,
                            v1::PublicKey* response) override;
  grpc::Status Export(grpc::ServerContext* context, const v1::ExportRequest* request,
                      grpc::ServerWriter<v1::ExportChunk>* writer) override;

  // Calls `visit` for each event matching `filter`, in position order, with
  // progress (the position scanned up to) now and then. Stops when `visit`
  // or `progress` returns false. The filter's names are checked first
  // (CheckNames).
  // `deadline`: the call's (how long a filter by group may wait for the
  // projection to know its councillors).
  absl::Status Select(const v1::ReplayFilter& filter, absl::Time deadline,
                      const std::function<bool(const storage::EventPtr&)>& visit,
                      const std::function<bool(uint64_t scanned)>& progress) const;

  // The filter in words, for bundles.
  static std::string Describe(const v1::ReplayFilter& filter);

 private:
  // A filter naming what the log does not have (an unknown event type,
  // case, group, officer or councillor) is INVALID_ARGUMENT or NOT_FOUND,
  // never an empty answer.
  absl::Status CheckNames(const v1::ReplayFilter& filter) const;
  const storage::EventStore* const store_;
  integrity::IntegrityLog* const integrity_;
  const AuditOptions options_;
};

}  // namespace evenhand::services

#endif  // EVENHAND_SERVICES_AUDIT_SERVICE_H_
