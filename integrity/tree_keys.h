// The integrity column family's keys, shared by the IntegrityLog that
// writes them and the LogVerifier that checks a copy of the log offline:
//   "t" u8(tile level) BE64(index) -> a full tile of 256 hashes (tiles.h)
//   "e" BE64(position)         -> a run: the leaf hashes of the events from
//                                 `position` that one commit added to the
//                                 partial level-0 tile, then the chain hash
//                                 after the last of them; deleted after the
//                                 first checkpoint once its tile is written
//   "c" BE64(position)         -> the chain hash after `position`, for
//                                 multiples of kChainEvery
//   "f"                        -> kTiledLayout: the tree holds every event
//   "p"                        -> BE64(tree size) during a catch-up
//   "j"                        -> where the checkpoint journal is (text)
//   "J"                        -> present once the journal holds a
//                                 checkpoint (a journal found empty at a
//                                 later start was emptied)
//   "k" ...                    -> checkpoints stored before the journal
//   "m" / "M"                  -> the stream-head map (stream_map_store.h)
// and of the older layout, converted on start:
//   "n" level(1) BE64(index)   -> every Merkle tree node's 32-byte hash
//   "s"                        -> BE64(tree size)
#ifndef EVENHAND_INTEGRITY_TREE_KEYS_H_
#define EVENHAND_INTEGRITY_TREE_KEYS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "base/big_endian.h"

namespace evenhand::integrity::tree_keys {

inline constexpr char kLayoutKey[] = "f";
inline constexpr char kTiledLayout[] = "tiles-v1";
inline constexpr char kCatchUpKey[] = "p";
inline constexpr char kJournalKey[] = "j";
inline constexpr char kJournalSignedKey[] = "J";
// The older layout's.
inline constexpr char kOldSizeKey[] = "s";
inline constexpr char kOldNodePrefix[] = "n";

inline std::string TileKey(int level, uint64_t index) {
  std::string k = "t";
  k.push_back(static_cast<char>(level));
  PutBigEndian64(&k, index);
  return k;
}

inline std::string LeafRunKey(uint64_t position) {
  std::string k = "e";
  PutBigEndian64(&k, position);
  return k;
}

// A run's value, split: its leaves and the chain hash after its last event.
// False if the value is not a whole number (at least two) of hashes.
inline bool SplitLeafRun(std::string_view value, std::string_view* leaves,
                         std::string_view* chain) {
  if (value.size() < 64 || value.size() % 32 != 0) return false;
  *leaves = value.substr(0, value.size() - 32);
  *chain = value.substr(value.size() - 32);
  return true;
}

inline std::string ChainKey(uint64_t position) {
  std::string k = "c";
  PutBigEndian64(&k, position);
  return k;
}

}  // namespace evenhand::integrity::tree_keys

#endif  // EVENHAND_INTEGRITY_TREE_KEYS_H_
