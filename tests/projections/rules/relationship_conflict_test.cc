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
  // An Appointments Panel's decision: Harlow 6.4 and the appointments
  // paragraph 8.3; Harrow 6.3 only asks for the declaration, which is the
  // evidence.
  EXPECT_EQ(f[0].citation(), "Harlow 6.4, 8.3");
  EXPECT_THAT(Evidence(f[0]), ElementsAre(declared, decision));
}

// Any other decision breaks Harlow 6.4 alone; an appeal 8.4 too.
TEST(RelationshipConflictTest, TheCitationFollowsTheKindOfDecision) {
  for (const auto& [body, citation] : std::vector<std::pair<std::string, std::string>>{
           {"Planning Committee", "Harlow 6.4"},
           {"Staff Appeals Panel", "Harlow 6.4, 8.4"},
           {"Disappointments Committee", "Harlow 6.4"},
           {"Appellate review", "Harlow 6.4, 8.4"},
           {"Appointment and appeal panel", "Harlow 6.4, 8.3, 8.4"}}) {
    SCOPED_TRACE(body);
    CouncilScenario s;
    s.Relationship(At(2026, 1, 5), "lab-2", "off");
    v1::Payload p;
    auto* d = p.mutable_member_participated_in_decision();
    d->set_member_id("lab-2");
    d->set_decision_id("D-1");
    d->set_body(body);
    d->add_affected_officer_ids("off");
    s.Add(At(2026, 2, 5), p);
    std::vector<v1::Finding> f = s.Findings("relationship-conflict", At(2026, 3, 1));
    ASSERT_THAT(f, SizeIs(1));
    EXPECT_EQ(f[0].citation(), citation);
  }
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
