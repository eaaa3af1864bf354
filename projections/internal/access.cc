// The report's "who read the log" section: the server's access records
// (AccessRecorded, one stream per principal) in the period, as the log
// stood at the report's position, summed per principal and method.
//
// Issue 10: every read by the committee, auditors and groups, and every
// refusal, is on the record; the committee sees them beside the findings.
// As the log stands, the findings index's running totals (access_figures.h).
#include "projections/internal/access_figures.h"
#include "projections/internal/day_nanos.h"
#include "projections/internal/group_figures.h"
#include "projections/internal/report_builder.h"

namespace evenhand::projections::internal {

void AddAccessSummary(const ReportBuilder& b, v1::FairnessReport* report) {
  AccessRows rows;
  if (const AccessFigures* figures = b.access_figures()) {
    // As the log stands: the index's running totals.
    const FigureWindow w = FigureWindow::Of(b.query());
    figures->Sum(b, w.from, w.end, &rows);
  } else {
    const int64_t from = ClampToNanos(b.query().from);
    const int64_t to = ClampToNanos(b.query().to);
    for (const Case* c : b.indexes().access) {
      // A principal's reads of a day (Case::first_nanos and last_nanos span
      // every version of them): none in the period, none read back.
      if (c->last_nanos < from || c->first_nanos >= to) continue;
      for (const Seen& seen : b.View(*c)) {
        if (!seen.payload->has_access_recorded() || !b.InPeriod(seen.at)) continue;
        const v1::AccessRecorded& a = seen.payload->access_recorded();
        rows[{a.principal(), a.method()}].Add(a, ClampToNanos(seen.at), seen.position);
      }
    }
  }
  for (const auto& [key, totals] : rows) {
    *report->add_access() = totals.Summary(key.first, key.second);
  }
}

}  // namespace evenhand::projections::internal
