#include "integrity/bundle_writer.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "base/time_util.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "integrity/bundle.h"

namespace evenhand::integrity {

std::string DeterministicBytes(const google::protobuf::Message& message) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&coded);
  }
  return out;
}

absl::StatusOr<std::string> WriteBundle(BundleParts parts, const Signer& sign) {
  const uint64_t tree_size = parts.checkpoint.checkpoint().tree_size();
  v1::InvestigationBundle bundle;
  bundle.set_format_version(kBundleFormatVersion);
  v1::BundleManifest* manifest = bundle.mutable_manifest();
  manifest->set_log_id(parts.checkpoint.checkpoint().log_id());
  manifest->set_description(parts.description);
  manifest->set_selection(parts.selection);
  *manifest->mutable_created_at() = ToProtoTime(parts.created_at);
  manifest->set_tree_size(tree_size);
  manifest->set_server_version(parts.server_version);

  std::map<std::string, uint64_t> held;  // events per stream
  uint64_t last = 0;
  for (BundleEventPart& e : parts.events) {
    if (e.position <= last || e.position > tree_size) {
      return absl::InternalError(absl::StrCat("bundle: event position ", e.position,
                                              " out of order or beyond the tree of ", tree_size));
    }
    last = e.position;
    manifest->add_positions(e.position);
    ++held[e.stream_id];
    v1::BundleEvent* out = bundle.add_events();
    out->set_canonical(std::move(e.canonical));
    for (std::string& h : e.inclusion_proof) out->add_inclusion_proof(std::move(h));
  }
  std::sort(parts.stream_heads.begin(), parts.stream_heads.end(),
            [](const v1::StreamHead& a, const v1::StreamHead& b) {
              return a.stream_id() < b.stream_id();
            });
  for (v1::StreamHead& head : parts.stream_heads) {
    auto it = held.find(head.stream_id());
    if (it == held.end()) {
      return absl::InternalError(absl::StrCat("bundle: a head for ", head.stream_id(),
                                              ", which has no event in it"));
    }
    // Revisions run from 0, one per event: holding last_revision + 1 of
    // them is holding all.
    if (it->second == head.last_revision() + 1) manifest->add_complete_streams(head.stream_id());
    *bundle.add_stream_heads() = std::move(head);
  }
  if (static_cast<size_t>(bundle.stream_heads_size()) != held.size()) {
    return absl::InternalError("bundle: a stream with events in it has no head");
  }
  EH_ASSIGN_OR_RETURN(std::string manifest_bytes, ManifestBytes(*manifest));
  EH_ASSIGN_OR_RETURN(std::string signature, sign(manifest_bytes));
  bundle.set_manifest_signature(std::move(signature));
  *bundle.mutable_checkpoint() = std::move(parts.checkpoint);
  *bundle.mutable_public_key() = std::move(parts.public_key);
  return DeterministicBytes(bundle);
}

}  // namespace evenhand::integrity
