#include "integrity/bundle.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "base/time_util.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/reflection.h"
#include "google/protobuf/stubs/logging.h"
#include "integrity/bundle_writer.h"
#include "integrity/canonical.h"
#include "integrity/merkle.h"
#include "integrity/signing.h"
#include "integrity/stream_map.h"

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
  return absl::StrCat("evenhand bundle manifest v2\n", body);
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
                            kBundleFormatVersion,
                            b.format_version() == 1
                                ? " (version 1 carried chain hashes that no signature covered: "
                                  "export the bundle again)"
                                : ""));
  }
  // One file, one encoding: bytes added, repeated or reordered anywhere
  // (which protobuf's parser would accept) are refused.
  if (DeterministicBytes(b) != bytes) {
    return Bad("bundle: its bytes are not the one encoding of what it holds (bytes were added, "
               "repeated or reordered)");
  }

  // The key: internally consistent, and the trusted one if given.
  const v1::PublicKey& key = b.public_key();
  if (key.algorithm() != "Ed25519" || key.raw().size() != 32) {
    return Bad("public key: not a 32-byte Ed25519 key");
  }
  if (key.key_id() != KeyId(key.raw())) return Bad("public key: its key id does not match it");
  if (key.pem() != PublicKeyPem(key.raw())) {
    return Bad("public key: its PEM form is not exactly the PEM of the same key");
  }
  if (trusted_key != nullptr && trusted_key->raw() != key.raw()) {
    return Bad(absl::StrCat("public key: the bundle is signed with key ", key.key_id(),
                            ", not the key you trust (", trusted_key->key_id(), ")"));
  }

  // The checkpoint and the manifest.
  EH_RETURN_IF_ERROR(VerifyCheckpoint(b.checkpoint(), key));
  const v1::Checkpoint& cp = b.checkpoint().checkpoint();
  if (cp.root_hash().size() != kHashSize || cp.chain_head().size() != kHashSize ||
      cp.stream_map_root().size() != kHashSize) {
    return Bad("checkpoint: it is not a version 2 checkpoint (a root, chain head and stream-map "
               "root, each a 32-byte hash)");
  }
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
  std::map<std::string, std::set<uint64_t>> revisions;  // held, per stream
  std::map<std::pair<std::string, uint64_t>, uint64_t> position_of;
  uint64_t previous = 0;
  for (int i = 0; i < manifest.positions_size(); ++i) {
    const uint64_t want = manifest.positions(i);
    if (want <= previous) {
      return Bad(absl::StrCat("manifest: position ", want, " does not follow ", previous,
                              " (positions must ascend)"));
    }
    previous = want;
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
    const std::string& stream = record->event().stream_id();
    revisions[stream].insert(record->stream_revision());
    position_of[{stream, record->stream_revision()}] = want;
    report.events.push_back(*std::move(record));
  }
  if (b.events_size() > manifest.positions_size()) {
    return Bad(absl::StrCat("bundle: ", b.events_size() - manifest.positions_size(),
                            " event(s) not listed in the manifest"));
  }

  // The streams: each proven in the map, and as complete as claimed.
  std::string previous_stream;
  std::set<std::string> headed;
  for (int i = 0; i < b.stream_heads_size(); ++i) {
    const v1::StreamHead& head = b.stream_heads(i);
    const std::string& id = head.stream_id();
    if (i > 0 && id <= previous_stream) {
      return Bad(absl::StrCat("stream head ", id, ": out of order or repeated"));
    }
    previous_stream = id;
    auto held = revisions.find(id);
    if (held == revisions.end()) {
      return Bad(absl::StrCat("stream head ", id, ": the bundle holds no event of this stream"));
    }
    std::vector<std::string> siblings(head.siblings().begin(), head.siblings().end());
    if (absl::Status s = VerifyStreamHead(cp.stream_map_root(), id,
                                          {head.last_revision(), head.last_position()}, siblings);
        !s.ok()) {
      return Bad(absl::StrCat("stream ", id, ": its head (revision ", head.last_revision(),
                              " at position ", head.last_position(), ") ", s.message()));
    }
    if (head.last_position() == 0 || head.last_position() > cp.tree_size() ||
        *held->second.rbegin() > head.last_revision()) {
      return Bad(absl::StrCat("stream ", id, ": its proven head (revision ", head.last_revision(),
                              " at position ", head.last_position(),
                              ") contradicts the events the bundle holds"));
    }
    if (auto at = position_of.find({id, head.last_revision()});
        at != position_of.end() && at->second != head.last_position()) {
      return Bad(absl::StrCat("stream ", id, ": its last event is at position ", at->second,
                              ", not ", head.last_position(), " as its proven head says"));
    }
    headed.insert(id);
    report.streams.push_back({id, held->second.size(), head.last_revision() + 1});
  }
  for (const auto& [id, held] : revisions) {
    if (!headed.contains(id)) {
      return Bad(absl::StrCat("stream ", id, ": the bundle holds ", held.size(),
                              " of its events but no proof of its head, so nothing shows "
                              "whether any was left out"));
    }
  }
  for (int i = 0; i < manifest.complete_streams_size(); ++i) {
    const std::string& id = manifest.complete_streams(i);
    auto it = std::find_if(report.streams.begin(), report.streams.end(),
                           [&](const BundleReport::Stream& s) { return s.stream_id == id; });
    if (it == report.streams.end()) {
      return Bad(absl::StrCat("stream ", id, ": the manifest says the bundle holds all of it, but "
                              "it holds none of it"));
    }
    if (!it->complete()) {
      std::vector<std::string> missing;
      const std::set<uint64_t>& held = revisions[id];
      for (uint64_t r = 0; r < it->total && missing.size() < 5; ++r) {
        if (!held.contains(r)) missing.push_back(absl::StrCat(r));
      }
      return Bad(absl::StrCat("stream ", id, ": incomplete: it had ", it->total,
                              " events as of the checkpoint (tree size ", cp.tree_size(),
                              ") but the bundle holds ", it->held, "; missing revision(s) ",
                              absl::StrJoin(missing, ", "),
                              it->total - it->held > missing.size() ? ", ..." : "",
                              " (an event was withheld)"));
    }
  }

  // A bundle of the whole log: its chain and map, recomputed from its
  // events, must be the signed ones.
  if (manifest.positions_size() > 0 &&
      static_cast<uint64_t>(manifest.positions_size()) == cp.tree_size()) {
    std::string chain = GenesisChainHash();
    std::map<std::string, StreamHeadValue> heads;
    for (int i = 0; i < b.events_size(); ++i) {
      chain = ChainHash(chain, b.events(i).canonical());
      const v1::RecordedEvent& e = report.events[i];
      heads[StreamKey(e.event().stream_id())] = {e.stream_revision(), e.position()};
    }
    if (chain != cp.chain_head()) {
      return Bad("checkpoint: the hash chain recomputed from the bundle's events is not the "
                 "signed chain head");
    }
    std::vector<StreamMapEntry> entries;
    for (const auto& [k, v] : heads) entries.push_back({k, v});
    if (StreamMapRoot(std::move(entries)) != cp.stream_map_root()) {
      return Bad("checkpoint: the stream-head map recomputed from the bundle's events is not the "
                 "signed stream-map root");
    }
    report.whole_log = true;
  }

  report.tree_size = cp.tree_size();
  report.root_hash = cp.root_hash();
  report.chain_head = cp.chain_head();
  report.stream_map_root = cp.stream_map_root();
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
