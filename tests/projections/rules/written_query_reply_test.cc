// written-query-reply: a reply (or acknowledgement with a timescale) within five working days.
#include "tests/projections/rules/rule_test_util.h"

namespace evenhand::projections::rule_tests {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAreArray;
using ::testing::IsSupersetOf;
using ::testing::Not;

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

// A timescale revised over and over, each before the last passed, then
// missed: the finding names and cites the first and last three revisions
// and says how many came between (found from outside: 2,000 revisions gave
// a finding of 72,000 characters citing 2,001 events, each version of it
// kept for as-of reports, and the server gigabytes). Six or fewer: all.
TEST_F(WrittenQueryTest, ATimescaleRevisedManyTimesIsCitedByItsFirstAndLastRevisions) {
  const uint64_t ack = s_.Acknowledge(At(2026, 4, 2), "Q-1", At(2026, 4, 6, 17));
  std::vector<uint64_t> revisions;
  for (int day = 6; day < 16; ++day) {  // each on the day promised, to the next day
    revisions.push_back(s_.Revise(At(2026, 4, day, 9), "Q-1", At(2026, 4, day + 1, 17)));
  }
  std::vector<v1::Finding> f = s_.Findings("written-query-reply", At(2026, 5, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_THAT(Evidence(f[0]), ElementsAre(received_, ack, revisions[0], revisions[1], revisions[2],
                                          revisions[7], revisions[8], revisions[9]));
  EXPECT_THAT(f[0].explanation(),
              HasSubstr("promised by 6 Apr 2026, revised on 6 Apr 2026 to 7 Apr 2026, then on 7 "
                        "Apr 2026 to 8 Apr 2026, then on 8 Apr 2026 to 9 Apr 2026, then 4 more "
                        "revisions (in the query's stream), then on 13 Apr 2026 to 14 Apr 2026, "
                        "then on 14 Apr 2026 to 15 Apr 2026, then on 15 Apr 2026 to 16 Apr 2026, "
                        "but not answered by then"));
  // Due at the end of 16 April (UK time).
  EXPECT_EQ(FromProtoTime(f[0].occurred_at()), At(2026, 4, 17, 0));

  CouncilScenario six;
  const uint64_t q = six.Query(At(2026, 4, 1), "Q-6", "con-1");
  const uint64_t ack6 = six.Acknowledge(At(2026, 4, 2), "Q-6", At(2026, 4, 6, 17));
  std::vector<uint64_t> cited = {q, ack6};
  for (int day = 6; day < 12; ++day) {
    cited.push_back(six.Revise(At(2026, 4, day, 9), "Q-6", At(2026, 4, day + 1, 17)));
  }
  f = six.Findings("written-query-reply", At(2026, 5, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_THAT(Evidence(f[0]), ElementsAreArray(cited));
  EXPECT_THAT(f[0].explanation(), Not(HasSubstr("more revision")));
}

// A promised date is a day (events.proto): a reply at any time on it is on
// time, however the day was stored.
// A revised timescale sent with no acknowledgement before it sets out when
// the reply will come all the same: within the five working days, it is
// the holding reply, and an answer by its day is in time.
TEST_F(WrittenQueryTest, ATimescaleGivenAsARevisionAloneIsAHoldingReply) {
  s_.Revise(At(2026, 4, 2), "Q-1", At(2026, 4, 28, 17));
  s_.Answer(At(2026, 4, 28, 12), "Q-1");
  EXPECT_THAT(s_.Findings("written-query-reply", At(2026, 5, 1)), IsEmpty());
  CouncilScenario late;
  late.Query(At(2026, 4, 1), "Q-1", "con-1");
  late.Revise(At(2026, 4, 2), "Q-1", At(2026, 4, 28, 17));
  late.Answer(At(2026, 4, 30, 12), "Q-1");
  std::vector<v1::Finding> f = late.Findings("written-query-reply", At(2026, 5, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_THAT(f[0].explanation(),
              HasSubstr("was given a timescale promising a reply by 28 Apr 2026, but answered "
                        "only on 30 Apr 2026"));
}

// An acknowledgement promising a day already over (before the query came
// in): broken as it was made, so dated at the acknowledgement, never in a
// period before the query existed (found from outside: dated 5 days before
// it, in a week's report where the query was not yet received).
TEST_F(WrittenQueryTest, ATimescaleAlreadyPastWhenGivenIsBrokenWhenGivenNotBefore) {
  const uint64_t ack = s_.Acknowledge(At(2026, 4, 7, 9), "Q-1", At(2026, 3, 27));
  const uint64_t answer = s_.Answer(At(2026, 4, 9), "Q-1");
  auto findings_in = [&](absl::Time from, absl::Time to) {
    std::vector<v1::Finding> out;
    const v1::FairnessReport report = s_.Report(At(2026, 5, 1), std::nullopt, from, to);
    for (const v1::Finding& f : report.findings()) {
      if (f.rule_id() == "written-query-reply") out.push_back(f);
    }
    return out;
  };
  EXPECT_THAT(findings_in(At(2026, 3, 1, 0, 0), At(2026, 4, 7, 0, 0)), IsEmpty());
  std::vector<v1::Finding> f = findings_in(At(2026, 4, 7, 0, 0), At(2026, 4, 8, 0, 0));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_EQ(FromProtoTime(f[0].occurred_at()), At(2026, 4, 7, 9));
  EXPECT_THAT(Evidence(f[0]), ElementsAre(received_, ack, answer));
  EXPECT_THAT(
      f[0].explanation(),
      AllOf(HasSubstr("a day already past when it was promised on 7 Apr 2026"),
            HasSubstr("answered only on 9 Apr 2026"), Not(HasSubstr("no revised timescale"))));
  // Unanswered, it is no obligation once given: a finding from then.
  CouncilScenario t;
  t.Query(At(2026, 4, 1), "Q-2", "con-1");
  t.Acknowledge(At(2026, 4, 2, 9), "Q-2", At(2026, 4, 1));
  EXPECT_THAT(t.Findings("written-query-reply", At(2026, 4, 2, 8)), IsEmpty());
  EXPECT_THAT(t.Findings("written-query-reply", At(2026, 4, 2, 10)), SizeIs(1));
  EXPECT_THAT(t.Report(At(2026, 4, 2, 10)).obligations(), IsEmpty());
  // Its answer withdrawn: cited with the withdrawal (found from outside).
  CouncilScenario u;
  u.Query(At(2026, 4, 1), "Q-4", "con-1");
  u.Acknowledge(At(2026, 4, 2, 9), "Q-4", At(2026, 3, 31));
  const uint64_t answered = u.Answer(At(2026, 4, 3), "Q-4");
  const uint64_t withdrawal = u.Correct(At(2026, 4, 6), answered, std::nullopt);
  std::vector<v1::Finding> w = u.Findings("written-query-reply", At(2026, 5, 1));
  ASSERT_THAT(w, SizeIs(1));
  EXPECT_THAT(Evidence(w[0]), IsSupersetOf({answered, withdrawal}));
  EXPECT_THAT(w[0].explanation(), AllOf(HasSubstr("it has not been answered"),
                                        HasSubstr("was withdrawn by a correction")));
  // Moved by a revision to a day already past: said so, dated at it.
  CouncilScenario r;
  r.Query(At(2026, 4, 1), "Q-3", "con-1");
  r.Acknowledge(At(2026, 4, 2), "Q-3", At(2026, 4, 20, 17));
  r.Revise(At(2026, 4, 17, 9), "Q-3", At(2026, 4, 15, 17));
  std::vector<v1::Finding> g = r.Findings("written-query-reply", At(2026, 5, 1));
  ASSERT_THAT(g, SizeIs(1));
  EXPECT_EQ(FromProtoTime(g[0].occurred_at()), At(2026, 4, 17, 9));
  EXPECT_THAT(g[0].explanation(),
              HasSubstr("was acknowledged with a reply promised by 20 Apr 2026, revised on 17 Apr "
                        "2026 to 15 Apr 2026, a day already past when it was promised on 17 Apr "
                        "2026, and it has not been answered."));
}

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

// An answer at the deadline's instant is late by the clock while still on
// working day 5 by the count: the finding says when the limit ran out, never
// "after 5 working days (the limit is 5)".
TEST_F(WrittenQueryTest, AnAnswerAtTheDeadlineInstantSaysWhenTheLimitRanOut) {
  const uint64_t answer = s_.Answer(At(2026, 4, 11, 0, 0), "Q-1");
  std::vector<v1::Finding> f = s_.Findings("written-query-reply", At(2026, 5, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_EQ(FromProtoTime(f[0].occurred_at()), At(2026, 4, 11, 0, 0));
  EXPECT_THAT(f[0].explanation(),
              HasSubstr("was first answered on 11 Apr 2026, after the limit of 5 working days ran "
                        "out at the end of 10 Apr 2026."));
  EXPECT_THAT(f[0].explanation(), ::testing::Not(HasSubstr("the limit is")));
  EXPECT_THAT(Evidence(f[0]), ElementsAre(received_, answer));
}

// One instant, one verdict, for a promised day (docs/FAIRNESS.md): the
// reply is owed to the midnight that ends the promised day, UK time
// (EndOfLocalDay). 23:59:59 on Monday 20 April (BST) is on time; 00:00:00
// on Tuesday 21 April is late, and the finding is dated at that midnight.
TEST_F(WrittenQueryTest, AReplyAtTheLastSecondOfThePromisedDayIsOnTimeAndAtMidnightLate) {
  const absl::Time due = At(2026, 4, 21, 0, 0);
  CouncilScenario before;
  before.Query(At(2026, 4, 1), "Q-1", "con-1");
  before.Acknowledge(At(2026, 4, 2), "Q-1", At(2026, 4, 20, 0, 0));
  before.Answer(due - absl::Seconds(1), "Q-1");
  EXPECT_THAT(before.Findings("written-query-reply", At(2026, 5, 1)), IsEmpty());
  CouncilScenario at;
  at.Query(At(2026, 4, 1), "Q-1", "con-1");
  at.Acknowledge(At(2026, 4, 2), "Q-1", At(2026, 4, 20, 0, 0));
  at.Answer(due, "Q-1");
  std::vector<v1::Finding> f = at.Findings("written-query-reply", At(2026, 5, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_EQ(FromProtoTime(f[0].occurred_at()), due);
  EXPECT_THAT(f[0].explanation(),
              HasSubstr("promised by 20 Apr 2026, but answered only on 21 Apr 2026"));
}

// The same promise unanswered: one second before the promised day ends it
// is owed (an obligation, no finding); at that midnight and after it is a
// finding, in the findings and in the group table's count of medium
// findings alike, and owed no more. The table's query columns say the same:
// not yet due before (an acknowledgement is a holding reply, not the
// answer), unanswered and overdue from that midnight.
TEST_F(WrittenQueryTest, TheTableAndTheFindingsAgreeOnEitherSideOfThePromisedDay) {
  s_.Acknowledge(At(2026, 4, 2), "Q-1", At(2026, 4, 20, 9));
  const absl::Time due = At(2026, 4, 21, 0, 0);
  for (absl::Time as_of : {due - absl::Seconds(1), due, due + absl::Seconds(1)}) {
    SCOPED_TRACE(absl::FormatTime(as_of));
    const v1::FairnessReport report = s_.Report(as_of);
    int findings = 0;
    for (const auto& f : report.findings()) findings += f.rule_id() == "written-query-reply";
    int owed = 0;
    for (const auto& o : report.obligations()) owed += o.rule_id() == "written-query-reply";
    const v1::GroupMetrics* con = nullptr;
    for (const auto& g : report.groups()) {
      if (g.group_id() == "conservative") con = &g;
    }
    ASSERT_NE(con, nullptr);
    const bool late = as_of >= due;
    EXPECT_EQ(findings, late ? 1 : 0);
    EXPECT_EQ(owed, late ? 0 : 1);
    EXPECT_EQ(con->findings_medium(), late ? 1u : 0u);
    EXPECT_EQ(con->queries_replied_in_time(), 0u);
    EXPECT_EQ(con->queries_unanswered(), late ? 1u : 0u);
    EXPECT_EQ(con->queries_not_yet_due(), late ? 0u : 1u);
  }
  // Answered on the promised day: in time, the days counted to the answer.
  s_.Answer(At(2026, 4, 20, 16), "Q-1");
  const v1::FairnessReport answered = s_.Report(At(2026, 5, 1));
  for (const auto& g : answered.groups()) {
    if (g.group_id() != "conservative") continue;
    EXPECT_EQ(g.queries_replied_in_time(), 1u);
    EXPECT_EQ(g.queries_unanswered(), 0u);
    EXPECT_EQ(g.reply_working_days_median(), 11.0);
  }
}

// Received on a non-working day (docs/FAIRNESS.md, Harlow 6.6 and 15.18
// "within five working days"): the working days are those after the day of
// receipt, so a query received on Saturday 6 June 2026 has Monday 8 June as
// working day 1 and Friday 12 June as working day 5; its deadline is the
// midnight that ends that Friday (BST). Receipt is not deferred to Monday,
// which would make the Monday after working day 5.
class SaturdayQueryTest : public ::testing::Test {
 protected:
  void SetUp() override { received_ = s_.Query(At(2026, 6, 6, 11), "Q-SAT", "con-1"); }
  const absl::Time deadline_ = At(2026, 6, 13, 0, 0);
  CouncilScenario s_;
  uint64_t received_ = 0;
};

TEST_F(SaturdayQueryTest, AnAnswerAtTheEndOfTheFollowingFridayIsOnTime) {
  // On the day it came, five working days are left, to the end of Friday.
  std::vector<v1::Obligation> o = Obligations(s_, At(2026, 6, 6, 12), "written-query-reply");
  ASSERT_THAT(o, SizeIs(1));
  EXPECT_EQ(FromProtoTime(o[0].due_at()), deadline_);
  EXPECT_EQ(o[0].working_days_left(), 5u);  // Mon 8 to Fri 12 June
  // 23:59:59 on Friday 12 June, UK time.
  s_.Answer(deadline_ - absl::Seconds(1), "Q-SAT");
  EXPECT_THAT(s_.Findings("written-query-reply", At(2026, 7, 1)), IsEmpty());
}

TEST_F(SaturdayQueryTest, AnAnswerTheMondayAfterIsLate) {
  const uint64_t answer = s_.Answer(At(2026, 6, 15, 9), "Q-SAT");
  std::vector<v1::Finding> f = s_.Findings("written-query-reply", At(2026, 7, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_EQ(f[0].group_id(), "conservative");
  EXPECT_EQ(FromProtoTime(f[0].occurred_at()), deadline_);
  EXPECT_THAT(f[0].explanation(),
              HasSubstr("(received 6 Jun 2026) was first answered after 6 working days, on 15 "
                        "Jun 2026 (the limit is 5)."));
  EXPECT_THAT(Evidence(f[0]), ElementsAre(received_, answer));
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
              HasSubstr("was counted over days the bank holiday calendar does not cover (it "
                        "covers 2018 to 2027): those days were counted with weekends only, so it "
                        "may be wrong"));
  // It cites the query's deadline, not the definition of a group (found
  // from outside).
  EXPECT_EQ(f[0].citation(), "Harlow 6.6, 15.18");
  // Received before the calendar begins, its deadline inside it: the days
  // counted in 2017 are not covered, and the words do not say the deadline
  // itself lies outside.
  CouncilScenario early;
  early.Query(At(2017, 12, 27), "Q-1", "con-1");
  f = early.Findings("data-quality", At(2018, 2, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_THAT(f[0].explanation(), HasSubstr("The deadline of query-Q-1 (the end of 4 Jan 2018) "
                                            "was counted over days the bank holiday calendar "
                                            "does not cover"));
}

// A promise of a day already over when it is dated, asked about before
// that moment (a reply dated ahead of the clock): owed before the moment it
// is dated, which the obligation says, and no working day is left (found
// from outside: it said "by the end of that day", and a day was left).
TEST_F(WrittenQueryTest, APromiseAlreadyOverWhenDatedIsOwedBeforeThatMomentNotADaysEnd) {
  s_.Acknowledge(At(2026, 4, 2, 9), "Q-1", At(2026, 4, 1));
  std::vector<v1::Obligation> o = Obligations(s_, At(2026, 4, 1, 12), "written-query-reply");
  ASSERT_THAT(o, SizeIs(1));
  EXPECT_EQ(FromProtoTime(o[0].due_at()), At(2026, 4, 2, 9));
  EXPECT_EQ(o[0].working_days_left(), 0u);
  EXPECT_THAT(o[0].description(),
              AllOf(HasSubstr("was promised a reply by 1 Apr 2026, a day already over when that "
                              "promise is dated (09:00 BST on 2 Apr 2026): it is owed before "
                              "then, or the promise is broken as it is given."),
                    Not(HasSubstr("by the end of that day"))));
}

// A day promised beyond the calendar: the working days left to it are
// counted without bank holidays, and the obligation says so.
TEST(CalendarCoverageTest, WorkingDaysLeftToADayBeyondTheCalendarAreSaidToBeCountedWithoutIt) {
  CouncilScenario s;
  s.Query(At(2027, 12, 1), "Q-9", "con-1");
  s.Acknowledge(At(2027, 12, 2), "Q-9", At(2028, 6, 1));
  std::vector<v1::Obligation> o = Obligations(s, At(2027, 12, 3), "written-query-reply");
  ASSERT_THAT(o, SizeIs(1));
  EXPECT_THAT(o[0].description(),
              HasSubstr("(Working days left to it are counted without bank holidays: the "
                        "calendar covers only"));
  // A day inside it: nothing said.
  CouncilScenario inside;
  inside.Query(At(2027, 11, 1), "Q-8", "con-1");
  inside.Acknowledge(At(2027, 11, 2), "Q-8", At(2027, 12, 1));
  o = Obligations(inside, At(2027, 11, 3), "written-query-reply");
  ASSERT_THAT(o, SizeIs(1));
  EXPECT_THAT(o[0].description(), Not(HasSubstr("without bank holidays")));
}

TEST(CalendarCoverageTest, ADeadlineInsideTheCalendarIsNotFlagged) {
  CouncilScenario s;
  s.Query(At(2027, 12, 1), "Q-9", "con-1");
  s.Answer(At(2027, 12, 6), "Q-9");
  EXPECT_THAT(s.Findings("data-quality", At(2028, 2, 1)), IsEmpty());
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

// A reply recorded and then withdrawn by a correction no longer counts, but
// the finding that the query had no reply cites it and its withdrawal, so
// the committee sees that one was recorded; the obligation before the
// deadline does the same.
TEST_F(WrittenQueryTest, AWithdrawnReplyIsCitedWhereTheQueryHadNone) {
  const uint64_t ack = s_.Acknowledge(At(2026, 4, 2), "Q-1", At(2026, 4, 20, 17));
  const uint64_t withdrawal = s_.Correct(At(2026, 4, 3), ack, std::nullopt);
  std::vector<v1::Obligation> o = Obligations(s_, At(2026, 4, 7, 9), "written-query-reply");
  ASSERT_THAT(o, SizeIs(1));
  EXPECT_THAT(o[0].evidence_positions(), ElementsAre(received_, ack, withdrawal));
  std::vector<v1::Finding> f = s_.Findings("written-query-reply", At(2026, 5, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_THAT(Evidence(f[0]), ElementsAre(received_, ack, withdrawal));
  EXPECT_THAT(f[0].explanation(), HasSubstr("had no reply or acknowledgement within"));
  EXPECT_THAT(f[0].explanation(),
              HasSubstr("A reply recorded on 2 Apr 2026 was withdrawn by a correction."));
  const v1::FairnessReport report = s_.Report(At(2026, 5, 1));
  bool said = false;
  for (const auto& e : report.evidence()) {
    if (e.position() == withdrawal) {
      EXPECT_THAT(e.summary(), HasSubstr("Withdrawal of the event at position"));
      said = true;
    }
  }
  EXPECT_TRUE(said);
}

// Withdrawn before the deadline, a reply that was in time leaves the late
// one as the first: the late finding cites both.
TEST_F(WrittenQueryTest, AWithdrawnReplyInTimeIsCitedBesideTheLateOne) {
  const uint64_t early = s_.Answer(At(2026, 4, 2), "Q-1");
  const uint64_t withdrawal = s_.Correct(At(2026, 4, 6), early, std::nullopt);
  const uint64_t late = s_.Answer(At(2026, 4, 14), "Q-1");
  std::vector<v1::Finding> f = s_.Findings("written-query-reply", At(2026, 5, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_THAT(Evidence(f[0]), ElementsAre(received_, early, withdrawal, late));
  EXPECT_THAT(f[0].explanation(), HasSubstr("was first answered after 7 working days"));
  EXPECT_THAT(f[0].explanation(), HasSubstr("withdrawn by a correction"));
}

// Replies recorded and withdrawn over and over: the finding cites the first
// and the last three with their withdrawals and says how many there were
// (found from outside: 1,500 gave a finding citing 3,001 events, each of
// its versions kept for as-of reports: half a gigabyte). Six: all cited.
TEST_F(WrittenQueryTest, RepliesWithdrawnManyTimesAreCitedByTheFirstAndLastThree) {
  std::vector<uint64_t> pairs;  // each reply, then its withdrawal
  for (int i = 0; i < 10; ++i) {
    const uint64_t answer = s_.Answer(At(2026, 4, 2, 9, i), "Q-1");
    pairs.push_back(answer);
    pairs.push_back(s_.Correct(At(2026, 4, 2, 12), answer, std::nullopt));
  }
  std::vector<v1::Finding> f = s_.Findings("written-query-reply", At(2026, 5, 1));
  ASSERT_THAT(f, SizeIs(1));
  std::vector<uint64_t> cited = {received_};
  cited.insert(cited.end(), pairs.begin(), pairs.begin() + 6);
  cited.insert(cited.end(), pairs.end() - 6, pairs.end());
  EXPECT_THAT(Evidence(f[0]), ElementsAreArray(cited));
  EXPECT_THAT(f[0].explanation(),
              HasSubstr("10 replies were withdrawn by corrections; the first and the last 3 "
                        "recorded (on 2 Apr 2026) are cited, the others are in the log, each "
                        "with its correction."));

  CouncilScenario six;
  std::vector<uint64_t> all = {six.Query(At(2026, 4, 1), "Q-6", "con-1")};
  for (int i = 0; i < 6; ++i) {
    const uint64_t answer = six.Answer(At(2026, 4, 2 + i / 3, 9, i), "Q-6");
    all.push_back(answer);
    all.push_back(six.Correct(At(2026, 4, 6, 12), answer, std::nullopt));
  }
  f = six.Findings("written-query-reply", At(2026, 5, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_THAT(Evidence(f[0]), ElementsAreArray(all));
  EXPECT_THAT(f[0].explanation(),
              HasSubstr("Replies recorded on 2 Apr 2026, 3 Apr 2026 were withdrawn by "
                        "corrections."));
}

}  // namespace
}  // namespace evenhand::projections::rule_tests
