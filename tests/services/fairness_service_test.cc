// The Fairness service end to end: the real server (domain validation on),
// events appended over gRPC, reports read back over gRPC.
#include <httplib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "base/error_details.h"
#include "clients/audit_client.h"
#include "demo/demo_council.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "integrity/bundle.h"
#include "reporting/provenance.h"
#include "reporting/report_document.h"
#include "rocksdb/db.h"
#include "tests/services/fairness_service_fixture.h"
#include "tests/testing/council_scenario.h"
#include "tests/testing/events.h"
#include "tests/testing/server_fixture.h"
#include "tests/testing/status_matchers.h"

namespace evenhand {
namespace {

using ::evenhand::testing::StatusIs;
using ::evenhand::testing::ToProtoTime;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::SizeIs;


TEST_F(FairnessServiceTest, DemoCouncilReportShowsEveryPlantedBreachWithItsEvidence) {
  seed_demo_ = true;
  StartServer();
  v1::FairnessReport report = Report();
  EXPECT_EQ(report.groups_size(), 4);
  EXPECT_THAT(RuleIds(report), SizeIs(12)) << report.findings_size() << " findings";
  std::set<uint64_t> evidence;
  for (const auto& e : report.evidence()) {
    evidence.insert(e.position());
    EXPECT_FALSE(e.stream_id().empty());
    EXPECT_FALSE(e.type().empty());
    EXPECT_FALSE(e.summary().empty());
    EXPECT_LE(e.position(), report.as_of_position());
  }
  for (const auto& f : report.findings()) {
    EXPECT_FALSE(f.citation().empty());
    for (uint64_t p : f.evidence_positions()) EXPECT_TRUE(evidence.contains(p)) << p;
  }
}

// The envelopes of the events a report cites are kept for the next
// reports: asked again, as of an earlier position, or for another period,
// a report cites them as the log has them.
TEST_F(FairnessServiceTest, ReportsAskedAgainCiteTheEventsAsTheLogHasThem) {
  seed_demo_ = true;
  StartServer();
  auto by_position = [](const v1::FairnessReport& r) {
    std::map<uint64_t, std::string> out;
    for (const v1::EvidenceEvent& e : r.evidence()) out[e.position()] = e.SerializeAsString();
    return out;
  };
  const v1::FairnessReport first = Report();
  ASSERT_GT(first.evidence_size(), 10);
  // Each envelope is the event's, read from the log.
  v1::ReadAllRequest all;
  all.set_from_position(1);
  all.set_max_count(first.as_of_position());
  std::vector<v1::RecordedEvent> events;
  ASSERT_OK(client_->ReadAll(all, [&](const v1::RecordedEvent& e) {
    events.push_back(e);
    return true;
  }));
  ASSERT_EQ(events.size(), first.as_of_position());
  auto expect_event = [&](const v1::EvidenceEvent& e) {
    const v1::Event& event = events[e.position() - 1].event();
    EXPECT_EQ(e.stream_id(), event.stream_id());
    EXPECT_EQ(e.type(), event.type());
    EXPECT_EQ(e.event_id(), "");  // not the reader's to know (layout 5)
    EXPECT_NE(event.event_id(), "");
    EXPECT_EQ(e.occurred_at().SerializeAsString(), event.occurred_at().SerializeAsString());
    EXPECT_EQ(e.recorded_at().SerializeAsString(), event.recorded_at().SerializeAsString());
    EXPECT_EQ(e.source_system(), event.source_system());
  };
  for (const v1::EvidenceEvent& e : first.evidence()) expect_event(e);
  EXPECT_EQ(by_position(Report()), by_position(first)) << "asked again";
  v1::ReportRequest earlier;
  earlier.set_as_of_position(first.as_of_position() / 2);
  const v1::FairnessReport then = Report(earlier);
  // Some kept from the first report, the others read from the log now:
  // each the event's.
  ASSERT_GT(then.evidence_size(), 0);
  for (const v1::EvidenceEvent& e : then.evidence()) expect_event(e);
  EXPECT_EQ(by_position(Report()), by_position(first)) << "and again";
}

TEST_F(FairnessServiceTest, AReportAsOfAPositionIgnoresEventsRecordedLater) {
  seed_demo_ = true;
  StartServer();
  v1::FairnessReport before = Report();
  const uint64_t n = before.as_of_position();
  // A briefing of Labour reported six weeks late: no other group offered it.
  const absl::Time now = absl::Now();
  v1::Payload request;
  auto* r = request.mutable_briefing_requested();
  r->set_briefing_id("B-LATE");
  r->set_group_id("labour");
  r->set_requested_by_member_id("labour-1");
  r->set_topic("Street lighting");
  r->set_matter_id("street-lighting");
  r->set_routed_to_officer_id("o-ceo");
  ASSERT_OK(client_->Append(Append("briefing-B-LATE", now - absl::Hours(24 * 45), request)));
  v1::Payload approve;
  approve.mutable_briefing_approved()->set_briefing_id("B-LATE");
  approve.mutable_briefing_approved()->set_approved_by_officer_id("o-ceo");
  ASSERT_OK(client_->Append(Append("briefing-B-LATE", now - absl::Hours(24 * 44), approve)));
  v1::Payload deliver;
  auto* d = deliver.mutable_briefing_delivered();
  d->set_briefing_id("B-LATE");
  d->add_officer_ids("o-hos-planning");
  d->set_duration_minutes(60);
  d->set_business(v1::COUNCIL_BUSINESS);
  ASSERT_OK(client_->Append(Append("briefing-B-LATE", now - absl::Hours(24 * 40), deliver)));

  v1::ReportRequest as_of;
  as_of.set_as_of_position(n);
  v1::FairnessReport then = Report(as_of);
  EXPECT_EQ(then.as_of_position(), n);
  ASSERT_EQ(then.findings_size(), before.findings_size());
  for (int i = 0; i < then.findings_size(); ++i) {
    v1::Finding a = then.findings(i), b = before.findings(i);
    // Parity findings are dated at the end of the period: the as-of time.
    if (a.rule_id() == "access-parity") {
      a.clear_occurred_at();
      b.clear_occurred_at();
    }
    EXPECT_EQ(a.SerializeAsString(), b.SerializeAsString());
  }
  v1::FairnessReport after = Report();
  int late_briefing = 0;
  for (const auto& f : after.findings()) {
    if (f.case_id() == "briefing-B-LATE" && f.rule_id() == "equal-offer") ++late_briefing;
  }
  EXPECT_EQ(late_briefing, 3);  // Conservative, Liberal Democrat and Green groups
}

TEST_F(FairnessServiceTest, AsOfATimeReadsTheLogUpToTheLastEventRecordedByThen) {
  seed_demo_ = true;
  StartServer();
  const uint64_t n = server_->LastPosition();
  absl::SleepFor(absl::Milliseconds(20));
  const absl::Time between = absl::Now();
  absl::SleepFor(absl::Milliseconds(20));
  v1::Payload member;
  member.mutable_member_registered()->set_member_id("new-member");
  member.mutable_member_registered()->set_name("Cllr New");
  ASSERT_OK(client_->Append(Append("member-new-member", absl::Now(), member)));
  v1::ReportRequest request;
  *request.mutable_as_of_time() = ToProtoTime(between);
  EXPECT_EQ(Report(request).as_of_position(), n);
}

TEST_F(FairnessServiceTest, BadReportRequestsAreRefusedWithTheRightCode) {
  StartServer();
  v1::ReportRequest beyond;
  beyond.set_as_of_position(99);
  EXPECT_THAT(fairness_->GetReport(beyond),
              StatusIs(absl::StatusCode::kOutOfRange, HasSubstr("beyond the end of the log")));
  v1::ReportRequest backwards;
  *backwards.mutable_from() = ToProtoTime(absl::Now());
  *backwards.mutable_to() = ToProtoTime(absl::Now() - absl::Hours(24));
  EXPECT_THAT(fairness_->GetReport(backwards),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("from: must be before to")));
  v1::ReportRequest future;
  *future.mutable_as_of_time() = ToProtoTime(absl::Now() + absl::Hours(24));
  EXPECT_THAT(fairness_->GetReport(future),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("in the future")));
}

TEST_F(FairnessServiceTest, SignedDocumentsVerifyAndTheLogAloneRecomputesThemByteForByte) {
  StartServer();
  AppendDemoCouncil();
  clients::AuditClient audit(v1::Audit::NewStub(channel_));
  absl::StatusOr<v1::PublicKey> key = audit.GetPublicKey();
  ASSERT_OK(key.status());
  v1::ReportDocumentRequest unformatted;
  const absl::Status unset = fairness_->GetReportDocument(unformatted).status();
  EXPECT_THAT(unset, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("format")));
  EXPECT_EQ(ReasonOf(unset), "INVALID_FIELD");
  // A number the server does not know is said so, as in an event.
  unformatted.set_format(static_cast<v1::ReportFormat>(99));
  const absl::Status unknown = fairness_->GetReportDocument(unformatted).status();
  EXPECT_THAT(unknown, StatusIs(absl::StatusCode::kInvalidArgument,
                                HasSubstr("format: unknown value 99; must be REPORT_HTML")));
  EXPECT_EQ(ReasonOf(unknown), "UNKNOWN_ENUM_VALUE");

  std::vector<std::pair<v1::ReportDocumentRequest, std::string>> documents;
  for (v1::ReportFormat format : {v1::REPORT_HTML, v1::REPORT_JSON, v1::REPORT_CSV_GROUPS,
                                  v1::REPORT_CSV_FINDINGS, v1::REPORT_CSV_ACCESS}) {
    for (uint64_t as_of : {uint64_t{0}, uint64_t{300}}) {
      v1::ReportDocumentRequest request;
      request.set_format(format);
      if (as_of > 0) request.mutable_report()->set_as_of_position(as_of);
      absl::StatusOr<v1::ReportDocument> document = fairness_->GetReportDocument(request);
      ASSERT_OK(document.status());
      absl::StatusOr<reporting::VerifiedReport> verified =
          reporting::VerifyDocument(document->document(), *key);
      ASSERT_TRUE(verified.ok()) << verified.status();
      EXPECT_EQ(verified->statement.tree_size, document->provenance().tree_size());
      if (as_of > 0) {
        EXPECT_EQ(verified->statement.tree_size, as_of);
      }
      EXPECT_GE(verified->checkpoint.tree_size(), verified->statement.tree_size);
      documents.emplace_back(request, document->document());
    }
  }
  // The whole log, exported after the reports, folded again without the
  // server: the same content, byte for byte.
  absl::StatusOr<std::string> bundle = audit.Export(v1::ExportRequest());
  ASSERT_OK(bundle.status());
  absl::StatusOr<integrity::BundleReport> log = integrity::VerifyBundle(*bundle, &*key);
  ASSERT_OK(log.status());
  ASSERT_TRUE(log->whole_log);
  auto calendar = projections::WorkingDayCalendar::LoadFile(EVENHAND_DEFAULT_BANK_HOLIDAYS);
  ASSERT_OK(calendar.status());
  for (const auto& [request, document] : documents) {
    absl::StatusOr<reporting::SplitDocument> split = reporting::Split(document);
    ASSERT_OK(split.status());
    projections::ReportQuery query;
    query.as_of_position = split->statement.tree_size;
    query.as_of_time = split->statement.as_of_time;
    absl::StatusOr<v1::FairnessReport> again =
        reporting::ReportFromEvents(log->events, query, projections::FairnessSettings(),
                                    *calendar, log->log_id, log->key_id);
    ASSERT_OK(again.status());
    EXPECT_EQ(reporting::RenderContent(*again, request.format()), split->content)
        << reporting::FormatName(request.format()) << " as of " << query.as_of_position;
  }
}

TEST_F(FairnessServiceTest, FindingsFilterByRuleGroupAndSeverity) {
  seed_demo_ = true;
  StartServer();
  v1::ListFindingsRequest request;
  request.add_rule_ids("equal-offer");
  auto equal = fairness_->ListFindings(request);
  ASSERT_OK(equal);
  ASSERT_GT(equal->findings_size(), 0);
  for (const auto& f : equal->findings()) EXPECT_EQ(f.rule_id(), "equal-offer");
  request.Clear();
  request.add_group_ids("green");
  request.set_min_severity(v1::HIGH);
  auto green = fairness_->ListFindings(request);
  ASSERT_OK(green);
  ASSERT_GT(green->findings_size(), 0);
  for (const auto& f : green->findings()) {
    EXPECT_EQ(f.group_id(), "green");
    EXPECT_EQ(f.severity(), v1::HIGH);
  }
}

// A reply larger than maxReplyBytes is refused, saying how large and how
// to ask for less, and the server goes on serving (gRPC aborts the whole
// server on a reply over 2 GiB, as a whole-log report of a 10M-event log is).
TEST_F(FairnessServiceTest, AReplyLargerThanMaxReplyBytesIsRefusedSayingHowToAskForLess) {
  seed_demo_ = true;
  StartServer();
  const v1::FairnessReport whole = Report();
  ASSERT_OK_AND_ASSIGN(v1::ListFindingsResponse all, fairness_->ListFindings({}));
  v1::ListFindingsRequest one_rule;
  one_rule.add_rule_ids("equal-offer");
  ASSERT_OK_AND_ASSIGN(v1::ListFindingsResponse few, fairness_->ListFindings(one_rule));
  v1::ReportDocumentRequest html, groups;
  html.set_format(v1::REPORT_HTML);
  groups.set_format(v1::REPORT_CSV_GROUPS);
  ASSERT_OK_AND_ASSIGN(v1::ReportDocument page, fairness_->GetReportDocument(html));
  ASSERT_OK_AND_ASSIGN(v1::ReportDocument table, fairness_->GetReportDocument(groups));
  // Between what fits and what does not, by a margin: the demo council's
  // dates, so a few bytes of each reply, move with the clock.
  const uint64_t limit = all.ByteSizeLong() - 300;
  ASSERT_GT(whole.ByteSizeLong(), limit + 100);
  ASSERT_GT(page.document().size(), limit + 100);
  ASSERT_LT(few.ByteSizeLong() + 100, limit);
  ASSERT_LT(table.ByteSizeLong() + 100, limit);

  v1::ServerConfig config;
  config.set_max_reply_bytes(limit);
  StartServer(config);
  // A reply carrying the whole report is refused as soon as the report is
  // too large before its evidence is read ("at least").
  auto refused = [&](const absl::Status& s, const std::string& size, const std::string& how) {
    EXPECT_THAT(s, StatusIs(absl::StatusCode::kResourceExhausted,
                            AllOf(HasSubstr(size),
                                  HasSubstr(absl::StrCat("more than the ", limit)),
                                  HasSubstr("(maxReplyBytes)"), HasSubstr(how))));
    EXPECT_EQ(ReasonOf(s), "REPLY_TOO_LARGE");
    EXPECT_FALSE(GetRetryInfo(s).has_value()) << "the same request always meets it";
  };
  refused(fairness_->GetReport({}).status(), "this report would be at least ",
          "ask for a shorter period");
  refused(fairness_->ListFindings({}).status(),
          "this list of findings would be ",
          "filter by rule");
  refused(fairness_->GetReportDocument(html).status(), "this document would be at least ",
          "REPORT_CSV_GROUPS");
  std::optional<google::rpc::ErrorInfo> info =
      GetErrorInfo(fairness_->ListFindings({}).status());
  ASSERT_TRUE(info.has_value());
  uint64_t reply_bytes = 0;
  ASSERT_TRUE(absl::SimpleAtoi(info->metadata().at("reply_bytes"), &reply_bytes));
  EXPECT_GT(reply_bytes, limit);
  EXPECT_EQ(info->metadata().at("max_reply_bytes"), absl::StrCat(limit));

  // What fits is answered, as before: the server went on serving.
  ASSERT_OK_AND_ASSIGN(v1::ListFindingsResponse again, fairness_->ListFindings(one_rule));
  EXPECT_EQ(again.findings_size(), few.findings_size());
  ASSERT_OK_AND_ASSIGN(v1::ReportDocument table_again, fairness_->GetReportDocument(groups));
  EXPECT_FALSE(table_again.document().empty());
}

// Obligations listed with no period, and the obligation watch, read the
// period from the as-of moment on (FairnessService::OpenFromAsOf), not the
// whole log's history: the open obligations are the same.
TEST_F(FairnessServiceTest, TheOpenObligationsFromTheAsOfMomentOnAreTheWholeHistorys) {
  seed_demo_ = true;
  StartServer();
  // The demo's own open obligations depend on the hour it is started at (a
  // reply due at the end of today is overdue tonight): three written
  // queries from Labour members, received an hour ago, are owed whenever
  // this runs.
  for (int i = 1; i <= 3; ++i) {
    v1::Payload query;
    auto* q = query.mutable_written_query_received();
    q->set_query_id(absl::StrCat("Q-OPEN-", i));
    q->set_member_id(absl::StrCat("labour-", i));
    q->set_addressed_to_officer_id("o-ceo");
    q->set_subject("Open whenever the test runs");
    ASSERT_OK(client_->Append(
        Append(absl::StrCat("query-Q-OPEN-", i), absl::Now() - absl::Hours(1), query)));
  }
  auto list = [&](v1::ReportRequest report) {
    v1::ListObligationsRequest request;
    *request.mutable_report() = std::move(report);
    absl::StatusOr<v1::ListObligationsResponse> got = fairness_->ListObligations(request);
    EXPECT_OK(got);
    return got.ok() ? *got : v1::ListObligationsResponse();
  };
  auto expect_same = [](const v1::ListObligationsResponse& a,
                        const v1::ListObligationsResponse& b) {
    EXPECT_EQ(a.as_of_position(), b.as_of_position());
    ASSERT_EQ(a.obligations_size(), b.obligations_size());
    for (int i = 0; i < a.obligations_size(); ++i) {
      EXPECT_EQ(a.obligations(i).SerializeAsString(), b.obligations(i).SerializeAsString())
          << i << ": " << a.obligations(i).ShortDebugString();
    }
  };
  v1::ReportRequest history;  // every finding since 1901 decided too
  *history.mutable_from() = ToProtoTime(absl::FromCivil(absl::CivilDay(1901, 1, 1),
                                                        absl::UTCTimeZone()));
  const v1::ListObligationsResponse whole = list(history);
  ASSERT_GT(whole.obligations_size(), 2);
  expect_same(list({}), whole);
  v1::ReportRequest from_now;
  *from_now.mutable_from() = ToProtoTime(absl::Now());
  expect_same(list(from_now), whole);

  // As of earlier moments: when the log's last events were recorded.
  int open_then = 0;
  for (uint64_t back : {1, 2, 3, 5, 8, 13, 21, 34, 55, 89}) {
    v1::ReportRequest earlier = history;
    earlier.set_as_of_position(whole.as_of_position() - back);
    v1::ReportRequest at_time;
    *at_time.mutable_as_of_time() = list(earlier).as_of_time();
    v1::ReportRequest at_time_history = history;
    *at_time_history.mutable_as_of_time() = at_time.as_of_time();
    const v1::ListObligationsResponse then = list(at_time_history);
    expect_same(list(at_time), then);
    open_then += then.obligations_size();
  }
  EXPECT_GT(open_then, 0);

  // A period that ends before the moment has none open (and is not refused
  // for a `from` the request did not have).
  v1::ReportRequest ended;
  *ended.mutable_to() = ToProtoTime(absl::Now() - absl::Hours(1));
  EXPECT_EQ(list(ended).obligations_size(), 0);

  // A group dissolved since is still a filter: what its members asked for
  // before may still be owed.
  std::vector<std::string> owed_to_labour;
  for (const v1::Obligation& o : whole.obligations()) {
    if (o.group_id() == "labour") owed_to_labour.push_back(o.case_id());
  }
  ASSERT_FALSE(owed_to_labour.empty());
  v1::Payload dissolved;
  dissolved.mutable_political_group_dissolved()->set_group_id("labour");
  dissolved.mutable_political_group_dissolved()->set_reason("merged");
  ASSERT_OK(client_->Append(Append("group-labour", absl::Now() - absl::Minutes(5), dissolved)));
  v1::ListObligationsRequest labour;
  labour.add_group_ids("labour");
  ASSERT_OK_AND_ASSIGN(v1::ListObligationsResponse still, fairness_->ListObligations(labour));
  for (const v1::Obligation& o : still.obligations()) EXPECT_EQ(o.group_id(), "labour");
  v1::ListObligationsRequest unknown;
  unknown.add_group_ids("whigs");
  EXPECT_THAT(fairness_->ListObligations(unknown).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("whigs")));
}

TEST_F(FairnessServiceTest, AMaxReplyBytesProtobufCannotSerialiseIsRefusedAtStart) {
  v1::ServerConfig config;
  config.set_max_reply_bytes(uint64_t{3} << 30);
  config.set_listen("127.0.0.1:0");
  config.set_data_dir(dir_.Sub("data"));
  server::ServerOptions options;
  options.config = config;
  EXPECT_THAT(server::EvenHandServer::Start(options).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("maxReplyBytes: 3221225472 is more than 2147483647"),
                             HasSubstr("the largest reply protobuf can serialise"))));
  options.config.clear_max_reply_bytes();
  options.config.set_max_request_bytes(uint64_t{4} << 30);
  EXPECT_THAT(server::EvenHandServer::Start(options).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("maxRequestBytes: 4294967296 is more than 2147483647")));
}

// Names come from the council's systems, so the CSV tables a clerk opens in
// a spreadsheet must not run them: a cell that would start a formula gets an
// apostrophe first (as does one that starts with an apostrophe, so the
// value can be recovered), and a cell with # is quoted so no row reads as
// the provenance comment.
TEST_F(FairnessServiceTest, CsvCellsANameCouldTurnIntoAFormulaAreWrittenAsText) {
  StartServer();
  const absl::Time at = absl::Now() - absl::Hours(24);
  for (const char* m : {"m1", "m2", "m3", "m4"}) {
    v1::Payload p;
    p.mutable_member_registered()->set_member_id(m);
    p.mutable_member_registered()->set_name(absl::StrCat("Cllr ", m));
    ASSERT_OK(client_->Append(Append(absl::StrCat("member-", m), at, p)));
  }
  auto group = [&](const std::string& id, const std::string& name,
                   std::vector<std::string> members) {
    v1::Payload p;
    auto* r = p.mutable_political_group_recognised();
    r->set_group_id(id);
    r->set_name(name);
    for (const std::string& m : members) r->add_member_ids(m);
    return client_->Append(Append(absl::StrCat("group-", id), at, p)).status();
  };
  ASSERT_OK(group("-1+2", "=HYPERLINK(\"http://evil.example\",\"Open\")", {"m1", "m2"}));
  ASSERT_OK(group("hash", "#Independents, 'Alliance'", {"m3", "m4"}));
  v1::ReportDocumentRequest request;
  request.set_format(v1::REPORT_CSV_GROUPS);
  ASSERT_OK_AND_ASSIGN(v1::ReportDocument document, fairness_->GetReportDocument(request));
  const std::string& csv = document.document();
  EXPECT_THAT(
      csv, HasSubstr("\n\"'-1+2\",\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"Open\"\")\",2,"));
  EXPECT_THAT(csv, HasSubstr("\nhash,\"#Independents, 'Alliance'\",2,"));
  // Every line but the header, the rows and the two comment lines at the
  // end (provenance, signature) starts with what a row does.
  std::vector<std::string> lines = absl::StrSplit(csv, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 5u) << csv;
  for (size_t i = 0; i < 3; ++i) EXPECT_NE(lines[i][0], '#') << lines[i];
  EXPECT_TRUE(absl::StartsWith(lines[3], "# evenhand report: "));
  EXPECT_TRUE(absl::StartsWith(lines[4], "# "));
}

TEST_F(FairnessServiceTest, RulesAreListedWithCitations) {
  StartServer();
  auto rules = fairness_->ListRules();
  ASSERT_OK(rules);
  EXPECT_EQ(rules->rules_size(), 12);
  for (const auto& r : rules->rules()) EXPECT_FALSE(r.citation().empty()) << r.rule_id();
}

// An event appended while a restart reads the findings index back (at 10M
// events, seconds) is folded into the cases at once: a report asking for it
// is answered meanwhile, derived from the cases, instead of waiting for the
// whole index; once the index is whole it has decided the event too, and
// serves the same report.
TEST_F(FairnessServiceTest, AnEventAppendedWhileTheIndexIsReadBackIsReportedAtOnce) {
  v1::ServerConfig config;
  config.mutable_metrics()->set_listen("127.0.0.1:0");
  StartServer(config);
  AppendDemoCouncil();
  if (HasFatalFailure()) return;
  const uint64_t n = server_->LastPosition();
  // A councillor and an officer of the demo council's written queries.
  v1::WrittenQueryReceived asked;
  ASSERT_OK(client_->ReadAll({}, [&](const v1::RecordedEvent& e) {
    if (!e.event().payload().has_written_query_received()) return true;
    asked = e.event().payload().written_query_received();
    return false;
  }));
  ASSERT_FALSE(asked.member_id().empty());

  HeldFindingsLoad h(this, [](server::ServerOptions& o) {
    o.TEST_report_give_way_after = absl::InfiniteDuration();  // derived meanwhile
  });
  StartServer(config);
  ASSERT_TRUE(h.AwaitHeld());
  // Received ten days ago, never answered: a finding.
  v1::Payload query;
  *query.mutable_written_query_received() = asked;
  query.mutable_written_query_received()->set_query_id("Q-restart");
  ASSERT_OK(client_->Append(
      Append("query-Q-restart", absl::Now() - absl::Hours(24 * 10), std::move(query))));
  for (int i = 0; i < 600 && server_->ProjectionPosition() < n + 1; ++i) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_EQ(server_->ProjectionPosition(), n + 1) << "folded while the index is read back";
  ASSERT_FALSE(server_->ProjectionLoaded());
  auto report = [&] {
    v1::ReportRequest request;
    request.set_as_of_position(n + 1);
    v1::FairnessReport r = Report(request);
    r.clear_log_last_position();
    r.clear_as_of_time();
    r.clear_provenance();  // (its as-of time)
    return r;
  };
  const v1::FairnessReport meanwhile = report();
  auto names_it = [](const v1::FairnessReport& r) {
    for (const v1::Finding& f : r.findings()) {
      if (f.case_id() == "query-Q-restart" && f.rule_id() == "written-query-reply") return true;
    }
    return false;
  };
  EXPECT_TRUE(names_it(meanwhile));
  ASSERT_FALSE(server_->ProjectionLoaded()) << "answered before the index was whole";
  h.Release();
  for (int i = 0; i < 1200 && !server_->ProjectionLoaded(); ++i) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_TRUE(server_->ProjectionLoaded());
  // Read back and the event decided, not decided afresh from the cases
  // (which would serve from n + 1 on).
  EXPECT_EQ(Gauge("evenhand_findings_index_complete_from"), 0);
  const v1::FairnessReport served = report();
  EXPECT_TRUE(names_it(served));
  EXPECT_EQ(served.SerializeAsString(), meanwhile.SerializeAsString());
}

// While the index is read back, reports it will answer are derived only
// for a third of the reading's time (after its first half second): each
// holds the reading back while it is built, and a stream of them held it
// back for as long as they came. Past that share a report waits for the
// index, no longer than its caller does.
TEST_F(FairnessServiceTest, ReportsDerivedWhileTheIndexIsReadBackLeaveItMostOfTheTime) {
  StartServer();
  AppendDemoCouncil();
  if (HasFatalFailure()) return;
  HeldFindingsLoad h(this, [](server::ServerOptions& o) {
    // Deriving takes most of each report's time (every case read back),
    // and none gives way (TEST_report_give_way_after) for taking long.
    o.TEST_report_give_way_after = absl::Hours(1);
    o.TEST_case_cache_bytes = 0;
    o.TEST_case_read = [](const std::string&) {
      absl::SleepFor(absl::Microseconds(200));
      return absl::OkStatus();
    };
  });
  StartServer();
  ASSERT_TRUE(h.AwaitHeld());
  // Six at once, all derived (each is counted once built): together they
  // take far more than a third of the reading's time so far.
  std::vector<std::thread> askers;
  std::atomic<int> derived{0};
  for (int i = 0; i < 6; ++i) {
    askers.emplace_back([&] {
      if (fairness_->GetReport({}, absl::Seconds(60)).ok()) ++derived;
    });
  }
  for (std::thread& t : askers) t.join();
  EXPECT_EQ(derived, 6);
  // The next waits for the index (held: for ever), no longer than its
  // caller.
  const absl::Status waited = fairness_->GetReport({}, absl::Seconds(1)).status();
  EXPECT_EQ(waited.code(), absl::StatusCode::kDeadlineExceeded) << waited;
  EXPECT_FALSE(server_->ProjectionLoaded());
  // The obligation watch, which has no caller of its own to wait for, is
  // derived still (it crashed the server, waiting on no call).
  {
    auto stub = v1::Fairness::NewStub(channel_);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
    v1::WatchObligationsRequest request;
    request.set_within_working_days(20);
    auto reader = stub->WatchObligations(&context, request);
    v1::ObligationUpdate update;
    while (reader->Read(&update)) {
    }
    (void)reader->Finish();
  }
  ASSERT_OK(client_->GetStatus());
  h.Release();
  ASSERT_OK(fairness_->GetReport({}));
}

}  // namespace
}  // namespace evenhand
