// IntegrityLog: the stored tree and chain. Their layout (and the conversion
// of the older one), the right edge rebuilt on start, and every read of a
// node, leaf or chain hash: roots, proofs, leaf checks.
#include <memory>
#include <string_view>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/big_endian.h"
#include "base/error_details.h"
#include "base/logging.h"
#include "base/status_macros.h"
#include "integrity/canonical.h"
#include "integrity/integrity_log.h"
#include "integrity/integrity_log_internal.h"
#include "integrity/tree_keys.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace evenhand::integrity {

using log_internal::FromRocks;
using log_internal::kComponent;

namespace {

// A tree size past the log's end, for proofs.
absl::Status BeyondTheLog(const char* field, uint64_t size, uint64_t current) {
  return WithErrorInfo(
      absl::OutOfRangeError(
          absl::StrCat(field, ": ", size, " is beyond the end of the log (", current, " events)")),
      "BEYOND_END_OF_LOG", {{"field", field}, {"last_position", absl::StrCat(current)}});
}

std::string DescribeTile(TileId tile) {
  const auto [first, last] = TilePositions(tile);
  return absl::StrCat("the Merkle tree tile over positions ", first, "..", last, " (level ",
                      tile.level, ", index ", tile.index, ")");
}

constexpr size_t kCachedTiles = 8;

}  // namespace

absl::StatusOr<uint64_t> IntegrityLog::OpenLayout() {
  rocksdb::DB* db = store_->db();
  rocksdb::ColumnFamilyHandle* cf = store_->ColumnFamily(kColumnFamily);
  const bool read_only = store_->write_state().read_only;
  std::string value;
  rocksdb::Status s = db->Get(rocksdb::ReadOptions(), cf, tree_keys::kLayoutKey, &value);
  if (s.ok()) {
    if (value != tree_keys::kTiledLayout) {
      return absl::FailedPreconditionError(
          absl::StrCat("integrity: the tree is stored in a layout this server does not know (\"",
                       value, "\"): was the data folder written by a newer evenhandd?"));
    }
    layout_done_ = true;
    // Every append since the layout was set went through this hook: the
    // tree holds the whole log. The newest full tile and stored chain hash
    // must be there.
    const uint64_t size = store_->LastPosition();
    if (size >= kTileWidth) {
      const TileId last_tile{0, size / kTileWidth - 1};
      s = db->Get(rocksdb::ReadOptions(), cf, tree_keys::TileKey(0, last_tile.index), &value);
      if (s.IsNotFound()) {
        return absl::DataLossError(absl::StrCat(
            "integrity: ", DescribeTile(last_tile),
            " is missing, though the tree holds every event of the log: events were appended "
            "without the tree (by a tool that opened the data folder directly?) or the "
            "integrity column family lost writes. Restore the data folder from a backup "
            "(evenhand restore)"));
      }
      EH_RETURN_IF_ERROR(ReadFailure(s, absl::StrCat("cannot read ", DescribeTile(last_tile))));
    }
    return size;
  }
  if (!s.IsNotFound()) return ReadFailure(s, "cannot read the tree's layout");
  s = db->Get(rocksdb::ReadOptions(), cf, tree_keys::kOldSizeKey, &value);
  if (!s.ok() && !s.IsNotFound()) return ReadFailure(s, "cannot read the tree size");
  if (s.ok()) {
    // One key per node and per chain hash: converted by hashing the log
    // again, checked against the signed checkpoints once it is done.
    if (read_only) {
      return absl::FailedPreconditionError(
          "integrity: the Merkle tree is stored in the layout of one key per node, which is "
          "converted to tiles on start, but the log is open read-only (a full disk): free "
          "some space and start again");
    }
    logging::Info(kComponent, absl::StrCat("the Merkle tree of ", ReadBigEndian64(value),
                                           " events is stored one key per node: converting it "
                                           "to tiles of 256 hashes (the log is hashed once)"));
    rocksdb::WriteBatch batch;
    batch.DeleteRange(cf, tree_keys::kOldNodePrefix, "o");
    batch.DeleteRange(cf, "c", "d");
    batch.Delete(cf, tree_keys::kOldSizeKey);
    batch.Put(cf, tree_keys::kCatchUpKey, BigEndian64(0));
    rocksdb::WriteOptions wo;
    wo.sync = true;
    EH_RETURN_IF_ERROR(FromRocks(db->Write(wo, &batch), "cannot convert the tree's layout"));
    return 0;
  }
  s = db->Get(rocksdb::ReadOptions(), cf, tree_keys::kCatchUpKey, &value);
  if (s.IsNotFound()) return 0;
  EH_RETURN_IF_ERROR(ReadFailure(s, "cannot read the catch-up's progress"));
  return ReadBigEndian64(value);
}

absl::StatusOr<TileEdge> IntegrityLog::RebuildEdge(uint64_t size) const {
  TileEdge edge;
  rocksdb::DB* db = store_->db();
  rocksdb::ColumnFamilyHandle* cf = store_->ColumnFamily(kColumnFamily);
  for (const auto& [tile, count] : TileEdge::PartialTiles(size)) {
    std::string entries;
    entries.reserve(count * kHashSize);
    if (tile.level == 0) {
      // The leaves of the last events, as their commits stored them.
      EH_ASSIGN_OR_RETURN(LeafRuns runs, ReadLeafRuns(tile, count));
      entries = std::move(runs.leaves);
    } else {
      // The roots of the full tiles below.
      for (uint64_t j = 0; j < count; ++j) {
        const TileId child{tile.level - 1, tile.index * kTileWidth + j};
        std::string bytes;
        rocksdb::Status s = db->Get(rocksdb::ReadOptions(), cf,
                                    tree_keys::TileKey(child.level, child.index), &bytes);
        if (s.IsNotFound()) {
          return absl::DataLossError(
              absl::StrCat("integrity: ", DescribeTile(child), " is missing"));
        }
        EH_RETURN_IF_ERROR(ReadFailure(s, absl::StrCat("cannot read ", DescribeTile(child))));
        EH_ASSIGN_OR_RETURN(std::string root, TileRoot(bytes));
        entries += root;
      }
    }
    if (entries.size() != count * kHashSize) {
      return absl::DataLossError(absl::StrCat(
          "integrity: the tree's right edge at level ", tile.level * kTileHeight, " needs ", count,
          " hashes, but only ", entries.size() / kHashSize, " could be read"));
    }
    edge.SetPartial(tile, std::move(entries));
  }
  return edge;
}

absl::StatusOr<IntegrityLog::LeafRuns> IntegrityLog::ReadLeafRuns(TileId tile,
                                                                  uint64_t count) const {
  const uint64_t first = tile.index * kTileWidth + 1;
  LeafRuns runs;
  rocksdb::ReadOptions ro;
  const std::string end = tree_keys::LeafRunKey(first + kTileWidth);
  rocksdb::Slice upper(end);
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(
      store_->db()->NewIterator(ro, store_->ColumnFamily(kColumnFamily)));
  for (it->Seek(tree_keys::LeafRunKey(first)); it->Valid(); it->Next()) {
    const uint64_t at = ReadBigEndian64(std::string_view(it->key().data() + 1, 8));
    std::string_view leaves, chain;
    if (at != first + runs.leaves.size() / kHashSize ||
        !tree_keys::SplitLeafRun(std::string_view(it->value().data(), it->value().size()), &leaves,
                                 &chain)) {
      break;
    }
    runs.leaves.append(leaves);
    runs.chain_position = first + runs.leaves.size() / kHashSize - 1;
    runs.chain.assign(chain);
    if (runs.leaves.size() >= count * kHashSize) break;
  }
  EH_RETURN_IF_ERROR(ReadFailure(it->status(), "cannot read the stored leaves"));
  if (runs.leaves.size() != count * kHashSize) {
    const uint64_t stored = std::min<uint64_t>(runs.leaves.size() / kHashSize, count);
    return absl::DataLossError(absl::StrCat(
        "integrity: the stored leaves of positions ", first + stored, "..", first + count - 1,
        " are missing or do not end where the tree does, though the tree holds every event of "
        "the log: events were appended without the tree (by a tool that opened the data folder "
        "directly?) or the integrity column family lost writes. Restore the data folder from a "
        "backup (evenhand restore)"));
  }
  return runs;
}

absl::Status IntegrityLog::Restore() {
  EH_ASSIGN_OR_RETURN(const uint64_t size, OpenLayout());
  if (size > store_->LastPosition()) {
    return absl::DataLossError(absl::StrCat("integrity: the tree has ", size,
                                            " leaves but the log ends at position ",
                                            store_->LastPosition()));
  }
  EH_ASSIGN_OR_RETURN(TileEdge edge, RebuildEdge(size));
  {
    absl::MutexLock lock(&mu_);
    edge_ = edge;
  }
  // The peaks, from the tiles and the edge.
  ReadCache cache;
  std::vector<std::string> peaks;
  for (auto [level, index] : CompactRange::PeakNodes(size)) {
    EH_ASSIGN_OR_RETURN(std::string node, ReadNode(level, index, &cache));
    peaks.push_back(std::move(node));
  }
  EH_ASSIGN_OR_RETURN(CompactRange range, CompactRange::FromPeaks(size, std::move(peaks)));
  // The chain head as stored (every commit stores it, in its run or as the
  // chain hash of a multiple of 256), never recomputed from events that the
  // start-up check has not compared with their leaves yet.
  std::string chain = GenesisChainHash();
  if (size % kChainEvery == 0) {
    EH_ASSIGN_OR_RETURN(chain, StoredChain(size));
  } else {
    EH_ASSIGN_OR_RETURN(LeafRuns runs,
                        ReadLeafRuns(TileId{0, size / kTileWidth}, size % kTileWidth));
    if (runs.chain_position != size) {
      return absl::DataLossError(absl::StrCat("integrity: the chain hash after position ", size,
                                              " is not stored (the last run ends at ",
                                              runs.chain_position, ")"));
    }
    chain = std::move(runs.chain);
  }
  absl::MutexLock lock(&mu_);
  tail_range_ = range;
  tail_edge_ = std::move(edge);
  tail_chain_ = chain;
  range_ = std::move(range);
  chain_head_ = std::move(chain);
  return absl::OkStatus();
}

uint64_t IntegrityLog::size() const {
  absl::MutexLock lock(&mu_);
  return range_.size();
}

absl::StatusOr<std::string> IntegrityLog::ReadTile(TileId tile) const {
  {
    absl::MutexLock lock(&mu_);
    const TileId edge = edge_.Partial(tile.level);
    if (tile.index == edge.index) return std::string(edge_.PartialEntries(tile.level));
    if (tile.index > edge.index) {
      return absl::OutOfRangeError(absl::StrCat(DescribeTile(tile), " is beyond the tree"));
    }
  }
  std::string value;
  rocksdb::Status s = store_->db()->Get(rocksdb::ReadOptions(), store_->ColumnFamily(kColumnFamily),
                                        tree_keys::TileKey(tile.level, tile.index), &value);
  if (s.IsNotFound()) {
    return absl::DataLossError(absl::StrCat("integrity: ", DescribeTile(tile), " is missing"));
  }
  EH_RETURN_IF_ERROR(ReadFailure(s, absl::StrCat("cannot read ", DescribeTile(tile))));
  if (value.size() != kTileBytes) {
    return absl::DataLossError(absl::StrCat("integrity: ", DescribeTile(tile), " is ", value.size(),
                                            " bytes, not ", kTileBytes));
  }
  return value;
}

absl::StatusOr<std::string> IntegrityLog::ReadNode(int level, uint64_t index,
                                                   ReadCache* cache) const {
  const TileId tile = TileOf(level, index);
  const uint64_t needed =
      ((index << (level % kTileHeight)) % kTileWidth + (uint64_t{1} << (level % kTileHeight))) *
      kHashSize;
  if (cache != nullptr) {
    for (const auto& [id, entries] : cache->tiles_) {
      if (id == tile && entries.size() >= needed) return NodeInTile(level, index, entries);
    }
  }
  EH_ASSIGN_OR_RETURN(std::string entries, ReadTile(tile));
  absl::StatusOr<std::string> node = NodeInTile(level, index, entries);
  if (cache != nullptr) {
    auto& tiles = cache->tiles_;
    for (auto it = tiles.begin(); it != tiles.end(); ++it) {
      if (it->first == tile) {
        tiles.erase(it);
        break;
      }
    }
    if (tiles.size() >= kCachedTiles) tiles.erase(tiles.begin());
    tiles.emplace_back(tile, std::move(entries));
  }
  return node;
}

absl::StatusOr<std::string> IntegrityLog::Root(uint64_t tree_size) const {
  {
    absl::MutexLock lock(&mu_);
    if (tree_size > range_.size()) {
      return BeyondTheLog("tree_size", tree_size, range_.size());
    }
    if (tree_size == range_.size()) return range_.Root();
  }
  ReadCache cache;
  return RangeHash(0, tree_size,
                   [this, &cache](int l, uint64_t i) { return ReadNode(l, i, &cache); });
}

absl::StatusOr<std::string> IntegrityLog::LeafHash(uint64_t position, ReadCache* cache) const {
  if (position == 0 || position > size()) {
    return absl::OutOfRangeError(absl::StrCat("no event at position ", position));
  }
  return ReadNode(0, position - 1, cache);
}

absl::StatusOr<std::string> IntegrityLog::ChainHashAt(uint64_t position) const {
  if (position == 0) return GenesisChainHash();
  {
    absl::MutexLock lock(&mu_);
    if (position > range_.size()) {
      return absl::OutOfRangeError(absl::StrCat("no chain hash at position ", position));
    }
    if (position == range_.size()) return chain_head_;
  }
  return ChainFrom(position);
}

absl::StatusOr<std::string> IntegrityLog::StoredChain(uint64_t position) const {
  if (position == 0) return GenesisChainHash();
  std::string chain;
  rocksdb::Status s = store_->db()->Get(rocksdb::ReadOptions(), store_->ColumnFamily(kColumnFamily),
                                        tree_keys::ChainKey(position), &chain);
  if (s.IsNotFound()) {
    return absl::DataLossError(
        absl::StrCat("integrity: the stored chain hash after position ", position, " is missing"));
  }
  EH_RETURN_IF_ERROR(
      ReadFailure(s, absl::StrCat("cannot read the chain hash after position ", position)));
  return chain;
}

absl::StatusOr<std::string> IntegrityLog::ChainFrom(uint64_t position) const {
  const uint64_t base = position - position % kChainEvery;
  EH_ASSIGN_OR_RETURN(std::string chain, StoredChain(base));
  if (base == position) return chain;
  ReadCache cache;
  return CarryChain(base, std::move(chain), position, &cache);
}

absl::Status IntegrityLog::WaitForStore(uint64_t position) const {
  // A commit the tree has taken is published to readers a moment later.
  for (int i = 0; store_->LastPosition() < position; ++i) {
    if (i == 10000) {
      return absl::InternalError(absl::StrCat("integrity: the store shows position ",
                                              store_->LastPosition(), " of the ", position,
                                              " the tree has, after 10 s"));
    }
    absl::SleepFor(absl::Milliseconds(1));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> IntegrityLog::CarryChain(uint64_t from, std::string chain, uint64_t to,
                                                     ReadCache* cache) const {
  EH_RETURN_IF_ERROR(WaitForStore(to));
  uint64_t next = from + 1;
  absl::Status inner;
  EH_RETURN_IF_ERROR(store_->ReadAll(
      next, storage::Direction::kForwards, to - from, storage::ReadFilter(),
      [&](const storage::EventPtr& e) {
        if (e->position() != next) {
          inner = absl::DataLossError(
              absl::StrCat("integrity: position ", next, " is missing from the log"));
          return false;
        }
        // Each event is checked against its stored leaf first: a chain
        // carried over a changed event would be signed as if it were true.
        absl::StatusOr<std::string> canonical = CanonicalRecord(*e);
        absl::StatusOr<std::string> stored = ReadNode(0, next - 1, cache);
        if (!canonical.ok() || !stored.ok()) {
          inner = canonical.ok() ? stored.status() : canonical.status();
          return false;
        }
        if (integrity::LeafHash(*canonical) != *stored) {
          const std::string problem =
              "its stored bytes no longer match the leaf hash the Merkle tree recorded when it "
              "was appended (found while computing a chain hash)";
          store_->MarkDamaged(next, problem);
          AddProblem(absl::StrCat("the event at position ", next, " is damaged: ", problem));
          inner = absl::DataLossError(
              absl::StrCat("the event at position ", next, " is damaged: ", problem,
                           "; the chain hash after position ", to,
                           " cannot be computed. Restore the data folder from a backup"));
          return false;
        }
        chain = ChainHash(chain, *canonical);
        ++next;
        return true;
      }));
  EH_RETURN_IF_ERROR(inner);
  if (next != to + 1) {
    return absl::DataLossError(absl::StrCat("integrity: the chain hash after position ", to,
                                            " cannot be computed: the log ends at position ",
                                            next - 1));
  }
  return chain;
}

absl::StatusOr<std::string> IntegrityLog::ChainHashAfter(const v1::RecordedEvent& event,
                                                         ReadCache* cache) const {
  const uint64_t p = event.position();
  std::string chain;
  if (!cache->chain_.empty() && cache->chain_position_ + 1 == p) {
    // The event is the caller's, checked against its leaf (CheckLeaf).
    EH_ASSIGN_OR_RETURN(std::string canonical, CanonicalRecord(event));
    chain = ChainHash(cache->chain_, canonical);
  } else if (!cache->chain_.empty() && cache->chain_position_ < p &&
             p - cache->chain_position_ <= kChainEvery && p <= size()) {
    // A filtered replay: carried from the last one it had.
    EH_ASSIGN_OR_RETURN(chain, CarryChain(cache->chain_position_, cache->chain_, p, cache));
  } else {
    EH_ASSIGN_OR_RETURN(chain, ChainHashAt(p));
  }
  cache->chain_position_ = p;
  cache->chain_ = chain;
  return chain;
}

absl::Status IntegrityLog::CheckLeaf(const v1::RecordedEvent& event, ReadCache* cache) const {
  EH_ASSIGN_OR_RETURN(std::string stored, LeafHash(event.position(), cache));
  EH_ASSIGN_OR_RETURN(std::string canonical, CanonicalRecord(event));
  if (integrity::LeafHash(canonical) == stored) return absl::OkStatus();
  const std::string problem =
      "its stored bytes no longer match the leaf hash the Merkle tree recorded when it was "
      "appended (found on a read)";
  store_->MarkDamaged(event.position(), problem);
  AddProblem(absl::StrCat("the event at position ", event.position(), " is damaged: ", problem));
  return absl::DataLossError(absl::StrCat("the event at position ", event.position(),
                                          " is damaged: ", problem,
                                          ". Restore the data folder from a backup"));
}

absl::StatusOr<v1::InclusionProof> IntegrityLog::InclusionProof(uint64_t position,
                                                                uint64_t tree_size) const {
  const uint64_t current = size();
  if (tree_size == 0) tree_size = current;
  if (tree_size > current) {
    return BeyondTheLog("tree_size", tree_size, current);
  }
  if (position == 0 || position > tree_size) {
    return WithErrorInfo(
        absl::OutOfRangeError(absl::StrCat("position: ", position, " is not in the tree of ",
                                           tree_size, " (positions 1 to ", tree_size, ")")),
        "BEYOND_END_OF_LOG", {{"field", "position"}, {"last_position", absl::StrCat(tree_size)}});
  }
  v1::InclusionProof proof;
  proof.set_position(position);
  proof.set_leaf_index(position - 1);
  proof.set_tree_size(tree_size);
  ReadCache cache;
  EH_ASSIGN_OR_RETURN(std::string leaf, ReadNode(0, position - 1, &cache));
  proof.set_leaf_hash(std::move(leaf));
  EH_ASSIGN_OR_RETURN(std::vector<std::string> path,
                      InclusionPath(position - 1, tree_size, [this, &cache](int l, uint64_t i) {
                        return ReadNode(l, i, &cache);
                      }));
  for (auto& h : path) proof.add_hashes(std::move(h));
  return proof;
}

absl::StatusOr<v1::ConsistencyProof> IntegrityLog::ConsistencyProof(uint64_t from_size,
                                                                    uint64_t to_size) const {
  const uint64_t current = size();
  const bool to_current = to_size == 0;
  if (to_current) to_size = current;
  if (to_size > current) {
    return BeyondTheLog("to_size", to_size, current);
  }
  if (from_size > to_size) {
    // Past the current tree, the log may yet grow to it (OUT_OF_RANGE);
    // past a given to_size it never can.
    if (to_current) return BeyondTheLog("from_size", from_size, current);
    return InvalidFieldError("from_size",
                             absl::StrCat(from_size, " is larger than to_size ", to_size));
  }
  v1::ConsistencyProof proof;
  proof.set_from_size(from_size);
  proof.set_to_size(to_size);
  ReadCache cache;
  EH_ASSIGN_OR_RETURN(std::vector<std::string> path,
                      ConsistencyPath(from_size, to_size, [this, &cache](int l, uint64_t i) {
                        return ReadNode(l, i, &cache);
                      }));
  for (auto& h : path) proof.add_hashes(std::move(h));
  return proof;
}

}  // namespace evenhand::integrity
