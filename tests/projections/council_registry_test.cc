// The council's registry kept for reports (council_registry.h): what the
// cache hands back and when it stops, and reports read through it that
// follow every change to the registry (a councillor leaving a group, a
// group's recognition corrected, a group dissolved), as of the log's end
// and as of positions before each change.
#include "projections/internal/council_registry.h"

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "evenhand/v1/fairness.pb.h"
#include "gtest/gtest.h"
#include "tests/testing/council_scenario.h"

namespace evenhand::projections::internal {
namespace {

using ::evenhand::testing::At;
using ::evenhand::testing::CouncilScenario;

WorkingDayCalendar Calendar() {
  auto calendar = WorkingDayCalendar::LoadFile(EVENHAND_BANK_HOLIDAYS);
  EXPECT_TRUE(calendar.ok()) << calendar.status();
  return *std::move(calendar);
}

TEST(CouncilRegistryCacheTest, ServesFromItsPositionUntilTheNextChangeAndForItsCalendarOnly) {
  const WorkingDayCalendar calendar = Calendar();
  auto other = WorkingDayCalendar::Parse("2026-01-01 New Year\n", "other");
  ASSERT_TRUE(other.ok()) << other.status();
  CouncilRegistryCache cache;
  EXPECT_EQ(cache.Get(10, calendar), nullptr) << "nothing kept yet";

  auto registry = std::make_shared<const CouncilRegistry>();
  cache.Changed(8);
  cache.Put(registry, 10, calendar);
  EXPECT_EQ(cache.Get(10, calendar), registry);
  EXPECT_EQ(cache.Get(500, calendar), registry) << "no change since: the same registry";
  EXPECT_EQ(cache.Get(8, calendar), registry) << "built after the last change, which was at 8";
  EXPECT_EQ(cache.Get(7, calendar), nullptr) << "before the last change: another registry";
  EXPECT_EQ(cache.Get(10, *other), nullptr) << "pre-election periods end by the calendar";

  cache.Changed(20);
  EXPECT_EQ(cache.Get(25, calendar), nullptr) << "a change lets go of what was kept";
  cache.Put(registry, 15, calendar);
  EXPECT_EQ(cache.Get(25, calendar), nullptr) << "one built before the change is not kept";
  auto next = std::make_shared<const CouncilRegistry>();
  cache.Put(next, 21, calendar);
  EXPECT_EQ(cache.Get(25, calendar), next);
  EXPECT_EQ(cache.Get(19, calendar), nullptr);
}

const v1::GroupMetrics* Group(const v1::FairnessReport& report, const std::string& id) {
  for (const v1::GroupMetrics& g : report.groups()) {
    if (g.group_id() == id) return &g;
  }
  return nullptr;
}

TEST(CouncilRegistryCacheTest, ReportsFollowEveryChangeToTheRegistry) {
  CouncilScenario s;
  const absl::Time now = At(2025, 7, 1);
  uint64_t labour_recognised = 0;
  for (const v1::RecordedEvent& e : s.events()) {
    if (e.event().payload().political_group_recognised().group_id() == "labour") {
      labour_recognised = e.position();
    }
  }
  ASSERT_GT(labour_recognised, 0u);
  // Asked twice: the second report reads the registry the first kept.
  for (int i = 0; i < 2; ++i) {
    const v1::FairnessReport r = s.Report(now);
    ASSERT_NE(Group(r, "labour"), nullptr);
    EXPECT_EQ(Group(r, "labour")->councillors(), 3u);
    EXPECT_EQ(Group(r, "labour")->name(), "Labour Group");
  }
  const uint64_t before_leaving = s.last_position();

  s.Leave(At(2025, 6, 1), "lab-3", "labour");
  EXPECT_EQ(Group(s.Report(now), "labour")->councillors(), 2u);
  EXPECT_EQ(Group(s.Report(now, before_leaving), "labour")->councillors(), 3u)
      << "as of before the change, the registry as it stood then";
  EXPECT_EQ(Group(s.Report(now), "labour")->councillors(), 2u)
      << "and then as the log stands again";

  v1::Payload renamed = s.events()[labour_recognised - 1].event().payload();
  renamed.mutable_political_group_recognised()->set_name("Labour and Co-operative Group");
  const uint64_t corrected = s.Correct(At(2025, 6, 2), labour_recognised, renamed);
  EXPECT_EQ(Group(s.Report(now), "labour")->name(), "Labour and Co-operative Group");
  EXPECT_EQ(Group(s.Report(now, corrected - 1), "labour")->name(), "Labour Group");

  ASSERT_NE(Group(s.Report(At(2025, 6, 10), std::nullopt, At(2025, 6, 5)), "green"), nullptr);
  s.Dissolve(At(2025, 6, 3), "green");
  EXPECT_EQ(Group(s.Report(At(2025, 6, 10), std::nullopt, At(2025, 6, 5)), "green"), nullptr)
      << "a group dissolved before the period is not in it";
  EXPECT_EQ(Group(s.Report(now), "labour")->name(), "Labour and Co-operative Group");
  EXPECT_EQ(Group(s.Report(now), "labour")->councillors(), 2u);
}

}  // namespace
}  // namespace evenhand::projections::internal
