// CaseBodies: see case_bodies.h.
#include "projections/internal/case_bodies.h"

#include <algorithm>
#include <iterator>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace evenhand::projections::internal {

void CaseBodies::KeepIn(const StoredCases* store, size_t budget_bytes) {
  Dropped dropped;  // destroyed after the lock is released
  absl::MutexLock lock(&mu_);
  store_ = store;
  budget_ = budget_bytes;
  if (store_ == nullptr) return;
  TrimLocked(&dropped);
}

bool CaseBodies::Resident(const Case& c) {
  switch (c.kind) {
    case CaseKind::kGroup:
    case CaseKind::kMember:
    case CaseKind::kOfficer:
    case CaseKind::kElection:
      return true;
    default:
      return false;
  }
}

size_t CaseBodies::MemoryOf(const state::CaseRecord& record, size_t serialised) const {
  if (serialised == 0) return 0;
  if (sized_++ % 64 == 0) {
    measured_memory_ = 0.9 * measured_memory_ + static_cast<double>(record.SpaceUsedLong());
    measured_serialised_ = 0.9 * measured_serialised_ + static_cast<double>(serialised);
    memory_per_byte_ = measured_memory_ / measured_serialised_;
  }
  return static_cast<size_t>(static_cast<double>(serialised) * memory_per_byte_);
}

CaseBodies::Body& CaseBodies::Hold(const Case& c, std::shared_ptr<state::CaseRecord> record,
                                   size_t serialised, State state) const {
  const size_t bytes = MemoryOf(*record, serialised);
  Body& b = bodies_[&c];
  b.record = std::move(record);
  b.bytes = bytes;
  b.state = Resident(c) ? State::kResident : state;
  bytes_ += bytes;
  if (b.state == State::kUnsaved) unsaved_bytes_ += bytes;
  if (b.state == State::kCached) {
    cached_bytes_ += bytes;
    lru_.push_front(&c);
    b.lru = lru_.begin();
  }
  return b;
}

void CaseBodies::Forget(const Case& c, Body& b, Dropped* dropped) const {
  dropped->push_back(std::move(b.record));
  bytes_ -= b.bytes;
  if (b.state == State::kUnsaved) unsaved_bytes_ -= b.bytes;
  if (b.state == State::kCached) {
    cached_bytes_ -= b.bytes;
    lru_.erase(b.lru);
  }
  bodies_.erase(&c);
}

void CaseBodies::TrimLocked(Dropped* dropped) const {
  if (store_ == nullptr) return;
  // Readers may hold the least recently used bodies (a report over a long
  // period holds every case it read until it is built): only so many are
  // passed over, and the budget is met again once they let go.
  constexpr int kPassOver = 64;
  int passed = 0;
  auto it = lru_.end();
  while (cached_bytes_ > budget_ && it != lru_.begin() && passed < kPassOver) {
    --it;
    const Case* c = *it;
    Body& b = bodies_.at(c);
    if (b.record.use_count() > 1) {
      ++passed;
      continue;
    }
    auto after = std::next(it);  // `it` is erased: go on from its place
    Forget(*c, b, dropped);
    it = after;
  }
}

void CaseBodies::Create(const Case& c) {
  auto record = std::make_shared<state::CaseRecord>();
  record->set_stream_id(std::string(c.stream_id()));
  absl::MutexLock lock(&mu_);
  Hold(c, std::move(record), 0, State::kUnsaved);
}

void CaseBodies::Restore(const Case& c, state::CaseRecord record) {
  const size_t bytes = record.ByteSizeLong();
  auto held = std::make_shared<state::CaseRecord>(std::move(record));
  Dropped dropped;  // destroyed after the lock is released
  absl::MutexLock lock(&mu_);
  if (auto it = bodies_.find(&c); it != bodies_.end()) Forget(c, it->second, &dropped);
  Hold(c, std::move(held), bytes, State::kCached);
  TrimLocked(&dropped);
}

std::shared_ptr<state::CaseRecord> CaseBodies::Parse(const std::string& bytes) {
  auto record = std::make_shared<state::CaseRecord>();
  if (!record->ParseFromString(bytes)) return nullptr;
  return record;
}

absl::StatusOr<std::shared_ptr<const state::CaseRecord>> CaseBodies::Get(const Case& c) const {
  const StoredCases* store;
  {
    absl::MutexLock lock(&mu_);
    if (auto it = bodies_.find(&c); it != bodies_.end()) {
      Body& b = it->second;
      if (b.state == State::kCached && b.lru != lru_.begin()) {
        lru_.splice(lru_.begin(), lru_, b.lru);
      }
      return b.record;
    }
    store = store_;
  }
  // Read and parsed outside the lock, so readers that miss wait for no one.
  std::string bytes;
  absl::Status read = store == nullptr ? absl::InternalError("no store to read it back from")
                                       : store->ReadCase(std::string(c.stream_id()), &bytes);
  std::shared_ptr<state::CaseRecord> record;
  if (read.ok()) {
    record = Parse(bytes);
    if (record == nullptr) read = absl::DataLossError("it cannot be parsed");
  }
  if (read.ok() && record->stream_id() != c.stream_id()) {
    read = absl::DataLossError(absl::StrCat("it holds the case of ", record->stream_id()));
  }
  if (!read.ok()) {
    absl::Status why(read.code(),
                     absl::StrCat("the case ", c.stream_id(),
                                  " cannot be read back from the projection's checkpoint: ",
                                  read.message()));
    if (absl::IsDataLoss(why)) {
      absl::MutexLock lock(&mu_);
      if (damage_.ok()) damage_ = why;
    }
    return why;
  }
  Dropped dropped;  // destroyed after the lock is released
  absl::MutexLock lock(&mu_);
  // Another reader may have read it meanwhile: theirs is held, and used.
  if (auto it = bodies_.find(&c); it != bodies_.end()) return it->second.record;
  std::shared_ptr<const state::CaseRecord> out =
      Hold(c, std::move(record), bytes.size(), State::kCached).record;
  TrimLocked(&dropped);
  return out;
}

void CaseBodies::Fail(const absl::Status& why) const {
  absl::MutexLock lock(&mu_);
  if (status_.ok()) status_ = why;
}

state::CaseRecord* CaseBodies::MutableBody(const Case& c) {
  // Read back if dropped.
  absl::StatusOr<std::shared_ptr<const state::CaseRecord>> read = Get(c);
  if (!read.ok()) Fail(read.status());
  absl::MutexLock lock(&mu_);
  auto it = bodies_.find(&c);
  if (it == bodies_.end()) {
    // It could not be read back (status() says so, and nothing is reported
    // or checkpointed from now on): an empty record stands in.
    auto empty = std::make_shared<state::CaseRecord>();
    empty->set_stream_id(std::string(c.stream_id()));
    Hold(c, std::move(empty), 0, State::kUnsaved);
    it = bodies_.find(&c);
  }
  Body& b = it->second;
  if (b.state == State::kCached) {
    lru_.erase(b.lru);
    cached_bytes_ -= b.bytes;
    b.state = State::kUnsaved;
    unsaved_bytes_ += b.bytes;
  }
  return b.record.get();
}

void CaseBodies::Grew(const Case& c, const google::protobuf::MessageLite& part) {
  absl::MutexLock lock(&mu_);
  auto it = bodies_.find(&c);
  if (it == bodies_.end()) return;
  if (parts_++ % 16 == 0) {
    const auto sized = static_cast<double>(part.ByteSizeLong());
    part_bytes_ = part_bytes_ == 0 ? sized : 0.9 * part_bytes_ + 0.1 * sized;
  }
  const auto bytes = static_cast<size_t>(part_bytes_ * memory_per_byte_);
  it->second.bytes += bytes;
  bytes_ += bytes;
  if (it->second.state == State::kUnsaved) unsaved_bytes_ += bytes;
}

void CaseBodies::Saved(const Case& c) {
  absl::MutexLock lock(&mu_);
  auto it = bodies_.find(&c);
  if (it == bodies_.end() || it->second.state != State::kUnsaved) return;
  Body& b = it->second;
  unsaved_bytes_ -= b.bytes;
  bytes_ -= b.bytes;
  // The checkpoint has just serialised it: its size is known (a walk of
  // every fact again was a tenth of a rebuild's fold).
  const size_t serialised = b.record->GetCachedSize();
  b.bytes = MemoryOf(*b.record, serialised != 0 ? serialised : b.record->ByteSizeLong());
  bytes_ += b.bytes;
  cached_bytes_ += b.bytes;
  b.state = State::kCached;
  lru_.push_front(&c);
  b.lru = lru_.begin();
}

void CaseBodies::Trim() const {
  Dropped dropped;  // destroyed after the lock is released
  absl::MutexLock lock(&mu_);
  TrimLocked(&dropped);
}

void CaseBodies::Clear() {
  absl::MutexLock lock(&mu_);
  bodies_.clear();
  lru_.clear();
  bytes_ = 0;
  unsaved_bytes_ = 0;
  cached_bytes_ = 0;
  status_ = absl::OkStatus();
  damage_ = absl::OkStatus();
}

absl::Status CaseBodies::status() const {
  absl::MutexLock lock(&mu_);
  return status_;
}

absl::Status CaseBodies::damage() const {
  absl::MutexLock lock(&mu_);
  return damage_;
}

size_t CaseBodies::bytes() const {
  absl::MutexLock lock(&mu_);
  return bytes_;
}

size_t CaseBodies::unsaved_bytes() const {
  absl::MutexLock lock(&mu_);
  return unsaved_bytes_;
}

}  // namespace evenhand::projections::internal
