// The integrity column family's keys, shared by the IntegrityLog that
// writes them and the LogVerifier that checks a copy of the log offline:
//   "s"                        -> BE64(tree size)
//   "j"                        -> where the checkpoint journal is (text)
//   "n" level(1) BE64(index)   -> the Merkle tree node's 32-byte hash
//                                 (level 0: the leaf of position index + 1)
//   "c" BE64(position)         -> the chain hash after `position`
//   "k" ...                    -> checkpoints stored before the journal
//   "m" / "M"                  -> the stream-head map (stream_map_store.h)
#ifndef EVENHAND_INTEGRITY_TREE_KEYS_H_
#define EVENHAND_INTEGRITY_TREE_KEYS_H_

#include <cstdint>
#include <string>

#include "base/big_endian.h"

namespace evenhand::integrity::tree_keys {

inline constexpr char kSizeKey[] = "s";
inline constexpr char kJournalKey[] = "j";

inline std::string NodeKey(int level, uint64_t index) {
  std::string k = "n";
  k.push_back(static_cast<char>(level));
  PutBigEndian64(&k, index);
  return k;
}

inline std::string ChainKey(uint64_t position) {
  std::string k = "c";
  PutBigEndian64(&k, position);
  return k;
}

}  // namespace evenhand::integrity::tree_keys

#endif  // EVENHAND_INTEGRITY_TREE_KEYS_H_
