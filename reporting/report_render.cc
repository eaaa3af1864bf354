#include "reporting/report_render.h"

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "base/quoted.h"
#include "base/time_util.h"
#include "google/protobuf/field_mask.pb.h"
#include "google/protobuf/util/field_mask_util.h"
#include "google/protobuf/util/json_util.h"

namespace evenhand::reporting {
namespace {

bool IsSet(const google::protobuf::Timestamp& ts) { return ts.seconds() != 0 || ts.nanos() != 0; }

// `t` in the UK's time, as `format` says, without a leading zero ("3 Feb").
std::string UkFormat(const char* format, absl::Time t) {
  std::string s = absl::FormatTime(format, t, UkTimeZone());
  if (!s.empty() && s[0] == '0') s.erase(0, 1);
  return s;
}

std::string Day(const google::protobuf::Timestamp& ts) {
  return UkFormat("%d %b %Y", FromProtoTime(ts));
}

// The last day a period ending (exclusively) at `end` includes: a period
// "to 30 Jun" ends at the midnight that starts 1 Jul.
std::string LastDay(const google::protobuf::Timestamp& end) {
  return UkFormat("%d %b %Y", FromProtoTime(end) - absl::Nanoseconds(1));
}

std::string DayTime(const google::protobuf::Timestamp& ts) {
  return UkFormat("%d %b %Y %H:%M", FromProtoTime(ts));
}

// DayTime with the zone ("25 Oct 2026 01:30 BST"): in the hour the clocks
// go back, two events an hour apart read the same time without it (outside
// probe).
std::string DayTimeZoned(const google::protobuf::Timestamp& ts) {
  return UkFormat("%d %b %Y %H:%M %Z", FromProtoTime(ts));
}

// Whether `ts` is a midnight in the UK: a period's bound asked for as a
// day (a period asked for in times is named by its times).
bool IsUkMidnight(const google::protobuf::Timestamp& ts) {
  const absl::TimeZone::CivilInfo c = UkTimeZone().At(FromProtoTime(ts));
  return ts.nanos() == 0 && c.cs.hour() == 0 && c.cs.minute() == 0 && c.cs.second() == 0;
}

// A moment as the page names a bound asked for as a time: UK time to the
// second (or finer, as asked), with its zone.
std::string Moment(const google::protobuf::Timestamp& ts) {
  return UkFormat("%d %b %Y %H:%M:%E*S %Z", FromProtoTime(ts));
}

// A period's first moment, as the page names it.
std::string FromText(const google::protobuf::Timestamp& from) {
  return IsUkMidnight(from) ? Day(from) : Moment(from);
}

// A period's end (exclusive), as the page names it: its last day,
// included, if it ends at a midnight; else the moment, excluded.
std::string EndText(const google::protobuf::Timestamp& end) {
  return IsUkMidnight(end) ? absl::StrCat(LastDay(end), " (included)")
                           : absl::StrCat(Moment(end), " (excluded)");
}

// An obligation's due moment under "Due by the end of": the day it ends,
// or, due during a day (a promise broken as it is given is due at the
// moment it is dated), that moment: the day's end would be later than it
// is due (found from outside).
std::string DueByText(const google::protobuf::Timestamp& due) {
  return IsUkMidnight(due) ? LastDay(due)
                           : absl::StrCat(DayTimeZoned(due), " (that moment, not the day's end)");
}

std::string Iso(const google::protobuf::Timestamp& ts) {
  return IsSet(ts) ? absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", FromProtoTime(ts), absl::UTCTimeZone())
                   : "";
}

// The same, to the nanosecond where the moment has a fraction (a moment
// stated to the second that is not the report's would answer another
// question when asked again: outside probe).
std::string IsoFine(const google::protobuf::Timestamp& ts) {
  return IsSet(ts)
             ? absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", FromProtoTime(ts), absl::UTCTimeZone())
             : "";
}

// Text for the page, escaped for HTML. Text from council systems may hold
// anything: control characters, bytes that are not UTF-8, and the marks and
// overrides that reorder what a reader sees (one in an officer's name would
// show the rest of a finding's explanation mirrored) are shown as \xNN and
// \uNNNN escapes, as the command line's tables show them (base/quoted.h).
std::string Html(absl::string_view text) {
  return absl::StrReplaceAll(
      Printable(text, /*keep_newlines=*/true),
      {{"&", "&amp;"}, {"<", "&lt;"}, {">", "&gt;"}, {"\"", "&quot;"}, {"'", "&#39;"}});
}

// Text for a table's cell: Html(), with a place to break the line after
// every 32 characters of a run without a space, so that a name of 64 KiB
// wraps in its cell rather than stretching its column off the page (a
// table sizes columns to their longest unbreakable run).
std::string HtmlCell(absl::string_view text) {
  constexpr int kRun = 32;
  const std::string escaped = Html(text);
  std::string out;
  out.reserve(escaped.size() + escaped.size() / kRun * 5);
  int run = 0;
  for (size_t i = 0; i < escaped.size(); ++i) {
    const char c = escaped[i];
    // (Printable() has written tabs and CRs as escapes already.)
    if (c == ' ' || c == '\n') {
      run = 0;
      out += c;
      continue;
    }
    if ((static_cast<unsigned char>(c) & 0xc0) == 0x80) {  // within a character
      out += c;
      continue;
    }
    if (run == kRun) {
      out += "<wbr>";
      run = 0;
    }
    ++run;
    const size_t end = c == '&' ? escaped.find(';', i) : std::string::npos;
    if (end != std::string::npos) {  // an entity: one character
      out.append(escaped, i, end - i + 1);
      i = end;
    } else {
      out += c;
    }
  }
  return out;
}

// Links to the evidence table's rows of the events at `positions`.
std::string EvidenceLinks(const google::protobuf::RepeatedField<uint64_t>& positions) {
  std::vector<std::string> links;
  for (uint64_t p : positions)
    links.push_back(absl::StrFormat("<a href=\"#event-%d\">#%d</a>", p, p));
  return absl::StrJoin(links, " ");
}

// A text cell of the CSV forms (RFC 4180, with two defences for who opens
// them). Text comes from council systems, so a name may be anything:
// - a cell a spreadsheet would take for a formula (OWASP's "CSV injection":
//   one starting = + - @ tab or CR, as "=HYPERLINK(...)" or an identifier
//   "-1+2") is written with an apostrophe before it, which spreadsheets show
//   as text. A cell that starts with an apostrophe gets one more, so a reader
//   recovers every value by dropping one leading apostrophe (docs/FAIRNESS.md);
// - a cell holding # is quoted, so that no row starts with one and a reader
//   told to skip '#' lines (the provenance line's) keeps every row.
// Cells holding a comma, quote, newline or CR are quoted, quotes doubled.
std::string Csv(absl::string_view text) {
  const bool formula = !text.empty() && absl::string_view("=+-@\t\r'").find(text[0]) !=
                                            absl::string_view::npos;
  const std::string cell = formula ? absl::StrCat("'", text) : std::string(text);
  if (!formula && cell.find_first_of(",\"\n\r#") == std::string::npos) return cell;
  return absl::StrCat("\"", absl::StrReplaceAll(cell, {{"\"", "\"\""}}), "\"");
}

const char* SeverityName(v1::Severity s) {
  switch (s) {
    case v1::HIGH:
      return "HIGH";
    case v1::MEDIUM:
      return "MEDIUM";
    case v1::LOW:
      return "LOW";
    case v1::INFO:
      return "INFO";
    default:
      return "-";
  }
}

// The number after `marker` at `at` in `text`, if digits follow, ending
// where `end` begins (or the text ends).
std::optional<uint32_t> NumberAfter(absl::string_view text, size_t at, absl::string_view marker,
                                    absl::string_view end) {
  if (at == absl::string_view::npos) return std::nullopt;
  absl::string_view rest = text.substr(at + marker.size());
  size_t n = 0;
  while (n < rest.size() && absl::ascii_isdigit(rest[n])) ++n;
  uint32_t value = 0;
  if (n == 0 || !absl::StartsWith(rest.substr(n), end) ||
      !absl::SimpleAtoi(rest.substr(0, n), &value)) {
    return std::nullopt;
  }
  return value;
}

// One line for people: where the report comes from.
std::string ProvenanceText(const v1::FairnessReport& r) {
  const v1::ReportProvenance& p = r.provenance();
  return absl::StrCat("the first ", p.tree_size(), " events of log ", p.log_id(), " (Merkle root ",
                      absl::BytesToHexString(p.root_hash()), "), rule set ", p.rule_set_version(),
                      ", bank holidays ", p.calendar_years(), ", signing key ", p.key_id(),
                      ", layout ", p.layout());
}

// The CSV forms' last content line: a comment, so that a reader told to
// skip '#' lines (pandas' comment='#', R's comment.char) sees only rows.
std::string CsvProvenance(const v1::FairnessReport& r) {
  if (!r.has_provenance()) return "";
  const bool not_begun = IsSet(r.from()) && FromProtoTime(r.to()) <= FromProtoTime(r.from());
  const std::string asked_end =
      r.has_obligations_due_before()
          ? absl::StrCat("asked for to ", IsoFine(r.obligations_due_before()), " (excluded)")
          : std::string("asked for with no end");
  return absl::StrCat(
      "# evenhand report: ", absl::StrReplaceAll(r.council_name(), {{"\n", " "}, {"\r", " "}}),
      "; period ", IsSet(r.from()) ? IsoFine(r.from()) : std::string("start of log"),
      not_begun
          // Nothing read: only the obligations falling due in it.
          ? absl::StrCat(", not begun at the as-of time (", asked_end, ")")
          // A period left open ends at the report's moment, which it includes
          // (as its signed statement says); the end asked for is said too.
          : FromProtoTime(r.to()) == FromProtoTime(r.as_of_time())
                ? absl::StrCat(" to the as-of time (included; ", asked_end, ")")
                : absl::StrCat(" to ", IsoFine(r.to()), " (excluded)"),
      "; as of position ", r.as_of_position(), " at ", IsoFine(r.as_of_time()), "; computed from ",
      ProvenanceText(r), "\n");
}

std::string Percent(double fraction) { return absl::StrFormat("%.0f%%", fraction * 100); }

std::string GroupName(const v1::FairnessReport& r, const std::string& group_id) {
  if (group_id.empty()) return "-";
  for (const auto& g : r.groups()) {
    if (g.group_id() == group_id) return g.name();
  }
  return group_id;
}

// A horizontal bar chart as inline SVG: one labelled bar per group, an
// optional second value drawn as a tick (e.g. p90 over the median), and an
// optional reference line (e.g. the five-working-day limit).
struct Bar {
  std::string group_id;
  std::string label;
  double value = 0;
  std::string value_text;
  double tick = -1;  // < 0: none
};

// A group's name as a chart's label: its start, up to about what the
// label's column holds (two groups whose names end alike must not look
// alike), cut at a character's start with an ellipsis; the whole name is the
// label's title (shown on hover).
std::string ChartLabel(absl::string_view name) {
  constexpr size_t kMaxChars = 26;
  size_t chars = 0;
  for (size_t i = 0; i < name.size(); ++i) {
    if ((static_cast<unsigned char>(name[i]) & 0xc0) == 0x80) continue;  // continuation
    if (++chars > kMaxChars) return absl::StrCat(name.substr(0, i), "\u2026");
  }
  return std::string(name);
}

std::string BarChart(const std::string& id, const std::string& title, const std::string& note,
                     const std::vector<Bar>& bars, double reference = -1,
                     const std::string& reference_label = "") {
  constexpr int kLabelWidth = 190, kBarArea = 380, kRow = 30, kTop = 8, kValueWidth = 140;
  const int width = kLabelWidth + kBarArea + kValueWidth;
  const int height = kTop + kRow * static_cast<int>(bars.size()) + 26;
  double max = std::max(reference, 0.0);
  for (const Bar& b : bars) max = std::max({max, b.value, b.tick});
  if (max <= 0) max = 1;
  auto x = [&](double v) { return kLabelWidth + v / max * kBarArea; };
  std::string svg = absl::StrFormat(
      "<figure class=\"chart\"><figcaption>%s<span class=\"note\">%s</span></figcaption>"
      "<svg id=\"%s\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
      "viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"%s\">",
      Html(title), Html(note), Html(id), width, height, width, height, Html(title));
  for (size_t i = 0; i < bars.size(); ++i) {
    const Bar& b = bars[i];
    const int y = kTop + static_cast<int>(i) * kRow;
    const double w = std::max(0.0, x(b.value) - kLabelWidth);
    absl::StrAppendFormat(&svg,
                          "<text x=\"%d\" y=\"%d\" class=\"label\" text-anchor=\"end\">"
                          "<title>%s</title>%s</text>",
                          kLabelWidth - 8, y + 19, Html(b.label), Html(ChartLabel(b.label)));
    absl::StrAppendFormat(&svg,
                          "<rect class=\"bar\" data-group=\"%s\" data-value=\"%g\" x=\"%d\" "
                          "y=\"%d\" width=\"%.1f\" height=\"20\" rx=\"2\"/>",
                          Html(b.group_id), b.value, kLabelWidth, y + 4, w);
    if (b.tick >= 0) {
      absl::StrAppendFormat(&svg,
                            "<line class=\"tick\" data-group=\"%s\" data-value=\"%g\" x1=\"%.1f\" "
                            "x2=\"%.1f\" y1=\"%d\" y2=\"%d\"/>",
                            Html(b.group_id), b.tick, x(b.tick), x(b.tick), y + 1, y + 27);
    }
    // Values in a column of their own, clear of bars, ticks and the
    // reference line.
    absl::StrAppendFormat(&svg, "<text x=\"%d\" y=\"%d\" class=\"value\">%s</text>",
                          kLabelWidth + kBarArea + 8, y + 19, Html(b.value_text));
  }
  if (reference >= 0) {
    const int bottom = kTop + kRow * static_cast<int>(bars.size());
    absl::StrAppendFormat(&svg,
                          "<line class=\"reference\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\"/>"
                          "<text x=\"%.1f\" y=\"%d\" class=\"reference-label\" "
                          "text-anchor=\"middle\">%s</text>",
                          x(reference), x(reference), kTop, bottom + 4, x(reference), bottom + 18,
                          Html(reference_label));
  }
  svg += "</svg></figure>\n";
  return svg;
}

constexpr char kStyle[] = R"css(
:root { --ink:#1d2733; --muted:#5b6875; --line:#d5dbe1; --bar:#3b6e8f; --tick:#1d2733;
        --high:#a4262c; --medium:#b35c00; --low:#5b6875; --info:#2f6f4f; }
* { box-sizing: border-box; }
body { font: 15px/1.45 "Segoe UI", "Helvetica Neue", Arial, sans-serif; color: var(--ink);
       max-width: 1180px; margin: 2rem auto; padding: 0 1.5rem; }
h1 { font-size: 1.7rem; margin: 0 0 .2rem; }
h2 { font-size: 1.25rem; margin: 2.2rem 0 .6rem; border-bottom: 2px solid var(--ink);
     padding-bottom: .2rem; }
.meta { color: var(--muted); margin: 0 0 1rem; }
.summary { display: flex; gap: 1rem; flex-wrap: wrap; margin: 1rem 0; }
.summary div { border: 1px solid var(--line); border-radius: 4px; padding: .5rem .9rem;
               min-width: 8rem; }
.summary strong { display: block; font-size: 1.5rem; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0; font-size: .85rem; }
th, td { border-bottom: 1px solid var(--line); padding: .3rem .35rem; text-align: right;
         vertical-align: top; }
#groups th { font-size: .78rem; }
th { background: #f1f4f7; font-weight: 600; }
th:first-child, td:first-child, td.text, th.text { text-align: left; }
body { overflow-wrap: break-word; }
.charts { display: grid; grid-template-columns: 1fr; gap: 1rem; }
figure.chart { margin: 0; }
figcaption { font-weight: 600; margin-bottom: .2rem; }
figcaption .note { display: block; font-weight: normal; color: var(--muted); font-size: .85rem; }
svg .bar { fill: var(--bar); }
svg .tick { stroke: var(--tick); stroke-width: 2; }
svg .reference { stroke: var(--high); stroke-width: 1.5; stroke-dasharray: 4 3; }
svg text { font-size: 12px; fill: var(--ink); }
svg .reference-label { fill: var(--high); }
ol.findings { padding-left: 1.4rem; }
ol.findings li { margin: 0 0 1rem; }
.sev { display: inline-block; font-size: .75rem; font-weight: 700; color: #fff;
       border-radius: 3px; padding: 0 .4rem; margin-right: .4rem; }
.sev.HIGH { background: var(--high); } .sev.MEDIUM { background: var(--medium); }
.sev.LOW { background: var(--low); } .sev.INFO { background: var(--info); }
.finding-head { font-weight: 600; }
.citation { color: var(--muted); }
.evidence a { margin-right: .35rem; }
tr:target { background: #fff6d6; }
.none { color: var(--muted); font-style: italic; }
@media print { body { margin: 0; max-width: none; } h2 { break-after: avoid; }
               ol.findings li, figure.chart, tr { break-inside: avoid; } }
)css";

// When the obligations listed fall due, as the page says it: by the end of
// the period asked for, which may end after the report's moment, where what
// was read ends (as-of probe: the page named a period ending at the moment
// and listed obligations due weeks after it).
std::string ObligationsWhen(const v1::FairnessReport& r) {
  if (r.has_obligations_due_before()) {
    return IsUkMidnight(r.obligations_due_before())
               ? absl::StrCat("by the end of ", LastDay(r.obligations_due_before()),
                              " (the end of the period asked for)")
               : absl::StrCat("before ", Moment(r.obligations_due_before()),
                              " (the end of the period asked for)");
  }
  if (IsSet(r.from()) && FromProtoTime(r.to()) <= FromProtoTime(r.from())) {
    // A period not begun at the moment, asked for with no end.
    return absl::StrCat("from ", FromText(r.from()), " on (the period asked for has no end)");
  }
  if (FromProtoTime(r.to()) == FromProtoTime(r.as_of_time())) {
    return "after it, whenever due (the period asked for has no end)";
  }
  return "in this period";
}

}  // namespace

// The period as the page names it. A report's `to` is where what it read
// ends: the period's end, or the report's moment if that comes first (a
// period asked for to its end in the future), which is then named as a
// moment, not as a day read whole. A period that begins after the report's
// moment (asked for its obligations) has nothing read yet.
std::string PeriodText(const v1::FairnessReport& r) {
  // Bounds asked for as days are named as days; as times, as times (two
  // reports of one morning, to 09:30 and to midnight, were both named "6
  // Jan 2026 to 6 Jan 2026 (included)": outside probe).
  const std::string from =
      IsSet(r.from()) ? FromText(r.from()) : std::string("the start of the log");
  if (IsSet(r.from()) && FromProtoTime(r.to()) <= FromProtoTime(r.from())) {
    return absl::StrCat("from ", from,
                        r.has_obligations_due_before()
                            ? absl::StrCat(" to ", EndText(r.obligations_due_before()))
                            : std::string(),
                        ", not begun at the report's moment (", DayTime(r.as_of_time()),
                        "): only obligations falling due in it");
  }
  if (FromProtoTime(r.to()) == FromProtoTime(r.as_of_time())) {
    // Asked for to a later end: what was read ends at the moment, and the
    // obligations are those falling due by that end (ObligationsWhen).
    return absl::StrCat(from, " to the report's moment (", DayTime(r.as_of_time()), ")",
                        r.has_obligations_due_before()
                            ? absl::StrCat(", asked for to ", EndText(r.obligations_due_before()))
                            : std::string());
  }
  return absl::StrCat(from, " to ", EndText(r.to()));
}

uint32_t LayoutOf(const std::string& content, v1::ReportFormat format) {
  constexpr absl::string_view kMarker = ", layout ";
  const absl::string_view text = content;
  std::optional<uint32_t> layout;
  switch (format) {
    case v1::REPORT_JSON: {
      v1::FairnessReport report;
      google::protobuf::util::JsonParseOptions options;
      options.ignore_unknown_fields = true;  // a later layout's fields
      if (!google::protobuf::util::JsonStringToMessage(content, &report, options).ok()) return 0;
      return report.provenance().layout() == 0 ? 1 : report.provenance().layout();
    }
    case v1::REPORT_HTML: {
      // The paragraph's id cannot come from data: Html() escapes quotes.
      const size_t paragraph = text.rfind("<p class=\"meta\" id=\"provenance\">");
      if (paragraph == absl::string_view::npos) return 1;
      const size_t end = text.find("</p>", paragraph);
      const absl::string_view p = text.substr(paragraph, end - paragraph);
      layout = NumberAfter(p, p.rfind(kMarker), kMarker, ". The file is signed");
      break;
    }
    default: {
      // The last line, without its LF.
      absl::string_view last = absl::StripSuffix(text, "\n");
      last = last.substr(last.rfind('\n') == absl::string_view::npos ? 0 : last.rfind('\n') + 1);
      if (!absl::StartsWith(last, "# evenhand report: ")) return 1;
      layout = NumberAfter(last, last.rfind(kMarker), kMarker, "");
      if (layout && !absl::EndsWith(last, absl::StrCat(kMarker, *layout))) layout.reset();
      break;
    }
  }
  return layout.value_or(1) == 0 ? 1 : layout.value_or(1);
}

std::string RenderReportHtml(const v1::FairnessReport& r) {
  std::string h;
  const std::string period = PeriodText(r);
  absl::StrAppend(
      &h, "<!DOCTYPE html>\n<html lang=\"en-GB\"><head><meta charset=\"utf-8\">",
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
      "<title>Fairness report: ", Html(r.council_name()), ", ", Html(period), "</title><style>",
      kStyle, "</style></head><body>\n");
  absl::StrAppend(&h, "<header><h1>Member&ndash;officer relations: fairness report</h1>",
                  "<p class=\"meta\" id=\"report-meta\">", Html(r.council_name()), " &middot; ",
                  "period <strong>", Html(period), "</strong> &middot; the log as it stood at ",
                  "position ", r.as_of_position(), " (", Html(DayTime(r.as_of_time())),
                  ") &middot; deadlines judged at that time</p></header>\n");

  // Summary.
  std::map<v1::Severity, int> by_severity;
  for (const auto& f : r.findings()) ++by_severity[f.severity()];
  absl::StrAppend(&h, "<section class=\"summary\" id=\"summary\">",
                  "<div><strong>", r.groups_size(), "</strong>political groups</div>",
                  "<div><strong id=\"findings-total\">", r.findings_size(),
                  "</strong>findings</div>", "<div><strong>", by_severity[v1::HIGH],
                  "</strong>high severity</div>", "<div><strong>", by_severity[v1::MEDIUM],
                  "</strong>medium</div>", "<div><strong>",
                  by_severity[v1::LOW] + by_severity[v1::INFO], "</strong>low / info</div>",
                  "<div><strong>", r.events_considered(), "</strong>events read</div>",
                  "</section>\n");

  // Per-group table.
  absl::StrAppend(&h, "<h2>Access to officers, by political group</h2>\n",
                  "<table id=\"groups\"><thead><tr><th class=\"text\">Group</th>",
                  "<th>Councillors</th><th>Briefings asked for</th><th>Offered</th>",
                  "<th>Given</th><th>Declined</th><th>Decline rate</th>",
                  "<th>Officer hours</th><th>Minutes per councillor</th>",
                  "<th>Written queries</th><th>Replied in time</th><th>Replied late</th>",
                  "<th>Unanswered, overdue</th><th>Not yet due</th>",
                  "<th>Median reply (working days)</th><th>Findings (H/M/L)</th></tr></thead>"
                  "<tbody>");
  for (const auto& g : r.groups()) {
    absl::StrAppendFormat(
        &h,
        "<tr data-group=\"%s\"><td>%s</td><td>%d</td><td>%d</td><td>%d</td><td>%d</td><td>%d</td>"
        "<td>%s</td><td>%.1f</td><td>%.0f</td><td>%d</td><td>%d</td><td>%d</td><td>%d</td>"
        "<td>%d</td><td>%.1f</td>"
        "<td>%d / %d / %d</td></tr>",
        Html(g.group_id()), HtmlCell(g.name()), g.councillors(), g.briefings_requested(),
        g.briefings_offered(), g.briefings_delivered(), g.briefings_declined(),
        Percent(g.decline_rate()), g.officer_minutes() / 60.0, g.officer_minutes_per_councillor(),
        g.queries_received(), g.queries_replied_in_time(), g.queries_replied_late(),
        g.queries_unanswered(), g.queries_not_yet_due(), g.reply_working_days_median(),
        g.findings_high(), g.findings_medium(), g.findings_low());
  }
  absl::StrAppend(&h, "</tbody></table>\n");

  // Charts.
  std::vector<Bar> time, declines, replies;
  for (const auto& g : r.groups()) {
    time.push_back({g.group_id(), g.name(), g.officer_minutes_per_councillor(),
                    absl::StrFormat("%.0f min", g.officer_minutes_per_councillor())});
    declines.push_back({g.group_id(), g.name(), g.decline_rate() * 100,
                        absl::StrFormat("%s (%d of %d)", Percent(g.decline_rate()),
                                        g.briefings_declined() - g.briefings_declined_required(),
                                        g.briefings_declined() - g.briefings_declined_required() +
                                            g.briefings_approved())});
    replies.push_back({g.group_id(), g.name(), g.reply_working_days_median(),
                       absl::StrFormat("%.1f / %.1f days", g.reply_working_days_median(),
                                       g.reply_working_days_p90()),
                       g.reply_working_days_p90()});
  }
  absl::StrAppend(&h, "<h2>Charts</h2><div class=\"charts\">\n",
                  BarChart("chart-officer-time", "Officer time per councillor",
                           "Minutes of officer time at the group's briefings and meetings, divided "
                           "by its councillors.",
                           time),
                  BarChart("chart-decline-rate", "Briefing requests declined",
                           "Share of the group's decided requests declined at the council's "
                           "discretion (declines the protocols require are not counted).",
                           declines),
                  BarChart("chart-reply-time", "Reply time to written queries",
                           "Median working days to the first reply (bar) and 90th percentile "
                           "(tick); the dashed line is the five-day limit (Harlow 6.6).",
                           replies, 5, "5 working days"),
                  "</div>\n");

  // Findings.
  std::map<std::string, std::string> titles;  // rule id -> title
  for (const auto& rule : r.rules()) titles[rule.rule_id()] = rule.title();
  absl::StrAppend(&h, "<h2>Findings</h2>\n");
  if (r.findings_size() == 0 && IsSet(r.from()) &&
      FromProtoTime(r.to()) <= FromProtoTime(r.from())) {
    // Not "none found": nothing of the period had happened (outside probe).
    absl::StrAppend(
        &h,
        "<p class=\"none\" id=\"no-findings\">The period had not begun at the "
        "report's moment: nothing in it had happened, so nothing in it can yet be "
        "found to break a rule. Only the obligations falling due in it are shown.</p>\n");
  } else if (r.findings_size() == 0) {
    absl::StrAppend(&h, "<p class=\"none\" id=\"no-findings\">No rule of the protocol was found "
                        "broken in this period.</p>\n");
  } else {
    absl::StrAppend(&h, "<ol class=\"findings\" id=\"findings\">");
    for (const auto& f : r.findings()) {
      absl::StrAppendFormat(
          &h,
          "<li class=\"finding\" data-rule=\"%s\" data-group=\"%s\"><div class=\"finding-head\">"
          "<span class=\"sev %s\">%s</span>%s &middot; %s &middot; %s</div>"
          "<div class=\"citation\">Breaks %s (rule <code>%s</code>)</div>"
          "<div class=\"explanation\">%s</div>"
          "<div class=\"evidence\">Evidence: %s</div></li>",
          Html(f.rule_id()), Html(f.group_id()), SeverityName(f.severity()),
          SeverityName(f.severity()), Html(titles[f.rule_id()]), Html(Day(f.occurred_at())),
          Html(GroupName(r, f.group_id())), Html(f.citation()), Html(f.rule_id()),
          Html(f.explanation()), EvidenceLinks(f.evidence_positions()));
    }
    absl::StrAppend(&h, "</ol>\n");
  }

  // Obligations: what is owed and not yet due, which the evidence cites too.
  const std::string when = ObligationsWhen(r);
  absl::StrAppend(&h,
                  "<h2>Open obligations</h2>\n<p class=\"meta\">What a group was owed at "
                  "the report's moment and had not yet been given, falling due ",
                  Html(when),
                  ", soonest first. Each becomes a finding if it is still owed when "
                  "it falls due (at the end of its due day, UK time), and is listed in the "
                  "period that finding would be dated in.</p>\n");
  if (r.obligations_size() == 0) {
    absl::StrAppend(&h, "<p class=\"none\" id=\"no-obligations\">No obligation falling due ",
                    Html(when), " was open at the report's moment.</p>\n");
  } else {
    absl::StrAppend(&h,
                    "<table id=\"obligations\"><thead><tr><th class=\"text\">Due by the "
                    "end of</th><th>Working days left</th><th class=\"text\">Rule</th>"
                    "<th class=\"text\">Owed to</th><th class=\"text\">Owed by</th>"
                    "<th class=\"text\">Case</th><th class=\"text\">What is owed</th>"
                    "<th class=\"text\">Evidence</th></tr></thead><tbody>");
    for (const auto& o : r.obligations()) {
      absl::StrAppendFormat(
          &h,
          "<tr class=\"obligation\" data-rule=\"%s\" data-group=\"%s\"><td class=\"text\">%s"
          "</td><td>%d</td><td class=\"text\">%s<br><span class=\"citation\">%s</span></td>"
          "<td class=\"text\">%s</td><td class=\"text\">%s</td><td class=\"text\">%s</td>"
          "<td class=\"text\">%s</td><td class=\"text evidence\">%s</td></tr>",
          Html(o.rule_id()), Html(o.group_id()), Html(DueByText(o.due_at())), o.working_days_left(),
          Html(titles[o.rule_id()]), Html(o.citation()), HtmlCell(GroupName(r, o.group_id())),
          HtmlCell(o.officer_id()), HtmlCell(o.case_id()), HtmlCell(o.description()),
          EvidenceLinks(o.evidence_positions()));
    }
    absl::StrAppend(&h, "</tbody></table>\n");
  }

  // Evidence.
  absl::StrAppend(
      &h,
      "<h2>Evidence</h2>\n<p class=\"meta\">Every event a finding or an open "
      "obligation cites, as recorded in the log. Positions are permanent: the same position always "
      "names the same event.</p>",
      "<table id=\"evidence\"><thead><tr><th>Position</th><th class=\"text\">What "
      "happened</th><th class=\"text\">When</th><th class=\"text\">Type</th>"
      "<th class=\"text\">Case</th><th class=\"text\">Reported by</th>"
      "<th class=\"text\">Recorded</th></tr></thead><tbody>");
  for (const auto& e : r.evidence()) {
    absl::StrAppendFormat(
        &h,
        "<tr id=\"event-%d\"><td>%d</td><td class=\"text\">%s</td><td class=\"text\">%s</td>"
        "<td class=\"text\">%s</td><td class=\"text\">%s</td><td class=\"text\">%s</td>"
        "<td class=\"text\">%s</td></tr>",
        e.position(), e.position(), HtmlCell(e.summary()), Html(DayTimeZoned(e.occurred_at())),
        HtmlCell(e.type()), HtmlCell(e.stream_id()), HtmlCell(e.source_system()),
        Html(DayTimeZoned(e.recorded_at())));
  }
  absl::StrAppend(&h, "</tbody></table>\n");

  // Who read the log.
  absl::StrAppend(&h, "<h2>Who read the log</h2>\n<p class=\"meta\">Every read by the "
                      "committee, auditors and political groups, and every refused request, "
                      "is recorded in the log itself before it is answered (AccessRecorded "
                      "events, covered by the signed checkpoints). One row per person or "
                      "system and method in the period.</p>");
  if (r.access().empty()) {
    absl::StrAppend(&h, "<p id=\"access-none\">No reads were recorded in the period.</p>\n");
  } else {
    absl::StrAppend(&h, "<table id=\"access\"><thead><tr><th class=\"text\">Who</th>"
                        "<th class=\"text\">Roles</th><th class=\"text\">Method</th>"
                        "<th>Reads</th><th>Refused</th><th>Events returned</th>"
                        "<th class=\"text\">First</th><th class=\"text\">Last</th>"
                        "</tr></thead><tbody>");
    for (const auto& a : r.access()) {
      absl::StrAppendFormat(
          &h,
          "<tr><td class=\"text\">%s</td><td class=\"text\">%s</td><td class=\"text\">%s</td>"
          "<td>%d</td><td>%d</td><td>%d</td><td class=\"text\">%s</td>"
          "<td class=\"text\">%s (position %d)</td></tr>",
          HtmlCell(a.principal()), HtmlCell(absl::StrJoin(a.roles(), ", ")), HtmlCell(a.method()),
          a.reads(), a.denied(), a.events_returned(), Html(DayTime(a.first_at())),
          Html(DayTime(a.last_at())), a.last_position());
    }
    absl::StrAppend(&h, "</tbody></table>\n");
  }

  // Rules.
  absl::StrAppend(&h, "<h2>The rules checked</h2>\n<table id=\"rules\"><thead><tr>",
                  "<th class=\"text\">Rule</th><th class=\"text\">Protocol</th>",
                  "<th class=\"text\">Severity</th><th class=\"text\">What is checked</th>"
                  "</tr></thead><tbody>");
  for (const auto& rule : r.rules()) {
    absl::StrAppendFormat(&h,
                          "<tr><td class=\"text\"><strong>%s</strong><br><code>%s</code></td>"
                          "<td class=\"text\">%s</td><td class=\"text\">%s</td>"
                          "<td class=\"text\">%s</td></tr>",
                          Html(rule.title()), Html(rule.rule_id()), Html(rule.citation()),
                          SeverityName(rule.severity()), Html(rule.description()));
  }
  absl::StrAppend(&h, "</tbody></table>\n");
  if (r.has_provenance()) {
    absl::StrAppend(
        &h, "<h2>Where this report comes from</h2>\n<p class=\"meta\" id=\"provenance\">",
        "Computed from ", Html(ProvenanceText(r)), ". The file is signed with the log's key and "
        "tied to one of its signed checkpoints: check it with <code>evenhand verify-report "
        "FILE --pubkey=KEY.pem</code>, and recompute it from an export of the whole log with "
        "<code>evenhand report --offline=BUNDLE --like=FILE</code> (docs/INTEGRITY.md).</p>\n");
  }
  absl::StrAppend(&h, "<p class=\"meta\">Produced by Even Hand from the "
                      "council's append-only event log. Citations name the member&ndash;officer "
                      "protocol paragraphs each rule enforces.</p>\n</body></html>\n");
  return h;
}

std::string RenderGroupsCsv(const v1::FairnessReport& r) {
  std::string out =
      "group_id,name,councillors,briefings_requested,briefings_offered,offers_not_taken_up,"
      "briefings_approved,briefings_declined,decline_rate,briefings_delivered,officer_minutes,"
      "officer_minutes_per_councillor,queries_received,queries_replied_in_time,"
      "queries_replied_late,queries_unanswered,reply_working_days_median,"
      "reply_working_days_p90,complaints_raised,findings_high,findings_medium,findings_low,"
      "briefings_declined_required,queries_not_yet_due\n";
  for (const auto& g : r.groups()) {
    absl::StrAppendFormat(&out,
                          "%s,%s,%d,%d,%d,%d,%d,%d,%.4f,%d,%d,%.2f,%d,%d,%d,%d,%.2f,%.2f,%d,%d,%d,%d,"
                          "%d,%d\n",
                          Csv(g.group_id()), Csv(g.name()), g.councillors(),
                          g.briefings_requested(), g.briefings_offered(),
                          g.offers_not_taken_up(), g.briefings_approved(), g.briefings_declined(),
                          g.decline_rate(), g.briefings_delivered(), g.officer_minutes(),
                          g.officer_minutes_per_councillor(), g.queries_received(),
                          g.queries_replied_in_time(), g.queries_replied_late(),
                          g.queries_unanswered(), g.reply_working_days_median(),
                          g.reply_working_days_p90(), g.complaints_raised(), g.findings_high(),
                          g.findings_medium(), g.findings_low(), g.briefings_declined_required(),
                          g.queries_not_yet_due());
  }
  out += CsvProvenance(r);
  return out;
}

std::string RenderFindingsCsv(const v1::FairnessReport& r) {
  std::string out =
      "occurred_at,rule_id,citation,severity,group_id,case_id,explanation,evidence_positions\n";
  for (const auto& f : r.findings()) {
    std::vector<std::string> positions;
    for (uint64_t p : f.evidence_positions()) positions.push_back(absl::StrCat(p));
    absl::StrAppend(&out, Iso(f.occurred_at()), ",", Csv(f.rule_id()), ",", Csv(f.citation()),
                    ",", SeverityName(f.severity()), ",", Csv(f.group_id()), ",",
                    Csv(f.case_id()), ",", Csv(f.explanation()), ",",
                    Csv(absl::StrJoin(positions, " ")), "\n");
  }
  out += CsvProvenance(r);
  return out;
}

std::string RenderAccessCsv(const v1::FairnessReport& r) {
  std::string out = "principal,roles,method,reads,denied,events_returned,first_at,last_at,"
                    "last_position\n";
  for (const auto& a : r.access()) {
    absl::StrAppend(&out, Csv(a.principal()), ",", Csv(absl::StrJoin(a.roles(), " ")), ",",
                    Csv(a.method()), ",", a.reads(), ",", a.denied(), ",", a.events_returned(),
                    ",", Iso(a.first_at()), ",", Iso(a.last_at()), ",", a.last_position(), "\n");
  }
  out += CsvProvenance(r);
  return out;
}

}  // namespace evenhand::reporting
