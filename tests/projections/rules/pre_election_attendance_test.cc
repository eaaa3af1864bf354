// pre-election-attendance: no officers at group meetings in a pre-election period.
#include "tests/projections/rules/rule_test_util.h"

namespace evenhand::projections::rule_tests {
namespace {

class PreElectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    declared_ = s_.PreElection(At(2026, 3, 27), At(2026, 3, 27), At(2026, 5, 7));
  }
  CouncilScenario s_;
  uint64_t declared_ = 0;
};

TEST_F(PreElectionTest, BriefingOnElectionDayIsAFinding) {
  const uint64_t request = s_.Request(At(2026, 5, 1), "B-1", "labour", "housing");
  s_.Approve(At(2026, 5, 1, 12), "B-1");
  const uint64_t delivered = s_.Deliver(At(2026, 5, 7, 19), "B-1");
  std::vector<v1::Finding> f = s_.Findings("pre-election-attendance", At(2026, 6, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_EQ(f[0].citation(), "mayoral §9");
  EXPECT_THAT(Evidence(f[0]), ElementsAre(declared_, request, delivered));
}

TEST_F(PreElectionTest, BriefingTheDayAfterElectionDayIsNot) {
  s_.Request(At(2026, 5, 1), "B-1", "labour", "housing");
  s_.Approve(At(2026, 5, 1, 12), "B-1");
  s_.Deliver(At(2026, 5, 8, 9), "B-1");
  EXPECT_THAT(s_.Findings("pre-election-attendance", At(2026, 6, 1)), IsEmpty());
}

TEST_F(PreElectionTest, AttendanceInThePeriodIsAFindingExceptForTheGroupsOwnPoliticalAssistant) {
  const uint64_t dir = s_.Attend(At(2026, 4, 14), "M-1", "green", "dir", "ceo");
  s_.Attend(At(2026, 4, 14), "M-2", "labour", "pa", "");
  const uint64_t pa_elsewhere = s_.Attend(At(2026, 4, 15), "M-3", "green", "pa", "ceo");
  std::vector<v1::Finding> f = s_.Findings("pre-election-attendance", At(2026, 6, 1));
  ASSERT_THAT(f, SizeIs(2));
  EXPECT_THAT(Evidence(f[0]), ElementsAre(declared_, dir));
  EXPECT_THAT(Evidence(f[1]), ElementsAre(declared_, pa_elsewhere));
}

TEST(PreElectionAsOfTest, APeriodDeclaredLateShowsOnlyFromItsPosition) {
  CouncilScenario s;
  s.Request(At(2026, 4, 1), "B-1", "labour", "housing");
  s.Approve(At(2026, 4, 1, 12), "B-1");
  s.Deliver(At(2026, 4, 14), "B-1");
  const uint64_t before = s.last_position();
  // The election office records the period only in May.
  s.PreElection(At(2026, 5, 2), At(2026, 3, 27), At(2026, 5, 7));
  EXPECT_THAT(s.Findings("pre-election-attendance", At(2026, 6, 1), before), IsEmpty());
  EXPECT_THAT(s.Findings("pre-election-attendance", At(2026, 6, 1)), SizeIs(1));
}

}  // namespace
}  // namespace evenhand::projections::rule_tests
