// The stream-head map: for every stream (case), its last revision and the
// position of that event, committed to by one root hash in every checkpoint,
// so that a bundle can prove it holds all of a case's events (none withheld)
// as of that checkpoint.
//
// It is a sparse Merkle tree over 256-bit keys, with single-entry subtrees
// collapsed (docs/INTEGRITY.md, "The stream-head map"):
//   key        = SHA-256(stream id)
//   entry hash = SHA-256(0x00 || key || BE64(last revision) || BE64(last position))
//   node hash  = SHA-256(0x01 || left || right)
//   empty      = 32 zero bytes
// The hash of a subtree is: empty if it holds no entry; the entry's hash if
// it holds exactly one (wherever it sits); otherwise the node hash of its two
// halves (split on the next bit of the key, most significant bit first).
// A proof lists the siblings on the path from the root to the entry, root
// end first; its length is the entry's depth.
//
// This file has only pure functions (what a verifier needs, and an
// in-memory map for small sets); StreamMapStore keeps a large map in RocksDB.
// Thread-safe.
#ifndef EVENHAND_INTEGRITY_STREAM_MAP_H_
#define EVENHAND_INTEGRITY_STREAM_MAP_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace evenhand::integrity {

struct StreamHeadValue {
  uint64_t last_revision = 0;
  uint64_t last_position = 0;
};

// One entry of the map: its key (SHA-256 of the stream id) and value.
struct StreamMapEntry {
  std::string key;
  StreamHeadValue value;
};

std::string StreamKey(absl::string_view stream_id);
std::string StreamEntryHash(absl::string_view key, const StreamHeadValue& value);
// The empty subtree's hash: 32 zero bytes.
const std::string& EmptyStreamMapHash();
// Bit `depth` of a 32-byte key (0 = the first byte's most significant bit).
bool KeyBit(absl::string_view key, int depth);

// What sits at one place of the tree, as StreamMapStore stores it.
struct StreamMapNode {
  enum class Kind { kEmpty, kEntry, kInner };
  Kind kind = Kind::kEmpty;
  StreamMapEntry entry;  // kEntry
  std::string hash;      // kEntry and kInner
};

// Called for every place the tree occupies (kEntry or kInner), which a store
// writes, and every place it leaves empty beside an inner node (kEmpty),
// which a store of a tree that only grows need not: it was never occupied.
// `prefix` is the key's first `depth` bits, the rest zero.
using StreamMapSink =
    std::function<void(int depth, const std::string& prefix, const StreamMapNode& node)>;

// The subtree at `depth` holding `entries` (sorted by key, distinct, sharing
// their first `depth` bits); `sink` (may be null) receives its places.
StreamMapNode BuildStreamMap(int depth, const std::string& prefix,
                             const StreamMapEntry* begin, const StreamMapEntry* end,
                             const StreamMapSink& sink);

// The root of the map holding `entries` (any order; keys distinct).
std::string StreamMapRoot(std::vector<StreamMapEntry> entries);

// The proof for `key` in the map holding `entries`; NotFound if absent.
absl::StatusOr<std::vector<std::string>> StreamMapProof(std::vector<StreamMapEntry> entries,
                                                        absl::string_view key);

// Checks that `stream_id` has `value` in the map with `root`, given the
// siblings from the root down. InvalidArgument, saying why, if not.
absl::Status VerifyStreamHead(absl::string_view root, absl::string_view stream_id,
                              const StreamHeadValue& value,
                              const std::vector<std::string>& siblings);

// The first `depth` bits of `key`, the rest zero.
std::string KeyPrefix(absl::string_view key, int depth);

}  // namespace evenhand::integrity

#endif  // EVENHAND_INTEGRITY_STREAM_MAP_H_
