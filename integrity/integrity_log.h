// IntegrityLog: the hash chain, the Merkle tree and the signed checkpoints
// of the event log, kept in step with it.
//
// It is the store's commit hook: every group commit adds, in the same
// RocksDB batch as the events, the tree tiles and chain hashes its events
// complete, so the log and its tree can never disagree, not even after a
// crash. The tree is stored in tiles of 256 hashes (tiles.h) and the chain
// every 256 positions, so a group commit adds one key of its own (its
// events' leaves, as one run) and, every 256 events, a tile and a chain
// hash. The right edge (each tile level's partial tile) is kept in memory;
// on start it is rebuilt from the stored tiles and leaf runs. A log written
// before the tree existed, or with the tree in the older one-key-per-node
// layout, is hashed once, on the first start that finds it so.
//
// Signed checkpoints live in a CheckpointJournal outside RocksDB. The log
// never signs a tree that is not a consistent extension of the last one it
// signed, and on start it checks itself against the newest:
//   - a log shorter than the newest checkpoint, or whose tree at that size
//     has another root, is refused (DataLoss) with the positions that are
//     missing or differ;
//   - the events since that checkpoint are re-hashed and compared with the
//     leaves of their stored tiles and the stored chain hashes ("tail", the
//     default); "full" does this for every event and checks every
//     checkpoint in the journal. A stored event whose leaf no longer matches
//     is marked damaged in the store (its reads fail with DataLoss naming
//     it) and listed by problems().
//
// A background thread signs a checkpoint at every multiple of
// `checkpoint_every_events` (exactly that tree size, as soon as the commit
// that reaches it is durable), and of the tree as it stands when it has
// grown and `checkpoint_every` has passed; exports sign one too. So two
// consecutive checkpoints are never more than `checkpoint_every_events`
// apart. Each commits to the Merkle root, the chain head and the root of the
// stream-head map (StreamMapStore), which is brought up to the checkpoint's
// size just before it is signed.
//
// Column family "integrity" (tree_keys.h):
//   "t" u8(tile level) BE64(index) -> a full tile: 256 hashes (tiles.h)
//   "e" BE64(position)        -> the leaves one commit added to the partial
//                                level-0 tile, from `position`, and the
//                                chain hash after them (deleted, once the
//                                tile is written, after the next checkpoint)
//   "c" BE64(position)        -> chain hash after that event, for every
//                                position that is a multiple of 256
//   "f"                       -> "tiles-v1": the tree holds every event of
//                                the log (set once it has caught up)
//   "p"                       -> BE64(tree size) while a catch-up is under way
//   "j"                       -> the journal's path, set when it was started
//   "k" BE64(tree size)       -> SignedCheckpoint (before the journal; read
//                                once, to start the journal)
//   "m…", "M"                 -> the stream-head map (StreamMapStore), unless
//                                it has a RocksDB of its own (stream_map_dir)
// The older layout ("n" u8(level) BE64(index) -> every node, "c" after every
// position, "s" -> the tree size) is converted on start.
//
// Thread-safe. Must outlive its use by the store (until the store is closed).
#ifndef EVENHAND_INTEGRITY_INTEGRITY_LOG_H_
#define EVENHAND_INTEGRITY_INTEGRITY_LOG_H_

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "evenhand/v1/audit.pb.h"
#include "integrity/checkpoint_journal.h"
#include "integrity/merkle.h"
#include "integrity/signing.h"
#include "integrity/stream_map_store.h"
#include "integrity/tiles.h"
#include "rocksdb/status.h"
#include "storage/event_store.h"

namespace evenhand::integrity {

enum class StartupCheck {
  // The events since the newest signed checkpoint.
  kTail,
  // Every event, and every checkpoint in the journal.
  kFull,
};

struct IntegrityOptions {
  std::string signing_key_file;
  // Default: "<data_dir>.checkpoints.jsonl" (see CheckpointJournal).
  std::string journal_file;
  absl::Duration checkpoint_every = absl::Seconds(60);
  uint64_t checkpoint_every_events = 10000;
  StartupCheck startup_check = StartupCheck::kTail;
  // The log no longer extends the journal's newest checkpoint (it was
  // rolled back or lost acknowledged writes), or the journal is missing:
  // instead of refusing to start, move the journal aside and start a new
  // one. An operator's deliberate decision, logged at ERROR.
  bool start_new_journal = false;
  std::string server_version;
  // A folder for the stream-head map's own RocksDB (the server uses
  // "<data_dir>/stream-map"); empty: the map lives in the log's integrity
  // column family (tests, tools).
  std::string stream_map_dir;
  // A stream-head map further behind the tree than this many events (after
  // a restore, a lost map, a bulk load) is built by the checkpoint thread one
  // step at a time, letting go of the signing lock between steps; until the
  // checkpoint that ends it is signed, a checkpoint, an export or a
  // stream-head proof asked for is refused (UNAVAILABLE, STREAM_MAP_BUILDING,
  // with its progress) rather than kept waiting for the whole build (half an
  // hour at 10M events). Nearer, it is brought up under the lock as part of
  // the signing (a few seconds at most).
  uint64_t map_build_in_steps_over = 100000;
  // Test-only: called after each step of the map's build that leaves more
  // to do (under the signing lock, but between the steps of a build in
  // steps).
  std::function<void()> TEST_after_map_step;
  std::function<absl::Time()> clock = [] { return absl::Now(); };
};

class IntegrityLog final : public storage::CommitHook {
 public:
  static constexpr char kColumnFamily[] = "integrity";

  // Loads the signing key (refusing one that others can read), restores the
  // tree's right edge, hashes any events the tree has not seen yet, opens
  // the journal and checks the log against it, installs itself as the
  // store's commit hook and starts signing checkpoints. The store must have
  // been opened with kColumnFamily and `*store` must outlive this.
  static absl::StatusOr<std::unique_ptr<IntegrityLog>> Open(storage::EventStore* store,
                                                            IntegrityOptions options);
  ~IntegrityLog() override;

  // Stops the checkpoint thread after signing the tree as it stands.
  void Stop();
  // Stops it without signing: for a server whose start was refused after
  // this opened (a checkpoint then would vouch for a log it refused, e.g.
  // one shorter than its projection had folded).
  void Abandon();

  // storage::CommitHook: Prepare and Rewind on the store's sequencer
  // thread, the others on its writer thread.
  absl::Status Prepare(const std::vector<storage::EventPtr>& events,
                       rocksdb::WriteBatch* batch) override;
  void Committed() override;
  void Aborted() override;
  void Rewind() override;

  // What one caller's reads have fetched (tiles, the last chain hash), so
  // that a proof or a replay reads each tile once. Not thread-safe; use one
  // per call.
  class ReadCache {
   private:
    friend class IntegrityLog;
    std::vector<std::pair<TileId, std::string>> tiles_;
    uint64_t chain_position_ = 0;
    std::string chain_;  // after chain_position_; empty if none yet
  };

  // The number of events in the tree (equal to the log's last position).
  uint64_t size() const;
  // The root of the tree of `tree_size` (<= size(); 0 is the empty tree).
  absl::StatusOr<std::string> Root(uint64_t tree_size) const;
  absl::StatusOr<std::string> LeafHash(uint64_t position, ReadCache* cache = nullptr) const;
  // The chain hash after `position` (0: the genesis value): the stored one
  // at or before it, carried forward over the events in between (at most
  // 255 read and hashed).
  absl::StatusOr<std::string> ChainHashAt(uint64_t position) const;
  // The chain hash after `event`, from the one after the event before it
  // if `cache` has it (a replay in position order hashes each event once).
  absl::StatusOr<std::string> ChainHashAfter(const v1::RecordedEvent& event,
                                             ReadCache* cache) const;

  // Checks `event` against the leaf the tree recorded for it; on a mismatch
  // marks it damaged in the store and returns DataLoss naming it.
  absl::Status CheckLeaf(const v1::RecordedEvent& event, ReadCache* cache = nullptr) const;

  // tree_size 0 means the current tree.
  absl::StatusOr<v1::InclusionProof> InclusionProof(uint64_t position, uint64_t tree_size) const;
  absl::StatusOr<v1::ConsistencyProof> ConsistencyProof(uint64_t from_size, uint64_t to_size) const;

  // The checkpoint of exactly `tree_size`, or the latest for 0. NotFound if
  // none.
  absl::StatusOr<v1::SignedCheckpoint> Checkpoint(uint64_t tree_size) const;
  absl::StatusOr<std::vector<v1::SignedCheckpoint>> Checkpoints() const;
  // Signs the tree as it stands now (if no checkpoint covers it yet) and
  // returns the latest checkpoint. With `at_most_every`, not if the latest
  // was signed less than that long ago: then the latest is returned as it
  // is (so that callers cannot grow the journal with every append).
  // Unavailable while the stream-head map is built in steps (see
  // IntegrityOptions::map_build_in_steps_over), as ExportBundle and
  // ProveStreamHead are.
  absl::StatusOr<v1::SignedCheckpoint> CheckpointNow(
      absl::Duration at_most_every = absl::ZeroDuration());

  // Test-only: Stop() has been called.
  bool TEST_stopping() const {
    absl::MutexLock lock(&mu_);
    return stop_;
  }

  // Test-only: signs the tree of `tree_size` as the checkpoint thread does
  // for a multiple of the cadence (to reproduce it being overtaken).
  absl::StatusOr<v1::SignedCheckpoint> TEST_SignAndStore(uint64_t tree_size) {
    if (absl::Status built = BuildStreamMapInSteps(tree_size); !built.ok()) return built;
    return SignAndStore(tree_size);
  }

  // An investigation bundle of `events` (position order), proven against a
  // checkpoint signed now.
  absl::StatusOr<std::string> ExportBundle(const std::vector<storage::EventPtr>& events,
                                           const std::string& description,
                                           const std::string& selection);

  // How much work the stream-head map has done: checkpoints that updated
  // it, and the stream heads they wrote (for scripts/bench).
  struct MapStats {
    uint64_t updates = 0;
    uint64_t entries = 0;
    absl::Duration time;  // CPU time spent updating it
    // While it is built in steps: the events it still has to take in.
    uint64_t building_behind = 0;
  };
  MapStats map_stats() const;

  // `stream_id`'s head in the stream-head map as of the latest checkpoint,
  // with its proof; NotFound if the stream had no event then. A map behind
  // that checkpoint (its newest steps lost in a crash) is brought to it
  // first; Unavailable while it is built in steps.
  absl::StatusOr<v1::StreamHead> ProveStreamHead(const std::string& stream_id);

  // What the checks found wrong (damaged events, chain or tree nodes that
  // do not match the events, a refusal to sign), and the damage RocksDB's
  // checksums found on reads of the log's files (EventStore::damage_found);
  // empty when all is well.
  std::vector<std::string> problems() const;
  // While the checkpointer's signing fails (a full or unwritable journal
  // disk, damage): since when, how often it is tried again, and the last
  // failure, for an operator (GetStatus); empty once a signing succeeds.
  // Nothing served is wrong meanwhile, so it is not one of problems().
  std::string signing_stalled() const;

  const v1::PublicKey& public_key() const { return key_.public_key(); }
  // Signs a report statement (reporting/report_document.h) with the log's
  // key. Only text whose first line is "evenhand report v1" is signed: the
  // key also signs checkpoints and bundle manifests, and each kind of
  // message starts its own way so that none can pass for another.
  absl::StatusOr<std::string> SignReportStatement(absl::string_view statement) const;
  // Signs a backup's statement or seal (BackupStatement and
  // BackupSealStatement in backups.h): only text whose first line is
  // "evenhand backup v1" or "evenhand backup seal v1".
  absl::StatusOr<std::string> SignBackupStatement(absl::string_view statement) const;
  bool key_created() const { return key_created_; }
  // Whether the key made replaces one that signed this log's checkpoints
  // before (--start_new_checkpoint_journal after the key was lost): what
  // the log signed before verifies only against the old public key.
  bool key_replaced() const { return key_replaced_; }
  const std::string& journal_path() const { return journal_->path(); }

 private:
  IntegrityLog(storage::EventStore* store, IntegrityOptions options, SigningKey key);
  absl::Status Restore();
  absl::Status CatchUp();
  absl::Status OpenJournal();
  // The newest checkpoint against the log: DataLoss if the log is shorter or
  // differs.
  absl::Status CheckAgainstJournal();
  // Re-hashes events (from, to] and compares them with the stored leaves,
  // chain and tree; with `every_checkpoint`, also each journal checkpoint
  // in that range.
  absl::Status VerifyEvents(uint64_t from, uint64_t to, bool every_checkpoint);
  // The stored layout: converts the older one, and returns the tree's size.
  absl::StatusOr<uint64_t> OpenLayout();
  // The right edge of the tree of `size`, from its stored tiles and events.
  absl::StatusOr<TileEdge> RebuildEdge(uint64_t size) const;
  // The first `count` leaves of level-0 tile `tile`, from the runs stored
  // by the commits since the last full tile, and the chain hash after the
  // last run read. DataLoss unless the runs hold exactly those leaves.
  struct LeafRuns {
    std::string leaves;
    uint64_t chain_position = 0;
    std::string chain;
  };
  absl::StatusOr<LeafRuns> ReadLeafRuns(TileId tile, uint64_t count) const;
  absl::StatusOr<std::string> ReadNode(int level, uint64_t index, ReadCache* cache) const;
  // The tile's entries: stored if full, the committed edge's if partial.
  absl::StatusOr<std::string> ReadTile(TileId tile) const;
  // ChainHashAt without the check against the tree's size: from the stored
  // chain hash at or before `position`, carried forward.
  absl::StatusOr<std::string> ChainFrom(uint64_t position) const;
  // The chain hash stored after `position` (a multiple of kChainEvery).
  absl::StatusOr<std::string> StoredChain(uint64_t position) const;
  // Waits (at most 10 s) until the store shows `position`, which it does a
  // moment after the tree takes the commit.
  absl::Status WaitForStore(uint64_t position) const;
  // `chain` (the chain after `from`) carried over events from+1..to, each
  // checked against its stored leaf first (DataLoss naming a changed one).
  absl::StatusOr<std::string> CarryChain(uint64_t from, std::string chain, uint64_t to,
                                         ReadCache* cache) const;
  // Signs the tree of `tree_size` (committed, and not below the last
  // signed), with its chain head and the stream-head map brought to it.
  absl::StatusOr<v1::SignedCheckpoint> SignAndStore(uint64_t tree_size)
      ABSL_LOCKS_EXCLUDED(mu_, sign_mu_);
  absl::StatusOr<v1::SignedCheckpoint> SignAndStoreLocked(uint64_t tree_size)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(sign_mu_) ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<v1::SignedCheckpoint> CheckpointNowLocked()
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(sign_mu_);
  absl::StatusOr<v1::StreamHead> ProveStreamHeadLocked(const std::string& stream_id) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(sign_mu_);
  // Brings the stream-head map to `tree_size` and returns its root.
  absl::StatusOr<std::string> UpdateStreamMap(uint64_t tree_size)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(sign_mu_);
  // A map beyond `tree_size` (a log knowingly continued from an earlier
  // position) is emptied, to be built again: its size after.
  absl::StatusOr<uint64_t> ResetStreamMapIfAhead(uint64_t tree_size)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(sign_mu_);
  // The events one step of UpdateStreamMap takes in.
  uint64_t MapStep() const { return map_db_ != nullptr ? 10000 : 2000; }
  // On the checkpoint thread, before signing `tree_size`: a map further
  // behind than map_build_in_steps_over is brought to within a step of it,
  // one step per hold of sign_mu_ (map_build_ says so meanwhile).
  absl::Status BuildStreamMapInSteps(uint64_t tree_size) ABSL_LOCKS_EXCLUDED(sign_mu_, mu_);
  // Cancelled, saying where the map was left, once Stop() was called.
  absl::Status CancelIfStopping(uint64_t map_size, uint64_t tree_size) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // Unavailable (STREAM_MAP_BUILDING) while a build in steps is under way.
  absl::Status RefuseWhileMapBuilds() const ABSL_LOCKS_EXCLUDED(stats_mu_);
  // Whether the map is further behind `tree_size` than a build under the
  // lock may take in: then the checkpoint thread is asked to build it in
  // steps (map_build_ says so from now on).
  bool MapFarBehind(uint64_t tree_size) ABSL_EXCLUSIVE_LOCKS_REQUIRED(sign_mu_)
      ABSL_LOCKS_EXCLUDED(mu_, stats_mu_);
  // Brings a map behind `c` (its newest steps lost in a crash, or the map
  // lost) to it, checking that it gives the signed root; Unavailable if the
  // map is beyond it. Ends a build in steps that `c` covers.
  absl::Status MapAtCheckpoint(const v1::Checkpoint& c) ABSL_EXCLUSIVE_LOCKS_REQUIRED(sign_mu_)
      ABSL_LOCKS_EXCLUDED(mu_, stats_mu_);
  void AddProblem(std::string problem) const;
  // A RocksDB status met reading the tree or the chain, as FromRocks gives
  // it; a Corruption is damage the store keeps (EventStore::ReadFailure),
  // which problems() lists: health, status, and the next start.
  absl::Status ReadFailure(const rocksdb::Status& s, absl::string_view what) const;
  // Deletes the runs of leaves that full tiles replaced (after a checkpoint
  // is signed).
  void DropReplacedRuns() ABSL_EXCLUSIVE_LOCKS_REQUIRED(sign_mu_) ABSL_LOCKS_EXCLUDED(mu_);
  void FlushStreamMap() ABSL_LOCKS_EXCLUDED(sign_mu_);
  void RunCheckpointer();

  storage::EventStore* const store_;
  const IntegrityOptions options_;
  const SigningKey key_;
  bool key_created_ = false;
  bool key_replaced_ = false;
  // The tree is in the tiled layout and holds the whole log (set by
  // OpenLayout, or once the catch-up is done; Open() only).
  bool layout_done_ = false;
  std::unique_ptr<CheckpointJournal> journal_;
  // Whether the log records that its journal holds a checkpoint
  // (kJournalSignedKey), written after the journal's first one.
  bool journal_signed_recorded_ ABSL_GUARDED_BY(sign_mu_) = false;

  // Held while a checkpoint is checked against the last one, signed and
  // journaled, so two never interleave.
  mutable absl::Mutex sign_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  std::unique_ptr<rocksdb::Env> map_env_;  // outlives map_db_
  std::unique_ptr<rocksdb::DB> map_db_;    // before stream_map_, which uses it
  std::unique_ptr<StreamMapStore> stream_map_ ABSL_PT_GUARDED_BY(sign_mu_);
  // Runs before this position have been deleted.
  uint64_t dropped_runs_below_ ABSL_GUARDED_BY(sign_mu_) = 0;
  // The map's work, for metrics: a lock of its own, so that a scrape never
  // waits for a checkpoint or an export holding sign_mu_.
  mutable absl::Mutex stats_mu_ ABSL_ACQUIRED_AFTER(sign_mu_);
  uint64_t map_updates_ ABSL_GUARDED_BY(stats_mu_) = 0;
  uint64_t map_entries_updated_ ABSL_GUARDED_BY(stats_mu_) = 0;
  absl::Duration map_time_ ABSL_GUARDED_BY(stats_mu_);
  // A build in steps under way, from its first step until the checkpoint
  // that ends it is signed: where the map is, and the size it is built to.
  struct MapBuild {
    uint64_t at = 0;
    uint64_t to = 0;
  };
  std::optional<MapBuild> map_build_ ABSL_GUARDED_BY(stats_mu_);

  mutable absl::Mutex mu_;
  CompactRange range_ ABSL_GUARDED_BY(mu_);
  TileEdge edge_ ABSL_GUARDED_BY(mu_);
  std::string chain_head_ ABSL_GUARDED_BY(mu_);
  uint64_t signed_size_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time signed_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  // After a failed signing, the checkpointer tries again no sooner than
  // this, however many events are waiting (RunCheckpointer).
  absl::Time retry_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  // The checkpointer's failure since its last success (signing_stalled()).
  bool signing_failed_ ABSL_GUARDED_BY(mu_) = false;
  std::string signing_failure_ ABSL_GUARDED_BY(mu_);
  absl::Time signing_failed_since_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  // The checkpoint thread is to bring the map to the log now, not at the
  // next checkpoint due (MapFarBehind, or a map behind the log at Open).
  bool map_build_requested_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<bool> abandoned_{false};
  mutable std::vector<std::string> problems_ ABSL_GUARDED_BY(mu_);

  // Groups prepared but not yet committed, oldest first: each the tree and
  // chain head as they will be once it is durable, and its events.
  struct Prepared {
    CompactRange range;
    TileEdge edge;
    std::string chain;
    std::vector<storage::EventPtr> events;
  };
  std::deque<Prepared> prepared_ ABSL_GUARDED_BY(mu_);
  // Committed events the stream-head map has not taken yet, in position
  // order (at most kMaxUnmapped; beyond, the map reads them from the store).
  static constexpr size_t kMaxUnmapped = 200000;
  std::deque<storage::EventPtr> unmapped_ ABSL_GUARDED_BY(mu_);
  // The tree and chain head after the last prepared group: the sequencer
  // thread's (and Open()'s before the hook is installed).
  CompactRange tail_range_;
  TileEdge tail_edge_;
  std::string tail_chain_;

  std::thread checkpointer_;
};

// The journal path for a data folder when none is configured.
std::string DefaultJournalPath(const std::string& data_dir);

}  // namespace evenhand::integrity

#endif  // EVENHAND_INTEGRITY_INTEGRITY_LOG_H_
