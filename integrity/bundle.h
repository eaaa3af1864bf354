// Investigation bundles: verifying one offline.
//
// A bundle (proto InvestigationBundle) holds the selected events in their
// canonical form, each with its inclusion proof and chain links; the signed
// checkpoint they are proven against; the log's public key; and a manifest
// of what was exported, signed with the same key. Verification needs nothing
// but the file (and, to pin the key, the council's published public key).
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

constexpr uint32_t kBundleFormatVersion = 1;

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
  // The events, decoded from their verified canonical bytes.
  std::vector<v1::RecordedEvent> events;
};

// The bytes the manifest signature covers.
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
