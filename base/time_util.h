// Conversions between absl::Time and google.protobuf.Timestamp, and the UK
// time zone every date a person reads is in.
#ifndef EVENHAND_BASE_TIME_UTIL_H_
#define EVENHAND_BASE_TIME_UTIL_H_

#include <cstdint>

#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"

namespace evenhand {

// Infinite times become the zero Timestamp.
google::protobuf::Timestamp ToProtoTime(absl::Time t);

absl::Time FromProtoTime(const google::protobuf::Timestamp& ts);

// The years a council's records lie in. Times are counted in 64-bit
// nanoseconds (1677 to 2262) by the rules; no council system records a fact
// from before 1900 or after 2200, so a time outside is a mistyped year or a
// value never converted to {seconds, nanos}. Requests and event payloads are
// held to this range in one place.
inline constexpr int64_t kFirstCouncilSecond = -2208988800;  // 1900-01-01T00:00:00Z
inline constexpr int64_t kEndCouncilSecond = 7258118400;     // 2200-01-01T00:00:00Z (excluded)

// True for a valid Timestamp (nanos 0 to 999,999,999) from 1900 to 2200.
inline bool InCouncilYears(const google::protobuf::Timestamp& t) {
  return t.nanos() >= 0 && t.nanos() <= 999999999 && t.seconds() >= kFirstCouncilSecond &&
         t.seconds() < kEndCouncilSecond;
}

// Europe/London (GMT/BST), loaded once. Thread-safe.
const absl::TimeZone& UkTimeZone();

}  // namespace evenhand

#endif  // EVENHAND_BASE_TIME_UTIL_H_
