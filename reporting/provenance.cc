#include "reporting/provenance.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "base/time_util.h"
#include "integrity/canonical.h"
#include "integrity/merkle.h"
#include "reporting/report_render.h"
#include "reporting/rule_set.h"

namespace evenhand::reporting {

v1::ReportProvenance MakeProvenance(const std::string& log_id, uint64_t tree_size,
                                    const std::string& root_hash, const std::string& key_id,
                                    const projections::FairnessSettings& settings,
                                    const projections::WorkingDayCalendar& calendar) {
  v1::ReportProvenance p;
  p.set_log_id(log_id);
  p.set_tree_size(tree_size);
  p.set_root_hash(root_hash);
  p.set_key_id(key_id);
  p.set_rule_set_version(RuleSetVersion(settings, calendar));
  p.set_calendar_years(CalendarYears(calendar));
  p.set_layout(kLayoutVersion);
  return p;
}

absl::Status FillEvidence(v1::FairnessReport& report, const ReadEvents& read) {
  // The evidence in position order (as the report lists it, but not
  // assumed), each position read once.
  std::vector<v1::EvidenceEvent*> by_position;
  by_position.reserve(report.evidence_size());
  for (v1::EvidenceEvent& e : *report.mutable_evidence()) by_position.push_back(&e);
  std::stable_sort(by_position.begin(), by_position.end(),
                   [](const v1::EvidenceEvent* a, const v1::EvidenceEvent* b) {
                     return a->position() < b->position();
                   });
  std::vector<uint64_t> positions;
  positions.reserve(by_position.size());
  for (const v1::EvidenceEvent* e : by_position) {
    if (positions.empty() || positions.back() != e->position()) positions.push_back(e->position());
  }
  // The k-th event read is the one at positions[k].
  size_t visited = 0, next = 0;
  EH_RETURN_IF_ERROR(read(positions, [&](const v1::RecordedEvent& event) {
    if (visited >= positions.size()) return;
    const uint64_t position = positions[visited++];
    for (; next < by_position.size() && by_position[next]->position() == position; ++next) {
      v1::EvidenceEvent& e = *by_position[next];
      e.set_stream_id(event.event().stream_id());
      e.set_type(event.event().type());
      // Not its event id (layout 5): SECURITY.md, "No event ids in
      // reports".
      *e.mutable_occurred_at() = event.event().occurred_at();
      *e.mutable_recorded_at() = event.event().recorded_at();
      e.set_source_system(event.event().source_system());
    }
  }));
  if (visited != positions.size()) {
    return absl::InternalError(absl::StrCat("the report cites ", positions.size(),
                                            " events and only ", visited, " were read"));
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::FairnessReport> ReportFromEvents(
    const std::vector<v1::RecordedEvent>& events, const projections::ReportQuery& query,
    const projections::FairnessSettings& settings,
    const projections::WorkingDayCalendar& calendar, const std::string& log_id,
    const std::string& key_id) {
  if (query.as_of_position > events.size()) {
    return absl::OutOfRangeError(absl::StrCat("as of position ", query.as_of_position,
                                              ": the log given ends at position ",
                                              events.size()));
  }
  projections::FairnessProjection projection;
  integrity::CompactRange tree;
  for (const v1::RecordedEvent& event : events) {
    if (event.position() != tree.size() + 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the log given is not whole: position ", tree.size() + 1, " is followed by ",
          event.position()));
    }
    if (event.position() > query.as_of_position) break;
    EH_ASSIGN_OR_RETURN(std::string canonical, integrity::CanonicalRecord(event));
    tree.Append(integrity::LeafHash(canonical), [](int, uint64_t, const std::string&) {});
    projection.Apply(event);
  }
  v1::FairnessReport report = projection.Report(query, settings, calendar);
  EH_RETURN_IF_ERROR(FillEvidence(
      report, [&](const std::vector<uint64_t>& positions,
                  const std::function<void(const v1::RecordedEvent&)>& visit) -> absl::Status {
        for (uint64_t position : positions) {
          if (position == 0 || position > events.size()) {
            return absl::NotFoundError(absl::StrCat("no event at position ", position));
          }
          visit(events[position - 1]);
        }
        return absl::OkStatus();
      }));
  *report.mutable_provenance() = MakeProvenance(
      log_id, query.as_of_position,
      query.as_of_position == 0 ? integrity::EmptyTreeRoot() : tree.Root(), key_id, settings,
      calendar);
  return report;
}

uint64_t PositionAtTime(const std::vector<v1::RecordedEvent>& events, absl::Time t) {
  uint64_t lo = 0, hi = events.size();  // answer in [lo, hi]
  while (lo < hi) {
    const uint64_t mid = lo + (hi - lo + 1) / 2;
    if (FromProtoTime(events[mid - 1].event().recorded_at()) <= t) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return lo;
}

}  // namespace evenhand::reporting
