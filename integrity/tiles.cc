#include "integrity/tiles.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "integrity/merkle.h"

namespace evenhand::integrity {
namespace {

// The root over `count` (a power of two) entries from `first`.
std::string Reduce(absl::string_view entries, uint64_t first, uint64_t count) {
  if (count == 1) return std::string(entries.substr(first * kHashSize, kHashSize));
  std::vector<std::string> row;
  row.reserve(count / 2);
  for (uint64_t i = 0; i < count; i += 2) {
    row.push_back(NodeHash(entries.substr((first + i) * kHashSize, kHashSize),
                           entries.substr((first + i + 1) * kHashSize, kHashSize)));
  }
  while (row.size() > 1) {
    for (size_t i = 0; i < row.size() / 2; ++i) row[i] = NodeHash(row[2 * i], row[2 * i + 1]);
    row.resize(row.size() / 2);
  }
  return std::move(row.front());
}

}  // namespace

TileId TileOf(int level, uint64_t index) {
  const int sub = level % kTileHeight;
  return TileId{level / kTileHeight, (index << sub) >> kTileHeight};
}

std::pair<uint64_t, uint64_t> NodePositions(int level, uint64_t index) {
  return {(index << level) + 1, (index + 1) << level};
}

std::pair<uint64_t, uint64_t> TilePositions(TileId tile) {
  return NodePositions(tile.level * kTileHeight + kTileHeight, tile.index);
}

absl::StatusOr<std::string> NodeInTile(int level, uint64_t index, absl::string_view entries) {
  const int sub = level % kTileHeight;
  const uint64_t count = uint64_t{1} << sub;
  const uint64_t first = (index << sub) % kTileWidth;
  if (entries.size() % kHashSize != 0 || entries.size() > kTileBytes) {
    return absl::DataLossError(absl::StrCat("a Merkle tree tile is ", entries.size(),
                                            " bytes, not a whole number of hashes up to ",
                                            kTileBytes));
  }
  if ((first + count) * kHashSize > entries.size()) {
    const auto [from, to] = NodePositions(level, index);
    return absl::DataLossError(absl::StrCat("the Merkle tree node over positions ", from, "..", to,
                                            " is not complete in its tile"));
  }
  return Reduce(entries, first, count);
}

absl::StatusOr<std::string> TileRoot(absl::string_view full_tile) {
  if (full_tile.size() != kTileBytes) {
    return absl::DataLossError(
        absl::StrCat("a full Merkle tree tile is ", full_tile.size(), " bytes, not ", kTileBytes));
  }
  return Reduce(full_tile, 0, kTileWidth);
}

void TileEdge::Add(int level, uint64_t index, absl::string_view hash,
                   const std::function<void(TileId, std::string)>& full) {
  if (level % kTileHeight != 0) return;
  const size_t l = static_cast<size_t>(level / kTileHeight);
  if (levels_.size() <= l) levels_.resize(l + 1);
  Level& at = levels_[l];
  if (at.entries.empty()) {
    at.index = index / kTileWidth;
    at.entries.reserve(kTileBytes);
  }
  at.entries.append(hash.data(), hash.size());
  if (at.entries.size() == kTileBytes) {
    full(TileId{static_cast<int>(l), at.index}, std::move(at.entries));
    at.entries = std::string();
    ++at.index;
  }
}

TileId TileEdge::Partial(int level) const {
  if (static_cast<size_t>(level) >= levels_.size()) return TileId{level, 0};
  return TileId{level, levels_[level].index};
}

absl::string_view TileEdge::PartialEntries(int level) const {
  if (static_cast<size_t>(level) >= levels_.size()) return {};
  return levels_[level].entries;
}

void TileEdge::SetPartial(TileId tile, std::string entries) {
  const size_t l = static_cast<size_t>(tile.level);
  if (levels_.size() <= l) levels_.resize(l + 1);
  levels_[l].index = tile.index;
  levels_[l].entries = std::move(entries);
  levels_[l].entries.reserve(kTileBytes);
}

std::vector<std::pair<TileId, uint64_t>> TileEdge::PartialTiles(uint64_t size) {
  std::vector<std::pair<TileId, uint64_t>> out;
  for (int l = 0; l * kTileHeight < 64; ++l) {
    const uint64_t nodes = size >> (l * kTileHeight);  // complete nodes of level 8l
    if (nodes == 0) break;
    out.emplace_back(TileId{l, nodes / kTileWidth}, nodes % kTileWidth);
  }
  return out;
}

}  // namespace evenhand::integrity
