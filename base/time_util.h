// Conversions between absl::Time and google.protobuf.Timestamp, and the UK
// time zone every date a person reads is in.
#ifndef EVENHAND_BASE_TIME_UTIL_H_
#define EVENHAND_BASE_TIME_UTIL_H_

#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"

namespace evenhand {

// Infinite times become the zero Timestamp.
google::protobuf::Timestamp ToProtoTime(absl::Time t);

absl::Time FromProtoTime(const google::protobuf::Timestamp& ts);

// Europe/London (GMT/BST), loaded once. Thread-safe.
const absl::TimeZone& UkTimeZone();

}  // namespace evenhand

#endif  // EVENHAND_BASE_TIME_UTIL_H_
