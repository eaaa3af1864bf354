#include "projections/internal/access_figures.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "base/time_util.h"
#include "projections/internal/day_nanos.h"

namespace evenhand::projections::internal {
void AccessTotals::Add(const v1::AccessRecorded& a, int64_t at_nanos, uint64_t position) {
  if (absl::StartsWith(a.outcome(), "denied")) {
    denied += static_cast<uint32_t>(1 + a.refusals_not_recorded());
  } else if (a.outcome() != "completed" && a.outcome() != "cancelled") {
    // "allowed" (a unary read) or "opened" (a stream read starting);
    // "completed" (or "cancelled", the client ended it first) adds the
    // events a stream returned to the same read.
    ++reads;
  }
  events_returned += a.events_returned();
  if (position < first_position) {
    first_position = position;
    first_at = at_nanos;
  }
  if (!any || position > last_position) {
    last_position = position;
    last_at = at_nanos;
    last_roles = a.roles();
  }
  any = true;
}

void AccessTotals::Merge(const AccessTotals& o) {
  if (!o.any) return;
  reads += o.reads;
  denied += o.denied;
  events_returned += o.events_returned;
  if (o.first_position < first_position) {
    first_position = o.first_position;
    first_at = o.first_at;
  }
  if (!any || o.last_position > last_position) {
    last_position = o.last_position;
    last_at = o.last_at;
    last_roles = o.last_roles;
  }
  any = true;
}

v1::AccessSummary AccessTotals::Summary(const std::string& principal,
                                        const std::string& method) const {
  v1::AccessSummary row;
  row.set_principal(principal);
  row.set_method(method);
  *row.mutable_roles() = last_roles;
  row.set_reads(reads);
  row.set_denied(denied);
  row.set_events_returned(events_returned);
  *row.mutable_first_at() = ToProtoTime(absl::FromUnixNanos(first_at));
  *row.mutable_last_at() = ToProtoTime(absl::FromUnixNanos(last_at));
  row.set_last_position(last_position);
  return row;
}

void AccessFigures::Rebuild(const ReportBuilder& b, const std::vector<const Case*>& access) {
  days_.clear();
  for (const Case* c : access) {
    for (const Seen& s : b.View(*c)) Add(*c, s);
    // Read one at a time: a principal's reads, day by day, may be far more
    // than the cache holds.
    b.ReleaseBodies();
  }
}

void AccessFigures::Add(const Case& c, const Seen& seen) {
  if (!seen.payload->has_access_recorded()) return;
  const v1::AccessRecorded& a = seen.payload->access_recorded();
  const int64_t at = ClampToNanos(seen.at);
  Day& day = days_[DayOf(at)];
  day.totals[{a.principal(), a.method()}].Add(a, at, seen.position);
  day.earliest = std::min(day.earliest, at);
  day.latest = std::max(day.latest, at);
  if (std::find(day.cases.begin(), day.cases.end(), &c) == day.cases.end()) {
    day.cases.push_back(&c);
  }
}

void AccessFigures::Sum(const ReportBuilder& b, int64_t from, int64_t end,
                        AccessRows* rows) const {
  // The records of [lo, hi), within a day or two, read from their cases
  // (unless that is all of the day's).
  auto one_by_one = [&](int64_t lo, int64_t hi) {
    if (lo >= hi) return;
    const int64_t last_day = DayOf(hi - 1);
    for (auto it = days_.lower_bound(DayOf(lo)); it != days_.end() && it->first <= last_day;
         ++it) {
      if (lo <= it->second.earliest && it->second.latest < hi) {
        for (const auto& [key, totals] : it->second.totals) (*rows)[key].Merge(totals);
        continue;
      }
      for (const Case* c : it->second.cases) {
        for (const Seen& seen : b.View(*c)) {
          if (!seen.payload->has_access_recorded()) continue;
          const int64_t at = ClampToNanos(seen.at);
          if (at < lo || at >= hi || DayOf(at) != it->first) continue;
          const v1::AccessRecorded& a = seen.payload->access_recorded();
          (*rows)[{a.principal(), a.method()}].Add(a, at, seen.position);
        }
      }
    }
  };
  SplitByDay(from, end, one_by_one, [&](int64_t first_day, int64_t end_day) {
    for (auto it = days_.lower_bound(first_day); it != days_.end() && it->first < end_day; ++it) {
      for (const auto& [key, totals] : it->second.totals) (*rows)[key].Merge(totals);
    }
  });
}

}  // namespace evenhand::projections::internal
