#include "integrity/bundle.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "base/time_util.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/reflection.h"
#include "google/protobuf/stubs/logging.h"
#include "integrity/canonical.h"
#include "integrity/merkle.h"
#include "integrity/signing.h"

namespace evenhand::integrity {
namespace {

absl::Status Bad(absl::string_view what) { return absl::InvalidArgumentError(std::string(what)); }

// Whether `m` or any message inside it carries fields this build does not
// know: a sign of tampering (or of a newer format).
bool HasUnknownFields(const google::protobuf::Message& m) {
  const google::protobuf::Reflection* r = m.GetReflection();
  if (!r->GetUnknownFields(m).empty()) return true;
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  for (const auto* f : fields) {
    if (f->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (f->is_repeated()) {
      for (int i = 0; i < r->FieldSize(m, f); ++i) {
        if (HasUnknownFields(r->GetRepeatedMessage(m, f, i))) return true;
      }
    } else if (HasUnknownFields(r->GetMessage(m, f))) {
      return true;
    }
  }
  return false;
}

}  // namespace

absl::StatusOr<std::string> ManifestBytes(const v1::BundleManifest& manifest) {
  EH_ASSIGN_OR_RETURN(std::string body, CanonicalMessage(manifest));
  return absl::StrCat("evenhand bundle manifest v1\n", body);
}

absl::StatusOr<BundleReport> VerifyBundle(absl::string_view bytes,
                                          const v1::PublicKey* trusted_key) {
  v1::InvestigationBundle b;
  // A damaged file is reported below, once, in our words.
  google::protobuf::LogSilencer quiet;
  if (!b.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Bad("bundle: not an Even Hand investigation bundle (it cannot be parsed)");
  }
  if (HasUnknownFields(b)) {
    return Bad("bundle: it holds fields this verifier does not know (it was altered, or comes "
               "from a newer version)");
  }
  if (b.format_version() != kBundleFormatVersion) {
    return Bad(absl::StrCat("bundle: format version ", b.format_version(), ", this verifier reads ",
                            kBundleFormatVersion));
  }

  // The key: internally consistent, and the trusted one if given.
  const v1::PublicKey& key = b.public_key();
  if (key.algorithm() != "Ed25519" || key.raw().size() != 32) {
    return Bad("public key: not a 32-byte Ed25519 key");
  }
  if (key.key_id() != KeyId(key.raw())) return Bad("public key: its key id does not match it");
  absl::StatusOr<v1::PublicKey> from_pem = PublicKeyFromPem(key.pem());
  if (!from_pem.ok() || from_pem->raw() != key.raw()) {
    return Bad("public key: its PEM form is not the same key");
  }
  if (trusted_key != nullptr && trusted_key->raw() != key.raw()) {
    return Bad(absl::StrCat("public key: the bundle is signed with key ", key.key_id(),
                            ", not the key you trust (", trusted_key->key_id(), ")"));
  }

  // The checkpoint and the manifest.
  EH_RETURN_IF_ERROR(VerifyCheckpoint(b.checkpoint(), key));
  const v1::Checkpoint& cp = b.checkpoint().checkpoint();
  if (cp.root_hash().size() != kHashSize) return Bad("checkpoint: the root is not a hash");
  const v1::BundleManifest& manifest = b.manifest();
  EH_ASSIGN_OR_RETURN(std::string manifest_bytes, ManifestBytes(manifest));
  if (!VerifySignature(key.raw(), manifest_bytes, b.manifest_signature()).ok()) {
    return Bad("manifest: its signature does not verify (what the bundle says it contains was "
               "altered)");
  }
  if (manifest.tree_size() != cp.tree_size() || manifest.log_id() != cp.log_id()) {
    return Bad("manifest: it names a different tree or log than the checkpoint");
  }

  // The events: exactly those listed, in order, each proven.
  BundleReport report;
  for (int i = 0; i < manifest.positions_size(); ++i) {
    const uint64_t want = manifest.positions(i);
    if (i >= b.events_size()) {
      return Bad(absl::StrCat("event at position ", want,
                              ": listed in the manifest but missing from the bundle"));
    }
    const v1::BundleEvent& e = b.events(i);
    absl::StatusOr<v1::RecordedEvent> record = DecodeCanonicalRecord(e.canonical());
    if (!record.ok()) {
      return Bad(absl::StrCat("event #", i + 1, " (manifest position ", want,
                              "): its record is damaged: ", record.status().message()));
    }
    if (record->position() != want) {
      return Bad(absl::StrCat("event #", i + 1, ": found position ", record->position(),
                              " where the manifest lists position ", want,
                              " (events removed, added or reordered)"));
    }
    if (want == 0 || want > cp.tree_size()) {
      return Bad(absl::StrCat("event at position ", want, ": outside the checkpoint's tree of ",
                              cp.tree_size()));
    }
    std::vector<std::string> proof(e.inclusion_proof().begin(), e.inclusion_proof().end());
    if (absl::Status s =
            VerifyInclusion(want - 1, cp.tree_size(), LeafHash(e.canonical()), proof, cp.root_hash());
        !s.ok()) {
      return Bad(absl::StrCat("event at position ", want,
                              ": its inclusion proof does not lead to the checkpoint's root (the "
                              "event or its proof was altered): ",
                              s.message()));
    }
    if (e.previous_chain_hash().size() != kHashSize ||
        e.chain_hash() != ChainHash(e.previous_chain_hash(), e.canonical())) {
      return Bad(absl::StrCat("event at position ", want,
                              ": its chain hash does not follow from the previous one"));
    }
    report.events.push_back(*std::move(record));
  }
  if (b.events_size() > manifest.positions_size()) {
    return Bad(absl::StrCat("bundle: ", b.events_size() - manifest.positions_size(),
                            " event(s) not listed in the manifest"));
  }

  report.tree_size = cp.tree_size();
  report.root_hash = cp.root_hash();
  report.log_id = cp.log_id();
  report.key_id = key.key_id();
  report.key_pinned = trusted_key != nullptr;
  report.checkpoint_time = FromProtoTime(cp.timestamp());
  report.created_at = FromProtoTime(manifest.created_at());
  report.description = manifest.description();
  report.selection = manifest.selection();
  return report;
}

}  // namespace evenhand::integrity
