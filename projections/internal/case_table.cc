#include "projections/internal/case_table.h"

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <cstring>

namespace evenhand::projections::internal {

const Case* CaseTable::Find(absl::string_view stream_id) const {
  auto it = by_stream_.find(stream_id);
  return it == by_stream_.end() ? nullptr : *it;
}

Case* CaseTable::FindOrMake(absl::string_view stream_id, bool* made) {
  *made = false;
  // One look-up whether it is there or not (a start makes every case).
  auto it = by_stream_.lazy_emplace(stream_id, [&](const auto& construct) {
    *made = true;
    construct(Make(stream_id));
  });
  return *it;
}

Case* CaseTable::Make(absl::string_view stream_id) {
  if (cases_in_last_block_ == kCasesPerBlock) {
    case_blocks_.push_back(std::make_unique<Case[]>(kCasesPerBlock));
    cases_in_last_block_ = 0;
  }
  Case* c = &case_blocks_.back()[cases_in_last_block_++];
  // A stream id is at most storage's kMaxStreamIdBytes (200), its prefix
  // at most 10: both fit.
  assert(stream_id.size() <= UINT32_MAX);
  const absl::string_view stream = Keep(stream_id);
  c->stream_chars = stream.data();
  c->stream_size = static_cast<uint32_t>(stream.size());
  absl::string_view id;
  c->kind = KindOfStream(stream, &id);
  assert(id.data() - stream.data() <= UINT8_MAX);
  c->id_offset = static_cast<uint8_t>(id.data() - stream.data());
  return c;
}

absl::string_view CaseTable::Keep(absl::string_view s) {
  if (s.size() > name_room_) {
    // The rest of the block is left: streams are short, so little is.
    const size_t size = std::max(kNameBlockBytes, s.size());
    name_blocks_.push_back(std::make_unique<char[]>(size));
    name_bytes_ += size;
    name_next_ = name_blocks_.back().get();
    name_room_ = size;
  }
  if (!s.empty()) std::memcpy(name_next_, s.data(), s.size());
  absl::string_view kept(name_next_, s.size());
  name_next_ += s.size();
  name_room_ -= s.size();
  return kept;
}

void CaseTable::Clear() {
  by_stream_ = {};
  case_blocks_.clear();
  cases_in_last_block_ = kCasesPerBlock;
  name_blocks_.clear();
  name_bytes_ = 0;
  name_room_ = 0;
  name_next_ = nullptr;
}

size_t CaseTable::bytes() const {
  return case_blocks_.size() * kCasesPerBlock * sizeof(Case) + name_bytes_ +
         by_stream_.capacity() * (sizeof(Case*) + 1);
}

}  // namespace evenhand::projections::internal
