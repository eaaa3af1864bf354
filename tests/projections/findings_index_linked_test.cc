// The findings index decides a case again when what it read changes: a
// briefing given at a meeting long after its own facts, attendances agreed
// by their briefing, a councillor registered after their query, many
// briefings on one matter, a group never answered on one. Served from the
// index or derived in full, the same report as of every position.
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/time_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "projections/fairness_projection.h"
#include "tests/projections/indexed_projection.h"
#include "tests/testing/council_scenario.h"

namespace evenhand::projections {
namespace {

// A briefing asked for and approved in March, and given at the group's
// meeting in April (an attendance linking it, no BriefingDelivered): its own
// facts are long before a second-quarter period, yet the period's report,
// derived in full or served from the index, holds its giving: the offers
// the other groups are owed, its delivery and the officer's time.
TEST(FindingsIndexLinkedTest, ABriefingGivenAtAMeetingLongAfterItsOwnFactsIsInThePeriod) {
  testing::CouncilScenario s;
  s.Request(testing::At(2026, 3, 2), "B-1", "labour", "local-plan");
  s.Approve(testing::At(2026, 3, 3), "B-1");
  v1::Payload p;
  auto* a = p.mutable_officer_attended_group_meeting();
  a->set_meeting_id("M-1");
  a->set_group_id("labour");
  a->set_officer_id("dir");
  a->set_approved_by_officer_id("ceo");
  a->set_business(v1::COUNCIL_BUSINESS);
  a->set_duration_minutes(60);
  a->set_matter_id("local-plan");
  a->set_briefing_id("B-1");
  s.Add(testing::At(2026, 4, 10, 18), p);
  std::unique_ptr<IndexedProjection> folded = FoldIndexed(s.events());
  ASSERT_NE(folded, nullptr);
  const FairnessSettings& settings = folded->settings;
  const WorkingDayCalendar* calendar = &folded->calendar;
  FairnessProjection& projection = folded->projection;
  const ReportQuery q{testing::At(2026, 4, 1), testing::At(2026, 7, 1), s.events().size(),
                      testing::At(2026, 6, 1)};
  const v1::FairnessReport served = projection.Report(q, settings, *calendar);
  EXPECT_EQ(served.SerializeAsString(),
            projection.DerivedReport(q, settings, *calendar).SerializeAsString());
  int owed = 0;
  for (const auto& f : served.findings()) owed += f.rule_id() == "equal-offer";
  EXPECT_EQ(owed, 2);
  for (const auto& g : served.groups()) {
    if (g.group_id() != "labour") continue;
    EXPECT_EQ(g.briefings_delivered(), 1u);
    EXPECT_EQ(g.officer_minutes(), 60u);
  }
}

// The rules changed this session that read other facts than the one
// judged: an attendance agreed by the approval of the briefing it gives (in
// another case: the approval recorded after it, then corrected to name its
// officer), and a decline reversed by the same officer giving the briefing.
// Served from the index or derived, the same report as of every position.
TEST(FindingsIndexLinkedTest, AttendancesAgreedByTheirBriefingAndReversedDeclinesAsOfAnyPosition) {
  testing::CouncilScenario s;
  s.Request(testing::At(2026, 2, 2), "B-1", "labour", "waste");
  s.Attend(testing::At(2026, 2, 10), "M-1", "labour", "dir2", "", v1::COUNCIL_BUSINESS, 0, "waste",
           "B-1");
  // Recorded after the attendance, naming another officer; then corrected.
  const uint64_t approval = s.Approve(testing::At(2026, 2, 3), "B-1", "ceo", {"dir"});
  v1::Payload named;
  named.mutable_briefing_approved()->set_briefing_id("B-1");
  named.mutable_briefing_approved()->set_approved_by_officer_id("ceo");
  named.mutable_briefing_approved()->add_assigned_officer_ids("dir2");
  named.mutable_briefing_approved()->add_assigned_officer_ids("dir");
  s.Correct(testing::At(2026, 2, 20), approval, named);
  s.Deliver(testing::At(2026, 2, 12), "B-1", {"dir"});
  // Declined by the officer who advised Labour, then given by them.
  s.Request(testing::At(2026, 3, 2), "B-2", "green", "waste");
  s.Decline(testing::At(2026, 3, 3), "B-2", "dir", v1::OFFICER_UNAVAILABLE);
  s.Approve(testing::At(2026, 3, 4), "B-2", "ceo", {"dir"});
  s.Deliver(testing::At(2026, 3, 9), "B-2", {"dir"});
  std::unique_ptr<IndexedProjection> folded = FoldIndexed(s.events());
  ASSERT_NE(folded, nullptr);
  const FairnessSettings& settings = folded->settings;
  const WorkingDayCalendar* calendar = &folded->calendar;
  FairnessProjection& projection = folded->projection;
  std::set<std::string> seen;
  for (uint64_t position = 1; position <= s.events().size(); ++position) {
    const ReportQuery q{testing::At(2026, 1, 1), testing::At(2026, 7, 1), position,
                        testing::At(2026, 7, 1)};
    const v1::FairnessReport served = folded->Served(q);
    for (const auto& f : served.findings()) seen.insert(f.rule_id());
  }
  // Each rule's finding came and went along the way.
  EXPECT_TRUE(seen.contains("approval-required"));
  EXPECT_TRUE(seen.contains("same-matter-decline"));
  const ReportQuery end{testing::At(2026, 1, 1), testing::At(2026, 7, 1), s.events().size(),
                        testing::At(2026, 7, 1)};
  const v1::FairnessReport last = projection.Report(end, settings, *calendar);
  for (const auto& f : last.findings()) {
    EXPECT_NE(f.rule_id(), "approval-required") << f.explanation();
    EXPECT_NE(f.rule_id(), "same-matter-decline") << f.explanation();
  }
}

// A councillor's registration gives a name and nothing else a decision asks
// of the council (found from outside: 5,000 registrations each decided
// every subject again that had asked about the council, 270 a second):
// it decides again only what read that councillor's name. A query by a
// councillor registered only after it, then renamed by a correction, and a
// group joined after both: served from the index or derived, the same
// report as of every position, naming the councillor as the log then did.
TEST(FindingsIndexLinkedTest, ACouncillorRegisteredAfterTheirQueryIsNamedAsOfEveryPosition) {
  testing::CouncilScenario s;
  s.Query(testing::At(2026, 3, 2, 10), "Q-1", "late-1");
  v1::Payload registered;
  registered.mutable_member_registered()->set_member_id("late-1");
  registered.mutable_member_registered()->set_name("Cllr First Name");
  const uint64_t registration = s.Add(testing::At(2026, 3, 20), registered);
  registered.mutable_member_registered()->set_name("Cllr Corrected Name");
  s.Correct(testing::At(2026, 3, 25), registration, registered);
  s.Join(testing::At(2026, 3, 1), "late-1", "green");
  std::unique_ptr<IndexedProjection> folded = FoldIndexed(s.events());
  ASSERT_NE(folded, nullptr);
  auto names = [](const v1::FairnessReport& r) {
    std::string all;
    for (const auto& f : r.findings()) {
      if (f.rule_id() == "written-query-reply")
        absl::StrAppend(&all, f.explanation(), "|", f.group_id(), "\n");
    }
    return all;
  };
  std::vector<std::string> seen;
  for (uint64_t position = registration - 1; position <= s.events().size(); ++position) {
    const ReportQuery q{testing::At(2026, 1, 1), testing::At(2026, 7, 1), position,
                        testing::At(2026, 7, 1)};
    const v1::FairnessReport served = folded->Served(q);
    seen.push_back(names(served));
  }
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_THAT(seen[0], ::testing::AllOf(::testing::HasSubstr("late-1"),
                                        ::testing::Not(::testing::HasSubstr("Cllr"))));
  EXPECT_THAT(seen[1], ::testing::HasSubstr("Cllr First Name"));
  EXPECT_THAT(seen[2], ::testing::HasSubstr("Cllr Corrected Name"));
  EXPECT_THAT(seen[3], ::testing::AllOf(::testing::HasSubstr("Cllr Corrected Name"),
                                        ::testing::HasSubstr("|green")));
}

// Briefings read each other's facts on their matter only up to their own
// deadline and the earliest answer to each group (ReportBuilder::
// BeginBoundedReads; found from outside: a matter of hundreds of briefings
// decided each of them again at each event of any). Many briefings on one
// matter, their facts out of order in time (delivered before requested,
// given at a meeting and delivered later, offers, declines, backdated),
// corrected in time and in group: served from the index or derived, the
// same report as of every position.
TEST(FindingsIndexLinkedTest, BriefingsOnABusyMatterAreTheSameServedOrDerivedAsOfEveryPosition) {
  const char* const kGroups[] = {"labour", "conservative", "green"};
  for (uint32_t seed = 1; seed <= 12; ++seed) {
    std::mt19937 random(seed);
    auto pick = [&](int n) { return static_cast<int>(random() % n); };
    testing::CouncilScenario s;
    const absl::Time start = testing::At(2026, 3, 2);
    std::vector<uint64_t> delivered, requested;
    for (int i = 0; i < 24; ++i) {
      const std::string id = absl::StrCat("B-", seed, "-", i);
      const std::string group = kGroups[pick(3)];
      const absl::Time t = start + absl::Hours(pick(24 * 40));
      if (pick(6) == 0) {
        s.Offer(t, id, group, "busy");
        continue;
      }
      requested.push_back(s.Request(t, id, group, "busy"));
      switch (pick(5)) {
        case 0:  // declined
          s.Decline(t + absl::Hours(3), id, "hos", v1::OFFICER_UNAVAILABLE);
          break;
        case 1:  // given at the group's meeting, and a delivery recorded later
          s.Approve(t + absl::Hours(1), id);
          s.Attend(t + absl::Hours(24 * pick(8)), absl::StrCat("M-", id), group, "hos", "ceo",
                   v1::COUNCIL_BUSINESS, 0, "busy", id);
          if (pick(2) == 0) delivered.push_back(s.Deliver(t + absl::Hours(24 * 12), id));
          break;
        case 2:  // delivered before it was requested (as recorded)
          delivered.push_back(s.Deliver(t - absl::Hours(30), id));
          break;
        default:
          s.Approve(t + absl::Hours(2), id);
          delivered.push_back(s.Deliver(t + absl::Hours(24 * pick(10)), id));
      }
    }
    // Corrections: deliveries moved in time, requests moved to another group.
    for (int k = 0; k < 4 && !delivered.empty(); ++k) {
      s.CorrectWhen(start + absl::Hours(24 * 45), delivered[pick(delivered.size())],
                    start + absl::Hours(pick(24 * 40)));
    }
    for (int k = 0; k < 3 && !requested.empty(); ++k) {
      const uint64_t position = requested[pick(requested.size())];
      v1::Payload moved = s.events()[position - 1].event().payload();
      moved.mutable_briefing_requested()->set_group_id(kGroups[pick(3)]);
      s.Correct(start + absl::Hours(24 * 46), position, moved);
    }
    std::unique_ptr<IndexedProjection> folded = FoldIndexed(s.events());
    ASSERT_NE(folded, nullptr);
    int findings = 0;
    for (uint64_t position = 1; position <= s.events().size(); ++position) {
      // As the server asks: judged at the moment the position was recorded
      // (a finding withdrawn before its date is then never shown, and the
      // index forgets it), and at the end as of a later moment too.
      const absl::Time recorded = FromProtoTime(s.events()[position - 1].event().recorded_at());
      const ReportQuery q{testing::At(2026, 1, 1), testing::At(2026, 7, 1), position, recorded};
      folded->Served(q);
      if (HasFailure()) return;
    }
    const ReportQuery end{testing::At(2026, 1, 1), testing::At(2026, 7, 1), s.events().size(),
                          testing::At(2026, 7, 1)};
    findings = folded->Served(end).findings_size();
    EXPECT_GT(findings, 0) << "seed " << seed;
  }
}

// A group never answered on a matter: its verdict waits on its own
// briefings there, whenever their facts come, and on any new fact on the
// matter naming it; another group's facts there change nothing. A request
// approved and left waiting, then delivered long after the deadline and
// recorded last; an offer to the third group recorded later still; other
// groups' briefings between: the same served or derived as of every
// position (the first two, read otherwise, were missed).
TEST(FindingsIndexLinkedTest, AGroupNeverAnsweredIsDecidedAgainByItsOwnLaterFacts) {
  testing::CouncilScenario s;
  s.Request(testing::At(2026, 3, 23), "B-1", "labour", "plan");
  s.Approve(testing::At(2026, 3, 24), "B-1");
  s.Deliver(testing::At(2026, 4, 1, 12), "B-1");
  s.Request(testing::At(2026, 4, 2), "B-2", "conservative", "plan");
  s.Approve(testing::At(2026, 4, 3), "B-2");
  s.Request(testing::At(2026, 4, 6), "B-3", "labour", "plan");
  s.Decline(testing::At(2026, 4, 7), "B-3", "hos", v1::OFFICER_UNAVAILABLE);
  s.Deliver(testing::At(2026, 4, 20), "B-2");
  s.Offer(testing::At(2026, 4, 22), "O-1", "green", "plan");
  std::unique_ptr<IndexedProjection> folded = FoldIndexed(s.events());
  ASSERT_NE(folded, nullptr);
  for (uint64_t position = 1; position <= s.events().size(); ++position) {
    const absl::Time recorded = FromProtoTime(s.events()[position - 1].event().recorded_at());
    folded->Served(
        ReportQuery{testing::At(2026, 1, 1), testing::At(2026, 7, 1), position, recorded});
    if (HasFailure()) return;
  }
  const v1::FairnessReport end =
      folded->Served(ReportQuery{testing::At(2026, 1, 1), testing::At(2026, 7, 1),
                                 s.events().size(), testing::At(2026, 7, 1)});
  std::string said;
  for (const v1::Finding& f : end.findings()) {
    if (f.rule_id() == "equal-offer") absl::StrAppend(&said, f.explanation(), "\n");
  }
  EXPECT_THAT(said, ::testing::HasSubstr("given only on 20 Apr 2026"));
  EXPECT_THAT(said, ::testing::HasSubstr("offered the same only on 22 Apr 2026"));
}

}  // namespace
}  // namespace evenhand::projections
