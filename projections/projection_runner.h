// ProjectionRunner: keeps the fairness projection up to date with the log.
//
// On start it restores the projection from its checkpoint (or starts from
// position 1 if there is none, if it was written by another state version,
// or if it cannot be read), then follows the log
// (the backlog first, read in bulk), then through a storage subscription,
// folding events as they commit. Every `checkpoint_every_events` events or
// `checkpoint_every` (only the latter while catching up, when every case is
// new; at the end of the catch-up; once no event has come for
// `checkpoint_when_idle`; and on Stop) it writes the cases
// changed since the last checkpoint, together with the position they
// reflect, in one atomic RocksDB batch. A crash loses at most the work since
// the last checkpoint, which is refolded on restart. (While the findings
// index is seeded, the subjects it decides are also written between
// checkpoints; they count only once a checkpoint writes the index's header.)
//
// The checkpoint also holds the cases' facts that leave memory: past
// `case_cache_bytes`, the projection reads them back from it. One that
// cannot be read back stops the fold (health()); reports are refused until
// a restart.
//
// The checkpoint is a cache of the log, not evidence: one RocksDB finds
// damaged (a bad block, a broken table file) is moved aside to
// "<checkpoint_dir>.damaged" and the log folded again from position 1,
// never refused and never read again.
//
// Start() reads only the checkpoint's version and position (and refuses a
// checkpoint ahead of the log); the cases and the findings index are read
// on the fold thread, so a server serves appends and proofs at once after a
// restart however long its history. Until they are read, position() is 0
// and WaitForPosition() waits, so no report is built from part of them.
//
// Thread-safe: one thread folds; Read() gives readers a consistent view.
#ifndef EVENHAND_PROJECTIONS_PROJECTION_RUNNER_H_
#define EVENHAND_PROJECTIONS_PROJECTION_RUNNER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "projections/fairness_projection.h"
#include "rocksdb/file_system.h"
#include "storage/disk_space.h"
#include "storage/event_store.h"

namespace rocksdb {
class DB;
class Env;
struct Options;
}  // namespace rocksdb

namespace evenhand::projections {

struct RunnerOptions {
  // The folder of the checkpoint: a RocksDB of its own, created if missing.
  // Not the log's: a checkpoint writes megabytes at once, and in the log's
  // database that write would queue ahead of appends waiting to be synced.
  std::string checkpoint_dir;
  size_t checkpoint_every_events = 10000;
  absl::Duration checkpoint_every = absl::Seconds(60);
  // Also checkpoints what is unsaved once the log has been quiet this long:
  // the work lands between bursts of appends rather than inside the next
  // one, and a crash after a burst refolds less.
  absl::Duration checkpoint_when_idle = absl::Seconds(1);
  // The checkpoint database's block cache, which reports read the stored
  // findings and figure changes through.
  size_t block_cache_bytes = 32 << 20;
  // The cases' bodies (their facts) are kept in memory up to about this
  // many bytes (serialised; parsed, several times that), the rest
  // read back from the checkpoint when a decision or a report needs them.
  // The registry's cases, and those changed since the last checkpoint, are
  // always held; a checkpoint is taken early when the latter outgrow it.
  // Without a checkpoint to read back from (read-only, or one that cannot
  // be written), every body is held.
  size_t case_cache_bytes = 64 << 20;
  // The events handed to the fold at a time: at most 4,096, and about this
  // many bytes as stored (the catch-up reads up to kQueuedChunks such
  // chunks ahead). A run of large events (a publisher's batch of 60 KB
  // texts, say) is then folded a few megabytes at a time, with the
  // checkpoint's turn between, instead of hundreds of megabytes at once.
  size_t fold_batch_bytes = 8 << 20;
  // How many cases the findings index decides at a time when it is seeded
  // (after a rebuild, or restored without its own checkpoint): reports wait
  // out one slice, and its subjects are then written ahead of the index's
  // first checkpoint.
  size_t seed_slice_cases = 2048;
  // Discard any checkpoint and fold the whole log again.
  bool rebuild = false;
  // The log is open read-only (a full disk): open the checkpoint read-only
  // too (or fold from position 1 without one) and never write it.
  bool read_only = false;
  // A checkpoint is not written while the disk has less free than this
  // (the log's floor): it is only a cache, and appends come first.
  uint64_t min_free_bytes = 0;
  // Free bytes on the disk; tests inject one. Default statvfs.
  std::function<absl::StatusOr<uint64_t>()> free_bytes;
  // Keep the findings index (FairnessProjection::IndexFindings) for reports
  // with these settings and calendar. Without, every report derives its
  // findings from the cases.
  std::optional<FairnessSettings> index_settings;
  std::optional<WorkingDayCalendar> index_calendar;
  // Test-only: called before each batch of events is folded.
  std::function<void()> TEST_before_fold;
  // Test-only: called as each event is folded, under the projection's lock
  // (a slow fold: an event into a case of thousands of facts).
  std::function<void()> TEST_fold_event;
  // Test-only: called before each chunk of checkpointed cases is read.
  std::function<void()> TEST_before_load;
  // Test-only: called before each chunk of the findings index is read back
  // (reports are served meanwhile, derived from the cases).
  std::function<void()> TEST_before_findings_load;
  // Test-only: called before a case's body is read back from the
  // checkpoint; an error fails the read.
  std::function<absl::Status(const std::string& stream_id)> TEST_case_read;
  // Test-only: called with how many subjects and entries each seeding
  // slice wrote ahead of the findings index's first checkpoint.
  std::function<void(size_t subjects, size_t entries)> TEST_seeded_written;
  // Test-only: the file system the checkpoint's RocksDB goes through
  // (default: the platform's), to make its disk fail.
  std::shared_ptr<rocksdb::FileSystem> TEST_file_system;
};

class ProjectionRunner {
 public:
  // `store` must outlive the runner.
  static absl::StatusOr<std::unique_ptr<ProjectionRunner>> Start(storage::EventStore* store,
                                                                 RunnerOptions options);
  ~ProjectionRunner();

  // Stops following the log and writes a final checkpoint. Call before the
  // store is closed. Idempotent.
  void Stop();
  // After Stop(): flushes the checkpoint's database (the next start has no
  // WAL to replay) and closes it; nothing is read from it afterwards. The
  // destructor does it if this was not called. Idempotent.
  void Close();

  // Waits until the projection has folded `position`; false on timeout, or
  // at once once the fold has stopped short of it (fold_stopped()).
  bool WaitForPosition(uint64_t position, absl::Time deadline) const;
  // The last position folded (0 while the checkpoint's cases are still
  // being read).
  uint64_t position() const;
  // The position of the last checkpoint written or read.
  uint64_t checkpointed_position() const;

  // While the checkpoint is being read after a start: the position it was
  // taken at and the cases read so far. nullopt once it is read (reports
  // are served, derived, from when the cases are: WaitForPosition).
  struct Loading {
    uint64_t position = 0;
    size_t cases_read = 0;
  };
  std::optional<Loading> loading() const;
  // While the findings index is read back after a start (reports are
  // derived from the cases meanwhile, and hold that reading up while they
  // are built): a report that would take long derived gives way and waits
  // for it (FairnessService). Lock-free: asked while a report reads.
  bool reading_findings_back() const {
    return reading_findings_back_.load(std::memory_order_acquire);
  }
  // How long that reading may still take (zero once done): twice what
  // reading the cases' skeletons took (1.9-2.1 times at 1M and 10M events
  // on the 2-core machine of docs/PERFORMANCE.md), less the share of the
  // subjects read so far, one per case at most. An estimate, lock-free.
  absl::Duration findings_reading_left() const;
  // Whether a report the index will answer may be derived while the index
  // is read back. Each derived report holds the projection's lock for its
  // whole build, and the reading waits for it: a stream of them kept the
  // index from serving for as long as they came (at 1M events, the twenty
  // reports after a restart's first were all derived, 144 ms p50, against
  // 4.4 ms from the index). So only while the reports derived so far took
  // less than a third of the time since the reading began, and its first
  // kDeriveAtFirst; other reports wait for it (FairnessService). A report
  // is counted once built, so reports arriving together are all let in:
  // the share holds for reports that come one after another. Reports the
  // index will not answer (as of a position before it was seeded) are
  // derived whatever the share, and not counted. Lock-free.
  bool MayDeriveWhileReading() const;
  // A report was derived while the index was read back, in `took`.
  void DerivedWhileReading(absl::Duration took) const;
  static constexpr absl::Duration kDeriveAtFirst = absl::Milliseconds(500);
  // Reports as of a position from here on will be served by the index once
  // it is read back (its checkpoint's complete_from); UINT64_MAX until that
  // is known, or if it will serve none: a report the index will not answer
  // has nothing to wait for.
  uint64_t findings_will_serve_from() const {
    return findings_will_serve_from_.load(std::memory_order_relaxed);
  }
  // Waits until the start has read the checkpoint whole (or the runner
  // stops); false on timeout, or if it stopped first (stopped()). Takes no
  // lock: a report that gave way waits here in slices, many at once.
  bool WaitUntilLoaded(absl::Time deadline) const;
  // Stop() was called (lock-free).
  bool stopped() const { return stopping_.load(std::memory_order_acquire); }
  // How the last start read the checkpoint, once it has: how long it took
  // (cases and findings index), and how many cases' facts it read whole
  // (none when it filed them by their skeletons).
  struct Loaded {
    absl::Duration took;
    size_t cases_read_whole = 0;
  };
  std::optional<Loaded> loaded() const;
  // The checkpoints written since the start: how many, their bytes, and the
  // wall-clock time the fold thread spent on them (building the batch and
  // the write).
  struct Written {
    uint64_t checkpoints = 0;
    uint64_t bytes = 0;
    absl::Duration took;
  };
  Written written() const;

  // OK, or why the projection can no longer be trusted (a case's body could
  // not be read back from the checkpoint): it has stopped folding, and no
  // report may be built from it until a restart.
  absl::Status health() const;
  // OK, or why the fold stopped short of the log's end: the log could not
  // be read past the position it reached (damage RocksDB found in the
  // log's files). Reports as of a later position cannot be built until the
  // data folder is restored.
  absl::Status fold_stopped() const;

  // What GetStatus shows, which must not wait for a report: a reader of the
  // projection waits behind the fold whenever the fold waits for a report
  // (found from outside: `evenhand status` timed out behind a minute-long
  // report). position() as the fold last published it (after each slice it
  // folds, and as the checkpoint is read): an atomic; and fold_stopped(),
  // under a small mutex of its own. Neither takes the projection's lock.
  uint64_t published_position() const {
    return published_position_.load(std::memory_order_acquire);
  }
  absl::Status published_fold_stopped() const;

  // Runs `read` on the projection, which does not change meanwhile.
  void Read(const std::function<void(const FairnessProjection&)>& read) const;

  // Writes a checkpoint now (tests); normally the fold thread does this.
  absl::Status CheckpointForTest();

 private:
  // Chunks read and parsed ahead of the fold (TwoStages), bounding memory.
  static constexpr size_t kQueuedChunks = 4;

  ProjectionRunner(storage::EventStore* store, RunnerOptions options);
  // At Start: the checkpoint's version and position; resets one that
  // cannot be used, replaces a damaged one, refuses one ahead of the log.
  absl::Status OpenCheckpoint();
  // On the fold thread: reads the checkpointed cases (discarding a
  // checkpoint that cannot be read, to fold the log from position 1), then
  // the findings index. False if stopped meanwhile.
  bool Load() ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status LoadCases() ABSL_EXCLUSIVE_LOCKS_REQUIRED(fold_mu_) ABSL_LOCKS_EXCLUDED(mu_);
  // LoadCases() of a checkpoint with skeletons, its bodies left to be read
  // back; of one without (kCasesOnlyStateVersion), every case whole, then
  // (unless read-only) its skeletons written and the version raised.
  absl::Status LoadSkeletons() ABSL_EXCLUSIVE_LOCKS_REQUIRED(fold_mu_) ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status LoadWholeCases() ABSL_EXCLUSIVE_LOCKS_REQUIRED(fold_mu_)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Discards the checkpoint and what was read of it: the log is folded
  // from position 1.
  absl::Status ResetCheckpoint() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Opens the checkpoint's database (db_); with `damaged` (by `why`), or
  // when RocksDB finds it damaged, moves it aside first and makes a new one
  // (none, db_ null, if that fails: logged, never refused).
  absl::Status OpenDatabase(bool damaged, const absl::Status& why = absl::OkStatus());
  // A damaged checkpoint (`why`): forgets what was read of it, replaces the
  // database with a new one and resets it; if that fails, logs it and marks
  // the checkpoint broken (never refuses). The files are moved outside mu_.
  void ReplaceDamagedCheckpoint(const absl::Status& why)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(fold_mu_) ABSL_LOCKS_EXCLUDED(mu_);
  // Forgets what was read of it, leaving the checkpoint as it is.
  void ForgetCheckpoint() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Lets the projection drop checkpointed cases' bodies from memory and
  // read them back from db_, if the checkpoint is written.
  void KeepCasesInCheckpoint() ABSL_EXCLUSIVE_LOCKS_REQUIRED(fold_mu_, mu_);
  // After folding: false, logged once, if the projection can no longer be
  // trusted (health()).
  bool Healthy() ABSL_EXCLUSIVE_LOCKS_REQUIRED(fold_mu_) ABSL_LOCKS_EXCLUDED(mu_);
  // Once a body could not be read back because the checkpoint is damaged
  // (checkpoint_damage()), marks it so (kDamagedKey, synced): the next start
  // moves it aside and folds the log again.
  void MarkDamage() ABSL_EXCLUSIVE_LOCKS_REQUIRED(fold_mu_) ABSL_LOCKS_EXCLUDED(mu_);
  // Creates the findings index, from its checkpoint if usable.
  absl::Status RestoreFindings() ABSL_EXCLUSIVE_LOCKS_REQUIRED(fold_mu_) ABSL_LOCKS_EXCLUDED(mu_);
  // Before each chunk RestoreFindings files under mu_: waits while a report
  // waits for mu_ (up to 100 ms).
  void LetReportsIn() const ABSL_LOCKS_EXCLUDED(mu_);
  // While RestoreFindings reads the index back, on a thread of its own:
  // folds the events from position `from` on (appended since the
  // checkpoint, or as the start goes on) as they come, up to
  // kMostFoldedAhead, until `done`. Their cases file them at once, so a
  // report as of one is derived without waiting for the whole index (at
  // 10M events, seconds); the index decides them once whole, under mu_ in
  // one go (FairnessProjection::DeferFindingsUntilRestored), hence the
  // bound: a few milliseconds of reports held back for a restart's usual
  // handful, a second at worst (an event deciding thousands of briefings
  // on one matter), and a larger backlog is folded after the load, in
  // slices, as before. Changes the projection only under mu_, on behalf of
  // RestoreFindings (which holds fold_mu_); calls no TEST_before_fold.
  // Returns how many it folded.
  uint64_t FoldWhileFindingsRestored(uint64_t from, const std::atomic<bool>& done)
      ABSL_LOCKS_EXCLUDED(mu_);
  static constexpr uint64_t kMostFoldedAhead = 256;
  // Folds `count` events (`apply(i)` folds the i-th) under mu_, in slices
  // of at most kFoldSlice: between two, a reader waiting for mu_ (a report,
  // /metrics) goes first, up to 100 ms. An event into a case of thousands
  // of facts takes milliseconds, and a batch is up to 4,096 events: held
  // whole, a report would wait past fairness.reportWaitSeconds.
  // False when it stopped part way because the runner is stopping.
  bool FoldSliced(size_t count, const std::function<void(size_t)>& apply) ABSL_LOCKS_EXCLUDED(mu_);
  static constexpr absl::Duration kFoldSlice = absl::Milliseconds(5);
  absl::Status Checkpoint() ABSL_EXCLUSIVE_LOCKS_REQUIRED(fold_mu_) ABSL_LOCKS_EXCLUDED(mu_);
  // While the findings index is seeded: writes the entries and subjects it
  // has decided or changed since the last call, and lets them go, so that
  // its first checkpoint does not write them all at once on the fold's
  // thread, nor memory hold them all until then. Only over a checkpoint
  // that holds cases (at a position past 0): a start at 0 deletes nothing of
  // the index. What fails to be written is left to that checkpoint.
  absl::Status SaveSeeded() ABSL_EXCLUSIVE_LOCKS_REQUIRED(fold_mu_) ABSL_LOCKS_EXCLUDED(mu_);
  // Whether there is a checkpoint this process may write: a database, not
  // read-only, and not found unreadable at start.
  bool CheckpointWritable() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(fold_mu_) {
    return db_ != nullptr && !options_.read_only && !checkpoint_broken_;
  }
  // A checkpoint, its failure logged once. True when freed memory is due
  // to be handed back (ReturnFreedMemory(), called holding no lock: it
  // walks the whole heap).
  [[nodiscard]] bool CheckpointLogged() ABSL_EXCLUSIVE_LOCKS_REQUIRED(fold_mu_)
      ABSL_LOCKS_EXCLUDED(mu_);
  // `idle`: how long no event has come (zero while they do).
  bool CheckpointDue(bool catching_up, absl::Duration idle = absl::ZeroDuration()) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(fold_mu_) ABSL_LOCKS_EXCLUDED(mu_);
  // Folds the log up to its current end, reading stored bytes in chunks:
  // parsed outside the lock, each payload moved into the projection.
  absl::Status CatchUp() ABSL_LOCKS_EXCLUDED(mu_);
  void Follow();

  storage::EventStore* const store_;
  const RunnerOptions options_;
  std::unique_ptr<storage::DiskSpace> disk_;
  std::unique_ptr<rocksdb::Env> env_;
  std::unique_ptr<rocksdb::Options> db_options_;
  std::unique_ptr<rocksdb::DB> db_;  // the checkpoint's; closed after the last one
  bool db_closed_ = false;  // Close()d
  // The findings index's checkpointed entries, read back from db_.
  std::unique_ptr<StoredFindings> stored_findings_;
  // The cases' bodies, read back from db_ (see case_cache_bytes); null
  // while the projection keeps every body in memory.
  std::unique_ptr<StoredCases> stored_cases_ ABSL_GUARDED_BY(fold_mu_);
  // Folding a whole log from position 1 (a rebuild, a first start), or
  // restored without a usable findings checkpoint: the findings index is
  // created once the backlog is folded, and decides each case once from
  // there (seeding), instead of deciding it again at each of its events.
  // Set and read by the fold thread alone.
  bool index_after_catch_up_ = false;

  // Held by whoever changes the projection or its checkpoint state (the
  // fold thread; Stop() and tests once it is done), so a checkpoint can
  // serialise cases under a shared lock of mu_ while reports read on.
  absl::Mutex fold_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  // Writing what the seeding decided ahead failed (said once).
  bool seeded_failing_ ABSL_GUARDED_BY(fold_mu_) = false;
  // The last checkpoint failed (said once until one succeeds).
  bool checkpoint_failing_ ABSL_GUARDED_BY(fold_mu_) = false;
  // The checkpoint could not be read, or reset, at start: it is neither
  // written nor read back (its entries may be stale) until the next start.
  bool checkpoint_broken_ ABSL_GUARDED_BY(fold_mu_) = false;
  // When freed memory was last handed back to the system.
  absl::Time memory_returned_at_ ABSL_GUARDED_BY(fold_mu_) = absl::InfinitePast();
  // Said that the projection can no longer be trusted.
  bool unhealthy_said_ ABSL_GUARDED_BY(fold_mu_) = false;
  // Set by the fold thread when a read of the log failed (not a stop).
  absl::Status fold_stopped_ ABSL_GUARDED_BY(mu_);
  void FoldStopped(const absl::Status& why);
  // Marked the checkpoint damaged (MarkDamage), or failed to (said once).
  bool damage_marked_ ABSL_GUARDED_BY(fold_mu_) = false;
  bool damage_mark_failing_ ABSL_GUARDED_BY(fold_mu_) = false;
  // Readers share it; the fold takes it alone only while applying events.
  mutable absl::Mutex mu_;
  // Readers from outside the fold (reports, metrics) waiting for mu_: the
  // findings index's restore, which takes it a chunk at a time back to
  // back, lets them in first.
  mutable std::atomic<int> readers_waiting_{0};
  // published_position() and published_fold_stopped(): Publish() under mu_
  // wherever the position or cases_loaded_ changes.
  void Publish() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::atomic<uint64_t> published_position_{0};
  mutable absl::Mutex published_mu_;
  absl::Status published_stopped_ ABSL_GUARDED_BY(published_mu_);
  FairnessProjection projection_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  // stop_, and loaded_, for waiters that take no lock: set under mu_ with
  // them; load_ended_ is notified (once) when either is first set.
  std::atomic<bool> stopping_{false};
  std::atomic<bool> load_done_{false};
  absl::Notification load_ended_;
  void EndLoadWait() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!load_ended_.HasBeenNotified()) load_ended_.Notify();
  }
  // The position the checkpoint was taken at (OpenCheckpoint), then whether
  // the fold thread has read it (Load) and how many cases so far.
  uint64_t checkpoint_position_ = 0;
  // Whether it holds each case's skeleton (kStateVersion).
  bool skeletons_stored_ = false;
  bool loaded_ ABSL_GUARDED_BY(mu_) = false;
  // The cases are read: reports may be served (derived from the cases
  // while the findings index is still being read back: it serves none until
  // it is whole). Checkpoints still wait for loaded_.
  bool cases_loaded_ ABSL_GUARDED_BY(mu_) = false;
  // cases_loaded_ && !loaded_, set under mu_ (reading_findings_back()).
  std::atomic<bool> reading_findings_back_{false};
  // For MayDeriveWhileReading(): set before reading_findings_back_.
  std::atomic<int64_t> reading_since_nanos_{0};
  mutable std::atomic<int64_t> derived_while_reading_nanos_{0};
  // For findings_reading_left(): set before reading_findings_back_.
  std::atomic<int64_t> skeletons_took_nanos_{0};
  std::atomic<size_t> cases_filed_{0};
  std::atomic<size_t> subjects_filed_{0};
  std::atomic<uint64_t> findings_will_serve_from_{UINT64_MAX};
  // Peeks at the checkpoint's findings index: where it will answer from
  // once read back (UINT64_MAX: it will not be, or answers nothing).
  uint64_t FindingsWillServeFrom() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(fold_mu_);
  size_t cases_read_ ABSL_GUARDED_BY(mu_) = 0;
  Loaded loaded_how_ ABSL_GUARDED_BY(mu_);
  uint64_t checkpointed_position_ ABSL_GUARDED_BY(mu_) = 0;
  // What the last checkpoint wrote per event folded since the one before:
  // the next one's batch is reserved by it.
  uint64_t checkpoint_bytes_per_event_ ABSL_GUARDED_BY(mu_) = 0;
  Written written_ ABSL_GUARDED_BY(mu_);
  absl::Time checkpointed_at_ ABSL_GUARDED_BY(mu_);
  // How long the last checkpoint written took to build and write.
  absl::Duration last_checkpoint_took_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace evenhand::projections

#endif  // EVENHAND_PROJECTIONS_PROJECTION_RUNNER_H_
