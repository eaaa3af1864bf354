// Corrections and withdrawals, as every rule reads them.
#include "tests/projections/rules/rule_test_util.h"

namespace evenhand::projections::rule_tests {
namespace {

TEST(CorrectionTest, ACorrectionChangesReportsFromItsPositionOnAndIsCited) {
  CouncilScenario s;
  s.Request(At(2026, 2, 2), "B-1", "conservative", "budget");
  s.Approve(At(2026, 2, 3), "B-1");
  const uint64_t delivered = s.Deliver(At(2026, 2, 9), "B-1");
  const uint64_t before = s.last_position();
  const uint64_t correction = s.Correct(
      At(2026, 2, 20), delivered, s.Delivery("B-1", {"hos"}, 60, v1::PARTY_POLITICAL_BUSINESS));
  EXPECT_THAT(s.Findings("party-political-business", At(2026, 3, 1), before), IsEmpty());
  std::vector<v1::Finding> f = s.Findings("party-political-business", At(2026, 3, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_THAT(Evidence(f[0]), ElementsAre(delivered - 2, delivered, correction));
}

TEST(CorrectionTest, AWithdrawnEventNoLongerCounts) {
  CouncilScenario s;
  s.Request(At(2026, 2, 2), "B-1", "conservative", "budget");
  const uint64_t delivered = s.Deliver(At(2026, 2, 9), "B-1");
  EXPECT_THAT(s.Findings("approval-required", At(2026, 3, 1)), SizeIs(1));
  s.Correct(At(2026, 2, 20), delivered, std::nullopt);
  EXPECT_THAT(s.Findings("approval-required", At(2026, 3, 1)), IsEmpty());
}

}  // namespace
}  // namespace evenhand::projections::rule_tests
