// FindingsIndex::Collect (projections/internal/findings_index.h): a
// report's findings and obligations read from the index, as of its
// position and moment.
#include "base/status_macros.h"
#include "projections/internal/day_nanos.h"
#include "projections/internal/findings_index.h"

namespace evenhand::projections::internal {

absl::Status FindingsIndex::Collect(const ReportQuery& q, ReportBuilder* builder) const {
  const uint64_t p = q.as_of_position;
  auto alive = [p](uint64_t appeared, uint64_t withdrawn) {
    return appeared <= p && p < withdrawn;
  };
  const int64_t from = ClampToNanos(q.from);
  const int64_t to = ClampToNanos(q.to);  // exclusive
  const int64_t as_of = ClampToNanos(q.as_of_time);
  // Findings dated in [from, to) and not after the as-of time; obligations
  // due in [from, to) and still open, so due after the as-of time.
  const int64_t findings_to = as_of == INT64_MAX ? to : std::min(to, as_of + 1);
  const int64_t open_from = as_of == INT64_MAX ? INT64_MAX : std::max(from, as_of + 1);
  // A report keeping no obligation (its tables, its findings) reads none.
  const bool obligations_kept =
      q.keep == ReportQuery::Keep::kEverything || q.keep == ReportQuery::Keep::kObligations;
  for (const bool obligations : {false, true}) {
    if (obligations && !obligations_kept) continue;
    const int64_t lo = obligations ? open_from : from;
    const int64_t hi = obligations ? to : findings_to;
    if (lo >= hi) continue;
    const auto& held = obligations ? pending_obligations_ : pending_findings_;
    // A report given up (its budget spent) stops where it is.
    for (auto it = held.lower_bound(lo); it != held.end() && it->first < hi && !builder->given_up();
         ++it) {
      const Entry& e = pending_.at(it->second);
      if (!e.deleted && alive(e.appeared, e.withdrawn)) builder->AddDecided(e.decided);
    }
    if (stored_ == nullptr || builder->given_up()) continue;
    auto visit = [&](const state::FindingEntryRecord& r) {
      // The copy held (not checkpointed yet, or withdrawn since) wins.
      if (pending_.contains(r.id()) ||
          !alive(r.appeared(), r.withdrawn() == 0 ? UINT64_MAX : r.withdrawn())) {
        return builder->KeepGoing();
      }
      builder->AddDecided(r);
      return !builder->given_up();
    };
    EH_RETURN_IF_ERROR(stored_->Scan(obligations, /*withdrawn=*/false, lo, hi, p, visit));
    // As of the last position, nothing withdrawn was alive.
    if (p < last_position_ && !builder->given_up()) {
      EH_RETURN_IF_ERROR(stored_->Scan(obligations, /*withdrawn=*/true, lo, hi, p, visit));
    }
  }
  return absl::OkStatus();
}

}  // namespace evenhand::projections::internal
