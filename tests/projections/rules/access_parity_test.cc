// access-parity: declines and late replies compared between groups.
#include "tests/projections/rules/rule_test_util.h"

namespace evenhand::projections::rule_tests {
namespace {

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

// Promises broken are late replies too: a group whose queries were all
// acknowledged in time and then answered weeks after the day promised (each
// a written-query-reply finding) was not answered in time, in the group
// table and in the comparison alike. The reply days measure the answer, not
// the acknowledgement.
TEST(AccessParityTest, AcknowledgedQueriesWhosePromiseWasBrokenCountAsLate) {
  CouncilScenario s;
  for (int i = 0; i < 8; ++i) {
    const absl::Time monday = At(2026, 1, 5) + absl::Hours(24 * 7 * i);
    s.Query(monday, absl::StrCat("QG", i), "grn-1");
    s.Acknowledge(monday + absl::Hours(24), absl::StrCat("QG", i), monday + absl::Hours(24 * 4));
    if (i < 6) s.Answer(monday + absl::Hours(24 * 25), absl::StrCat("QG", i));
    s.Query(monday, absl::StrCat("QL", i), "lab-1");
    s.Answer(monday + absl::Hours(24), absl::StrCat("QL", i));
    s.Query(monday, absl::StrCat("QC", i), "con-1");
    s.Answer(monday + absl::Hours(24), absl::StrCat("QC", i));
  }
  std::vector<v1::Finding> f = s.Findings("access-parity", At(2026, 6, 1));
  ASSERT_THAT(f, SizeIs(1));
  EXPECT_EQ(f[0].group_id(), "green");
  EXPECT_THAT(f[0].explanation(), HasSubstr("8 of 8 written queries answered late"));
  EXPECT_THAT(s.Findings("written-query-reply", At(2026, 6, 1)), SizeIs(8));
  const v1::FairnessReport report = s.Report(At(2026, 6, 1));
  for (const auto& g : report.groups()) {
    if (g.group_id() != "green") continue;
    EXPECT_EQ(g.queries_replied_in_time(), 0u);
    EXPECT_EQ(g.queries_replied_late(), 6u);
    EXPECT_EQ(g.queries_unanswered(), 2u);
    // 25 days after a Monday: the answer, 18 working days on.
    EXPECT_GE(g.reply_working_days_median(), 17.0);
  }
}

}  // namespace
}  // namespace evenhand::projections::rule_tests
