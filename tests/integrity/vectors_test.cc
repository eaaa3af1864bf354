// docs/vectors: the test vectors of docs/INTEGRITY.md, made here from fixed
// inputs (five events, RFC 8032's first test key, fixed times) with the same
// functions the server uses, and compared byte for byte with the files
// shipped. A change to any hashed or signed byte string fails this test
// before it reaches an auditor; after a deliberate change of format,
//   EVENHAND_UPDATE_VECTORS=1 build/tests/vectors_test
// writes the files again (and docs/INTEGRITY.md must say what changed).
// tests/integrity/python_verifier_test.py checks the same files with a
// verifier written from the docs alone.
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/time_util.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "integrity/bundle.h"
#include "integrity/bundle_writer.h"
#include "integrity/canonical.h"
#include "integrity/merkle.h"
#include "integrity/signing.h"
#include "integrity/stream_map.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace evenhand::integrity {
namespace {

using ::evenhand::testing::TempDir;

// RFC 8032 §7.1, TEST 1: a key everyone knows. Never a council's key.
constexpr char kTestSecretKeyHex[] =
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";

std::string Hex(absl::string_view b) { return absl::BytesToHexString(b); }

absl::Time At(const char* rfc3339) {
  absl::Time t;
  std::string error;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, rfc3339, &t, &error)) << error;
  return t;
}

// Five events of two cases: a briefing requested, approved and delivered;
// a written query received and answered.
std::vector<v1::RecordedEvent> Events() {
  std::vector<v1::RecordedEvent> out;
  auto add = [&](const std::string& stream, uint64_t revision, const char* id, const char* type,
                 const char* occurred, const char* recorded) -> v1::Event* {
    v1::RecordedEvent r;
    r.set_position(out.size() + 1);
    r.set_stream_revision(revision);
    v1::Event* e = r.mutable_event();
    e->set_event_id(id);
    e->set_type(type);
    *e->mutable_occurred_at() = ToProtoTime(At(occurred));
    e->set_source_system("committee-mgmt");
    e->set_actor("democratic-services");
    e->set_stream_id(stream);
    *e->mutable_recorded_at() = ToProtoTime(At(recorded));
    out.push_back(r);
    return out.back().mutable_event();
  };
  auto* requested = add("briefing-B-7", 0, "5f0c3c1e-8d2a-4f43-9a55-0e6b1f6f0a01",
                        "BriefingRequested", "2026-03-02T09:15:00Z", "2026-03-02T09:15:01.250Z")
                        ->mutable_payload()
                        ->mutable_briefing_requested();
  requested->set_briefing_id("B-7");
  requested->set_group_id("green");
  requested->set_requested_by_member_id("m-green-1");
  requested->set_topic("Local plan: site allocations");
  requested->set_matter_id("local-plan-2026");
  requested->set_routed_to_officer_id("o-dir-place");
  auto* written = add("query-Q-3", 0, "5f0c3c1e-8d2a-4f43-9a55-0e6b1f6f0a02",
                      "WrittenQueryReceived", "2026-03-02T10:00:00Z", "2026-03-02T10:00:00.500Z")
                      ->mutable_payload()
                      ->mutable_written_query_received();
  written->set_query_id("Q-3");
  written->set_member_id("m-lab-4");
  written->set_addressed_to_officer_id("o-hos-housing");
  written->set_subject("Temporary accommodation figures");
  written->set_channel("email");
  auto* approved = add("briefing-B-7", 1, "5f0c3c1e-8d2a-4f43-9a55-0e6b1f6f0a03",
                       "BriefingApproved", "2026-03-03T08:30:00Z", "2026-03-03T08:30:02Z")
                       ->mutable_payload()
                       ->mutable_briefing_approved();
  approved->set_briefing_id("B-7");
  approved->set_approved_by_officer_id("o-dir-place");
  approved->add_assigned_officer_ids("o-planning-1");
  auto* answered = add("query-Q-3", 1, "5f0c3c1e-8d2a-4f43-9a55-0e6b1f6f0a04",
                       "WrittenQueryAnswered", "2026-03-05T16:45:00Z", "2026-03-05T16:45:00.750Z")
                       ->mutable_payload()
                       ->mutable_written_query_answered();
  answered->set_query_id("Q-3");
  answered->set_officer_id("o-hos-housing");
  auto* delivered = add("briefing-B-7", 2, "5f0c3c1e-8d2a-4f43-9a55-0e6b1f6f0a05",
                        "BriefingDelivered", "2026-03-09T14:00:00Z", "2026-03-09T15:10:00Z")
                        ->mutable_payload()
                        ->mutable_briefing_delivered();
  delivered->set_briefing_id("B-7");
  delivered->add_officer_ids("o-planning-1");
  delivered->set_duration_minutes(45);
  delivered->set_business(v1::COUNCIL_BUSINESS);
  return out;
}

std::string ProofJson(const std::vector<std::string>& hashes) {
  std::vector<std::string> quoted;
  for (const std::string& h : hashes) quoted.push_back(absl::StrCat("\"", Hex(h), "\""));
  return absl::StrCat("[", absl::StrJoin(quoted, ", "), "]");
}

class VectorsTest : public ::testing::Test {
 protected:
  // Writes (or, by default, compares with the shipped file) one vector.
  void Vector(const std::string& name, const std::string& bytes) {
    const std::string path = absl::StrCat(EVENHAND_VECTORS_DIR, "/", name);
    if (std::getenv("EVENHAND_UPDATE_VECTORS") != nullptr) {
      std::ofstream(path, std::ios::binary) << bytes;
      return;
    }
    std::ifstream in(path, std::ios::binary);
    ASSERT_TRUE(in) << path << " is missing (EVENHAND_UPDATE_VECTORS=1 writes it)";
    std::stringstream shipped;
    shipped << in.rdbuf();
    EXPECT_EQ(shipped.str(), bytes) << name << " is not what the code makes today";
  }
};

TEST_F(VectorsTest, TheShippedVectorsAreWhatTheCodeMakes) {
  // The key.
  const std::string secret = absl::HexStringToBytes(kTestSecretKeyHex);
  ASSERT_OK_AND_ASSIGN(SigningKey key, SigningKey::FromRawPrivateKey(secret));
  const v1::PublicKey& pub = key.public_key();
  EXPECT_EQ(Hex(pub.raw()), "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  Vector("public-key.pem", pub.pem());

  // Events: canonical bytes, leaf and chain hashes.
  const std::vector<v1::RecordedEvent> events = Events();
  std::vector<std::string> canonical;
  std::map<std::pair<int, uint64_t>, std::string> nodes;
  CompactRange range;
  std::string chain = GenesisChainHash();
  std::vector<std::string> roots, chains, lines;
  for (const v1::RecordedEvent& e : events) {
    ASSERT_OK_AND_ASSIGN(std::string c, CanonicalRecord(e));
    canonical.push_back(c);
    const std::string leaf = LeafHash(c);
    chain = ChainHash(chain, c);
    range.Append(leaf, [&](int level, uint64_t index, const std::string& h) {
      nodes[{level, index}] = h;
    });
    roots.push_back(range.Root());
    chains.push_back(chain);
    std::string json;
    google::protobuf::util::JsonPrintOptions o;
    o.preserve_proto_field_names = true;
    ASSERT_TRUE(google::protobuf::util::MessageToJsonString(e, &json, o).ok());
    lines.push_back(absl::StrCat("    {\"position\": ", e.position(), ",\n     \"event\": ", json,
                                 ",\n     \"canonical\": \"", Hex(c), "\",\n     \"leaf_hash\": \"",
                                 Hex(leaf), "\",\n     \"chain_hash\": \"", Hex(chain),
                                 "\",\n     \"root_after\": \"", Hex(range.Root()), "\"}"));
  }
  auto reader = [&](int level, uint64_t index) -> absl::StatusOr<std::string> {
    auto it = nodes.find({level, index});
    if (it == nodes.end()) return absl::NotFoundError("node");
    return it->second;
  };
  const uint64_t n = events.size();
  std::vector<std::string> inclusion;
  for (uint64_t p = 1; p <= n; ++p) {
    ASSERT_OK_AND_ASSIGN(std::vector<std::string> path, InclusionPath(p - 1, n, reader));
    ASSERT_OK(VerifyInclusion(p - 1, n, LeafHash(canonical[p - 1]), path, roots[n - 1]));
    inclusion.push_back(absl::StrCat("    {\"position\": ", p, ", \"leaf_index\": ", p - 1,
                                     ", \"tree_size\": ", n, ", \"path\": ", ProofJson(path), "}"));
  }
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> consistency, ConsistencyPath(3, n, reader));
  ASSERT_OK(VerifyConsistency(3, n, roots[2], roots[n - 1], consistency));

  // The stream-head map.
  std::map<std::string, StreamHeadValue> heads;
  for (const v1::RecordedEvent& e : events) {
    heads[e.event().stream_id()] = {e.stream_revision(), e.position()};
  }
  std::vector<StreamMapEntry> entries;
  for (const auto& [stream, v] : heads) entries.push_back({StreamKey(stream), v});
  const std::string map_root = StreamMapRoot(entries);
  std::vector<std::string> map_lines;
  std::vector<v1::StreamHead> stream_heads;
  for (const auto& [stream, v] : heads) {
    ASSERT_OK_AND_ASSIGN(std::vector<std::string> siblings,
                         StreamMapProof(entries, StreamKey(stream)));
    ASSERT_OK(VerifyStreamHead(map_root, stream, v, siblings));
    map_lines.push_back(absl::StrCat(
        "    {\"stream_id\": \"", stream, "\", \"key\": \"", Hex(StreamKey(stream)),
        "\", \"last_revision\": ", v.last_revision, ", \"last_position\": ", v.last_position,
        ", \"entry_hash\": \"", Hex(StreamEntryHash(StreamKey(stream), v)),
        "\", \"siblings\": ", ProofJson(siblings), "}"));
    v1::StreamHead head;
    head.set_stream_id(stream);
    head.set_last_revision(v.last_revision);
    head.set_last_position(v.last_position);
    for (const std::string& s : siblings) head.add_siblings(s);
    stream_heads.push_back(head);
  }

  // The checkpoint, as signed and as `evenhand checkpoint -o` saves it.
  v1::Checkpoint c;
  c.set_log_id("0b7e2f4c-1d3a-4e5b-8c6d-7e8f9a0b1c2d");
  c.set_tree_size(n);
  c.set_root_hash(roots[n - 1]);
  c.set_chain_head(chains[n - 1]);
  c.set_stream_map_root(map_root);
  *c.mutable_timestamp() = ToProtoTime(At("2026-03-09T15:10:05.000000123Z"));
  ASSERT_OK_AND_ASSIGN(v1::SignedCheckpoint signed_checkpoint, SignCheckpoint(key, c));
  ASSERT_OK(VerifyCheckpoint(signed_checkpoint, pub));
  Vector("checkpoint.body", signed_checkpoint.signed_body());
  Vector("checkpoint.sig", signed_checkpoint.signature());
  {
    google::protobuf::util::JsonPrintOptions o;
    o.add_whitespace = true;
    std::string json;
    ASSERT_TRUE(google::protobuf::util::MessageToJsonString(signed_checkpoint, &json, o).ok());
    Vector("checkpoint.json", json);
  }

  // A bundle of case briefing-B-7 (complete), and the bytes its manifest
  // signature covers.
  BundleParts parts;
  parts.checkpoint = signed_checkpoint;
  parts.public_key = pub;
  parts.description = "briefing B-7 for the standards committee";
  parts.selection = "case briefing-B-7";
  parts.created_at = At("2026-03-09T15:10:05.5Z");
  parts.server_version = "test vectors";
  for (const v1::RecordedEvent& e : events) {
    if (e.event().stream_id() != "briefing-B-7") continue;
    BundleEventPart part;
    part.position = e.position();
    part.stream_id = e.event().stream_id();
    part.stream_revision = e.stream_revision();
    part.canonical = canonical[e.position() - 1];
    part.inclusion_proof = *InclusionPath(e.position() - 1, n, reader);
    parts.events.push_back(part);
  }
  for (const v1::StreamHead& h : stream_heads) {
    if (h.stream_id() == "briefing-B-7") parts.stream_heads.push_back(h);
  }
  std::string manifest_bytes;
  ASSERT_OK_AND_ASSIGN(std::string bundle,
                       WriteBundle(parts, [&](absl::string_view m) {
                         manifest_bytes = std::string(m);
                         return key.Sign(m);
                       }));
  Vector("bundle-briefing-B-7.ehb", bundle);
  Vector("bundle-manifest.signed", manifest_bytes);
  ASSERT_OK_AND_ASSIGN(BundleReport report, VerifyBundle(bundle, &pub));
  v1::InvestigationBundle parsed;
  ASSERT_TRUE(parsed.ParseFromString(bundle));
  const std::string manifest_signature = parsed.manifest_signature();
  ASSERT_EQ(report.streams.size(), 1u);
  EXPECT_TRUE(report.streams[0].complete());

  // Everything else, as one JSON file.
  std::vector<std::string> root_list, chain_list;
  for (uint64_t i = 0; i < n; ++i) {
    root_list.push_back(absl::StrCat("\"", Hex(roots[i]), "\""));
    chain_list.push_back(absl::StrCat("\"", Hex(chains[i]), "\""));
  }
  const std::string vectors = absl::StrCat(
      "{\n  \"about\": \"Even Hand integrity test vectors (docs/INTEGRITY.md). Hashes in "
      "lowercase hex. The key is RFC 8032's TEST 1 key: public, never a council's.\",\n"
      "  \"secret_key\": \"", kTestSecretKeyHex, "\",\n  \"public_key\": \"", Hex(pub.raw()),
      "\",\n  \"key_id\": \"", pub.key_id(), "\",\n  \"events\": [\n",
      absl::StrJoin(lines, ",\n"), "\n  ],\n  \"roots\": [", absl::StrJoin(root_list, ", "),
      "],\n  \"chain_hashes\": [", absl::StrJoin(chain_list, ", "),
      "],\n  \"inclusion_proofs\": [\n", absl::StrJoin(inclusion, ",\n"),
      "\n  ],\n  \"consistency_proof\": {\"from_size\": 3, \"to_size\": ", n,
      ", \"from_root\": \"", Hex(roots[2]), "\", \"to_root\": \"", Hex(roots[n - 1]),
      "\", \"path\": ", ProofJson(consistency), "},\n  \"empty_tree_root\": \"",
      Hex(EmptyTreeRoot()), "\",\n  \"stream_map\": {\n   \"root\": \"", Hex(map_root),
      "\",\n   \"entries\": [\n", absl::StrJoin(map_lines, ",\n"), "\n   ]},\n",
      "  \"manifest_signed_bytes\": \"", Hex(manifest_bytes), "\",\n  \"manifest_signature\": \"",
      Hex(manifest_signature), "\"\n}\n");
  Vector("vectors.json", vectors);
}

}  // namespace
}  // namespace evenhand::integrity
