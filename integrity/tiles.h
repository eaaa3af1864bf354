// Tiles: how the Merkle tree is stored, 256 node hashes to a value, as
// transparency-dev/tessera lays out its tiles.
//
// Tile (L, i) holds the hashes of the tree's level-8L nodes i*256 ..
// i*256+255, concatenated (8,192 bytes): level-0 tiles hold leaf hashes,
// level-1 tiles the roots of level-0 tiles, and so on. A node at level
// 8L+s (s < 8) is the root of 2^s consecutive entries of one tile, and is
// recomputed from them when a proof needs it (at most 127 hashes). Only
// full tiles are stored, each written once, in the commit that completes
// it; the right edge (each tile level's partial tile, at most 255 hashes)
// is kept in memory by a TileEdge and rebuilt from the log on start.
//
// The hash chain is stored the same sparse way: its value after every
// kChainEvery-th position, the rest recomputed from the events.
//
// Pure functions and value types; thread-compatible.
#ifndef EVENHAND_INTEGRITY_TILES_H_
#define EVENHAND_INTEGRITY_TILES_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace evenhand::integrity {

inline constexpr int kTileHeight = 8;
inline constexpr uint64_t kTileWidth = uint64_t{1} << kTileHeight;
inline constexpr size_t kTileBytes = kTileWidth * 32;
inline constexpr uint64_t kChainEvery = 256;

// The tile holding node (level, index).
struct TileId {
  int level = 0;  // the tile level: its entries are tree level 8 * level
  uint64_t index = 0;
  bool operator==(const TileId& o) const { return level == o.level && index == o.index; }
};
TileId TileOf(int level, uint64_t index);

// The positions (1-based, inclusive) a node or a tile covers, for messages.
std::pair<uint64_t, uint64_t> NodePositions(int level, uint64_t index);
std::pair<uint64_t, uint64_t> TilePositions(TileId tile);

// The hash of node (level, index) from `entries`, the concatenated hashes of
// the tile holding it (full, or the partial one at the right edge).
// DataLoss if the tile does not hold every entry the node covers.
absl::StatusOr<std::string> NodeInTile(int level, uint64_t index, absl::string_view entries);

// The root of a full tile: the tree node at tile level + 1 it makes up.
absl::StatusOr<std::string> TileRoot(absl::string_view full_tile);

// The right edge of a tiled tree: each tile level's partial tile.
class TileEdge {
 public:
  // Takes every node CompactRange::Append emits (leaves included); calls
  // `full` with each tile the node completes, which is then no longer held.
  void Add(int level, uint64_t index, absl::string_view hash,
           const std::function<void(TileId, std::string)>& full);

  // The partial tile of tile level `level`: its index and the entries it
  // holds so far (none past the tree's highest tile level).
  TileId Partial(int level) const;
  absl::string_view PartialEntries(int level) const;

  // Restores the partial tile of `tile.level` (levels must be set in order
  // from 0, each to the tile that the tree's size puts at its right edge).
  void SetPartial(TileId tile, std::string entries);

  // The partial tiles of a tree of `size`, with how many entries each
  // holds, lowest level first; empty tiles included up to the highest
  // level that has a node.
  static std::vector<std::pair<TileId, uint64_t>> PartialTiles(uint64_t size);

 private:
  struct Level {
    uint64_t index = 0;
    std::string entries;
  };
  std::vector<Level> levels_;
};

}  // namespace evenhand::integrity

#endif  // EVENHAND_INTEGRITY_TILES_H_
