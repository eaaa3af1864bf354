// party-political-business (Harlow 14.5, 15.4; mayoral §9(e)).
#include "tests/projections/rules/rule_test_util.h"

namespace evenhand::projections::rule_tests {
namespace {

TEST(PartyPoliticalBusinessTest, OfficerAtPartyPoliticalBusinessIsAFinding) {
  CouncilScenario s;
  s.Request(At(2026, 2, 2), "B-1", "conservative", "manifesto");
  s.Approve(At(2026, 2, 3), "B-1");
  const uint64_t d = s.Deliver(At(2026, 2, 9), "B-1", {"hos"}, 60, v1::PARTY_POLITICAL_BUSINESS);
  std::vector<v1::Finding> f = s.Findings("party-political-business", At(2026, 3, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_EQ(f[0].citation(), "Harlow 14.5, 15.4; mayoral §9(e)");
  EXPECT_THAT(Evidence(f[0]), ElementsAre(d - 2, d));
}

TEST(PartyPoliticalBusinessTest, CouncilBusinessAndThePoliticalAssistantAreNot) {
  CouncilScenario s;
  s.Request(At(2026, 2, 2), "B-1", "conservative", "budget");
  s.Approve(At(2026, 2, 3), "B-1");
  s.Deliver(At(2026, 2, 9), "B-1", {"hos"}, 60, v1::COUNCIL_BUSINESS);
  s.Attend(At(2026, 2, 10), "M-1", "labour", "pa", "", v1::PARTY_POLITICAL_BUSINESS);
  EXPECT_THAT(s.Findings("party-political-business", At(2026, 3, 1)), IsEmpty());
}

}  // namespace
}  // namespace evenhand::projections::rule_tests
