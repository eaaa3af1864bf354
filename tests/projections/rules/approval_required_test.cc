// approval-required: officers at group meetings only with the Head of Paid Service's agreement.
#include <map>

#include "tests/projections/rules/rule_test_util.h"

namespace evenhand::projections::rule_tests {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::Not;
using ::testing::StartsWith;

TEST(ApprovalRequiredTest, BriefingWithoutAnyAgreementIsAFinding) {
  CouncilScenario s;
  const uint64_t request = s.Request(At(2026, 2, 2), "B-1", "green", "parks");
  const uint64_t delivered = s.Deliver(At(2026, 2, 9), "B-1");
  std::vector<v1::Finding> f = s.Findings("approval-required", At(2026, 3, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_EQ(f[0].group_id(), "green");
  EXPECT_THAT(Evidence(f[0]), ElementsAre(request, delivered));
  EXPECT_THAT(f[0].explanation(), HasSubstr("nobody agreed it beforehand"));
  // Approved only afterwards: still a finding, citing the approval (found
  // from outside: it was left out).
  const uint64_t late = s.Approve(At(2026, 2, 10), "B-1", "ceo");
  f = s.Findings("approval-required", At(2026, 3, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_THAT(Evidence(f[0]), ElementsAre(request, delivered, late));
  EXPECT_THAT(f[0].explanation(),
              HasSubstr("It was approved only afterwards, by Chief Executive on 10 Feb 2026."));
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

// Only the Head of Paid Service delegates (Harlow 15.3): a delegation
// recorded by the Monitoring Officer does not count, and the finding says
// so and cites it (it was left out: the finding read as if the record of a
// delegation had been overlooked).
TEST(ApprovalRequiredTest, ADelegationNotGivenByTheHeadOfPaidServiceIsNamedAsNotCounting) {
  CouncilScenario s;
  const uint64_t delegation = s.Delegate(At(2026, 1, 5), "dir", "mo");
  const uint64_t request = s.Request(At(2026, 2, 2), "B-1", "green", "parks");
  const uint64_t approval = s.Approve(At(2026, 2, 3), "B-1", "dir");
  const uint64_t delivered = s.Deliver(At(2026, 2, 9), "B-1");
  const uint64_t attended = s.Attend(At(2026, 2, 10), "M-1", "labour", "hos", "dir");
  std::vector<v1::Finding> f = s.Findings("approval-required", At(2026, 3, 1));
  ASSERT_THAT(f, SizeIs(2));
  const std::string said =
      "(the delegation to them recorded on 5 Jan 2026 was given by Monitoring Officer, who was "
      "not the Head of Paid Service, who alone may delegate it)";
  std::map<std::string, const v1::Finding*> by_group;
  for (const v1::Finding& finding : f) by_group[finding.group_id()] = &finding;
  ASSERT_EQ(by_group.count("green"), 1u);
  ASSERT_EQ(by_group.count("labour"), 1u);
  EXPECT_THAT(Evidence(*by_group["green"]), ElementsAre(delegation, request, approval, delivered));
  EXPECT_THAT(by_group["green"]->explanation(),
              AllOf(HasSubstr("with the agreement only of Director of Place, who was neither"),
                    HasSubstr(said)));
  EXPECT_THAT(Evidence(*by_group["labour"]), ElementsAre(delegation, attended));
  EXPECT_THAT(by_group["labour"]->explanation(), HasSubstr(said));

  // Revoked before: nothing in force, nothing said of it.
  s.Revoke(At(2026, 1, 20), "dir", "mo");
  f = s.Findings("approval-required", At(2026, 3, 1));
  ASSERT_THAT(f, SizeIs(2));
  for (const v1::Finding& finding : f) {
    EXPECT_THAT(finding.explanation(), Not(HasSubstr("the delegation to them")));
    EXPECT_THAT(Evidence(finding), Not(Contains(delegation)));
  }
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

// An attendance giving an approved briefing is agreed for the officers the
// approval named, or any if it named none (mayoral §9: the Head of Paid
// Service "will determine the appropriate Officer to attend"); another
// officer needs agreement of their own (found from outside).
TEST(ApprovalRequiredTest, AnOfficerTheBriefingsApprovalDidNotNameNeedsAgreementOfTheirOwn) {
  CouncilScenario s;
  s.Request(At(2026, 2, 2), "B-1", "labour", "waste");
  const uint64_t approved = s.Approve(At(2026, 2, 3), "B-1", "ceo", {"dir"});
  auto attend = [&](absl::Time at, const std::string& meeting, const std::string& officer,
                    const std::string& agreed_by) {
    return s.Attend(at, meeting, "labour", officer, agreed_by, v1::COUNCIL_BUSINESS, 0, "waste",
                    "B-1");
  };
  attend(At(2026, 2, 10), "M-1", "dir", "");                          // named: agreed
  const uint64_t other = attend(At(2026, 2, 11), "M-2", "dir2", "");  // not named
  attend(At(2026, 2, 12), "M-3", "hos", "mo");                        // agreed on its own
  std::vector<v1::Finding> f = s.Findings("approval-required", At(2026, 3, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_THAT(Evidence(f[0]), ElementsAre(approved, other));
  EXPECT_THAT(f[0].explanation(),
              HasSubstr("Director of People attended a meeting of Labour Group on 11 Feb 2026, "
                        "although the briefing's approval by Chief Executive named other "
                        "officers to give it."));
  // An approval naming nobody agrees any officer's attendance.
  CouncilScenario t;
  t.Request(At(2026, 2, 2), "B-1", "labour", "waste");
  t.Approve(At(2026, 2, 3), "B-1", "ceo", {});
  t.Attend(At(2026, 2, 10), "M-1", "labour", "dir2", "", v1::COUNCIL_BUSINESS, 0, "waste", "B-1");
  EXPECT_THAT(t.Findings("approval-required", At(2026, 3, 1)), IsEmpty());
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

// A group's own political assistant works for it, not the council: at its
// meetings, or giving it a briefing with an officer, their time is not
// officers' time the group had (found from outside: a group's assistant
// at its own meetings counted as 90 of its 255 officer minutes). At
// another group's meeting they are an officer like any other.
TEST(ApprovalRequiredTest, AGroupsOwnPoliticalAssistantIsNotOfficerTimeItHad) {
  CouncilScenario s;  // "pa" works for the Labour Group
  s.Attend(At(2026, 2, 10), "M-1", "labour", "pa", "");
  s.Attend(At(2026, 2, 11), "M-2", "conservative", "pa", "ceo");
  s.Request(At(2026, 2, 2), "B-1", "labour", "waste");
  s.Approve(At(2026, 2, 3), "B-1", "ceo");
  s.Deliver(At(2026, 2, 9), "B-1", {"dir", "pa"});
  const v1::FairnessReport report = s.Report(At(2026, 3, 1));
  std::map<std::string, uint64_t> minutes;
  for (const auto& g : report.groups()) minutes[g.group_id()] = g.officer_minutes();
  EXPECT_EQ(minutes["labour"], 60u) << "the Director's hour, not the assistant's";
  EXPECT_EQ(minutes["conservative"], 45u) << "pa at another group's meeting";
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
  // The report cites the approval as withdrawn, not "as corrected", which
  // read as if it still stood (outside probe).
  std::string cited;
  const v1::FairnessReport report = s.Report(At(2026, 3, 1));
  for (const v1::EvidenceEvent& e : report.evidence()) {
    if (e.position() == approval) cited = e.summary();
  }
  EXPECT_THAT(cited, StartsWith("(withdrawn by a correction) "));
  // As the log stood before the withdrawal, the agreement stood.
  EXPECT_THAT(s.Findings("approval-required", At(2026, 3, 1), withdrawal - 1), IsEmpty());
}

// The attendance of an officer linking an approved briefing, but at another
// group's meeting, does not give it: it needs agreement of its own (found
// from outside).
TEST(ApprovalRequiredTest, AnAttendanceAtAnotherGroupsMeetingIsNotAgreedByTheBriefingsApproval) {
  CouncilScenario s;
  s.Request(At(2026, 2, 2), "B-1", "labour", "waste");
  s.Approve(At(2026, 2, 3), "B-1", "ceo", {"dir"});
  const uint64_t attended =
      s.Attend(At(2026, 2, 10), "M-1", "green", "dir", "", v1::COUNCIL_BUSINESS, 0, "waste", "B-1");
  std::vector<v1::Finding> f = s.Findings("approval-required", At(2026, 3, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_EQ(f[0].group_id(), "green");
  EXPECT_THAT(Evidence(f[0]), ElementsAre(attended));
  EXPECT_THAT(f[0].explanation(), HasSubstr("although nobody agreed it beforehand"));
}

// An attendance giving a briefing whose approval was withdrawn cites the
// withdrawal, as a delivery does (found from outside).
TEST(ApprovalRequiredTest, AnAttendanceWhoseBriefingsApprovalWasWithdrawnCitesTheWithdrawal) {
  CouncilScenario s;
  s.Request(At(2026, 2, 2), "B-1", "labour", "waste");
  const uint64_t approval = s.Approve(At(2026, 2, 3), "B-1", "ceo", {"dir"});
  const uint64_t withdrawal = s.Correct(At(2026, 2, 4), approval, std::nullopt);
  const uint64_t attended = s.Attend(At(2026, 2, 10), "M-1", "labour", "dir", "",
                                     v1::COUNCIL_BUSINESS, 0, "waste", "B-1");
  std::vector<v1::Finding> f = s.Findings("approval-required", At(2026, 3, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_THAT(Evidence(f[0]), ElementsAre(approval, withdrawal, attended));
  EXPECT_THAT(f[0].explanation(),
              HasSubstr("An approval recorded on 3 Feb 2026 was withdrawn by a correction."));
}

// A briefing given by an officer its approval did not name, beside one it
// did: a finding for the one it did not (as for an attendance).
TEST(ApprovalRequiredTest, ABriefingGivenByAnOfficerItsApprovalDidNotNameIsAFinding) {
  CouncilScenario s;
  s.Request(At(2026, 2, 2), "B-1", "labour", "waste");
  const uint64_t approval = s.Approve(At(2026, 2, 3), "B-1", "ceo", {"dir"});
  s.Deliver(At(2026, 2, 9), "B-1", {"dir"});
  EXPECT_THAT(s.Findings("approval-required", At(2026, 3, 1)), IsEmpty());
  const uint64_t second = s.Deliver(At(2026, 2, 16), "B-1", {"dir", "dir2"});
  std::vector<v1::Finding> f = s.Findings("approval-required", At(2026, 3, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_THAT(Evidence(f[0]), Contains(second));
  EXPECT_THAT(Evidence(f[0]), Contains(approval));
  EXPECT_THAT(f[0].explanation(),
              HasSubstr("was given by Director of People, although the briefing's approval by "
                        "Chief Executive named other officers to give it."));
}

// Who may agree agrees their own part; the latest decision governs (a
// later approval naming fewer officers re-assigns it, a later decline by
// the Head of Paid Service withdraws it); and a delivery names every
// officer it was not agreed for (found from outside).
TEST(ApprovalRequiredTest, TheLatestDecisionGovernsAndWhoMayAgreeAgreesTheirOwnPart) {
  {
    CouncilScenario s;  // the Chief Executive approves naming a Director, then joins in
    s.Request(At(2026, 2, 2), "B-1", "labour", "waste");
    s.Approve(At(2026, 2, 3), "B-1", "ceo", {"dir"});
    s.Deliver(At(2026, 2, 9), "B-1", {"dir", "ceo", "mo"});
    s.Attend(At(2026, 2, 10), "M-1", "labour", "ceo", "", v1::COUNCIL_BUSINESS, 0, "waste", "B-1");
    EXPECT_THAT(s.Findings("approval-required", At(2026, 3, 1)), IsEmpty());
  }
  {
    CouncilScenario s;  // two officers the approval did not name: both named
    s.Request(At(2026, 2, 2), "B-1", "labour", "waste");
    s.Approve(At(2026, 2, 3), "B-1", "ceo", {"dir"});
    s.Deliver(At(2026, 2, 9), "B-1", {"dir2", "hos", "dir"});
    std::vector<v1::Finding> f = s.Findings("approval-required", At(2026, 3, 1));
    ASSERT_THAT(f, SizeIs(1));
    EXPECT_THAT(f[0].explanation(),
                HasSubstr("was given by Director of People and Head of Planning, although"));
  }
  {
    CouncilScenario s;  // re-assigned by a later approval
    s.Request(At(2026, 2, 2), "B-1", "labour", "waste");
    s.Approve(At(2026, 2, 3), "B-1", "ceo", {"dir", "dir2"});
    const uint64_t later = s.Approve(At(2026, 2, 5), "B-1", "ceo", {"dir"});
    s.Deliver(At(2026, 2, 9), "B-1", {"dir2"});
    std::vector<v1::Finding> f = s.Findings("approval-required", At(2026, 3, 1));
    ASSERT_THAT(f, SizeIs(1));
    EXPECT_THAT(Evidence(f[0]), Contains(later));
  }
  {
    CouncilScenario s;  // agreed, then declined by the Chief Executive
    s.Request(At(2026, 2, 2), "B-1", "labour", "waste");
    s.Approve(At(2026, 2, 3), "B-1", "ceo", {"dir"});
    const uint64_t declined = s.Decline(At(2026, 2, 5), "B-1", "ceo", v1::OFFICER_UNAVAILABLE);
    s.Deliver(At(2026, 2, 9), "B-1", {"dir"});
    std::vector<v1::Finding> f = s.Findings("approval-required", At(2026, 3, 1));
    ASSERT_THAT(f, SizeIs(1));
    EXPECT_THAT(Evidence(f[0]), Contains(declined));
    EXPECT_THAT(f[0].explanation(),
                HasSubstr("although Chief Executive had declined the briefing on 5 Feb 2026"));
  }
  {
    CouncilScenario s;  // declined by the Director invited: the agreement stands
    s.Request(At(2026, 2, 2), "B-1", "labour", "waste");
    s.Approve(At(2026, 2, 3), "B-1", "ceo", {"dir2"});
    s.Decline(At(2026, 2, 4), "B-1", "dir", v1::OFFICER_UNAVAILABLE);
    s.Deliver(At(2026, 2, 9), "B-1", {"dir2"});
    EXPECT_THAT(s.Findings("approval-required", At(2026, 3, 1)), IsEmpty());
  }
}

// An officer entitled to agree who gives the briefing agrees it for those
// who give it with them (Harrow 5.1: the Head of Paid Service "may arrange
// meetings with, or presentations to, party groups"). Found from outside:
// the Chief Executive and a Director, with no approval, were a finding
// saying "nobody agreed it beforehand".
TEST(ApprovalRequiredTest, AnOfficerEntitledToAgreeWhoGivesTheBriefingAgreesItForThoseWithThem) {
  {
    CouncilScenario s;
    s.Request(At(2026, 2, 2), "B-1", "labour", "waste");
    s.Deliver(At(2026, 2, 9), "B-1", {"ceo", "dir"});
    EXPECT_THAT(s.Findings("approval-required", At(2026, 3, 1)), IsEmpty());
  }
  {
    CouncilScenario s;  // a delegate of the Chief Executive, the same
    s.Delegate(At(2026, 1, 5), "dir", "ceo");
    s.Request(At(2026, 2, 2), "B-1", "labour", "waste");
    s.Deliver(At(2026, 2, 9), "B-1", {"dir2", "dir"});
    EXPECT_THAT(s.Findings("approval-required", At(2026, 3, 1)), IsEmpty());
  }
  {
    CouncilScenario s;  // a Head of Service is not entitled: both named
    s.Request(At(2026, 2, 2), "B-1", "labour", "waste");
    s.Deliver(At(2026, 2, 9), "B-1", {"hos", "dir"});
    std::vector<v1::Finding> f = s.Findings("approval-required", At(2026, 3, 1));
    ASSERT_THAT(f, SizeIs(1));
    EXPECT_THAT(f[0].explanation(), HasSubstr("nobody agreed it beforehand"));
  }
}

// Approved over and over by an officer who could not approve it: the
// finding names the first and cites the first and the last three (each
// version of a finding citing them all is kept for as-of reports).
TEST(ApprovalRequiredTest, ManyApprovalsByAnOfficerWhoCouldNotAreCitedByTheFirstAndLastThree) {
  CouncilScenario s;
  const uint64_t request = s.Request(At(2026, 2, 2), "B-1", "green", "parks");
  std::vector<uint64_t> tried;
  for (int i = 0; i < 9; ++i) tried.push_back(s.Approve(At(2026, 2, 3, 9, i), "B-1", "dir"));
  const uint64_t delivered = s.Deliver(At(2026, 2, 9), "B-1");
  std::vector<v1::Finding> f = s.Findings("approval-required", At(2026, 3, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_THAT(Evidence(f[0]), ElementsAre(request, tried[0], tried[1], tried[2], tried[6], tried[7],
                                          tried[8], delivered));
  EXPECT_THAT(f[0].explanation(), HasSubstr("with the agreement only of Director of Place"));
}

}  // namespace
}  // namespace evenhand::projections::rule_tests
