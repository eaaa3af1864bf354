// A report's build stops once it cannot be sent or nobody waits for it
// (projections/report_budget.h, FairnessService::BuildReport), on the real
// server: a report larger than a reply may be is refused once it has grown
// past maxReplyBytes, a report whose caller's deadline passes stops reading
// cases, and a report waiting for the projection waits no longer than its
// caller does. Each is counted in evenhand_reports_stopped_total{reason}.
#include <atomic>
#include <string>
#include <thread>

#include <httplib.h>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "base/error_details.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/services/fairness_service_fixture.h"
#include "tests/testing/council_scenario.h"
#include "tests/testing/status_matchers.h"

namespace evenhand {
namespace {

using ::evenhand::testing::StatusIs;
using ::testing::HasSubstr;

class ReportStopsTest : public FairnessServiceTest {
 protected:
  void SetUp() override {
    FairnessServiceTest::SetUp();
    config_.mutable_metrics()->set_listen("127.0.0.1:0");
  }

  // evenhand_reports_stopped_total{reason="`reason`"} (0 before the first).
  double Stopped(const std::string& reason) {
    httplib::Client http(absl::StrCat("http://", server_->metrics_address()));
    auto got = http.Get("/metrics");
    EXPECT_TRUE(got) << "no /metrics";
    if (!got) return -1;
    const std::string name =
        absl::StrCat("evenhand_reports_stopped_total{reason=\"", reason, "\"} ");
    for (absl::string_view line : absl::StrSplit(got->body, '\n')) {
      double value = 0;
      if (absl::ConsumePrefix(&line, name) && absl::SimpleAtod(line, &value)) return value;
    }
    ADD_FAILURE() << name << "is not shown (it is shown as 0 before the first)";
    return -1;
  }
  // Waits for the count to reach `value`, a minute at most.
  void AwaitStopped(const std::string& reason, double value) {
    for (int i = 0; i < 600 && Stopped(reason) < value; ++i) {
      absl::SleepFor(absl::Milliseconds(100));
    }
    EXPECT_EQ(Stopped(reason), value) << reason;
  }

  // What holds the next start while it reads the findings index back
  // (HoldNextStart), until Release(): reports are then derived from the
  // cases, each read back from disk slowly, counted in `reads`.
  struct HeldStart {
    absl::Notification release, held;
    std::atomic<bool> hold{true};
    std::atomic<int> reads{0};
    void Release() {
      hold = false;
      if (!release.HasBeenNotified()) release.Notify();
    }
  };
  // Every case read back takes `read_delay`; a report derived meanwhile
  // gives way after `give_way_after` (FairnessServiceOptions).
  void HoldNextStart(HeldStart* h, absl::Duration read_delay, absl::Duration give_way_after) {
    customize_ = [h, read_delay, give_way_after](server::ServerOptions& o) {
      o.TEST_report_give_way_after = give_way_after;
      o.TEST_before_findings_load = [h] {
        if (!h->hold) return;
        if (!h->held.HasBeenNotified()) h->held.Notify();
        h->release.WaitForNotification();
      };
      o.TEST_case_cache_bytes = 0;
      o.TEST_case_read = [h, read_delay](const std::string&) {
        ++h->reads;
        absl::SleepFor(read_delay);
        return absl::OkStatus();
      };
    };
  }
  // Ends the hold, then the server.
  void LetGo(HeldStart* h) {
    h->Release();
    StopServer();
    customize_ = nullptr;
  }

  void AwaitProjection(uint64_t position) {
    for (int i = 0; i < 600 && server_->ProjectionPosition() < position; ++i) {
      absl::SleepFor(absl::Milliseconds(100));
    }
    ASSERT_EQ(server_->ProjectionPosition(), position);
  }

  v1::ServerConfig config_;
};

TEST_F(ReportStopsTest, AReportLargerThanAReplyIsRefusedOnceItHasGrownPastIt) {
  StartServer(config_);
  AppendDemoCouncil();
  if (HasFatalFailure()) return;
  AwaitProjection(server_->LastPosition());
  v1::FairnessReport whole = Report();
  whole.clear_evidence();  // what a refusal before the evidence counts
  ASSERT_GT(whole.findings_size(), 10);
  v1::ReportRequest recent;
  *recent.mutable_from() = ToProtoTime(absl::Now() - absl::Hours(24 * 7));
  const uint64_t fits = Report(recent).ByteSizeLong();

  // Between the two, by a margin (the demo's dates move with the clock).
  const uint64_t limit = fits + 200;
  ASSERT_LT(limit + 1000, whole.ByteSizeLong());
  config_.set_max_reply_bytes(limit);
  StartServer(config_);
  const double before = Stopped("reply_too_large");
  const absl::Status refused = fairness_->GetReport({}).status();
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kResourceExhausted,
                                HasSubstr("this report would be at least ")));
  EXPECT_EQ(ReasonOf(refused), "REPLY_TOO_LARGE");
  // "At least": counted up to the first finding or obligation over the
  // limit, never more than the report holds.
  std::optional<google::rpc::ErrorInfo> info = GetErrorInfo(refused);
  ASSERT_TRUE(info.has_value());
  uint64_t reply_bytes = 0;
  ASSERT_TRUE(absl::SimpleAtoi(info->metadata().at("reply_bytes"), &reply_bytes));
  EXPECT_GT(reply_bytes, limit);
  EXPECT_LT(reply_bytes, whole.ByteSizeLong()) << "built further than it had to be";
  EXPECT_EQ(Stopped("reply_too_large"), before + 1);
  // A period that fits is answered.
  const auto answered = fairness_->GetReport(recent);
  EXPECT_TRUE(answered.ok()) << answered.status();
  // So is a list of findings, counting only the findings it would list:
  // every one, or those of one rule.
  // (As of the log's last position: the same across restarts, whatever
  // deadline passes meanwhile.)
  config_.set_max_reply_bytes(whole.ByteSizeLong());
  StartServer(config_);
  v1::ListFindingsRequest every, one_rule;
  every.mutable_report()->set_as_of_position(server_->LastPosition());
  one_rule = every;
  one_rule.add_rule_ids("equal-offer");
  ASSERT_OK_AND_ASSIGN(const v1::ListFindingsResponse all, fairness_->ListFindings(every));
  ASSERT_OK_AND_ASSIGN(const v1::ListFindingsResponse few, fairness_->ListFindings(one_rule));
  ASSERT_LT(few.ByteSizeLong() * 2, all.ByteSizeLong());
  // The findings' CSV table is refused as the list is: its rows are no
  // smaller than the findings they show.
  v1::ReportDocumentRequest csv;
  csv.set_format(v1::REPORT_CSV_FINDINGS);
  *csv.mutable_report() = every.report();
  ASSERT_OK_AND_ASSIGN(const v1::ReportDocument table, fairness_->GetReportDocument(csv));
  size_t rows = 0, findings = 0;
  for (absl::string_view line : absl::StrSplit(table.document(), '\n', absl::SkipEmpty())) {
    if (!absl::StartsWith(line, "#") && !absl::StartsWith(line, "occurred_at,")) {
      rows += line.size() + 1;
    }
  }
  for (const v1::Finding& f : all.findings()) findings += f.ByteSizeLong();
  EXPECT_GE(rows, findings) << "what a refusal counts would not be a lower bound";
  config_.set_max_reply_bytes(all.ByteSizeLong() / 2);
  StartServer(config_);
  const absl::Status list_refused = fairness_->ListFindings(every).status();
  EXPECT_THAT(list_refused, StatusIs(absl::StatusCode::kResourceExhausted,
                                     HasSubstr("this list of findings would be at least ")));
  info = GetErrorInfo(list_refused);
  ASSERT_TRUE(info.has_value());
  ASSERT_TRUE(absl::SimpleAtoi(info->metadata().at("reply_bytes"), &reply_bytes));
  EXPECT_GT(reply_bytes, all.ByteSizeLong() / 2);
  EXPECT_LT(reply_bytes, all.ByteSizeLong()) << "built further than it had to be";
  EXPECT_THAT(fairness_->GetReportDocument(csv).status(),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("this document would be at least ")));
  EXPECT_EQ(Stopped("reply_too_large"), before + 3);
  ASSERT_OK_AND_ASSIGN(const v1::ListFindingsResponse few_again, fairness_->ListFindings(one_rule));
  EXPECT_EQ(few_again.SerializeAsString(), few.SerializeAsString());
}

TEST_F(ReportStopsTest, AReportWhoseDeadlinePassesStopsReadingCases) {
  StartServer(config_);
  AppendDemoCouncil();
  if (HasFatalFailure()) return;
  const uint64_t n = server_->LastPosition();
  AwaitProjection(n);

  // The next start is held while it reads the findings index back, so
  // reports are derived from the cases, each read back from disk slowly.
  HeldStart h;
  HoldNextStart(&h, absl::Milliseconds(5), absl::InfiniteDuration());
  absl::Cleanup let_go = [&] { LetGo(&h); };
  StartServer(config_);
  ASSERT_TRUE(h.held.WaitForNotificationWithTimeout(absl::Seconds(30)));
  v1::ReportRequest at_n;
  at_n.set_as_of_position(n);
  int before = h.reads;
  ASSERT_TRUE(fairness_->GetReport(at_n).ok());
  const int whole = h.reads - before;
  ASSERT_GT(whole, 100) << "cases a whole report reads";

  // Asked with a tenth of the time reading them takes (5 ms each).
  const double stopped = Stopped("deadline_exceeded");
  before = h.reads;
  const absl::Status late = fairness_->GetReport(at_n, absl::Milliseconds(whole / 2)).status();
  EXPECT_EQ(late.code(), absl::StatusCode::kDeadlineExceeded) << late;
  AwaitStopped("deadline_exceeded", stopped + 1);
  const int read = h.reads - before;
  EXPECT_LT(read, whole) << "the build went on after its deadline";
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(h.reads - before, read) << "still reading";
}

// After a start, reports are derived from the cases while the findings
// index is read back, and that reading waits for each (and every report
// behind it with it). A report that takes longer than the reading should
// still take gives way: it stops reading cases, waits for the index, and
// is built from it, the same report.
TEST_F(ReportStopsTest, AReportDerivedAtAStartGivesWayToTheFindingsIndex) {
  StartServer(config_);
  AppendDemoCouncil();
  if (HasFatalFailure()) return;
  const uint64_t n = server_->LastPosition();
  AwaitProjection(n);
  v1::ReportRequest at_n;
  at_n.set_as_of_position(n);
  const v1::FairnessReport before = Report(at_n);
  ASSERT_GT(before.findings_size(), 0);

  // The next start is held while it reads the findings index back; every
  // case a derived report reads back from disk takes 10 ms.
  HeldStart h;
  HoldNextStart(&h, absl::Milliseconds(10), absl::ZeroDuration());
  absl::Cleanup let_go = [&] { LetGo(&h); };
  StartServer(config_);
  ASSERT_TRUE(h.held.WaitForNotificationWithTimeout(absl::Seconds(30)));
  absl::StatusOr<v1::FairnessReport> got;
  absl::Notification done;
  std::thread asker([&] {
    got = fairness_->GetReport(at_n);
    done.Notify();
  });
  absl::Cleanup join = [&] { asker.join(); };
  // It reads cases, then stops reading and waits.
  for (int i = 0; i < 300 && h.reads == 0; ++i) absl::SleepFor(absl::Milliseconds(100));
  int seen = -1;
  for (int i = 0; i < 60 && seen != h.reads && !done.HasBeenNotified(); ++i) {
    seen = h.reads;
    absl::SleepFor(absl::Milliseconds(500));
  }
  EXPECT_GT(seen, 0);
  EXPECT_FALSE(done.HasBeenNotified()) << "derived in full while the index was read back";
  // A second one waits too (it gives way, or is not derived at all while
  // derived reports have taken their share of the reading), no longer than
  // its caller.
  const double stopped = Stopped("deadline_exceeded");
  const absl::Status late = fairness_->GetReport(at_n, absl::Seconds(3)).status();
  EXPECT_EQ(late.code(), absl::StatusCode::kDeadlineExceeded) << late;
  AwaitStopped("deadline_exceeded", stopped + 1);
  EXPECT_FALSE(done.HasBeenNotified());
  h.Release();
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Minutes(1)));
  ASSERT_OK(got.status());
  v1::FairnessReport after = *got;
  after.set_log_last_position(before.log_last_position());
  EXPECT_EQ(after.SerializeAsString(), before.SerializeAsString());
}

// A report the index will not answer once read back (as of a position
// before a rebuild seeded it) has nothing to wait for: derived, however
// long it takes.
TEST_F(ReportStopsTest, AReportTheIndexWillNotAnswerDoesNotGiveWay) {
  StartServer(config_);
  AppendDemoCouncil();
  if (HasFatalFailure()) return;
  const uint64_t n = server_->LastPosition();
  AwaitProjection(n);
  rebuild_projections_ = true;
  StartServer(config_);
  rebuild_projections_ = false;
  AwaitGauge("evenhand_findings_index_complete_from", static_cast<double>(n));
  AwaitGauge("evenhand_projection_unsaved_events", 0);
  ASSERT_EQ(Gauge("evenhand_findings_index_complete_from"), static_cast<double>(n));
  v1::ReportRequest early;
  early.set_as_of_position(n / 2);
  const v1::FairnessReport before = Report(early);

  HeldStart h;
  HoldNextStart(&h, absl::Milliseconds(10), absl::ZeroDuration());
  absl::Cleanup let_go = [&] { LetGo(&h); };
  StartServer(config_);
  ASSERT_TRUE(h.held.WaitForNotificationWithTimeout(absl::Seconds(30)));
  // Answered while the index is still held back (a minute at most).
  absl::StatusOr<v1::FairnessReport> got = fairness_->GetReport(early, absl::Minutes(1));
  ASSERT_OK(got.status());
  EXPECT_GT(h.reads, 100) << "derived from the cases";
  v1::FairnessReport after = *got;
  after.set_log_last_position(before.log_last_position());
  EXPECT_EQ(after.SerializeAsString(), before.SerializeAsString());
}

TEST_F(ReportStopsTest, AReportWaitingForTheProjectionWaitsNoLongerThanItsCaller) {
  // Reports wait for the projection an hour: longer than this test.
  config_.mutable_fairness()->set_report_wait_seconds(3600);
  absl::Notification fold_release;
  std::atomic<bool> hold_fold{false};
  customize_ = [&](server::ServerOptions& o) {
    o.TEST_before_fold = [&] {
      if (hold_fold) fold_release.WaitForNotification();
    };
  };
  absl::Cleanup let_go = [&] {
    if (!fold_release.HasBeenNotified()) fold_release.Notify();
    StopServer();
    customize_ = nullptr;
  };
  StartServer(config_);
  hold_fold = true;
  AppendDemoCouncil();
  if (HasFatalFailure()) return;
  const double stopped = Stopped("deadline_exceeded");
  const absl::Status late = fairness_->GetReport({}, absl::Milliseconds(300)).status();
  EXPECT_EQ(late.code(), absl::StatusCode::kDeadlineExceeded) << late;
  // Given up by the server at the caller's deadline, not after an hour.
  AwaitStopped("deadline_exceeded", stopped + 1);
  fold_release.Notify();
  AwaitProjection(server_->LastPosition());
  EXPECT_TRUE(fairness_->GetReport({}).ok());
}

}  // namespace
}  // namespace evenhand
