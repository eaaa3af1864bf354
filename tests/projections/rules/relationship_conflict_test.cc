// relationship-conflict: declared relationships and decisions.
#include "tests/projections/rules/rule_test_util.h"

namespace evenhand::projections::rule_tests {
namespace {

TEST(RelationshipConflictTest, DecisionAffectingADeclaredRelativeIsAFinding) {
  CouncilScenario s;
  const uint64_t declared = s.Relationship(At(2026, 1, 5), "lab-2", "off");
  const uint64_t decision = s.Decision(At(2026, 2, 5), "lab-2", "D-1", {"off", "hos"});
  std::vector<v1::Finding> f = s.Findings("relationship-conflict", At(2026, 3, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_EQ(f[0].group_id(), "labour");
  EXPECT_EQ(f[0].citation(), "Harlow 6.4, 8.3; Harrow 6.3");
  EXPECT_THAT(Evidence(f[0]), ElementsAre(declared, decision));
}

TEST(RelationshipConflictTest, DecisionAffectingOtherOfficersIsNot) {
  CouncilScenario s;
  s.Relationship(At(2026, 1, 5), "lab-2", "off");
  s.Decision(At(2026, 2, 5), "lab-2", "D-1", {"hos"});
  s.Decision(At(2026, 2, 5), "lab-3", "D-2", {"off"});
  EXPECT_THAT(s.Findings("relationship-conflict", At(2026, 3, 1)), IsEmpty());
}

}  // namespace
}  // namespace evenhand::projections::rule_tests
