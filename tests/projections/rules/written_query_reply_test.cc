// written-query-reply: a reply (or acknowledgement with a timescale) within five working days.
#include "tests/projections/rules/rule_test_util.h"

namespace evenhand::projections::rule_tests {
namespace {

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

// A reply owed, or promised, is an obligation until it is given or late.
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

}  // namespace
}  // namespace evenhand::projections::rule_tests
