// PackedNames: a short list of names (stream ids, matters) in one string,
// each as its length (a varint) then its bytes. Internal to projections/.
//
// The findings index keeps, for each of its subjects (most of a log's
// cases), the names its last decision read: usually one or two. As a
// vector of strings that is a vector's allocation and one more per name
// longer than the string's own buffer; packed, it is one (or none).
//
// What it does not know: what the names mean. Order is kept as appended.
#ifndef EVENHAND_PROJECTIONS_INTERNAL_PACKED_NAMES_H_
#define EVENHAND_PROJECTIONS_INTERNAL_PACKED_NAMES_H_

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace evenhand::projections::internal {

class PackedNames {
 public:
  PackedNames() = default;
  template <typename Range>
  static PackedNames Of(const Range& names) {
    PackedNames out;
    for (const auto& name : names) out.Append(name);
    return out;
  }

  void Append(absl::string_view name) {
    size_t n = name.size();
    while (n >= 0x80) {
      bytes_.push_back(static_cast<char>((n & 0x7f) | 0x80));
      n >>= 7;
    }
    bytes_.push_back(static_cast<char>(n));
    bytes_.append(name.data(), name.size());
  }

  // Calls `visit(absl::string_view)` for each name, in order.
  template <typename Visit>
  void ForEach(const Visit& visit) const {
    size_t at = 0;
    while (at < bytes_.size()) {
      size_t n = 0;
      int shift = 0;
      uint8_t b;
      do {
        b = static_cast<uint8_t>(bytes_[at++]);
        n |= static_cast<size_t>(b & 0x7f) << shift;
        shift += 7;
      } while ((b & 0x80) != 0);
      assert(at + n <= bytes_.size());  // only Append() writes bytes_
      visit(absl::string_view(bytes_.data() + at, n));
      at += n;
    }
  }

  bool empty() const { return bytes_.empty(); }
  bool operator==(const PackedNames& o) const { return bytes_ == o.bytes_; }
  bool operator!=(const PackedNames& o) const { return bytes_ != o.bytes_; }

 private:
  std::string bytes_;
};

}  // namespace evenhand::projections::internal

#endif  // EVENHAND_PROJECTIONS_INTERNAL_PACKED_NAMES_H_
