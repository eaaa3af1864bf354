// EventStore's sequencer (see event_store_write.cc for the pipeline): decides
// each group of queued appends, in order: idempotent replays, expected
// revisions, positions, the free-space check and the commit hook's writes,
// keeping what groups still in flight have decided.
#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
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

// The expected revision as ErrorInfo metadata gives it: the number, or the
// name of the expected state (the proto's ExpectedState).
std::string ExpectedForPrograms(const ExpectedRevision& expected) {
  switch (expected.kind) {
    case ExpectedRevision::Kind::kAny:
      return "ANY";
    case ExpectedRevision::Kind::kNoStream:
      return "NO_STREAM";
    case ExpectedRevision::Kind::kStreamExists:
      return "STREAM_EXISTS";
    case ExpectedRevision::Kind::kExact:
      return absl::StrCat(expected.revision);
  }
  return "";
}

// The stream cache is a plain map cleared when full: the sequencer reads a
// missing entry back from RocksDB with one seek, so a miss costs little and
// memory stays bounded however many streams the log has.
constexpr size_t kStreamCacheLimit = 1 << 17;

// A group's estimated share of the disk beyond its events' bytes: the
// commit hook's writes (tree nodes, chain) and RocksDB's own records.
constexpr uint64_t kOverheadPerEvent = 512;

// How often a store whose RocksDB stopped after a background error tries to
// resume it, and how often a missing reserve file is recreated.
constexpr absl::Duration kResumeEvery = absl::Seconds(1);
constexpr absl::Duration kReserveEvery = absl::Seconds(10);

// The publisher's part of an event: what a retry must resend exactly.
v1::Event PublisherPart(const v1::Event& e) {
  v1::Event copy = e;
  copy.clear_stream_id();
  copy.clear_recorded_at();
  // A UUID is the same in either case (RFC 9562 4): ids are matched so.
  absl::AsciiStrToLower(copy.mutable_event_id());
  return copy;
}

// Names of the envelope fields (and "payload") in which `a` and `b` differ.
std::string DifferingFields(const v1::Event& a, const v1::Event& b) {
  std::vector<std::string> names;
  const google::protobuf::Descriptor* d = v1::Event::descriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* f = d->field(i);
    google::protobuf::util::MessageDifferencer differ;
    std::vector<const google::protobuf::FieldDescriptor*> only = {f};
    if (!differ.CompareWithFields(a, b, only, only)) names.push_back(f->name());
  }
  return names.empty() ? "unknown fields" : absl::StrJoin(names, ", ");
}

}  // namespace

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

void EventStore::Impl::Rewind() {
  // Every group decided after the last written one was refused: their
  // positions are given out again, and what the sequencer believed about
  // their streams is forgotten.
  next_position_ = LastPosition() + 1;
  in_flight_.clear();
  in_flight_ids_.clear();
  in_flight_streams_.clear();
  stream_cache_.clear();
  if (hook_ != nullptr) hook_->Rewind();
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
  EH_RETURN_IF_ERROR(ReadFailure(it->status(), "cannot read a stream's revision"));
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
    // Another system's event: nothing of it is said (its stream, position
    // or which fields differ). A publisher that holds the id of an event
    // it did not write, resending it with guesses at a value, was told by
    // "the fields that differ" whether "payload" was among them (outside
    // probe). A retry comes from the system that wrote the event.
    if (original->event().source_system() != p.events[i].source_system()) {
      return WithErrorInfo(
          absl::AlreadyExistsError(absl::StrCat(
              "events[", i, "].event_id: ", p.events[i].event_id(),
              " is already recorded, by another system than \"", p.events[i].source_system(),
              "\": a new event needs a new id (a retry resends exactly the original, from the "
              "system that sent it). Nothing was written.")),
          "EVENT_ID_REUSED",
          {{"field", absl::StrCat("events[", i, "].event_id")},
           {"event_id", p.events[i].event_id()}});
    }
    if (original->event().stream_id() != p.stream_id) {
      return WithErrorInfo(absl::AlreadyExistsError(absl::StrCat(
                               "events[", i, "].event_id: ", p.events[i].event_id(),
                               " was already recorded in stream \"", original->event().stream_id(),
                               "\" at position ", positions[i], ", not in \"", p.stream_id, "\"")),
                           "EVENT_ID_IN_OTHER_STREAM",
                           {{"field", absl::StrCat("events[", i, "].event_id")},
                            {"event_id", p.events[i].event_id()},
                            {"position", absl::StrCat(positions[i])},
                            {"recorded_stream", original->event().stream_id()}});
    }
    // An event id names one event: the same id with other content is not a
    // retry, and answering it as one would drop the new content in silence.
    const v1::Event recorded = PublisherPart(original->event());
    const v1::Event resent = PublisherPart(p.events[i]);
    if (!google::protobuf::util::MessageDifferencer::Equals(recorded, resent)) {
      const std::string differing = DifferingFields(recorded, resent);
      return WithErrorInfo(
          absl::AlreadyExistsError(absl::StrCat(
              "events[", i, "].event_id: ", p.events[i].event_id(),
              " was already recorded at position ", positions[i],
              " with different content (the fields that differ: ", differing,
              "); a retry must resend exactly the original event, and a new event needs "
              "a new id. Nothing was written.")),
          "EVENT_ID_REUSED",
          {{"field", absl::StrCat("events[", i, "].event_id")},
           {"event_id", p.events[i].event_id()},
           {"position", absl::StrCat(positions[i])},
           {"differing_fields", differing}});
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

absl::Status EventStore::Impl::ReadyToWrite() {
  if (bg_error_.load()) {
    // RocksDB stopped after a background error: try to resume it (at most
    // once a second), once there is room again.
    const absl::Time now = absl::Now();
    if (now - last_resume_attempt_ >= kResumeEvery && disk_->CheckRoom(0).ok()) {
      last_resume_attempt_ = now;
      rocksdb::Status s = db_->Resume();
      if (s.ok()) {
        OnRecovered();
      } else {
        logging::Warning(kComponent, absl::StrCat("RocksDB could not resume yet: ", s.ToString()));
      }
    }
    if (bg_error_.load()) {
      absl::MutexLock lock(&bg_mu_);
      return absl::Status(bg_error_no_space_ ? absl::StatusCode::kResourceExhausted
                                             : absl::StatusCode::kUnavailable,
                          bg_error_message_);
    }
  }
  if (options_.reserve_bytes > 0) {
    const absl::Time now = absl::Now();
    if (now - last_reserve_attempt_ >= kReserveEvery) {
      last_reserve_attempt_ = now;
      disk_->EnsureReserve().IgnoreError();  // best effort: room is checked per append
    }
  }
  return absl::OkStatus();
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
      for (Outcome& out : d.outcomes) out.result = StoppedAfterFailure(failure_);
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

  absl::StatusOr<absl::Time> stamped = clock_watch_.Stamp(options_.clock(), last_recorded_at_);
  const absl::Time now = stamped.ok() ? *stamped : last_recorded_at_;
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

  // Room on the disk, request by request: one that would leave less than
  // the floor free is refused, the others go ahead. Free space is read once
  // per group.
  std::optional<uint64_t> free_bytes;
  if (disk_->floor_bytes() > 0) {
    absl::StatusOr<uint64_t> free = disk_->FreeBytes();
    if (free.ok()) free_bytes = *free;
  }
  uint64_t bytes = 0;
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
        out.result = ReadFailure(statuses[key_index], "cannot look up an event id");
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
      size_t first = 0;
      while (!seen[first]) ++first;
      out.result = WithErrorInfo(absl::AlreadyExistsError(FirstSeenMessage(p, seen)),
                                 "BATCH_PARTLY_RECORDED",
                                 {{"field", absl::StrCat("events[", first, "].event_id")},
                                  {"event_id", p.events[first].event_id()},
                                  {"position", absl::StrCat(*seen[first])}});
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
      const std::string actual = cur ? absl::StrCat(*cur) : std::string("none");
      out.result = WithPreconditionFailure(
          WithErrorInfo(absl::FailedPreconditionError(absl::StrCat(
                            "stream \"", p.stream_id, "\" ", describe(), "; expected ", expected,
                            ". Nothing was written: re-read the stream and decide again.")),
                        "WRONG_EXPECTED_REVISION",
                        {{"stream", p.stream_id},
                         {"expected_revision", ExpectedForPrograms(p.expected)},
                         {"actual_revision", actual}}),
          "STREAM_REVISION", p.stream_id, absl::StrCat(describe(), "; expected ", expected));
      continue;
    }

    // A stream as long as no case is: a system appending to one case in a
    // loop, whose every event would cost the fold what the case holds.
    if (const uint64_t held = cur ? *cur + 1 : 0;
        options_.max_stream_events != 0 && !p.record &&
        held + p.events.size() > options_.max_stream_events) {
      // The events held may not be durable yet: if they fail, so does this
      // refusal's reason (answered DependencyFailed, as a wrong revision is).
      if (overlay.contains(p.stream_id)) {
        out.rests_on_this_group = true;
      } else if (in_flight_streams_.contains(p.stream_id)) {
        out.rests_on_earlier_group = true;
      }
      out.result = WithErrorInfo(
          absl::FailedPreconditionError(absl::StrCat(
              "stream \"", p.stream_id, "\" holds ", held, " events and may hold at most ",
              options_.max_stream_events,
              " (maxEventsPerStream): nothing was written. No council's case is that long: "
              "look for a system appending to this case in a loop; a limit too low for real "
              "cases is raised in the server's config")),
          "STREAM_FULL",
          {{"stream", p.stream_id},
           {"events", absl::StrCat(held)},
           {"max_events", absl::StrCat(options_.max_stream_events)}});
      continue;
    }

    if (free_bytes.has_value()) {
      uint64_t wanted = 0;
      for (const v1::Event& e : p.events) wanted += e.ByteSizeLong() + kOverheadPerEvent;
      const uint64_t floor = p.record ? disk_->floor_bytes() / 2 : disk_->floor_bytes();
      if (bytes + wanted + floor > *free_bytes) {
        out.result = WithRetryDelay(
            WithErrorInfo(
                absl::ResourceExhaustedError(
                    p.record
                        // An access record, refused with the read it records.
                        ? absl::StrCat("the disk holding ", options_.data_dir, " has ",
                                       FormatBytes(*free_bytes),
                                       " free: too little to write this read's access record "
                                       "and keep half the floor of ",
                                       FormatBytes(disk_->floor_bytes()),
                                       " (minFreeDiskMib) free; reads that are recorded are "
                                       "refused until space is freed")
                        : absl::StrCat(
                              "the disk holding ", options_.data_dir, " has ",
                              FormatBytes(*free_bytes), " free, below the floor of ",
                              FormatBytes(disk_->floor_bytes()),
                              " (minFreeDiskMib): appends are refused until space is freed, then "
                              "resume by themselves; reads not on the record continue, and "
                              "recorded ones while their access records fit above half the "
                              "floor. Nothing from this append was written; it is safe to "
                              "retry.")),
                "DISK_FULL",
                {{"free_bytes", absl::StrCat(*free_bytes)},
                 {"floor_bytes", absl::StrCat(disk_->floor_bytes())}}),
            absl::Seconds(30));
        continue;
      }
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
      auto value = std::make_shared<const std::string>(record->SerializeAsString());
      bytes += value->size() + kOverheadPerEvent;
      d.batch.Put(events_cf_, BigEndian64(next_position_), *value);
      d.bytes.push_back(std::move(value));
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
  d.prepare_status = stamped.ok() ? ReadyToWrite() : stamped.status();
  if (d.prepare_status.ok() && options_.TEST_before_write) {
    d.prepare_status = options_.TEST_before_write();
  }
  if (d.prepare_status.ok() && hook_ != nullptr) {
    d.prepare_status = hook_->Prepare(d.records, &d.batch);
  }
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

}  // namespace evenhand::storage
