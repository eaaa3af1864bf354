// Renders a FairnessReport for the standards committee: one self-contained
// HTML page (inline CSS and SVG charts, no scripts, no external resources)
// that a clerk can attach to committee papers; or CSV and JSON for analysis.
//
// Every form states where the report comes from (its provenance: the log,
// the tree it read, the rule set) when the report carries it. The output is
// a function of the report alone, byte for byte: a report recomputed offline
// renders to the same bytes as the server's (reporting/report_document.h).
//
// Pure functions; thread-safe.
#ifndef EVENHAND_REPORTING_REPORT_RENDER_H_
#define EVENHAND_REPORTING_REPORT_RENDER_H_

#include <string>

#include "evenhand/v1/fairness.pb.h"

namespace evenhand::reporting {

// The committee's page.
std::string RenderReportHtml(const v1::FairnessReport& report);

// One row per political group: the metrics of the report's table.
std::string RenderGroupsCsv(const v1::FairnessReport& report);

// One row per finding, with its citation and evidence positions.
std::string RenderFindingsCsv(const v1::FairnessReport& report);

// One row per principal and method: who read the log in the period.
std::string RenderAccessCsv(const v1::FairnessReport& report);

// The whole report in protobuf's JSON mapping, indented.
std::string RenderReportJson(const v1::FairnessReport& report);

}  // namespace evenhand::reporting

#endif  // EVENHAND_REPORTING_REPORT_RENDER_H_
