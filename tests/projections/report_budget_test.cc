// A report's budget (projections/report_budget.h): what a report may hold
// before its build stops, and whether its caller still waits. Over the demo
// council, a report served from the findings index (its entries held in
// memory, or checkpointed and read back) and one derived from the cases:
// a budget that is not spent changes nothing and counts what the report
// holds; one that is spent, or a caller gone, stops the build soon after,
// having read fewer cases; and the next report is whole again.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "projections/fairness_projection.h"
#include "projections/report_budget.h"
#include "tests/projections/fold_demo.h"
#include "tests/projections/map_stored_findings.h"
#include "tests/projections/report_paths.h"

namespace evenhand::projections {
namespace {

// The bytes a report's findings, obligations and cited summaries take in
// it, each counted with the least framing it can have (a tag and a length).
uint64_t PartsOf(const v1::FairnessReport& r, uint64_t* items) {
  uint64_t bytes = 0;
  *items = 0;
  auto add = [&](const auto& list) {
    for (const auto& m : list) bytes += m.ByteSizeLong() + 2;
    *items += list.size();
  };
  add(r.findings());
  add(r.obligations());
  add(r.evidence());
  return bytes;
}

class ReportBudgetTest : public ::testing::TestWithParam<Path> {
 protected:
  void SetUp() override {
    auto calendar = WorkingDayCalendar::LoadFile(EVENHAND_BANK_HOLIDAYS);
    ASSERT_TRUE(calendar.ok());
    calendar_.emplace(std::move(*calendar));
    p_.IndexFindings(settings_, *calendar_);
    if (GetParam() != Path::kIndexInMemory) {
      // Every case's body read back from the checkpoint when a report
      // needs it, so the cases a report reads are counted.
      p_.StoreFindingsIn(&stored_);
      p_.KeepCasesIn(&stored_, 0);
    }
    query_.as_of_position = FoldDemo(now_, &p_);
    query_.as_of_time = now_;
    if (GetParam() != Path::kIndexInMemory) stored_.Checkpoint(p_);
    ASSERT_TRUE(p_.findings_indexed());
    whole_ = Report(query_);
    ASSERT_GT(whole_.findings_size(), 10);
    ASSERT_GT(whole_.obligations_size(), 0);
  }

  v1::FairnessReport Report(const ReportQuery& q) {
    absl::Status read_error;
    v1::FairnessReport r = GetParam() == Path::kDerived
                               ? p_.DerivedReport(q, settings_, *calendar_, &read_error)
                               : p_.Report(q, settings_, *calendar_, &read_error);
    EXPECT_TRUE(read_error.ok()) << read_error;
    return r;
  }
  // The report with `budget`, and how many cases (derived) or stored
  // entries (from the index) it read back.
  v1::FairnessReport ReportWith(ReportBudget* budget, size_t* read) {
    ReportQuery q = query_;
    q.budget = budget;
    const size_t before = stored_.cases_read() + stored_.entries_scanned();
    v1::FairnessReport r = Report(q);
    *read = stored_.cases_read() + stored_.entries_scanned() - before;
    return r;
  }

  FairnessSettings settings_;
  std::optional<WorkingDayCalendar> calendar_;
  const absl::Time now_ =
      absl::FromCivil(absl::CivilSecond(2026, 11, 30, 12, 0, 0), absl::UTCTimeZone());
  FairnessProjection p_;
  MapStoredFindings stored_;
  ReportQuery query_;
  v1::FairnessReport whole_;  // without a budget
};

TEST_P(ReportBudgetTest, ABudgetNotSpentChangesNothingAndCountsWhatTheReportHolds) {
  int asked = 0;
  ReportBudget budget(
      UINT64_MAX,
      [&] {
        ++asked;
        return absl::OkStatus();
      },
      /*poll_every=*/1);
  size_t read = 0;
  const v1::FairnessReport r = ReportWith(&budget, &read);
  EXPECT_EQ(r.SerializeAsString(), whole_.SerializeAsString());
  EXPECT_FALSE(budget.given_up());
  EXPECT_FALSE(budget.over_bytes());
  EXPECT_GT(asked, 0) << "a caller gone would never be noticed";
  // What it spent is what the report holds, never more (a refusal says "at
  // least"), and nearly all of it.
  uint64_t items = 0;
  const uint64_t parts = PartsOf(r, &items);
  EXPECT_LE(budget.spent(), parts);
  EXPECT_GE(budget.spent() + 16 * items, parts) << "spent " << budget.spent();
}

TEST_P(ReportBudgetTest, ASpentBudgetStopsTheBuildSoonAfter) {
  ReportBudget unbounded;
  size_t all_read = 0;
  ReportWith(&unbounded, &all_read);
  const uint64_t max = unbounded.spent() / 4;
  ReportBudget budget(max);
  size_t read = 0;
  ReportWith(&budget, &read);
  EXPECT_TRUE(budget.given_up());
  EXPECT_TRUE(budget.over_bytes());
  EXPECT_TRUE(budget.abandoned_status().ok());
  EXPECT_GT(budget.spent(), max);
  // Stopped at the first step over: one finding or obligation more.
  EXPECT_LT(budget.spent(), max + 4096) << "of " << unbounded.spent();
  if (GetParam() != Path::kIndexInMemory) {
    EXPECT_LT(read, all_read) << "the build went on reading";
  }
  // Nothing of it stays behind.
  EXPECT_EQ(Report(query_).SerializeAsString(), whole_.SerializeAsString());
}

TEST_P(ReportBudgetTest, AReportWhoseCallerHasGoneStopsAtTheNextQuestion) {
  int asked = 0;
  ReportBudget budget(
      UINT64_MAX,
      [&] {
        ++asked;
        return absl::CancelledError("the call was cancelled");
      },
      /*poll_every=*/8);
  size_t read = 0;
  ReportWith(&budget, &read);
  EXPECT_TRUE(budget.given_up());
  EXPECT_FALSE(budget.over_bytes());
  EXPECT_EQ(budget.abandoned_status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(asked, 1) << "asked again once given up";
  ReportBudget unbounded;
  size_t all_read = 0;
  ReportWith(&unbounded, &all_read);
  EXPECT_LT(budget.spent(), unbounded.spent() / 4);
  if (GetParam() != Path::kIndexInMemory) EXPECT_LT(read, all_read / 4);
  EXPECT_EQ(Report(query_).SerializeAsString(), whole_.SerializeAsString());
}

// The council's registry, read by a report's first build at a position and
// kept for the next, is read whole even when that report is given up.
TEST_P(ReportBudgetTest, AReportGivenUpWhileTheRegistryIsReadLeavesItWhole) {
  FairnessProjection fresh;
  MapStoredFindings fresh_stored;
  fresh.IndexFindings(settings_, *calendar_);
  if (GetParam() != Path::kIndexInMemory) {
    fresh.StoreFindingsIn(&fresh_stored);
    fresh.KeepCasesIn(&fresh_stored, 0);
  }
  ASSERT_EQ(FoldDemo(now_, &fresh), query_.as_of_position);
  if (GetParam() != Path::kIndexInMemory) fresh_stored.Checkpoint(fresh);
  ReportBudget budget(
      UINT64_MAX, [] { return absl::CancelledError("the call was cancelled"); },
      /*poll_every=*/1);
  ReportQuery q = query_;
  q.budget = &budget;
  auto report = [&](const ReportQuery& q) {
    return GetParam() == Path::kDerived ? fresh.DerivedReport(q, settings_, *calendar_)
                                        : fresh.Report(q, settings_, *calendar_);
  };
  report(q);
  EXPECT_TRUE(budget.given_up());
  EXPECT_EQ(report(query_).SerializeAsString(), whole_.SerializeAsString());
}

INSTANTIATE_TEST_SUITE_P(Paths, ReportBudgetTest, kAllPaths, PathName);

}  // namespace
}  // namespace evenhand::projections
