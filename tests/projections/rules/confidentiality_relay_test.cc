// confidentiality-relay: what one group said is never relayed to another.
#include "tests/projections/rules/rule_test_util.h"

namespace evenhand::projections::rule_tests {
namespace {

TEST(ConfidentialityRelayTest, PassingOnAGroupsDiscussionWithoutItsAgreementIsAFinding) {
  CouncilScenario s;
  const uint64_t request = s.Request(At(2026, 2, 2), "B-1", "labour", "budget");
  s.Approve(At(2026, 2, 3), "B-1");
  s.Deliver(At(2026, 2, 9), "B-1");
  const uint64_t relay = s.Disclose(At(2026, 2, 12), "B-1", "labour", "conservative", false);
  std::vector<v1::Finding> f = s.Findings("confidentiality-relay", At(2026, 3, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_EQ(f[0].group_id(), "labour");
  EXPECT_THAT(Evidence(f[0]), ElementsAre(request, relay));
}

// What a group said at its own meeting is as confidential as a briefing.
TEST(ConfidentialityRelayTest, PassingOnWhatWasSaidAtAGroupMeetingIsAFinding) {
  CouncilScenario s;
  s.Attend(At(2026, 2, 2), "M-1", "green", "dir", "ceo");
  v1::Payload p;
  auto* d = p.mutable_group_information_disclosed();
  d->set_meeting_id("M-1");
  d->set_from_group_id("green");
  d->set_to_group_id("labour");
  d->set_disclosed_by_officer_id("dir");
  const uint64_t relay = s.Add(At(2026, 2, 5), p);
  std::vector<v1::Finding> f = s.Findings("confidentiality-relay", At(2026, 3, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_EQ(f[0].case_id(), "meeting-M-1");
  EXPECT_THAT(Evidence(f[0]), ::testing::Contains(relay));
  EXPECT_THAT(f[0].explanation(), HasSubstr("discussed at its own meeting to Labour Group"));
}

// Mayoral §9: feedback to other senior officers on a need-to-know basis is
// allowed; to a political assistant (or any officer not senior) it is not.
TEST(ConfidentialityRelayTest, NeedToKnowFeedbackToASeniorOfficerIsAllowed) {
  for (const char* to : {"ceo", "pa"}) {
    SCOPED_TRACE(to);
    CouncilScenario s;
    s.Attend(At(2026, 2, 2), "M-1", "green", "dir", "ceo");
    v1::Payload p;
    auto* d = p.mutable_group_information_disclosed();
    d->set_meeting_id("M-1");
    d->set_from_group_id("green");
    d->set_to_officer_id(to);
    d->set_disclosed_by_officer_id("dir");
    s.Add(At(2026, 2, 5), p);
    std::vector<v1::Finding> f = s.Findings("confidentiality-relay", At(2026, 3, 1));
    if (std::string(to) == "ceo") {
      EXPECT_THAT(f, IsEmpty());
    } else {
      ASSERT_THAT(f, SizeIs(1));
      EXPECT_THAT(f[0].explanation(), HasSubstr("not a senior officer with a need to know"));
    }
  }
}

TEST(ConfidentialityRelayTest, PassingOnWithTheGroupsAgreementIsAllowed) {
  CouncilScenario s;
  s.Request(At(2026, 2, 2), "B-1", "labour", "budget");
  s.Disclose(At(2026, 2, 12), "B-1", "labour", "conservative", true);
  EXPECT_THAT(s.Findings("confidentiality-relay", At(2026, 3, 1)), IsEmpty());
}

}  // namespace
}  // namespace evenhand::projections::rule_tests
