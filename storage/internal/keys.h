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

#include "base/big_endian.h"
#include "storage/event_store.h"

namespace evenhand::storage::internal {

using ::evenhand::storage::PeekEnvelope;

using ::evenhand::BigEndian64;
using ::evenhand::PutBigEndian64;
using ::evenhand::ReadBigEndian64;

// The meta column family's key of the log's id.
inline constexpr char kLogIdKey[] = "log_id";

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
