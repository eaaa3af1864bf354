// complaint-routing: complaints go up the fixed route.
#include "tests/projections/rules/rule_test_util.h"

namespace evenhand::projections::rule_tests {
namespace {

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
  // About the Monitoring Officer, raised with the Monitoring Officer: the
  // advice names the route's other roles, not the one complained about.
  s.Complaint(At(2026, 2, 3), "C-2", CouncilScenario::MemberParty("lab-1"),
              CouncilScenario::OfficerParty("mo"), "mo");
  f = s.Findings("complaint-routing", At(2026, 3, 1));
  ASSERT_THAT(f, SizeIs(2));
  const v1::Finding& about_mo = f[0].case_id() == "complaint-C-2" ? f[0] : f[1];
  EXPECT_THAT(about_mo.explanation(), HasSubstr("the officer complained about"));
  EXPECT_THAT(about_mo.explanation(),
              HasSubstr("it should go to the Head of Paid Service or the Chief Finance Officer"));
}

}  // namespace
}  // namespace evenhand::projections::rule_tests
