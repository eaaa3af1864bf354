#include "projections/internal/bounded_readers.h"

#include <algorithm>

#include "absl/hash/hash.h"

namespace evenhand::projections::internal {

// The header's chance of a shared hash is a 64-bit hash's.
static_assert(sizeof(size_t) == sizeof(uint64_t), "absl::Hash gives 64 bits on 64-bit builds");

uint64_t BoundedReaders::Key(absl::string_view name) {
  return static_cast<uint64_t>(absl::Hash<absl::string_view>{}(name));
}

void BoundedReaders::Add(absl::string_view name, const Case* reader, int64_t until) {
  Readers& r = by_name_[Key(name)];
  if (r.many != nullptr) {
    auto [it, added] = r.many->try_emplace(reader, until);
    if (!added) it->second = std::max(it->second, until);
    return;
  }
  for (auto& [who, when] : r.few) {
    if (who == reader) {
      when = std::max(when, until);
      return;
    }
  }
  if (r.few.size() < kInPlace) {
    r.few.emplace_back(reader, until);
    return;
  }
  r.many = std::make_unique<absl::flat_hash_map<const Case*, int64_t>>(r.few.begin(), r.few.end());
  r.many->emplace(reader, until);
  r.few.clear();
  r.few.shrink_to_fit();
}

bool BoundedReaders::Remove(absl::string_view name, const Case* reader) {
  auto it = by_name_.find(Key(name));
  if (it == by_name_.end()) return false;
  Readers& r = it->second;
  bool removed = false;
  if (r.many != nullptr) {
    removed = r.many->erase(reader) > 0;
    if (r.many->empty()) by_name_.erase(it);
    return removed;
  }
  for (size_t i = 0; i < r.few.size(); ++i) {
    if (r.few[i].first == reader) {
      r.few[i] = r.few.back();
      r.few.pop_back();
      removed = true;
      break;
    }
  }
  if (r.few.empty()) by_name_.erase(it);
  return removed;
}

void BoundedReaders::ReadersFrom(absl::string_view name, int64_t instant,
                                 std::vector<const Case*>* out) const {
  auto it = by_name_.find(Key(name));
  if (it == by_name_.end()) return;
  const Readers& r = it->second;
  if (r.many != nullptr) {
    for (const auto& [reader, until] : *r.many) {
      if (until >= instant) out->push_back(reader);
    }
    return;
  }
  for (const auto& [reader, until] : r.few) {
    if (until >= instant) out->push_back(reader);
  }
}

}  // namespace evenhand::projections::internal
