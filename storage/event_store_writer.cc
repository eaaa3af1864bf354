// EventStore's writer and completer (see event_store_write.cc for the
// pipeline): writes a decided group in one synced RocksDB write, publishes it
// to the live feed, and answers its appenders; or refuses it and every group
// decided on top of it.
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
#include "storage/internal/keys.h"
#include "storage/internal/store_impl.h"
#include "storage/internal/write_metrics.h"
#include "storage/internal/write_shared.h"

namespace evenhand::storage {

using internal::BigEndian64;
using internal::FromRocks;
using internal::ReadBigEndian64;
using internal::StoppedAfterFailure;
using internal::StreamKey;
using internal::StreamPrefix;
using internal::t_in_own_write;
using internal::t_own_write_failed;

namespace {

constexpr const char* kComponent = internal::kWriteComponent;

absl::Status DependencyFailed() {
  return WithErrorInfo(
      absl::AbortedError("a concurrent append this one depended on failed before it was "
                         "written; nothing was written: retry"),
      "DEPENDENCY_FAILED");
}

}  // namespace

void EventStore::Impl::Write(Decided& d) {
  {
    absl::Status rewinding;
    {
      absl::MutexLock lock(&write_mu_);
      rewinding = rewinding_;
    }
    std::string failure;
    {
      absl::MutexLock lock(&queue_mu_);
      failure = failure_;
    }
    // Decided after an earlier group's write failed: refuse it too, for the
    // same reason; its batch is never written.
    if (!failure.empty()) return Refuse(d, StoppedAfterFailure(failure), true);
    if (!rewinding.ok()) return Refuse(d, rewinding, false);
  }
  const bool has_batch = !d.records.empty() && d.prepare_status.ok();
  if (!has_batch) return Answer(d);

  rocksdb::WriteOptions wo;
  wo.sync = true;
  t_own_write_failed = false;
  t_in_own_write = true;
  const absl::Time write_started = absl::Now();
  rocksdb::Status s = db_->Write(wo, &d.batch);
  t_in_own_write = false;
  internal::CountWrite(s.ok(), absl::Now() - write_started, d.records.size(), d.bytes,
                       d.batch.Count(), d.batch.GetDataSize());
  absl::Status write_status = FromRocks(s, "the write of an append batch failed");
  bool outcome_known = false;  // a failure RocksDB refused before its WAL
  if (write_status.ok() && options_.TEST_after_write) {
    write_status = options_.TEST_after_write();
  } else if (!write_status.ok()) {
    outcome_known = !t_own_write_failed && bg_error_.load();
  }
  if (write_status.ok()) {
    if (hook_ != nullptr) hook_->Committed();
    last_position_.store(d.records.back()->position(), std::memory_order_release);
    // Synced: the next start checks the log reaches it (before any answer).
    RecordAcknowledged(d.records.back()->position());
    std::vector<FeedEvent> published;
    published.reserve(d.records.size());
    for (size_t i = 0; i < d.records.size(); ++i) published.push_back({d.records[i], d.bytes[i]});
    feed_->Publish(published);
    return Answer(d);
  }
  if (outcome_known) {
    // RocksDB had stopped taking writes (a background flush failed): this
    // batch never reached the WAL. Refuse it and every group decided on top
    // of it, then rewind; appends resume once RocksDB does.
    absl::Status cause;
    {
      absl::MutexLock lock(&bg_mu_);
      cause = absl::Status(
          bg_error_no_space_ ? absl::StatusCode::kResourceExhausted
                             : absl::StatusCode::kUnavailable,
          absl::StrCat(bg_error_message_,
                       ". Nothing from this append was written; it is safe to retry."));
    }
    {
      absl::MutexLock lock(&write_mu_);
      rewinding_ = cause;
    }
    return Refuse(d, cause, false);
  }
  if (hook_ != nullptr) hook_->Aborted();
  // RocksDB failed the write, but the batch may still be in its WAL (say
  // the append succeeded and the fsync failed) and come back on recovery.
  // Giving its positions to other events could then put two events at one
  // position, so the store stops taking writes; a restart recovers the true
  // end of the log.
  const std::string failure = absl::StrCat(write_status.message(), " at positions ",
                                           d.first_position, "..", d.records.back()->position());
  logging::Error(kComponent,
                 absl::StrCat("an append batch failed with an unknown outcome (", failure,
                              "): the log accepts no more appends until evenhandd is restarted"));
  {
    absl::MutexLock lock(&queue_mu_);
    accepting_ = false;
    failure_ = failure;
  }
  for (size_t r = 0; r < d.outcomes.size(); ++r) {
    Outcome& out = d.outcomes[r];
    if (out.rests_on_this_group) {
      out.result = WithErrorInfo(
          absl::InternalError(absl::StrCat(
              write_status.message(),
              ". The outcome of this append is unknown and the server accepts no more "
              "writes: after a restart, retry with the same event ids, which is safe (a "
              "recorded batch is answered with its original positions).")),
          "OUTCOME_UNKNOWN");
    }
  }
  Answer(d);
}

void EventStore::Impl::Refuse(Decided& d, const absl::Status& cause, bool after_failure) {
  const bool has_batch = !d.records.empty() && d.prepare_status.ok();
  if (has_batch && hook_ != nullptr) hook_->Aborted();
  for (Outcome& out : d.outcomes) {
    const bool rests = out.rests_on_this_group || out.rests_on_earlier_group;
    if (after_failure) {
      // The store is stopping: nothing is answered as a success any more.
      if (rests || out.result.ok()) out.result = cause;
      continue;
    }
    if (!rests) continue;  // its verdict does not depend on unwritten events
    if (out.result.ok() && !out.result->idempotent_replay) {
      out.result = cause;  // its own events were in a batch never written
    } else {
      out.result = DependencyFailed();
    }
  }
  d.prepare_status = absl::OkStatus();  // answered here, not as a prepare failure
  Answer(d);
}

void EventStore::Impl::Answer(Decided& d) {
  std::vector<Reply> answers;
  answers.reserve(d.outcomes.size());
  for (size_t r = 0; r < d.outcomes.size(); ++r) {
    Outcome& out = d.outcomes[r];
    if (out.rests_on_this_group && !d.prepare_status.ok()) {
      if (out.result.ok() && !out.result->idempotent_replay) {
        // This request's own events were in the batch that was never
        // written: the reason, with the code it came with.
        out.result = absl::Status(
            d.prepare_status.code(),
            absl::StrCat(d.prepare_status.message(),
                         ". Nothing from this append was written; it is safe to retry."));
      } else {
        // The verdict (a replay, AlreadyExists, FailedPrecondition) rested on
        // another request's events, which were not written after all.
        out.result = DependencyFailed();
      }
    }
    // Resting on an earlier group is fine here: that group was written
    // before this one reached the writer, or the group was refused above.
    answers.push_back({std::move(d.done[r]), std::move(out.result)});
  }
  absl::MutexLock lock(&answer_mu_);
  answer_queue_.push_back(std::move(answers));
}

}  // namespace evenhand::storage
