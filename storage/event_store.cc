#include "storage/event_store.h"

#include <algorithm>
#include <atomic>
#include <deque>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "base/status_macros.h"
#include "base/thread_name.h"
#include "base/time_util.h"
#include "base/uuid.h"
#include "google/protobuf/util/time_util.h"
#include "rocksdb/db.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/options.h"
#include "rocksdb/slice.h"
#include "rocksdb/table.h"
#include "rocksdb/write_batch.h"
#include "rocksdb/write_buffer_manager.h"
#include "storage/internal/keys.h"

namespace evenhand::storage {

using internal::BigEndian64;
using internal::ReadBigEndian64;
using internal::StreamKey;
using internal::StreamPrefix;

namespace {

constexpr char kEventsCf[] = "events";
constexpr char kStreamsCf[] = "streams";
constexpr char kEventIdsCf[] = "event_ids";
constexpr char kMetaCf[] = "meta";
constexpr char kLogIdKey[] = "log_id";
constexpr char kFormatKey[] = "format_version";
constexpr char kFormatVersion[] = "1";

// The stream cache is a plain map cleared when full: the sequencer reads a
// missing entry back from RocksDB with one seek, so a miss costs little and
// memory stays bounded however many streams the log has.
constexpr size_t kStreamCacheLimit = 1 << 17;

constexpr size_t kMaxStreamIdBytes = 200;

absl::Status FromRocks(const rocksdb::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("storage: ", what, ": ", s.ToString()));
}

bool StreamIdCharOk(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '-' || c == '_' || c == '.' || c == ':' || c == '@' || c == '/' || c == '+' ||
         c == '=';
}

absl::Status ValidateStreamId(std::string_view stream_id) {
  if (stream_id.empty()) return absl::InvalidArgumentError("stream_id: required");
  if (stream_id.size() > kMaxStreamIdBytes) {
    return absl::InvalidArgumentError(absl::StrCat("stream_id: at most ", kMaxStreamIdBytes,
                                                   " characters, got ", stream_id.size()));
  }
  for (size_t i = 0; i < stream_id.size(); ++i) {
    if (!StreamIdCharOk(stream_id[i])) {
      return absl::InvalidArgumentError(absl::StrCat(
          "stream_id: character ", i + 1,
          " is not allowed; use letters, digits and - _ . : @ / + = (e.g. \"briefing-B-1042\")"));
    }
  }
  return absl::OkStatus();
}

std::string UuidKey(const UuidBytes& b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

absl::StatusOr<EventPtr> ParseRecord(const rocksdb::Slice& value, uint64_t position) {
  auto record = std::make_shared<v1::RecordedEvent>();
  if (!record->ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    return absl::DataLossError(
        absl::StrCat("storage: the record at position ", position, " cannot be parsed"));
  }
  return record;
}

}  // namespace

bool ReadFilter::Matches(std::string_view stream_id, std::string_view type) const {
  if (!stream_prefixes.empty() &&
      std::none_of(stream_prefixes.begin(), stream_prefixes.end(), [&](const std::string& p) {
        return stream_id.substr(0, p.size()) == p;
      })) {
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

class EventStore::Impl {
 public:
  explicit Impl(StoreOptions options) : options_(std::move(options)) {}
  ~Impl() { Close().IgnoreError(); }

  absl::Status Open();
  absl::Status Close();
  void BeginShutdown();

  void AppendAsync(std::string stream_id, ExpectedRevision expected,
                   std::vector<v1::Event> events, AppendCallback done);

  absl::Status ReadStream(const std::string& stream_id, std::optional<uint64_t> from_revision,
                          Direction direction, uint64_t max_count,
                          const EventVisitor& visit) const;
  absl::Status ReadStreamRaw(const std::string& stream_id, std::optional<uint64_t> from_revision,
                             Direction direction, uint64_t max_count,
                             const RawVisitor& visit) const;
  absl::Status ReadAll(std::optional<uint64_t> from_position, Direction direction,
                       uint64_t max_count, const ReadFilter& filter,
                       const EventVisitor& visit) const;
  absl::Status ReadAllRaw(std::optional<uint64_t> from_position, Direction direction,
                          uint64_t max_count, const ReadFilter& filter,
                          const RawVisitor& visit) const;
  absl::StatusOr<EventPtr> ReadAt(uint64_t position) const;
  absl::StatusOr<EventPtr> ReadByEventId(const std::string& event_id) const;
  absl::StatusOr<bool> StreamExists(const std::string& stream_id) const;
  absl::StatusOr<uint64_t> PositionAtTime(absl::Time t) const;

  uint64_t LastPosition() const { return last_position_.load(std::memory_order_acquire); }

  bool ShuttingDown() const {
    absl::MutexLock lock(&live_mu_);
    return shutting_down_;
  }

  // Subscription support: see Subscription::Next.
  absl::Status NextForSubscription(uint64_t from, size_t max_events, absl::Time deadline,
                                   std::vector<EventPtr>* out, bool* from_live_buffer);

  // Constant after Open().
  StoreOptions options_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  absl::flat_hash_map<std::string, rocksdb::ColumnFamilyHandle*> cf_by_name_;
  rocksdb::ColumnFamilyHandle* events_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* streams_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* event_ids_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* meta_cf_ = nullptr;
  std::string log_id_;
  CommitHook* hook_ = nullptr;  // set before the first append

 private:
  // One queued append.
  struct Pending {
    std::string stream_id;
    ExpectedRevision expected;
    std::vector<v1::Event> events;
    std::vector<std::string> id_keys;  // parsed event ids, 16 bytes each
    AppendCallback done;
  };

  // The sequencer's verdict on one request of a group.
  struct Outcome {
    absl::StatusOr<AppendResult> result = absl::UnknownError("not decided");
    // The verdict rests on events that are not durable yet: this group's
    // (its own events, or a retry or conflict with them), or those of a
    // group ahead of it in the pipeline. It stands or falls with that write.
    bool rests_on_this_group = false;
    bool rests_on_earlier_group = false;
  };

  // A group decided by the sequencer, on its way to the writer.
  struct Decided {
    std::vector<AppendCallback> done;  // one per request, in request order
    std::vector<Outcome> outcomes;
    rocksdb::WriteBatch batch;
    std::vector<EventPtr> records;
    uint64_t first_position = 0;
    // Set if the group failed before RocksDB saw it; the hook then has
    // nothing to commit or abort.
    absl::Status prepare_status;
  };

  // An event written by a group still in the pipeline: the sequencer must
  // see it (as a retry's original, or as its stream's revision) although
  // RocksDB does not have it yet.
  struct InFlight {
    uint64_t position;
    std::string id_key;
    std::string stream_id;
    EventPtr record;
  };

  void RunSequencer();
  void RunWriter();
  void RunCompleter();
  Decided Decide(std::vector<Pending>& group);
  void Write(Decided& d);
  // Drops in-flight entries that RocksDB now has.
  void ForgetWritten();
  // The record at `position`, from the pipeline or from RocksDB.
  absl::StatusOr<EventPtr> RecordAt(uint64_t position) const;
  absl::StatusOr<std::optional<uint64_t>> StreamLastRevision(
      const std::string& stream_id,
      const absl::flat_hash_map<std::string, std::optional<uint64_t>>& overlay);
  // The answer to a retry whose event ids are all at `positions`; those at or
  // after `first_in_group` are in `in_group` (this group, not yet written).
  absl::StatusOr<AppendResult> Replay(const Pending& p, const std::vector<uint64_t>& positions);
  std::string FirstSeenMessage(const Pending& p, const std::vector<std::optional<uint64_t>>& seen);

  std::atomic<uint64_t> last_position_{0};

  // The append queue.
  absl::Mutex queue_mu_;
  std::deque<Pending> queue_ ABSL_GUARDED_BY(queue_mu_);
  bool accepting_ ABSL_GUARDED_BY(queue_mu_) = false;
  bool stop_ ABSL_GUARDED_BY(queue_mu_) = false;
  // Set when a RocksDB write failed; appends are refused from then on.
  std::string failure_ ABSL_GUARDED_BY(queue_mu_);
  std::thread sequencer_;

  // The pipeline: the sequencer decides group N+1 while the writer writes
  // and syncs group N, and the completer answers group N-1's appenders
  // (answering means network writes, which would otherwise delay the next
  // fsync). At most one decided group waits for the writer, so appends
  // arriving during a write gather into the next group.
  absl::Mutex write_mu_;
  std::deque<Decided> write_queue_ ABSL_GUARDED_BY(write_mu_);
  bool write_stop_ ABSL_GUARDED_BY(write_mu_) = false;
  std::thread writer_;
  struct Answer {
    AppendCallback done;
    absl::StatusOr<AppendResult> result;
  };
  absl::Mutex answer_mu_;
  std::deque<std::vector<Answer>> answer_queue_ ABSL_GUARDED_BY(answer_mu_);
  bool answer_stop_ ABSL_GUARDED_BY(answer_mu_) = false;
  std::thread completer_;

  // Owned by the sequencer thread (and by Open() before it starts).
  uint64_t next_position_ = 1;
  absl::Time last_recorded_at_ = absl::InfinitePast();
  absl::flat_hash_map<std::string, std::optional<uint64_t>> stream_cache_;
  // Events decided but maybe not yet written, in position order (dense),
  // with indexes by event id and by stream (the stream's latest revision
  // and the position that set it).
  std::deque<InFlight> in_flight_;
  absl::flat_hash_map<std::string, uint64_t> in_flight_ids_;
  absl::flat_hash_map<std::string, std::pair<uint64_t, uint64_t>> in_flight_streams_;

  // The live buffer of recent events, for subscribers.
  mutable absl::Mutex live_mu_;
  std::deque<EventPtr> live_ ABSL_GUARDED_BY(live_mu_);
  // Position of live_.front() (or of the next event when live_ is empty).
  uint64_t live_first_ ABSL_GUARDED_BY(live_mu_) = 1;
  uint64_t live_committed_ ABSL_GUARDED_BY(live_mu_) = 0;
  size_t live_bytes_ ABSL_GUARDED_BY(live_mu_) = 0;
  bool shutting_down_ ABSL_GUARDED_BY(live_mu_) = false;

  absl::Mutex close_mu_;
  bool closed_ ABSL_GUARDED_BY(close_mu_) = false;
};

absl::Status EventStore::Impl::Open() {
  rocksdb::Options db_options;
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
  // Every acknowledged write is synced; recover to the last complete write.
  db_options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
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
  rocksdb::ColumnFamilyOptions plain;
  plain.table_factory.reset(table_options(false));
  rocksdb::ColumnFamilyOptions with_bloom;
  // Most idempotency lookups are for new ids: a bloom filter answers those
  // without reading a block.
  with_bloom.table_factory.reset(table_options(true));
  rocksdb::ColumnFamilyOptions streams_options = with_bloom;

  std::vector<std::string> names = {rocksdb::kDefaultColumnFamilyName, kEventsCf, kStreamsCf,
                                    kEventIdsCf, kMetaCf};
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
    if (name == kEventIdsCf) {
      descriptors.emplace_back(name, with_bloom);
    } else if (name == kStreamsCf) {
      descriptors.emplace_back(name, streams_options);
    } else {
      descriptors.emplace_back(name, plain);
    }
  }
  rocksdb::DB* raw = nullptr;
  EH_RETURN_IF_ERROR(FromRocks(
      rocksdb::DB::Open(db_options, options_.data_dir, descriptors, &handles_, &raw),
      absl::StrCat("cannot open the log in ", options_.data_dir)));
  db_.reset(raw);
  for (auto* h : handles_) cf_by_name_[h->GetName()] = h;
  events_cf_ = cf_by_name_[kEventsCf];
  streams_cf_ = cf_by_name_[kStreamsCf];
  event_ids_cf_ = cf_by_name_[kEventIdsCf];
  meta_cf_ = cf_by_name_[kMetaCf];

  // Identity and format of the log.
  std::string format;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), meta_cf_, kFormatKey, &format);
  if (s.IsNotFound()) {
    log_id_ = NewUuid();
    rocksdb::WriteBatch batch;
    batch.Put(meta_cf_, kFormatKey, kFormatVersion);
    batch.Put(meta_cf_, kLogIdKey, log_id_);
    rocksdb::WriteOptions wo;
    wo.sync = true;
    EH_RETURN_IF_ERROR(FromRocks(db_->Write(wo, &batch), "cannot initialise the log"));
  } else {
    EH_RETURN_IF_ERROR(FromRocks(s, "cannot read the log's format"));
    if (format != kFormatVersion) {
      return absl::FailedPreconditionError(absl::StrCat(
          "storage: ", options_.data_dir, " holds log format ", format,
          " but this server reads format ", kFormatVersion));
    }
    EH_RETURN_IF_ERROR(FromRocks(db_->Get(rocksdb::ReadOptions(), meta_cf_, kLogIdKey, &log_id_),
                                 "cannot read the log id"));
  }

  // The last position is the last key of the events column family.
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), events_cf_));
  it->SeekToLast();
  EH_RETURN_IF_ERROR(FromRocks(it->status(), "cannot find the end of the log"));
  uint64_t last = 0;
  if (it->Valid()) {
    last = ReadBigEndian64(std::string_view(it->key().data(), it->key().size()));
    EH_ASSIGN_OR_RETURN(EventPtr record, ParseRecord(it->value(), last));
    last_recorded_at_ = FromProtoTime(record->event().recorded_at());
  }
  it.reset();
  next_position_ = last + 1;
  last_position_.store(last, std::memory_order_release);
  {
    absl::MutexLock lock(&live_mu_);
    live_first_ = last + 1;
    live_committed_ = last;
  }
  {
    absl::MutexLock lock(&queue_mu_);
    accepting_ = true;
  }
  completer_ = std::thread([this] {
    SetThreadName("eh-completer");
    RunCompleter();
  });
  writer_ = std::thread([this] {
    SetThreadName("eh-writer");
    RunWriter();
  });
  sequencer_ = std::thread([this] {
    SetThreadName("eh-sequencer");
    RunSequencer();
  });
  return absl::OkStatus();
}

void EventStore::Impl::BeginShutdown() {
  {
    absl::MutexLock lock(&queue_mu_);
    accepting_ = false;
  }
  absl::MutexLock lock(&live_mu_);
  shutting_down_ = true;
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
  if (!db_) return absl::OkStatus();
  absl::Status status;
  // A clean shutdown leaves nothing in the WAL to replay, so the next start
  // does not re-insert up to max_total_wal_size of writes.
  status.Update(FromRocks(db_->Flush(rocksdb::FlushOptions(), handles_), "flushing on close"));
  for (auto* h : handles_) {
    status.Update(FromRocks(db_->DestroyColumnFamilyHandle(h), "closing a column family"));
  }
  handles_.clear();
  cf_by_name_.clear();
  status.Update(FromRocks(db_->Close(), "closing the log"));
  db_.reset();
  return status;
}

void EventStore::Impl::AppendAsync(std::string stream_id, ExpectedRevision expected,
                                   std::vector<v1::Event> events, AppendCallback done) {
  auto reject = [&](absl::Status status) { std::move(done)(std::move(status)); };
  if (absl::Status s = ValidateStreamId(stream_id); !s.ok()) return reject(s);
  if (events.empty()) {
    return reject(absl::InvalidArgumentError("events: at least one event is required"));
  }
  Pending p;
  p.id_keys.reserve(events.size());
  absl::flat_hash_set<std::string> ids_in_batch;
  for (size_t i = 0; i < events.size(); ++i) {
    const v1::Event& e = events[i];
    if (e.event_id().empty()) {
      return reject(absl::InvalidArgumentError(
          absl::StrCat("events[", i, "].event_id: required (a UUID chosen by the publisher)")));
    }
    absl::StatusOr<UuidBytes> id = ParseUuid(e.event_id());
    if (!id.ok()) {
      return reject(absl::InvalidArgumentError(
          absl::StrCat("events[", i, "].event_id: ", id.status().message())));
    }
    std::string key = UuidKey(*id);
    if (!ids_in_batch.insert(key).second) {
      return reject(absl::InvalidArgumentError(absl::StrCat(
          "events[", i, "].event_id: ", e.event_id(), " appears twice in this batch")));
    }
    if (!e.stream_id().empty() && e.stream_id() != stream_id) {
      return reject(absl::InvalidArgumentError(
          absl::StrCat("events[", i, "].stream_id: \"", e.stream_id(),
                       "\" differs from the append's stream_id \"", stream_id, "\"")));
    }
    p.id_keys.push_back(std::move(key));
  }
  p.stream_id = std::move(stream_id);
  p.expected = expected;
  p.events = std::move(events);
  p.done = std::move(done);
  std::string failure;
  {
    absl::MutexLock lock(&queue_mu_);
    if (accepting_) {
      queue_.push_back(std::move(p));
      return;
    }
    failure = failure_;
  }
  if (!failure.empty()) {
    std::move(p.done)(absl::UnavailableError(absl::StrCat(
        "the log stopped accepting appends after a storage failure (", failure,
        "); restart the server and retry with the same event ids")));
    return;
  }
  std::move(p.done)(absl::UnavailableError(
      "the server is shutting down and accepts no more appends; retry against a running server"));
}

void EventStore::Impl::RunSequencer() {
  for (;;) {
    // While the writer still has a decided group waiting, appends gather in
    // the queue: under load the group grows, so one fsync covers more.
    {
      absl::MutexLock lock(&write_mu_);
      auto writer_free = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_) {
        return write_queue_.empty();
      };
      write_mu_.Await(absl::Condition(&writer_free));
    }
    std::vector<Pending> group;
    {
      absl::MutexLock lock(&queue_mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(queue_mu_) {
        return !queue_.empty() || stop_;
      };
      queue_mu_.Await(absl::Condition(&ready));
      if (queue_.empty()) return;  // stop_ and nothing left to do
      size_t events = 0;
      while (!queue_.empty() &&
             (group.empty() ||
              events + queue_.front().events.size() <= options_.max_group_commit_events)) {
        events += queue_.front().events.size();
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    Decided decided = Decide(group);
    absl::MutexLock lock(&write_mu_);
    write_queue_.push_back(std::move(decided));
  }
}

void EventStore::Impl::RunWriter() {
  for (;;) {
    Decided d;
    {
      absl::MutexLock lock(&write_mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_) {
        return !write_queue_.empty() || write_stop_;
      };
      write_mu_.Await(absl::Condition(&ready));
      if (write_queue_.empty()) return;
      // Taking it frees the sequencer to decide the next group meanwhile.
      d = std::move(write_queue_.front());
      write_queue_.pop_front();
    }
    Write(d);
  }
}

void EventStore::Impl::RunCompleter() {
  for (;;) {
    std::vector<Answer> answers;
    {
      absl::MutexLock lock(&answer_mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(answer_mu_) {
        return !answer_queue_.empty() || answer_stop_;
      };
      answer_mu_.Await(absl::Condition(&ready));
      if (answer_queue_.empty()) return;
      answers = std::move(answer_queue_.front());
      answer_queue_.pop_front();
    }
    for (Answer& a : answers) std::move(a.done)(std::move(a.result));
  }
}

void EventStore::Impl::ForgetWritten() {
  const uint64_t written = LastPosition();
  while (!in_flight_.empty() && in_flight_.front().position <= written) {
    const InFlight& f = in_flight_.front();
    in_flight_ids_.erase(f.id_key);
    // A later in-flight write to the stream keeps its entry.
    if (auto it = in_flight_streams_.find(f.stream_id);
        it != in_flight_streams_.end() && it->second.second == f.position) {
      in_flight_streams_.erase(it);
    }
    in_flight_.pop_front();
  }
}

absl::StatusOr<EventPtr> EventStore::Impl::RecordAt(uint64_t position) const {
  if (!in_flight_.empty() && position >= in_flight_.front().position) {
    const uint64_t index = position - in_flight_.front().position;
    if (index < in_flight_.size()) return in_flight_[index].record;
  }
  return ReadAt(position);
}

absl::StatusOr<std::optional<uint64_t>> EventStore::Impl::StreamLastRevision(
    const std::string& stream_id,
    const absl::flat_hash_map<std::string, std::optional<uint64_t>>& overlay) {
  if (auto it = overlay.find(stream_id); it != overlay.end()) return it->second;
  if (auto it = in_flight_streams_.find(stream_id); it != in_flight_streams_.end()) {
    return it->second.first;
  }
  if (auto it = stream_cache_.find(stream_id); it != stream_cache_.end()) return it->second;
  // Most appends to an uncached stream open a new case: a new stream. Every
  // stream has a revision 0, and a point lookup of it is answered by the
  // bloom filters without reading a block, where a seek would read one
  // from every level.
  EH_ASSIGN_OR_RETURN(bool exists, StreamExists(stream_id));
  if (!exists) {
    if (stream_cache_.size() >= kStreamCacheLimit) stream_cache_.clear();
    stream_cache_[stream_id] = std::nullopt;
    return std::nullopt;
  }
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), streams_cf_));
  std::string prefix = StreamPrefix(stream_id);
  it->SeekForPrev(StreamKey(stream_id, UINT64_MAX));
  EH_RETURN_IF_ERROR(FromRocks(it->status(), "cannot read a stream's revision"));
  std::optional<uint64_t> last;
  if (it->Valid() && it->key().starts_with(prefix) && it->key().size() == prefix.size() + 8) {
    last = ReadBigEndian64(std::string_view(it->key().data() + prefix.size(), 8));
  }
  if (stream_cache_.size() >= kStreamCacheLimit) stream_cache_.clear();
  stream_cache_[stream_id] = last;
  return last;
}

absl::StatusOr<AppendResult> EventStore::Impl::Replay(const Pending& p,
                                                      const std::vector<uint64_t>& positions) {
  AppendResult result;
  result.positions = positions;
  result.idempotent_replay = true;
  for (size_t i = 0; i < positions.size(); ++i) {
    EH_ASSIGN_OR_RETURN(EventPtr original, RecordAt(positions[i]));
    if (original->event().stream_id() != p.stream_id) {
      return absl::AlreadyExistsError(absl::StrCat(
          "events[", i, "].event_id: ", p.events[i].event_id(),
          " was already recorded in stream \"", original->event().stream_id(),
          "\" at position ", positions[i], ", not in \"", p.stream_id, "\""));
    }
    result.stream_revision = std::max(result.stream_revision, original->stream_revision());
  }
  return result;
}

std::string EventStore::Impl::FirstSeenMessage(const Pending& p,
                                               const std::vector<std::optional<uint64_t>>& seen) {
  size_t seen_count = 0;
  size_t first = 0;
  for (size_t i = 0; i < seen.size(); ++i) {
    if (seen[i]) {
      if (seen_count == 0) first = i;
      ++seen_count;
    }
  }
  return absl::StrCat("events: ", seen_count, " of ", seen.size(),
                      " event ids were recorded before (first: events[", first, "].event_id ",
                      p.events[first].event_id(), " at position ", *seen[first],
                      "); a retry must resend exactly the original batch, and new events "
                      "need new ids. Nothing was written.");
}

EventStore::Impl::Decided EventStore::Impl::Decide(std::vector<Pending>& group) {
  Decided d;
  d.outcomes.resize(group.size());
  for (Pending& p : group) d.done.push_back(std::move(p.done));
  d.first_position = next_position_;
  {
    absl::MutexLock lock(&queue_mu_);
    if (!failure_.empty()) {
      // Queued before a write failed: refused too, for the same reason.
      for (Outcome& out : d.outcomes) {
        out.result = absl::UnavailableError(absl::StrCat(
            "the log stopped accepting appends after a storage failure (", failure_,
            "); restart the server and retry with the same event ids"));
      }
      return d;
    }
  }
  // What RocksDB has now need not be tracked: the MultiGet below sees it.
  ForgetWritten();

  // Idempotency: one MultiGet for every event id in the group; ids still in
  // the pipeline (earlier groups, and this one) are found in memory.
  std::vector<rocksdb::Slice> keys;
  for (const Pending& p : group) {
    for (const std::string& k : p.id_keys) keys.emplace_back(k);
  }
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  db_->MultiGet(rocksdb::ReadOptions(), event_ids_cf_, keys.size(), keys.data(), values.data(),
                statuses.data());

  const absl::Time now = std::max(options_.clock(), last_recorded_at_);
  const google::protobuf::Timestamp recorded_at = ToProtoTime(now);
  absl::flat_hash_map<std::string, std::optional<uint64_t>> overlay;  // this group's streams
  const uint64_t written = LastPosition();
  auto rests_on = [&](Outcome& out, uint64_t position) {
    if (position >= d.first_position) {
      out.rests_on_this_group = true;
    } else if (position > written) {
      out.rests_on_earlier_group = true;
    }
  };

  size_t key_index = 0;
  for (size_t r = 0; r < group.size(); ++r) {
    Pending& p = group[r];
    Outcome& out = d.outcomes[r];
    // Which ids were seen, and where.
    std::vector<std::optional<uint64_t>> seen(p.events.size());
    size_t seen_count = 0;
    bool lookup_failed = false;
    // Every key of this request is consumed, even after a failure, so the
    // next request's keys stay aligned.
    for (size_t i = 0; i < p.events.size(); ++i, ++key_index) {
      if (auto it = in_flight_ids_.find(p.id_keys[i]); it != in_flight_ids_.end()) {
        seen[i] = it->second;
        rests_on(out, it->second);
      } else if (statuses[key_index].ok()) {
        seen[i] = ReadBigEndian64(values[key_index].ToStringView());
      } else if (!statuses[key_index].IsNotFound()) {
        out.result = FromRocks(statuses[key_index], "cannot look up an event id");
        lookup_failed = true;
      }
      if (seen[i]) ++seen_count;
    }
    if (lookup_failed) continue;
    if (seen_count == p.events.size()) {
      // A retry of a batch already recorded: answer with the original
      // positions. If the originals are not durable yet, the answer shares
      // the fate of their write.
      std::vector<uint64_t> positions;
      for (const auto& s : seen) positions.push_back(*s);
      out.result = Replay(p, positions);
      continue;
    }
    if (seen_count > 0) {
      out.result = absl::AlreadyExistsError(FirstSeenMessage(p, seen));
      continue;
    }

    // Optimistic concurrency.
    absl::StatusOr<std::optional<uint64_t>> current = StreamLastRevision(p.stream_id, overlay);
    if (!current.ok()) {
      out.result = current.status();
      continue;
    }
    const std::optional<uint64_t>& cur = *current;
    auto describe = [&]() -> std::string {
      return cur ? absl::StrCat("is at revision ", *cur) : std::string("does not exist");
    };
    std::string expected;
    switch (p.expected.kind) {
      case ExpectedRevision::Kind::kAny:
        break;
      case ExpectedRevision::Kind::kNoStream:
        if (cur) expected = "no stream";
        break;
      case ExpectedRevision::Kind::kStreamExists:
        if (!cur) expected = "an existing stream";
        break;
      case ExpectedRevision::Kind::kExact:
        if (!cur || *cur != p.expected.revision) {
          expected = absl::StrCat("revision ", p.expected.revision);
        }
        break;
    }
    if (!expected.empty()) {
      // The revision seen may be one not yet durable.
      if (overlay.contains(p.stream_id)) {
        out.rests_on_this_group = true;
      } else if (auto it = in_flight_streams_.find(p.stream_id); it != in_flight_streams_.end()) {
        out.rests_on_earlier_group = true;
      }
      out.result = absl::FailedPreconditionError(
          absl::StrCat("stream \"", p.stream_id, "\" ", describe(), "; expected ", expected,
                       ". Nothing was written: re-read the stream and decide again."));
      continue;
    }

    // Accepted: place the events.
    AppendResult result;
    uint64_t revision = cur ? *cur + 1 : 0;
    for (size_t i = 0; i < p.events.size(); ++i, ++revision) {
      auto record = std::make_shared<v1::RecordedEvent>();
      record->set_position(next_position_);
      record->set_stream_revision(revision);
      v1::Event* e = record->mutable_event();
      *e = std::move(p.events[i]);
      e->set_stream_id(p.stream_id);
      *e->mutable_recorded_at() = recorded_at;
      d.batch.Put(events_cf_, BigEndian64(next_position_), record->SerializeAsString());
      d.batch.Put(streams_cf_, StreamKey(p.stream_id, revision), BigEndian64(next_position_));
      d.batch.Put(event_ids_cf_, p.id_keys[i], BigEndian64(next_position_));
      in_flight_ids_[p.id_keys[i]] = next_position_;
      in_flight_.push_back({next_position_, p.id_keys[i], p.stream_id, record});
      result.positions.push_back(next_position_);
      d.records.push_back(std::move(record));
      ++next_position_;
    }
    result.stream_revision = revision - 1;
    overlay[p.stream_id] = revision - 1;
    out.result = std::move(result);
    out.rests_on_this_group = true;
  }

  if (d.records.empty()) return d;
  if (options_.TEST_before_write) d.prepare_status = options_.TEST_before_write();
  if (d.prepare_status.ok() && hook_ != nullptr) d.prepare_status = hook_->Prepare(d.records, &d.batch);
  if (!d.prepare_status.ok()) {
    // RocksDB will never see the batch: its positions are given out again
    // and the pipeline forgets its events.
    next_position_ = d.first_position;
    while (!in_flight_.empty() && in_flight_.back().position >= d.first_position) {
      in_flight_ids_.erase(in_flight_.back().id_key);
      in_flight_.pop_back();
    }
    return d;
  }
  last_recorded_at_ = now;
  for (auto& [stream, rev] : overlay) {
    in_flight_streams_[stream] = {*rev, next_position_ - 1};
    if (stream_cache_.size() >= kStreamCacheLimit) stream_cache_.clear();
    stream_cache_[stream] = rev;
  }
  return d;
}

void EventStore::Impl::Write(Decided& d) {
  std::string failure;
  {
    absl::MutexLock lock(&queue_mu_);
    failure = failure_;
  }
  absl::Status write_status;  // a failure of the RocksDB write itself
  const bool has_batch = !d.records.empty() && d.prepare_status.ok();
  if (!failure.empty()) {
    // Decided before an earlier group's write failed: refuse it too, for the
    // same reason; its batch is never written.
    if (has_batch && hook_ != nullptr) hook_->Aborted();
  } else if (has_batch) {
    rocksdb::WriteOptions wo;
    wo.sync = true;
    write_status = FromRocks(db_->Write(wo, &d.batch), "the write of an append batch failed");
    if (write_status.ok() && options_.TEST_after_write) write_status = options_.TEST_after_write();
    if (write_status.ok()) {
      if (hook_ != nullptr) hook_->Committed();
      const uint64_t last = d.records.back()->position();
      last_position_.store(last, std::memory_order_release);
      absl::MutexLock lock(&live_mu_);
      for (const EventPtr& rec : d.records) {
        live_bytes_ += rec->ByteSizeLong();
        live_.push_back(rec);
      }
      // Bounded by count and by bytes, so large events cannot pin memory.
      while (live_.size() > options_.live_buffer_events ||
             (live_bytes_ > options_.live_buffer_bytes && live_.size() > 1)) {
        live_bytes_ -= live_.front()->ByteSizeLong();
        live_.pop_front();
        ++live_first_;
      }
      live_committed_ = last;
    } else {
      if (hook_ != nullptr) hook_->Aborted();
      // RocksDB failed the write, but the batch may still be in its WAL (say
      // the append succeeded and the fsync failed) and come back on
      // recovery. Giving its positions to other events could then put two
      // events at one position, so the store stops taking writes; a restart
      // recovers the true end of the log.
      absl::MutexLock lock(&queue_mu_);
      accepting_ = false;
      failure_ = absl::StrCat(write_status.message(), " at positions ", d.first_position, "..",
                              d.records.back()->position());
    }
  }

  std::vector<Answer> answers;
  answers.reserve(d.outcomes.size());
  for (size_t r = 0; r < d.outcomes.size(); ++r) {
    Outcome& out = d.outcomes[r];
    const bool rests = out.rests_on_this_group || out.rests_on_earlier_group;
    if (!failure.empty()) {
      if (rests || out.result.ok()) {
        out.result = absl::UnavailableError(absl::StrCat(
            "the log stopped accepting appends after a storage failure (", failure,
            "); restart the server and retry with the same event ids"));
      }
    } else if (out.rests_on_this_group && !d.prepare_status.ok()) {
      if (out.result.ok() && !out.result->idempotent_replay) {
        // This request's own events were in the batch.
        out.result = absl::InternalError(absl::StrCat(
            d.prepare_status.message(),
            ". Nothing from this append was written; it is safe to retry."));
      } else {
        // The verdict (a replay, AlreadyExists, FailedPrecondition) rested on
        // another request's events, which were not written after all.
        out.result = absl::AbortedError(
            "a concurrent append this one depended on failed before it was written; "
            "nothing was written: retry");
      }
    } else if (out.rests_on_this_group && !write_status.ok()) {
      out.result = absl::InternalError(absl::StrCat(
          write_status.message(),
          ". The outcome of this append is unknown and the server accepts no more writes: "
          "after a restart, retry with the same event ids, which is safe (a recorded batch "
          "is answered with its original positions)."));
    }
    // Resting on an earlier group is fine here: that group was written
    // before this one reached the writer, or `failure` is set.
    answers.push_back({std::move(d.done[r]), std::move(out.result)});
  }
  absl::MutexLock lock(&answer_mu_);
  answer_queue_.push_back(std::move(answers));
}

absl::StatusOr<EventPtr> EventStore::Impl::ReadAt(uint64_t position) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), events_cf_, BigEndian64(position), &value);
  if (s.IsNotFound() || position > LastPosition()) {
    return absl::NotFoundError(absl::StrCat("no event at position ", position));
  }
  EH_RETURN_IF_ERROR(FromRocks(s, "cannot read an event"));
  return ParseRecord(value, position);
}

absl::StatusOr<EventPtr> EventStore::Impl::ReadByEventId(const std::string& event_id) const {
  absl::StatusOr<UuidBytes> id = ParseUuid(event_id);
  if (!id.ok()) return absl::InvalidArgumentError(absl::StrCat("event id: ", id.status().message()));
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), event_ids_cf_, UuidKey(*id), &value);
  if (s.IsNotFound()) return absl::NotFoundError(absl::StrCat("no event has id ", event_id));
  EH_RETURN_IF_ERROR(FromRocks(s, "cannot look up an event id"));
  return ReadAt(ReadBigEndian64(value));
}

absl::StatusOr<bool> EventStore::Impl::StreamExists(const std::string& stream_id) const {
  // Every stream has a revision 0: one bloom-filtered point lookup.
  std::string value;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), streams_cf_, StreamKey(stream_id, 0), &value);
  if (s.IsNotFound()) return false;
  EH_RETURN_IF_ERROR(FromRocks(s, "cannot look up a stream"));
  return true;
}

absl::StatusOr<uint64_t> EventStore::Impl::PositionAtTime(absl::Time t) const {
  uint64_t lo = 0, hi = LastPosition();  // answer in [lo, hi]
  while (lo < hi) {
    const uint64_t mid = lo + (hi - lo + 1) / 2;
    EH_ASSIGN_OR_RETURN(EventPtr e, ReadAt(mid));
    if (FromProtoTime(e->event().recorded_at()) <= t) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return lo;
}

absl::Status EventStore::Impl::ReadStreamRaw(const std::string& stream_id,
                                             std::optional<uint64_t> from_revision,
                                             Direction direction, uint64_t max_count,
                                             const RawVisitor& visit) const {
  EH_RETURN_IF_ERROR(ValidateStreamId(stream_id));
  const uint64_t last = LastPosition();
  rocksdb::ReadOptions ro;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, streams_cf_));
  const std::string prefix = StreamPrefix(stream_id);
  const bool forwards = direction == Direction::kForwards;
  if (forwards) {
    it->Seek(StreamKey(stream_id, from_revision.value_or(0)));
  } else {
    it->SeekForPrev(StreamKey(stream_id, from_revision.value_or(UINT64_MAX)));
  }
  uint64_t count = 0;
  // Resolve positions in chunks, then fetch the events with one MultiGet.
  constexpr size_t kChunk = 256;
  std::vector<std::string> position_keys;
  auto flush = [&]() -> absl::StatusOr<bool> {
    std::vector<rocksdb::Slice> keys(position_keys.begin(), position_keys.end());
    std::vector<rocksdb::PinnableSlice> values(keys.size());
    std::vector<rocksdb::Status> statuses(keys.size());
    db_->MultiGet(ro, events_cf_, keys.size(), keys.data(), values.data(), statuses.data());
    for (size_t i = 0; i < keys.size(); ++i) {
      uint64_t position = ReadBigEndian64(position_keys[i]);
      EH_RETURN_IF_ERROR(FromRocks(statuses[i], "cannot read a stream's event"));
      if (!visit(position, values[i].ToStringView())) return false;
    }
    position_keys.clear();
    return true;
  };
  for (; it->Valid() && it->key().starts_with(prefix); forwards ? it->Next() : it->Prev()) {
    if (max_count != 0 && count >= max_count) break;
    uint64_t position = ReadBigEndian64(it->value().ToStringView());
    // Not yet acknowledged: its write is finishing right now.
    if (position > last) {
      if (forwards) break;
      continue;
    }
    position_keys.push_back(BigEndian64(position));
    ++count;
    if (position_keys.size() == kChunk) {
      EH_ASSIGN_OR_RETURN(bool more, flush());
      if (!more) return absl::OkStatus();
    }
  }
  EH_RETURN_IF_ERROR(FromRocks(it->status(), "cannot read a stream"));
  if (!position_keys.empty()) {
    EH_ASSIGN_OR_RETURN(bool more, flush());
    (void)more;
  }
  return absl::OkStatus();
}

absl::Status EventStore::Impl::ReadStream(const std::string& stream_id,
                                          std::optional<uint64_t> from_revision,
                                          Direction direction, uint64_t max_count,
                                          const EventVisitor& visit) const {
  absl::Status inner;
  EH_RETURN_IF_ERROR(ReadStreamRaw(stream_id, from_revision, direction, max_count,
                                   [&](uint64_t position, std::string_view bytes) {
                                     absl::StatusOr<EventPtr> record = ParseRecord(
                                         rocksdb::Slice(bytes.data(), bytes.size()), position);
                                     if (!record.ok()) {
                                       inner = record.status();
                                       return false;
                                     }
                                     return visit(*record);
                                   }));
  return inner;
}

absl::Status EventStore::Impl::ReadAllRaw(std::optional<uint64_t> from_position,
                                          Direction direction, uint64_t max_count,
                                          const ReadFilter& filter,
                                          const RawVisitor& visit) const {
  const uint64_t last = LastPosition();
  if (last == 0) return absl::OkStatus();
  const bool forwards = direction == Direction::kForwards;
  uint64_t from = from_position.value_or(forwards ? 1 : last);
  if (forwards && from > last) return absl::OkStatus();
  if (!forwards) from = std::min(from, last);
  if (from == 0) {
    if (!forwards) return absl::OkStatus();
    from = 1;
  }
  rocksdb::ReadOptions ro;
  // Scans the whole range once: do not let it evict the hot blocks.
  ro.fill_cache = false;
  ro.readahead_size = 2 << 20;
  const std::string upper = BigEndian64(last + 1);
  const rocksdb::Slice upper_slice(upper);
  if (forwards) ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, events_cf_));
  if (forwards) {
    it->Seek(BigEndian64(from));
  } else {
    it->SeekForPrev(BigEndian64(from));
  }
  const bool filtered = !filter.Empty();
  uint64_t count = 0;
  for (; it->Valid(); forwards ? it->Next() : it->Prev()) {
    const uint64_t position = ReadBigEndian64(it->key().ToStringView());
    const std::string_view record = it->value().ToStringView();
    if (filtered) {
      // Only the envelope is read to filter, not the whole event.
      std::string_view stream_id, type;
      if (!internal::PeekEnvelope(record, &stream_id, &type)) {
        return absl::DataLossError(
            absl::StrCat("storage: the record at position ", position, " cannot be parsed"));
      }
      if (!filter.Matches(stream_id, type)) continue;
    }
    if (!visit(position, record)) return absl::OkStatus();
    if (max_count != 0 && ++count >= max_count) return absl::OkStatus();
  }
  return FromRocks(it->status(), "cannot read the log");
}

absl::Status EventStore::Impl::ReadAll(std::optional<uint64_t> from_position,
                                       Direction direction, uint64_t max_count,
                                       const ReadFilter& filter,
                                       const EventVisitor& visit) const {
  absl::Status inner;
  EH_RETURN_IF_ERROR(ReadAllRaw(from_position, direction, max_count, filter,
                                [&](uint64_t position, std::string_view bytes) {
                                  absl::StatusOr<EventPtr> record =
                                      ParseRecord(rocksdb::Slice(bytes.data(), bytes.size()),
                                                  position);
                                  if (!record.ok()) {
                                    inner = record.status();
                                    return false;
                                  }
                                  return visit(*record);
                                }));
  return inner;
}

absl::Status EventStore::Impl::NextForSubscription(uint64_t from, size_t max_events,
                                                   absl::Time deadline,
                                                   std::vector<EventPtr>* out,
                                                   bool* from_live_buffer) {
  {
    absl::MutexLock lock(&live_mu_);
    auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(live_mu_) {
      return shutting_down_ || live_committed_ >= from;
    };
    live_mu_.AwaitWithDeadline(absl::Condition(&ready), deadline);
    if (shutting_down_) {
      return absl::UnavailableError(
          "the server is shutting down; resubscribe from the next position to continue");
    }
    if (live_committed_ < from) return absl::OkStatus();  // deadline passed
    if (from >= live_first_) {
      // Served from memory: the writer is never waited for, and never waits.
      auto begin = live_.begin() + static_cast<std::ptrdiff_t>(from - live_first_);
      size_t n = std::min<size_t>(max_events, static_cast<size_t>(live_.end() - begin));
      out->insert(out->end(), begin, begin + static_cast<std::ptrdiff_t>(n));
      *from_live_buffer = true;
      return absl::OkStatus();
    }
  }
  // Behind the live buffer: read from the log.
  *from_live_buffer = false;
  return ReadAll(from, Direction::kForwards, max_events, ReadFilter(), [&](const EventPtr& e) {
    out->push_back(e);
    return true;
  });
}

// ---------------------------------------------------------------------------

EventStore::EventStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EventStore::~EventStore() { Close().IgnoreError(); }

absl::StatusOr<std::unique_ptr<EventStore>> EventStore::Open(StoreOptions options) {
  if (options.data_dir.empty()) return absl::InvalidArgumentError("data_dir: required");
  if (options.live_buffer_events == 0) options.live_buffer_events = 1;
  if (options.live_buffer_bytes == 0) options.live_buffer_bytes = 1;
  if (options.max_group_commit_events == 0) options.max_group_commit_events = 1;
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

absl::Status EventStore::ReadStream(const std::string& stream_id,
                                    std::optional<uint64_t> from_revision, Direction direction,
                                    uint64_t max_count, const EventVisitor& visit) const {
  return impl_->ReadStream(stream_id, from_revision, direction, max_count, visit);
}

absl::Status EventStore::ReadAll(std::optional<uint64_t> from_position, Direction direction,
                                 uint64_t max_count, const ReadFilter& filter,
                                 const EventVisitor& visit) const {
  return impl_->ReadAll(from_position, direction, max_count, filter, visit);
}

absl::Status EventStore::ReadStreamRaw(const std::string& stream_id,
                                       std::optional<uint64_t> from_revision, Direction direction,
                                       uint64_t max_count, const RawVisitor& visit) const {
  return impl_->ReadStreamRaw(stream_id, from_revision, direction, max_count, visit);
}

absl::Status EventStore::ReadAllRaw(std::optional<uint64_t> from_position, Direction direction,
                                    uint64_t max_count, const ReadFilter& filter,
                                    const RawVisitor& visit) const {
  return impl_->ReadAllRaw(from_position, direction, max_count, filter, visit);
}

absl::StatusOr<EventPtr> EventStore::ReadAt(uint64_t position) const {
  return impl_->ReadAt(position);
}

std::unique_ptr<Subscription> EventStore::Subscribe(uint64_t from_position) {
  return std::unique_ptr<Subscription>(
      new Subscription(impl_.get(), std::max<uint64_t>(from_position, 1)));
}

absl::StatusOr<EventPtr> EventStore::ReadByEventId(const std::string& event_id) const {
  return impl_->ReadByEventId(event_id);
}

absl::StatusOr<bool> EventStore::StreamExists(const std::string& stream_id) const {
  return impl_->StreamExists(stream_id);
}

absl::StatusOr<uint64_t> EventStore::PositionAtTime(absl::Time t) const {
  return impl_->PositionAtTime(t);
}

uint64_t EventStore::LastPosition() const { return impl_->LastPosition(); }
const std::string& EventStore::log_id() const { return impl_->log_id_; }
void EventStore::BeginShutdown() { impl_->BeginShutdown(); }
absl::Status EventStore::Close() { return impl_->Close(); }
void EventStore::SetCommitHook(CommitHook* hook) { impl_->hook_ = hook; }
rocksdb::DB* EventStore::db() const { return impl_->db_.get(); }

rocksdb::ColumnFamilyHandle* EventStore::ColumnFamily(const std::string& name) const {
  auto it = impl_->cf_by_name_.find(name);
  return it == impl_->cf_by_name_.end() ? nullptr : it->second;
}

absl::Status Subscription::Next(size_t max_events, absl::Time deadline,
                                std::vector<EventPtr>* out) {
  max_events = std::max<size_t>(max_events, 1);
  // Reaching the end is reported at once rather than after the wait, so a
  // caller can tell its client "caught up" promptly.
  if (mode_ == Mode::kCatchingUp && next_position_ > store_->LastPosition() &&
      !store_->ShuttingDown()) {
    mode_ = Mode::kLive;
    return absl::OkStatus();
  }
  size_t before = out->size();
  bool from_live = false;
  EH_RETURN_IF_ERROR(
      store_->NextForSubscription(next_position_, max_events, deadline, out, &from_live));
  size_t n = out->size() - before;
  if (n == 0) return absl::OkStatus();
  if (!from_live && mode_ == Mode::kLive) {
    fell_behind_ = true;
    mode_ = Mode::kCatchingUp;
  }
  next_position_ += n;
  if (next_position_ > store_->LastPosition()) mode_ = Mode::kLive;
  return absl::OkStatus();
}

bool Subscription::TakeFellBehind() {
  bool fell = fell_behind_;
  fell_behind_ = false;
  return fell;
}

}  // namespace evenhand::storage
