// EventStore's reads: by position, by event id, by stream, and the whole log.
// Every read of an event marked damaged fails with DataLoss naming it.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "base/time_util.h"
#include "base/uuid.h"
#include "storage/internal/keys.h"
#include "storage/internal/store_impl.h"

namespace evenhand::storage {

using internal::BigEndian64;
using internal::FromRocks;
using internal::ReadBigEndian64;
using internal::StreamKey;
using internal::StreamPrefix;

absl::StatusOr<EventPtr> EventStore::Impl::ReadAt(uint64_t position) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), events_cf_, BigEndian64(position), &value);
  if (s.IsNotFound() || position > LastPosition()) {
    return absl::NotFoundError(absl::StrCat("no event at position ", position));
  }
  EH_RETURN_IF_ERROR(ReadFailure(s, absl::StrCat("cannot read the event at position ", position)));
  EH_RETURN_IF_ERROR(CheckNotDamaged(position));
  return internal::ParseRecord(value, position);
}

absl::Status EventStore::Impl::ReadAtPositions(const std::vector<uint64_t>& positions,
                                              const EventVisitor& visit) const {
  const uint64_t last = LastPosition();
  for (uint64_t position : positions) {
    if (position == 0 || position > last) {
      return absl::NotFoundError(absl::StrCat("no event at position ", position));
    }
  }
  constexpr size_t kChunk = 256;
  std::vector<std::string> keys;
  std::vector<rocksdb::Slice> slices;
  std::vector<rocksdb::PinnableSlice> values;
  std::vector<rocksdb::Status> statuses;
  for (size_t begin = 0; begin < positions.size(); begin += kChunk) {
    const size_t n = std::min(kChunk, positions.size() - begin);
    keys.clear();
    slices.clear();
    bool ascending = true;
    for (size_t i = 0; i < n; ++i) {
      const uint64_t position = positions[begin + i];
      if (i > 0 && position <= positions[begin + i - 1]) ascending = false;
      keys.push_back(BigEndian64(position));
    }
    for (const std::string& k : keys) slices.emplace_back(k);
    values.clear();
    values.resize(n);
    statuses.assign(n, rocksdb::Status());
    db_->MultiGet(rocksdb::ReadOptions(), events_cf_, n, slices.data(), values.data(),
                  statuses.data(), /*sorted_input=*/ascending);
    for (size_t i = 0; i < n; ++i) {
      const uint64_t position = positions[begin + i];
      if (statuses[i].IsNotFound()) {
        return absl::NotFoundError(absl::StrCat("no event at position ", position));
      }
      EH_RETURN_IF_ERROR(
          ReadFailure(statuses[i], absl::StrCat("cannot read the event at position ", position)));
      EH_RETURN_IF_ERROR(CheckNotDamaged(position));
      EH_ASSIGN_OR_RETURN(EventPtr event,
                          internal::ParseRecord(values[i].ToStringView(), position));
      if (!visit(event)) return absl::OkStatus();
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<EventPtr> EventStore::Impl::ReadByEventId(const std::string& event_id) const {
  absl::StatusOr<UuidBytes> id = ParseUuid(event_id);
  if (!id.ok()) return absl::InvalidArgumentError(absl::StrCat("event id: ", id.status().message()));
  std::string value;
  rocksdb::Status s = db_->Get(
      rocksdb::ReadOptions(), event_ids_cf_,
      std::string(reinterpret_cast<const char*>(id->data()), id->size()), &value);
  if (s.IsNotFound()) return absl::NotFoundError(absl::StrCat("no event has id ", event_id));
  EH_RETURN_IF_ERROR(ReadFailure(s, "cannot look up an event id"));
  return ReadAt(ReadBigEndian64(value));
}

absl::StatusOr<bool> EventStore::Impl::StreamExists(const std::string& stream_id) const {
  // Every stream has a revision 0: one bloom-filtered point lookup.
  std::string value;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), streams_cf_, StreamKey(stream_id, 0), &value);
  if (s.IsNotFound()) return false;
  EH_RETURN_IF_ERROR(ReadFailure(s, "cannot look up a stream"));
  return true;
}

absl::StatusOr<std::vector<std::string>> EventStore::Impl::StreamsAround(
    const std::string& stream_id, size_t each_side) const {
  // Each stream's keys are "<id>" 0x00 BE64(revision), one per event: a
  // stream's id is its first key up to the 0x00, and the next stream
  // begins at or after "<id>" 0x01.
  auto id_of = [](const rocksdb::Slice& key) {
    const std::string_view k(key.data(), key.size());
    return std::string(k.substr(0, k.find('\0')));
  };
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), streams_cf_));
  std::vector<std::string> before;
  it->SeekForPrev(stream_id);
  while (it->Valid() && before.size() < each_side) {
    std::string id = id_of(it->key());
    it->SeekForPrev(id);  // the last key of the stream before it
    if (id != stream_id) before.push_back(std::move(id));
  }
  EH_RETURN_IF_ERROR(ReadFailure(it->status(), "cannot list streams"));
  std::vector<std::string> out(before.rbegin(), before.rend());
  size_t after = 0;
  it->Seek(stream_id);
  while (it->Valid() && after < each_side) {
    std::string id = id_of(it->key());
    it->Seek(id + '\x01');
    if (id == stream_id) continue;
    out.push_back(std::move(id));
    ++after;
  }
  EH_RETURN_IF_ERROR(ReadFailure(it->status(), "cannot list streams"));
  return out;
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
  EH_RETURN_IF_ERROR(internal::ValidateStreamId(stream_id));
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
      EH_RETURN_IF_ERROR(ReadFailure(statuses[i], absl::StrCat("cannot read the event at position ",
                                                             position)));
      EH_RETURN_IF_ERROR(CheckNotDamaged(position));
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
  EH_RETURN_IF_ERROR(ReadFailure(it->status(), absl::StrCat("cannot read the index of stream ", stream_id)));
  if (!position_keys.empty()) {
    EH_ASSIGN_OR_RETURN(bool more, flush());
    (void)more;
  }
  return absl::OkStatus();
}

absl::Status EventStore::Impl::ReadAllRaw(std::optional<uint64_t> from_position,
                                          Direction direction, uint64_t max_count,
                                          const ReadFilter& filter, const RawVisitor& visit,
                                          ScanBudget* budget) const {
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
  // The position read next: where an unreadable block lies (positions are
  // dense).
  uint64_t at = from;
  for (; it->Valid(); forwards ? it->Next() : it->Prev()) {
    if (budget != nullptr && budget->scanned >= budget->max_scanned) {
      budget->exhausted = true;
      return absl::OkStatus();
    }
    if (budget != nullptr) ++budget->scanned;
    const uint64_t position = ReadBigEndian64(it->key().ToStringView());
    // Positions are dense up to the last: one skipped was acknowledged and
    // has been lost since, never a gap to read past without a word.
    if (position != at) {
      return forwards ? MissingPositions(at, position - 1) : MissingPositions(position + 1, at);
    }
    at = forwards ? position + 1 : position - 1;
    const std::string_view record = it->value().ToStringView();
    if (filtered) {
      // Only the envelope is read to filter, not the whole event.
      std::string_view stream_id, type;
      if (!internal::PeekEnvelope(record, &stream_id, &type)) {
        return absl::DataLossError(
            absl::StrCat("storage: the record at position ", position, " cannot be parsed"));
      }
      if (!filter.Matches(stream_id, type)) {
        if (budget != nullptr) budget->last_done = position;
        continue;
      }
    }
    EH_RETURN_IF_ERROR(CheckNotDamaged(position));
    if (!visit(position, record)) return absl::OkStatus();
    if (budget != nullptr) budget->last_done = position;
    if (max_count != 0 && ++count >= max_count) return absl::OkStatus();
  }
  EH_RETURN_IF_ERROR(
      ReadFailure(it->status(), absl::StrCat("cannot read the log at position ", at)));
  // Read to the end of the range without reaching its last position.
  if (forwards && at <= last) return MissingPositions(at, last);
  if (!forwards && at >= 1) return MissingPositions(1, at);
  return absl::OkStatus();
}

}  // namespace evenhand::storage
