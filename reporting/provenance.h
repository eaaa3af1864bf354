// What a report is computed from, filled in the same way by the server and
// by `evenhand report --offline`, so that the two render the same bytes.
//
// Pure functions; thread-safe.
#ifndef EVENHAND_REPORTING_PROVENANCE_H_
#define EVENHAND_REPORTING_PROVENANCE_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "evenhand/v1/events.pb.h"
#include "evenhand/v1/fairness.pb.h"
#include "projections/fairness_projection.h"
#include "projections/working_day_calendar.h"

namespace evenhand::reporting {

// The provenance of a report that read the first `tree_size` events of log
// `log_id` (Merkle root `root_hash`), signed by key `key_id`.
v1::ReportProvenance MakeProvenance(const std::string& log_id, uint64_t tree_size,
                                    const std::string& root_hash, const std::string& key_id,
                                    const projections::FairnessSettings& settings,
                                    const projections::WorkingDayCalendar& calendar);

// Reads the events at `positions` (ascending, each in the log), calling
// `visit` with each in that order: the k-th call is the event at
// positions[k].
using ReadEvents = std::function<absl::Status(
    const std::vector<uint64_t>& positions,
    const std::function<void(const v1::RecordedEvent&)>& visit)>;

// Fills each evidence event's envelope (stream, type, id, times, source)
// from the log, read through `read` all at once.
absl::Status FillEvidence(v1::FairnessReport& report, const ReadEvents& read);

// The report of `events` (the log's events from position 1, in order, as
// many as `query.as_of_position` at least) for `query`, with its evidence
// and provenance: what the server answers for the same log and question.
absl::StatusOr<v1::FairnessReport> ReportFromEvents(
    const std::vector<v1::RecordedEvent>& events, const projections::ReportQuery& query,
    const projections::FairnessSettings& settings,
    const projections::WorkingDayCalendar& calendar, const std::string& log_id,
    const std::string& key_id);

// The last position recorded at or before `t` (0: none), as the server's
// store answers it.
uint64_t PositionAtTime(const std::vector<v1::RecordedEvent>& events, absl::Time t);

}  // namespace evenhand::reporting

#endif  // EVENHAND_REPORTING_PROVENANCE_H_
