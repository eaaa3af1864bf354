#include "projections/projection_runner.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/big_endian.h"
#include "base/logging.h"
#include "base/status_macros.h"
#include "base/thread_name.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace evenhand::projections {
namespace {

// Bump when the projection's fold or CaseRecord layout changes: an older
// checkpoint is then discarded and the log refolded.
constexpr char kStateVersion[] = "fairness-1";

constexpr char kVersionKey[] = "fairness/version";
constexpr char kPositionKey[] = "fairness/position";
constexpr char kCasePrefix[] = "fairness/case/";
constexpr char kPrefix[] = "fairness/";
constexpr char kPrefixEnd[] = "fairness0";  // '0' follows '/'

absl::Status FromRocks(const rocksdb::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("projection checkpoint: ", what, ": ", s.ToString()));
}

}  // namespace

ProjectionRunner::ProjectionRunner(storage::EventStore* store, RunnerOptions options)
    : store_(store), options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<ProjectionRunner>> ProjectionRunner::Start(
    storage::EventStore* store, RunnerOptions options) {
  if (store->ColumnFamily(kColumnFamily) == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("the store was opened without the \"", kColumnFamily,
                     "\" column family the projection checkpoints into"));
  }
  std::unique_ptr<ProjectionRunner> runner(new ProjectionRunner(store, std::move(options)));
  EH_RETURN_IF_ERROR(runner->Restore());
  runner->thread_ = std::thread([r = runner.get()] {
    SetThreadName("eh-projection");
    r->Follow();
  });
  return runner;
}

ProjectionRunner::~ProjectionRunner() { Stop(); }

absl::Status ProjectionRunner::Restore() {
  rocksdb::DB* db = store_->db();
  rocksdb::ColumnFamilyHandle* cf = store_->ColumnFamily(kColumnFamily);
  absl::MutexLock lock(&mu_);
  checkpointed_at_ = absl::Now();
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
    rocksdb::WriteBatch batch;
    batch.DeleteRange(cf, kPrefix, kPrefixEnd);
    batch.Put(cf, kVersionKey, kStateVersion);
    batch.Put(cf, kPositionKey, BigEndian64(0));
    return FromRocks(db->Write(rocksdb::WriteOptions(), &batch), "cannot reset");
  }
  std::string position;
  EH_RETURN_IF_ERROR(FromRocks(db->Get(rocksdb::ReadOptions(), cf, kPositionKey, &position),
                               "cannot read the position"));
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), cf));
  size_t cases = 0;
  for (it->Seek(kCasePrefix); it->Valid() && it->key().starts_with(kCasePrefix); it->Next()) {
    state::CaseRecord record;
    if (!record.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError(
          absl::StrCat("projection checkpoint: case ", it->key().ToString(), " cannot be parsed"));
    }
    projection_.RestoreCase(std::move(record));
    ++cases;
  }
  EH_RETURN_IF_ERROR(FromRocks(it->status(), "cannot read the cases"));
  const uint64_t restored = ReadBigEndian64(position);
  if (restored > store_->LastPosition()) {
    return absl::DataLossError(absl::StrCat(
        "projection checkpoint is at position ", restored, " but the log ends at ",
        store_->LastPosition(), "; start with the projection rebuilt"));
  }
  projection_.RestorePosition(restored);
  checkpointed_position_ = restored;
  logging::Info("projections", absl::StrCat("restored the fairness projection at position ",
                                            restored, " (", cases, " cases)"));
  return absl::OkStatus();
}

absl::Status ProjectionRunner::Checkpoint() {
  if (projection_.position() == checkpointed_position_) return absl::OkStatus();
  rocksdb::ColumnFamilyHandle* cf = store_->ColumnFamily(kColumnFamily);
  rocksdb::WriteBatch batch;
  std::string key, value;
  projection_.ForEachDirtyCase([&](const state::CaseRecord& record) {
    key = absl::StrCat(kCasePrefix, record.stream_id());
    record.SerializeToString(&value);
    batch.Put(cf, key, value);
  });
  batch.Put(cf, kPositionKey, BigEndian64(projection_.position()));
  // Not synced: a checkpoint lost in a crash is refolded from the log.
  EH_RETURN_IF_ERROR(FromRocks(store_->db()->Write(rocksdb::WriteOptions(), &batch),
                               "cannot write"));
  projection_.ClearDirty();
  checkpointed_position_ = projection_.position();
  checkpointed_at_ = absl::Now();
  return absl::OkStatus();
}

absl::Status ProjectionRunner::CheckpointForTest() {
  absl::MutexLock lock(&mu_);
  return Checkpoint();
}

void ProjectionRunner::Follow() {
  uint64_t from;
  {
    absl::MutexLock lock(&mu_);
    from = projection_.position() + 1;
  }
  std::unique_ptr<storage::Subscription> sub = store_->Subscribe(from);
  std::vector<storage::EventPtr> batch;
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (stop_) break;
    }
    batch.clear();
    absl::Status s = sub->Next(4096, absl::Now() + absl::Milliseconds(200), &batch);
    absl::MutexLock lock(&mu_);
    for (const storage::EventPtr& e : batch) projection_.Apply(*e);
    const bool due = projection_.position() - checkpointed_position_ >=
                         options_.checkpoint_every_events ||
                     (projection_.position() != checkpointed_position_ &&
                      absl::Now() - checkpointed_at_ >= options_.checkpoint_every);
    if (due || !s.ok()) {
      if (absl::Status c = Checkpoint(); !c.ok()) logging::Error("projections", c.ToString());
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
  absl::MutexLock lock(&mu_);
  if (absl::Status c = Checkpoint(); !c.ok()) logging::Error("projections", c.ToString());
}

bool ProjectionRunner::WaitForPosition(uint64_t position, absl::Time deadline) const {
  absl::MutexLock lock(&mu_);
  auto reached = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return projection_.position() >= position;
  };
  return mu_.AwaitWithDeadline(absl::Condition(&reached), deadline);
}

uint64_t ProjectionRunner::position() const {
  absl::ReaderMutexLock lock(&mu_);
  return projection_.position();
}

void ProjectionRunner::Read(const std::function<void(const FairnessProjection&)>& read) const {
  absl::ReaderMutexLock lock(&mu_);
  read(projection_);
}

}  // namespace evenhand::projections
