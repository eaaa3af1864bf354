// Publisher (1/3): what is handed over, the outbox, and outcomes. The call
// to the server is in publisher_call.cc, which batch goes next in
// publisher_order.cc.
#include "clients/publisher.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "base/big_endian.h"
#include "base/free_disk.h"
#include "base/time_util.h"
#include "base/uuid.h"
#include "clients/outbox_mark.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace evenhand::clients {
namespace {

std::string OutboxKey(uint64_t seq) {
  std::string k;
  PutBigEndian64(&k, seq);
  return k;
}

// An event's key, not kHighestSeqKey.
bool IsEventKey(const rocksdb::Slice& key) { return key.size() == 8; }

}  // namespace

absl::Status Publisher::CheckOutboxRoom() const {
  absl::StatusOr<uint64_t> free = options_.outbox_free_bytes
                                      ? options_.outbox_free_bytes()
                                      : FilesystemFreeBytes(options_.outbox_dir);
  if (!free.ok()) return free.status();
  if (*free >= options_.outbox_min_free_bytes) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrCat(
      "publisher: the outbox's disk (", options_.outbox_dir, ") has ", *free,
      " bytes free, less than outbox_min_free_bytes (", options_.outbox_min_free_bytes,
      "): the event was not taken; free some space and hand it over again (what the outbox "
      "holds is kept and delivered)"));
}

Publisher::Publisher(PublisherOptions options, OnOutcome on_outcome)
    : options_(std::move(options)), on_outcome_(std::move(on_outcome)) {}

absl::StatusOr<std::unique_ptr<Publisher>> Publisher::Start(PublisherOptions options,
                                                            OnOutcome on_outcome) {
  if (options.batch_max_events == 0 || options.max_unanswered == 0 ||
      options.max_pending_events == 0) {
    return absl::InvalidArgumentError(
        "publisher: batch_max_events, max_unanswered and max_pending_events must be at least 1");
  }
  // A server gone without closing the connection is noticed by pings: the
  // call's own writes may wait in flow control forever.
  if (options.connection.keepalive == absl::ZeroDuration()) {
    options.connection.keepalive = absl::Seconds(20);
  }
  // A server back after a long outage is found within max_backoff, as the
  // header promises, not after gRPC's own reconnect back-off (120 s).
  if (options.connection.max_reconnect_backoff == absl::ZeroDuration()) {
    options.connection.max_reconnect_backoff = options.max_backoff;
  }
  std::unique_ptr<Publisher> p(new Publisher(std::move(options), std::move(on_outcome)));
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = Dial(p->options_.connection);
  if (!channel.ok()) return channel.status();
  p->channel_ = *std::move(channel);
  if (!p->options_.outbox_dir.empty()) {
    if (absl::Status s = p->OpenOutbox(); !s.ok()) return s;
  }
  p->sender_ = std::thread([raw = p.get()] { raw->Run(); });
  return p;
}

namespace {

// The outbox's state, beside its files: "open" while a publisher has it,
// "closed N" after a clean Close() (N: the events it held then).
constexpr char kStateFile[] = "EVENHAND-STATE";

// The state file's text: nullopt for "open", else the count of "closed N";
// an error for anything else (a missing, empty or garbled file is damage,
// not "nothing known": a MANIFEST cut short beside it would otherwise read
// as an empty outbox).
absl::StatusOr<std::optional<uint64_t>> ParseState(const std::string& text) {
  if (text == "open\n") return std::nullopt;
  absl::string_view rest = text;
  uint64_t count = 0;
  if (absl::ConsumePrefix(&rest, "closed ") && absl::ConsumeSuffix(&rest, "\n") && !rest.empty() &&
      rest.size() <= 19 &&
      std::all_of(rest.begin(), rest.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
      absl::SimpleAtoi(rest, &count)) {
    return count;
  }
  return absl::DataLossError("its state file does not say \"open\" or \"closed <count>\"");
}

// Writes `text` to `path` and syncs it and its folder.
bool WriteSynced(const std::string& folder, const std::string& path, const std::string& text) {
  const std::string temp = path + ".tmp";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(temp.c_str(), path.c_str()) != 0) return false;
  const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return true;
}

}  // namespace

void Publisher::SaveClosedCount() {
  uint64_t count = 0;
  std::unique_ptr<rocksdb::Iterator> it(outbox_->NewIterator(rocksdb::ReadOptions()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) count += IsEventKey(it->key()) ? 1 : 0;
  if (!it->status().ok()) return;
  mark_->Sync();
  const std::string path = options_.outbox_dir + "/" + kStateFile;
  if (!WriteSynced(options_.outbox_dir, path, absl::StrCat("closed ", count, "\n"))) {
    std::fprintf(stderr, "evenhand publisher: cannot write %s\n", path.c_str());
  }
}

absl::Status Publisher::OpenOutbox() {
  // Owner-only, as the server's data folder: it holds whole events. Made
  // so when created; an existing one of this user is made so too (said
  // on stderr if it was not); one of another user is left as it is.
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(options_.outbox_dir, ec)) {
    fs::create_directories(options_.outbox_dir, ec);
    if (!ec)
      fs::permissions(options_.outbox_dir, fs::perms::owner_all, fs::perm_options::replace, ec);
    if (ec) {
      return absl::UnavailableError(absl::StrCat("publisher: cannot make the outbox folder ",
                                                 options_.outbox_dir, ": ", ec.message()));
    }
  } else if (struct stat st; ::stat(options_.outbox_dir.c_str(), &st) == 0 &&
                             st.st_uid == ::geteuid() && (st.st_mode & 077) != 0) {
    std::fprintf(stderr,
                 "evenhand publisher: the outbox %s was readable by others (mode %o); made "
                 "owner-only, as it holds whole events\n",
                 options_.outbox_dir.c_str(), static_cast<unsigned>(st.st_mode & 0777));
    fs::permissions(options_.outbox_dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  }
  // One outbox, one publisher: said before anything else is read.
  const std::string lock_path = options_.outbox_dir + "/EVENHAND-LOCK";
  outbox_lock_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (outbox_lock_ < 0) {
    return absl::UnavailableError(
        absl::StrCat("publisher: cannot open ", lock_path, ": ", std::strerror(errno)));
  }
  if (::flock(outbox_lock_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(outbox_lock_);
    outbox_lock_ = -1;
    if (err == EWOULDBLOCK) {
      return absl::FailedPreconditionError(
          absl::StrCat("publisher: the outbox ", options_.outbox_dir,
                       " is open in another publisher (one outbox, one publisher)"));
    }
    return absl::UnavailableError(
        absl::StrCat("publisher: cannot lock ", lock_path, ": ", std::strerror(err)));
  }
  if (absl::Status room = CheckOutboxRoom(); !room.ok()) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "publisher: not opening the outbox: ", absl::StripPrefix(room.message(), "publisher: "),
        " "));
  }
  rocksdb::Options o;
  o.create_if_missing = true;
  o.max_open_files = 64;
  // Every event is synced before Publish returns, so only a write never
  // acknowledged can be torn by a crash: tolerate exactly that, and refuse
  // to open on any other damage, which the default would skip silently,
  // dropping every event after it (as the server's log does:
  // docs/RELIABILITY.md).
  // (Not track_and_verify_wals_in_manifest, as the server has: RocksDB
  // 7.8 can report a WAL missing that is not, after syncs race a flush
  // (fixed in 7.10, facebook/rocksdb#10892), which here, with every Put
  // synced and many threads publishing, would refuse a sound outbox; a
  // clean Close() leaves no WAL to lose.)
  // A record cut short at the end is taken for that torn last write, and
  // so is one damaged to look so: the seq of the last event taken,
  // recorded beside (clients/outbox_mark.h), tells the two apart.
  o.wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
  o.paranoid_checks = true;
  o.merge_operator = MaxSeqMerge();
  // Room on a nearly full disk: no flush while recovering, a small MANIFEST
  // preallocation and memtable.
  o.avoid_flush_during_recovery = true;
  o.manifest_preallocation_size = 256 << 10;
  o.write_buffer_size = 4 << 20;
  o.keep_log_file_num = 5;  // RocksDB's own LOG files, one per start
  // An outbox that exists is read whole, without writing, before it is
  // opened to write: opening to write replays and flushes its write-ahead
  // log, and deletes a table its MANIFEST no longer lists, so damage found
  // after would leave the folder changed. After a clean Close(), its files
  // must hold what it held then.
  auto damaged = [this](const std::string& what) {
    return absl::DataLossError(absl::StrCat(
        "publisher: the outbox ", options_.outbox_dir, " is damaged: ", what,
        ". Not opened, so that nothing in it is changed or dropped without a word. Move the "
        "folder aside and keep it, see which of its events the log holds (evenhand read, by "
        "stream), and start on a new outbox"));
  };
  const std::string state_path = options_.outbox_dir + "/" + kStateFile;
  const bool exists = fs::exists(options_.outbox_dir + "/CURRENT", ec);
  absl::StatusOr<std::unique_ptr<OutboxMark>> mark =
      OutboxMark::Open(options_.outbox_dir, /*create=*/!exists);
  if (mark.status().code() == absl::StatusCode::kDataLoss) {
    return damaged(std::string(mark.status().message()));
  }
  if (!mark.ok()) return mark.status();
  mark_ = *std::move(mark);
  if (!exists && mark_->taken() > 0) {
    return damaged(
        absl::StrCat("its RocksDB files are gone (there is no CURRENT), and it had "
                     "taken events up to number ",
                     mark_->taken()));
  }
  uint64_t highest = 0;  // the highest seq its files hold
  if (exists) {
    std::ifstream in(state_path, std::ios::binary);
    std::stringstream text;
    if (in) text << in.rdbuf();
    if (!in) {
      return damaged(absl::StrCat(
          "its state file ", kStateFile,
          " is missing (an outbox of an evenhand before 2026-12-05 has none: if so, write "
          "\"open\" and a line end into it and start again)"));
    }
    absl::StatusOr<std::optional<uint64_t>> closed = ParseState(text.str());
    if (!closed.ok()) return damaged(std::string(closed.status().message()));
    rocksdb::DB* reader = nullptr;
    rocksdb::Status r = rocksdb::DB::OpenForReadOnly(o, options_.outbox_dir, &reader);
    uint64_t held = 0;
    if (r.ok()) {
      std::unique_ptr<rocksdb::DB> owned(reader);
      std::unique_ptr<rocksdb::Iterator> it(reader->NewIterator(rocksdb::ReadOptions()));
      for (it->SeekToFirst(); it->Valid(); it->Next()) held += IsEventKey(it->key()) ? 1 : 0;
      r = it->status();
      std::string value;
      if (r.ok()) r = reader->Get(rocksdb::ReadOptions(), kHighestSeqKey, &value);
      if (r.IsNotFound()) r = rocksdb::Status::OK();  // none taken, or before 2026-12-06
      if (r.ok() && !value.empty()) highest = ReadBigEndian64(value);
    }
    if (!r.ok() && (r.IsCorruption() || r.IsIOError())) {
      return damaged(absl::StrCat("its files cannot be read (", r.ToString(), ")"));
    }
    if (!r.ok()) {
      return absl::UnavailableError(absl::StrCat("publisher: cannot read the outbox ",
                                                 options_.outbox_dir, ": ", r.ToString()));
    }
    if (closed->has_value() && held != **closed) {
      return damaged(absl::StrCat("it held ", **closed,
                                  " events when it was last closed, and its files hold ", held,
                                  " now"));
    }
    if (highest < mark_->taken()) {
      return damaged(absl::StrCat(
          "it took events up to number ", mark_->taken(), ", and its files end at number ", highest,
          " (a write-ahead log cut short, deleted, or damaged where RocksDB takes it for the "
          "torn last write of a crash)"));
    }
  }
  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(o, options_.outbox_dir, &db);
  // RocksDB's own words, without the path (which may say anything).
  const std::string state = s.getState() == nullptr ? "" : s.getState();
  if (s.IsIOError() && (absl::StartsWith(state, "While lock file") ||
                        absl::StrContains(state, "lock hold by current process"))) {
    return absl::FailedPreconditionError(
        absl::StrCat("publisher: the outbox ", options_.outbox_dir,
                     " is open in another publisher (one outbox, one publisher): ", s.ToString()));
  }
  if (s.IsCorruption()) {
    return absl::DataLossError(absl::StrCat(
        "publisher: the outbox ", options_.outbox_dir, " is damaged (", s.ToString(),
        "): not opened, so that no event in it is dropped without a word. Move the folder "
        "aside and keep it, see which of its events the log holds (evenhand read, by stream), "
        "and start on a new outbox"));
  }
  if (!s.ok()) {
    return absl::UnavailableError(absl::StrCat("publisher: cannot open the outbox ",
                                               options_.outbox_dir, ": ", s.ToString()));
  }
  outbox_.reset(db);
  // From now on its state is what the write-ahead log says, until the
  // next clean Close() counts it again. Synced: a count come back after a
  // crash would refuse a sound outbox.
  if (!WriteSynced(options_.outbox_dir, state_path, "open\n")) {
    return absl::UnavailableError(
        absl::StrCat("publisher: cannot write the outbox's state file ", state_path));
  }
  // What an earlier publisher handed over and never saw the outcome of.
  absl::MutexLock lock(&mu_);
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
  // Seqs go on from the highest ever taken, delivered or not.
  next_seq_ = std::max({next_seq_, highest + 1, mark_->taken() + 1});
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (!IsEventKey(it->key())) continue;
    const uint64_t seq = ReadBigEndian64(it->key().ToStringView());
    v1::AppendRequest stored;
    if (!stored.ParseFromArray(it->value().data(), static_cast<int>(it->value().size())) ||
        stored.events_size() != 1) {
      return absl::DataLossError(absl::StrCat("publisher: outbox entry ", seq, " in ",
                                              options_.outbox_dir, " is damaged"));
    }
    auto q = streams_.try_emplace(stored.stream_id()).first;
    const uint64_t before = FrontSeq(q->second);
    const size_t bytes = stored.events(0).ByteSizeLong();
    q->second.fresh.push_back(
        Entry{seq, std::move(*stored.mutable_events(0)), /*alone=*/true, bytes, absl::Now()});
    Reorder(q, before);
    ++pending_;
    pending_bytes_ += bytes;
    next_seq_ = std::max(next_seq_, seq + 1);
  }
  if (!it->status().ok()) {
    return absl::DataLossError(
        absl::StrCat("publisher: cannot read the outbox: ", it->status().ToString()));
  }
  return absl::OkStatus();
}

Publisher::~Publisher() {
  Close();
  outbox_.reset();
  if (outbox_lock_ >= 0) ::close(outbox_lock_);  // releases the flock
}

absl::StatusOr<std::string> Publisher::Publish(const std::string& stream_id, v1::Event event) {
  if (event.event_id().empty()) event.set_event_id(NewUuid());
  if (event.source_system().empty()) event.set_source_system(options_.source_system);
  if (!event.has_occurred_at()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "publisher: event ", event.event_id(),
        " has no occurred_at: set when it happened (the server refuses an event without it); "
        "the event was not taken"));
  }
  if (!event.stream_id().empty() && event.stream_id() != stream_id) {
    return absl::InvalidArgumentError(
        absl::StrCat("publisher: event ", event.event_id(), " names stream ", event.stream_id(),
                     " but was handed over for stream ", stream_id, ": the event was not taken"));
  }
  event.clear_stream_id();
  if (outbox_ != nullptr) {
    if (absl::Status room = CheckOutboxRoom(); !room.ok()) return room;
  }
  // Framing of the request around it: its stream id and the field's tag.
  if (const size_t size = event.ByteSizeLong() + stream_id.size() + 16;
      size > options_.max_request_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("publisher: event ", event.event_id(), " would make a request of ", size,
                     " bytes, more than max_request_bytes (", options_.max_request_bytes,
                     ", the server's maxRequestBytes): the server could not take it"));
  }
  const size_t bytes = event.ByteSizeLong();
  uint64_t seq;
  {
    absl::MutexLock lock(&mu_);
    auto room = [this, bytes]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return closing_ || (pending_ < options_.max_pending_events &&
                          (pending_ == 0 || pending_bytes_ + bytes <= options_.max_pending_bytes));
    };
    if (!mu_.AwaitWithTimeout(absl::Condition(&room), options_.max_block)) {
      return absl::DeadlineExceededError(absl::StrCat(
          "publisher: no room for the event within max_block (",
          absl::FormatDuration(options_.max_block), "): ", pending_, " events (", pending_bytes_,
          " bytes) wait for the server, up to max_pending_events / max_pending_bytes; the event "
          "was not taken: hand it over again later",
          blocked_.ok() ? "" : absl::StrCat(" (", blocked_.message(), ")")));
    }
    if (closing_) return absl::FailedPreconditionError("publisher: closed");
    seq = next_seq_++;
    ++pending_;
    pending_bytes_ += bytes;
    if (outbox_ != nullptr) ++writing_outbox_;  // Close() waits for it
  }
  if (outbox_ != nullptr) {
    v1::AppendRequest stored;
    stored.set_stream_id(stream_id);
    *stored.add_events() = event;
    rocksdb::WriteBatch write;
    write.Put(OutboxKey(seq), stored.SerializeAsString());
    write.Merge(kHighestSeqKey, BigEndian64(seq));
    rocksdb::WriteOptions wo;
    wo.sync = true;
    rocksdb::Status s = outbox_->Write(wo, &write);
    if (s.ok() && !mark_->Take(seq)) {
      std::fprintf(stderr, "evenhand publisher: cannot write %s/%s: %s\n",
                   options_.outbox_dir.c_str(), kTakenFile, std::strerror(errno));
    }
    absl::MutexLock lock(&mu_);
    --writing_outbox_;
    if (!s.ok()) {
      --pending_;
      pending_bytes_ -= bytes;
      return absl::UnavailableError(
          absl::StrCat("publisher: the outbox cannot take the event: ", s.ToString()));
    }
  }
  const std::string id = event.event_id();
  absl::MutexLock lock(&mu_);
  if (closing_ && outbox_ == nullptr) {
    // Closed meanwhile: nothing would send or report it.
    --pending_;
    pending_bytes_ -= bytes;
    return absl::FailedPreconditionError("publisher: closed");
  }
  // (Closed meanwhile with an outbox: it is there for the next publisher.)
  auto q = streams_.try_emplace(stream_id).first;
  const uint64_t before = FrontSeq(q->second);
  q->second.fresh.push_back(Entry{seq, std::move(event), /*alone=*/false, bytes, absl::Now()});
  Reorder(q, before);
  wake_ = true;
  return id;
}

bool Publisher::Flush(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  flushing_ = true;
  wake_ = true;
  auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return pending_ == 0 || closing_; };
  const bool ok = mu_.AwaitWithTimeout(absl::Condition(&done), timeout) && pending_ == 0;
  flushing_ = false;
  return ok;
}

void Publisher::Close() {
  absl::MutexLock closing(&close_mu_);
  {
    absl::MutexLock lock(&mu_);
    if (closing_ && !sender_.joinable()) return;
    closing_ = true;
    if (call_context_ != nullptr) call_context_->TryCancel();
  }
  if (sender_.joinable()) sender_.join();
  if (outbox_ != nullptr) {
    // Kept there for the next publisher, written into a table file: one
    // cut short or damaged is then refused when opened (its size and
    // checksums are recorded), where a cut in the write-ahead log could
    // not be told from a crash's torn last write. Not on a nearly full
    // disk, where the flush's failure could abort the process.
    {
      absl::MutexLock lock(&mu_);
      auto written = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return writing_outbox_ == 0; };
      mu_.Await(absl::Condition(&written));
    }
    if (CheckOutboxRoom().ok()) {
      rocksdb::Status s = outbox_->Flush(rocksdb::FlushOptions());
      if (!s.ok()) {
        std::fprintf(stderr, "evenhand publisher: flushing the outbox at close: %s\n",
                     s.ToString().c_str());
      } else {
        SaveClosedCount();
      }
    }
    return;
  }
  std::vector<Batch> left;
  {
    absl::MutexLock lock(&mu_);
    left = TakeAllWaiting();
  }
  FailAll(std::move(left),
          absl::CancelledError("publisher: closed before the server answered for this event, "
                               "and there is no outbox to keep it; it is in the log only if it "
                               "was sent: publish it again with the same event id to find out"));
}

std::vector<Publisher::Batch> Publisher::TakeAllWaiting() {
  std::vector<Batch> out;
  for (auto& [stream_id, q] : streams_) {
    Batch b;
    b.stream_id = stream_id;
    for (Batch& r : q.retries) {
      for (Entry& e : r.entries) b.entries.push_back(std::move(e));
    }
    q.retries.clear();
    for (Entry& e : q.fresh) b.entries.push_back(std::move(e));
    q.fresh.clear();
    if (b.entries.empty()) continue;
    q.in_flight = true;  // until Finished
    out.push_back(std::move(b));
  }
  order_.clear();  // nothing waits now
  return out;
}

void Publisher::FailAll(std::vector<Batch> batches, const absl::Status& status) {
  for (const Batch& b : batches) {
    std::vector<Outcome> outcomes;
    for (const Entry& e : b.entries) {
      Outcome o;
      o.event_id = e.event.event_id();
      o.stream_id = b.stream_id;
      o.status = status;
      outcomes.push_back(std::move(o));
    }
    Finished(b, std::move(outcomes));
  }
}

size_t Publisher::pending() const {
  absl::MutexLock lock(&mu_);
  return pending_;
}

void Publisher::Finished(const Batch& batch, std::vector<Outcome> outcomes) {
  // Reported first, then out of the outbox: a crash in between reports it
  // again (as a replay) rather than never.
  for (const Outcome& o : outcomes) {
    if (on_outcome_) on_outcome_(o);
  }
  if (outbox_ != nullptr) {
    rocksdb::WriteBatch done;
    for (const Entry& e : batch.entries) done.Delete(OutboxKey(e.seq));
    rocksdb::WriteOptions wo;
    wo.sync = true;
    rocksdb::Status s = outbox_->Write(wo, &done);
    if (!s.ok()) {
      // Left in the outbox, they will be sent again by the next publisher
      // and answered as replays: said here, as nothing else can.
      std::fprintf(stderr,
                   "evenhand publisher: cannot remove delivered events from the outbox "
                   "(%s); they will be resent and answered as replays\n",
                   s.ToString().c_str());
    }
  }
  absl::MutexLock lock(&mu_);
  auto it = streams_.find(batch.stream_id);
  if (it != streams_.end()) {
    it->second.in_flight = false;
    if (it->second.fresh.empty() && it->second.retries.empty()) streams_.erase(it);
  }
  pending_ -= batch.entries.size();
  for (const Entry& e : batch.entries) pending_bytes_ -= e.bytes;
  wake_ = true;
}

}  // namespace evenhand::clients
