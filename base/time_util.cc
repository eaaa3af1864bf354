#include "base/time_util.h"

namespace evenhand {

google::protobuf::Timestamp ToProtoTime(absl::Time t) {
  google::protobuf::Timestamp ts;
  if (t == absl::InfinitePast() || t == absl::InfiniteFuture()) return ts;
  const int64_t nanos = absl::ToUnixNanos(t);
  int64_t seconds = nanos / 1000000000;
  int32_t rest = static_cast<int32_t>(nanos % 1000000000);
  if (rest < 0) {
    seconds -= 1;
    rest += 1000000000;
  }
  ts.set_seconds(seconds);
  ts.set_nanos(rest);
  return ts;
}

absl::Time FromProtoTime(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

const absl::TimeZone& UkTimeZone() {
  static const absl::TimeZone* tz = [] {
    auto* z = new absl::TimeZone;
    // Without tzdata this stays UTC, which is GMT for half the year; the
    // server refuses to start in that case (WorkingDayCalendar), clients
    // just print UTC.
    absl::LoadTimeZone("Europe/London", z);
    return z;
  }();
  return *tz;
}

}  // namespace evenhand
