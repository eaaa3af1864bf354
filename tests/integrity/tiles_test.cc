// The tiled tree (integrity/tiles.h) against the tree stored one node per
// key: every node a tile gives back is the node the tree completed, and
// roots and proofs made from tiles are the ones made from every node, for
// sizes that cross tile boundaries at the first and second tile levels.
#include "integrity/tiles.h"

#include <map>
#include <random>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "integrity/merkle.h"

namespace evenhand::integrity {
namespace {

// A tree grown leaf by leaf, kept both ways: every node by (level, index),
// and full tiles plus the right edge.
class TwoTrees {
 public:
  void Append(const std::string& leaf) {
    range_.Append(leaf, [&](int level, uint64_t index, const std::string& hash) {
      nodes_[{level, index}] = hash;
      edge_.Add(level, index, hash, [&](TileId tile, std::string bytes) {
        ASSERT_EQ(bytes.size(), kTileBytes);
        ASSERT_TRUE(tiles_.emplace(std::make_pair(tile.level, tile.index), bytes).second)
            << "tile written twice";
      });
    });
  }

  absl::StatusOr<std::string> FromNodes(int level, uint64_t index) const {
    auto it = nodes_.find({level, index});
    if (it == nodes_.end()) return absl::NotFoundError("no such node");
    return it->second;
  }

  absl::StatusOr<std::string> FromTiles(int level, uint64_t index) const {
    const TileId tile = TileOf(level, index);
    if (tile.index == edge_.Partial(tile.level).index) {
      return NodeInTile(level, index, edge_.PartialEntries(tile.level));
    }
    auto it = tiles_.find({tile.level, tile.index});
    if (it == tiles_.end()) return absl::NotFoundError("no such tile");
    return NodeInTile(level, index, it->second);
  }

  NodeReader Nodes() const {
    return [this](int l, uint64_t i) { return FromNodes(l, i); };
  }
  NodeReader Tiles() const {
    return [this](int l, uint64_t i) { return FromTiles(l, i); };
  }

  const CompactRange& range() const { return range_; }
  const std::map<std::pair<int, uint64_t>, std::string>& nodes() const { return nodes_; }
  const std::map<std::pair<int, uint64_t>, std::string>& tiles() const { return tiles_; }
  const TileEdge& edge() const { return edge_; }

 private:
  CompactRange range_;
  TileEdge edge_;
  std::map<std::pair<int, uint64_t>, std::string> nodes_;
  std::map<std::pair<int, uint64_t>, std::string> tiles_;
};

std::string Leaf(uint64_t i) { return LeafHash(absl::StrCat("leaf ", i)); }

TEST(TilesTest, EveryCompletedNodeIsRecoveredFromItsTile) {
  TwoTrees t;
  for (uint64_t i = 0; i < 3 * kTileWidth + 17; ++i) t.Append(Leaf(i));
  for (const auto& [at, hash] : t.nodes()) {
    auto got = t.FromTiles(at.first, at.second);
    ASSERT_TRUE(got.ok()) << at.first << "," << at.second << ": " << got.status();
    EXPECT_EQ(*got, hash) << at.first << "," << at.second;
  }
  // Three full tiles of leaves; the fourth is the edge, with 17 leaves.
  EXPECT_EQ(t.tiles().size(), 3u);
  EXPECT_EQ(t.edge().Partial(0).index, 3u);
  EXPECT_EQ(t.edge().PartialEntries(0).size(), 17 * kHashSize);
  EXPECT_EQ(t.edge().PartialEntries(1).size(), 3 * kHashSize);
}

TEST(TilesTest, ANodeNotYetCompleteIsRefused) {
  TwoTrees t;
  for (uint64_t i = 0; i < 5; ++i) t.Append(Leaf(i));
  EXPECT_TRUE(t.FromTiles(2, 0).ok());   // leaves 0..3
  EXPECT_FALSE(t.FromTiles(2, 1).ok());  // leaves 4..7: only 4 is there
  EXPECT_EQ(t.FromTiles(2, 1).status().code(), absl::StatusCode::kDataLoss);
}

TEST(TilesTest, RootsAndProofsFromTilesAreThoseFromEveryNode) {
  TwoTrees t;
  std::mt19937_64 rng(16);
  // Past 65,536 leaves, so that a level-1 tile fills and level 2 begins.
  const uint64_t n = kTileWidth * kTileWidth + 3 * kTileWidth + 5;
  std::vector<std::string> roots;
  for (uint64_t i = 0; i < n; ++i) {
    t.Append(Leaf(i));
    roots.push_back(t.range().Root());
  }
  EXPECT_EQ(t.tiles().count({1, 0}), 1u);
  std::vector<uint64_t> sizes = {1, 2, 255, 256, 257, 511, 512, 65535, 65536, 65537, n};
  for (int k = 0; k < 40; ++k) sizes.push_back(1 + rng() % n);
  for (uint64_t size : sizes) {
    auto from_tiles = RangeHash(0, size, t.Tiles());
    ASSERT_TRUE(from_tiles.ok()) << size << ": " << from_tiles.status();
    EXPECT_EQ(*from_tiles, roots[size - 1]) << size;
    for (int k = 0; k < 5; ++k) {
      const uint64_t leaf = rng() % size;
      auto a = InclusionPath(leaf, size, t.Tiles());
      auto b = InclusionPath(leaf, size, t.Nodes());
      ASSERT_TRUE(a.ok() && b.ok()) << size << " " << leaf;
      EXPECT_EQ(*a, *b);
      EXPECT_TRUE(VerifyInclusion(leaf, size, Leaf(leaf), *a, roots[size - 1]).ok());
      const uint64_t older = 1 + rng() % size;
      auto c = ConsistencyPath(older, size, t.Tiles());
      auto d = ConsistencyPath(older, size, t.Nodes());
      ASSERT_TRUE(c.ok() && d.ok()) << older << " " << size;
      EXPECT_EQ(*c, *d);
      EXPECT_TRUE(VerifyConsistency(older, size, roots[older - 1], roots[size - 1], *c).ok());
    }
  }
}

TEST(TilesTest, TheEdgeOfASizeIsWhereTheTreeLeftIt) {
  TwoTrees t;
  for (uint64_t size = 1; size <= 2 * kTileWidth * kTileWidth / 64; ++size) {
    t.Append(Leaf(size - 1));
    if (size % 97 != 0 && size != kTileWidth && size != 2 * kTileWidth) continue;
    for (const auto& [tile, count] : TileEdge::PartialTiles(size)) {
      EXPECT_EQ(tile.index, t.edge().Partial(tile.level).index) << size;
      EXPECT_EQ(count * kHashSize, t.edge().PartialEntries(tile.level).size()) << size;
    }
  }
}

TEST(TilesTest, ATileRootIsTheNodeAboveIt) {
  TwoTrees t;
  for (uint64_t i = 0; i < 2 * kTileWidth; ++i) t.Append(Leaf(i));
  auto root = TileRoot(t.tiles().at({0, 1}));
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(*root, *t.FromNodes(8, 1));
  EXPECT_FALSE(TileRoot("short").ok());
  const auto [first, last] = TilePositions(TileId{0, 1});
  EXPECT_EQ(first, 257u);
  EXPECT_EQ(last, 512u);
}

}  // namespace
}  // namespace evenhand::integrity
