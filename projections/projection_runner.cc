#include "projections/projection_runner.h"

#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/big_endian.h"
#include "base/logging.h"
#include "base/status_macros.h"
#include "base/thread_name.h"
#include "projections/internal/day_nanos.h"
#include "projections/internal/two_stages.h"
#include "rocksdb/cache.h"
#include "rocksdb/db.h"
#include "rocksdb/table.h"
#include "rocksdb/write_batch.h"
#include "storage/rocksdb_support.h"

namespace evenhand::projections {
namespace {

// Bump when the projection's fold or CaseRecord layout changes: an older
// checkpoint is then discarded and the log refolded.
constexpr char kStateVersion[] = "fairness-1";

constexpr char kVersionKey[] = "fairness/version";
constexpr char kPositionKey[] = "fairness/position";
constexpr char kCasePrefix[] = "fairness/case/";
// The findings index: a header, each entry (FindingKey, WithdrawnKey), each
// subject by stream, the group totals' changes (FigureChangeKey).
constexpr char kFindingsHeaderKey[] = "fairness/findings/header";
constexpr char kFindingEntryPrefix[] = "fairness/findings/e/";
constexpr char kFindingSubjectPrefix[] = "fairness/findings/s/";
constexpr char kProvisionalFindingPrefix[] = "fairness/findings/p/";
constexpr char kFigureChangePrefix[] = "fairness/findings/g/";
constexpr char kFindingsPrefix[] = "fairness/findings/";
constexpr char kFindingsPrefixEnd[] = "fairness/findings0";

absl::Status FromRocks(const rocksdb::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("projection checkpoint: ", what, ": ", s.ToString()));
}

// An entry's key: kind ('f' finding, 'o' obligation), 'a' alive or 'w'
// withdrawn, its date or due time (order-preserving), its id: a report's
// period is one range per kind (and one more as of a past position).
std::string FindingKey(bool obligation, bool withdrawn, int64_t when, uint32_t id) {
  return absl::StrCat(kFindingEntryPrefix, obligation ? "o" : "f", withdrawn ? "w" : "a",
                      BigEndian64(static_cast<uint64_t>(when) ^ (1ULL << 63)),
                      BigEndian64(id));
}
constexpr size_t kFindingKeySize = sizeof(kFindingEntryPrefix) - 1 + 2 + 16;

// A withdrawn entry's key also says when it appeared and was withdrawn, so
// a report as of a past position skips, without reading them, the entries
// not alive then (most of a period's, once it is over: every obligation
// met). Entries withdrawn before this suffix have the plain key.
std::string WithdrawnKey(const state::FindingEntryRecord& entry) {
  std::string key = FindingKey(entry.obligation(), true, entry.when_nanos(), entry.id());
  PutBigEndian64(&key, entry.appeared());
  PutBigEndian64(&key, entry.withdrawn());
  return key;
}

// The key of one checkpoint's changes to the group figures of one day: the
// UTC day of the contributions (order-preserving), then the last position
// whose folding made one (each checkpoint's positions follow the last's,
// so it is unique): a report as of a past position P reads, per day of its
// period, from the first record whose last position is after P.
constexpr size_t kFigureChangeDayAt = sizeof(kFigureChangePrefix) - 1;
std::string FigureChangeKey(int64_t day, uint64_t last_position) {
  std::string key = kFigureChangePrefix;
  PutBigEndian64(&key, static_cast<uint64_t>(day) ^ (1ULL << 63));
  PutBigEndian64(&key, last_position);
  return key;
}

// The checkpointed findings index, read back for reports and to withdraw
// an entry.
class RocksStoredFindings : public StoredFindings {
 public:
  explicit RocksStoredFindings(rocksdb::DB* db) : db_(db) {}

  absl::Status Scan(bool obligations, bool withdrawn, int64_t from, int64_t to,
                    uint64_t alive_at,
                    const std::function<void(const state::FindingEntryRecord&)>& visit)
      const override {
    const std::string end = FindingKey(obligations, withdrawn, to, 0);
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    state::FindingEntryRecord record;
    for (it->Seek(FindingKey(obligations, withdrawn, from, 0));
         it->Valid() && it->key().compare(end) < 0;
         it->Next()) {
      if (withdrawn && it->key().size() == kFindingKeySize + 16) {
        const std::string_view alive(it->key().data() + kFindingKeySize, 16);
        if (!(ReadBigEndian64(alive) <= alive_at && alive_at < ReadBigEndian64(alive.substr(8)))) {
          continue;
        }
      }
      if (!record.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
        return absl::DataLossError("findings index: an entry cannot be parsed");
      }
      visit(record);
    }
    return FromRocks(it->status(), "cannot read the findings index");
  }

  absl::StatusOr<state::FindingEntryRecord> Get(bool obligation, int64_t when,
                                                uint32_t id) const override {
    std::string value;
    EH_RETURN_IF_ERROR(FromRocks(
        db_->Get(rocksdb::ReadOptions(), FindingKey(obligation, false, when, id), &value),
        absl::StrCat("cannot read findings index entry ", id)));
    state::FindingEntryRecord record;
    if (!record.ParseFromString(value)) {
      return absl::DataLossError(absl::StrCat("findings index: entry ", id, " cannot be parsed"));
    }
    return record;
  }

  absl::Status ScanFigureChanges(
      int64_t first_day, int64_t last_day, uint64_t after_position,
      const std::function<void(const state::FigureChangeRecord&)>& visit) const override {
    if (first_day > last_day || after_position == UINT64_MAX) return absl::OkStatus();
    const std::string end = FigureChangeKey(last_day + 1, 0);
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    state::FigureChangesRecord record;
    it->Seek(FigureChangeKey(first_day, after_position + 1));
    while (it->Valid() && it->key().compare(end) < 0) {
      const std::string_view key(it->key().data(), it->key().size());
      if (key.size() != kFigureChangeDayAt + 16) {
        return absl::DataLossError("findings index: a figure change's key is malformed");
      }
      const uint64_t last_position = ReadBigEndian64(key.substr(kFigureChangeDayAt + 8));
      if (last_position <= after_position) {
        // A day's changes from before the position: skip to those after.
        const auto day =
            static_cast<int64_t>(ReadBigEndian64(key.substr(kFigureChangeDayAt)) ^ (1ULL << 63));
        it->Seek(FigureChangeKey(day, after_position + 1));
        continue;
      }
      if (!record.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
        return absl::DataLossError("findings index: a figure change cannot be parsed");
      }
      for (const state::FigureChangeRecord& change : record.changes()) {
        if (change.position() > after_position) visit(change);
      }
      it->Next();
    }
    return FromRocks(it->status(), "cannot read the findings index");
  }

 private:
  rocksdb::DB* const db_;
};
// Chunks parsed ahead of the fold (TwoStages), bounding the memory.
constexpr size_t kQueuedChunks = 4;
constexpr char kPrefix[] = "fairness/";
constexpr char kPrefixEnd[] = "fairness0";  // '0' follows '/'


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
  rocksdb::Options db_options;
  db_options.create_if_missing = true;
  // Derived state, rebuilt from the log if lost: small memtables, no sync,
  // and whatever a crash left at the end of the WAL is dropped.
  db_options.write_buffer_size = 16 << 20;
  db_options.max_total_wal_size = 64 << 20;
  db_options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  db_options.avoid_flush_during_recovery = true;
  storage::ShareTheDiskWithTheLog(&db_options);
  rocksdb::BlockBasedTableOptions table_options;
  table_options.block_cache = rocksdb::NewLRUCache(runner->options_.block_cache_bytes);
  db_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table_options));
  db_options.info_log = std::make_shared<storage::RocksLogger>("projections");
  runner->env_ = storage::EnvOver(storage::OwnerOnlyFileSystem());
  db_options.env = runner->env_.get();
  rocksdb::DB* db = nullptr;
  const std::string& dir = runner->options_.checkpoint_dir;
  if (runner->options_.read_only) {
    // Nothing is written: without a checkpoint to read, the fold starts
    // from position 1 in memory.
    if (rocksdb::DB::OpenForReadOnly(db_options, dir, &db).ok()) runner->db_.reset(db);
  } else {
    EH_RETURN_IF_ERROR(storage::MakeOwnerOnlyDir(dir));
    EH_RETURN_IF_ERROR(
        FromRocks(rocksdb::DB::Open(db_options, dir, &db), absl::StrCat("cannot open ", dir)));
    runner->db_.reset(db);
  }
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

ProjectionRunner::~ProjectionRunner() {
  Stop();
  if (db_ != nullptr && !options_.read_only && disk_->CheckRoom(0).ok()) {
    // Flushed, so the next start has no WAL to replay.
    if (absl::Status s = FromRocks(db_->Flush(rocksdb::FlushOptions()), "cannot flush"); !s.ok()) {
      logging::Error("projections", s.ToString());
    }
    if (absl::Status s = FromRocks(db_->Close(), "cannot close"); !s.ok()) {
      logging::Error("projections", s.ToString());
    }
  }
}

absl::Status ProjectionRunner::OpenCheckpoint() {
  absl::MutexLock lock(&mu_);
  checkpointed_at_ = absl::Now();
  rocksdb::DB* db = db_.get();
  if (db == nullptr) return absl::OkStatus();  // read-only, no checkpoint: fold from 1
  rocksdb::ColumnFamilyHandle* cf = db->DefaultColumnFamily();
  std::string version;
  rocksdb::Status s = db->Get(rocksdb::ReadOptions(), cf, kVersionKey, &version);
  if (!s.ok() && !s.IsNotFound()) return FromRocks(s, "cannot read the version");
  const bool usable = s.ok() && version == kStateVersion && !options_.rebuild;
  if (!usable) {
    if (s.ok()) {
      logging::Info("projections", absl::StrCat("discarding the fairness checkpoint (",
                                                options_.rebuild ? "rebuild asked for"
                                                                 : "older state version",
                                                "); folding the log from position 1"));
    }
    return ResetCheckpoint();
  }
  std::string position;
  EH_RETURN_IF_ERROR(FromRocks(db->Get(rocksdb::ReadOptions(), cf, kPositionKey, &position),
                               "cannot read the position"));
  const uint64_t restored = ReadBigEndian64(position);
  if (restored > store_->LastPosition()) {
    // The projection's own database saw events the log no longer has: the
    // log lost writes or was rolled back to an older copy.
    return absl::DataLossError(absl::StrCat(
        "the fairness projection had folded the log up to position ", restored,
        ", but the log now ends at position ", store_->LastPosition(), ": positions ",
        store_->LastPosition() + 1, "..", restored,
        " are missing from it (the data folder was rolled back, or lost writes it had "
        "acknowledged). Restore the data folder from a backup (evenhand restore); if the loss "
        "is known and accepted, start with --rebuild_projections"));
  }
  checkpoint_position_ = restored;
  return absl::OkStatus();
}

absl::Status ProjectionRunner::ResetCheckpoint() {
  projection_.Clear();
  checkpointed_position_ = 0;
  checkpoint_position_ = 0;
  cases_read_ = 0;
  if (db_ == nullptr || options_.read_only) return absl::OkStatus();
  rocksdb::ColumnFamilyHandle* cf = db_->DefaultColumnFamily();
  rocksdb::WriteBatch batch;
  batch.DeleteRange(cf, kPrefix, kPrefixEnd);
  batch.Put(cf, kVersionKey, kStateVersion);
  batch.Put(cf, kPositionKey, BigEndian64(0));
  return FromRocks(db_->Write(rocksdb::WriteOptions(), &batch), "cannot reset");
}

absl::Status ProjectionRunner::LoadCases() {
  if (checkpoint_position_ == 0 || db_ == nullptr) return absl::OkStatus();
  const absl::Time started = absl::Now();
  // Two stages on two threads: a reader parses the case records a chunk at
  // a time; this thread files them, under mu_ a chunk at a time so the
  // server's metrics are not held up (reports wait for loaded_ anyway).
  // Nothing writes the checkpoint meanwhile (Checkpoint waits for loaded_).
  constexpr size_t kChunk = 4096;
  using Chunk = std::vector<state::CaseRecord>;
  bool stopped = false;
  absl::Status read = internal::TwoStages<Chunk>(
      "eh-load", kQueuedChunks,
      [&](const std::function<bool(Chunk&&)>& hand_over) -> absl::Status {
        std::unique_ptr<rocksdb::Iterator> it(
            db_->NewIterator(rocksdb::ReadOptions(), db_->DefaultColumnFamily()));
        Chunk chunk;
        chunk.reserve(kChunk);
        for (it->Seek(kCasePrefix); it->Valid() && it->key().starts_with(kCasePrefix);
             it->Next()) {
          chunk.emplace_back();
          if (!chunk.back().ParseFromArray(it->value().data(),
                                           static_cast<int>(it->value().size()))) {
            return absl::DataLossError(
                absl::StrCat("case ", it->key().ToString(), " cannot be parsed"));
          }
          if (chunk.size() == kChunk) {
            if (!hand_over(std::move(chunk))) return absl::OkStatus();
            chunk = {};
            chunk.reserve(kChunk);
          }
        }
        EH_RETURN_IF_ERROR(FromRocks(it->status(), "cannot read the cases"));
        if (!chunk.empty()) hand_over(std::move(chunk));
        return absl::OkStatus();
      },
      [&](Chunk& chunk) {
        if (options_.TEST_before_load) options_.TEST_before_load();
        absl::MutexLock lock(&mu_);
        for (state::CaseRecord& record : chunk) projection_.RestoreCase(std::move(record));
        cases_read_ += chunk.size();
        stopped = stop_;
        return !stopped;
      });
  if (stopped) return absl::CancelledError("stopping");
  EH_RETURN_IF_ERROR(read);
  absl::MutexLock lock(&mu_);
  projection_.RestorePosition(checkpoint_position_);
  checkpointed_position_ = checkpoint_position_;
  logging::Info("projections",
                absl::StrCat("restored the fairness projection at position ",
                             checkpoint_position_, " (", cases_read_, " cases, read in ",
                             absl::FormatDuration(absl::Now() - started), ")"));
  return absl::OkStatus();
}

bool ProjectionRunner::Load() {
  absl::MutexLock fold(&fold_mu_);
  absl::Status s = LoadCases();
  if (absl::IsCancelled(s)) return false;
  if (!s.ok()) {
    // A cache of the log, not evidence: folded again rather than refused.
    logging::Error("projections",
                   absl::StrCat("the fairness projection's checkpoint cannot be read (",
                                s.message(),
                                "): it is discarded and the log folded again from position 1; "
                                "reports wait until it is"));
    absl::MutexLock lock(&mu_);
    if (absl::Status reset = ResetCheckpoint(); !reset.ok()) {
      logging::Error("projections", reset.ToString());
    }
  }
  if (options_.index_settings && options_.index_calendar) {
    if (absl::Status f = RestoreFindings(); !f.ok()) {
      logging::Error("projections", absl::StrCat("the findings index cannot be restored (",
                                                 f.ToString(), "): reports are derived in full"));
      absl::MutexLock lock(&mu_);
      projection_.DropFindings();
      index_after_catch_up_ = false;
    }
  }
  absl::MutexLock lock(&mu_);
  loaded_ = true;
  return !stop_;
}

absl::Status ProjectionRunner::RestoreFindings() {
  // Held throughout but let go every few thousand records read (Relock),
  // so metrics are not held up meanwhile; reports wait for loaded_.
  absl::MutexLock lock(&mu_);
  size_t records = 0;
  auto relock = [&] {
    if (++records % 4096 != 0) return;
    mu_.Unlock();
    mu_.Lock();
  };
  if (db_ != nullptr) {
    // Read-only too: a restored index reads its entries back (and, with no
    // checkpoint written, holds what it decides).
    stored_findings_ = std::make_unique<RocksStoredFindings>(db_.get());
  }
  if (projection_.position() == 0) {
    // A whole log to fold: each case is decided once after it (Follow).
    // Reports are derived meanwhile, and for as-of positions before the
    // end of that fold.
    index_after_catch_up_ = store_->LastPosition() > 0;
    if (index_after_catch_up_) return absl::OkStatus();
    projection_.IndexFindings(*options_.index_settings, *options_.index_calendar);
    // Read-only, a checkpoint not restored may hold stale entries.
    if (!options_.read_only) projection_.StoreFindingsIn(stored_findings_.get());
    return absl::OkStatus();
  }
  projection_.IndexFindings(*options_.index_settings, *options_.index_calendar);
  if (stored_findings_ != nullptr) projection_.StoreFindingsIn(stored_findings_.get());
  if (db_ == nullptr) return absl::OkStatus();
  rocksdb::ColumnFamilyHandle* cf = db_->DefaultColumnFamily();
  const absl::Time started = absl::Now();
  std::string value;
  state::FindingsIndexHeader header;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf, kFindingsHeaderKey, &value);
  if (!s.ok() && !s.IsNotFound()) return FromRocks(s, "cannot read the findings index");
  absl::Status restored = absl::FailedPreconditionError("no usable findings index checkpoint");
  if (s.ok() && header.ParseFromString(value) && projection_.FindingsCheckpointUsable(header)) {
    restored = [&]() -> absl::Status {
      // The dated entries stay on disk; the provisional ones are held, and
      // what each subject has.
      std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf));
      state::FindingEntryRecord entry;
      for (it->Seek(kProvisionalFindingPrefix);
           it->Valid() && it->key().starts_with(kProvisionalFindingPrefix); it->Next()) {
        if (!entry.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
          return absl::DataLossError("findings index checkpoint: an entry cannot be parsed");
        }
        EH_RETURN_IF_ERROR(projection_.RestoreProvisionalFinding(entry));
        relock();
      }
      state::SubjectRecord subject;
      for (it->Seek(kFindingSubjectPrefix);
           it->Valid() && it->key().starts_with(kFindingSubjectPrefix); it->Next()) {
        if (!subject.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
          return absl::DataLossError("findings index checkpoint: a subject cannot be parsed");
        }
        EH_RETURN_IF_ERROR(projection_.RestoreFindingSubject(subject));
        relock();
      }
      EH_RETURN_IF_ERROR(FromRocks(it->status(), "cannot read the findings index"));
      return projection_.FindingsRestored(header);
    }();
  }
  if (restored.ok()) {
    logging::Info("projections",
                  absl::StrCat("restored the findings index (", projection_.indexed_entries(),
                               " findings and obligations) in ",
                               absl::FormatDuration(absl::Now() - started)));
    return absl::OkStatus();
  }
  // Decided afresh instead, once the backlog is folded (Follow creates it
  // then, and seeds it a little at a time, while reports are derived in
  // full): a backlog decided at every event would take six times as long.
  // What was stored is dropped.
  if (s.ok()) {
    logging::Info("projections", absl::StrCat("the findings index is decided afresh: ",
                                              restored.message()));
  }
  projection_.DropFindings();
  index_after_catch_up_ = true;
  if (options_.read_only) return absl::OkStatus();  // the stored ones are stale: never read
  rocksdb::WriteBatch batch;
  batch.DeleteRange(cf, kFindingsPrefix, kFindingsPrefixEnd);
  return FromRocks(db_->Write(rocksdb::WriteOptions(), &batch), "cannot reset the findings index");
}

absl::Status ProjectionRunner::Checkpoint() {
  // Only the fold changes the projection, and it is excluded by fold_mu_:
  // a shared lock is enough to serialise the cases, so reports go on
  // meanwhile. Only forgetting what is now checkpointed needs mu_ alone.
  if (db_ == nullptr || options_.read_only) return absl::OkStatus();
  rocksdb::ColumnFamilyHandle* cf = db_->DefaultColumnFamily();
  rocksdb::WriteBatch batch;
  uint64_t position;
  {
    absl::ReaderMutexLock lock(&mu_);
    position = projection_.position();
    // Nothing is written over the checkpoint before it is read.
    if (!loaded_ ||
        (position == checkpointed_position_ && !projection_.findings_unsaved())) {
      return absl::OkStatus();
    }
    std::string key, value;
    projection_.ForEachDirtyCase([&](const state::CaseRecord& record) {
      key = absl::StrCat(kCasePrefix, record.stream_id());
      record.SerializeToString(&value);
      batch.Put(cf, key, value);
    });
    state::FindingsIndexHeader header;
    const bool indexed = projection_.ForEachDirtyFindingsRecord(
        &header,
        [&](const state::FindingEntryRecord& entry) {
          const std::string provisional =
              absl::StrCat(kProvisionalFindingPrefix, BigEndian64(entry.id()));
          if (entry.drop_dated()) {
            batch.Delete(cf, FindingKey(entry.obligation(), false, entry.when_nanos(), entry.id()));
          }
          if (entry.drop_provisional()) batch.Delete(cf, provisional);
          if (entry.deleted()) return;
          entry.SerializeToString(&value);
          batch.Put(cf,
                    entry.provisional()      ? provisional
                    : entry.withdrawn() != 0 ? WithdrawnKey(entry)
                                             : FindingKey(entry.obligation(), false,
                                                          entry.when_nanos(), entry.id()),
                    value);
        },
        [&](const state::SubjectRecord& subject) {
          key = absl::StrCat(kFindingSubjectPrefix, subject.stream_id());
          subject.SerializeToString(&value);
          batch.Put(cf, key, value);
        },
        [&](int64_t day, const state::FigureChangesRecord& changes) {
          if (changes.changes().empty()) return;
          changes.SerializeToString(&value);
          batch.Put(cf, FigureChangeKey(day, changes.changes().rbegin()->position()), value);
        });
    // Without a complete index (still seeding), no header: a restart then
    // decides the findings afresh.
    if (indexed) {
      batch.Put(cf, kFindingsHeaderKey, header.SerializeAsString());
    } else {
      batch.Delete(cf, kFindingsHeaderKey);
    }
  }
  batch.Put(cf, kPositionKey, BigEndian64(position));
  // A cache, not evidence: skipped while the disk is short (the batch goes
  // to the WAL and later to an SST file), and refolded from the log later.
  if (absl::Status room = disk_->CheckRoom(2 * batch.GetDataSize()); !room.ok()) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the fairness projection's checkpoint is skipped while the disk is short (",
        room.message(), "); a restart refolds what it would have held"));
  }
  // Not synced: a checkpoint lost in a crash is refolded from the log.
  EH_RETURN_IF_ERROR(FromRocks(db_->Write(rocksdb::WriteOptions(), &batch), "cannot write"));
  absl::MutexLock lock(&mu_);
  projection_.ClearDirty();
  checkpointed_position_ = position;
  checkpointed_at_ = absl::Now();
  return absl::OkStatus();
}

absl::Status ProjectionRunner::CheckpointForTest() {
  absl::MutexLock fold(&fold_mu_);
  return Checkpoint();
}

bool ProjectionRunner::CheckpointDue(bool catching_up, absl::Duration idle) const {
  absl::ReaderMutexLock lock(&mu_);
  const uint64_t pending = projection_.position() - checkpointed_position_;
  if (pending == 0) return false;
  if (idle >= options_.checkpoint_when_idle) return true;
  // While catching up every case is new or changed, so checkpointing by
  // event count would rewrite the whole state over and over: by time only.
  if (!catching_up && pending >= options_.checkpoint_every_events) return true;
  return absl::Now() - checkpointed_at_ >= options_.checkpoint_every;
}

void ProjectionRunner::CheckpointLogged() {
  absl::Status c = Checkpoint();
  if (c.ok()) {
    checkpoint_failing_ = false;
    return;
  }
  // Tried again when the next one is due, not at once; said once, not each
  // time.
  {
    absl::MutexLock lock(&mu_);
    checkpointed_at_ = absl::Now();
  }
  if (!checkpoint_failing_) {
    if (absl::IsResourceExhausted(c)) {
      logging::Warning("projections", c.message());
    } else {
      logging::Error("projections", c.ToString());
    }
  }
  checkpoint_failing_ = true;
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
              if (chunk.size() == kChunk) {
                stopped = !hand_over(std::move(chunk));
                chunk = {};
                chunk.reserve(kChunk);
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
        absl::MutexLock fold(&fold_mu_);
        bool stopping;
        {
          absl::MutexLock lock(&mu_);
          for (v1::RecordedEvent& e : chunk) projection_.Apply(std::move(e));
          stopping = stop_;
        }
        if (CheckpointDue(/*catching_up=*/true)) CheckpointLogged();
        return !stopping;
      });
}

void ProjectionRunner::Follow() {
  // First the backlog, read in bulk; then the subscription follows new
  // events as they commit.
  if (absl::Status s = CatchUp(); !s.ok()) logging::Error("projections", s.ToString());
  if (index_after_catch_up_) {
    absl::MutexLock fold(&fold_mu_);
    absl::MutexLock lock(&mu_);
    projection_.IndexFindings(*options_.index_settings, *options_.index_calendar);
    if (!options_.read_only) projection_.StoreFindingsIn(stored_findings_.get());
    logging::Info("projections", absl::StrCat("folded the log to position ",
                                              projection_.position(),
                                              "; deciding every case's findings as of there"));
  }
  uint64_t from;
  {
    absl::MutexLock fold(&fold_mu_);
    CheckpointLogged();
    absl::ReaderMutexLock lock(&mu_);
    from = projection_.position() + 1;
  }
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
      absl::MutexLock lock(&mu_);
      const bool was_seeding = !projection_.findings_indexed();
      seeded = projection_.SeedFindings(2048);
      if (seeded && was_seeding && projection_.findings_indexed()) {
        logging::Info("projections",
                      absl::StrCat("findings index ready (every case decided as of position ",
                                   projection_.position(), ", in ",
                                   absl::FormatDuration(absl::Now() - seeding_since), ")"));
      }
    }
    batch.clear();
    absl::Status s =
        sub->Next(4096, seeded ? absl::Now() + absl::Milliseconds(200) : absl::Now(), &batch);
    if (!batch.empty() && options_.TEST_before_fold) options_.TEST_before_fold();
    absl::MutexLock fold(&fold_mu_);
    {
      absl::MutexLock lock(&mu_);
      for (const storage::EventPtr& e : batch) projection_.Apply(*e);
    }
    const absl::Time now = absl::Now();
    if (!batch.empty()) last_event_at = now;
    if (!s.ok() || CheckpointDue(sub->mode() == storage::Subscription::Mode::kCatchingUp,
                                 batch.empty() ? now - last_event_at : absl::ZeroDuration())) {
      CheckpointLogged();
    }
    if (!s.ok()) break;  // the store is shutting down
  }
}

void ProjectionRunner::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stop_ && !thread_.joinable()) return;
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
  absl::MutexLock fold(&fold_mu_);
  CheckpointLogged();
}

bool ProjectionRunner::WaitForPosition(uint64_t position, absl::Time deadline) const {
  // A reader: a checkpoint serialises the cases under a shared lock for up
  // to seconds, and reports go on meanwhile.
  absl::ReaderMutexLock lock(&mu_);
  auto reached = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return loaded_ && projection_.position() >= position;
  };
  return mu_.AwaitWithDeadline(absl::Condition(&reached), deadline);
}

uint64_t ProjectionRunner::checkpointed_position() const {
  absl::ReaderMutexLock lock(&mu_);
  return checkpointed_position_;
}

uint64_t ProjectionRunner::position() const {
  absl::ReaderMutexLock lock(&mu_);
  return loaded_ ? projection_.position() : 0;
}

std::optional<ProjectionRunner::Loading> ProjectionRunner::loading() const {
  absl::ReaderMutexLock lock(&mu_);
  if (loaded_) return std::nullopt;
  return Loading{checkpoint_position_, cases_read_};
}

void ProjectionRunner::Read(const std::function<void(const FairnessProjection&)>& read) const {
  absl::ReaderMutexLock lock(&mu_);
  read(projection_);
}

}  // namespace evenhand::projections
