// The committee's page and the CSV forms (reporting/report_render.h) given
// what council systems may send: names that reorder the text around them
// (bidirectional overrides), control characters, markup, names too long for
// a chart's label; and the page's open obligations, each with its evidence.
#include "reporting/report_render.h"

#include <map>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/time_util.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "integrity/merkle.h"

namespace evenhand::reporting {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

absl::Time At(int y, int m, int d, int h = 0) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, h, 0, 0), absl::UTCTimeZone());
}

v1::FairnessReport Report() {
  v1::FairnessReport r;
  r.set_council_name("Test Council");
  *r.mutable_from() = ToProtoTime(At(2026, 12, 1));
  *r.mutable_to() = ToProtoTime(At(2026, 12, 12));
  r.set_as_of_position(40);
  *r.mutable_as_of_time() = ToProtoTime(At(2026, 12, 5, 9));
  v1::GroupMetrics* g = r.add_groups();
  g->set_group_id("north");
  g->set_name("North Ward Independents and Residents First Alliance Group");
  g = r.add_groups();
  g->set_group_id("south");
  g->set_name("South Ward Independents and Residents First Alliance Group");
  v1::RuleInfo* rule = r.add_rules();
  rule->set_rule_id("written-query-reply");
  rule->set_title("Written queries answered in five working days");
  return r;
}

// An officer's name holding a right-to-left override (U+202E) would show
// the rest of the line mirrored: "...attended a meeting" read backwards.
// On the page it is a visible escape, as in the command line's tables, and
// so are control characters (a NUL is not even valid HTML); markup is text.
TEST(ReportRenderTest, TextThatWouldReorderOrHideWhatAReaderSeesIsShownAsEscapes) {
  v1::FairnessReport r = Report();
  v1::Finding* f = r.add_findings();
  f->set_rule_id("written-query-reply");
  f->set_group_id("north");
  *f->mutable_occurred_at() = ToProtoTime(At(2026, 12, 3));
  f->set_explanation(
      std::string("Officer Lab\xE2\x80\xAEruoblaL attended a meeting\x07 <script>x()</script>") +
      std::string(1, '\0') + " end");
  f->add_evidence_positions(7);
  v1::EvidenceEvent* e = r.add_evidence();
  e->set_position(7);
  e->set_summary("Isolate \xE2\x81\xA6 and mark \xE2\x80\x8F and bad byte \xFF");
  const std::string html = RenderReportHtml(r);
  EXPECT_THAT(html, Not(HasSubstr("\xE2\x80\xAE")));
  EXPECT_THAT(html, HasSubstr("Lab\\u202eruoblaL attended a meeting\\x07 "
                              "&lt;script&gt;x()&lt;/script&gt;\\x00 end"));
  EXPECT_THAT(html, HasSubstr("Isolate \\u2066 and mark \\u200f and bad byte \\xff"));
  EXPECT_EQ(html.find('\0'), std::string::npos);
  EXPECT_EQ(html.find('\x07'), std::string::npos);
  EXPECT_THAT(html, Not(HasSubstr("<script>")));
}

// Two groups whose long names end alike are told apart on the charts: the
// label is the name's start, cut with an ellipsis, and the whole name is
// its title.
TEST(ReportRenderTest, ChartLabelsShowTheStartOfALongNameAndHoldItWhole) {
  const std::string html = RenderReportHtml(Report());
  EXPECT_THAT(html, HasSubstr("<title>North Ward Independents and Residents First Alliance "
                              "Group</title>North Ward Independents an\xE2\x80\xA6</text>"));
  EXPECT_THAT(html, HasSubstr("</title>South Ward Independents an\xE2\x80\xA6</text>"));
}

// A name with no space in it for thousands of characters wraps in its cell
// (a break allowed after every 32 characters, never inside one or an
// entity) rather than stretching the group table off the page.
TEST(ReportRenderTest, ARunWithoutSpacesMayBreakInItsCell) {
  v1::FairnessReport r = Report();
  std::string name;
  for (int i = 0; i < 20; ++i) absl::StrAppend(&name, "\xC3\xA9&abcdefghijklmn");  // 16 each
  r.mutable_groups(0)->set_name(name);
  const std::string html = RenderReportHtml(r);
  const size_t row = html.find("<tr data-group=\"north\"><td>");
  ASSERT_NE(row, std::string::npos);
  const std::string cell = html.substr(row, html.find("</td>", row) - row);
  EXPECT_THAT(cell, HasSubstr("\xC3\xA9&amp;abcdefghijklmn\xC3\xA9&amp;abcdefghijklmn<wbr>"
                              "\xC3\xA9&amp;"));
  EXPECT_EQ(cell.find("&am<wbr>"), std::string::npos);
}

// The report's open obligations are on the page, with links to the events
// they cite (which the evidence table lists); with none, the page says so.
TEST(ReportRenderTest, OpenObligationsAreListedWithTheirEvidence) {
  v1::FairnessReport r = Report();
  EXPECT_THAT(RenderReportHtml(r), HasSubstr("id=\"no-obligations\""));
  v1::Obligation* o = r.add_obligations();
  o->set_rule_id("written-query-reply");
  o->set_citation("Harlow 6.6");
  o->set_case_id("Q-1070");
  o->set_group_id("south");
  o->set_officer_id("o-7");
  *o->mutable_due_at() = ToProtoTime(At(2026, 12, 12));  // the end of 11 Dec, UK time
  o->set_working_days_left(4);
  o->set_description("A reply to the written query, by 11 Dec 2026.");
  o->add_evidence_positions(31);
  r.add_evidence()->set_position(31);
  const std::string html = RenderReportHtml(r);
  EXPECT_THAT(html, Not(HasSubstr("id=\"no-obligations\"")));
  EXPECT_THAT(html, HasSubstr("<table id=\"obligations\">"));
  EXPECT_THAT(html,
              HasSubstr("<tr class=\"obligation\" data-rule=\"written-query-reply\" "
                        "data-group=\"south\"><td class=\"text\">11 Dec 2026</td><td>4</td>"));
  EXPECT_THAT(html, HasSubstr("South Ward Independents and Residents First Alliance Group</td>"
                              "<td class=\"text\">o-7</td><td class=\"text\">Q-1070</td>"));
  EXPECT_THAT(html, HasSubstr("<a href=\"#event-31\">#31</a>"));
  EXPECT_THAT(html, HasSubstr("<tr id=\"event-31\">"));
  // Due during a day (a promise broken as it is given): that moment, not
  // the day's end, which would be later (found from outside).
  *o->mutable_due_at() = ToProtoTime(At(2026, 12, 8, 2));
  o->set_working_days_left(0);
  EXPECT_THAT(RenderReportHtml(r),
              HasSubstr("data-group=\"south\"><td class=\"text\">8 Dec 2026 02:00 GMT (that "
                        "moment, not the day&#39;s end)</td><td>0</td>"));
}

// The page names the period it read: to a day (included); to the report's
// moment when the period runs past it; and a period that had not begun at
// the report's moment (asked for what falls due in it) is said so, not shown
// as "7 Dec to 5 Dec".
TEST(ReportRenderTest, ThePageNamesThePeriodItRead) {
  v1::FairnessReport r = Report();  // 1 Dec to 12 Dec 00:00, as of 5 Dec 09:00
  EXPECT_THAT(RenderReportHtml(r), HasSubstr("period <strong>1 Dec 2026 to 11 Dec 2026 "
                                             "(included)</strong>"));
  EXPECT_THAT(RenderReportHtml(r), HasSubstr("falling due in this period, soonest first"));
  // Asked for with no end: read to the moment, every open obligation.
  *r.mutable_to() = r.as_of_time();
  EXPECT_THAT(RenderReportHtml(r), HasSubstr("period <strong>1 Dec 2026 to the report&#39;s "
                                             "moment (5 Dec 2026 09:00)</strong>"));
  EXPECT_THAT(RenderReportHtml(r),
              HasSubstr("falling due after it, whenever due (the period asked for has no end)"));
  // Asked for to 11 Dec: read to the moment, obligations due by the end of
  // 11 Dec (as-of probe: the page named the period read and listed
  // obligations due after it without saying to when).
  *r.mutable_obligations_due_before() = ToProtoTime(At(2026, 12, 12));
  EXPECT_THAT(RenderReportHtml(r),
              HasSubstr("period <strong>1 Dec 2026 to the report&#39;s moment (5 Dec 2026 "
                        "09:00), asked for to 11 Dec 2026 (included)</strong>"));
  EXPECT_THAT(RenderReportHtml(r),
              HasSubstr("falling due by the end of 11 Dec 2026 (the end of the period asked "
                        "for), soonest first"));
  *r.mutable_from() = ToProtoTime(At(2026, 12, 7));
  EXPECT_THAT(RenderReportHtml(r),
              HasSubstr("period <strong>from 7 Dec 2026 to 11 Dec 2026 (included), not begun at "
                        "the report&#39;s moment (5 Dec 2026 09:00): only obligations falling "
                        "due in it</strong>"));
  r.clear_obligations_due_before();
  EXPECT_THAT(RenderReportHtml(r),
              HasSubstr("period <strong>from 7 Dec 2026, not begun at the report&#39;s moment "
                        "(5 Dec 2026 09:00): only obligations falling due in it</strong>"));
  EXPECT_THAT(RenderReportHtml(r),
              HasSubstr("falling due from 7 Dec 2026 on (the period asked for has no end), "
                        "soonest first"));
}

// A period asked for in times is named by its times, not by the days that
// hold them: two reports of one morning, to 09:30 and to midnight, were both
// "6 Jan 2026 to 6 Jan 2026 (included)" on the page (outside probe). The
// CSV comment line says the end asked for, and a period not begun.
TEST(ReportRenderTest, APeriodAskedForInTimesIsNamedByItsTimes) {
  v1::FairnessReport r = Report();
  *r.mutable_from() =
      ToProtoTime(absl::FromCivil(absl::CivilSecond(2026, 1, 6, 9, 0, 0), absl::UTCTimeZone()));
  *r.mutable_to() =
      ToProtoTime(absl::FromCivil(absl::CivilSecond(2026, 1, 6, 9, 30, 0), absl::UTCTimeZone()));
  *r.mutable_as_of_time() = ToProtoTime(At(2026, 2, 1));
  EXPECT_THAT(RenderReportHtml(r), HasSubstr("period <strong>6 Jan 2026 09:00:00 GMT to 6 Jan "
                                             "2026 09:30:00 GMT (excluded)</strong>"));
  // In summer, UK time: 12:00:00.5 UTC is 13:00:00.5 BST.
  *r.mutable_from() =
      ToProtoTime(absl::FromCivil(absl::CivilSecond(2026, 6, 1, 12, 0, 0), absl::UTCTimeZone()) +
                  absl::Milliseconds(500));
  *r.mutable_to() =
      ToProtoTime(absl::FromCivil(absl::CivilSecond(2026, 6, 3, 0, 0, 0), UkTimeZone()));
  r.mutable_provenance()->set_log_id("log");  // the CSV comment line comes with it
  EXPECT_THAT(RenderReportHtml(r), HasSubstr("period <strong>1 Jun 2026 13:00:00.5 BST to 2 Jun "
                                             "2026 (included)</strong>"));
  EXPECT_THAT(RenderGroupsCsv(r), HasSubstr("; period 2026-06-01T12:00:00.5Z to "
                                            "2026-06-02T23:00:00Z (excluded)"));
  // Not begun: said so, with the end asked for.
  r = Report();
  r.mutable_provenance()->set_log_id("log");
  *r.mutable_from() = ToProtoTime(At(2026, 12, 7));
  *r.mutable_to() = r.as_of_time();
  *r.mutable_obligations_due_before() = ToProtoTime(At(2026, 12, 12));
  EXPECT_THAT(RenderGroupsCsv(r),
              HasSubstr("; period 2026-12-07T00:00:00Z, not begun at the as-of time (asked for "
                        "to 2026-12-12T00:00:00Z (excluded))"));
  r.clear_obligations_due_before();
  *r.mutable_from() = ToProtoTime(At(2026, 12, 1));
  EXPECT_THAT(RenderGroupsCsv(r), HasSubstr("; period 2026-12-01T00:00:00Z to the as-of time "
                                            "(included; asked for with no end)"));
}

// The layout a report states is read where its provenance says it, never
// from a council's data: a group named ", layout 7" does not make an old
// report (which states none) one of layout 7, nor a new one of another.
TEST(ReportRenderTest, TheLayoutIsReadFromTheProvenanceNotFromData) {
  v1::FairnessReport r = Report();
  r.mutable_groups(0)->set_name("North, layout 7. The file is signed");
  r.set_council_name("Test Council, layout 9");
  // Without provenance (as before layouts were numbered): none stated.
  EXPECT_EQ(LayoutOf(RenderReportHtml(r), v1::REPORT_HTML), 1u);
  EXPECT_EQ(LayoutOf(RenderGroupsCsv(r), v1::REPORT_CSV_GROUPS), 1u);
  EXPECT_EQ(LayoutOf(RenderReportJson(r), v1::REPORT_JSON), 1u);
  v1::ReportProvenance* p = r.mutable_provenance();
  p->set_log_id("log");
  p->set_tree_size(40);
  p->set_layout(kLayoutVersion);
  EXPECT_EQ(LayoutOf(RenderReportHtml(r), v1::REPORT_HTML), kLayoutVersion);
  EXPECT_EQ(LayoutOf(RenderGroupsCsv(r), v1::REPORT_CSV_GROUPS), kLayoutVersion);
  EXPECT_EQ(LayoutOf(RenderFindingsCsv(r), v1::REPORT_CSV_FINDINGS), kLayoutVersion);
  EXPECT_EQ(LayoutOf(RenderAccessCsv(r), v1::REPORT_CSV_ACCESS), kLayoutVersion);
  EXPECT_EQ(LayoutOf(RenderReportJson(r), v1::REPORT_JSON), kLayoutVersion);
  EXPECT_EQ(LayoutOf("not json", v1::REPORT_JSON), 0u);
}

// Every form of a report with every section, rendered with this layout.
// Any change to what a form renders changes one of these digests: then
// kLayoutVersion takes the next number and its digests are added here (the
// earlier layouts' stay, as a record), so a signed report states the layout
// that made it and a verifier of another layout says it cannot recompute it
// rather than call it altered (verify-report, signed_report_test.py).
TEST(ReportRenderTest, EachLayoutRendersTheSameBytesForever) {
  v1::FairnessReport r;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      R"pb(
        from { seconds: 1764547200 }
        to { seconds: 1765497600 }
        as_of_position: 40
        as_of_time { seconds: 1764925200 }
        council_name: "Test <Borough> Council"
        events_considered: 39
        groups {
          group_id: "north"
          name: "North & Independents"
          councillors: 12
          briefings_requested: 4
          briefings_offered: 3
          offers_not_taken_up: 1
          briefings_approved: 3
          briefings_declined: 1
          decline_rate: 0.25
          briefings_delivered: 2
          officer_minutes: 180
          officer_minutes_per_councillor: 15
          queries_received: 9
          queries_replied_in_time: 7
          queries_replied_late: 1
          queries_unanswered: 1
          reply_working_days_median: 3
          reply_working_days_p90: 5.5
          complaints_raised: 1
          findings_high: 1
          findings_medium: 1
          findings_low: 0
          briefings_declined_required: 1
          queries_not_yet_due: 2
        }
        groups { group_id: "south" name: "South Ward Residents" councillors: 3 }
        findings {
          rule_id: "briefing-equal-offer"
          citation: "Harlow 6.3"
          severity: HIGH
          group_id: "south"
          case_id: "briefing-B-1"
          explanation: "North was briefed on the budget; South was not offered it."
          occurred_at { seconds: 1764633600 }
          evidence_positions: 12
          evidence_positions: 14
        }
        findings {
          rule_id: "written-query-reply"
          citation: "Harlow 6.6"
          severity: MEDIUM
          group_id: "north"
          case_id: "query-Q-2"
          explanation: "No reply within five working days."
          occurred_at { seconds: 1764806400 }
          evidence_positions: 20
        }
        evidence {
          position: 12
          stream_id: "briefing-B-1"
          type: "BriefingDelivered"
          occurred_at { seconds: 1764633600 }
          recorded_at { seconds: 1764633601 }
          source_system: "diary"
          summary: "budget briefing to north"
        }
        evidence { position: 14 stream_id: "briefing-B-1" type: "BriefingApproved" }
        evidence { position: 20 stream_id: "query-Q-2" type: "WrittenQueryReceived" }
        evidence { position: 31 stream_id: "query-Q-7" type: "WrittenQueryReceived" }
        rules {
          rule_id: "briefing-equal-offer"
          title: "Equal offers of briefings"
          citation: "Harlow 6.3"
          severity: HIGH
          description: "Every group is offered what one was given."
        }
        rules {
          rule_id: "written-query-reply"
          title: "Written queries answered in five working days"
          citation: "Harlow 6.6"
          severity: MEDIUM
          description: "A reply within five working days."
        }
        access {
          principal: "clerk"
          method: "evenhand.v1.Fairness/GetReport"
          roles: "committee"
          reads: 3
          denied: 1
          events_returned: 120
          first_at { seconds: 1764600000 }
          last_at { seconds: 1764900000 }
          last_position: 38
        }
        obligations {
          rule_id: "written-query-reply"
          citation: "Harlow 6.6"
          case_id: "query-Q-7"
          group_id: "south"
          officer_id: "o-7"
          due_at { seconds: 1765497600 }
          working_days_left: 4
          description: "A reply to the written query, by 11 Dec 2026."
          evidence_positions: 31
        }
        provenance {
          log_id: "4f1c2a9e-log"
          tree_size: 40
          root_hash: "0123456789abcdef0123456789abcdef"
          key_id: "a1b2c3d4e5f60718"
          rule_set_version: "sha256:0011223344556677"
          calendar_years: "2018-2028"
          layout: 5
        }
        obligations_due_before { seconds: 1765497600 }
      )pb",
      &r));
  ASSERT_EQ(r.provenance().layout(), kLayoutVersion)
      << "the sample states the layout it is rendered with";
  struct Form {
    const char* name;
    std::string (*render)(const v1::FairnessReport&);
  };
  const Form forms[] = {{"html", RenderReportHtml},
                        {"json", RenderReportJson},
                        {"csv-groups", RenderGroupsCsv},
                        {"csv-findings", RenderFindingsCsv},
                        {"csv-access", RenderAccessCsv}};
  // By layout: each form's SHA-256, hex. Layout 1 (before layouts were
  // numbered) was not pinned.
  const std::map<uint32_t, std::map<std::string, std::string>> kPinned = {
      {2,
       {{"html", "14d5e5f282e83eefaee591297f7a6142929299300c726cffc5868a0c639171e8"},
        {"json", "da5607c32d191d7a82f7b25da485d6cf56cd0923e42766da4e4e59781237ea12"},
        {"csv-groups", "febccbfea08761845406a2940cc5da360370ddd74849eda3b9ab089e525068dd"},
        {"csv-findings", "c27a8a29ece6530ec38c1304483c36be2b7bcfa33cc65fb9da47cec000e54713"},
        {"csv-access", "f03df683eec1ee1d96fb9c07a1c30cc43d61c4aaa5cec038292154977d43107e"}}},
      {3,
       {{"html", "7702689b68f630e36de2ae5152e31dc5393e1671c14356e291926e709257d16f"},
        {"json", "c59e3314b1cf812dd3a838fb0afd0561b09bfff17c37479589e0ec35771bc11b"},
        {"csv-groups", "4ab06e466e199b1e378f95644124549b2f3866c3a7df8c0b4e0bb25d020fd09a"},
        {"csv-findings", "9cd708ac6831bd1c47e348b231d2ea3067f3e8dab9e645c108d393a49c63c5d2"},
        {"csv-access", "1f5d9f1ef8cf51ce5486d888479a7f0ddbb7fabef31ab4611bbe4a190e4a4f62"}}},
      {4,
       {{"html", "b27210558fffbb6323e5ea1da805488a08d4cd69c2ebcbbf078b06ade6434627"},
        {"json", "588c0a674f622669db9a1574e16f2efd1b81e1b41072528d81cc1b2ed2d787f3"},
        {"csv-groups", "189585f5acd23a27af07227f550dd2d661b2df800bd705043f88b3e6f226d5d6"},
        {"csv-findings", "2be8accc0d0189065c0de4be2008a02d6c441359c114b7181c60cfbc8e0924e1"},
        {"csv-access", "576d6a5f9833ed79a36fe89a9ba4c503f22d6ddbb9c102249c9709dadced050a"}}},
      {5,
       {{"html", "4da00b1c7f236ef4f25118b2d4b1c6e6e5f69f7c121629c4815a58c3187a8d31"},
        {"json", "8dfd1c7fbf85cf0f649f18963027baeb7b2efedb71f6cd7eb4533abc51f414b3"},
        {"csv-groups", "3b0fe1d26aa010dd139a721f0f5ffab128de79c61e3b9cb69a9190ed84209eb0"},
        {"csv-findings", "ce2d904224f92b23d5b555f0fb83fb369346c81bb88a39780eab04133b843d06"},
        {"csv-access", "c511236403a4bf47bad6508b13535ecb75d9a17d3b2c2b47fd1cb220fb2d029a"}}},
  };
  ASSERT_TRUE(kPinned.contains(kLayoutVersion))
      << "layout " << kLayoutVersion << " has no pinned digests: add them";
  for (const Form& form : forms) {
    const std::string rendered = form.render(r);
    EXPECT_EQ(absl::BytesToHexString(integrity::Sha256(rendered)),
              kPinned.at(kLayoutVersion).at(form.name))
        << form.name << " renders other bytes than layout " << kLayoutVersion
        << " did: give the new layout the next number (kLayoutVersion, report_render.h) "
           "and pin its digests here, keeping the old ones (a new protobuf or abseil that "
           "prints JSON or numbers otherwise changes the layout too)";
  }
}

// The JSON is printed a list element at a time (protobuf's printer builds a
// tree of the whole report first: seconds for 100,000 findings, and nothing
// could stop it): byte for byte what protobuf prints of the whole, for
// lists empty, of one, of many, nested ones and text that needs escapes;
// and given up, between elements, once its caller no longer waits.
TEST(ReportRenderTest, TheJsonIsProtobufsOwnPrintedAnElementAtATimeAndCanBeGivenUp) {
  auto protobufs = [](const v1::FairnessReport& r) {
    google::protobuf::util::JsonPrintOptions options;
    options.add_whitespace = true;
    options.always_print_primitive_fields = true;
    std::string out;
    EXPECT_TRUE(google::protobuf::util::MessageToJsonString(r, &out, options).ok());
    return out;
  };
  v1::FairnessReport empty;
  EXPECT_EQ(RenderReportJson(empty), protobufs(empty));
  v1::FairnessReport r = Report();  // two groups, one rule
  EXPECT_EQ(RenderReportJson(r), protobufs(r));
  for (int i = 0; i < 300; ++i) {
    v1::Finding* f = r.add_findings();
    f->set_rule_id("equal-offer");
    f->set_group_id(absl::StrCat("g", i));
    f->set_explanation(absl::StrCat("line one\nline \"two\" \\ ", i, " \xE2\x80\xAE <b>"));
    f->add_evidence_positions(i + 1);
    f->add_evidence_positions(i + 2);
    *f->mutable_occurred_at() = ToProtoTime(At(2026, 12, 3) + absl::Seconds(i));
    v1::EvidenceEvent* e = r.add_evidence();
    e->set_position(i + 1);
    e->set_summary(absl::StrCat("summary {\"x\": [", i, "]}"));
  }
  v1::Obligation* o = r.add_obligations();
  o->set_rule_id("written-query-reply");
  o->add_evidence_positions(7);
  r.add_access()->set_principal("clerk");
  r.mutable_provenance()->set_log_id("log");
  r.set_log_last_position(41);
  EXPECT_EQ(RenderReportJson(r), protobufs(r));

  int asked = 0;
  EXPECT_EQ(RenderReportJson(r, [&] { return ++asked < 10; }), "");
  EXPECT_EQ(asked, 10);
  asked = 0;
  EXPECT_EQ(RenderReportJson(r, [&] { return ++asked > 0; }), protobufs(r));
  EXPECT_EQ(asked, r.groups_size() + r.findings_size() + r.evidence_size() + r.rules_size() +
                       r.access_size() + r.obligations_size());
}

}  // namespace
}  // namespace evenhand::reporting
