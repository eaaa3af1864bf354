#include "projections/internal/access_figures.h"

#include "absl/strings/match.h"
#include "base/time_util.h"
#include "projections/internal/day_nanos.h"

namespace evenhand::projections::internal {
void AccessTotals::Add(const v1::AccessRecorded& a, int64_t at_nanos, uint64_t position) {
  if (absl::StartsWith(a.outcome(), "denied")) {
    ++denied;
  } else if (a.outcome() != "completed") {
    // "allowed" (a unary read) or "opened" (a stream read starting);
    // "completed" adds the events a stream returned to the same read.
    ++reads;
  }
  events_returned += a.events_returned();
  if (position < first_position) {
    first_position = position;
    first_at = at_nanos;
  }
  if (last == nullptr || position > last_position) {
    last_position = position;
    last_at = at_nanos;
    last = &a;
  }
}

void AccessTotals::Merge(const AccessTotals& o) {
  if (o.last == nullptr) return;
  reads += o.reads;
  denied += o.denied;
  events_returned += o.events_returned;
  if (o.first_position < first_position) {
    first_position = o.first_position;
    first_at = o.first_at;
  }
  if (last == nullptr || o.last_position > last_position) {
    last_position = o.last_position;
    last_at = o.last_at;
    last = o.last;
  }
}

v1::AccessSummary AccessTotals::Summary(const std::string& principal,
                                        const std::string& method) const {
  v1::AccessSummary row;
  row.set_principal(principal);
  row.set_method(method);
  if (last != nullptr) row.mutable_roles()->CopyFrom(last->roles());
  row.set_reads(reads);
  row.set_denied(denied);
  row.set_events_returned(events_returned);
  *row.mutable_first_at() = ToProtoTime(absl::FromUnixNanos(first_at));
  *row.mutable_last_at() = ToProtoTime(absl::FromUnixNanos(last_at));
  row.set_last_position(last_position);
  return row;
}

void AccessFigures::Rebuild(const ReportBuilder& b, const std::vector<const Case*>& access) {
  records_.clear();
  days_.clear();
  for (const Case* c : access) {
    for (const Seen& s : b.View(*c)) Add(s);
  }
}

void AccessFigures::Add(const Seen& seen) {
  if (!seen.payload->has_access_recorded()) return;
  const v1::AccessRecorded& a = seen.payload->access_recorded();
  const int64_t at = ClampToNanos(seen.at);
  records_.emplace(Key{at, seen.position}, &a);
  days_[DayOf(at)][{a.principal(), a.method()}].Add(a, at, seen.position);
}

void AccessFigures::Sum(int64_t from, int64_t end, AccessRows* rows) const {
  auto one_by_one = [&](int64_t lo, int64_t hi) {
    for (auto it = records_.lower_bound(Key{lo, 0}); it != records_.end() && it->first.first < hi;
         ++it) {
      const v1::AccessRecorded& a = *it->second;
      (*rows)[{a.principal(), a.method()}].Add(a, it->first.first, it->first.second);
    }
  };
  SplitByDay(from, end, one_by_one, [&](int64_t first_day, int64_t end_day) {
    for (auto it = days_.lower_bound(first_day); it != days_.end() && it->first < end_day; ++it) {
      for (const auto& [key, totals] : it->second) (*rows)[key].Merge(totals);
    }
  });
}

}  // namespace evenhand::projections::internal
