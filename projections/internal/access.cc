// The report's "who read the log" section: the server's access records
// (AccessRecorded, one stream per principal) in the period, as the log
// stood at the report's position, summed per principal and method.
//
// Issue 10: every read by the committee, auditors and groups, and every
// refusal, is on the record; the committee sees them beside the findings.
#include <map>
#include <string>
#include <tuple>

#include "absl/strings/match.h"
#include "base/time_util.h"
#include "projections/internal/report_builder.h"

namespace evenhand::projections::internal {

void AddAccessSummary(const ReportBuilder& b, v1::FairnessReport* report) {
  std::map<std::pair<std::string, std::string>, v1::AccessSummary> rows;
  for (const Case* c : b.indexes().access) {
    for (const Seen& seen : b.View(*c)) {
      if (!seen.payload->has_access_recorded() || !b.InPeriod(seen.at)) continue;
      const v1::AccessRecorded& a = seen.payload->access_recorded();
      v1::AccessSummary& row = rows[{a.principal(), a.method()}];
      if (row.principal().empty()) {
        row.set_principal(a.principal());
        row.set_method(a.method());
        *row.mutable_first_at() = ToProtoTime(seen.at);
      }
      row.mutable_roles()->CopyFrom(a.roles());
      if (absl::StartsWith(a.outcome(), "denied")) {
        row.set_denied(row.denied() + 1);
      } else if (a.outcome() != "completed") {
        // "allowed" (a unary read) or "opened" (a stream read starting);
        // "completed" adds the events a stream returned to the same read.
        row.set_reads(row.reads() + 1);
      }
      row.set_events_returned(row.events_returned() + a.events_returned());
      *row.mutable_last_at() = ToProtoTime(seen.at);
      row.set_last_position(seen.position);
    }
  }
  for (auto& [key, row] : rows) *report->add_access() = std::move(row);
}

}  // namespace evenhand::projections::internal
