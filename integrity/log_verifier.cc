#include "integrity/log_verifier.h"

#include <map>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "base/big_endian.h"
#include "base/status_macros.h"
#include "integrity/canonical.h"
#include "integrity/integrity_log.h"
#include "integrity/merkle.h"
#include "integrity/signing.h"
#include "integrity/tiles.h"
#include "integrity/tree_keys.h"
#include "rocksdb/db.h"

namespace evenhand::integrity {
namespace {

std::string Hex(absl::string_view bytes) { return absl::BytesToHexString(bytes); }

// The first thing found wrong, kept while the walk goes on to the next
// signed root, which says whether the events or what is stored beside them
// were changed.
struct Problem {
  uint64_t position = 0;
  std::string what;
};

class Walker {
 public:
  Walker(const storage::EventStore& store, const std::vector<v1::SignedCheckpoint>& checkpoints)
      : store_(store),
        checkpoints_(checkpoints),
        cf_(store.ColumnFamily(IntegrityLog::kColumnFamily)) {
    read_.verify_checksums = true;
  }

  absl::StatusOr<std::optional<std::string>> Stored(const std::string& key) const {
    std::string value;
    rocksdb::Status s = store_.db()->Get(read_, cf_, key, &value);
    if (s.IsNotFound()) return std::optional<std::string>();
    if (!s.ok()) {
      return absl::DataLossError(
          absl::StrCat("cannot read the integrity column family: ", s.ToString()));
    }
    return std::optional<std::string>(std::move(value));
  }

  // Compares a tile the events complete with the stored one, entry by
  // entry; `position` is the event that completed it.
  void CheckTile(TileId tile, const std::string& entries, uint64_t position) {
    if (!status_.ok() || !tiled_) return;
    absl::StatusOr<std::optional<std::string>> stored =
        Stored(tree_keys::TileKey(tile.level, tile.index));
    const auto [first, last] = TilePositions(tile);
    if (!stored.ok()) {
      status_ = absl::DataLossError(absl::StrCat(
          "position ", position, ": the Merkle tree tile over positions ", first, "..", last,
          " cannot be read: ", stored.status().message()));
      return;
    }
    if (!*stored) {
      Note(position, absl::StrCat("the Merkle tree tile over positions ", first, "..", last,
                                  " (level ", tile.level, ", index ", tile.index, ") is missing"));
      return;
    }
    if ((*stored)->size() != entries.size()) {
      Note(position, absl::StrCat("the stored Merkle tree tile over positions ", first, "..", last,
                                  " is ", (*stored)->size(), " bytes, not ", entries.size()));
      return;
    }
    const int level = tile.level * kTileHeight;
    for (uint64_t j = 0; j < kTileWidth; ++j) {
      ++result_.nodes_checked;
      const absl::string_view want(entries.data() + j * kHashSize, kHashSize);
      const absl::string_view got((*stored)->data() + j * kHashSize, kHashSize);
      if (want == got) continue;
      const uint64_t index = tile.index * kTileWidth + j;
      const auto [from, to] = NodePositions(level, index);
      if (level == 0) {
        Note(to, absl::StrCat("its stored bytes hash to leaf ", Hex(want),
                              ", not to the leaf the tree recorded when it was appended (",
                              Hex(got), ")"));
      } else {
        Note(to, absl::StrCat("the stored Merkle tree node over positions ", from, "..", to,
                              " (level ", level, ", index ", index, ") is ", Hex(got),
                              " but the events hash to ", Hex(want)));
      }
      return;
    }
  }

  // The stored leaves of level-0 tile `tile`: the tile, or the runs of
  // leaves the commits since the last full tile stored.
  // The stored leaves of level-0 tile `tile`: the tile, or the runs of
  // leaves the commits since the last full tile stored, with the chain hash
  // each run stored after its last event (by that position).
  struct StoredTileLeaves {
    std::string leaves;
    std::map<uint64_t, std::string> chains;
  };
  std::optional<StoredTileLeaves> StoredLeaves(TileId tile) const {
    absl::StatusOr<std::optional<std::string>> stored = Stored(tree_keys::TileKey(0, tile.index));
    if (!stored.ok()) return std::nullopt;
    StoredTileLeaves out;
    if (*stored) {
      out.leaves = **std::move(stored);
      return out;
    }
    const uint64_t first = tile.index * kTileWidth + 1;
    const std::string end = tree_keys::LeafRunKey(first + kTileWidth);
    rocksdb::Slice upper(end);
    rocksdb::ReadOptions ro = read_;
    ro.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(store_.db()->NewIterator(ro, cf_));
    for (it->Seek(tree_keys::LeafRunKey(first)); it->Valid(); it->Next()) {
      const uint64_t at = ReadBigEndian64(std::string_view(it->key().data() + 1, 8));
      std::string_view leaves, chain;
      if (at != first + out.leaves.size() / kHashSize ||
          !tree_keys::SplitLeafRun(std::string_view(it->value().data(), it->value().size()),
                                   &leaves, &chain)) {
        break;
      }
      out.leaves.append(leaves);
      out.chains[first + out.leaves.size() / kHashSize - 1] = std::string(chain);
    }
    return out;
  }

  // Compares the leaves of the walk's partial level-0 tile with the stored
  // ones (a tile, if the log goes on past the walk, or the leaf runs), and
  // the chain hashes the runs stored with the ones the events give.
  void CheckPartialTile(const TileEdge& edge) {
    if (!tiled_ || problem_) return;
    const TileId tile = edge.Partial(0);
    const absl::string_view entries = edge.PartialEntries(0);
    std::optional<StoredTileLeaves> stored = StoredLeaves(tile);
    if (!stored) return;
    for (uint64_t j = 0; j * kHashSize < entries.size(); ++j) {
      const uint64_t position = tile.index * kTileWidth + j + 1;
      const absl::string_view want = entries.substr(j * kHashSize, kHashSize);
      if ((j + 1) * kHashSize > stored->leaves.size()) {
        Note(position, "the tree has no stored leaf for it");
        return;
      }
      const absl::string_view got =
          absl::string_view(stored->leaves).substr(j * kHashSize, kHashSize);
      ++result_.nodes_checked;
      if (want != got) {
        Note(position, absl::StrCat("its stored bytes hash to leaf ", Hex(want),
                                    ", not to the leaf the tree recorded when it was appended (",
                                    Hex(got), ")"));
        return;
      }
      auto chain = stored->chains.find(position);
      if (chain != stored->chains.end() && j < tile_chains_.size() &&
          chain->second != tile_chains_[j]) {
        Note(position, absl::StrCat("the chain hash its commit stored after it is ",
                                    Hex(chain->second), " but the events give ",
                                    Hex(tile_chains_[j])));
        return;
      }
    }
  }

  void Note(uint64_t position, std::string what) {
    if (problem_) return;
    problem_ = Problem{position, std::move(what)};
  }

  absl::StatusOr<LogVerification> Run(const std::function<void(uint64_t)>& progress) {
    result_.events = store_.LastPosition();
    result_.signed_size = checkpoints_.back().checkpoint().tree_size();
    // The layout: tiles (the tree holds the whole log, or the part a
    // catch-up had reached), or the older one, checked against the
    // signatures only (the server converts it on start).
    EH_ASSIGN_OR_RETURN(std::optional<std::string> layout, Stored(tree_keys::kLayoutKey));
    EH_ASSIGN_OR_RETURN(std::optional<std::string> old_size, Stored(tree_keys::kOldSizeKey));
    EH_ASSIGN_OR_RETURN(std::optional<std::string> catch_up, Stored(tree_keys::kCatchUpKey));
    uint64_t tree_size = 0;
    if (layout) {
      if (*layout != tree_keys::kTiledLayout) {
        return absl::DataLossError(absl::StrCat(
            "position 1: the copy's Merkle tree is in a layout this tool does not know (\"",
            *layout, "\")"));
      }
      tiled_ = true;
      tree_size = result_.events;
    } else if (old_size) {
      tree_size = old_size->size() == 8 ? ReadBigEndian64(*old_size) : 0;
    } else if (catch_up) {
      tiled_ = true;
      tree_size = catch_up->size() == 8 ? ReadBigEndian64(*catch_up) : 0;
    }
    if (result_.events < result_.signed_size) {
      return absl::DataLossError(absl::StrCat(
          "position ", result_.events + 1, ": missing: the log ends at position ", result_.events,
          " but the checkpoint it must match covers ", result_.signed_size, " events: positions ",
          result_.events + 1, "..", result_.signed_size, " are missing"));
    }
    CompactRange range;
    TileEdge edge;
    std::string chain = GenesisChainHash();
    auto next_checkpoint = checkpoints_.begin();
    // A checkpoint of the empty log (signed before the first append) has
    // the empty tree's root; the walk below meets the others.
    for (; next_checkpoint != checkpoints_.end() && next_checkpoint->checkpoint().tree_size() == 0;
         ++next_checkpoint) {
      if (next_checkpoint->checkpoint().root_hash() != EmptyTreeRoot()) {
        return absl::DataLossError(
            "position 1: the checkpoint of the empty log does not sign the empty tree's root");
      }
    }
    uint64_t expected = 1;
    absl::Status walked = store_.ReadAll(
        1, storage::Direction::kForwards, 0, storage::ReadFilter(),
        [&](const storage::EventPtr& e) {
          const uint64_t p = e->position();
          if (p != expected) {
            status_ = absl::DataLossError(absl::StrCat("position ", expected,
                                                       ": missing: the log goes from position ",
                                                       expected - 1, " to ", p));
            return false;
          }
          ++expected;
          absl::StatusOr<std::string> canonical = CanonicalRecord(*e);
          if (!canonical.ok()) {
            status_ = absl::DataLossError(absl::StrCat(
                "position ", p,
                ": the stored event cannot be encoded: ", canonical.status().message()));
            return false;
          }
          const std::string leaf = LeafHash(*canonical);
          range.Append(leaf, [&](int level, uint64_t index, const std::string& hash) {
            edge.Add(level, index, hash, [&](TileId tile, std::string entries) {
              if (p <= tree_size) CheckTile(tile, entries, p);
            });
          });
          chain = ChainHash(chain, *canonical);
          if ((p - 1) % kTileWidth == 0) tile_chains_.clear();
          tile_chains_.push_back(chain);
          absl::StatusOr<std::optional<std::string>> stored_chain =
              tiled_ && p % kChainEvery == 0 && p <= tree_size
                  ? Stored(tree_keys::ChainKey(p))
                  : absl::StatusOr<std::optional<std::string>>(std::optional<std::string>(chain));
          if (!stored_chain.ok()) {
            status_ = absl::DataLossError(absl::StrCat(
                "position ", p,
                ": the chain hash after it cannot be read: ", stored_chain.status().message()));
            return false;
          }
          if (!*stored_chain || **stored_chain != chain) {
            Note(p, !*stored_chain
                        ? std::string("the chain hash after it is missing")
                        : absl::StrCat("the stored chain hash after it is ", Hex(**stored_chain),
                                       " but the events give ", Hex(chain),
                                       " (the chain is stored every ", kChainEvery,
                                       " positions: the stored hash, or an event of positions ",
                                       p - kChainEvery + 1, "..", p,
                                       " with its tile rewritten to match, was changed)"));
          }
          if (next_checkpoint != checkpoints_.end() &&
              next_checkpoint->checkpoint().tree_size() == p) {
            const v1::SignedCheckpoint& c = *next_checkpoint++;
            if (range.Root() != c.checkpoint().root_hash()) {
              // The leaves so far of a tile the walk has not completed.
              CheckPartialTile(edge);
              status_ = Mismatch(c, range.Root());
              return false;
            }
            if (!c.checkpoint().chain_head().empty() && c.checkpoint().chain_head() != chain) {
              status_ = absl::DataLossError(absl::StrCat(
                  "position ", agreed_ + 1, ": the events up to position ", p,
                  " give chain head ", Hex(chain), " but the checkpoint of tree size ", p,
                  " signed chain head ", Hex(c.checkpoint().chain_head())));
              return false;
            }
            // The signed root vouches for the events so far: a stored hash
            // found wrong before it was changed beside them.
            agreed_ = p;
            if (problem_) return false;
          }
          if (progress && p % 100000 == 0) progress(p);
          return status_.ok();
        });
    if (!walked.ok()) {
      return absl::DataLossError(absl::StrCat(
          "position ", expected, ": cannot be read from the copy: ", walked.message()));
    }
    EH_RETURN_IF_ERROR(status_);
    if (tree_size == result_.events) CheckPartialTile(edge);
    if (problem_) return Reported(*problem_);
    if (next_checkpoint != checkpoints_.end()) {
      return absl::DataLossError(absl::StrCat(
          "position ", expected, ": the log ends at position ", expected - 1,
          " but a checkpoint covers ", next_checkpoint->checkpoint().tree_size(), " events"));
    }
    if (tree_size != result_.events) {
      return absl::DataLossError(absl::StrCat(
          "position ", std::min(tree_size, result_.events) + 1, ": the Merkle tree records ",
          tree_size, " leaves but the log holds ", result_.events, " events"));
    }
    result_.root = range.Root();
    result_.chain_head = chain;
    return result_;
  }

 private:
  absl::Status Reported(const Problem& p) const {
    return absl::DataLossError(absl::StrCat(
        "position ", p.position, ": ", p.what,
        p.position <= agreed_
            ? absl::StrCat(" (the events themselves hash to the root signed for tree size ",
                           agreed_, ": the hashes stored beside them were changed)")
            : absl::StrCat(" (after the last signed checkpoint, of tree size ", result_.signed_size,
                           ": nothing signed says whether the event or the stored hashes "
                           "were changed)")));
  }

  // The events up to a checkpoint do not hash to its root.
  absl::Status Mismatch(const v1::SignedCheckpoint& c, const std::string& root) const {
    const uint64_t size = c.checkpoint().tree_size();
    if (problem_) {
      return absl::DataLossError(absl::StrCat(
          "position ", problem_->position,
          ": the event was changed after it was signed: ", problem_->what,
          ", and the events up to position ", size, " do not hash to the root signed for them (",
          Hex(c.checkpoint().root_hash()), "; they give ", Hex(root), ")"));
    }
    return absl::DataLossError(absl::StrCat(
        "position ", agreed_ + 1, ": the events at positions ", agreed_ + 1, "..", size,
        " are not those that were signed: they hash to ", Hex(root),
        " but the checkpoint of tree size ", size, " signed root ", Hex(c.checkpoint().root_hash()),
        " (the tree and chain stored beside them were rewritten to match, so the first changed "
        "event is somewhere in that range; the events up to position ",
        agreed_, " match what was signed)"));
  }

  const storage::EventStore& store_;
  const std::vector<v1::SignedCheckpoint>& checkpoints_;
  rocksdb::ColumnFamilyHandle* const cf_;
  rocksdb::ReadOptions read_;
  LogVerification result_;
  absl::Status status_;
  std::optional<Problem> problem_;
  uint64_t agreed_ = 0;
  bool tiled_ = false;
  // The chain after each position of the walk's partial level-0 tile.
  std::vector<std::string> tile_chains_;
};

}  // namespace

absl::StatusOr<LogVerification> VerifyLog(const storage::EventStore& store,
                                          const std::vector<v1::SignedCheckpoint>& checkpoints,
                                          const v1::PublicKey& key,
                                          const std::function<void(uint64_t)>& progress) {
  if (checkpoints.empty()) {
    return absl::InvalidArgumentError("no signed checkpoint to verify the log against");
  }
  if (store.ColumnFamily(IntegrityLog::kColumnFamily) == nullptr) {
    return absl::DataLossError("the copy has no integrity column family: it holds no Merkle tree");
  }
  uint64_t previous = 0;
  for (const v1::SignedCheckpoint& c : checkpoints) {
    if (absl::Status s = VerifyCheckpoint(c, key); !s.ok()) {
      return absl::DataLossError(
          absl::StrCat("the checkpoint of tree size ", c.checkpoint().tree_size(),
                       " does not verify with key ", key.key_id(), ": ", s.message()));
    }
    if (c.checkpoint().log_id() != store.log_id()) {
      return absl::DataLossError(
          absl::StrCat("the checkpoint of tree size ", c.checkpoint().tree_size(), " is for log ",
                       c.checkpoint().log_id(), ", but the copy is of log ", store.log_id()));
    }
    if (c.checkpoint().tree_size() <= previous && previous != 0) {
      return absl::InvalidArgumentError("checkpoints must be in increasing tree size");
    }
    previous = c.checkpoint().tree_size();
  }
  Walker walker(store, checkpoints);
  return walker.Run(progress);
}

}  // namespace evenhand::integrity
