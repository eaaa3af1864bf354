// Key encodings of the log's column families. Internal to storage/.
//
//   events     BE64(position)                       -> RecordedEvent bytes
//   streams    stream_id 0x00 BE64(revision)         -> BE64(position)
//   event_ids  16-byte UUID                          -> BE64(position)
//   meta       ascii name                            -> value
//
// Big-endian integers sort numerically under RocksDB's bytewise comparator.
// Stream ids never contain 0x00, so "s" 0x00 is a unique prefix of stream s.
#ifndef EVENHAND_STORAGE_INTERNAL_KEYS_H_
#define EVENHAND_STORAGE_INTERNAL_KEYS_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace evenhand::storage::internal {

inline void PutBigEndian64(std::string* out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(v >> shift));
}

inline std::string BigEndian64(uint64_t v) {
  std::string s;
  s.reserve(8);
  PutBigEndian64(&s, v);
  return s;
}

// Requires data.size() >= 8.
inline uint64_t ReadBigEndian64(std::string_view data) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | static_cast<uint8_t>(data[i]);
  return v;
}

inline std::string StreamPrefix(std::string_view stream_id) {
  std::string key(stream_id);
  key.push_back('\0');
  return key;
}

inline std::string StreamKey(std::string_view stream_id, uint64_t revision) {
  std::string key = StreamPrefix(stream_id);
  PutBigEndian64(&key, revision);
  return key;
}

}  // namespace evenhand::storage::internal

#endif  // EVENHAND_STORAGE_INTERNAL_KEYS_H_
