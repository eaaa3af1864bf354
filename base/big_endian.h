// Big-endian integers for RocksDB keys: they sort numerically under the
// bytewise comparator.
#ifndef EVENHAND_BASE_BIG_ENDIAN_H_
#define EVENHAND_BASE_BIG_ENDIAN_H_

#include <cstdint>
#include <string>

#include <string_view>

namespace evenhand {

inline void PutBigEndian64(std::string* out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(v >> shift));
}

inline std::string BigEndian64(uint64_t v) {
  std::string s;
  s.reserve(8);
  PutBigEndian64(&s, v);
  return s;
}

// Reads the first 8 bytes (fewer if `data` is shorter).
inline uint64_t ReadBigEndian64(std::string_view data) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8 && i < data.size(); ++i) v = v << 8 | static_cast<uint8_t>(data[i]);
  return v;
}

}  // namespace evenhand

#endif  // EVENHAND_BASE_BIG_ENDIAN_H_
