// EventStore::Impl, shared by the store's files. Internal to storage/.
//
//   event_store.cc        Open, Close, identity, damage marks, the facade
//   event_store_write.cc  the write pipeline: sequencer, writer, completer
//   event_store_read.cc   reads
//
// Members are grouped by the thread that owns them; see each group.
#ifndef EVENHAND_STORAGE_INTERNAL_STORE_IMPL_H_
#define EVENHAND_STORAGE_INTERNAL_STORE_IMPL_H_

#include <atomic>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "rocksdb/db.h"
#include "rocksdb/listener.h"
#include "rocksdb/write_batch.h"
#include "storage/acknowledged_mark.h"
#include "storage/damage_record.h"
#include "storage/disk_space.h"
#include "storage/event_store.h"
#include "storage/internal/clock_watch.h"
#include "storage/internal/folder_contents.h"
#include "storage/live_feed.h"
#include "storage/rocksdb_support.h"

namespace evenhand::storage {

namespace internal {
class StoreListener;
}  // namespace internal

class EventStore::Impl {
 public:
  explicit Impl(StoreOptions options);
  ~Impl();

  // event_store.cc
  absl::Status Open();
  absl::Status Close();
  void BeginShutdown();
  void MarkDamaged(uint64_t position, std::string problem);
  std::vector<DamagedEvent> Damaged() const;
  // A RocksDB status met reading the log or its indexes, as FromRocks gives
  // it; a Corruption is also kept for DamageFound() and logged, once each.
  absl::Status ReadFailure(const rocksdb::Status& s, absl::string_view what) const;
  // DataLoss for positions `from`..`to`, absent from the log below its last
  // position (positions are dense: they were acknowledged, and lost since);
  // kept for DamageFound() and logged, once each, as a damaged block is.
  absl::Status MissingPositions(uint64_t from, uint64_t to) const;
  // At open: DataLoss unless the events the write-ahead logs gave back are
  // dense and follow on from the table files' last one. A WAL deleted or cut
  // short between two others (which track_and_verify_wals_in_manifest does
  // not see in a log that never flushed) leaves a hole there.
  // `db` is the log opened (read-write, or read-only to look first), and
  // `events` its events column family.
  absl::Status CheckRecoveredPositions(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* events);
  // Before a read-write open of a log whose write-ahead logs hold writes: a
  // read-only open (which never flushes) checked the same way, so that a
  // hole is refused before a recovery that fills a memtable flushes it into
  // the table files, where no later open could see it.
  absl::Status LookBeforeOpening(const rocksdb::DBOptions& db_options,
                                 const std::vector<rocksdb::ColumnFamilyDescriptor>& descriptors);
  // The refusal of an open RocksDB found damaged (`s`, a Corruption): in a
  // write-ahead log, how much of the log is intact (a read-only open with
  // point-in-time recovery stops at the damage, changing nothing; payload
  // evenhand.storage.intact_position); in a file that open cannot pass (a
  // table file, the MANIFEST, CURRENT), which one, and that nothing can be
  // served from the folder.
  absl::Status RefuseDamagedOpen(const rocksdb::Status& s, rocksdb::DBOptions db_options,
                                 const std::vector<rocksdb::ColumnFamilyDescriptor>& descriptors);
  // Keeps `status`, a read's failure on damage found in the log's files, for
  // DamageFound() and the data folder's record (once per `source`), logs it
  // at ERROR, and returns it.
  absl::Status DamageFoundOnRead(std::string source, const absl::Status& status) const;
  std::vector<std::string> DamageFound() const;
  std::vector<std::string> Warnings() const;
  // DataLoss if `position` is marked damaged.
  absl::Status CheckNotDamaged(uint64_t position) const {
    if (!any_damaged_.load(std::memory_order_acquire)) return absl::OkStatus();
    return DamagedStatus(position);
  }

  // event_store_write.cc
  // `record`: the server's own record, held to half of the floor.
  void AppendAsync(std::string stream_id, ExpectedRevision expected,
                   std::vector<v1::Event> events, AppendCallback done, bool record = false);
  WriteState write_state() const;
  bool WaitForAppendsToFinish(absl::Time deadline);
  // RocksDB's listener: a background error stopped (or a recovery resumed)
  // its writes. `during_write` is set when the error came from a write of
  // the calling thread (the store's writer): the WAL write failed.
  void OnBackgroundError(rocksdb::BackgroundErrorReason reason, const rocksdb::Status& status);
  void OnRecovered();

  // event_store_read.cc
  absl::Status ReadStreamRaw(const std::string& stream_id, std::optional<uint64_t> from_revision,
                             Direction direction, uint64_t max_count,
                             const RawVisitor& visit) const;
  absl::Status ReadAllRaw(std::optional<uint64_t> from_position, Direction direction,
                          uint64_t max_count, const ReadFilter& filter, const RawVisitor& visit,
                          ScanBudget* budget) const;
  absl::StatusOr<EventPtr> ReadAt(uint64_t position) const;
  absl::Status ReadAtPositions(const std::vector<uint64_t>& positions,
                               const EventVisitor& visit) const;
  absl::StatusOr<EventPtr> ReadByEventId(const std::string& event_id) const;
  absl::StatusOr<bool> StreamExists(const std::string& stream_id) const;
  absl::StatusOr<std::vector<std::string>> StreamsAround(const std::string& stream_id,
                                                         size_t each_side) const;
  absl::StatusOr<uint64_t> PositionAtTime(absl::Time t) const;

  uint64_t LastPosition() const { return last_position_.load(std::memory_order_acquire); }

  // Constant after Open().
  StoreOptions options_;
  std::shared_ptr<RocksLogger> rocks_logger_;
  std::unique_ptr<rocksdb::Env> env_;
  std::shared_ptr<internal::StoreListener> listener_;
  std::unique_ptr<DiskSpace> disk_;
  bool read_only_ = false;
  // Refused at open for what the write-ahead logs gave back: closed without
  // a flush, which would put what they held (with its hole) in table files,
  // and leave nothing for the next open to find.
  bool refused_recovery_ = false;
  std::string read_only_reason_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  absl::flat_hash_map<std::string, rocksdb::ColumnFamilyHandle*> cf_by_name_;
  rocksdb::ColumnFamilyHandle* events_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* streams_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* event_ids_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* meta_cf_ = nullptr;
  std::string log_id_;
  CommitHook* hook_ = nullptr;  // set before the first append
  std::unique_ptr<LiveFeed> feed_;

 private:
  // One queued append.
  struct Pending {
    std::string stream_id;
    ExpectedRevision expected;
    std::vector<v1::Event> events;
    std::vector<std::string> id_keys;  // parsed event ids, 16 bytes each
    AppendCallback done;
    bool record = false;  // the server's own record (a lower floor)
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
    // The records as stored, for the live feed's subscribers.
    std::vector<std::shared_ptr<const std::string>> bytes;
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

  struct Reply {
    AppendCallback done;
    absl::StatusOr<AppendResult> result;
  };

  absl::Status OpenDatabase();
  absl::Status ReadIdentity();
  absl::Status DamagedStatus(uint64_t position) const;

  void StartPipeline();
  void RunSequencer();
  void RunWriter();
  void RunCompleter();
  Decided Decide(std::vector<Pending>& group);
  // Before a group is decided: RocksDB writing (resumed if it had stopped),
  // and the reserve file.
  absl::Status ReadyToWrite();
  void Write(Decided& d);
  // Answers a group whose batch will never be written, because of
  // `cause` (which refers to this group or an earlier one). After a
  // failure of unknown outcome nothing is answered as a success any more.
  void Refuse(Decided& d, const absl::Status& cause, bool after_failure);
  void Answer(Decided& d);
  // Sequencer thread, with the pipeline empty: forget every group that was
  // decided but not written.
  void Rewind();
  // Drops in-flight entries that RocksDB now has.
  void ForgetWritten();
  // The record at `position`, from the pipeline or from RocksDB.
  absl::StatusOr<EventPtr> RecordAt(uint64_t position) const;
  absl::StatusOr<std::optional<uint64_t>> StreamLastRevision(
      const std::string& stream_id,
      const absl::flat_hash_map<std::string, std::optional<uint64_t>>& overlay);
  // The answer to a retry whose event ids are all at `positions`: the
  // original positions if it resends exactly what was recorded.
  absl::StatusOr<AppendResult> Replay(const Pending& p, const std::vector<uint64_t>& positions);
  std::string FirstSeenMessage(const Pending& p, const std::vector<std::optional<uint64_t>>& seen);
  absl::Status StoppedStatus() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(queue_mu_);

  std::atomic<uint64_t> last_position_{0};

  // Damaged positions (rare; checked on every read only when there are any).
  std::atomic<bool> any_damaged_{false};
  mutable absl::Mutex damaged_mu_;
  absl::btree_map<uint64_t, std::string> damaged_ ABSL_GUARDED_BY(damaged_mu_);
  // Damage met on reads: RocksDB's message (file, offset) and the read's
  // error, in the order found.
  static constexpr size_t kMaxDamageFound = 100;
  mutable std::vector<std::pair<std::string, std::string>> damage_found_
      ABSL_GUARDED_BY(damaged_mu_);
  // Both, on disk: what earlier runs found is known from the start. Null
  // for a copy read in place; not written to by a log opened read-only.
  std::unique_ptr<DamageRecord> damage_record_;
  bool record_damage_ = false;
  // Loads damage_record_ into damaged_ (positions up to `last`, the log's
  // end) and damage_found_.
  absl::Status LoadDamageRecord(uint64_t last);
  // Appends to damage_record_; a failure is logged (the finding is known in
  // memory all the same).
  void KeepFinding(const DamageFinding& finding) const;

  // The last acknowledged position, on disk beside the log (null for a
  // copy read in place), and what it said when the log was opened. Checked
  // against the end of the log RocksDB gives back (CheckAcknowledged), then
  // rewritten by the writer after each synced group (null read-only).
  std::unique_ptr<AcknowledgedMark> acknowledged_;
  std::optional<AcknowledgedMark::Mark> acknowledged_at_open_;
  // acknowledged.txt as a power cut left it (empty, or cut short): passed over.
  bool acknowledged_torn_ = false;
  bool acknowledged_failing_ = false;  // (writer thread) logged once
  // Why the mark is not being written (empty while it is), for warnings().
  mutable absl::Mutex warnings_mu_;
  std::string acknowledged_warning_ ABSL_GUARDED_BY(warnings_mu_);
  // Said at the start and kept until the next (the end of the log was not
  // checked: acknowledged.txt missing or torn), and the clock's (ClockWatch).
  std::vector<std::string> start_warnings_ ABSL_GUARDED_BY(warnings_mu_);
  // Logs at ERROR and keeps for warnings(): why the mark is not written,
  // what that means, then `remedy`.
  void WarnAcknowledged(const absl::Status& why, absl::string_view remedy);
  // Logged, and in warnings() until the next start.
  void WarnAtStart(std::string warning);
  // Reads the mark before RocksDB opens the folder; refuses a folder whose
  // log files are all gone while the mark says something was acknowledged.
  absl::Status ReadAcknowledged();
  // The data folder as it was before RocksDB opened it (listed once, by
  // Open; empty for a copy read in place), for the checks around this.
  internal::FolderContents folder_at_open_;
  // Refuses a folder with a log's files (table files, write-ahead logs
  // holding something, a MANIFEST) but no CURRENT, before RocksDB would
  // take it for a new log and delete them.
  absl::Status RefuseAFolderWithoutCurrent() const;
  // After the open: refuses a log that ends before the mark (acknowledged
  // events lost from its end), then opens the mark for the writer.
  absl::Status CheckAcknowledged(uint64_t last);
  // The writer, after a synced group ending at `position`.
  void RecordAcknowledged(uint64_t position);
  // DataLoss: the log ends at `last` (0: no log), before the mark read at
  // the open.
  absl::Status LostAcknowledged(uint64_t last) const;

  // RocksDB stopped writes after a background error (a flush or compaction
  // that failed, e.g. out of space). Set by the listener; cleared when
  // RocksDB resumes.
  std::atomic<bool> bg_error_{false};
  mutable absl::Mutex bg_mu_;
  std::string bg_error_message_ ABSL_GUARDED_BY(bg_mu_);
  bool bg_error_no_space_ ABSL_GUARDED_BY(bg_mu_) = false;

  // The append queue.
  mutable absl::Mutex queue_mu_;
  std::deque<Pending> queue_ ABSL_GUARDED_BY(queue_mu_);
  bool accepting_ ABSL_GUARDED_BY(queue_mu_) = false;
  // BeginShutdown was called: publishers' appends are refused, the
  // server's own records (`Pending::record`) still taken until `stop_`.
  bool shutting_down_ ABSL_GUARDED_BY(queue_mu_) = false;
  bool stop_ ABSL_GUARDED_BY(queue_mu_) = false;
  // Set when a RocksDB write failed with an unknown outcome; appends are
  // refused from then on, until the store is reopened.
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
  bool writer_busy_ ABSL_GUARDED_BY(write_mu_) = false;
  // A group was certainly not written (RocksDB refused it before its WAL):
  // the writer refuses every group decided after it, for this reason, and
  // the sequencer rewinds once the pipeline is empty.
  absl::Status rewinding_ ABSL_GUARDED_BY(write_mu_);
  std::thread writer_;
  absl::Mutex answer_mu_;
  std::deque<std::vector<Reply>> answer_queue_ ABSL_GUARDED_BY(answer_mu_);
  bool answer_stop_ ABSL_GUARDED_BY(answer_mu_) = false;
  std::thread completer_;
  // Appends queued and not yet answered, for WaitForAppendsToFinish.
  absl::Mutex outstanding_mu_;
  size_t outstanding_ ABSL_GUARDED_BY(outstanding_mu_) = 0;

  // Owned by the sequencer thread (and by Open() before it starts).
  uint64_t next_position_ = 1;
  absl::Time last_recorded_at_ = absl::InfinitePast();
  // The time each group is recorded at, and what is wrong with the clock.
  internal::ClockWatch clock_watch_{options_.clock_is_the_systems};
  absl::Time last_resume_attempt_ = absl::InfinitePast();
  absl::Time last_reserve_attempt_ = absl::InfinitePast();
  absl::flat_hash_map<std::string, std::optional<uint64_t>> stream_cache_;
  // Events decided but maybe not yet written, in position order (dense),
  // with indexes by event id and by stream (the stream's latest revision
  // and the position that set it).
  std::deque<InFlight> in_flight_;
  absl::flat_hash_map<std::string, uint64_t> in_flight_ids_;
  absl::flat_hash_map<std::string, std::pair<uint64_t, uint64_t>> in_flight_streams_;

  absl::Mutex close_mu_;
  bool closed_ ABSL_GUARDED_BY(close_mu_) = false;
};

namespace internal {

constexpr char kEventsCf[] = "events";
constexpr char kStreamsCf[] = "streams";
constexpr char kEventIdsCf[] = "event_ids";
constexpr char kMetaCf[] = "meta";
constexpr size_t kMaxStreamIdBytes = 200;

absl::Status ValidateStreamId(std::string_view stream_id);
absl::StatusOr<EventPtr> ParseRecord(std::string_view value, uint64_t position);

inline absl::Status FromRocks(const rocksdb::Status& s, absl::string_view what) {
  return FromRocksStatus(s, absl::StrCat("storage: ", what));
}

}  // namespace internal
}  // namespace evenhand::storage

#endif  // EVENHAND_STORAGE_INTERNAL_STORE_IMPL_H_
