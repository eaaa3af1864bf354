// ProjectionRunner: starting, following the log (the backlog in bulk, then
// a subscription), stopping, and the readers' view. Reading the checkpoint
// is in projection_runner_load.cc, writing it in
// projection_runner_checkpoint.cc, its layout in internal/checkpoint_store.h.
#include "projections/projection_runner.h"

#include <algorithm>
#include <filesystem>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/big_endian.h"
#include "base/free_memory.h"
#include "base/logging.h"
#include "base/status_macros.h"
#include "base/thread_name.h"
#include "projections/internal/checkpoint_store.h"
#include "projections/internal/two_stages.h"
#include "rocksdb/db.h"
#include "rocksdb/table.h"
#include "rocksdb/write_batch.h"
#include "storage/rocksdb_support.h"

namespace evenhand::projections {

using internal::FromRocks;

namespace {

// mu_ shared, for a reader from outside the fold (a report, the metrics),
// counted in `waiting` while it waits: the findings index's restore, which
// takes mu_ a chunk at a time back to back, lets such readers in first
// (ProjectionRunner::LetReportsIn).
class ABSL_SCOPED_LOCKABLE ReportReaderLock {
 public:
  ReportReaderLock(absl::Mutex* mu, std::atomic<int>* waiting) ABSL_SHARED_LOCK_FUNCTION(mu)
      : mu_(mu) {
    waiting->fetch_add(1, std::memory_order_relaxed);
    mu_->ReaderLock();
    waiting->fetch_sub(1, std::memory_order_relaxed);
  }
  ~ReportReaderLock() ABSL_UNLOCK_FUNCTION() { mu_->ReaderUnlock(); }
  ReportReaderLock(const ReportReaderLock&) = delete;
  ReportReaderLock& operator=(const ReportReaderLock&) = delete;

 private:
  absl::Mutex* const mu_;
};

}  // namespace

ProjectionRunner::ProjectionRunner(storage::EventStore* store, RunnerOptions options)
    : store_(store), options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<ProjectionRunner>> ProjectionRunner::Start(
    storage::EventStore* store, RunnerOptions options) {
  if (options.checkpoint_dir.empty()) {
    return absl::InvalidArgumentError("projections: no checkpoint folder given");
  }
  std::unique_ptr<ProjectionRunner> runner(new ProjectionRunner(store, std::move(options)));
  storage::DiskSpaceOptions space;
  space.dir = runner->options_.checkpoint_dir;
  space.floor_bytes = runner->options_.min_free_bytes;
  space.reserve_bytes = 0;
  space.free_bytes = runner->options_.free_bytes;
  runner->db_options_ = std::make_unique<rocksdb::Options>();
  rocksdb::Options& db_options = *runner->db_options_;
  db_options.create_if_missing = true;
  // Derived state, rebuilt from the log if lost: small memtables, no sync,
  // and whatever a crash left at the end of the WAL is dropped.
  db_options.write_buffer_size = 16 << 20;
  db_options.max_total_wal_size = 64 << 20;
  db_options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  db_options.avoid_flush_during_recovery = true;
  storage::ShareTheDiskWithTheLog(&db_options);
  db_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(
      internal::CheckpointTableOptions(runner->options_.block_cache_bytes)));
  db_options.info_log = std::make_shared<storage::RocksLogger>("projections");
  runner->env_ = storage::EnvOver(storage::OwnerOnlyFileSystem(runner->options_.TEST_file_system));
  db_options.env = runner->env_.get();
  EH_RETURN_IF_ERROR(runner->OpenDatabase(/*damaged=*/false));
  runner->disk_ = std::make_unique<storage::DiskSpace>(std::move(space));
  EH_RETURN_IF_ERROR(runner->OpenCheckpoint());
  runner->thread_ = std::thread([r = runner.get()] {
    SetThreadName("eh-projection");
    // Reports may lag an append by milliseconds; appends must not wait for
    // the fold.
    LowerThreadPriority(5);
    if (r->Load()) r->Follow();
  });
  return runner;
}

absl::Status ProjectionRunner::OpenDatabase(bool damaged, const absl::Status& why) {
  const std::string& dir = options_.checkpoint_dir;
  rocksdb::DB* db = nullptr;
  if (options_.read_only) {
    // Nothing is written: without a checkpoint to read (or with a damaged
    // one), the fold starts from position 1 in memory.
    if (damaged) return absl::OkStatus();
    rocksdb::Status s = rocksdb::DB::OpenForReadOnly(*db_options_, dir, &db);
    if (s.ok()) {
      db_.reset(db);
    } else if (s.IsCorruption()) {
      logging::Error("projections", absl::StrCat("the fairness projection's checkpoint in ", dir,
                                                 " is damaged (", s.ToString(),
                                                 "): read-only, the log is folded again from "
                                                 "position 1 in memory"));
    }
    return absl::OkStatus();
  }
  absl::Status opened = why;
  if (!damaged && options_.rebuild && std::filesystem::exists(dir)) {
    // Its files go, not only its keys: a range deleted is still on disk
    // until a compaction reaches it, and an older build's checkpoint holds
    // the confidential values the facts no longer keep (docs/SECURITY.md).
    if (rocksdb::Status destroyed = rocksdb::DestroyDB(dir, *db_options_); destroyed.ok()) {
      logging::Info("projections",
                    absl::StrCat("discarding the fairness checkpoint (rebuild asked for): its "
                                 "files in ",
                                 dir, " are deleted; folding the log from position 1"));
    } else {
      logging::Warning("projections",
                       absl::StrCat("rebuild asked for, but the old checkpoint's files in ", dir,
                                    " cannot be deleted (", destroyed.ToString(),
                                    "): its keys are deleted instead, and its files go as "
                                    "RocksDB compacts them"));
    }
  }
  if (!damaged) {
    EH_RETURN_IF_ERROR(storage::MakeOwnerOnlyDir(dir));
    opened =
        FromRocks(rocksdb::DB::Open(*db_options_, dir, &db), absl::StrCat("cannot open ", dir));
    // A full disk (a start after a crash that filled it: the open replays
    // the checkpoint's WAL and writes a new MANIFEST) does not stop the
    // server either: the log is folded in memory, and no checkpoint written
    // until a start with room (outside probe: the server did not start).
    if (absl::IsResourceExhausted(opened) ||
        absl::StrContains(opened.message(), "No space left on device")) {
      logging::Error("projections",
                     absl::StrCat("the fairness projection's checkpoint cannot be opened on a "
                                  "full disk (",
                                  opened.message(),
                                  "): the log is folded again from position 1 in memory, and no "
                                  "checkpoint is written until evenhandd is restarted with room "
                                  "on the disk"));
      return absl::OkStatus();
    }
    // Anything but damage (a lock held, no permission) is the operator's to
    // mend: refused, with RocksDB's words.
    if (!absl::IsDataLoss(opened)) {
      if (opened.ok()) db_.reset(db);
      return opened;
    }
  }
  const std::string aside = dir + ".damaged";
  logging::Error("projections",
                 absl::StrCat("the fairness projection's checkpoint is damaged (", opened.message(),
                              "): it is moved aside to ", aside,
                              " (replacing any older one there; delete it once looked at) and "
                              "the log folded again from position 1; reports wait until it is"));
  // Damage never stops the server: without a new database the log is
  // folded in memory and no checkpoint written until the next start.
  std::error_code error;
  std::filesystem::remove_all(aside, error);
  if (!error) std::filesystem::rename(dir, aside, error);
  absl::Status made =
      error ? absl::InternalError(absl::StrCat("cannot move it aside: ", error.message()))
            : storage::MakeOwnerOnlyDir(dir);
  if (made.ok()) {
    made =
        FromRocks(rocksdb::DB::Open(*db_options_, dir, &db), absl::StrCat("cannot create ", dir));
  }
  if (!made.ok()) {
    logging::Error("projections",
                   absl::StrCat("the damaged checkpoint cannot be replaced (", made.message(),
                                "): the log is folded in memory and no checkpoint written "
                                "until the next start. It is a cache of the log: stop the "
                                "server, delete ",
                                dir, " and start again"));
    return absl::OkStatus();
  }
  db_.reset(db);
  return absl::OkStatus();
}

ProjectionRunner::~ProjectionRunner() { Close(); }

void ProjectionRunner::Close() {
  Stop();
  if (db_closed_) return;
  db_closed_ = true;
  if (db_ == nullptr) return;
  if (!options_.read_only && disk_->CheckRoom(0).ok()) {
    // Flushed, so the next start has no WAL to replay.
    if (absl::Status s = FromRocks(db_->Flush(rocksdb::FlushOptions()), "cannot flush"); !s.ok()) {
      logging::Error("projections", s.ToString());
    }
  }
  // Closed even on a disk too full to flush: the WAL holds the checkpoint.
  if (absl::Status s = FromRocks(db_->Close(), "cannot close"); !s.ok()) {
    logging::Error("projections", s.ToString());
  }
}

absl::Status ProjectionRunner::CatchUp() {
  // Two stages on two threads: a reader scans the backlog with one RocksDB
  // iterator and parses it into chunks; this thread folds them.
  constexpr size_t kChunk = 4096;
  uint64_t from;
  {
    absl::ReaderMutexLock lock(&mu_);
    from = projection_.position() + 1;
  }
  if (from > store_->LastPosition()) return absl::OkStatus();
  using Chunk = std::vector<v1::RecordedEvent>;
  // The subscription picks up whatever this did not reach.
  return internal::TwoStages<Chunk>(
      "eh-catchup", kQueuedChunks,
      [&](const std::function<bool(Chunk&&)>& hand_over) {
        Chunk chunk;
        chunk.reserve(kChunk);
        size_t chunk_bytes = 0;
        bool stopped = false;
        absl::Status parsed;
        absl::Status s = store_->ReadAllRaw(
            from, storage::Direction::kForwards, 0, storage::ReadFilter(),
            [&](uint64_t position, std::string_view bytes) {
              chunk.emplace_back();
              if (!chunk.back().ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
                parsed = absl::DataLossError(absl::StrCat(
                    "projections: the event at position ", position, " cannot be parsed"));
                return false;
              }
              chunk_bytes += bytes.size();
              if (chunk.size() == kChunk || chunk_bytes >= options_.fold_batch_bytes) {
                stopped = !hand_over(std::move(chunk));
                chunk = {};
                chunk.reserve(kChunk);
                chunk_bytes = 0;
                return !stopped;
              }
              return true;
            });
        if (s.ok()) s = parsed;
        if (s.ok() && !stopped && !chunk.empty()) hand_over(std::move(chunk));
        return s;
      },
      [&](Chunk& chunk) {
        if (options_.TEST_before_fold) options_.TEST_before_fold();
        bool stopping;
        bool return_memory = false;
        {
          absl::MutexLock fold(&fold_mu_);
          const bool whole =
              FoldSliced(chunk.size(), [&](size_t i) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
                projection_.Apply(std::move(chunk[i]));
              });
          {
            absl::ReaderMutexLock lock(&mu_);
            stopping = stop_ || !whole;
          }
          if (!Healthy()) return false;
          if (CheckpointDue(/*catching_up=*/true)) return_memory = CheckpointLogged();
        }
        if (return_memory) ReturnFreedMemory();
        return !stopping;
      });
}

void ProjectionRunner::Follow() {
  // First the backlog, read in bulk; then the subscription follows new
  // events as they commit.
  if (absl::Status s = CatchUp(); !s.ok()) {
    logging::Error("projections", s.ToString());
    // The subscription below meets the same damage and stops there.
  }
  {
    absl::MutexLock fold(&fold_mu_);
    if (!Healthy()) return;
  }
  if (index_after_catch_up_) {
    absl::MutexLock fold(&fold_mu_);
    absl::MutexLock lock(&mu_);
    projection_.IndexFindings(*options_.index_settings, *options_.index_calendar);
    if (!options_.read_only && !checkpoint_broken_) {
      projection_.StoreFindingsIn(stored_findings_.get());
    }
    logging::Info("projections", absl::StrCat("folded the log to position ",
                                              projection_.position(),
                                              "; deciding every case's findings as of there"));
  }
  uint64_t from;
  bool return_memory;
  {
    absl::MutexLock fold(&fold_mu_);
    return_memory = CheckpointLogged();
    absl::ReaderMutexLock lock(&mu_);
    from = projection_.position() + 1;
  }
  if (return_memory) ReturnFreedMemory();
  std::unique_ptr<storage::Subscription> sub = store_->Subscribe(from);
  std::vector<storage::EventPtr> batch;
  bool seeded = false;
  absl::Time last_event_at = absl::Now();
  const absl::Time seeding_since = absl::Now();
  for (;;) {
    {
      absl::ReaderMutexLock lock(&mu_);
      if (stop_) break;
    }
    // Seeding the findings index after a restore, between batches of new
    // events, holding reports back for one slice at a time.
    if (!seeded) {
      absl::MutexLock fold(&fold_mu_);  // seeding changes the projection too
      {
        absl::MutexLock lock(&mu_);
        const bool was_seeding = !projection_.findings_indexed();
        seeded = projection_.SeedFindings(std::max<size_t>(options_.seed_slice_cases, 1));
        if (seeded && was_seeding && projection_.findings_indexed()) {
          logging::Info("projections",
                        absl::StrCat("findings index ready (every case decided as of position ",
                                     projection_.position(), ", in ",
                                     absl::FormatDuration(absl::Now() - seeding_since), ")"));
        }
      }
      // What the slice decided is written now (under a shared lock: reports
      // not waiting for the fold go on). Tried again after the next slice.
      absl::Status saved = seeded ? absl::OkStatus() : SaveSeeded();
      if (!saved.ok() && !seeded_failing_) {
        logging::Warning("projections",
                         absl::StrCat("what the findings index decides is not written while "
                                      "it is seeded (", saved.message(),
                                      "); its first checkpoint writes them all"));
        seeded_failing_ = true;
      }
    }
    batch.clear();
    absl::Status s =
        sub->Next(4096, options_.fold_batch_bytes,
                  seeded ? absl::Now() + absl::Milliseconds(200) : absl::Now(), &batch);
    if (!batch.empty() && options_.TEST_before_fold) options_.TEST_before_fold();
    bool return_memory = false;
    {
      absl::MutexLock fold(&fold_mu_);
      const bool whole = FoldSliced(batch.size(), [&](size_t i) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        projection_.Apply(*batch[i]);
      });
      if (!whole || !Healthy()) break;  // (not whole: stopping)
      const absl::Time now = absl::Now();
      if (!batch.empty()) last_event_at = now;
      if (!s.ok() || CheckpointDue(sub->mode() == storage::Subscription::Mode::kCatchingUp,
                                   batch.empty() ? now - last_event_at : absl::ZeroDuration())) {
        return_memory = CheckpointLogged();
      }
    }
    if (return_memory) ReturnFreedMemory();
    if (!s.ok()) {
      // The store shutting down, or a read that failed: the second is said,
      // and reports wanting what lies past it are refused saying so.
      if (absl::IsDataLoss(s)) FoldStopped(s);
      break;
    }
  }
}

void ProjectionRunner::FoldStopped(const absl::Status& why) {
  uint64_t at;
  {
    absl::MutexLock lock(&mu_);
    at = projection_.position();
    fold_stopped_ = absl::DataLossError(absl::StrCat(
        "the fairness projection cannot fold the log past position ", at, ": ", why.message()));
    absl::MutexLock published(&published_mu_);
    published_stopped_ = fold_stopped_;
  }
  logging::Error("projections",
                 absl::StrCat("the fold stopped at position ", at, " (", why.message(),
                              "); reports as of a later position are refused until the data "
                              "folder is restored"));
}

absl::Status ProjectionRunner::fold_stopped() const {
  absl::ReaderMutexLock lock(&mu_);
  return fold_stopped_;
}

void ProjectionRunner::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stop_ && !thread_.joinable()) return;
    stop_ = true;
    stopping_.store(true, std::memory_order_release);
    EndLoadWait();
    reading_findings_back_ = false;
  }
  if (thread_.joinable()) thread_.join();
  absl::MutexLock fold(&fold_mu_);
  MarkDamage();  // a report may have met it since the fold last looked
  (void)CheckpointLogged();  // (no memory to hand back: the process is stopping)
}

bool ProjectionRunner::FoldSliced(size_t count, const std::function<void(size_t)>& apply) {
  for (size_t i = 0; i < count;) {
    // A stop does not wait for the rest of the batch (4,096 events, minutes
    // when each takes tens of milliseconds): the projection's position is
    // its last whole event, and the checkpoint Stop() writes says so.
    if (i > 0 && stopping_.load(std::memory_order_acquire)) return false;
    for (int n = 0; n < 100 && i > 0 && readers_waiting_.load(std::memory_order_relaxed) > 0; ++n) {
      absl::SleepFor(absl::Milliseconds(1));
    }
    absl::MutexLock lock(&mu_);
    const absl::Time until = absl::Now() + kFoldSlice;
    do {
      if (options_.TEST_fold_event) options_.TEST_fold_event();
      apply(i++);
    } while (i < count && absl::Now() < until);
    Publish();
  }
  return true;
}

void ProjectionRunner::Publish() {
  published_position_.store(cases_loaded_ ? projection_.position() : 0, std::memory_order_release);
}

absl::Status ProjectionRunner::published_fold_stopped() const {
  absl::MutexLock lock(&published_mu_);
  return published_stopped_;
}

bool ProjectionRunner::WaitForPosition(uint64_t position, absl::Time deadline) const {
  // A reader: a checkpoint serialises the cases under a shared lock for up
  // to seconds, and reports go on meanwhile. Looked at again and again
  // (every 0.1 ms at first, then every 5 ms) rather than waited for on
  // mu_: a waiter re-taking mu_ for its condition is not counted in
  // readers_waiting_, so the fold, taking mu_ slice after slice, could keep
  // it out past its deadline.
  absl::Duration pause = absl::Microseconds(100);
  for (;;) {
    {
      ReportReaderLock lock(&mu_, &readers_waiting_);
      if (cases_loaded_ && projection_.position() >= position) return true;
      if (!fold_stopped_.ok()) return false;  // it will not get there
    }
    const absl::Time now = absl::Now();
    if (now >= deadline) return false;
    absl::SleepFor(std::min(pause, deadline - now));
    pause = std::min(pause * 2, absl::Milliseconds(5));
  }
}

absl::Duration ProjectionRunner::findings_reading_left() const {
  if (!reading_findings_back()) return absl::ZeroDuration();
  const double cases = static_cast<double>(std::max<size_t>(cases_filed_.load(), 1));
  const double read = std::min(1.0, static_cast<double>(subjects_filed_.load()) / cases);
  return absl::Nanoseconds(skeletons_took_nanos_.load()) * 2 * (1.0 - read);
}

bool ProjectionRunner::MayDeriveWhileReading() const {
  if (!reading_findings_back()) return true;
  const absl::Duration reading =
      absl::Now() - absl::FromUnixNanos(reading_since_nanos_.load(std::memory_order_relaxed));
  return absl::Nanoseconds(derived_while_reading_nanos_.load(std::memory_order_relaxed)) <
         std::max(kDeriveAtFirst, reading / 3);
}

void ProjectionRunner::DerivedWhileReading(absl::Duration took) const {
  derived_while_reading_nanos_.fetch_add(absl::ToInt64Nanoseconds(took), std::memory_order_relaxed);
}

bool ProjectionRunner::WaitUntilLoaded(absl::Time deadline) const {
  (void)load_ended_.WaitForNotificationWithDeadline(deadline);
  return load_done_.load(std::memory_order_acquire);
}

ProjectionRunner::Written ProjectionRunner::written() const {
  ReportReaderLock lock(&mu_, &readers_waiting_);
  return written_;
}

uint64_t ProjectionRunner::checkpointed_position() const {
  ReportReaderLock lock(&mu_, &readers_waiting_);
  return checkpointed_position_;
}

uint64_t ProjectionRunner::position() const {
  ReportReaderLock lock(&mu_, &readers_waiting_);
  return cases_loaded_ ? projection_.position() : 0;
}

std::optional<ProjectionRunner::Loading> ProjectionRunner::loading() const {
  ReportReaderLock lock(&mu_, &readers_waiting_);
  if (loaded_) return std::nullopt;
  return Loading{checkpoint_position_, cases_read_};
}

std::optional<ProjectionRunner::Loaded> ProjectionRunner::loaded() const {
  ReportReaderLock lock(&mu_, &readers_waiting_);
  if (!loaded_) return std::nullopt;
  return loaded_how_;
}

void ProjectionRunner::MarkDamage() {
  if (damage_marked_ || !CheckpointWritable()) return;
  absl::Status damage;
  {
    absl::ReaderMutexLock lock(&mu_);
    damage = projection_.checkpoint_damage();
  }
  if (damage.ok()) return;
  rocksdb::WriteOptions synced;
  synced.sync = true;
  absl::Status marked = disk_->CheckRoom(4096 + damage.message().size());
  if (marked.ok()) {
    marked = internal::FromRocks(
        db_->Put(synced, internal::kDamagedKey, std::string(damage.message())),
        "cannot mark it damaged");
  }
  if (marked.ok()) {
    damage_marked_ = true;
    logging::Error("projections",
                   absl::StrCat(damage.message(),
                                ": the projection's checkpoint is damaged; the next start moves "
                                "it aside and folds the log again"));
  } else if (!damage_mark_failing_) {
    // Tried again after each batch the fold folds, and at the stop.
    damage_mark_failing_ = true;
    logging::Error("projections",
                   absl::StrCat(damage.message(), ": the projection's checkpoint is damaged, and ",
                                marked.message(), "; until it can be marked, a start may meet "
                                "it again: start evenhandd with --rebuild_projections"));
  }
}

bool ProjectionRunner::Healthy() {
  MarkDamage();
  absl::Status health;
  {
    absl::ReaderMutexLock lock(&mu_);
    health = projection_.health();
  }
  if (health.ok()) return true;
  if (!unhealthy_said_) {
    logging::Error("projections",
                   absl::StrCat(health.message(),
                                ". The fairness projection has stopped folding and reports are "
                                "refused; the log is unaffected. Restart evenhandd: it checks "
                                "the checkpoint and folds the log again if it is damaged"));
    unhealthy_said_ = true;
  }
  return false;
}

absl::Status ProjectionRunner::health() const {
  ReportReaderLock lock(&mu_, &readers_waiting_);
  return projection_.health();
}

void ProjectionRunner::Read(const std::function<void(const FairnessProjection&)>& read) const {
  ReportReaderLock lock(&mu_, &readers_waiting_);
  read(projection_);
}

}  // namespace evenhand::projections
