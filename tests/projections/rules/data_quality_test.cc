// data-quality: what the log cannot judge, flagged.
#include "tests/projections/rules/rule_test_util.h"

namespace evenhand::projections::rule_tests {
namespace {

TEST(DataQualityTest, AGroupLeftWithOneCouncillorIsReported) {
  CouncilScenario s;
  s.Leave(At(2026, 2, 1), "grn-2", "green");
  std::vector<v1::Finding> f = s.Findings("data-quality", At(2026, 3, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_EQ(f[0].severity(), v1::INFO);
  EXPECT_THAT(f[0].explanation(),
              HasSubstr("Green Group had 1 councillor from 1 Feb 2026 to the end of the period"));
}

// A spell below two councillors inside the period is reported, even if the
// group recovered before the period ended (the year's report, not only the
// quarter's).
TEST(DataQualityTest, AGroupBelowTwoCouncillorsForAWhileInTheYearIsReported) {
  CouncilScenario s;
  s.Leave(At(2026, 2, 1), "grn-2", "green");
  s.Join(At(2026, 5, 1), "grn-2", "green");
  const v1::FairnessReport year =
      s.Report(At(2026, 12, 31), std::nullopt, At(2026, 1, 1, 0, 0), At(2027, 1, 1, 0, 0));
  std::vector<v1::Finding> f;
  for (const auto& x : year.findings()) {
    if (x.rule_id() == "data-quality") f.push_back(x);
  }
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_EQ(f[0].group_id(), "green");
  EXPECT_THAT(f[0].explanation(),
              HasSubstr("Green Group had 1 councillor from 1 Feb 2026 until 1 May 2026"));
}

TEST(DataQualityTest, AGroupThatNeverFellBelowTwoIsNotReported) {
  CouncilScenario s;
  s.Join(At(2026, 1, 30), "ind-1", "green");
  s.Leave(At(2026, 2, 1), "grn-2", "green");  // still two: grn-1 and ind-1
  EXPECT_THAT(s.Findings("data-quality", At(2026, 12, 31)), IsEmpty());
}

TEST(DataQualityTest, ABriefingAskedForByACouncillorOutsideTheGroupIsReported) {
  CouncilScenario s;
  s.Request(At(2026, 2, 2), "B-1", "green", "parks", "lab-1");
  s.Request(At(2026, 2, 2), "B-2", "green", "parks", "grn-2");
  std::vector<v1::Finding> f = s.Findings("data-quality", At(2026, 3, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_EQ(f[0].case_id(), "briefing-B-1");
}

}  // namespace
}  // namespace evenhand::projections::rule_tests
