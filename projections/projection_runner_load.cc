// ProjectionRunner: reading the checkpoint at start (its version and
// position at once; the cases and the findings index on the fold thread,
// while the server serves). Writing it is in projection_runner_checkpoint.cc;
// following the log in projection_runner.cc.
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "base/big_endian.h"
#include "base/free_memory.h"
#include "base/logging.h"
#include "base/status_macros.h"
#include "base/thread_name.h"
#include "google/protobuf/arena.h"
#include "projections/internal/checkpoint_store.h"
#include "projections/internal/two_stages.h"
#include "projections/projection_runner.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace evenhand::projections {

using internal::FromRocks;
using internal::kCasePrefix;
using internal::kCasesOnlyStateVersion;
using internal::kFindingsHeaderKey;
using internal::kFindingsPrefix;
using internal::kFindingsPrefixEnd;
using internal::kFindingSubjectPrefix;
using internal::kLogIdKey;
using internal::kPositionKey;
using internal::kPrefix;
using internal::kPrefixEnd;
using internal::kProvisionalFindingPrefix;
using internal::kSkeletonPrefix;
using internal::kStateVersion;
using internal::kVersionKey;
using internal::NewRocksStoredFindings;

namespace {

// Records read from the checkpoint, a few thousand at a time, parsed into
// one arena: made and freed in one piece, not record by record (half of
// reading a million events' findings index went to malloc and free).
template <typename Record>
struct ParsedBatch {
  std::unique_ptr<google::protobuf::Arena> arena;
  std::vector<const Record*> records;
};

// What reading a whole prefix of the checkpoint once at a start reads with:
// its blocks are read ahead and not kept in the block cache (a million
// events' skeletons and subjects filled it, 32 MiB of the server's memory
// from its start, with blocks not read again in bulk; a subject read back
// later, when it is decided, is cached then, and the cache fills with what
// is read up to its size).
rocksdb::ReadOptions ScanOnce() {
  rocksdb::ReadOptions options;
  options.fill_cache = false;
  options.readahead_size = 2 << 20;
  return options;
}

// Reads the records under `prefix` with `it`, parsed on a thread of its own
// (`queued` batches ahead), and hands each batch to `file` on this one;
// stops at its first error, or once `file` says to (an error, or
// Cancelled). A record with a stream_id must be under its key. `what`
// names one record in a message.
template <typename Record>
absl::Status ReadInBatches(
    rocksdb::Iterator* it, absl::string_view prefix, absl::string_view what, size_t queued,
    const std::function<absl::Status(const std::vector<const Record*>&)>& file) {
  constexpr size_t kBatch = 4096;
  using Batch = ParsedBatch<Record>;
  auto new_batch = [] {
    Batch batch;
    google::protobuf::ArenaOptions options;
    options.start_block_size = 256 << 10;
    options.max_block_size = 1 << 20;
    batch.arena = std::make_unique<google::protobuf::Arena>(options);
    batch.records.reserve(kBatch);
    return batch;
  };
  absl::Status filed;
  EH_RETURN_IF_ERROR(internal::TwoStages<Batch>(
      "eh-load", queued,
      [&](const std::function<bool(Batch &&)>& hand_over) -> absl::Status {
        Batch batch = new_batch();
        const rocksdb::Slice start(prefix.data(), prefix.size());
        for (it->Seek(start); it->Valid() && it->key().starts_with(start); it->Next()) {
          auto* record = google::protobuf::Arena::CreateMessage<Record>(batch.arena.get());
          const absl::string_view key(it->key().data() + prefix.size(),
                                      it->key().size() - prefix.size());
          bool parsed =
              record->ParseFromArray(it->value().data(), static_cast<int>(it->value().size()));
          if constexpr (requires { record->stream_id(); }) {
            parsed = parsed && record->stream_id() == key;
          }
          if (!parsed) {
            return absl::DataLossError(
                absl::StrCat("projection checkpoint: ", what, " cannot be parsed"));
          }
          batch.records.push_back(record);
          if (batch.records.size() == kBatch) {
            if (!hand_over(std::move(batch))) return absl::OkStatus();
            batch = new_batch();
          }
        }
        EH_RETURN_IF_ERROR(FromRocks(it->status(), absl::StrCat("cannot read ", what, "s")));
        if (!batch.records.empty()) hand_over(std::move(batch));
        return absl::OkStatus();
      },
      [&](Batch& batch) {
        filed = file(batch.records);
        return filed.ok();
      }));
  return filed;
}

}  // namespace

absl::Status ProjectionRunner::OpenCheckpoint() {
  absl::MutexLock fold(&fold_mu_);
  {
    absl::MutexLock lock(&mu_);
    checkpointed_at_ = absl::Now();
  }
  rocksdb::DB* db = db_.get();
  if (db == nullptr) return absl::OkStatus();  // read-only, no checkpoint: fold from 1
  rocksdb::ColumnFamilyHandle* cf = db->DefaultColumnFamily();
  std::string version;
  rocksdb::Status s = db->Get(rocksdb::ReadOptions(), cf, kVersionKey, &version);
  if (!s.ok() && !s.IsNotFound()) {
    absl::Status read = FromRocks(s, "cannot read the version");
    if (!absl::IsDataLoss(read)) return read;
    ReplaceDamagedCheckpoint(read);
    return absl::OkStatus();
  }
  const bool usable = s.ok() && (version == kStateVersion || version == kCasesOnlyStateVersion) &&
                      !options_.rebuild;
  if (!usable) {
    if (s.ok()) {
      logging::Info("projections",
                    absl::StrCat("discarding the fairness checkpoint (",
                                 options_.rebuild ? "rebuild asked for" : "older state version",
                                 "); folding the log from position 1"));
    }
    absl::MutexLock lock(&mu_);
    return ResetCheckpoint();
  }
  // A case's facts that could not be read back last time (a block that
  // checks but does not parse, a missing record): not to be met again.
  std::string damaged;
  s = db->Get(rocksdb::ReadOptions(), cf, internal::kDamagedKey, &damaged);
  if (s.ok()) {
    ReplaceDamagedCheckpoint(absl::DataLossError(damaged));
    return absl::OkStatus();
  }
  if (!s.IsNotFound()) {
    absl::Status read = FromRocks(s, "cannot read whether it is damaged");
    if (!absl::IsDataLoss(read)) return read;
    ReplaceDamagedCheckpoint(read);
    return absl::OkStatus();
  }
  // Folded from another log (a folder put together from two, a checkpoint
  // copied over): its cases are not this log's, and reports built on them
  // would be signed as if they were (outside probe). Moved aside, as a
  // damaged one is, and the log folded again.
  std::string log_id;
  s = db->Get(rocksdb::ReadOptions(), cf, kLogIdKey, &log_id);
  if (s.ok() && log_id != store_->log_id()) {
    ReplaceDamagedCheckpoint(absl::DataLossError(absl::StrCat("it was folded from log ", log_id,
                                                              ", not from this data folder's log (",
                                                              store_->log_id(), ")")));
    return absl::OkStatus();
  }
  if (!s.ok() && !s.IsNotFound()) {
    absl::Status read = FromRocks(s, "cannot read its log's id");
    if (!absl::IsDataLoss(read)) return read;
    ReplaceDamagedCheckpoint(read);
    return absl::OkStatus();
  }
  std::string position;
  if (absl::Status read = FromRocks(db->Get(rocksdb::ReadOptions(), cf, kPositionKey, &position),
                                    "cannot read the position");
      !read.ok()) {
    if (!absl::IsDataLoss(read)) return read;
    ReplaceDamagedCheckpoint(read);
    return absl::OkStatus();
  }
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
  skeletons_stored_ = version == kStateVersion;
  return absl::OkStatus();
}

void ProjectionRunner::ForgetCheckpoint() {
  projection_.Clear();
  projection_.KeepCasesIn(nullptr, 0);
  checkpointed_position_ = 0;
  checkpoint_position_ = 0;
  cases_read_ = 0;
}

absl::Status ProjectionRunner::ResetCheckpoint() {
  ForgetCheckpoint();
  if (db_ == nullptr || options_.read_only) return absl::OkStatus();
  rocksdb::ColumnFamilyHandle* cf = db_->DefaultColumnFamily();
  rocksdb::WriteBatch batch;
  batch.DeleteRange(cf, kPrefix, kPrefixEnd);
  batch.Put(cf, kVersionKey, kStateVersion);
  batch.Put(cf, kPositionKey, BigEndian64(0));
  batch.Put(cf, kLogIdKey, store_->log_id());
  return FromRocks(db_->Write(rocksdb::WriteOptions(), &batch), "cannot reset");
}

void ProjectionRunner::ReplaceDamagedCheckpoint(const absl::Status& why) {
  {
    absl::MutexLock lock(&mu_);
    ForgetCheckpoint();
  }
  stored_cases_.reset();  // its database is closed below
  if (options_.read_only) {
    logging::Error("projections",
                   absl::StrCat("the fairness projection's checkpoint is damaged (", why.message(),
                                "): read-only, the log is folded again from position 1 in "
                                "memory and the checkpoint left as it is"));
    db_.reset();
    return;
  }
  db_.reset();  // closed: it is moved aside
  // Never fails: without a new database, db_ is null and nothing written.
  OpenDatabase(/*damaged=*/true, why).IgnoreError();
  absl::MutexLock lock(&mu_);
  if (absl::Status reset = ResetCheckpoint(); !reset.ok()) {
    logging::Error("projections", absl::StrCat(reset.ToString(),
                                               "; the checkpoint is not written until the "
                                               "next start"));
    checkpoint_broken_ = true;
  }
}

void ProjectionRunner::KeepCasesInCheckpoint() {
  if (!CheckpointWritable()) {
    // Every body stays in memory: none may be dropped while none is saved.
    projection_.KeepCasesIn(nullptr, 0);
    stored_cases_.reset();
    return;
  }
  stored_cases_ = internal::NewRocksStoredCases(db_.get(), options_.TEST_case_read);
  projection_.KeepCasesIn(stored_cases_.get(), options_.case_cache_bytes);
}

absl::Status ProjectionRunner::LoadCases() {
  {
    // The cases read are let go of as they are filed, past the budget.
    absl::MutexLock lock(&mu_);
    KeepCasesInCheckpoint();
  }
  if (checkpoint_position_ == 0 || db_ == nullptr) return absl::OkStatus();
  const absl::Time started = absl::Now();
  // A skeleton is what the indexes hold of a case: filing them reads no
  // case's facts (a tenth of the bytes, and no payload parsed). Without a
  // store to read bodies back from (read-only), every case is read whole.
  const bool skeletons = skeletons_stored_ && stored_cases_ != nullptr;
  // The facts not read are still checked, as reading them whole would
  // check them: every block's checksum, on a thread of its own meanwhile
  // (0.05-0.08 s for the 78 MB of a million events' checkpoint), so that a
  // damaged checkpoint is replaced at the start, not met in the middle of
  // a report or a fold.
  absl::Status verified;
  std::thread verify;
  if (skeletons) {
    verify = std::thread([this, &verified] {
      SetThreadName("eh-verify");
      verified = FromRocks(db_->VerifyChecksum(ScanOnce()), "its table files' checksums");
    });
  }
  absl::Status read = skeletons ? LoadSkeletons() : LoadWholeCases();
  if (verify.joinable()) verify.join();
  if (absl::IsCancelled(read)) return read;
  EH_RETURN_IF_ERROR(verified);
  EH_RETURN_IF_ERROR(read);
  absl::MutexLock lock(&mu_);
  if (!skeletons) loaded_how_.cases_read_whole = cases_read_;
  projection_.RestorePosition(checkpoint_position_);
  checkpointed_position_ = checkpoint_position_;
  logging::Info("projections",
                absl::StrCat("restored the fairness projection at position ", checkpoint_position_,
                              " (", cases_read_, skeletons ? " cases' skeletons" : " cases whole",
                             ", read in ", absl::FormatDuration(absl::Now() - started), ")"));
  return absl::OkStatus();
}

absl::Status ProjectionRunner::LoadSkeletons() {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ScanOnce(), db_->DefaultColumnFamily()));
  return ReadInBatches<state::CaseSkeletonRecord>(
      it.get(), kSkeletonPrefix, "a case's skeleton", kQueuedChunks,
      [&](const std::vector<const state::CaseSkeletonRecord*>& skeletons) -> absl::Status {
        if (options_.TEST_before_load) options_.TEST_before_load();
        absl::MutexLock lock(&mu_);
        for (const state::CaseSkeletonRecord* skeleton : skeletons) {
          projection_.RestoreSkeleton(*skeleton);
        }
        cases_read_ += skeletons.size();
        return stop_ ? absl::CancelledError("stopping") : absl::OkStatus();
      });
}

absl::Status ProjectionRunner::LoadWholeCases() {
  // A checkpoint written before skeletons were: they are written as the
  // cases are read (a write error leaves it as it was, read whole again at
  // the next start), then the version that says they are there.
  const bool upgrade = !skeletons_stored_ && !options_.read_only;
  absl::Status upgraded;
  // Two stages on two threads: a reader parses the case records a chunk at
  // a time; this thread files them, under mu_ a chunk at a time so the
  // server's metrics are not held up (reports wait for loaded_ anyway).
  // Nothing writes the checkpoint meanwhile (Checkpoint waits for loaded_).
  constexpr size_t kChunk = 4096;
  using Chunk = std::vector<state::CaseRecord>;
  bool stopped = false;
  absl::Status read = internal::TwoStages<Chunk>(
      "eh-load", kQueuedChunks,
      [&](const std::function<bool(Chunk &&)>& hand_over) -> absl::Status {
        std::unique_ptr<rocksdb::Iterator> it(
            db_->NewIterator(ScanOnce(), db_->DefaultColumnFamily()));
        Chunk chunk;
        chunk.reserve(kChunk);
        for (it->Seek(kCasePrefix); it->Valid() && it->key().starts_with(kCasePrefix); it->Next()) {
          chunk.emplace_back();
          const absl::string_view stream(it->key().data() + sizeof(kCasePrefix) - 1,
                                         it->key().size() - (sizeof(kCasePrefix) - 1));
          if (!chunk.back().ParseFromArray(it->value().data(),
                                           static_cast<int>(it->value().size())) ||
              chunk.back().stream_id() != stream) {
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
        rocksdb::WriteBatch skeletons;
        {
          absl::MutexLock lock(&mu_);
          state::CaseSkeletonRecord skeleton;
          for (state::CaseRecord& record : chunk) {
            projection_.RestoreCase(std::move(record), upgrade ? &skeleton : nullptr);
            if (upgrade) {
              skeletons.Put(absl::StrCat(kSkeletonPrefix, skeleton.stream_id()),
                            skeleton.SerializeAsString());
            }
          }
          cases_read_ += chunk.size();
          stopped = stop_;
        }
        if (upgrade && upgraded.ok()) {
          // A cache, not evidence: not written while the disk is short.
          upgraded = disk_->CheckRoom(2 * skeletons.GetDataSize());
          if (upgraded.ok()) {
            upgraded = FromRocks(db_->Write(rocksdb::WriteOptions(), &skeletons),
                                 "cannot write the cases' skeletons");
          }
        }
        return !stopped;
      });
  if (stopped) return absl::CancelledError("stopping");
  EH_RETURN_IF_ERROR(read);
  if (!upgrade) return absl::OkStatus();
  if (upgraded.ok()) {
    upgraded = FromRocks(db_->Put(rocksdb::WriteOptions(), kVersionKey, kStateVersion),
                         "cannot write the version");
  }
  if (upgraded.ok()) {
    logging::Info("projections", "wrote each case's skeleton beside it: the next start reads "
                                 "those instead of every case's facts");
    skeletons_stored_ = true;
  } else {
    logging::Error("projections", absl::StrCat(upgraded.ToString(), "; the next start reads "
                                               "every case whole again"));
  }
  return absl::OkStatus();
}

bool ProjectionRunner::Load() {
  absl::MutexLock fold(&fold_mu_);
  const absl::Time started = absl::Now();
  absl::Status s = LoadCases();
  if (absl::IsCancelled(s)) return false;
  if (!s.ok()) {
    // A cache of the log, not evidence: folded again rather than refused.
    if (absl::IsDataLoss(s)) {
      ReplaceDamagedCheckpoint(s);
    } else {
      absl::MutexLock lock(&mu_);
      // Perhaps a passing read error: the checkpoint is left as it is.
      logging::Error(
          "projections",
          absl::StrCat("the fairness projection's checkpoint cannot be read (", s.ToString(),
                       "): the log is folded again from position 1 in memory, and "
                       "the checkpoint left as it is and not written until the next "
                       "start; reports wait until the fold is done"));
      ForgetCheckpoint();
      checkpoint_broken_ = true;
    }
  }
  if (s.ok()) {
    // Reports are served from here on, derived from the cases until the
    // findings index is whole (it serves none before: FindingsIndex::
    // Serves): at 10M events the index's every subject took 19 s more.
    // Whether it will be read back, and answer which reports, is known
    // before the first is let in (FairnessService lets a long one give way).
    const uint64_t will_serve_from = FindingsWillServeFrom();
    absl::MutexLock lock(&mu_);
    cases_loaded_ = true;
    Publish();
    if (will_serve_from != UINT64_MAX && !stop_) {
      skeletons_took_nanos_ = absl::ToInt64Nanoseconds(absl::Now() - started);
      cases_filed_ = cases_read_;
      subjects_filed_ = 0;
      findings_will_serve_from_ = will_serve_from;
      reading_since_nanos_ = absl::ToUnixNanos(absl::Now());
      derived_while_reading_nanos_ = 0;
      reading_findings_back_.store(true, std::memory_order_release);
    }
  }
  if (options_.index_settings && options_.index_calendar) {
    absl::Status f = RestoreFindings();
    if (absl::IsCancelled(f)) return false;
    if (absl::IsDataLoss(f) && !checkpoint_broken_) {
      // The cases read, but the findings index's part is damaged: the
      // whole checkpoint is replaced and the log folded again.
      {
        absl::MutexLock lock(&mu_);
        projection_.DropFindings();
        // Reports wait again: the projection goes back to position 0 (and
        // BuildReport checks the position again under the lock).
        cases_loaded_ = false;
        Publish();
        reading_findings_back_ = false;
        findings_will_serve_from_ = UINT64_MAX;
      }
      stored_findings_.reset();
      ReplaceDamagedCheckpoint(f);
      f = RestoreFindings();
      if (absl::IsCancelled(f)) return false;
    }
    if (!f.ok()) {
      logging::Error("projections", absl::StrCat("the findings index cannot be restored (",
                                                 f.ToString(), "): reports are derived in full"));
      absl::MutexLock lock(&mu_);
      projection_.DropFindings();
      index_after_catch_up_ = false;
      reading_findings_back_ = false;
      findings_will_serve_from_ = UINT64_MAX;
    }
  }
  {
    absl::MutexLock lock(&mu_);
    // Again after a damaged checkpoint was replaced by a new database.
    if (projection_.case_count() == 0) KeepCasesInCheckpoint();
    loaded_ = true;
    load_done_.store(true, std::memory_order_release);
    EndLoadWait();
    cases_loaded_ = true;
    Publish();
    reading_findings_back_ = false;
    loaded_how_.took = absl::Now() - started;
    if (stop_) return false;
  }
  // What reading the checkpoint parsed and let go of.
  ReturnFreedMemory();
  memory_returned_at_ = absl::Now();
  return true;
}

uint64_t ProjectionRunner::FindingsWillServeFrom() const {
  if (!options_.index_settings || !options_.index_calendar || db_ == nullptr ||
      checkpoint_broken_ || checkpoint_position_ == 0) {
    return UINT64_MAX;
  }
  std::string value;
  state::FindingsIndexHeader header;
  if (!db_->Get(rocksdb::ReadOptions(), db_->DefaultColumnFamily(), kFindingsHeaderKey, &value)
           .ok() ||
      !header.ParseFromString(value) ||
      !FairnessProjection::FindingsCheckpointUsableFor(
          header, checkpoint_position_, *options_.index_settings, *options_.index_calendar)) {
    return UINT64_MAX;
  }
  return header.complete_from();
}

void ProjectionRunner::LetReportsIn() const {
  if (options_.TEST_before_findings_load) options_.TEST_before_findings_load();
  // Reports are served while the index is read back (derived from the
  // cases): this thread would otherwise take mu_ again the moment it let go,
  // chunk after chunk, and a report wait for the whole restore (16 s at 10M
  // events). A report waiting goes first; a stream of them slows the
  // restore by at most 100 ms a chunk.
  for (int i = 0; i < 100 && readers_waiting_.load(std::memory_order_relaxed) > 0; ++i) {
    absl::SleepFor(absl::Milliseconds(1));
  }
}

uint64_t ProjectionRunner::FoldWhileFindingsRestored(uint64_t from, const std::atomic<bool>& done) {
  SetThreadName("eh-fold-ahead");
  std::unique_ptr<storage::Subscription> sub = store_->Subscribe(from);
  std::vector<storage::EventPtr> batch;
  uint64_t folded = 0;
  while (folded < kMostFoldedAhead && !done.load(std::memory_order_acquire) &&
         !stopping_.load(std::memory_order_acquire)) {
    batch.clear();
    const absl::Status s = sub->Next(kMostFoldedAhead - folded, options_.fold_batch_bytes,
                                     absl::Now() + absl::Milliseconds(20), &batch);
    if (!batch.empty()) {
      if (!FoldSliced(batch.size(), [&](size_t i) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
            projection_.Apply(*batch[i]);
          })) {
        break;  // stopping
      }
      folded += batch.size();
      absl::ReaderMutexLock lock(&mu_);
      if (!projection_.health().ok()) break;  // the fold after the load says so
    }
    if (!s.ok()) break;  // the store stopping, or a read the fold meets again
  }
  return folded;
}

absl::Status ProjectionRunner::RestoreFindings() {
  // mu_ is taken only around the projection's calls: records are read and
  // parsed outside it, so metrics are not held up (reports wait for loaded_).
  if (db_ != nullptr) {
    // Read-only too: a restored index reads its entries back (and, with no
    // checkpoint written, holds what it decides).
    stored_findings_ = NewRocksStoredFindings(db_.get());
  }
  // Never over a checkpoint that could not be reset: it may hold stale
  // entries.
  const bool store = stored_findings_ != nullptr && !checkpoint_broken_;
  uint64_t position;
  {
    absl::ReaderMutexLock lock(&mu_);
    position = projection_.position();
  }
  if (position == 0) {
    // A whole log to fold: each case is decided once after it (Follow).
    // Reports are derived meanwhile, and for as-of positions before the
    // end of that fold.
    index_after_catch_up_ = store_->LastPosition() > 0;
    if (index_after_catch_up_) return absl::OkStatus();
    absl::MutexLock lock(&mu_);
    projection_.IndexFindings(*options_.index_settings, *options_.index_calendar);
    // Read-only, a checkpoint not restored may hold stale entries.
    if (!options_.read_only && store) projection_.StoreFindingsIn(stored_findings_.get());
    return absl::OkStatus();
  }
  {
    absl::MutexLock lock(&mu_);
    projection_.IndexFindings(*options_.index_settings, *options_.index_calendar);
    if (store) projection_.StoreFindingsIn(stored_findings_.get());
  }
  if (db_ == nullptr) return absl::OkStatus();
  rocksdb::ColumnFamilyHandle* cf = db_->DefaultColumnFamily();
  const absl::Time started = absl::Now();
  std::string value;
  state::FindingsIndexHeader header;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf, kFindingsHeaderKey, &value);
  if (!s.ok() && !s.IsNotFound()) return FromRocks(s, "cannot read the findings index");
  absl::Status restored = absl::FailedPreconditionError("no usable findings index checkpoint");
  bool usable = false;
  if (s.ok() && header.ParseFromString(value)) {
    absl::ReaderMutexLock lock(&mu_);
    usable = projection_.FindingsCheckpointUsable(header);
    if (!usable &&
        header.fingerprint() != FairnessProjection::FindingsFingerprint(*options_.index_settings,
                                                                        *options_.index_calendar)) {
      restored = absl::FailedPreconditionError(
          "it was checkpointed with other fairness settings or bank holidays, or by a build "
          "whose rules decide differently (an upgrade); every case is decided again, and "
          "reports are derived in full meanwhile");
    }
  }
  uint64_t folded_ahead = 0;
  if (usable) {
    restored = [&]() -> absl::Status {
      // Events appended meanwhile are folded on a thread of their own, and
      // decided by the index once it is whole (FoldWhileFindingsRestored).
      {
        absl::MutexLock lock(&mu_);
        projection_.DeferFindingsUntilRestored();
      }
      std::atomic<bool> filed{false};
      std::thread ahead([&] { folded_ahead = FoldWhileFindingsRestored(position + 1, filed); });
      absl::Cleanup join = [&] {
        filed.store(true, std::memory_order_release);
        ahead.join();
      };
      // The dated entries stay on disk; the provisional ones are held, and
      // what each subject has: a few thousand records at a time, parsed
      // outside mu_ and filed under it.
      std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ScanOnce(), cf));
      EH_RETURN_IF_ERROR(ReadInBatches<state::FindingEntryRecord>(
          it.get(), kProvisionalFindingPrefix, "an entry", kQueuedChunks,
          [&](const std::vector<const state::FindingEntryRecord*>& entries) -> absl::Status {
            LetReportsIn();
            absl::MutexLock lock(&mu_);
            for (const state::FindingEntryRecord* entry : entries) {
              EH_RETURN_IF_ERROR(projection_.RestoreProvisionalFinding(*entry));
            }
            return stop_ ? absl::CancelledError("stopping") : absl::OkStatus();
          }));
      EH_RETURN_IF_ERROR(ReadInBatches<state::SubjectRecord>(
          it.get(), kFindingSubjectPrefix, "a subject", kQueuedChunks,
          [&](const std::vector<const state::SubjectRecord*>& subjects) -> absl::Status {
            LetReportsIn();
            absl::MutexLock lock(&mu_);
            for (const state::SubjectRecord* subject : subjects) {
              EH_RETURN_IF_ERROR(projection_.RestoreFindingSubject(*subject));
            }
            subjects_filed_.fetch_add(subjects.size(), std::memory_order_relaxed);
            return stop_ ? absl::CancelledError("stopping") : absl::OkStatus();
          }));
      std::move(join).Invoke();
      absl::MutexLock lock(&mu_);
      return projection_.FindingsRestored(header);
    }();
  }
  // Damaged (a record that does not parse or does not fit, a block RocksDB
  // finds changed): the caller replaces the whole checkpoint.
  if (absl::IsCancelled(restored) || absl::IsDataLoss(restored)) return restored;
  if (restored.ok()) {
    absl::ReaderMutexLock lock(&mu_);
    logging::Info(
        "projections",
        absl::StrCat("restored the findings index (", projection_.indexed_entries(),
                     " findings and obligations) in ", absl::FormatDuration(absl::Now() - started),
                     folded_ahead == 0 ? std::string()
                                       : absl::StrCat(", and decided the ", folded_ahead,
                                                      " events folded meanwhile")));
    return absl::OkStatus();
  }
  // Decided afresh instead, once the backlog is folded (Follow creates it
  // then, and seeds it a little at a time, while reports are derived in
  // full): a backlog decided at every event would take six times as long.
  // What was stored is dropped.
  if (s.ok()) {
    logging::Info("projections",
                  absl::StrCat("the findings index is decided afresh: ", restored.message()));
  }
  {
    absl::MutexLock lock(&mu_);
    projection_.DropFindings();
  }
  index_after_catch_up_ = true;
  if (options_.read_only) return absl::OkStatus();  // the stored ones are stale: never read
  rocksdb::WriteBatch batch;
  batch.DeleteRange(cf, kFindingsPrefix, kFindingsPrefixEnd);
  absl::Status reset =
      FromRocks(db_->Write(rocksdb::WriteOptions(), &batch), "cannot reset the findings index");
  if (!reset.ok()) checkpoint_broken_ = true;
  return reset;
}

}  // namespace evenhand::projections
