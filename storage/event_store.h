// EventStore: the append-only event log on RocksDB.
//
// The store knows the event envelope (ids, stream, type, timestamps) and
// nothing about what events mean. It gives every event a dense global
// position (from 1) and a revision in its stream (from 0), writes each batch
// atomically and durably, and never updates or deletes a record.
//
// Writes go through one sequencer thread that combines all appends waiting at
// that moment into one RocksDB WriteBatch and one WAL fsync (group commit).
// It is a pipeline: while the writer thread writes and syncs one group, the
// sequencer decides the next (ids, revisions, positions, the commit hook's
// writes) and a completer thread answers the appenders of the one before.
// An append is acknowledged only after its batch is durable.
//
// Faults are never silent (docs/RELIABILITY.md). A group that would leave
// less than the free-space floor on the disk is refused before RocksDB sees
// it (ResourceExhausted), and appends resume by themselves once space is
// freed. A write RocksDB refused before it reached the WAL (the database
// stopped after a background flush failed) is certain not to have happened:
// the pipeline rewinds and appends resume once RocksDB does. A write that
// failed on its way to the WAL has an unknown outcome: the store refuses
// every append from then on (Unavailable) until it is reopened, which
// recovers the true end of the log. The WAL is recovered with
// kTolerateCorruptedTailRecords: only a torn final record (an append that
// was never acknowledged) is dropped; any other damage refuses to open.
//
// The store is split by concern: event_store.cc (open, close, identity),
// event_store_write.cc (the sequencer, writer and completer),
// event_store_read.cc (reads), live_feed.cc and subscription.cc
// (subscribers), damage_record.cc (damage found, kept for the next start).
//
// Thread-safety: all public methods are safe to call concurrently. Append
// callbacks run on the completer thread (or the caller's, for a request
// refused at once) and must not block.
#ifndef EVENHAND_STORAGE_EVENT_STORE_H_
#define EVENHAND_STORAGE_EVENT_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "evenhand/v1/events.pb.h"
#include "storage/live_feed.h"
#include "storage/subscription.h"

namespace rocksdb {
class ColumnFamilyHandle;
class DB;
class FileSystem;
class Status;
class WriteBatch;
}  // namespace rocksdb

namespace evenhand::storage {

// Optimistic concurrency: what the appender believes about the stream.
struct ExpectedRevision {
  enum class Kind { kAny, kNoStream, kStreamExists, kExact };
  Kind kind = Kind::kAny;
  uint64_t revision = 0;  // only for kExact: the stream's last revision

  static ExpectedRevision Any() { return {Kind::kAny, 0}; }
  static ExpectedRevision NoStream() { return {Kind::kNoStream, 0}; }
  static ExpectedRevision StreamExists() { return {Kind::kStreamExists, 0}; }
  static ExpectedRevision Exact(uint64_t r) { return {Kind::kExact, r}; }
};

struct AppendResult {
  // Global positions, in request order; consecutive.
  std::vector<uint64_t> positions;
  // The stream's revision after the append.
  uint64_t stream_revision = 0;
  // Every event id had been recorded before: nothing was written and the
  // positions are the original ones.
  bool idempotent_replay = false;
};

// Selects events by envelope fields. Empty lists select everything.
struct ReadFilter {
  std::vector<std::string> stream_prefixes;
  std::vector<std::string> event_types;

  bool Empty() const { return stream_prefixes.empty() && event_types.empty(); }
  bool Matches(const v1::Event& event) const;
  bool Matches(std::string_view stream_id, std::string_view type) const;
};

enum class Direction { kForwards, kBackwards };

// The envelope's stream id and type, read from a stored RecordedEvent (as
// RawVisitor sees it) without parsing the rest. False if the bytes are not a
// RecordedEvent.
bool PeekEnvelope(std::string_view record, std::string_view* stream_id, std::string_view* type);

// InvalidArgument, saying why, if `stream_id` is no stream id the log could
// hold (empty, too long, a character outside its alphabet): what reads and
// appends refuse, for a caller to check before it acts on the read.
absl::Status CheckStreamId(std::string_view stream_id);

// Called by a read for each event in order; return false to stop early.
using EventVisitor = std::function<bool(const EventPtr&)>;

// The same, with the event as stored: a serialised RecordedEvent, valid only
// during the call. For serving reads without parsing them.
using RawVisitor = std::function<bool(uint64_t position, std::string_view record)>;

// A bound on the records a filtered read examines in one call, so that a
// filter matching little cannot hold a thread for a scan of the whole log.
struct ScanBudget {
  uint64_t max_scanned = UINT64_MAX;
  // Out: records examined; the last position passed over by the filter or
  // visited (0: none), from which the next call goes on; whether the read
  // stopped because `max_scanned` records had been examined.
  uint64_t scanned = 0;
  uint64_t last_done = 0;
  bool exhausted = false;
};

// Extends the group commit with writes of other modules (the integrity
// module's hash chain and Merkle tree), so that they are atomic with the
// events they describe.
//
// Groups are pipelined: Prepare for a group may be called before the
// previous group is durable, so a hook builds each group on the state left
// by the previous Prepare, not by the previous Committed.
class CommitHook {
 public:
  virtual ~CommitHook() = default;
  // Sequencer thread. Adds this module's writes for `events` (consecutive
  // positions, following those of the previous successful Prepare) to
  // `batch`. An error fails every append in the group and must leave the
  // hook as it was: nothing is written and no Committed/Aborted follows.
  virtual absl::Status Prepare(const std::vector<EventPtr>& events,
                               rocksdb::WriteBatch* batch) = 0;
  // Writer thread. Exactly one of these follows each successful Prepare, in
  // the order of the Prepares. Committed: the oldest prepared batch is
  // durable. Aborted: it was not written.
  virtual void Committed() = 0;
  virtual void Aborted() = 0;
  // Sequencer thread, with no group in the pipeline: every prepared group
  // has been committed or aborted, and the next Prepare builds on the last
  // committed state (the store rewinds after a group it knows was not
  // written).
  virtual void Rewind() = 0;
};

// The largest memtable of one column family (RocksDB's default
// write_buffer_size), in MiB.
inline constexpr uint32_t kMaxMemtableMib = 64;

struct StoreOptions {
  // Folder holding the RocksDB database; created if missing.
  std::string data_dir;
  // Recent events kept in memory for live subscribers: at most this many,
  // and at most about this many bytes.
  size_t live_buffer_events = 65536;
  size_t live_buffer_bytes = 64 << 20;
  // Most events written in one group commit.
  size_t max_group_commit_events = 16384;
  // RocksDB block cache.
  size_t block_cache_bytes = 64 << 20;
  // All memtables together, across column families: RocksDB flushes when
  // they reach this, so the store's memory does not grow with the number
  // of column families or the write rate. Each column family's memtable is
  // at most this, kMaxMemtableMib and min_free_bytes: RocksDB resumes writes
  // after a full disk only once one memtable's flush has room.
  size_t memtable_bytes = 128 << 20;
  // Column families the store should create and open for other modules
  // (e.g. "merkle", "checkpoints"); see EventStore::ColumnFamily().
  std::vector<std::string> extra_column_families;
  // The free-space floor: a group commit that would leave fewer bytes free
  // on the log's filesystem is refused (ResourceExhausted) before RocksDB
  // sees it. 0 turns the check off.
  uint64_t min_free_bytes = 256ull << 20;
  // A preallocated file ("reserved-space") kept in the data folder and
  // deleted when the store opens on a disk below the floor, so that RocksDB
  // has room to open read-write. 0: none.
  uint64_t reserve_bytes = 64ull << 20;
  // Most events one stream may hold: an append that would take a stream
  // past it is refused (FailedPrecondition, STREAM_FULL), nothing written.
  // The server's own records (access records) are not limited. 0: no limit.
  uint64_t max_stream_events = 0;
  // Open without writing anything: reads only, appends refused. The store
  // also opens this way by itself when the disk is too full to open at all.
  bool read_only = false;
  // Free bytes on the log's filesystem; tests inject one. Default statvfs.
  std::function<absl::StatusOr<uint64_t>()> free_bytes;
  // The file system under RocksDB; tests inject faults through it. Default:
  // the platform's. Either way files are created owner-only.
  std::shared_ptr<rocksdb::FileSystem> file_system;
  // Source of `recorded_at`; tests inject a fake. Must be thread-safe.
  std::function<absl::Time()> clock = [] { return absl::Now(); };
  // Whether `clock` is the system's, so that a step of it can be told by
  // the steady clock (internal/clock_watch.h); false for a test's clock.
  bool clock_is_the_systems = true;
  // Test-only: called on the sequencer thread once a group is decided,
  // before the commit hook's Prepare; an error simulates a failure before
  // RocksDB saw the batch.
  std::function<absl::Status()> TEST_before_write;
  // Test-only: called on the writer thread after each successful
  // WriteBatch; an error simulates a write that RocksDB reported failed
  // although it reached the WAL.
  std::function<absl::Status()> TEST_after_write;
};

// Whether the store takes appends, and if not, why.
struct WriteState {
  bool accepting = true;
  // Why appends are refused: ResourceExhausted (the disk is below the floor;
  // they resume by themselves), Unavailable (shutting down, opened
  // read-only, or stopped after a write of unknown outcome: reopen).
  absl::Status refusal;
  bool read_only = false;
};

// A stored event that no longer matches the Merkle tree's leaf for it.
struct DamagedEvent {
  uint64_t position;
  std::string problem;
};

class EventStore {
 public:
  // Opens (or creates) the log in options.data_dir and starts the sequencer.
  static absl::StatusOr<std::unique_ptr<EventStore>> Open(StoreOptions options);

  EventStore(const EventStore&) = delete;
  EventStore& operator=(const EventStore&) = delete;
  // Calls Close().
  ~EventStore();

  using AppendCallback = absl::AnyInvocable<void(absl::StatusOr<AppendResult>) &&>;

  // Appends `events` to `stream_id` atomically. `done` runs once, on the
  // sequencer thread (or inline if the request is rejected before queuing),
  // after the batch is durable or has failed. The store fills `stream_id` and
  // `recorded_at` of each event. Errors: InvalidArgument (bad stream id, empty
  // batch, missing or duplicate event id), FailedPrecondition (wrong expected
  // revision; the message has the actual one), AlreadyExists (some but not
  // all event ids recorded before), Unavailable (shutting down, or stopped
  // after a storage failure), Aborted (a concurrent append this one depended
  // on failed; retry), Internal (the write failed: if RocksDB itself failed
  // the outcome is unknown and the store refuses further appends until it is
  // reopened; retrying with the same event ids is then safe).
  void AppendAsync(std::string stream_id, ExpectedRevision expected,
                   std::vector<v1::Event> events, AppendCallback done);

  // Blocking form of AppendAsync.
  absl::StatusOr<AppendResult> Append(std::string stream_id, ExpectedRevision expected,
                                      std::vector<v1::Event> events);

  // An append of the server's own record (who read the log): small, and
  // allowed down to half of the free-space floor, so that reads can still be
  // put on the record while publishers' appends are refused.
  absl::StatusOr<AppendResult> AppendRecord(std::string stream_id, std::vector<v1::Event> events);
  // Its asynchronous form: `done` runs as AppendAsync's does.
  void AppendRecordAsync(std::string stream_id, std::vector<v1::Event> events, AppendCallback done);

  // Reads `stream_id` from `from_revision` (unset: its start, or its end when
  // reading backwards), at most `max_count` events (0: no limit). A stream
  // that does not exist reads as empty.
  absl::Status ReadStream(const std::string& stream_id, std::optional<uint64_t> from_revision,
                          Direction direction, uint64_t max_count,
                          const EventVisitor& visit) const;

  // Reads the log from `from_position` (unset: its start, or its end when
  // reading backwards); `max_count` counts events that pass the filter.
  absl::Status ReadAll(std::optional<uint64_t> from_position, Direction direction,
                       uint64_t max_count, const ReadFilter& filter,
                       const EventVisitor& visit) const;

  // ReadStream without parsing: each event's stored bytes.
  absl::Status ReadStreamRaw(const std::string& stream_id, std::optional<uint64_t> from_revision,
                             Direction direction, uint64_t max_count,
                             const RawVisitor& visit) const;

  // ReadAll without parsing: each event's stored bytes. Filters read only
  // the envelope's stream id and type; a damaged event the filter passes
  // over is not an error. With `budget`, stops after examining its
  // `max_scanned` records.
  absl::Status ReadAllRaw(std::optional<uint64_t> from_position, Direction direction,
                          uint64_t max_count, const ReadFilter& filter, const RawVisitor& visit,
                          ScanBudget* budget = nullptr) const;

  // The event at `position`, or NotFound.
  absl::StatusOr<EventPtr> ReadAt(uint64_t position) const;
  // The events at `positions` (each in the log), visited in the order
  // given; read a few hundred at a time with one RocksDB MultiGet each
  // (cheaper than ReadAt one by one, most of all in ascending order).
  // NotFound, before anything is visited, if one is not in the log;
  // DataLoss at a damaged one, after those before it were visited.
  absl::Status ReadAtPositions(const std::vector<uint64_t>& positions,
                               const EventVisitor& visit) const;

  // The event with this id (a UUID), or NotFound.
  absl::StatusOr<EventPtr> ReadByEventId(const std::string& event_id) const;

  // Whether the stream has any event. An append still being written may
  // already count.
  absl::StatusOr<bool> StreamExists(const std::string& stream_id) const;
  // Up to `each_side` stream ids sorting just before `stream_id`, and up to
  // as many just after (itself excluded), in order: the candidates for "did
  // you mean" when it names no stream. A few seeks.
  absl::StatusOr<std::vector<std::string>> StreamsAround(const std::string& stream_id,
                                                         size_t each_side) const;

  // The last position whose recorded_at is at or before `t`; 0 if none.
  // (recorded_at never decreases along the log, so this is a binary search.)
  absl::StatusOr<uint64_t> PositionAtTime(absl::Time t) const;

  // Follows the log from `from_position` (>= 1), see Subscription.
  std::unique_ptr<Subscription> Subscribe(uint64_t from_position) const;

  // The recent events and the waits of live subscribers.
  LiveFeed& feed() const;

  // Whether appends are accepted now (checks the free space).
  WriteState write_state() const;
  // Free bytes on the log's disk, and the floor below which appends are
  // refused.
  absl::StatusOr<uint64_t> free_disk_bytes() const;
  uint64_t min_free_disk_bytes() const;

  // Reads of `position` fail with DataLoss from now on, naming `problem`
  // (the integrity checks call this for an event whose bytes no longer
  // match its leaf hash). Kept in memory and in the data folder's record
  // of damage found (damage_record.h): later starts know it too.
  void MarkDamaged(uint64_t position, std::string problem);
  std::vector<DamagedEvent> damaged() const;
  // DataLoss, as a read of it would be, if `position` was marked damaged;
  // else OK. Cheap while no event is.
  absl::Status CheckNotDamaged(uint64_t position) const;
  // Damage RocksDB's checksums found in the log's files on a read (of an
  // event, an index, or a module's state beside the log), and events marked
  // damaged: each the error that read failed with, naming what was read
  // (the position where known) and the table file and offset. In the order
  // found, each once (at most 100), this run's and those of earlier runs
  // (from the data folder's record, until it is restored).
  std::vector<std::string> damage_found() const;
  // A RocksDB status met reading the log's database, by the store or by a
  // module keeping its state beside the log (the Merkle tree), as an
  // absl::Status saying `what` could not be done. A Corruption is damage
  // found: the message says to restore, and it is kept in damage_found()
  // (in memory and on disk) and logged, once per damaged block.
  absl::Status ReadFailure(const rocksdb::Status& s, absl::string_view what) const;
  // Reads every table file of the log's database through its block
  // checksums (RocksDB's VerifyChecksum), without filling the block cache:
  // what a backup must know before it copies them as they are. Damage is
  // damage found, as ReadFailure's is. A whole read of the log's files.
  absl::Status VerifyFiles() const;
  // What goes on, but not as it should: the record of the last
  // acknowledged position (acknowledged_mark.h) that cannot be written, so
  // that the next start cannot check the log's end. Empty while all is
  // well; a record written again clears its entry. Not damage: appends and
  // reads go on.
  std::vector<std::string> warnings() const;

  // The last committed position; 0 for an empty log.
  uint64_t LastPosition() const;

  // A random identifier chosen when the log was created.
  const std::string& log_id() const;

  // Stops accepting appends (they fail with Unavailable) and wakes every
  // subscriber so it can end. Appends already queued still complete, and
  // AppendRecord() is still taken until Close(), so reads that end while
  // the server stops are put on the record.
  void BeginShutdown();

  // After BeginShutdown(): waits until every append queued before it has
  // been written and answered; false if `deadline` passed first.
  bool WaitForAppendsToFinish(absl::Time deadline);

  // BeginShutdown(), then waits for queued appends to finish and closes
  // RocksDB. Idempotent.
  absl::Status Close();

  // Registers a hook run inside every group commit; call before the first
  // append. `hook` must outlive the store's use of it (until Close()).
  void SetCommitHook(CommitHook* hook);

  // RocksDB handles for modules that keep their own state beside the log
  // (named in StoreOptions::extra_column_families). Valid until Close().
  rocksdb::DB* db() const;
  rocksdb::ColumnFamilyHandle* ColumnFamily(const std::string& name) const;

  class Impl;

 private:
  explicit EventStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace evenhand::storage

#endif  // EVENHAND_STORAGE_EVENT_STORE_H_
