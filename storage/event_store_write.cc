// EventStore's write pipeline: appends are queued, a sequencer thread decides
// groups of them (event_store_sequencer.cc: ids, revisions, positions, the
// commit hook's writes), a writer thread writes and syncs each group and a
// completer thread answers the appenders (event_store_writer.cc). This file
// holds the queue, the three threads and RocksDB's background errors. See
// event_store.h for the contract and the failure modes.
#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/error_details.h"
#include "base/logging.h"
#include "base/status_macros.h"
#include "base/thread_name.h"
#include "base/time_util.h"
#include "base/uuid.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/message_differencer.h"
#include "storage/internal/write_metrics.h"
#include "storage/internal/keys.h"
#include "storage/internal/store_impl.h"
#include "storage/internal/write_shared.h"

namespace evenhand::storage {
namespace internal {

thread_local bool t_own_write_failed = false;
thread_local bool t_in_own_write = false;

absl::Status StoppedAfterFailure(const std::string& failure) {
  return WithErrorInfo(absl::UnavailableError(absl::StrCat(
                           "the log stopped accepting appends after a storage failure (", failure,
                           "); restart the server and retry with the same event ids")),
                       "APPENDS_STOPPED");
}

}  // namespace internal

using internal::BigEndian64;
using internal::FromRocks;
using internal::ReadBigEndian64;
using internal::StreamKey;
using internal::StreamPrefix;
using internal::StoppedAfterFailure;
using internal::t_in_own_write;
using internal::t_own_write_failed;

namespace {

constexpr const char* kComponent = internal::kWriteComponent;

std::string UuidKey(const UuidBytes& b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

}  // namespace

void EventStore::Impl::StartPipeline() {
  {
    absl::MutexLock lock(&queue_mu_);
    accepting_ = !read_only_;
  }
  if (read_only_) return;
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
}

absl::Status EventStore::Impl::StoppedStatus() const {
  if (read_only_) return WithErrorInfo(absl::UnavailableError(read_only_reason_), "READ_ONLY");
  if (!failure_.empty()) return StoppedAfterFailure(failure_);
  return WithErrorInfo(absl::UnavailableError("the server is shutting down and accepts no more "
                                              "appends; retry against a running server"),
                       "SHUTTING_DOWN");
}

WriteState EventStore::Impl::write_state() const {
  WriteState state;
  state.read_only = read_only_;
  {
    absl::MutexLock lock(&queue_mu_);
    if (!accepting_) {
      state.accepting = false;
      state.refusal = StoppedStatus();
      return state;
    }
  }
  if (bg_error_.load()) {
    absl::MutexLock lock(&bg_mu_);
    state.accepting = false;
    state.refusal = absl::Status(
        bg_error_no_space_ ? absl::StatusCode::kResourceExhausted : absl::StatusCode::kUnavailable,
        bg_error_message_);
    return state;
  }
  if (absl::Status room = disk_->CheckRoom(0); !room.ok()) {
    state.accepting = false;
    absl::StatusOr<uint64_t> free = disk_->FreeBytes();
    const bool records_fit = free.ok() && *free >= disk_->floor_bytes() / 2;
    state.refusal = absl::Status(
        room.code(),
        absl::StrCat(room.message(),
                     ": appends are refused until space is freed, then resume by themselves; "
                     "reads not on the record continue, and recorded ones (the server's "
                     "default) ",
                     records_fit ? "while their access records fit above half the floor"
                                 : "are refused too: their access records no longer fit above "
                                   "half the floor"));
    return state;
  }
  if (absl::Status clock = internal::ClockWatch::Refusal(options_.clock()); !clock.ok()) {
    state.accepting = false;  // (outside re-probe: status said "appends accepted")
    state.refusal = std::move(clock);
  }
  return state;
}

void EventStore::Impl::OnBackgroundError(rocksdb::BackgroundErrorReason reason,
                                         const rocksdb::Status& status) {
  if (t_in_own_write) t_own_write_failed = true;
  const char* what = "a background job";
  const char* in = "other";
  switch (reason) {
    case rocksdb::BackgroundErrorReason::kFlush:
    case rocksdb::BackgroundErrorReason::kFlushNoWAL:
      what = "a memtable flush";
      in = "flush";
      break;
    case rocksdb::BackgroundErrorReason::kCompaction:
      what = "a compaction";
      in = "compaction";
      break;
    case rocksdb::BackgroundErrorReason::kWriteCallback:
      what = "a write";
      in = "write";
      break;
    case rocksdb::BackgroundErrorReason::kMemTable:
      what = "a memtable insert";
      in = "memtable";
      break;
    case rocksdb::BackgroundErrorReason::kManifestWrite:
    case rocksdb::BackgroundErrorReason::kManifestWriteNoWAL:
      what = "a MANIFEST write";
      in = "manifest";
      break;
  }
  internal::CountRocksError(in);
  const bool stops_writes = status.severity() >= rocksdb::Status::Severity::kHardError;
  const std::string message =
      absl::StrCat("RocksDB reported an error in ", what, " (", status.ToString(), ")",
                   stops_writes ? ": it stops taking writes until it recovers" : "");
  logging::Error(kComponent, message);
  if (!stops_writes) return;
  absl::MutexLock lock(&bg_mu_);
  bg_error_message_ =
      absl::StrCat(message, status.IsNoSpace() ? "; appends resume once space is freed" : "");
  bg_error_no_space_ = status.IsNoSpace();
  bg_error_.store(true);
}

void EventStore::Impl::OnRecovered() {
  if (bg_error_.exchange(false)) {
    logging::Info(kComponent, "RocksDB recovered from its background error and takes writes again");
  }
}

void EventStore::Impl::AppendAsync(std::string stream_id, ExpectedRevision expected,
                                   std::vector<v1::Event> events, AppendCallback done,
                                   bool record) {
  auto reject = [&](absl::Status status) { std::move(done)(std::move(status)); };
  if (absl::Status s = internal::ValidateStreamId(stream_id); !s.ok()) return reject(s);
  if (events.empty()) {
    return reject(InvalidFieldError("events", "at least one event is required"));
  }
  Pending p;
  p.id_keys.reserve(events.size());
  absl::flat_hash_set<std::string> ids_in_batch;
  for (size_t i = 0; i < events.size(); ++i) {
    const v1::Event& e = events[i];
    if (e.event_id().empty()) {
      return reject(InvalidFieldError(absl::StrCat("events[", i, "].event_id"),
                                      "required (a UUID chosen by the publisher)"));
    }
    absl::StatusOr<UuidBytes> id = ParseUuid(e.event_id());
    if (!id.ok()) {
      return reject(
          InvalidFieldError(absl::StrCat("events[", i, "].event_id"), id.status().message()));
    }
    std::string key = UuidKey(*id);
    if (!ids_in_batch.insert(key).second) {
      return reject(InvalidFieldError(absl::StrCat("events[", i, "].event_id"),
                                      absl::StrCat(e.event_id(), " appears twice in this batch")));
    }
    if (!e.stream_id().empty() && e.stream_id() != stream_id) {
      return reject(InvalidFieldError(
          absl::StrCat("events[", i, "].stream_id"),
          absl::StrCat("\"", e.stream_id(), "\" differs from the append's stream_id \"", stream_id,
                       "\"")));
    }
    p.id_keys.push_back(std::move(key));
  }
  p.stream_id = std::move(stream_id);
  p.expected = expected;
  p.events = std::move(events);
  p.done = std::move(done);
  p.record = record;
  absl::Status stopped;
  {
    absl::MutexLock lock(&queue_mu_);
    // The server's own records go on while it shuts down (until Close): a
    // read that ends then, a subscription cut by the shutdown, is still put
    // on the record with what it was sent.
    const bool closing_record =
        record && shutting_down_ && !stop_ && failure_.empty() && !read_only_;
    if (accepting_) {
      {
        absl::MutexLock count(&outstanding_mu_);
        ++outstanding_;
      }
      queue_.push_back(std::move(p));
      return;
    }
    if (closing_record) {
      // Not one WaitForAppendsToFinish waits for (reads arriving while the
      // server stops would keep it from ever seeing none in flight): counted
      // only from its answer on, which the completer takes off again.
      p.done = [this, done = std::move(p.done)](absl::StatusOr<AppendResult> result) mutable {
        {
          absl::MutexLock count(&outstanding_mu_);
          ++outstanding_;
        }
        std::move(done)(std::move(result));
      };
      queue_.push_back(std::move(p));
      return;
    }
    stopped = StoppedStatus();
  }
  std::move(p.done)(std::move(stopped));
}

void EventStore::Impl::RunSequencer() {
  for (;;) {
    // While the writer still has a decided group waiting, appends gather in
    // the queue: under load the group grows, so one fsync covers more. After
    // a group that was certainly not written, wait for the pipeline to empty
    // and rewind before deciding again.
    bool rewind = false;
    {
      absl::MutexLock lock(&write_mu_);
      auto writer_free = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_) {
        return write_queue_.empty() && (rewinding_.ok() || !writer_busy_);
      };
      write_mu_.Await(absl::Condition(&writer_free));
      if (!rewinding_.ok()) {
        rewind = true;
        rewinding_ = absl::OkStatus();
      }
    }
    if (rewind) Rewind();
    std::vector<Pending> group;
    {
      absl::MutexLock lock(&queue_mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(queue_mu_) {
        return !queue_.empty() || stop_;
      };
      queue_mu_.Await(absl::Condition(&ready));
      if (queue_.empty()) return;  // stop_ and nothing left to do
      size_t events = 0;
      while (!queue_.empty() && (group.empty() || events + queue_.front().events.size() <=
                                                      options_.max_group_commit_events)) {
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
      writer_busy_ = true;
    }
    Write(d);
    absl::MutexLock lock(&write_mu_);
    writer_busy_ = false;
  }
}

void EventStore::Impl::RunCompleter() {
  for (;;) {
    std::vector<Reply> answers;
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
    for (auto& a : answers) std::move(a.done)(std::move(a.result));
    absl::MutexLock lock(&outstanding_mu_);
    outstanding_ -= answers.size();
  }
}

bool EventStore::Impl::WaitForAppendsToFinish(absl::Time deadline) {
  absl::MutexLock lock(&outstanding_mu_);
  auto answered = [this]()
                      ABSL_EXCLUSIVE_LOCKS_REQUIRED(outstanding_mu_) { return outstanding_ == 0; };
  return outstanding_mu_.AwaitWithDeadline(absl::Condition(&answered), deadline);
}


}  // namespace evenhand::storage
