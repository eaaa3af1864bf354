// AuditClient: a small C++ client for the Audit service. Safe for concurrent
// use.
#ifndef EVENHAND_CLIENTS_AUDIT_CLIENT_H_
#define EVENHAND_CLIENTS_AUDIT_CLIENT_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "evenhand/v1/audit.grpc.pb.h"

namespace evenhand::clients {

class AuditClient {
 public:
  explicit AuditClient(std::shared_ptr<v1::Audit::StubInterface> stub);
  static std::unique_ptr<AuditClient> Connect(const std::string& address);

  // Calls `event` for each replayed event and `progress(scanned, last)` for
  // each message; either returning false stops the replay (OK).
  absl::Status Replay(const v1::ReplayRequest& request,
                      const std::function<bool(const v1::AuditedEvent&)>& event,
                      const std::function<void(uint64_t scanned, uint64_t last)>& progress);

  // The serialised InvestigationBundle.
  // The bundle's bytes; `progress` (if given) hears the positions scanned
  // of the range while the server selects events.
  absl::StatusOr<std::string> Export(
      const v1::ExportRequest& request,
      const std::function<void(uint64_t scanned, uint64_t last)>& progress = nullptr);

  absl::StatusOr<v1::SignedCheckpoint> GetCheckpoint(uint64_t tree_size = 0);
  absl::StatusOr<v1::PublicKey> GetPublicKey();
  absl::StatusOr<v1::ConsistencyProof> GetConsistencyProof(uint64_t from_size, uint64_t to_size);
  absl::StatusOr<v1::InclusionProof> GetInclusionProof(uint64_t position, uint64_t tree_size);
  absl::StatusOr<v1::TreeHead> GetTreeHead(uint64_t tree_size = 0);

 private:
  std::shared_ptr<v1::Audit::StubInterface> stub_;
};

}  // namespace evenhand::clients

#endif  // EVENHAND_CLIENTS_AUDIT_CLIENT_H_
