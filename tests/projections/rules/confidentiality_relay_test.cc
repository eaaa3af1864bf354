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
      // Labour's assistant: what reaches them reaches Labour, a relay to
      // another group (every paragraph cited).
      ASSERT_THAT(f, SizeIs(1));
      EXPECT_THAT(f[0].explanation(), HasSubstr("to Labour Group Assistant, Labour Group's "
                                                "political assistant, on"));
      EXPECT_EQ(f[0].citation(), "Harlow 15.8; mayoral §9; Harrow 4.2; Barnet 9.3");
    }
  }
}

// Only the mayoral protocol limits feedback to senior officers (§9): Harlow
// 15.8 allows it to "other Officers on a need-to-know basis", Harrow 4.2 and
// Barnet 9.3 "with other officers as is necessary". A finding of a
// disclosure to a junior officer cites §9 alone; one to another group cites
// them all.
TEST(ConfidentialityRelayTest, ADisclosureToAJuniorOfficerCitesOnlyTheMayoralProtocol) {
  CouncilScenario s;
  s.Attend(At(2026, 2, 2), "M-1", "green", "dir", "ceo");
  for (const char* to : {"off", ""}) {
    v1::Payload p;
    auto* d = p.mutable_group_information_disclosed();
    d->set_meeting_id("M-1");
    d->set_from_group_id("green");
    if (*to != '\0') {
      d->set_to_officer_id(to);
    } else {
      d->set_to_group_id("labour");
    }
    d->set_disclosed_by_officer_id("dir");
    s.Add(At(2026, 2, 5), p);
  }
  std::vector<v1::Finding> f = s.Findings("confidentiality-relay", At(2026, 3, 1));
  ASSERT_THAT(f, SizeIs(2));
  std::vector<std::string> citations = {f[0].citation(), f[1].citation()};
  EXPECT_THAT(citations, ::testing::UnorderedElementsAre(
                             "mayoral §9", "Harlow 15.8; mayoral §9; Harrow 4.2; Barnet 9.3"));
}

// Nothing reaches another group when it goes to the group itself, to its own
// political assistant (group office staff, who work for it), or to the
// officer who said it (a log recorded before the server refused the first
// and the last may hold them): no finding.
TEST(ConfidentialityRelayTest, PassingAGroupsDiscussionToItselfOrItsOwnAssistantRelaysNothing) {
  CouncilScenario s;
  s.Attend(At(2026, 2, 2), "M-1", "labour", "dir", "ceo");
  for (const char* to : {"labour", "pa", "dir"}) {
    v1::Payload p;
    auto* d = p.mutable_group_information_disclosed();
    d->set_meeting_id("M-1");
    d->set_from_group_id("labour");
    if (std::string(to) == "labour") {
      d->set_to_group_id(to);
    } else {
      d->set_to_officer_id(to);
    }
    d->set_disclosed_by_officer_id("dir");
    s.Add(At(2026, 2, 5), p);
  }
  EXPECT_THAT(s.Findings("confidentiality-relay", At(2026, 3, 1)), IsEmpty());
}

TEST(ConfidentialityRelayTest, PassingOnWithTheGroupsAgreementIsAllowed) {
  CouncilScenario s;
  s.Request(At(2026, 2, 2), "B-1", "labour", "budget");
  s.Disclose(At(2026, 2, 12), "B-1", "labour", "conservative", true);
  EXPECT_THAT(s.Findings("confidentiality-relay", At(2026, 3, 1)), IsEmpty());
}

}  // namespace
}  // namespace evenhand::projections::rule_tests
