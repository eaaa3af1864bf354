// The RFC 9162 (Certificate Transparency v2) Merkle tree, §2.1:
//   leaf hash  = SHA-256(0x00 || leaf)
//   node hash  = SHA-256(0x01 || left || right)
//   empty tree = SHA-256("")
// with inclusion proofs (§2.1.3) and consistency proofs (§2.1.4): how to make
// them from a tree's stored nodes, and how to check them knowing only hashes.
//
// Hashes are 32-byte strings. SHA-256 is OpenSSL's. Pure functions and
// value types; thread-safe.
#ifndef EVENHAND_INTEGRITY_MERKLE_H_
#define EVENHAND_INTEGRITY_MERKLE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace evenhand::integrity {

constexpr size_t kHashSize = 32;

std::string Sha256(absl::string_view data);

// SHA-256 of bytes given in pieces (a file read a block at a time, so that
// a large one is never held whole).
class Sha256Stream {
 public:
  Sha256Stream();
  ~Sha256Stream();
  Sha256Stream(const Sha256Stream&) = delete;
  Sha256Stream& operator=(const Sha256Stream&) = delete;
  void Update(absl::string_view piece);
  // The digest (raw, kHashSize bytes) of every piece so far; call once.
  std::string Finish();

 private:
  struct Context;
  Context* context_;
};
std::string LeafHash(absl::string_view leaf);
std::string NodeHash(absl::string_view left, absl::string_view right);
std::string EmptyTreeRoot();

// The hash chain: SHA-256(previous || canonical); the first event's previous
// is 32 zero bytes (GenesisChainHash()).
std::string ChainHash(absl::string_view previous, absl::string_view canonical);
std::string GenesisChainHash();

// Checks that `leaf_hash` is leaf `leaf_index` of the tree of `tree_size`
// with root `root` (RFC 9162 §2.1.3.2). InvalidArgument, saying why, if not.
absl::Status VerifyInclusion(uint64_t leaf_index, uint64_t tree_size, absl::string_view leaf_hash,
                             const std::vector<std::string>& proof, absl::string_view root);

// Checks that the tree of `size1` with `root1` is a prefix of the tree of
// `size2` with `root2` (RFC 9162 §2.1.4.2).
absl::Status VerifyConsistency(uint64_t size1, uint64_t size2, absl::string_view root1,
                               absl::string_view root2, const std::vector<std::string>& proof);

// A stored node: the root of the perfect subtree at `level` (0 = leaves)
// covering leaves [index << level, (index + 1) << level).
using NodeReader = std::function<absl::StatusOr<std::string>(int level, uint64_t index)>;

// MTH(D[begin:end]) from stored perfect subtrees. `begin` must be aligned as
// RFC 9162's recursion makes it (a multiple of the largest power of two not
// above end - begin).
absl::StatusOr<std::string> RangeHash(uint64_t begin, uint64_t end, const NodeReader& node);

// RFC 9162 §2.1.3.1 PATH(m, D[n]) and §2.1.4.1 PROOF(m, D[n]).
absl::StatusOr<std::vector<std::string>> InclusionPath(uint64_t leaf_index, uint64_t tree_size,
                                                       const NodeReader& node);
absl::StatusOr<std::vector<std::string>> ConsistencyPath(uint64_t size1, uint64_t size2,
                                                         const NodeReader& node);

// The right edge of a growing tree: its perfect subtrees ("peaks"), largest
// first. Enough to append leaves and compute the root without reading the
// rest of the tree.
class CompactRange {
 public:
  CompactRange() = default;

  // A range restored from the peaks of a tree of `size` (see PeakNodes).
  static absl::StatusOr<CompactRange> FromPeaks(uint64_t size, std::vector<std::string> peaks);

  // The (level, index) of the peaks of a tree of `size`, largest first.
  static std::vector<std::pair<int, uint64_t>> PeakNodes(uint64_t size);

  uint64_t size() const { return size_; }

  // Appends a leaf; `emit(level, index, hash)` is called for the leaf and
  // for every node it completes, so they can be stored.
  void Append(const std::string& leaf_hash,
              const std::function<void(int, uint64_t, const std::string&)>& emit);

  std::string Root() const;

 private:
  uint64_t size_ = 0;
  std::vector<std::string> peaks_;
};

}  // namespace evenhand::integrity

#endif  // EVENHAND_INTEGRITY_MERKLE_H_
