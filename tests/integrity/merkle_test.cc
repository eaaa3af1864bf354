// The RFC 9162 Merkle tree against published test vectors (the
// transparency-dev/merkle project's, copied into testdata/rfc6962), and
// property tests over random trees.
#include "integrity/merkle.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

#ifndef EVENHAND_RFC6962_TESTDATA
#error "EVENHAND_RFC6962_TESTDATA must name tests/integrity/testdata/rfc6962"
#endif

namespace evenhand::integrity {
namespace {

namespace fs = std::filesystem;
using google::protobuf::Struct;

std::string Hex(absl::string_view hex) { return absl::HexStringToBytes(hex); }

std::string ReadText(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

Struct ReadJson(const fs::path& path) {
  Struct s;
  auto status = google::protobuf::util::JsonStringToMessage(ReadText(path), &s);
  EXPECT_TRUE(status.ok()) << path << ": " << status.ToString();
  return s;
}

// An integer field read exactly from the JSON text: the vectors use values
// up to 2^64 - 1, beyond what a JSON double (Struct's numbers) holds.
uint64_t Exact(const fs::path& path, const std::string& field) {
  const std::string text = ReadText(path);
  const std::string key = absl::StrCat("\"", field, "\":");
  size_t at = text.find(key);
  EXPECT_NE(at, std::string::npos) << path << " has no " << field;
  at += key.size();
  while (at < text.size() && text[at] == ' ') ++at;
  size_t end = at;
  while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end]))) ++end;
  uint64_t v = 0;
  EXPECT_TRUE(absl::SimpleAtoi(text.substr(at, end - at), &v)) << path << ": " << field;
  return v;
}

std::string B64(const Struct& s, const std::string& field) {
  std::string out;
  absl::Base64Unescape(s.fields().at(field).string_value(), &out);
  return out;
}

uint64_t Num(const Struct& s, const std::string& field) {
  return static_cast<uint64_t>(s.fields().at(field).number_value());
}

std::vector<std::string> Proof(const Struct& s) {
  std::vector<std::string> out;
  const auto& v = s.fields().at("proof");
  if (!v.has_list_value()) return out;  // JSON null
  for (const auto& item : v.list_value().values()) {
    std::string h;
    absl::Base64Unescape(item.string_value(), &h);
    out.push_back(h);
  }
  return out;
}

std::vector<fs::path> Vectors(const std::string& kind) {
  std::vector<fs::path> out;
  for (const auto& e : fs::recursive_directory_iterator(fs::path(EVENHAND_RFC6962_TESTDATA) / kind)) {
    if (e.path().extension() == ".json") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// A tree kept as every node CompactRange emits, for proofs.
class StoredTree {
 public:
  void Append(const std::string& leaf_hash) {
    range_.Append(leaf_hash, [&](int level, uint64_t index, const std::string& hash) {
      nodes_[{level, index}] = hash;
    });
  }
  NodeReader Reader() const {
    return [this](int level, uint64_t index) -> absl::StatusOr<std::string> {
      auto it = nodes_.find({level, index});
      if (it == nodes_.end()) return absl::NotFoundError("no such node");
      return it->second;
    };
  }
  std::string Root(uint64_t size) const { return *RangeHash(0, size, Reader()); }
  const CompactRange& range() const { return range_; }

 private:
  CompactRange range_;
  std::map<std::pair<int, uint64_t>, std::string> nodes_;
};

StoredTree ReferenceTree() {
  Struct ref = ReadJson(fs::path(EVENHAND_RFC6962_TESTDATA) / "reference-tree.json");
  StoredTree tree;
  for (const auto& leaf : ref.fields().at("leaf_inputs_hex").list_value().values()) {
    tree.Append(LeafHash(Hex(leaf.string_value())));
  }
  return tree;
}

TEST(MerkleReferenceTest, SingleHashesMatchThePublishedOnes) {
  EXPECT_EQ(absl::BytesToHexString(LeafHash("L123456")),
            "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56");
  EXPECT_EQ(absl::BytesToHexString(NodeHash("N123", "N456")),
            "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb");
  EXPECT_EQ(absl::BytesToHexString(EmptyTreeRoot()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

// Given in pieces (a journal read a block at a time), the digest of the
// whole: FIPS 180-2's "abc" and the empty string.
TEST(MerkleReferenceTest, Sha256InPiecesIsTheDigestOfTheWhole) {
  Sha256Stream abc;
  abc.Update("a");
  abc.Update("");
  abc.Update("bc");
  EXPECT_EQ(absl::BytesToHexString(abc.Finish()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(absl::BytesToHexString(Sha256Stream().Finish()),
            absl::BytesToHexString(Sha256("")));
}

TEST(MerkleReferenceTest, RootOfTheReferenceTreeAtEverySize) {
  Struct ref = ReadJson(fs::path(EVENHAND_RFC6962_TESTDATA) / "reference-tree.json");
  const auto& leaves = ref.fields().at("leaf_inputs_hex").list_value().values();
  const auto& roots = ref.fields().at("root_hashes_hex_by_tree_size").list_value().values();
  StoredTree tree;
  EXPECT_EQ(absl::BytesToHexString(tree.range().Root()), roots[0].string_value());
  for (int i = 0; i < leaves.size(); ++i) {
    tree.Append(LeafHash(Hex(leaves[i].string_value())));
    // Incrementally (the right edge) and from stored nodes, the same root.
    EXPECT_EQ(absl::BytesToHexString(tree.range().Root()), roots[i + 1].string_value()) << i + 1;
    EXPECT_EQ(absl::BytesToHexString(tree.Root(i + 1)), roots[i + 1].string_value()) << i + 1;
  }
}

TEST(MerkleVectorsTest, EveryPublishedInclusionVectorIsJudgedAsPublished) {
  std::vector<fs::path> files = Vectors("inclusion");
  ASSERT_GT(files.size(), 50u);
  for (const fs::path& f : files) {
    Struct v = ReadJson(f);
    absl::Status s = VerifyInclusion(Exact(f, "leafIdx"), Exact(f, "treeSize"),
                                     B64(v, "leafHash"), Proof(v), B64(v, "root"));
    EXPECT_EQ(s.ok(), !v.fields().at("wantErr").bool_value()) << f << ": " << s;
  }
}

TEST(MerkleVectorsTest, EveryPublishedConsistencyVectorIsJudgedAsPublished) {
  std::vector<fs::path> files = Vectors("consistency");
  ASSERT_GT(files.size(), 50u);
  for (const fs::path& f : files) {
    Struct v = ReadJson(f);
    absl::Status s = VerifyConsistency(Exact(f, "size1"), Exact(f, "size2"), B64(v, "root1"),
                                       B64(v, "root2"), Proof(v));
    EXPECT_EQ(s.ok(), !v.fields().at("wantErr").bool_value()) << f << ": " << s;
  }
}

TEST(MerkleVectorsTest, ThePublishedProofsAreTheOnesWeMake) {
  // The happy-path vectors over the reference tree: our proofs must be
  // exactly theirs.
  StoredTree tree = ReferenceTree();
  int checked = 0;
  for (const fs::path& f : Vectors("inclusion")) {
    if (f.filename() != "happy-path.json") continue;
    Struct v = ReadJson(f);
    const uint64_t size = Num(v, "treeSize");
    if (size == 0 || size > 8 || B64(v, "root") != tree.Root(size)) continue;
    auto ours = InclusionPath(Num(v, "leafIdx"), size, tree.Reader());
    ASSERT_TRUE(ours.ok());
    EXPECT_EQ(*ours, Proof(v)) << f;
    ++checked;
  }
  for (const fs::path& f : Vectors("consistency")) {
    if (f.filename() != "happy-path.json") continue;
    Struct v = ReadJson(f);
    const uint64_t size2 = Num(v, "size2");
    if (size2 == 0 || size2 > 8 || B64(v, "root2") != tree.Root(size2)) continue;
    auto ours = ConsistencyPath(Num(v, "size1"), size2, tree.Reader());
    ASSERT_TRUE(ours.ok());
    EXPECT_EQ(*ours, Proof(v)) << f;
    ++checked;
  }
  EXPECT_GE(checked, 6);
}

// ---- property tests -----------------------------------------------------------

class MerklePropertyTest : public ::testing::Test {
 protected:
  std::mt19937_64 rng_{20261125};
  uint64_t Uniform(uint64_t lo, uint64_t hi) {
    return std::uniform_int_distribution<uint64_t>(lo, hi)(rng_);
  }
  StoredTree RandomTree(uint64_t size) {
    StoredTree t;
    for (uint64_t i = 0; i < size; ++i) t.Append(LeafHash(absl::StrCat("leaf ", Uniform(0, 1 << 30), " ", i)));
    return t;
  }
  static std::string Flip(std::string s, size_t byte, uint8_t mask) {
    s[byte] = static_cast<char>(s[byte] ^ mask);
    return s;
  }
};

TEST_F(MerklePropertyTest, EveryInclusionProofVerifiesAndEveryOneByteChangeFails) {
  for (uint64_t size : {1u, 2u, 3u, 5u, 8u, 13u, 64u, 100u, 127u, 1000u, 2049u, 3001u}) {
    StoredTree tree = RandomTree(size);
    const std::string root = tree.range().Root();
    ASSERT_EQ(root, tree.Root(size));
    for (int sample = 0; sample < 6; ++sample) {
      const uint64_t n = Uniform(1, size);
      const uint64_t m = Uniform(0, n - 1);
      const std::string root_n = tree.Root(n);
      auto proof = InclusionPath(m, n, tree.Reader());
      ASSERT_TRUE(proof.ok());
      auto leaf = tree.Reader()(0, m);
      ASSERT_TRUE(leaf.ok());
      ASSERT_TRUE(VerifyInclusion(m, n, *leaf, *proof, root_n).ok()) << m << " in " << n;
      const uint8_t mask = static_cast<uint8_t>(Uniform(1, 255));
      for (size_t b = 0; b < kHashSize; ++b) {
        EXPECT_FALSE(VerifyInclusion(m, n, Flip(*leaf, b, mask), *proof, root_n).ok());
        EXPECT_FALSE(VerifyInclusion(m, n, *leaf, *proof, Flip(root_n, b, mask)).ok());
        for (size_t p = 0; p < proof->size(); ++p) {
          std::vector<std::string> bad = *proof;
          bad[p] = Flip(bad[p], b, mask);
          EXPECT_FALSE(VerifyInclusion(m, n, *leaf, bad, root_n).ok());
        }
      }
      // The wrong index, or a proof with a hash removed, fails too.
      if (n > 1) {
        EXPECT_FALSE(VerifyInclusion((m + 1) % n, n, *leaf, *proof, root_n).ok());
      }
      if (!proof->empty()) {
        std::vector<std::string> shorter(proof->begin(), proof->end() - 1);
        EXPECT_FALSE(VerifyInclusion(m, n, *leaf, shorter, root_n).ok());
      }
    }
  }
}

TEST_F(MerklePropertyTest, EveryConsistencyProofVerifiesAndEveryOneByteChangeFails) {
  for (uint64_t size : {2u, 3u, 7u, 8u, 9u, 33u, 100u, 1024u, 1500u, 3000u}) {
    StoredTree tree = RandomTree(size);
    for (int sample = 0; sample < 6; ++sample) {
      const uint64_t n = Uniform(2, size);
      const uint64_t m = Uniform(1, n - 1);
      const std::string r1 = tree.Root(m), r2 = tree.Root(n);
      auto proof = ConsistencyPath(m, n, tree.Reader());
      ASSERT_TRUE(proof.ok());
      ASSERT_TRUE(VerifyConsistency(m, n, r1, r2, *proof).ok()) << m << " -> " << n;
      const uint8_t mask = static_cast<uint8_t>(Uniform(1, 255));
      for (size_t b = 0; b < kHashSize; ++b) {
        EXPECT_FALSE(VerifyConsistency(m, n, Flip(r1, b, mask), r2, *proof).ok());
        EXPECT_FALSE(VerifyConsistency(m, n, r1, Flip(r2, b, mask), *proof).ok());
        for (size_t p = 0; p < proof->size(); ++p) {
          std::vector<std::string> bad = *proof;
          bad[p] = Flip(bad[p], b, mask);
          EXPECT_FALSE(VerifyConsistency(m, n, r1, r2, bad).ok());
        }
      }
    }
  }
}

TEST_F(MerklePropertyTest, TheRightEdgeRestoredFromStoredPeaksContinuesTheSameTree) {
  StoredTree tree = RandomTree(777);
  std::vector<std::string> peaks;
  for (auto [level, index] : CompactRange::PeakNodes(777)) peaks.push_back(*tree.Reader()(level, index));
  auto restored = CompactRange::FromPeaks(777, peaks);
  ASSERT_TRUE(restored.ok());
  CompactRange continued = *restored;
  StoredTree whole = tree;
  for (int i = 0; i < 300; ++i) {
    const std::string leaf = LeafHash(absl::StrCat("more ", i));
    continued.Append(leaf, [](int, uint64_t, const std::string&) {});
    whole.Append(leaf);
    ASSERT_EQ(continued.Root(), whole.range().Root());
  }
}

TEST(ChainHashTest, EachLinkDependsOnTheOneBefore) {
  const std::string a = ChainHash(GenesisChainHash(), "one");
  const std::string b = ChainHash(a, "two");
  EXPECT_EQ(a, Sha256(std::string(32, '\0') + "one"));
  EXPECT_NE(b, ChainHash(GenesisChainHash(), "two"));
}

}  // namespace
}  // namespace evenhand::integrity
