// One scenario per rule that breaks it (a finding citing the right events)
// and a near miss that does not. Dates are UK local; Easter 2026 (Good Friday
// 3 April, Easter Monday 6 April) makes the working-day cases.
#include <algorithm>

#include "base/time_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/council_scenario.h"

namespace evenhand::projections {
namespace {

using ::evenhand::testing::At;
using ::evenhand::testing::CouncilScenario;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

std::vector<uint64_t> Evidence(const v1::Finding& f) {
  return {f.evidence_positions().begin(), f.evidence_positions().end()};
}

std::vector<std::string> Groups(const std::vector<v1::Finding>& findings) {
  std::vector<std::string> out;
  for (const auto& f : findings) out.push_back(f.group_id());
  std::sort(out.begin(), out.end());
  return out;
}

// ---- equal-offer -----------------------------------------------------------

class EqualOfferTest : public ::testing::Test {
 protected:
  void SetUp() override {
    request_ = s_.Request(At(2026, 3, 23), "B-1", "labour", "local-plan");
    s_.Approve(At(2026, 3, 24), "B-1");
    // Wednesday before Easter: working days 1-5 after it are Thu 2, Tue 7,
    // Wed 8, Thu 9 and Fri 10 April.
    delivered_ = s_.Deliver(At(2026, 4, 1, 12), "B-1");
  }
  CouncilScenario s_;
  uint64_t request_ = 0, delivered_ = 0;
};

TEST_F(EqualOfferTest, OtherGroupsNeverOfferedTheBriefingAreFindings) {
  std::vector<v1::Finding> f = s_.Findings("equal-offer", At(2026, 4, 20));
  ASSERT_THAT(f, SizeIs(2));
  EXPECT_THAT(Groups(f), ElementsAre("conservative", "green"));
  for (const auto& finding : f) {
    EXPECT_EQ(finding.citation(), "Harrow 5.2; mayoral §9; Barnet 9.2");
    EXPECT_EQ(finding.severity(), v1::HIGH);
    EXPECT_EQ(finding.case_id(), "briefing-B-1");
    // The request, the delivery, and the group's recognition.
    EXPECT_THAT(Evidence(finding), SizeIs(3));
    EXPECT_EQ(Evidence(finding)[1], request_);
    EXPECT_EQ(Evidence(finding)[2], delivered_);
    EXPECT_THAT(finding.explanation(), HasSubstr("had not been offered the same briefing"));
  }
}

TEST_F(EqualOfferTest, AnOfferOnTheFifthWorkingDayAcrossEasterIsInTime) {
  s_.OfferOthers(At(2026, 4, 10, 16), "labour", "local-plan", "B-1");
  EXPECT_THAT(s_.Findings("equal-offer", At(2026, 5, 1)), IsEmpty());
}

TEST_F(EqualOfferTest, AnOfferOnTheSixthWorkingDayIsLate) {
  s_.Offer(At(2026, 4, 10, 16), "O-con", "conservative", "local-plan", "B-1");
  const uint64_t late = s_.Offer(At(2026, 4, 13, 9), "O-grn", "green", "local-plan", "B-1");
  std::vector<v1::Finding> f = s_.Findings("equal-offer", At(2026, 5, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_EQ(f[0].group_id(), "green");
  EXPECT_THAT(Evidence(f[0]), ElementsAre(request_, delivered_, late));
  EXPECT_THAT(f[0].explanation(), HasSubstr("6 working days later (the limit is 5)"));
}

TEST_F(EqualOfferTest, NothingIsDueBeforeTheDeadlinePasses) {
  // On working day 5 the offers may still come.
  EXPECT_THAT(s_.Findings("equal-offer", At(2026, 4, 10, 17)), IsEmpty());
  EXPECT_THAT(s_.Findings("equal-offer", At(2026, 4, 11, 0, 1)), SizeIs(2));
}

TEST_F(EqualOfferTest, AGroupGivenItsOwnBriefingInTimeNeedsNoOffer) {
  s_.Request(At(2026, 3, 30), "B-2", "conservative", "local-plan");
  s_.Approve(At(2026, 3, 31), "B-2");
  s_.Deliver(At(2026, 4, 9, 10), "B-2");
  s_.Offer(At(2026, 4, 2), "O-grn", "green", "local-plan", "B-1");
  EXPECT_THAT(s_.Findings("equal-offer", At(2026, 5, 1)), IsEmpty());
}

// Harrow 5.2, mayoral §9: a group's own request is not an offer, and its
// decline (by anyone) does not make it one.
TEST_F(EqualOfferTest, AGroupWhoseOwnRequestWasDeclinedWasStillNotOffered) {
  const uint64_t own = s_.Request(At(2026, 4, 2), "B-2", "conservative", "local-plan");
  const uint64_t declined = s_.Decline(At(2026, 4, 7), "B-2", "ceo");
  s_.Offer(At(2026, 4, 2), "O-grn", "green", "local-plan", "B-1");
  std::vector<v1::Finding> f = s_.Findings("equal-offer", At(2026, 5, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_EQ(f[0].group_id(), "conservative");
  EXPECT_THAT(f[0].explanation(), HasSubstr("had not been offered the same briefing"));
  EXPECT_THAT(
      f[0].explanation(),
      HasSubstr("was declined on 7 Apr 2026; a request, and its decline, are not an offer"));
  EXPECT_THAT(f[0].explanation(), ::testing::Not(HasSubstr("was offered")));
  EXPECT_THAT(Evidence(f[0]), ::testing::IsSupersetOf({own, declined}));
}

// The lookback counts from when a briefing was given, not asked for.
TEST_F(EqualOfferTest, AnOldRequestGivenInTheWindowCountsAsGiven) {
  s_.Request(At(2025, 12, 1), "B-2", "conservative", "local-plan");
  s_.Approve(At(2025, 12, 2), "B-2");
  s_.Deliver(At(2026, 4, 2, 10), "B-2");  // given in the window, asked long before
  s_.Offer(At(2026, 4, 2), "O-grn", "green", "local-plan", "B-1");
  EXPECT_THAT(s_.Findings("equal-offer", At(2026, 5, 1)), IsEmpty());
}

TEST_F(EqualOfferTest, AGroupWhoseOwnRequestIsStillWaitingWasNotOffered) {
  s_.Request(At(2026, 4, 2), "B-2", "conservative", "local-plan");
  s_.Approve(At(2026, 4, 3), "B-2");
  s_.Offer(At(2026, 4, 2), "O-grn", "green", "local-plan", "B-1");
  std::vector<v1::Finding> f = s_.Findings("equal-offer", At(2026, 5, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_THAT(f[0].explanation(), HasSubstr("had not been met; a request is not an offer"));
}

TEST_F(EqualOfferTest, AGroupGivenItsOwnBriefingOnlyAfterTheDeadlineIsLateNotOffered) {
  s_.Request(At(2026, 4, 2), "B-2", "conservative", "local-plan");
  s_.Approve(At(2026, 4, 3), "B-2");
  const uint64_t given = s_.Deliver(At(2026, 4, 14, 10), "B-2");
  s_.Offer(At(2026, 4, 2), "O-grn", "green", "local-plan", "B-1");
  std::vector<v1::Finding> f = s_.Findings("equal-offer", At(2026, 5, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_THAT(f[0].explanation(),
              HasSubstr("was not offered it, and was given a briefing on the same matter only on "
                        "14 Apr 2026"));
  EXPECT_THAT(Evidence(f[0]), ElementsAre(request_, delivered_, given));
}

// A group dissolved inside the offer window is owed nothing: there is no
// group left to offer it to. One dissolved after the deadline had passed was
// owed the offer, and missed it.
TEST(EqualOfferDissolutionTest, DissolvedInsideTheWindowLapsesAfterItIsAFinding) {
  for (const bool before : {true, false}) {
    SCOPED_TRACE(before ? "dissolved before the deadline" : "dissolved after the deadline");
    CouncilScenario s;
    s.Request(At(2026, 3, 23), "B-1", "labour", "local-plan");
    s.Approve(At(2026, 3, 24), "B-1");
    s.Deliver(At(2026, 4, 1, 12), "B-1");  // deadline: end of Friday 10 April
    s.Offer(At(2026, 4, 2), "O-con", "conservative", "local-plan", "B-1");
    s.Leave(At(2026, 4, 7), "grn-2", "green");
    s.Dissolve(before ? At(2026, 4, 8) : At(2026, 4, 13), "green");
    std::vector<v1::Finding> f = s.Findings("equal-offer", At(2026, 5, 1));
    if (before) {
      EXPECT_THAT(f, IsEmpty());
    } else {
      ASSERT_THAT(f, SizeIs(1));
      EXPECT_EQ(f[0].group_id(), "green");
    }
  }
}

TEST_F(EqualOfferTest, AGroupRecognisedAfterTheBriefingIsNotOwedAnOffer) {
  CouncilScenario s;
  s.Request(At(2026, 3, 23), "B-1", "labour", "budget");
  s.Approve(At(2026, 3, 24), "B-1");
  s.Deliver(At(2026, 4, 1, 12), "B-1");
  s.OfferOthers(At(2026, 4, 2), "labour", "budget", "B-1");
  s.RecogniseGroup(At(2026, 4, 2), "indep", "Independent Group", {"ind-1", "lab-3"});
  EXPECT_THAT(s.Findings("equal-offer", At(2026, 5, 1)), IsEmpty());
}

// ---- approval-required -------------------------------------------------------

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

// ---- pre-election-attendance -------------------------------------------------

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

// ---- same-matter-decline ------------------------------------------------------

class SameMatterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    s_.Request(At(2026, 1, 5), "B-1", "labour", "waste");
    s_.Approve(At(2026, 1, 5, 12), "B-1", "ceo", {"dir"});
    advised_ = s_.Deliver(At(2026, 1, 12), "B-1", {"dir"});
    request_ = s_.Request(At(2026, 1, 20), "B-2", "green", "waste");
  }
  CouncilScenario s_;
  uint64_t advised_ = 0, request_ = 0;
};

TEST_F(SameMatterTest, DecliningAnotherGroupOnTheSameMatterIsAFinding) {
  const uint64_t declined = s_.Decline(At(2026, 1, 21), "B-2", "dir", v1::OFFICER_UNAVAILABLE);
  std::vector<v1::Finding> f = s_.Findings("same-matter-decline", At(2026, 3, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_EQ(f[0].group_id(), "green");
  EXPECT_EQ(f[0].citation(), "Harlow 15.12");
  EXPECT_THAT(Evidence(f[0]), ElementsAre(advised_, request_, declined));
}

TEST_F(SameMatterTest, DecliningBecauseNonMembersArePresentIsAllowed) {
  s_.Decline(At(2026, 1, 21), "B-2", "dir", v1::NON_MEMBERS_PRESENT);
  EXPECT_THAT(s_.Findings("same-matter-decline", At(2026, 3, 1)), IsEmpty());
}

// A reason is not an excuse: the exemption holds only when the reason was
// true at the moment of the decline.
TEST_F(SameMatterTest, APreElectionReasonOutsideAnyPreElectionPeriodIsNoExcuse) {
  const uint64_t declined = s_.Decline(At(2026, 1, 21), "B-2", "dir", v1::PRE_ELECTION_PERIOD);
  std::vector<v1::Finding> f = s_.Findings("same-matter-decline", At(2026, 3, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_THAT(Evidence(f[0]), ElementsAre(advised_, request_, declined));
  EXPECT_THAT(f[0].explanation(),
              HasSubstr("not excused: it gave the pre-election period as its reason, but no "
                        "pre-election period was in force on 21 Jan 2026"));
}

TEST_F(SameMatterTest, APreElectionReasonInsideAPreElectionPeriodIsAllowed) {
  s_.PreElection(At(2026, 1, 15), At(2026, 1, 19), At(2026, 2, 12));
  s_.Decline(At(2026, 1, 21), "B-2", "dir", v1::PRE_ELECTION_PERIOD);
  EXPECT_THAT(s_.Findings("same-matter-decline", At(2026, 3, 1)), IsEmpty());
}

TEST_F(SameMatterTest, APartyPoliticalReasonForCouncilBusinessIsNoExcuse) {
  s_.Decline(At(2026, 1, 21), "B-2", "dir", v1::PARTY_POLITICAL);
  std::vector<v1::Finding> f = s_.Findings("same-matter-decline", At(2026, 3, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_THAT(f[0].explanation(),
              HasSubstr("the request did not say its business was party-political"));
}

TEST(SameMatterReasonTest, APartyPoliticalReasonForARequestSayingSoIsAllowed) {
  CouncilScenario s;
  s.Request(At(2026, 1, 5), "B-1", "labour", "waste");
  s.Approve(At(2026, 1, 5, 12), "B-1", "ceo", {"dir"});
  s.Deliver(At(2026, 1, 12), "B-1", {"dir"});
  v1::Payload p;
  auto* r = p.mutable_briefing_requested();
  r->set_briefing_id("B-2");
  r->set_group_id("green");
  r->set_matter_id("waste");
  r->set_topic("campaign on waste");
  r->set_requested_by_member_id("grn-1");
  r->set_routed_to_officer_id("ceo");
  r->set_business(v1::PARTY_POLITICAL_BUSINESS);
  s.Add(At(2026, 1, 20), p);
  s.Decline(At(2026, 1, 21), "B-2", "dir", v1::PARTY_POLITICAL);
  EXPECT_THAT(s.Findings("same-matter-decline", At(2026, 3, 1)), IsEmpty());
}

// The parity counts leave out only the declines whose reason held.
TEST(DeclineCountsTest, OnlyDeclinesWhoseReasonHeldAreCountedAsRequired) {
  CouncilScenario s;
  s.PreElection(At(2026, 3, 20), At(2026, 3, 27), At(2026, 5, 7));
  s.Request(At(2026, 4, 1), "B-1", "green", "parks");
  s.Decline(At(2026, 4, 2), "B-1", "ceo", v1::PRE_ELECTION_PERIOD);  // in the period
  s.Request(At(2026, 6, 1), "B-2", "green", "parks");
  s.Decline(At(2026, 6, 2), "B-2", "ceo", v1::PRE_ELECTION_PERIOD);  // not: no excuse
  s.Request(At(2026, 6, 3), "B-3", "green", "roads");
  s.Decline(At(2026, 6, 4), "B-3", "ceo", v1::PARTY_POLITICAL);  // council business
  const v1::FairnessReport report = s.Report(At(2026, 7, 1));
  for (const auto& g : report.groups()) {
    if (g.group_id() != "green") continue;
    EXPECT_EQ(g.briefings_declined(), 3u);
    EXPECT_EQ(g.briefings_declined_required(), 1u);
  }
}

TEST_F(SameMatterTest, DecliningOnADifferentMatterIsAllowed) {
  s_.Request(At(2026, 1, 20), "B-3", "green", "libraries");
  s_.Decline(At(2026, 1, 21), "B-3", "dir", v1::OFFICER_UNAVAILABLE);
  EXPECT_THAT(s_.Findings("same-matter-decline", At(2026, 3, 1)), IsEmpty());
}

// ---- written-query-reply ------------------------------------------------------

class WrittenQueryTest : public ::testing::Test {
 protected:
  // Received Wednesday 1 April 2026: working day 5 is Friday 10 April.
  void SetUp() override { received_ = s_.Query(At(2026, 4, 1), "Q-1", "con-1"); }
  CouncilScenario s_;
  uint64_t received_ = 0;
};

TEST_F(WrittenQueryTest, AnswerOnWorkingDayFiveAcrossEasterIsInTime) {
  s_.Answer(At(2026, 4, 10, 16), "Q-1");
  EXPECT_THAT(s_.Findings("written-query-reply", At(2026, 5, 1)), IsEmpty());
}

TEST_F(WrittenQueryTest, AnswerOnWorkingDaySixIsLate) {
  const uint64_t answer = s_.Answer(At(2026, 4, 13, 9), "Q-1");
  std::vector<v1::Finding> f = s_.Findings("written-query-reply", At(2026, 5, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_EQ(f[0].group_id(), "conservative");
  EXPECT_EQ(f[0].citation(), "Harlow 6.6, 15.18");
  EXPECT_THAT(Evidence(f[0]), ElementsAre(received_, answer));
  EXPECT_THAT(f[0].explanation(), HasSubstr("after 6 working days"));
}

TEST_F(WrittenQueryTest, NoReplyIsPendingUntilTheDeadlineThenAFinding) {
  EXPECT_THAT(s_.Findings("written-query-reply", At(2026, 4, 10, 23)), IsEmpty());
  std::vector<v1::Finding> f = s_.Findings("written-query-reply", At(2026, 4, 11, 0, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_THAT(Evidence(f[0]), ElementsAre(received_));
}

TEST_F(WrittenQueryTest, AcknowledgementWithATimescaleKeptIsInTime) {
  s_.Acknowledge(At(2026, 4, 2), "Q-1", At(2026, 4, 20, 17));
  s_.Answer(At(2026, 4, 20, 12), "Q-1");
  EXPECT_THAT(s_.Findings("written-query-reply", At(2026, 5, 1)), IsEmpty());
}

TEST_F(WrittenQueryTest, MissingTheAcknowledgedTimescaleWithoutRevisionIsAFinding) {
  const uint64_t ack = s_.Acknowledge(At(2026, 4, 2), "Q-1", At(2026, 4, 20, 17));
  const uint64_t answer = s_.Answer(At(2026, 4, 22), "Q-1");
  std::vector<v1::Finding> f = s_.Findings("written-query-reply", At(2026, 5, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_THAT(Evidence(f[0]), ElementsAre(received_, ack, answer));
  EXPECT_THAT(f[0].explanation(), HasSubstr("no revised timescale"));
}

TEST_F(WrittenQueryTest, ARevisedTimescaleSentBeforeTheOldOnePassedIsKept) {
  s_.Acknowledge(At(2026, 4, 2), "Q-1", At(2026, 4, 20, 17));
  s_.Revise(At(2026, 4, 17), "Q-1", At(2026, 4, 24, 17));
  s_.Answer(At(2026, 4, 22), "Q-1");
  EXPECT_THAT(s_.Findings("written-query-reply", At(2026, 5, 1)), IsEmpty());
}

TEST_F(WrittenQueryTest, ARevisionSentAfterTheTimescalePassedComesTooLate) {
  s_.Acknowledge(At(2026, 4, 2), "Q-1", At(2026, 4, 20, 17));
  s_.Revise(At(2026, 4, 21), "Q-1", At(2026, 4, 24, 17));
  s_.Answer(At(2026, 4, 22), "Q-1");
  EXPECT_THAT(s_.Findings("written-query-reply", At(2026, 5, 1)), SizeIs(1));
}

// A promised date is a day (events.proto): a reply at any time on it is on
// time, however the day was stored.
TEST_F(WrittenQueryTest, AReplyOnThePromisedDayIsOnTimeWhateverTheHour) {
  s_.Acknowledge(At(2026, 4, 2), "Q-1", At(2026, 4, 20, 0, 0));  // midnight starting 20 April
  s_.Answer(At(2026, 4, 20, 11), "Q-1");
  EXPECT_THAT(s_.Findings("written-query-reply", At(2026, 5, 1)), IsEmpty());
}

TEST_F(WrittenQueryTest, AReplyTheDayAfterThePromisedDayIsLate) {
  s_.Acknowledge(At(2026, 4, 2), "Q-1", At(2026, 4, 20, 0, 0));
  s_.Answer(At(2026, 4, 21, 0, 30), "Q-1");
  std::vector<v1::Finding> f = s_.Findings("written-query-reply", At(2026, 5, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_THAT(f[0].explanation(),
              HasSubstr("promised by 20 Apr 2026, but answered only on 21 Apr 2026"));
}

TEST_F(WrittenQueryTest, AnUnansweredPromiseIsDueAtTheEndOfItsDay) {
  s_.Acknowledge(At(2026, 4, 2), "Q-1", At(2026, 4, 20, 9));
  EXPECT_THAT(s_.Findings("written-query-reply", At(2026, 4, 20, 23, 59)), IsEmpty());
  EXPECT_THAT(s_.Findings("written-query-reply", At(2026, 4, 21, 0, 0)), SizeIs(1));
}

// One instant, one verdict: the group table and the findings agree on
// either side of the deadline, to the second (end of working day 5 is
// midnight starting Saturday 11 April, UK time).
TEST_F(WrittenQueryTest, TheTableAndTheFindingsAgreeOnEitherSideOfTheDeadline) {
  const absl::Time deadline = At(2026, 4, 11, 0, 0);
  for (absl::Time as_of : {deadline - absl::Seconds(1), deadline, deadline + absl::Seconds(1)}) {
    SCOPED_TRACE(absl::FormatTime(as_of));
    const v1::FairnessReport report = s_.Report(as_of);
    int findings = 0;
    for (const auto& f : report.findings()) findings += f.rule_id() == "written-query-reply";
    const v1::GroupMetrics* con = nullptr;
    for (const auto& g : report.groups()) {
      if (g.group_id() == "conservative") con = &g;
    }
    ASSERT_NE(con, nullptr);
    const bool late = as_of >= deadline;
    EXPECT_EQ(findings, late ? 1 : 0);
    EXPECT_EQ(con->queries_unanswered(), late ? 1u : 0u);
    EXPECT_EQ(con->queries_not_yet_due(), late ? 0u : 1u);
  }
}

TEST_F(WrittenQueryTest, AnAnswerAtTheDeadlineInstantIsLateAndOneSecondBeforeIsNot) {
  CouncilScenario before;
  before.Query(At(2026, 4, 1), "Q-1", "con-1");
  before.Answer(At(2026, 4, 11, 0, 0) - absl::Seconds(1), "Q-1");
  EXPECT_THAT(before.Findings("written-query-reply", At(2026, 5, 1)), IsEmpty());
  CouncilScenario at;
  at.Query(At(2026, 4, 1), "Q-1", "con-1");
  at.Answer(At(2026, 4, 11, 0, 0), "Q-1");
  EXPECT_THAT(at.Findings("written-query-reply", At(2026, 5, 1)), SizeIs(1));
}

// The calendar runs out: a deadline past its last year is counted with
// weekends only, so it is flagged, not judged in silence. (3 January 2028 is
// a bank holiday GOV.UK had not published when the shipped file was made.)
TEST(CalendarCoverageTest, ADeadlineBeyondTheCalendarIsFlagged) {
  CouncilScenario s;
  ASSERT_EQ(s.calendar().last_year(), 2027);
  s.Query(At(2027, 12, 23), "Q-9", "con-1");
  s.Answer(At(2028, 1, 4), "Q-9");
  std::vector<v1::Finding> f = s.Findings("data-quality", At(2028, 2, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_EQ(f[0].case_id(), "query-Q-9");
  EXPECT_THAT(f[0].explanation(),
              HasSubstr("falls outside the bank holiday calendar, which covers 2018 to 2027: it "
                        "was counted with weekends only and may be wrong"));
}

TEST(CalendarCoverageTest, ADeadlineInsideTheCalendarIsNotFlagged) {
  CouncilScenario s;
  s.Query(At(2027, 12, 1), "Q-9", "con-1");
  s.Answer(At(2027, 12, 6), "Q-9");
  EXPECT_THAT(s.Findings("data-quality", At(2028, 2, 1)), IsEmpty());
}

// A withdrawn request is neither granted nor declined, and owes nothing.
TEST(BriefingWithdrawnTest, AWithdrawnRequestCountsAsNeitherGrantedNorDeclined) {
  CouncilScenario s;
  s.Request(At(2026, 2, 2), "B-1", "green", "parks");
  v1::Payload p;
  p.mutable_briefing_request_withdrawn()->set_briefing_id("B-1");
  p.mutable_briefing_request_withdrawn()->set_withdrawn_by_member_id("grn-1");
  s.Add(At(2026, 2, 4), p);
  const v1::FairnessReport report = s.Report(At(2026, 3, 1));
  for (const auto& g : report.groups()) {
    if (g.group_id() != "green") continue;
    EXPECT_EQ(g.briefings_requested(), 1u);
    EXPECT_EQ(g.briefings_declined(), 0u);
    EXPECT_EQ(g.briefings_approved(), 0u);
  }
  EXPECT_THAT(report.obligations(), IsEmpty());
  EXPECT_THAT(report.findings(), IsEmpty());
}

// ---- obligations: open, not yet late ----------------------------------------------

std::vector<v1::Obligation> Obligations(const CouncilScenario& s, absl::Time now,
                                        const std::string& rule) {
  std::vector<v1::Obligation> out;
  const v1::FairnessReport report = s.Report(now);
  for (const auto& o : report.obligations()) {
    if (o.rule_id() == rule) out.push_back(o);
  }
  return out;
}

TEST_F(EqualOfferTest, OffersOwedAreObligationsUntilTheDeadlineThenFindings) {
  // Thursday 9 April: Friday 10 April is the last working day to offer.
  std::vector<v1::Obligation> o = Obligations(s_, At(2026, 4, 9, 12), "equal-offer");
  ASSERT_THAT(o, SizeIs(2));
  for (const auto& x : o) {
    EXPECT_EQ(x.case_id(), "briefing-B-1");
    EXPECT_EQ(x.officer_id(), "ceo");
    EXPECT_EQ(FromProtoTime(x.due_at()), At(2026, 4, 11, 0, 0));
    EXPECT_EQ(x.working_days_left(), 1u);
    EXPECT_EQ(x.citation(), "Harrow 5.2; mayoral §9; Barnet 9.2");
  }
  EXPECT_THAT(s_.Findings("equal-offer", At(2026, 4, 9, 12)), IsEmpty());
  // Met for one group: owed to the other only.
  s_.Offer(At(2026, 4, 9, 13), "O-con", "conservative", "local-plan", "B-1");
  o = Obligations(s_, At(2026, 4, 9, 14), "equal-offer");
  ASSERT_THAT(o, SizeIs(1));
  EXPECT_EQ(o[0].group_id(), "green");
  // Missed: a finding, and no longer an obligation.
  EXPECT_THAT(Obligations(s_, At(2026, 4, 11, 0, 0), "equal-offer"), IsEmpty());
  EXPECT_THAT(s_.Findings("equal-offer", At(2026, 4, 11, 0, 0)), SizeIs(1));
}

TEST_F(WrittenQueryTest, AReplyOwedIsAnObligationUntilAnsweredOrLate) {
  std::vector<v1::Obligation> o = Obligations(s_, At(2026, 4, 7, 9), "written-query-reply");
  ASSERT_THAT(o, SizeIs(1));
  EXPECT_EQ(o[0].group_id(), "conservative");
  EXPECT_EQ(o[0].case_id(), "query-Q-1");
  EXPECT_EQ(FromProtoTime(o[0].due_at()), At(2026, 4, 11, 0, 0));
  EXPECT_EQ(o[0].working_days_left(), 3u);  // Wed 8, Thu 9, Fri 10 April
  EXPECT_THAT(o[0].evidence_positions(), ElementsAre(received_));
  s_.Answer(At(2026, 4, 8), "Q-1");
  EXPECT_THAT(Obligations(s_, At(2026, 4, 8, 12), "written-query-reply"), IsEmpty());
}

TEST_F(WrittenQueryTest, AReplyPromisedIsOwedToTheEndOfThePromisedDay) {
  s_.Acknowledge(At(2026, 4, 2), "Q-1", At(2026, 4, 20, 0, 0));
  std::vector<v1::Obligation> o = Obligations(s_, At(2026, 4, 20, 16), "written-query-reply");
  ASSERT_THAT(o, SizeIs(1));
  EXPECT_EQ(FromProtoTime(o[0].due_at()), At(2026, 4, 21, 0, 0));
  EXPECT_EQ(o[0].working_days_left(), 0u);
  EXPECT_THAT(o[0].description(), HasSubstr("promised a reply by 20 Apr 2026"));
  EXPECT_THAT(Obligations(s_, At(2026, 4, 21, 0, 0), "written-query-reply"), IsEmpty());
}

// ---- party-political-business and non-members-present ------------------------

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

// ---- complaint-routing ----------------------------------------------------------

TEST(ComplaintRoutingTest, CouncillorsComplaintAboutAnOfficerGoesToADirectorOrStatutoryOfficer) {
  CouncilScenario s;
  const uint64_t wrong = s.Complaint(At(2026, 2, 2), "C-1", CouncilScenario::MemberParty("lab-1"),
                                     CouncilScenario::OfficerParty("off"), "hos");
  s.Complaint(At(2026, 2, 3), "C-2", CouncilScenario::MemberParty("lab-1"),
              CouncilScenario::OfficerParty("off"), "dir");
  std::vector<v1::Finding> f = s.Findings("complaint-routing", At(2026, 3, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_EQ(f[0].case_id(), "complaint-C-1");
  EXPECT_EQ(f[0].group_id(), "labour");
  EXPECT_THAT(Evidence(f[0]), ElementsAre(wrong));
}

TEST(ComplaintRoutingTest, ComplaintAboutTheHeadOfPaidServiceGoesToTheMonitoringOfficer) {
  CouncilScenario s;
  s.Complaint(At(2026, 2, 2), "C-1", CouncilScenario::MemberParty("con-1"),
              CouncilScenario::OfficerParty("ceo"), "dir");
  s.Complaint(At(2026, 2, 2), "C-2", CouncilScenario::MemberParty("con-1"),
              CouncilScenario::OfficerParty("ceo"), "mo");
  std::vector<v1::Finding> f = s.Findings("complaint-routing", At(2026, 3, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_EQ(f[0].case_id(), "complaint-C-1");
}

TEST(ComplaintRoutingTest,
     OfficersComplaintAboutACouncillorGoesToTheHeadOfPaidServiceOrMonitoringOfficer) {
  CouncilScenario s;
  s.Complaint(At(2026, 2, 2), "C-1", CouncilScenario::OfficerParty("off"),
              CouncilScenario::MemberParty("grn-1"), "dir");
  s.Complaint(At(2026, 2, 2), "C-2", CouncilScenario::OfficerParty("off"),
              CouncilScenario::MemberParty("grn-1"), "mo");
  std::vector<v1::Finding> f = s.Findings("complaint-routing", At(2026, 3, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_EQ(f[0].case_id(), "complaint-C-1");
  EXPECT_EQ(f[0].group_id(), "green");
}

TEST(ComplaintRoutingTest, EscalationAndReferralFollowTheRoute) {
  CouncilScenario s;
  const uint64_t raised = s.Complaint(At(2026, 2, 2), "C-1", CouncilScenario::MemberParty("lab-1"),
                                      CouncilScenario::OfficerParty("off"), "dir");
  const uint64_t bad_escalation = s.Escalate(At(2026, 2, 9), "C-1", "hos");
  s.Escalate(At(2026, 2, 16), "C-1", "ceo");
  const uint64_t bad_referral = s.Refer(At(2026, 2, 23), "C-1", "ceo");
  s.Refer(At(2026, 2, 24), "C-1", "mo");
  std::vector<v1::Finding> f = s.Findings("complaint-routing", At(2026, 3, 1));
  ASSERT_THAT(f, SizeIs(2));
  EXPECT_THAT(Evidence(f[0]), ElementsAre(raised, bad_escalation));
  EXPECT_THAT(Evidence(f[1]), ElementsAre(raised, bad_referral));
}

// Harlow 12.4 "the appropriate Director", Harrow 2.2 "the relevant
// Director": the officer's own Director, not any Director.
TEST(ComplaintRoutingTest, AComplaintRaisedWithAnotherDirectorIsAFinding) {
  CouncilScenario s;
  const uint64_t wrong = s.Complaint(At(2026, 2, 2), "C-1", CouncilScenario::MemberParty("lab-1"),
                                     CouncilScenario::OfficerParty("off"), "dir2");
  s.Complaint(At(2026, 2, 3), "C-2", CouncilScenario::MemberParty("lab-1"),
              CouncilScenario::OfficerParty("off"), "dir");
  std::vector<v1::Finding> f = s.Findings("complaint-routing", At(2026, 3, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_EQ(f[0].case_id(), "complaint-C-1");
  EXPECT_THAT(Evidence(f[0]), ElementsAre(wrong));
  EXPECT_THAT(f[0].explanation(),
              HasSubstr("Director of People, a Director but not Planning Officer's, who is "
                        "Director of Place; it should go to Director of Place (Planning "
                        "Officer's Director)"));
}

TEST(ComplaintRoutingTest, AnOfficerWithNoDirectorOnRecordGoesToTheHeadOfPaidService) {
  CouncilScenario s;
  s.Complaint(At(2026, 2, 2), "C-1", CouncilScenario::MemberParty("con-1"),
              CouncilScenario::OfficerParty("pa"), "dir");
  s.Complaint(At(2026, 2, 3), "C-2", CouncilScenario::MemberParty("con-1"),
              CouncilScenario::OfficerParty("pa"), "ceo");
  std::vector<v1::Finding> f = s.Findings("complaint-routing", At(2026, 3, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_EQ(f[0].case_id(), "complaint-C-1");
  EXPECT_THAT(f[0].explanation(), HasSubstr("has no Director on record"));
  EXPECT_THAT(f[0].explanation(), HasSubstr("it should go to the Head of Paid Service"));
}

// Harlow 12.5: a complaint about the Chief Executive may go to the Leader.
TEST(ComplaintRoutingTest, OnlyAComplaintAboutTheHeadOfPaidServiceGoesToTheLeader) {
  CouncilScenario s;
  s.ComplaintToMember(At(2026, 2, 2), "C-1", CouncilScenario::MemberParty("con-1"),
                      CouncilScenario::OfficerParty("ceo"), "lab-1");
  s.Resolve(At(2026, 2, 20), "C-1", "mo");
  s.ComplaintToMember(At(2026, 2, 3), "C-2", CouncilScenario::MemberParty("con-1"),
                      CouncilScenario::OfficerParty("off"), "lab-1");
  std::vector<v1::Finding> f = s.Findings("complaint-routing", At(2026, 3, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_EQ(f[0].case_id(), "complaint-C-2");
  EXPECT_THAT(f[0].explanation(),
              HasSubstr("only a complaint about the Head of Paid Service goes to the Leader"));
}

TEST(ComplaintRoutingTest, AComplaintIsResolvedByWhoeverHasIt) {
  CouncilScenario s;
  s.Complaint(At(2026, 2, 2), "C-1", CouncilScenario::MemberParty("lab-1"),
              CouncilScenario::OfficerParty("off"), "dir");
  s.Resolve(At(2026, 2, 10), "C-1", "dir");
  s.Complaint(At(2026, 2, 2), "C-2", CouncilScenario::MemberParty("lab-1"),
              CouncilScenario::OfficerParty("off"), "dir");
  s.Escalate(At(2026, 2, 9), "C-2", "ceo");
  s.Resolve(At(2026, 2, 12), "C-2", "ceo");
  s.Complaint(At(2026, 2, 2), "C-3", CouncilScenario::MemberParty("lab-1"),
              CouncilScenario::OfficerParty("off"), "dir");
  const uint64_t wrong = s.Resolve(At(2026, 2, 10), "C-3", "hos");
  std::vector<v1::Finding> f = s.Findings("complaint-routing", At(2026, 3, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_EQ(f[0].case_id(), "complaint-C-3");
  EXPECT_THAT(Evidence(f[0]), ::testing::Contains(wrong));
  EXPECT_THAT(f[0].explanation(), HasSubstr("who it was neither raised with nor escalated to"));
}

TEST(ComplaintRoutingTest, OnlyWhoeverHadItAtTheTimeResolvesIt) {
  CouncilScenario s;
  s.Complaint(At(2026, 2, 2), "C-1", CouncilScenario::MemberParty("lab-1"),
              CouncilScenario::OfficerParty("off"), "dir");
  s.Resolve(At(2026, 2, 5), "C-1", "ceo");  // before it reached the chief executive
  s.Escalate(At(2026, 2, 10), "C-1", "ceo");
  std::vector<v1::Finding> f = s.Findings("complaint-routing", At(2026, 3, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_THAT(f[0].explanation(), HasSubstr("was resolved by Chief Executive"));
}

TEST(ComplaintRoutingTest, NobodyHandlesAComplaintAboutThemselves) {
  CouncilScenario s;
  s.Complaint(At(2026, 2, 2), "C-1", CouncilScenario::MemberParty("lab-1"),
              CouncilScenario::OfficerParty("dir"), "dir");
  std::vector<v1::Finding> f = s.Findings("complaint-routing", At(2026, 3, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_THAT(f[0].explanation(), HasSubstr("the officer complained about"));
}

// ---- relationship-conflict ------------------------------------------------------

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

// ---- confidentiality-relay ----------------------------------------------------------

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

// ---- access-parity -----------------------------------------------------------------

// `declined` of `total` requests from `group` declined, the rest approved.
void Decisions(CouncilScenario& s, const std::string& group, int total, int declined,
               const std::string& tag) {
  for (int i = 0; i < total; ++i) {
    const std::string id = absl::StrCat(tag, "-", group, "-", i);
    const absl::Time at = At(2026, 1, 5) + absl::Hours(24 * i);
    s.Request(at, id, group, absl::StrCat("m-", tag, i));
    if (i < declined) {
      s.Decline(at + absl::Hours(3), id, "ceo", v1::RESOURCES);
    } else {
      s.Approve(at + absl::Hours(3), id);
    }
  }
}

TEST(AccessParityTest, DeclineRateFarAboveTheOthersAndNotChanceIsAFinding) {
  CouncilScenario s;
  Decisions(s, "green", 8, 6, "a");
  Decisions(s, "labour", 12, 1, "b");
  Decisions(s, "conservative", 10, 0, "c");
  std::vector<v1::Finding> f = s.Findings("access-parity", At(2026, 3, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_EQ(f[0].group_id(), "green");
  EXPECT_THAT(f[0].explanation(), HasSubstr("6 of 8 briefing requests declined"));
  EXPECT_THAT(f[0].explanation(), HasSubstr("Fisher's exact test p = 0.0003"));
  EXPECT_THAT(Evidence(f[0]), SizeIs(6));
}

TEST(AccessParityTest, AGapThatChanceExplainsIsNotAFinding) {
  CouncilScenario s;
  // 2 of 6 against 1 of 20: a 28-point gap, but Fisher's p is about 0.12.
  Decisions(s, "green", 6, 2, "a");
  Decisions(s, "labour", 10, 1, "b");
  Decisions(s, "conservative", 10, 0, "c");
  EXPECT_THAT(s.Findings("access-parity", At(2026, 3, 1)), IsEmpty());
}

TEST(AccessParityTest, ShorterBriefingsForOneGroupAreAFindingWhenFarAndSignificant) {
  CouncilScenario s;
  for (int i = 0; i < 6; ++i) {
    const absl::Time at = At(2026, 1, 5) + absl::Hours(24 * i);
    s.Briefing(at, at + absl::Hours(30), absl::StrCat("G", i), "green", absl::StrCat("g", i),
               {"hos"}, 20);
    s.Briefing(at, at + absl::Hours(30), absl::StrCat("L", i), "labour", absl::StrCat("l", i),
               {"hos"}, 90);
    s.Briefing(at, at + absl::Hours(30), absl::StrCat("C", i), "conservative", absl::StrCat("c", i),
               {"hos"}, 90);
  }
  std::vector<v1::Finding> f = s.Findings("access-parity", At(2026, 3, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_EQ(f[0].group_id(), "green");
  EXPECT_THAT(f[0].explanation(), HasSubstr("Mann-Whitney U test"));
}

TEST(AccessParityTest, SomewhatShorterBriefingsAreNot) {
  CouncilScenario s;
  for (int i = 0; i < 6; ++i) {
    const absl::Time at = At(2026, 1, 5) + absl::Hours(24 * i);
    s.Briefing(at, at + absl::Hours(30), absl::StrCat("G", i), "green", absl::StrCat("g", i),
               {"hos"}, 50);
    s.Briefing(at, at + absl::Hours(30), absl::StrCat("L", i), "labour", absl::StrCat("l", i),
               {"hos"}, 90);
  }
  EXPECT_THAT(s.Findings("access-parity", At(2026, 3, 1)), IsEmpty());
}

TEST(AccessParityTest, LateRepliesToOneGroupAreAFindingWhenFarAndSignificant) {
  CouncilScenario s;
  for (int i = 0; i < 8; ++i) {
    // Mondays from 5 January 2026; a reply the same week is in time.
    const absl::Time monday = At(2026, 1, 5) + absl::Hours(24 * 7 * i);
    s.Query(monday, absl::StrCat("QG", i), "grn-1");
    s.Answer(monday + absl::Hours(24 * (i < 6 ? 14 : 1)), absl::StrCat("QG", i));
    s.Query(monday, absl::StrCat("QL", i), "lab-1");
    s.Answer(monday + absl::Hours(24), absl::StrCat("QL", i));
    s.Query(monday, absl::StrCat("QC", i), "con-1");
    s.Answer(monday + absl::Hours(24), absl::StrCat("QC", i));
  }
  std::vector<v1::Finding> f = s.Findings("access-parity", At(2026, 4, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_EQ(f[0].group_id(), "green");
  EXPECT_THAT(f[0].explanation(), HasSubstr("6 of 8 written queries answered late"));
}

// ---- data-quality ----------------------------------------------------------------------

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

// ---- corrections ------------------------------------------------------------------------

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

// ---- the catalogue ------------------------------------------------------------------------

TEST(RuleCatalogueTest, EveryRuleHasACitationASeverityAndItsSettings) {
  FairnessSettings settings;
  settings.offer_deadline_working_days = 7;
  std::vector<v1::RuleInfo> rules = FairnessProjection::Rules(settings);
  EXPECT_THAT(rules, SizeIs(12));
  for (const auto& r : rules) {
    EXPECT_FALSE(r.citation().empty()) << r.rule_id();
    EXPECT_NE(r.severity(), v1::SEVERITY_UNSPECIFIED) << r.rule_id();
    EXPECT_FALSE(r.description().empty()) << r.rule_id();
  }
  EXPECT_THAT(rules[0].description(), HasSubstr("within 7 working days"));
}

}  // namespace
}  // namespace evenhand::projections
