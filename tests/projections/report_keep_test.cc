// A report that keeps less than everything (ReportQuery::keep) is the
// whole report without what it does not keep: the tables only (what the
// groups' and access CSV tables show) without its findings, obligations
// and cited events, each group's findings counted by severity as the whole
// report counts them; the findings (a list of findings) with those a
// filter accepts, each citing the same positions; the obligations (a list
// of obligations) with every one and no finding. For the demo council as
// of many positions and over several periods, served from the findings
// index (held in memory, or checkpointed and read back) and derived from
// the cases.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "projections/fairness_projection.h"
#include "tests/projections/fold_demo.h"
#include "tests/projections/map_stored_findings.h"
#include "tests/projections/report_paths.h"

namespace evenhand::projections {
namespace {

class ReportKeepTest : public ::testing::TestWithParam<Path> {
 protected:
  void SetUp() override {
    auto calendar = WorkingDayCalendar::LoadFile(EVENHAND_BANK_HOLIDAYS);
    ASSERT_TRUE(calendar.ok());
    calendar_.emplace(std::move(*calendar));
    p_.IndexFindings(settings_, *calendar_);
    if (GetParam() == Path::kIndexStored) {
      p_.StoreFindingsIn(&stored_);
      p_.KeepCasesIn(&stored_, 0);
    }
    last_ = FoldDemo(now_, &p_);
    if (GetParam() == Path::kIndexStored) stored_.Checkpoint(p_);
  }

  v1::FairnessReport Report(const ReportQuery& q) {
    return GetParam() == Path::kDerived ? p_.DerivedReport(q, settings_, *calendar_)
                                        : p_.Report(q, settings_, *calendar_);
  }

  FairnessSettings settings_;
  std::optional<WorkingDayCalendar> calendar_;
  const absl::Time now_ =
      absl::FromCivil(absl::CivilSecond(2026, 11, 30, 12, 0, 0), absl::UTCTimeZone());
  FairnessProjection p_;
  MapStoredFindings stored_;
  uint64_t last_ = 0;
};

TEST_P(ReportKeepTest, IsTheWholeReportWithoutWhatItDoesNotKeep) {
  int counted = 0, high_kept = 0, kept_obligations = 0;
  std::vector<uint64_t> positions;
  for (uint64_t at = 1; at < last_; at += 10) positions.push_back(at);
  positions.push_back(last_);
  for (uint64_t at : positions) {
    for (int days : {0, 30, 90, 400}) {
      ReportQuery q;
      if (days > 0) q.from = now_ - absl::Hours(24 * days);
      q.as_of_position = at;
      q.as_of_time = now_;
      v1::FairnessReport whole = Report(q);
      q.keep = ReportQuery::Keep::kFindings;
      q.keep_finding = [](const v1::Finding& f) { return f.severity() == v1::HIGH; };
      const v1::FairnessReport high = Report(q);
      q.keep_finding = nullptr;
      const v1::FairnessReport every_finding = Report(q);
      q.keep_finding = [](const v1::Finding&) { return false; };
      const v1::FairnessReport no_finding = Report(q);
      q.keep = ReportQuery::Keep::kObligations;
      const v1::FairnessReport obligations = Report(q);
      q.keep = ReportQuery::Keep::kTables;
      const v1::FairnessReport tables = Report(q);
      EXPECT_EQ(tables.findings_size(), 0);
      EXPECT_EQ(tables.obligations_size(), 0);
      EXPECT_EQ(tables.evidence_size(), 0);
      for (const v1::GroupMetrics& g : whole.groups()) {
        counted += g.findings_high() + g.findings_medium() + g.findings_low();
      }
      whole.clear_evidence();
      v1::FairnessReport whole_obligations = whole;
      whole_obligations.clear_findings();
      kept_obligations += whole_obligations.obligations_size();
      EXPECT_EQ(obligations.SerializeAsString(), whole_obligations.SerializeAsString())
          << "obligations as of position " << at << ", the last " << days << " days";
      whole.clear_obligations();
      v1::FairnessReport whole_findings = whole;
      whole_findings.clear_obligations();
      EXPECT_EQ(every_finding.SerializeAsString(), whole_findings.SerializeAsString())
          << "every finding as of position " << at << ", the last " << days << " days";
      whole_findings.clear_findings();
      EXPECT_EQ(no_finding.SerializeAsString(), whole_findings.SerializeAsString());
      v1::FairnessReport whole_high = whole;
      whole_high.clear_findings();
      for (const v1::Finding& f : whole.findings()) {
        if (f.severity() == v1::HIGH) *whole_high.add_findings() = f;
      }
      high_kept += whole_high.findings_size();
      whole.clear_findings();
      EXPECT_EQ(tables.SerializeAsString(), whole.SerializeAsString())
          << "as of position " << at << ", the last " << days << " days";
      EXPECT_EQ(high.SerializeAsString(), whole_high.SerializeAsString())
          << "high findings as of position " << at << ", the last " << days << " days";
      if (HasFailure()) return;
    }
  }
  EXPECT_GT(counted, 100) << "findings counted in the groups' tables";
  EXPECT_GT(high_kept, 10);
  EXPECT_GT(kept_obligations, 10);
  EXPECT_LT(high_kept, counted);
}

INSTANTIATE_TEST_SUITE_P(Paths, ReportKeepTest, kAllPaths, PathName);

}  // namespace
}  // namespace evenhand::projections
