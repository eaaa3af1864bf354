// data-quality: what the log cannot judge, flagged.
#include "tests/projections/rules/rule_test_util.h"

namespace evenhand::projections::rule_tests {
namespace {

using ::testing::Contains;
using ::testing::IsSupersetOf;

TEST(DataQualityTest, AGroupLeftWithOneCouncillorIsReported) {
  CouncilScenario s;
  const uint64_t left = s.Leave(At(2026, 2, 1), "grn-2", "green");
  std::vector<v1::Finding> f = s.Findings("data-quality", At(2026, 3, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_THAT(Evidence(f[0]), Contains(left));
  EXPECT_EQ(f[0].severity(), v1::INFO);
  EXPECT_THAT(f[0].explanation(),
              HasSubstr("Green Group had 1 councillor from 1 Feb 2026 to the report's moment"));
  EXPECT_EQ(f[0].citation(), "Harlow 2.3");
}

// A spell below two councillors inside the period is reported, even if the
// group recovered before the period ended (the year's report, not only the
// quarter's).
TEST(DataQualityTest, AGroupBelowTwoCouncillorsForAWhileInTheYearIsReported) {
  CouncilScenario s;
  const uint64_t left = s.Leave(At(2026, 2, 1), "grn-2", "green");
  const uint64_t rejoined = s.Join(At(2026, 5, 1), "grn-2", "green");
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
  // It cites what shows it: the leave and the rejoining, not only the
  // group's recognition (found from outside).
  EXPECT_THAT(Evidence(f[0]), IsSupersetOf({left, rejoined}));
}

// A month's report of a spell that began before it cites the leave that
// took the group below two, not a later one; a spell ended by dissolution
// cites it; and a count that changed in the spell is not given as one
// (found from outside).
TEST(DataQualityTest, ASpellCitesWhereItBeganAndHowItEnded) {
  CouncilScenario s;
  const uint64_t first = s.Leave(At(2026, 2, 2), "grn-1", "green");
  s.Leave(At(2026, 2, 9), "grn-2", "green");
  s.Join(At(2026, 3, 9), "grn-1", "green");
  s.Join(At(2026, 3, 16), "grn-2", "green");
  const v1::FairnessReport march =
      s.Report(At(2026, 12, 31), std::nullopt, At(2026, 3, 1, 0, 0), At(2026, 4, 1, 0, 0));
  std::vector<v1::Finding> f;
  for (const auto& x : march.findings()) {
    if (x.rule_id() == "data-quality") f.push_back(x);
  }
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_THAT(Evidence(f[0]), IsSupersetOf({first}));
  EXPECT_THAT(f[0].explanation(),
              HasSubstr("Green Group had fewer than two councillors (at times none) from 1 Mar "
                        "2026 until 16 Mar 2026"));

  CouncilScenario t;
  t.Leave(At(2026, 2, 2), "grn-2", "green");
  v1::Payload p;
  p.mutable_political_group_dissolved()->set_group_id("green");
  const uint64_t dissolved = t.Add(At(2026, 2, 20), p);
  std::vector<v1::Finding> g = t.Findings("data-quality", At(2026, 3, 1));
  ASSERT_THAT(g, SizeIs(1));
  EXPECT_THAT(g[0].explanation(), HasSubstr("until it was dissolved on 20 Feb 2026"));
  EXPECT_THAT(Evidence(g[0]), Contains(dissolved));
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

// A reply dated before the query came in: reported, citing both (found
// from outside: counted as in time without a word).
TEST(DataQualityTest, AReplyDatedBeforeItsQueryCameInIsReported) {
  CouncilScenario s;
  const uint64_t received = s.Query(At(2026, 10, 5), "Q-1", "con-1");
  const uint64_t answer = s.Answer(At(2026, 10, 1), "Q-1");
  s.Query(At(2026, 10, 5), "Q-2", "con-1");
  s.Answer(At(2026, 10, 6), "Q-2");
  std::vector<v1::Finding> f = s.Findings("data-quality", At(2026, 11, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_EQ(f[0].case_id(), "query-Q-1");
  EXPECT_THAT(Evidence(f[0]), ElementsAre(received, answer));
  EXPECT_THAT(f[0].explanation(), HasSubstr("has a reply dated 1 Oct 2026, before it came in"));
  EXPECT_EQ(f[0].citation(), "Harlow 6.6, 15.18");
}

// Officer minutes per councillor divide by the group's size over the
// period, weighted by time, not by its size at the end: the Conservatives
// (two councillors) briefed for an hour in March, who both leave on 1 April,
// had 30 minutes each in a March-April report, not 0 (nothing divided by
// no councillors), and a councillor joining for the last half of a period
// counts for half of it.
TEST(GroupSizeFiguresTest, MinutesPerCouncillorDivideByTheGroupsSizeOverThePeriod) {
  CouncilScenario s;
  s.Briefing(At(2026, 3, 2), At(2026, 3, 3), "B-1", "conservative", "budget", {"hos"}, 60);
  for (const char* m : {"con-1", "con-2"}) {
    v1::Payload p;
    p.mutable_member_left_group()->set_member_id(m);
    p.mutable_member_left_group()->set_group_id("conservative");
    s.Add(At(2026, 4, 1), p);
  }
  // March with two, April with none: 60 over two for March's share of the
  // period.
  const double share =
      absl::FDivDuration(At(2026, 4, 1) - At(2026, 3, 1), At(2026, 5, 1) - At(2026, 3, 1));
  const v1::FairnessReport spring =
      s.Report(At(2026, 6, 1), std::nullopt, At(2026, 3, 1), At(2026, 5, 1));
  for (const auto& g : spring.groups()) {
    if (g.group_id() != "conservative") continue;
    EXPECT_EQ(g.councillors(), 0u);
    EXPECT_EQ(g.officer_minutes(), 60u);
    EXPECT_NEAR(g.officer_minutes_per_councillor(), 60.0 / (2.0 * share), 1e-6);
  }
  const v1::FairnessReport march =
      s.Report(At(2026, 6, 1), std::nullopt, At(2026, 3, 1), At(2026, 4, 1));
  for (const auto& g : march.groups()) {
    if (g.group_id() == "conservative") EXPECT_NEAR(g.officer_minutes_per_councillor(), 30, 1e-9);
  }
}

// A group whose size never changed has its minutes divided by that size
// exactly, however the period's other council changes split it: summed in
// doubles, 70 minutes over Labour's three read 23.333333333333332 as of one
// moment and 23.333333333333336 as of another (outside probe).
TEST(GroupSizeFiguresTest, ASizeThatNeverChangedDividesExactlyAsOfAnyMoment) {
  CouncilScenario s;
  s.Briefing(At(2026, 3, 2), At(2026, 3, 3), "B-1", "labour", "budget", {"hos"}, 70);
  // Others come and go at odd moments through the period.
  for (int day = 4; day < 28; day += 3) {
    const absl::Time at = At(2026, 3, day, 9) + absl::Seconds(day * 7919) + absl::Nanoseconds(day);
    s.Join(at, "ind-1", "green");
    s.Leave(at + absl::Seconds(day * 104729), "ind-1", "green");
  }
  for (int day = 5; day <= 31; day += 2) {
    const absl::Time now = At(2026, 3, day, 17) + absl::Nanoseconds(day * 12345);
    for (const v1::FairnessReport& r :
         {s.Report(now), s.Report(now, std::nullopt, At(2026, 3, 1), At(2026, 4, 1))}) {
      for (const auto& g : r.groups()) {
        if (g.group_id() == "labour") EXPECT_EQ(g.officer_minutes_per_councillor(), 70.0 / 3);
      }
    }
  }
}

}  // namespace
}  // namespace evenhand::projections::rule_tests
