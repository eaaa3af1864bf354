// same-matter-decline: Harlow 15.12, one group advised and another declined on the same matter.
#include "tests/projections/rules/rule_test_util.h"

namespace evenhand::projections::rule_tests {
namespace {

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

// A decline reversed: approved over it, and given by the officer who
// declined. The group was advised by them after all: no finding once it is
// given (the group table counts the request as approved, not declined), and
// the finding as of a moment before (found from outside).
TEST_F(SameMatterTest, ADeclineTheSameOfficerReversedByGivingTheBriefingIsNoFinding) {
  s_.Decline(At(2026, 1, 21), "B-2", "dir", v1::OFFICER_UNAVAILABLE);
  s_.Approve(At(2026, 1, 23), "B-2", "ceo", {"dir"});
  const uint64_t before_given = s_.events().size();
  s_.Deliver(At(2026, 1, 27), "B-2", {"dir"});
  EXPECT_THAT(s_.Findings("same-matter-decline", At(2026, 3, 1)), IsEmpty());
  EXPECT_THAT(s_.Findings("same-matter-decline", At(2026, 1, 26), before_given), SizeIs(1));
}

// Reversed without a new approval, by giving it at the group's own meeting:
// no finding either, though the group table still counts the request by its
// latest decision, the decline.
TEST_F(SameMatterTest, ADeclineReversedByGivingTheBriefingAtTheGroupsMeetingIsNoFinding) {
  s_.Decline(At(2026, 1, 21), "B-2", "dir", v1::OFFICER_UNAVAILABLE);
  s_.Attend(At(2026, 1, 28), "M-9", "green", "dir", "ceo", v1::COUNCIL_BUSINESS, 0, "waste", "B-2");
  const v1::FairnessReport report = s_.Report(At(2026, 3, 1));
  for (const v1::Finding& f : report.findings()) EXPECT_NE(f.rule_id(), "same-matter-decline");
  for (const v1::GroupMetrics& g : report.groups()) {
    if (g.group_id() == "green") EXPECT_EQ(g.briefings_declined(), 1u);
  }
}

// Given by another officer, the decline stands.
TEST_F(SameMatterTest, ADeclineStandsWhenAnotherOfficerGaveTheBriefing) {
  s_.Decline(At(2026, 1, 21), "B-2", "dir", v1::OFFICER_UNAVAILABLE);
  s_.Approve(At(2026, 1, 23), "B-2", "ceo", {"ceo"});
  s_.Deliver(At(2026, 1, 27), "B-2", {"ceo"});
  EXPECT_THAT(s_.Findings("same-matter-decline", At(2026, 3, 1)), SizeIs(1));
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

}  // namespace
}  // namespace evenhand::projections::rule_tests
