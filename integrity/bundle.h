// Investigation bundles: verifying one offline.
//
// A bundle (proto InvestigationBundle) holds the selected events in their
// canonical form, each with its inclusion proof; the head of every stream
// they belong to, proven in the stream-head map; the signed checkpoint all
// of it is proven against; the log's public key; and a manifest of what was
// exported, signed with the same key. Verification needs nothing but the
// file (and, to pin the key, the council's published public key).
// docs/INTEGRITY.md specifies every byte checked here.
//
// Pure functions; thread-safe.
#ifndef EVENHAND_INTEGRITY_BUNDLE_H_
#define EVENHAND_INTEGRITY_BUNDLE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "evenhand/v1/audit.pb.h"

namespace evenhand::integrity {

constexpr uint32_t kBundleFormatVersion = 2;

// What a successful verification established.
struct BundleReport {
  uint64_t tree_size = 0;
  std::string root_hash;
  std::string log_id;
  std::string key_id;
  bool key_pinned = false;  // checked against a key the verifier trusts
  absl::Time checkpoint_time;
  absl::Time created_at;
  std::string description;
  std::string selection;
  std::string chain_head;
  std::string stream_map_root;
  // The events, decoded from their verified canonical bytes.
  std::vector<v1::RecordedEvent> events;
  // Each stream with an event in the bundle, in stream id order: how many
  // of its events the bundle holds of how many it had at the checkpoint.
  struct Stream {
    std::string stream_id;
    uint64_t held = 0;
    uint64_t total = 0;  // last revision + 1
    bool complete() const { return held == total; }
  };
  std::vector<Stream> streams;
  // The bundle holds the whole log up to the checkpoint, and its chain and
  // stream-head map were recomputed and match the signed ones.
  bool whole_log = false;
};

// The bytes the manifest signature covers: "evenhand bundle manifest v2\n"
// followed by the manifest's canonical encoding.
absl::StatusOr<std::string> ManifestBytes(const v1::BundleManifest& manifest);

// Checks every signature, proof and hash in `bundle` (serialised
// InvestigationBundle). With `trusted_key`, the bundle's key must be that
// key. The error names the first bad element, e.g. "event at position 1234:
// its inclusion proof does not lead to the checkpoint's root (the event or
// its proof was altered)".
absl::StatusOr<BundleReport> VerifyBundle(absl::string_view bundle,
                                          const v1::PublicKey* trusted_key);

}  // namespace evenhand::integrity

#endif  // EVENHAND_INTEGRITY_BUNDLE_H_
