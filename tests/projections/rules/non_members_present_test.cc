// non-members-present.
#include "tests/projections/rules/rule_test_util.h"

namespace evenhand::projections::rule_tests {
namespace {

TEST(NonMembersPresentTest, NonMembersWithoutPermissionIsAFinding) {
  CouncilScenario s;
  s.Request(At(2026, 2, 2), "B-1", "green", "transport");
  s.Approve(At(2026, 2, 3), "B-1");
  const uint64_t d = s.Deliver(At(2026, 2, 9), "B-1", {"hos"}, 60, v1::COUNCIL_BUSINESS, 3, false);
  std::vector<v1::Finding> f = s.Findings("non-members-present", At(2026, 3, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_THAT(Evidence(f[0]), ElementsAre(d - 2, d));
  EXPECT_THAT(f[0].explanation(), HasSubstr("3 non-members"));
}

// Mayoral §9: non-members "must not be present when any confidential or
// exempt information is considered", whatever the permission.
TEST(NonMembersPresentTest, ConfidentialInformationWithNonMembersIsAFindingEvenIfPermitted) {
  for (const v1::BriefingContent content : {v1::CONFIDENTIAL_OR_EXEMPT, v1::PUBLIC_INFORMATION}) {
    SCOPED_TRACE(v1::BriefingContent_Name(content));
    CouncilScenario s;
    s.Request(At(2026, 2, 2), "B-1", "green", "transport");
    s.Approve(At(2026, 2, 3), "B-1");
    v1::Payload p = s.Delivery("B-1", {"hos"}, 60, v1::COUNCIL_BUSINESS, 3, true);
    p.mutable_briefing_delivered()->set_content(content);
    s.Add(At(2026, 2, 9), p);
    std::vector<v1::Finding> f = s.Findings("non-members-present", At(2026, 3, 1));
    if (content == v1::PUBLIC_INFORMATION) {
      EXPECT_THAT(f, IsEmpty());
    } else {
      ASSERT_THAT(f, SizeIs(1));
      EXPECT_THAT(f[0].explanation(),
                  HasSubstr("present while confidential or exempt information was given"));
    }
  }
}

TEST(NonMembersPresentTest, NonMembersWithTheHeadOfPaidServicesPermissionAreAllowed) {
  CouncilScenario s;
  s.Request(At(2026, 2, 2), "B-1", "green", "transport");
  s.Approve(At(2026, 2, 3), "B-1");
  s.Deliver(At(2026, 2, 9), "B-1", {"hos"}, 60, v1::COUNCIL_BUSINESS, 3, true);
  EXPECT_THAT(s.Findings("non-members-present", At(2026, 3, 1)), IsEmpty());
}

}  // namespace
}  // namespace evenhand::projections::rule_tests
