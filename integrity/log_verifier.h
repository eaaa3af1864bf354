// LogVerifier: checks a copy of the log (a restored backup, a data folder
// opened read-only) from its events up, trusting nothing stored beside
// them: every event is re-hashed, and every Merkle tree tile the events
// complete and every stored chain hash are compared with what the integrity
// column family holds (a copy in the older one-key-per-node layout, which
// the server converts on start, is checked against the signatures only);
// the tree's root at each given checkpoint's size must be the signed
// root, and each checkpoint's signature must verify with the given key.
//
// It knows the integrity column family's layout (tree_keys.h) and nothing
// of the server: it signs nothing, writes nothing, and needs no key but the
// public one. `evenhand restore` runs it before reporting success.
#ifndef EVENHAND_INTEGRITY_LOG_VERIFIER_H_
#define EVENHAND_INTEGRITY_LOG_VERIFIER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "evenhand/v1/audit.pb.h"
#include "storage/event_store.h"

namespace evenhand::integrity {

struct LogVerification {
  uint64_t events = 0;         // the log's last position
  uint64_t signed_size = 0;    // the largest checkpoint's tree size
  uint64_t nodes_checked = 0;  // stored tile entries compared (leaves too)
  std::string root;            // the root of the whole log's tree
  std::string chain_head;      // the chain hash after the last event
};

// Verifies `store` (opened with IntegrityLog::kColumnFamily) against
// `checkpoints` (tree sizes increasing; at least one), each signed by `key`
// for the store's log. On any disagreement returns DataLoss whose message
// begins "position P:" naming the first position found wrong, and says
// what differs. `progress(position)` is called now and then.
absl::StatusOr<LogVerification> VerifyLog(const storage::EventStore& store,
                                          const std::vector<v1::SignedCheckpoint>& checkpoints,
                                          const v1::PublicKey& key,
                                          const std::function<void(uint64_t)>& progress = nullptr);

}  // namespace evenhand::integrity

#endif  // EVENHAND_INTEGRITY_LOG_VERIFIER_H_
