// Renders a FairnessReport for the standards committee: one self-contained
// HTML page (inline CSS and SVG charts, no scripts, no external resources)
// that a clerk can attach to committee papers; or CSV and JSON for analysis.
//
// Every form states where the report comes from (its provenance: the log,
// the tree it read, the rule set, the layout) when the report carries it. The output is
// a function of the report alone, byte for byte: a report recomputed offline
// renders to the same bytes as the server's (reporting/report_document.h).
//
// Pure functions; thread-safe.
#ifndef EVENHAND_REPORTING_REPORT_RENDER_H_
#define EVENHAND_REPORTING_REPORT_RENDER_H_

#include <cstdint>
#include <functional>
#include <string>

#include "evenhand/v1/fairness.pb.h"

namespace evenhand::reporting {

// The layout the functions below render: any change to the bytes of any
// form, for any report, takes the next number (report_render_test pins
// each form's bytes of a sample report under its layout, and says so when
// they change). A report states its layout (ReportProvenance.layout), so a
// verifier that cannot recompute a signed report of another layout byte
// for byte says why instead of calling it altered. 1: the layouts before
// they were numbered (to 2026-12-05), which do not state it. 3: the page
// says by when the obligations it lists fall due (the period asked for may
// end after the report's moment), and the JSON carries
// obligations_due_before. 4: the page names a period's bounds asked for as
// times by their times (UK time, to the second, with the zone), not as the
// days holding them; the CSV comment line says a period not begun, the end
// asked for, and its moments to the nanosecond. 5: the evidence carries no
// event id (random, it was the one part of a cited event a reader of
// reports could not guess, and with it the log's hashes let it check
// guesses at a value withheld from it: outside probe), and the page says a
// period not begun is not begun instead of "no rule ... found broken", and
// its evidence's times with their zone (GMT or BST).
inline constexpr uint32_t kLayoutVersion = 5;

// The layout `content` (a form of a report, as rendered, in `format`)
// states: JSON's provenance.layout; the page's, in its provenance
// paragraph ("..., layout N. The file is signed"); a CSV form's, at the end
// of its last line ("# evenhand report: ..., layout N"). Anchored there, so
// that no council's data elsewhere in the content (a group named ", layout
// 2") is taken for it. 1 for content that states none (made before
// layouts were numbered); 0 for JSON that does not parse as a report.
// Only meaningful for content whose signature verified.
uint32_t LayoutOf(const std::string& content, v1::ReportFormat format);

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
// The same, asking `keep_going` before each element of the report's lists
// (findings, evidence, obligations, ...): once it says false, the JSON is
// given up and "" returned (its caller no longer waits).
std::string RenderReportJson(const v1::FairnessReport& report,
                             const std::function<bool()>& keep_going);

}  // namespace evenhand::reporting

#endif  // EVENHAND_REPORTING_REPORT_RENDER_H_
