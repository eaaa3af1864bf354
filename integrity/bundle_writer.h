// Writing an investigation bundle (docs/INTEGRITY.md, "Bundles") from parts
// already proven: the events' canonical bytes with their inclusion proofs,
// the stream heads with their map proofs, the checkpoint they are proven
// against. It decides which streams the bundle holds entirely (the
// manifest's complete_streams), signs the manifest and encodes the file
// deterministically, so the same parts always make the same bytes.
//
// It knows nothing of where the parts come from (IntegrityLog gathers them
// from the store; the test vectors from memory). Pure; thread-safe.
#ifndef EVENHAND_INTEGRITY_BUNDLE_WRITER_H_
#define EVENHAND_INTEGRITY_BUNDLE_WRITER_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "evenhand/v1/audit.pb.h"

namespace evenhand::integrity {

struct BundleEventPart {
  uint64_t position = 0;
  std::string stream_id;
  uint64_t stream_revision = 0;
  std::string canonical;
  std::vector<std::string> inclusion_proof;
};

struct BundleParts {
  v1::SignedCheckpoint checkpoint;
  v1::PublicKey public_key;
  std::string description;
  std::string selection;
  absl::Time created_at;
  std::string server_version;
  // Position order, all within the checkpoint's tree.
  std::vector<BundleEventPart> events;
  // One per stream with an event in `events`, any order.
  std::vector<v1::StreamHead> stream_heads;
};

using Signer = std::function<absl::StatusOr<std::string>(absl::string_view message)>;

// The bundle's bytes.
absl::StatusOr<std::string> WriteBundle(BundleParts parts, const Signer& sign);

// The deterministic encoding of `message` (what WriteBundle writes and what
// a reader compares a file with).
std::string DeterministicBytes(const google::protobuf::Message& message);

}  // namespace evenhand::integrity

#endif  // EVENHAND_INTEGRITY_BUNDLE_WRITER_H_
