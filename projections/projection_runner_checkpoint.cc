// ProjectionRunner: writing the checkpoint (when it is due, and what goes
// in it). Reading it is in projection_runner_load.cc.
#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/big_endian.h"
#include "base/logging.h"
#include "base/status_macros.h"
#include "projections/internal/checkpoint_store.h"
#include "projections/projection_runner.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"
#include "storage/sorted_write_batch.h"

namespace evenhand::projections {

using internal::FigureChangeKey;
using internal::FigureSumsKey;
using internal::FindingKey;
using internal::FromRocks;
using internal::kCasePrefix;
using internal::kFindingsHeaderKey;
using internal::kFindingSubjectPrefix;
using internal::kLogIdKey;
using internal::kPositionKey;
using internal::kProvisionalFindingPrefix;
using internal::kSkeletonPrefix;
using internal::WithdrawnKey;

namespace {

void PutSubject(const state::SubjectRecord& subject, storage::SortedWriteBatch* batch) {
  batch->Put(absl::StrCat(kFindingSubjectPrefix, subject.stream_id()), subject);
}

// An entry as its record says it is stored now (FindingEntryRecord).
void PutEntry(const state::FindingEntryRecord& entry, storage::SortedWriteBatch* batch) {
  const std::string provisional = absl::StrCat(kProvisionalFindingPrefix, BigEndian64(entry.id()));
  if (entry.drop_dated()) {
    batch->Delete(FindingKey(entry.obligation(), entry.when_nanos(), entry.id()));
  }
  if (entry.drop_provisional()) batch->Delete(provisional);
  if (entry.deleted()) return;
  batch->Put(entry.provisional() ? provisional
             : entry.withdrawn() != 0
                 ? WithdrawnKey(entry)
                 : FindingKey(entry.obligation(), entry.when_nanos(), entry.id()),
             entry);
}

}  // namespace

absl::Status ProjectionRunner::Checkpoint() {
  // Only the fold changes the projection, and it is excluded by fold_mu_:
  // a shared lock is enough to serialise the cases, so reports go on
  // meanwhile. Only forgetting what is now checkpointed needs mu_ alone.
  if (!CheckpointWritable()) return absl::OkStatus();
  {
    // Never over a good checkpoint with a projection that could not read
    // a case back.
    absl::ReaderMutexLock lock(&mu_);
    if (!projection_.health().ok()) return absl::OkStatus();
  }
  const absl::Time started = absl::Now();
  rocksdb::ColumnFamilyHandle* cf = db_->DefaultColumnFamily();
  // Reserved at the last checkpoint's bytes per event: a batch grown by
  // doubling copies itself again and again (under a burst of new cases a
  // 70 MB batch, and a tenth of the fold thread's time). At most a
  // checkpoint's worth of events, and 64 MB: a checkpoint that wrote many
  // cases for few events, or one after a catch-up, must not ask for more.
  size_t reserve = 0;
  {
    absl::ReaderMutexLock lock(&mu_);
    if (!loaded_) return absl::OkStatus();
    const uint64_t pending = std::min<uint64_t>(projection_.position() - checkpointed_position_,
                                                options_.checkpoint_every_events);
    const uint64_t estimate = pending * checkpoint_bytes_per_event_;
    reserve = static_cast<size_t>(std::min<uint64_t>(estimate + estimate / 8, uint64_t{64} << 20));
  }
  // Gathered from hash tables in no order, written in key order (what a
  // memtable inserts fastest: sorted_write_batch.h).
  storage::SortedWriteBatch gathered(reserve);
  uint64_t position;
  {
    absl::ReaderMutexLock lock(&mu_);
    position = projection_.position();
    // Nothing is written over the checkpoint before it is read.
    if (!loaded_ || (position == checkpointed_position_ && !projection_.findings_unsaved())) {
      return absl::OkStatus();
    }
    std::string key;
    projection_.ForEachDirtyCase([&](const state::CaseRecord& record) {
      key = absl::StrCat(kCasePrefix, record.stream_id());
      gathered.Put(key, record);
      // Beside it, what a restart files it by without reading it.
      key = absl::StrCat(kSkeletonPrefix, record.stream_id());
      gathered.Put(key, projection_.SkeletonOf(record));
    });
    state::FindingsIndexHeader header;
    const bool indexed = projection_.ForEachDirtyFindingsRecord(
        &header, [&](const state::FindingEntryRecord& entry) { PutEntry(entry, &gathered); },
        [&](const state::SubjectRecord& subject) { PutSubject(subject, &gathered); },
        [&](int64_t day, const state::FigureChangesRecord& changes,
            const state::FigureSumsRecord& sums) {
          if (changes.changes().empty()) return;
          const uint64_t last = changes.changes().rbegin()->position();
          gathered.Put(FigureChangeKey(day, last), changes);
          gathered.Put(FigureSumsKey(day, last), sums);
        });
    // Without a complete index (still seeding), no header: a restart then
    // decides the findings afresh.
    if (indexed) {
      gathered.Put(kFindingsHeaderKey, header);
    } else {
      gathered.Delete(kFindingsHeaderKey);
    }
  }
  gathered.Put(kPositionKey, BigEndian64(position));
  gathered.Put(kLogIdKey, store_->log_id());
  rocksdb::WriteBatch batch = std::move(gathered).Build(cf);
  // A cache, not evidence: skipped while the disk is short (the batch goes
  // to the WAL and later to an SST file), and refolded from the log later.
  if (absl::Status room = disk_->CheckRoom(2 * batch.GetDataSize()); !room.ok()) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the fairness projection's checkpoint is skipped while the disk is short (",
                     room.message(), "); a restart refolds what it would have held"));
  }
  // Not synced: a checkpoint lost in a crash is refolded from the log.
  EH_RETURN_IF_ERROR(FromRocks(db_->Write(rocksdb::WriteOptions(), &batch), "cannot write"));
  {
    absl::MutexLock lock(&mu_);
    projection_.ClearDirty();
    if (position > checkpointed_position_) {
      checkpoint_bytes_per_event_ = batch.GetDataSize() / (position - checkpointed_position_);
    }
    written_.checkpoints += 1;
    written_.bytes += batch.GetDataSize();
    written_.took += absl::Now() - started;
    last_checkpoint_took_ = absl::Now() - started;
    checkpointed_position_ = position;
    checkpointed_at_ = absl::Now();
  }
  // The bodies now saved that are over the cache's budget are dropped with
  // reports going on: after a rebuild, a quarter of every case's facts
  // (0.23 s of freeing at 1M events, which reports waited out when it was
  // done under the lock above).
  absl::ReaderMutexLock lock(&mu_);
  projection_.TrimCases();
  return absl::OkStatus();
}

absl::Status ProjectionRunner::SaveSeeded() {
  if (!CheckpointWritable()) return absl::OkStatus();
  rocksdb::ColumnFamilyHandle* cf = db_->DefaultColumnFamily();
  storage::SortedWriteBatch gathered;
  size_t subjects = 0;
  size_t entries = 0;
  {
    absl::ReaderMutexLock lock(&mu_);
    if (!loaded_ || checkpointed_position_ == 0 || !projection_.health().ok()) {
      return absl::OkStatus();
    }
    projection_.ForEachSeededFindingsRecord(
        [&](const state::FindingEntryRecord& entry) {
          PutEntry(entry, &gathered);
          ++entries;
        },
        [&](const state::SubjectRecord& subject) {
          PutSubject(subject, &gathered);
          ++subjects;
        });
  }
  if (gathered.count() == 0) return absl::OkStatus();
  // Without the index's header (deleted with them, if an older one is
  // there), a restart before the first checkpoint drops them and seeds
  // afresh (RestoreFindings): they count only once that checkpoint is
  // written.
  gathered.Delete(kFindingsHeaderKey);
  rocksdb::WriteBatch batch = std::move(gathered).Build(cf);
  EH_RETURN_IF_ERROR(disk_->CheckRoom(2 * batch.GetDataSize()));
  EH_RETURN_IF_ERROR(FromRocks(db_->Write(rocksdb::WriteOptions(), &batch), "cannot write"));
  {
    absl::MutexLock lock(&mu_);
    projection_.SeededFindingsSaved();
  }
  if (options_.TEST_seeded_written) options_.TEST_seeded_written(subjects, entries);
  return absl::OkStatus();
}

absl::Status ProjectionRunner::CheckpointForTest() {
  absl::MutexLock fold(&fold_mu_);
  return Checkpoint();
}

bool ProjectionRunner::CheckpointDue(bool catching_up, absl::Duration idle) const {
  absl::ReaderMutexLock lock(&mu_);
  const uint64_t pending = projection_.position() - checkpointed_position_;
  // With nothing folded since, only the findings index can have something
  // to write: its first checkpoint after seeding on a quiet log (without
  // it, a restart before the next event would seed it all again).
  if (pending == 0 && !(projection_.findings_unsaved() && CheckpointWritable())) {
    return false;
  }
  // The cases changed since the last checkpoint are held in memory until
  // it is taken: taken early once they outgrow the cache (unless it cannot
  // be written, or failed: then by time, as below). Not more often than
  // four times as long as the last one took, so that they take at most
  // about a fifth of the fold's time: a case grown to a hundred megabytes is
  // written whole by each, read back after it, and checkpoints back to back
  // left the fold two events a second (outside probe, 0.9 MiB events into
  // three cases: now caught up 6 s after the appends, not in minutes; the
  // cases held meanwhile took the server to 3.4 GB, against 2.3 GB).
  if (stored_cases_ != nullptr && !checkpoint_broken_ && !checkpoint_failing_ &&
      projection_.case_bytes_unsaved() > options_.case_cache_bytes &&
      absl::Now() - checkpointed_at_ >=
          std::max(options_.checkpoint_when_idle, 4 * last_checkpoint_took_)) {
    return true;
  }
  // (Not again at once after one failed: CheckpointLogged moved
  // checkpointed_at_.)
  if (idle >= options_.checkpoint_when_idle &&
      absl::Now() - checkpointed_at_ >= options_.checkpoint_when_idle) {
    return true;
  }
  // While catching up every case is new or changed, so checkpointing by
  // event count would rewrite the whole state over and over: by time only.
  if (!catching_up && pending >= options_.checkpoint_every_events) return true;
  return absl::Now() - checkpointed_at_ >= options_.checkpoint_every;
}

bool ProjectionRunner::CheckpointLogged() {
  absl::Status c = Checkpoint();
  if (c.ok()) {
    checkpoint_failing_ = false;
    // The cases' facts it saved may have left the cache: freed memory is
    // handed back, at most every half minute (it walks the whole heap), by
    // the caller once it holds no lock (reports waiting for the fold would
    // wait for it too).
    if (absl::Now() - memory_returned_at_ >= absl::Seconds(30)) {
      memory_returned_at_ = absl::Now();
      return true;
    }
    return false;
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
  return false;
}

}  // namespace evenhand::projections
