// equal-offer: the same briefing offered to every group (Harrow 5.2; mayoral §9; Barnet 9.2).
#include "tests/projections/rules/rule_test_util.h"

namespace evenhand::projections::rule_tests {
namespace {

// The group withdraws its request `briefing` (BriefingRequestWithdrawn).
v1::Payload Withdrawal(const std::string& briefing, const std::string& member) {
  v1::Payload p;
  p.mutable_briefing_request_withdrawn()->set_briefing_id(briefing);
  p.mutable_briefing_request_withdrawn()->set_withdrawn_by_member_id(member);
  return p;
}

// The Director at `group`'s meeting for half an hour, with the Head of Paid
// Service's agreement, linking `briefing` (on `matter`, if given).
v1::Payload LinkedAttendance(const std::string& meeting, const std::string& group,
                             const std::string& briefing, const std::string& matter) {
  v1::Payload p;
  auto* a = p.mutable_officer_attended_group_meeting();
  a->set_meeting_id(meeting);
  a->set_group_id(group);
  a->set_officer_id("dir");
  a->set_approved_by_officer_id("ceo");
  a->set_business(v1::COUNCIL_BUSINESS);
  a->set_duration_minutes(30);
  a->set_matter_id(matter);
  a->set_briefing_id(briefing);
  return p;
}

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

// A group left with one councillor is no political group (Harlow 2.3: "two
// or more Councillors"): owed nothing as one, while data-quality says it
// fell below two (found from outside: the report said both).
TEST(EqualOfferGroupSizeTest, AGroupOfOneCouncillorIsOwedNoOffer) {
  CouncilScenario s;
  s.Leave(At(2026, 3, 2), "grn-2", "green");
  s.Request(At(2026, 3, 23), "B-1", "labour", "local-plan");
  s.Approve(At(2026, 3, 24), "B-1");
  s.Deliver(At(2026, 4, 1, 12), "B-1");
  EXPECT_THAT(Groups(s.Findings("equal-offer", At(2026, 4, 20))), ElementsAre("conservative"));
  EXPECT_THAT(s.Findings("data-quality", At(2026, 4, 20)), SizeIs(1));
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

// The latest decision on the group's own request before the deadline
// governs: declined, then approved, it is approved and waiting, and the
// finding says both (found from outside: it said only "declined"); a
// decision after the deadline says nothing. Approved, then declined, it is
// declined (below).
TEST_F(EqualOfferTest, TheLatestDecisionOnTheGroupsOwnRequestIsTheOneSaid) {
  const uint64_t own = s_.Request(At(2026, 4, 2), "B-2", "conservative", "local-plan");
  const uint64_t declined = s_.Decline(At(2026, 4, 2, 15), "B-2", "ceo");
  const uint64_t approved = s_.Approve(At(2026, 4, 7), "B-2");
  s_.Decline(At(2026, 4, 14), "B-2", "ceo");  // after the deadline (end of 10 April)
  s_.Offer(At(2026, 4, 2), "O-grn", "green", "local-plan", "B-1");
  std::vector<v1::Finding> f = s_.Findings("equal-offer", At(2026, 5, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_THAT(f[0].explanation(),
              HasSubstr("Its own request of 2 Apr 2026 for a briefing on the matter was declined "
                        "on 2 Apr 2026, then approved on 7 Apr 2026 but not given by then; a "
                        "request is not an offer."));
  EXPECT_THAT(Evidence(f[0]), ::testing::IsSupersetOf({own, declined, approved}));
}

TEST_F(EqualOfferTest, ARequestApprovedThenDeclinedIsSaidDeclined) {
  s_.Request(At(2026, 4, 2), "B-2", "conservative", "local-plan");
  s_.Approve(At(2026, 4, 3), "B-2");
  s_.Decline(At(2026, 4, 8), "B-2", "ceo");
  s_.Offer(At(2026, 4, 2), "O-grn", "green", "local-plan", "B-1");
  std::vector<v1::Finding> f = s_.Findings("equal-offer", At(2026, 5, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_THAT(
      f[0].explanation(),
      HasSubstr("was declined on 8 Apr 2026; a request, and its decline, are not an offer"));
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
  EXPECT_THAT(f[0].explanation(), HasSubstr("was approved on 3 Apr 2026 but not given by then; "
                                            "a request is not an offer"));
}

TEST_F(EqualOfferTest, AGroupGivenItsOwnBriefingOnlyAfterTheDeadlineIsLateNotOffered) {
  s_.Request(At(2026, 4, 2), "B-2", "conservative", "local-plan");
  s_.Approve(At(2026, 4, 3), "B-2");
  const uint64_t given = s_.Deliver(At(2026, 4, 14, 10), "B-2");
  s_.Offer(At(2026, 4, 2), "O-grn", "green", "local-plan", "B-1");
  std::vector<v1::Finding> f = s_.Findings("equal-offer", At(2026, 5, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_THAT(f[0].explanation(),
              HasSubstr("was not offered it; its own request for a briefing on the same matter "
                        "was approved on 3 Apr 2026 (a request is not an offer), and given only on "
                        "14 Apr 2026"));
  EXPECT_THAT(Evidence(f[0]), ElementsAre(request_, delivered_, given));
}

// A briefing given at the group's own meeting, recorded as the officer's
// attendance linking it (briefing_id) with no BriefingDelivered, is given
// then: the other groups are owed the offer from it (mayoral §9, "all
// groups must be offered the same facilities"). A group's own request given
// so, in time, needs no offer.
TEST(EqualOfferAtAMeetingTest, ABriefingGivenAtTheGroupsMeetingIsOwedToTheOthers) {
  CouncilScenario s;
  const uint64_t request = s.Request(At(2026, 3, 23), "B-1", "labour", "local-plan");
  s.Approve(At(2026, 3, 24), "B-1");
  const uint64_t given =
      s.Add(At(2026, 4, 1, 18), LinkedAttendance("M-1", "labour", "B-1", "local-plan"));
  // Owed until the end of Fri 10 April, then findings.
  EXPECT_THAT(s.Findings("equal-offer", At(2026, 4, 10, 12)), IsEmpty());
  std::vector<v1::Finding> f = s.Findings("equal-offer", At(2026, 4, 20));
  ASSERT_THAT(f, SizeIs(2));
  EXPECT_THAT(Groups(f), ElementsAre("conservative", "green"));
  EXPECT_THAT(Evidence(f[0]), ::testing::IsSupersetOf({request, given}));
  // The group table counts it delivered, with the officer's time at the
  // meeting (once: the meeting does not count it again).
  const v1::FairnessReport report = s.Report(At(2026, 4, 20));
  for (const auto& g : report.groups()) {
    if (g.group_id() != "labour") continue;
    EXPECT_EQ(g.briefings_delivered(), 1u);
    EXPECT_EQ(g.officer_minutes(), 30u);
  }
  // The Conservatives' own request, given at their meeting in time, counts.
  s.Request(At(2026, 4, 2), "B-2", "conservative", "local-plan");
  s.Approve(At(2026, 4, 3), "B-2");
  s.Add(At(2026, 4, 8, 18), LinkedAttendance("M-2", "conservative", "B-2", "local-plan"));
  // (Their briefing, given so, is owed to the Greens in turn.)
  f = s.Findings("equal-offer", At(2026, 4, 20));
  EXPECT_THAT(Groups(f), ElementsAre("green", "green"));
  EXPECT_THAT(s.Findings("data-quality", At(2026, 4, 20)), IsEmpty());
}

// An attendance linking a briefing never delivered, but naming no matter:
// not taken as the briefing given (it cannot be told from an attendance on
// other business), and said as a data-quality finding; its time is the
// meeting's.
TEST(EqualOfferAtAMeetingTest, AnAttendanceLinkingABriefingWithoutItsMatterIsFlagged) {
  CouncilScenario s;
  s.Request(At(2026, 3, 23), "B-1", "labour", "local-plan");
  s.Approve(At(2026, 3, 24), "B-1");
  s.Add(At(2026, 4, 1, 18), LinkedAttendance("M-1", "labour", "B-1", ""));
  EXPECT_THAT(s.Findings("equal-offer", At(2026, 4, 20)), IsEmpty());
  std::vector<v1::Finding> f = s.Findings("data-quality", At(2026, 4, 20));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_THAT(f[0].explanation(),
              HasSubstr("links briefing B-1, which has no delivery on record, but names no "
                        "matter, not the briefing's (local-plan)"));
  const v1::FairnessReport report = s.Report(At(2026, 4, 20));
  for (const auto& g : report.groups()) {
    if (g.group_id() == "labour") EXPECT_EQ(g.officer_minutes(), 30u);
  }
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

// An offer owed is an obligation until its deadline, then a finding.
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

// One instant, one verdict, to the second (docs/FAIRNESS.md): one second
// before the deadline (the midnight ending Friday 10 April, UK time) both
// groups are owed the offer, an obligation each, no finding, nothing in the
// group table; at it and after, each is a finding, in the findings and in the
// group table's count of high-severity findings alike, and owed no more.
TEST_F(EqualOfferTest, TheTableAndTheFindingsAgreeOnEitherSideOfTheDeadline) {
  const absl::Time deadline = At(2026, 4, 11, 0, 0);
  for (absl::Time as_of : {deadline - absl::Seconds(1), deadline, deadline + absl::Seconds(1)}) {
    SCOPED_TRACE(absl::FormatTime(as_of));
    const v1::FairnessReport report = s_.Report(as_of);
    int findings = 0;
    for (const auto& f : report.findings()) findings += f.rule_id() == "equal-offer";
    int owed = 0;
    for (const auto& o : report.obligations()) owed += o.rule_id() == "equal-offer";
    const bool late = as_of >= deadline;
    EXPECT_EQ(findings, late ? 2 : 0);
    EXPECT_EQ(owed, late ? 0 : 2);
    int groups = 0;
    for (const auto& g : report.groups()) {
      if (g.group_id() != "conservative" && g.group_id() != "green") continue;
      ++groups;
      EXPECT_EQ(g.findings_high(), late ? 1u : 0u) << g.group_id();
    }
    EXPECT_EQ(groups, 2);
  }
}

// An offer one second before the deadline is in time; one at the deadline's
// instant, or a second after, is late, dated at the deadline, and says when
// the limit ran out (by the count it is still working day 5: never "5
// working days later (the limit is 5)").
TEST(EqualOfferDeadlineTest, AnOfferOneSecondBeforeTheDeadlineIsInTimeAndAtItLate) {
  const absl::Time deadline = At(2026, 4, 11, 0, 0);
  for (absl::Duration offset : {-absl::Seconds(1), absl::ZeroDuration(), absl::Seconds(1)}) {
    SCOPED_TRACE(absl::FormatDuration(offset));
    CouncilScenario s;
    s.Request(At(2026, 3, 23), "B-1", "labour", "local-plan");
    s.Approve(At(2026, 3, 24), "B-1");
    s.Deliver(At(2026, 4, 1, 12), "B-1");
    s.Offer(At(2026, 4, 2), "O-grn", "green", "local-plan", "B-1");
    const uint64_t offer = s.Offer(deadline + offset, "O-con", "conservative", "local-plan", "B-1");
    std::vector<v1::Finding> f = s.Findings("equal-offer", At(2026, 5, 1));
    if (offset < absl::ZeroDuration()) {
      EXPECT_THAT(f, IsEmpty());
      continue;
    }
    ASSERT_THAT(f, SizeIs(1));
    EXPECT_EQ(f[0].group_id(), "conservative");
    EXPECT_EQ(FromProtoTime(f[0].occurred_at()), deadline);
    EXPECT_EQ(Evidence(f[0]).back(), offer);
    EXPECT_THAT(f[0].explanation(),
                HasSubstr("was offered the same only on 11 Apr 2026, after the limit of 5 working "
                          "days ran out at the end of 10 Apr 2026."));
  }
}

// Withdrawing a request (BriefingRequestWithdrawn): the group asks for
// nothing more, so a request it withdrew before the offer fell due is not
// cited as unmet. Nor is it an offer: the group is still owed one.
TEST_F(EqualOfferTest, AGroupThatWithdrewItsOwnRequestIsStillOwedTheOffer) {
  s_.Offer(At(2026, 4, 2), "O-grn", "green", "local-plan", "B-1");
  const uint64_t own = s_.Request(At(2026, 4, 2), "B-2", "conservative", "local-plan");
  const uint64_t withdrawal = s_.Add(At(2026, 4, 7), Withdrawal("B-2", "con-1"));
  std::vector<v1::Obligation> o = Obligations(s_, At(2026, 4, 9, 12), "equal-offer");
  ASSERT_THAT(o, SizeIs(1));
  EXPECT_EQ(o[0].group_id(), "conservative");
  std::vector<v1::Finding> f = s_.Findings("equal-offer", At(2026, 5, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_EQ(f[0].group_id(), "conservative");
  EXPECT_THAT(f[0].explanation(), HasSubstr("had not been offered the same briefing"));
  EXPECT_THAT(f[0].explanation(), ::testing::Not(HasSubstr("request")));
  // The request, the delivery and the group's recognition; not the
  // withdrawn request, nor its withdrawal.
  EXPECT_THAT(Evidence(f[0]), SizeIs(3));
  EXPECT_THAT(Evidence(f[0]), ::testing::Not(::testing::Contains(own)));
  EXPECT_THAT(Evidence(f[0]), ::testing::Not(::testing::Contains(withdrawal)));
}

// Which came first is when they happened, not the order they were recorded
// in: a decline dated before the withdrawal stands though recorded after a
// later one; a withdrawal dated before the deadline counts though recorded
// after one dated after it (review: the first recorded was taken).
TEST_F(EqualOfferTest, TheEarliestDeclineAndWithdrawalByTheirDatesAreTheOnesThatCount) {
  s_.Offer(At(2026, 4, 2), "O-grn", "green", "local-plan", "B-1");
  s_.Request(At(2026, 4, 2), "B-2", "conservative", "local-plan");
  s_.Add(At(2026, 4, 7), Withdrawal("B-2", "con-1"));
  s_.Decline(At(2026, 4, 20), "B-2", "ceo");
  s_.Decline(At(2026, 4, 6), "B-2", "ceo");
  std::vector<v1::Finding> f = s_.Findings("equal-offer", At(2026, 5, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_THAT(f[0].explanation(),
              HasSubstr("Its own request of 2 Apr 2026 for a briefing on the matter was declined "
                        "on 6 Apr 2026"));

  CouncilScenario s;
  s.Request(At(2026, 3, 23), "B-1", "labour", "local-plan");
  s.Approve(At(2026, 3, 24), "B-1");
  s.Deliver(At(2026, 4, 1, 12), "B-1");
  s.Offer(At(2026, 4, 2), "O-grn", "green", "local-plan", "B-1");
  s.Request(At(2026, 4, 2), "B-2", "conservative", "local-plan");
  s.Add(At(2026, 4, 20), Withdrawal("B-2", "con-1"));  // after the deadline
  s.Add(At(2026, 4, 7), Withdrawal("B-2", "con-1"));
  f = s.Findings("equal-offer", At(2026, 5, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_THAT(f[0].explanation(), ::testing::Not(HasSubstr("request")));
}

// The near miss: offered the briefing in time, the group withdraws its own
// request for one. Nothing is owed and nothing is a finding: the offer met
// equal-offer, and a withdrawal is not a decline, so the officer who briefed
// Labour on the matter declined no one (same-matter-decline).
TEST_F(EqualOfferTest, AGroupOfferedInTimeThatWithdrewItsOwnRequestIsOwedNothing) {
  s_.Request(At(2026, 4, 2), "B-2", "conservative", "local-plan");
  s_.OfferOthers(At(2026, 4, 7), "labour", "local-plan", "B-1");
  s_.Add(At(2026, 4, 8), Withdrawal("B-2", "con-1"));
  EXPECT_THAT(Obligations(s_, At(2026, 4, 9, 12), "equal-offer"), IsEmpty());
  EXPECT_THAT(s_.Findings("equal-offer", At(2026, 5, 1)), IsEmpty());
  EXPECT_THAT(s_.Findings("same-matter-decline", At(2026, 5, 1)), IsEmpty());
}

// Both sides of the withdrawal's instant: withdrawn one second before the
// deadline, the request is not cited; withdrawn at it, the request was still
// unmet when the deadline passed, and the finding (dated then) says so.
TEST(EqualOfferWithdrawalTest, ARequestWithdrawnBeforeTheDeadlineIsNotCitedAndAtItIs) {
  const absl::Time deadline = At(2026, 4, 11, 0, 0);
  for (const bool before : {true, false}) {
    SCOPED_TRACE(before ? "withdrawn a second before the deadline" : "withdrawn at the deadline");
    CouncilScenario s;
    s.Request(At(2026, 3, 23), "B-1", "labour", "local-plan");
    s.Approve(At(2026, 3, 24), "B-1");
    s.Deliver(At(2026, 4, 1, 12), "B-1");
    s.Offer(At(2026, 4, 2), "O-grn", "green", "local-plan", "B-1");
    const uint64_t own = s.Request(At(2026, 4, 2), "B-2", "conservative", "local-plan");
    const uint64_t withdrawal =
        s.Add(before ? deadline - absl::Seconds(1) : deadline, Withdrawal("B-2", "con-1"));
    std::vector<v1::Finding> f = s.Findings("equal-offer", At(2026, 5, 1));
    ASSERT_THAT(f, SizeIs(1));
    EXPECT_EQ(f[0].group_id(), "conservative");
    EXPECT_THAT(Evidence(f[0]), ::testing::Not(::testing::Contains(withdrawal)));
    if (before) {
      EXPECT_THAT(f[0].explanation(), ::testing::Not(HasSubstr("request")));
      EXPECT_THAT(Evidence(f[0]), ::testing::Not(::testing::Contains(own)));
    } else {
      EXPECT_THAT(f[0].explanation(), HasSubstr("had not been met; a request is not an offer"));
      EXPECT_THAT(Evidence(f[0]), ::testing::Contains(own));
    }
  }
}

// A withdrawn request is neither granted nor declined, and owes nothing.
TEST(BriefingWithdrawnTest, AWithdrawnRequestCountsAsNeitherGrantedNorDeclined) {
  CouncilScenario s;
  s.Request(At(2026, 2, 2), "B-1", "green", "parks");
  s.Add(At(2026, 2, 4), Withdrawal("B-1", "grn-1"));
  const v1::FairnessReport report = s.Report(At(2026, 3, 1));
  bool green = false;
  for (const auto& g : report.groups()) {
    if (g.group_id() != "green") continue;
    green = true;
    EXPECT_EQ(g.briefings_requested(), 1u);
    EXPECT_EQ(g.briefings_declined(), 0u);
    EXPECT_EQ(g.briefings_approved(), 0u);
  }
  EXPECT_TRUE(green) << "the report has no green group";
  EXPECT_THAT(report.obligations(), IsEmpty());
  EXPECT_THAT(report.findings(), IsEmpty());
}

// An offer recorded and then withdrawn by a correction is no offer: the
// finding cites it and its withdrawal, and says so.
TEST_F(EqualOfferTest, AnOfferWithdrawnByACorrectionIsCitedButNotCounted) {
  s_.Offer(At(2026, 4, 2, 9), "O-con", "conservative", "local-plan", "B-1");
  const uint64_t offer = s_.Offer(At(2026, 4, 2, 9), "O-grn", "green", "local-plan", "B-1");
  const uint64_t withdrawal = s_.Correct(At(2026, 4, 7), offer, std::nullopt);
  std::vector<v1::Finding> f = s_.Findings("equal-offer", At(2026, 5, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_EQ(f[0].group_id(), "green");
  EXPECT_THAT(Evidence(f[0]), ::testing::IsSupersetOf({request_, delivered_, offer, withdrawal}));
  EXPECT_THAT(f[0].explanation(), HasSubstr("had not been offered the same briefing"));
  EXPECT_THAT(f[0].explanation(),
              HasSubstr("An offer recorded on 2 Apr 2026 was withdrawn by a correction."));
}

}  // namespace
}  // namespace evenhand::projections::rule_tests
