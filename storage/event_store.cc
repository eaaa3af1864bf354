// EventStore: opening and closing the log, its identity, and the public
// facade. The write pipeline is in event_store_write.cc, reads in
// event_store_read.cc, damage found and positions lost in
// event_store_damage.cc.
#include "storage/event_store.h"

#include <algorithm>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "base/error_details.h"
#include "base/logging.h"
#include "base/status_macros.h"
#include "base/time_util.h"
#include "base/uuid.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/listener.h"
#include "rocksdb/options.h"
#include "rocksdb/table.h"
#include "rocksdb/write_buffer_manager.h"
#include "storage/internal/keys.h"
#include "storage/internal/store_impl.h"
#include "storage/internal/write_metrics.h"

namespace evenhand::storage {

using internal::BigEndian64;
using internal::FromRocks;
using internal::ReadBigEndian64;

using internal::kLogIdKey;

namespace {

constexpr char kComponent[] = "storage";
constexpr char kFormatKey[] = "format_version";
constexpr char kFormatVersion[] = "1";

// Below this many free bytes (after giving back the reserve file) RocksDB
// cannot be opened for writing safely: opening writes a new MANIFEST,
// OPTIONS file and WAL. The store then opens read-only.
constexpr uint64_t kMinBytesToOpen = 4ull << 20;

}  // namespace

namespace internal {

// RocksDB's events, into the store: a background error stops RocksDB's
// writes, a recovery resumes them.
class StoreListener final : public rocksdb::EventListener {
 public:
  explicit StoreListener(EventStore::Impl* store) : store_(store) {}
  const char* Name() const override { return "EvenhandStoreListener"; }

  void OnBackgroundError(rocksdb::BackgroundErrorReason reason,
                         rocksdb::Status* bg_error) override {
    store_->OnBackgroundError(reason, *bg_error);
  }
  void OnErrorRecoveryEnd(const rocksdb::BackgroundErrorRecoveryInfo& info) override {
    if (info.new_bg_error.ok()) store_->OnRecovered();
  }
  void OnStallConditionsChanged(const rocksdb::WriteStallInfo& info) override {
    if (info.condition.cur == rocksdb::WriteStallCondition::kStopped) {
      logging::Warning(kComponent, absl::StrCat("RocksDB stopped writes to column family ",
                                                info.cf_name, " until compaction catches up"));
    }
  }

 private:
  EventStore::Impl* const store_;
};

absl::Status ValidateStreamId(std::string_view stream_id) {
  auto ok = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == ':' || c == '@' || c == '/' || c == '+' || c == '=';
  };
  if (stream_id.empty()) return InvalidFieldError("stream_id", "required");
  if (stream_id.size() > kMaxStreamIdBytes) {
    return InvalidFieldError(
        "stream_id", absl::StrCat("at most ", kMaxStreamIdBytes, " bytes, got ", stream_id.size()));
  }
  for (size_t i = 0; i < stream_id.size(); ++i) {
    if (!ok(stream_id[i])) {
      return InvalidFieldError(
          "stream_id",
          absl::StrCat("character ", i + 1,
                       " is not allowed; use letters, digits and - _ . : @ / + = (e.g. "
                       "\"briefing-B-1042\")"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<EventPtr> ParseRecord(std::string_view value, uint64_t position) {
  auto record = std::make_shared<v1::RecordedEvent>();
  if (!record->ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    return absl::DataLossError(
        absl::StrCat("storage: the record at position ", position, " cannot be parsed"));
  }
  return record;
}

}  // namespace internal

absl::Status CheckStreamId(std::string_view stream_id) {
  return internal::ValidateStreamId(stream_id);
}

bool ReadFilter::Matches(std::string_view stream_id, std::string_view type) const {
  if (!stream_prefixes.empty() &&
      std::none_of(stream_prefixes.begin(), stream_prefixes.end(),
                   [&](const std::string& p) { return stream_id.substr(0, p.size()) == p; })) {
    return false;
  }
  if (!event_types.empty() &&
      std::find(event_types.begin(), event_types.end(), type) == event_types.end()) {
    return false;
  }
  return true;
}

bool ReadFilter::Matches(const v1::Event& event) const {
  return Matches(event.stream_id(), event.type());
}

// ---------------------------------------------------------------------------

EventStore::Impl::Impl(StoreOptions options) : options_(std::move(options)) {}

EventStore::Impl::~Impl() { Close().IgnoreError(); }

absl::Status EventStore::Impl::Open() {
  EH_RETURN_IF_ERROR(MakeOwnerOnlyDir(options_.data_dir));
  DiskSpaceOptions space;
  space.dir = options_.data_dir;
  space.floor_bytes = options_.min_free_bytes;
  space.reserve_bytes = options_.reserve_bytes;
  space.free_bytes = options_.free_bytes;
  disk_ = std::make_unique<DiskSpace>(std::move(space));

  read_only_ = options_.read_only;
  if (read_only_) read_only_reason_ = "the log was opened read-only";
  if (!read_only_ && disk_->floor_bytes() > 0) {
    absl::StatusOr<uint64_t> free = disk_->FreeBytes();
    if (free.ok() && *free < disk_->floor_bytes()) {
      const bool released = disk_->ReleaseReserve();
      logging::Error(
          kComponent,
          absl::StrCat("the disk holding ", options_.data_dir, " has ", FormatBytes(*free),
                       " free, below the floor of ", FormatBytes(disk_->floor_bytes()),
                       released ? "; gave back the reserve file so the log can open" : "",
                       ": appends are refused until space is freed"));
      free = disk_->FreeBytes();
    }
    if (free.ok() && *free < kMinBytesToOpen) {
      read_only_ = true;
      read_only_reason_ = absl::StrCat(
          "the disk holding ", options_.data_dir, " had only ", FormatBytes(*free),
          " free when the server started, too little to open the log for writing: it serves "
          "reads only, and only those not on the record (a recorded read needs its access "
          "record written: the server's default refuses them). Free space, then restart "
          "evenhandd to accept appends and recorded reads");
      logging::Error(kComponent, read_only_reason_);
    }
  }

  if (options_.file_system == nullptr) folder_at_open_ = internal::ListFolder(options_.data_dir);
  EH_RETURN_IF_ERROR(ReadAcknowledged());
  EH_RETURN_IF_ERROR(OpenDatabase());
  EH_RETURN_IF_ERROR(ReadIdentity());

  // The last position is the last key of the events column family.
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), events_cf_));
  it->SeekToLast();
  EH_RETURN_IF_ERROR(FromRocks(it->status(), "cannot find the end of the log"));
  uint64_t last = 0;
  if (it->Valid()) {
    last = ReadBigEndian64(it->key().ToStringView());
    EH_ASSIGN_OR_RETURN(EventPtr record, internal::ParseRecord(it->value().ToStringView(), last));
    last_recorded_at_ = FromProtoTime(record->event().recorded_at());
    clock_watch_.Opened(last_recorded_at_);
  }
  it.reset();
  EH_RETURN_IF_ERROR(CheckRecoveredPositions(db_.get(), events_cf_));
  EH_RETURN_IF_ERROR(CheckAcknowledged(last));
  next_position_ = last + 1;
  last_position_.store(last, std::memory_order_release);
  feed_ = std::make_unique<LiveFeed>(options_.live_buffer_events, options_.live_buffer_bytes, last);
  EH_RETURN_IF_ERROR(LoadDamageRecord(last));
  if (!read_only_) {
    if (absl::Status s = disk_->EnsureReserve(); !s.ok() && !absl::IsResourceExhausted(s)) {
      logging::Warning(kComponent, s.ToString());
    }
  }
  StartPipeline();
  return absl::OkStatus();
}

absl::Status EventStore::Impl::OpenDatabase() {
  rocks_logger_ = std::make_shared<RocksLogger>(kComponent);
  env_ = EnvOver(OwnerOnlyFileSystem(options_.file_system));
  listener_ = std::make_shared<internal::StoreListener>(this);

  rocksdb::Options db_options;
  db_options.env = env_.get();
  db_options.info_log = rocks_logger_;
  db_options.listeners.push_back(listener_);
  // A new log only in a folder holding none of a log's files: without
  // CURRENT, RocksDB would otherwise make a new, empty log beside them and,
  // at the next start, delete them as obsolete (outside probe: a missing
  // CURRENT and two starts under systemd's Restart= wiped every table file).
  EH_RETURN_IF_ERROR(RefuseAFolderWithoutCurrent());
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.IncreaseParallelism(2);
  // Compactions yield the CPU to appends (flushes, which appends can wait
  // on when memtables fill, keep their priority).
  db_options.env->LowerThreadPoolCPUPriority(rocksdb::Env::Priority::LOW);
  // Flushes and compactions write their files in 1 MiB synced steps rather
  // than one large fsync at the end, which would queue ahead of the WAL
  // fsyncs that appends wait for.
  db_options.bytes_per_sync = 1 << 20;
  // Every acknowledged write is synced, so a complete record of the WAL is
  // never lost by a crash; only the final record of a write that was never
  // acknowledged can be torn. Tolerate exactly that and refuse to open on
  // any other damage (a checksum mismatch anywhere): kPointInTimeRecovery
  // would silently stop at the damage and drop every acknowledged event
  // after it. See docs/RELIABILITY.md.
  db_options.wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
  // Closed WALs are recorded in the MANIFEST with their synced sizes, so a
  // deleted or shortened one refuses to open.
  db_options.track_and_verify_wals_in_manifest = true;
  // Recovery keeps what it replays in memory instead of writing SST files,
  // so the log opens on a nearly full disk.
  db_options.avoid_flush_during_recovery = true;
  // A new MANIFEST is written at every open; RocksDB's 4 MiB preallocation
  // of it would take the room a nearly full disk has left.
  db_options.manifest_preallocation_size = 256 << 10;
  db_options.max_total_wal_size = 256 << 20;

  std::shared_ptr<rocksdb::Cache> cache = rocksdb::NewLRUCache(options_.block_cache_bytes);
  db_options.write_buffer_manager =
      std::make_shared<rocksdb::WriteBufferManager>(options_.memtable_bytes);
  auto table_options = [&](bool bloom) {
    rocksdb::BlockBasedTableOptions t;
    t.block_cache = cache;
    if (bloom) t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    return rocksdb::NewBlockBasedTableFactory(t);
  };
  // RocksDB keeps the largest memtable's size free on the disk for the
  // flush after a full disk (its SstFileManager's reserve), and resumes
  // writes only once that much is free. A memtable is at most all of them
  // together, and at most the free-space floor, so that freeing space above
  // the floor is always room enough to resume.
  size_t memtable = std::min<size_t>(options_.memtable_bytes, size_t{kMaxMemtableMib} << 20);
  if (options_.min_free_bytes > 0) {
    memtable = std::min<size_t>(memtable, std::max<uint64_t>(options_.min_free_bytes, 1 << 20));
  }
  rocksdb::ColumnFamilyOptions plain;
  plain.write_buffer_size = memtable;
  plain.table_factory.reset(table_options(false));
  // Most idempotency lookups are for new ids, and most revision lookups for
  // new streams: bloom filters answer those without reading a block.
  rocksdb::ColumnFamilyOptions with_bloom;
  with_bloom.write_buffer_size = memtable;
  with_bloom.table_factory.reset(table_options(true));

  std::vector<std::string> names = {rocksdb::kDefaultColumnFamilyName, internal::kEventsCf,
                                    internal::kStreamsCf, internal::kEventIdsCf, internal::kMetaCf};
  for (const auto& extra : options_.extra_column_families) {
    if (std::find(names.begin(), names.end(), extra) == names.end()) names.push_back(extra);
  }
  // A log written by a later version may have more column families; open
  // them too (RocksDB refuses to open a database without all of them).
  std::vector<std::string> existing;
  if (rocksdb::DB::ListColumnFamilies(db_options, options_.data_dir, &existing).ok()) {
    for (const auto& name : existing) {
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    }
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& name : names) {
    const bool bloom = name == internal::kEventIdsCf || name == internal::kStreamsCf;
    descriptors.emplace_back(name, bloom ? with_bloom : plain);
  }
  if (!read_only_) EH_RETURN_IF_ERROR(LookBeforeOpening(db_options, descriptors));
  rocksdb::DB* raw = nullptr;
  rocks_logger_->SetOpening(true);
  rocksdb::Status s =
      read_only_ ? rocksdb::DB::OpenForReadOnly(db_options, options_.data_dir, descriptors,
                                                &handles_, &raw)
                 : rocksdb::DB::Open(db_options, options_.data_dir, descriptors, &handles_, &raw);
  rocks_logger_->SetOpening(false);
  if (s.IsCorruption()) return RefuseDamagedOpen(s, db_options, descriptors);
  if (s.IsIOError() && absl::StrContains(s.ToString(), "lock")) {
    return absl::FailedPreconditionError(absl::StrCat(
        "storage: the log in ", options_.data_dir, " is in use by another process (RocksDB: ",
        s.ToString(), "); stop it first or use another data folder"));
  }
  if (s.IsIOError() && absl::StrContains(s.ToString(), "MANIFEST") &&
      absl::StrContains(s.ToString(), "No such file")) {
    // CURRENT names a MANIFEST that is not there: RocksDB's list of the
    // log's files is gone (outside probe: INTERNAL, and no advice).
    return absl::DataLossError(absl::StrCat(
        "storage: the log in ", options_.data_dir, " is damaged and will not be opened (",
        s.ToString(),
        "). The damage is in the MANIFEST, RocksDB's list of the log's files, which the CURRENT "
        "file names and which is missing: RocksDB cannot open the log at all, and nothing is "
        "served from this folder. Restore the data folder from a backup (evenhand restore), "
        "keeping this one for investigation"));
  }
  EH_RETURN_IF_ERROR(FromRocks(s, absl::StrCat("cannot open the log in ", options_.data_dir)));
  db_.reset(raw);
  for (auto* h : handles_) cf_by_name_[h->GetName()] = h;
  events_cf_ = cf_by_name_[internal::kEventsCf];
  streams_cf_ = cf_by_name_[internal::kStreamsCf];
  event_ids_cf_ = cf_by_name_[internal::kEventIdsCf];
  meta_cf_ = cf_by_name_[internal::kMetaCf];
  if (events_cf_ == nullptr || meta_cf_ == nullptr || streams_cf_ == nullptr ||
      event_ids_cf_ == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "storage: ", options_.data_dir, " is not an Even Hand log (column families missing)"));
  }
  return absl::OkStatus();
}

absl::Status EventStore::Impl::ReadIdentity() {
  std::string format;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), meta_cf_, kFormatKey, &format);
  if (s.IsNotFound()) {
    // No log, yet one acknowledged appends here: its files were removed
    // (a small log's only write-ahead log, say). Refused before a new log
    // takes its place (its id would then contradict the journal's).
    if (acknowledged_at_open_.has_value() && acknowledged_at_open_->position > 0) {
      return LostAcknowledged(0);
    }
    if (read_only_) {
      return absl::FailedPreconditionError(absl::StrCat(
          "storage: ", options_.data_dir, " holds no log yet and cannot be created read-only"));
    }
    log_id_ = NewUuid();
    rocksdb::WriteBatch batch;
    batch.Put(meta_cf_, kFormatKey, kFormatVersion);
    batch.Put(meta_cf_, kLogIdKey, log_id_);
    rocksdb::WriteOptions wo;
    wo.sync = true;
    return FromRocks(db_->Write(wo, &batch), "cannot initialise the log");
  }
  EH_RETURN_IF_ERROR(FromRocks(s, "cannot read the log's format"));
  if (format != kFormatVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat("storage: ", options_.data_dir, " holds log format ", format,
                     " but this server reads format ", kFormatVersion));
  }
  return FromRocks(db_->Get(rocksdb::ReadOptions(), meta_cf_, kLogIdKey, &log_id_),
                   "cannot read the log id");
}

void EventStore::Impl::BeginShutdown() {
  {
    absl::MutexLock lock(&queue_mu_);
    accepting_ = false;
    shutting_down_ = true;
  }
  if (feed_) feed_->Shutdown();
}

absl::Status EventStore::Impl::Close() {
  absl::MutexLock close_lock(&close_mu_);
  if (closed_) return absl::OkStatus();
  closed_ = true;
  BeginShutdown();
  {
    absl::MutexLock lock(&queue_mu_);
    stop_ = true;
  }
  // Each stage drains what the one before it handed over, then stops.
  if (sequencer_.joinable()) sequencer_.join();
  {
    absl::MutexLock lock(&write_mu_);
    write_stop_ = true;
  }
  if (writer_.joinable()) writer_.join();
  {
    absl::MutexLock lock(&answer_mu_);
    answer_stop_ = true;
  }
  if (completer_.joinable()) completer_.join();
  feed_.reset();
  if (!db_) return absl::OkStatus();
  absl::Status status;
  // A clean shutdown leaves nothing in the WAL to replay, so the next start
  // does not re-insert up to max_total_wal_size of writes. Not after a
  // failure: RocksDB refuses writes then, and the WAL is what recovers.
  bool failed;
  {
    absl::MutexLock lock(&queue_mu_);
    failed = !failure_.empty();
  }
  if (!read_only_ && !failed && !refused_recovery_ && !bg_error_.load() &&
      disk_->CheckRoom(0).ok()) {
    status.Update(FromRocks(db_->Flush(rocksdb::FlushOptions(), handles_), "flushing on close"));
  }
  for (auto* h : handles_) {
    status.Update(FromRocks(db_->DestroyColumnFamilyHandle(h), "closing a column family"));
  }
  handles_.clear();
  cf_by_name_.clear();
  status.Update(FromRocks(db_->Close(), "closing the log"));
  db_.reset();
  return status;
}

// ---------------------------------------------------------------------------

EventStore::EventStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EventStore::~EventStore() { Close().IgnoreError(); }

absl::StatusOr<std::unique_ptr<EventStore>> EventStore::Open(StoreOptions options) {
  if (options.data_dir.empty()) return absl::InvalidArgumentError("data_dir: required");
  if (options.live_buffer_events == 0) options.live_buffer_events = 1;
  if (options.live_buffer_bytes == 0) options.live_buffer_bytes = 1;
  if (options.max_group_commit_events == 0) options.max_group_commit_events = 1;
  internal::ShowWriteMetrics();
  auto impl = std::make_unique<Impl>(std::move(options));
  EH_RETURN_IF_ERROR(impl->Open());
  return std::unique_ptr<EventStore>(new EventStore(std::move(impl)));
}

void EventStore::AppendAsync(std::string stream_id, ExpectedRevision expected,
                             std::vector<v1::Event> events, AppendCallback done) {
  impl_->AppendAsync(std::move(stream_id), expected, std::move(events), std::move(done));
}

absl::StatusOr<AppendResult> EventStore::Append(std::string stream_id, ExpectedRevision expected,
                                                std::vector<v1::Event> events) {
  absl::Notification done;
  absl::StatusOr<AppendResult> result;
  impl_->AppendAsync(std::move(stream_id), expected, std::move(events),
                     [&](absl::StatusOr<AppendResult> r) {
                       result = std::move(r);
                       done.Notify();
                     });
  done.WaitForNotification();
  return result;
}

absl::StatusOr<AppendResult> EventStore::AppendRecord(std::string stream_id,
                                                      std::vector<v1::Event> events) {
  absl::Notification done;
  absl::StatusOr<AppendResult> result;
  AppendRecordAsync(std::move(stream_id), std::move(events), [&](absl::StatusOr<AppendResult> r) {
    result = std::move(r);
    done.Notify();
  });
  done.WaitForNotification();
  return result;
}

void EventStore::AppendRecordAsync(std::string stream_id, std::vector<v1::Event> events,
                                   AppendCallback done) {
  impl_->AppendAsync(std::move(stream_id), ExpectedRevision::Any(), std::move(events),
                     std::move(done), /*record=*/true);
}

absl::Status EventStore::ReadStream(const std::string& stream_id,
                                    std::optional<uint64_t> from_revision, Direction direction,
                                    uint64_t max_count, const EventVisitor& visit) const {
  absl::Status inner;
  EH_RETURN_IF_ERROR(impl_->ReadStreamRaw(stream_id, from_revision, direction, max_count,
                                          [&](uint64_t position, std::string_view bytes) {
                                            auto record = internal::ParseRecord(bytes, position);
                                            if (!record.ok()) {
                                              inner = record.status();
                                              return false;
                                            }
                                            return visit(*record);
                                          }));
  return inner;
}

absl::Status EventStore::ReadAll(std::optional<uint64_t> from_position, Direction direction,
                                 uint64_t max_count, const ReadFilter& filter,
                                 const EventVisitor& visit) const {
  absl::Status inner;
  EH_RETURN_IF_ERROR(impl_->ReadAllRaw(from_position, direction, max_count, filter,
                                       [&](uint64_t position, std::string_view bytes) {
                                         auto record = internal::ParseRecord(bytes, position);
                                         if (!record.ok()) {
                                           inner = record.status();
                                           return false;
                                         }
                                         return visit(*record);
                                       },
                                       /*budget=*/nullptr));
  return inner;
}

absl::Status EventStore::ReadStreamRaw(const std::string& stream_id,
                                       std::optional<uint64_t> from_revision, Direction direction,
                                       uint64_t max_count, const RawVisitor& visit) const {
  return impl_->ReadStreamRaw(stream_id, from_revision, direction, max_count, visit);
}

absl::Status EventStore::ReadAllRaw(std::optional<uint64_t> from_position, Direction direction,
                                    uint64_t max_count, const ReadFilter& filter,
                                    const RawVisitor& visit, ScanBudget* budget) const {
  return impl_->ReadAllRaw(from_position, direction, max_count, filter, visit, budget);
}

absl::StatusOr<EventPtr> EventStore::ReadAt(uint64_t position) const {
  return impl_->ReadAt(position);
}

absl::Status EventStore::ReadAtPositions(const std::vector<uint64_t>& positions,
                                         const EventVisitor& visit) const {
  return impl_->ReadAtPositions(positions, visit);
}

std::unique_ptr<Subscription> EventStore::Subscribe(uint64_t from_position) const {
  return std::make_unique<Subscription>(this, std::max<uint64_t>(from_position, 1));
}

LiveFeed& EventStore::feed() const { return *impl_->feed_; }
WriteState EventStore::write_state() const { return impl_->write_state(); }
absl::StatusOr<uint64_t> EventStore::free_disk_bytes() const { return impl_->disk_->FreeBytes(); }
uint64_t EventStore::min_free_disk_bytes() const { return impl_->disk_->floor_bytes(); }

void EventStore::MarkDamaged(uint64_t position, std::string problem) {
  impl_->MarkDamaged(position, std::move(problem));
}
std::vector<DamagedEvent> EventStore::damaged() const { return impl_->Damaged(); }

std::vector<std::string> EventStore::damage_found() const { return impl_->DamageFound(); }

std::vector<std::string> EventStore::warnings() const { return impl_->Warnings(); }

absl::Status EventStore::ReadFailure(const rocksdb::Status& s, absl::string_view what) const {
  return impl_->ReadFailure(s, what);
}

absl::Status EventStore::VerifyFiles() const {
  rocksdb::ReadOptions options;
  options.fill_cache = false;
  return impl_->ReadFailure(impl_->db_->VerifyChecksum(options),
                            "the log's table files do not read back whole");
}

absl::Status EventStore::CheckNotDamaged(uint64_t position) const {
  return impl_->CheckNotDamaged(position);
}

absl::StatusOr<EventPtr> EventStore::ReadByEventId(const std::string& event_id) const {
  return impl_->ReadByEventId(event_id);
}

absl::StatusOr<bool> EventStore::StreamExists(const std::string& stream_id) const {
  return impl_->StreamExists(stream_id);
}

absl::StatusOr<std::vector<std::string>> EventStore::StreamsAround(const std::string& stream_id,
                                                                   size_t each_side) const {
  return impl_->StreamsAround(stream_id, each_side);
}

absl::StatusOr<uint64_t> EventStore::PositionAtTime(absl::Time t) const {
  return impl_->PositionAtTime(t);
}

uint64_t EventStore::LastPosition() const { return impl_->LastPosition(); }
const std::string& EventStore::log_id() const { return impl_->log_id_; }
void EventStore::BeginShutdown() { impl_->BeginShutdown(); }
bool EventStore::WaitForAppendsToFinish(absl::Time deadline) {
  return impl_->WaitForAppendsToFinish(deadline);
}
absl::Status EventStore::Close() { return impl_->Close(); }
void EventStore::SetCommitHook(CommitHook* hook) { impl_->hook_ = hook; }
rocksdb::DB* EventStore::db() const { return impl_->db_.get(); }

rocksdb::ColumnFamilyHandle* EventStore::ColumnFamily(const std::string& name) const {
  auto it = impl_->cf_by_name_.find(name);
  return it == impl_->cf_by_name_.end() ? nullptr : it->second;
}

}  // namespace evenhand::storage
