// Instants as nanoseconds since the epoch, and UTC days of them, for the
// running totals kept per day (group_figures.h, access_figures.h) and the
// findings index's ranges. Internal to projections/.
#ifndef EVENHAND_PROJECTIONS_INTERNAL_DAY_NANOS_H_
#define EVENHAND_PROJECTIONS_INTERNAL_DAY_NANOS_H_

#include <cstdint>

#include "absl/time/time.h"

namespace evenhand::projections::internal {

inline constexpr int64_t kDayNanos = 86400LL * 1000000000;

// `t` in nanoseconds, the infinities (and what lies beyond 1677-2262) at
// the ends of the range.
inline int64_t ClampToNanos(absl::Time t) {
  if (t >= absl::FromUnixNanos(INT64_MAX - 1)) return INT64_MAX;
  if (t <= absl::FromUnixNanos(INT64_MIN + 1)) return INT64_MIN;
  return absl::ToUnixNanos(t);
}

// The UTC day (days since the epoch) holding `nanos`.
inline int64_t DayOf(int64_t nanos) {
  return nanos / kDayNanos - (nanos % kDayNanos != 0 && nanos < 0 ? 1 : 0);
}

// Splits [from, end) into the whole UTC days it holds, [first_day,
// end_day), and what lies outside them at either end: calls
// `partial(lo, hi)` for each piece of a day (at most two) and
// `whole(first_day, end_day)` once if there are whole days.
template <typename Partial, typename Whole>
void SplitByDay(int64_t from, int64_t end, Partial partial, Whole whole) {
  if (from >= end) return;
  const int64_t first_day = from / kDayNanos + (from % kDayNanos != 0 && from > 0 ? 1 : 0);
  const int64_t end_day = DayOf(end);
  if (first_day >= end_day) {
    partial(from, end);
    return;
  }
  partial(from, first_day * kDayNanos);
  whole(first_day, end_day);
  partial(end_day * kDayNanos, end);
}

}  // namespace evenhand::projections::internal

#endif  // EVENHAND_PROJECTIONS_INTERNAL_DAY_NANOS_H_
