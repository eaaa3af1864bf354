// approval-required: officers at group meetings only with the Head of Paid Service's agreement.
#include "tests/projections/rules/rule_test_util.h"

namespace evenhand::projections::rule_tests {
namespace {

TEST(ApprovalRequiredTest, BriefingWithoutAnyAgreementIsAFinding) {
  CouncilScenario s;
  const uint64_t request = s.Request(At(2026, 2, 2), "B-1", "green", "parks");
  const uint64_t delivered = s.Deliver(At(2026, 2, 9), "B-1");
  std::vector<v1::Finding> f = s.Findings("approval-required", At(2026, 3, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_EQ(f[0].group_id(), "green");
  EXPECT_THAT(Evidence(f[0]), ElementsAre(request, delivered));
  EXPECT_THAT(f[0].explanation(), HasSubstr("nobody agreed it beforehand"));
}

TEST(ApprovalRequiredTest, ApprovalByAHeadOfServiceWithoutDelegationIsAFinding) {
  CouncilScenario s;
  const uint64_t request = s.Request(At(2026, 2, 2), "B-1", "green", "parks");
  const uint64_t approval = s.Approve(At(2026, 2, 3), "B-1", "hos");
  const uint64_t delivered = s.Deliver(At(2026, 2, 9), "B-1");
  std::vector<v1::Finding> f = s.Findings("approval-required", At(2026, 3, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_THAT(Evidence(f[0]), ElementsAre(request, approval, delivered));
}

TEST(ApprovalRequiredTest, ApprovalByAnActiveDelegateIsEnough) {
  CouncilScenario s;
  s.Delegate(At(2026, 1, 5), "dir", "ceo");
  s.Request(At(2026, 2, 2), "B-1", "green", "parks");
  s.Approve(At(2026, 2, 3), "B-1", "dir");
  s.Deliver(At(2026, 2, 9), "B-1");
  EXPECT_THAT(s.Findings("approval-required", At(2026, 3, 1)), IsEmpty());
}

TEST(ApprovalRequiredTest, ApprovalAfterTheDelegationWasRevokedIsAFinding) {
  CouncilScenario s;
  s.Delegate(At(2026, 1, 5), "dir", "ceo");
  s.Revoke(At(2026, 1, 30), "dir", "ceo");
  s.Request(At(2026, 2, 2), "B-1", "green", "parks");
  s.Approve(At(2026, 2, 3), "B-1", "dir");
  s.Deliver(At(2026, 2, 9), "B-1");
  EXPECT_THAT(s.Findings("approval-required", At(2026, 3, 1)), SizeIs(1));
}

TEST(ApprovalRequiredTest, AttendanceAtAGroupMeetingNeedsAgreementButNotForThePoliticalAssistant) {
  CouncilScenario s;
  const uint64_t unagreed = s.Attend(At(2026, 2, 10), "M-1", "labour", "dir", "");
  s.Attend(At(2026, 2, 10), "M-1", "labour", "pa", "");
  s.Attend(At(2026, 2, 17), "M-2", "labour", "dir", "mo");
  std::vector<v1::Finding> f = s.Findings("approval-required", At(2026, 3, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_THAT(Evidence(f[0]), ElementsAre(unagreed));
}

TEST(ApprovalRequiredTest, APoliticalAssistantAtAnotherGroupsMeetingNeedsAgreementLikeAnyOfficer) {
  CouncilScenario s;  // "pa" works for the Labour Group
  s.Attend(At(2026, 2, 10), "M-1", "labour", "pa", "");
  const uint64_t elsewhere = s.Attend(At(2026, 2, 11), "M-2", "conservative", "pa", "");
  std::vector<v1::Finding> f = s.Findings("approval-required", At(2026, 3, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_EQ(f[0].group_id(), "conservative");
  EXPECT_THAT(Evidence(f[0]), ElementsAre(elsewhere));
}

// An agreement recorded and then withdrawn by a correction is no agreement:
// the briefing went ahead without one, and the finding cites the withdrawn
// approval with its withdrawal.
TEST(ApprovalRequiredTest, AnApprovalWithdrawnByACorrectionIsCitedButNotCounted) {
  CouncilScenario s;
  const uint64_t request = s.Request(At(2026, 2, 2), "B-1", "green", "parks");
  const uint64_t approval = s.Approve(At(2026, 2, 3), "B-1");
  const uint64_t delivered = s.Deliver(At(2026, 2, 9), "B-1");
  EXPECT_THAT(s.Findings("approval-required", At(2026, 3, 1)), IsEmpty());
  const uint64_t withdrawal = s.Correct(At(2026, 2, 20), approval, std::nullopt);
  std::vector<v1::Finding> f = s.Findings("approval-required", At(2026, 3, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_THAT(Evidence(f[0]), ElementsAre(request, approval, delivered, withdrawal));
  EXPECT_THAT(f[0].explanation(), HasSubstr("nobody agreed it beforehand"));
  EXPECT_THAT(f[0].explanation(),
              HasSubstr("An approval recorded on 3 Feb 2026 was withdrawn by a correction."));
  // As the log stood before the withdrawal, the agreement stood.
  EXPECT_THAT(s.Findings("approval-required", At(2026, 3, 1), withdrawal - 1), IsEmpty());
}

}  // namespace
}  // namespace evenhand::projections::rule_tests
