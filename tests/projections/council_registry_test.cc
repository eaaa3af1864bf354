// The council's registry kept for reports (council_registry.h): what the
// cache hands back and when it stops, and reports read through it that
// follow every change to the registry (a councillor leaving a group, a
// group's recognition corrected, a group dissolved), as of the log's end
// and as of positions before each change; and the registry the findings
// index keeps case by case, which is the one read whole after every event.
#include "projections/internal/council_registry.h"

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "evenhand/v1/fairness.pb.h"
#include "gtest/gtest.h"
#include "projections/internal/report_builder.h"
#include "tests/projections/generated_history.h"
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

// Registries compare equal when they say the same and point into the same
// facts (a stale pointer into a case's body would differ).
bool SameSeen(const Seen& a, const Seen& b) {
  return a.fact == b.fact && a.payload == b.payload && a.at == b.at && a.position == b.position &&
         a.correction_position == b.correction_position;
}
bool SameSeen(const std::optional<Seen>& a, const std::optional<Seen>& b) {
  return a.has_value() == b.has_value() && (!a || SameSeen(*a, *b));
}
template <typename T>
bool SameChanges(const std::vector<T>& a, const std::vector<T>& b,
                 bool (*same)(const T&, const T&)) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!same(a[i], b[i])) return false;
  }
  return true;
}
bool SameChange(const CouncilRegistry::Change& a, const CouncilRegistry::Change& b) {
  return a.at == b.at && a.position == b.position && a.value == b.value;
}
template <typename V, typename Same>
std::string CompareMaps(const absl::flat_hash_map<std::string, V>& a,
                        const absl::flat_hash_map<std::string, V>& b, Same same,
                        const std::string& what) {
  if (a.size() != b.size()) {
    return absl::StrCat(what, ": ", a.size(), " entries, read whole ", b.size());
  }
  for (const auto& [key, value] : a) {
    auto it = b.find(key);
    if (it == b.end()) return absl::StrCat(what, ": ", key, " not in the one read whole");
    if (!same(value, it->second)) return absl::StrCat(what, ": ", key, " differs");
  }
  return "";
}

// What `kept` says that `whole` does not ("" if nothing).
std::string Difference(const CouncilRegistry& kept, const CouncilRegistry& whole) {
  using Change = CouncilRegistry::Change;
  auto changes = [](const std::vector<Change>& a, const std::vector<Change>& b) {
    return SameChanges<Change>(a, b, SameChange);
  };
  std::string d = CompareMaps(
      kept.groups, whole.groups,
      [](const CouncilRegistry::GroupInfo& a, const CouncilRegistry::GroupInfo& b) {
        return SameSeen(a.recognised, b.recognised) && a.dissolved == b.dissolved &&
               a.name == b.name && a.founders == b.founders;
      },
      "groups");
  if (d.empty()) d = CompareMaps(kept.memberships, whole.memberships, changes, "memberships");
  if (d.empty()) d = CompareMaps(kept.joined, whole.joined, changes, "joined");
  if (d.empty()) d = CompareMaps(kept.founded, whole.founded, changes, "founded");
  if (d.empty()) {
    d = CompareMaps(
        kept.member_names, whole.member_names,
        [](absl::string_view a, absl::string_view b) { return a == b; }, "member_names");
  }
  if (d.empty()) {
    d = CompareMaps(
        kept.officers, whole.officers,
        [](const CouncilRegistry::OfficerInfo& a, const CouncilRegistry::OfficerInfo& b) {
          auto same_role = [](const std::pair<Change, v1::OfficerRole>& x,
                              const std::pair<Change, v1::OfficerRole>& y) {
            return SameChange(x.first, y.first) && x.second == y.second;
          };
          auto same_delegation = [](const std::pair<Change, bool>& x,
                                    const std::pair<Change, bool>& y) {
            return SameChange(x.first, y.first) && x.second == y.second;
          };
          return a.name == b.name && a.director == b.director &&
                 SameChanges<std::pair<Change, v1::OfficerRole>>(a.roles, b.roles, same_role) &&
                 SameChanges<std::pair<Change, bool>>(a.delegations, b.delegations,
                                                      same_delegation);
        },
        "officers");
  }
  if (d.empty()) {
    d = CompareMaps(
        kept.bodies, whole.bodies, [](const auto& a, const auto& b) { return a.get() == b.get(); },
        "bodies");
  }
  if (d.empty()) {
    bool same = kept.elections.size() == whole.elections.size();
    for (size_t i = 0; same && i < kept.elections.size(); ++i) {
      same = kept.elections[i].first == whole.elections[i].first &&
             SameSeen(kept.elections[i].second, whole.elections[i].second);
    }
    if (!same) d = "elections differ";
  }
  return d;
}

// The findings index keeps the registry up to date case by case as it folds
// (UpdateRegistry): after every event of many generated histories (groups'
// recognitions corrected, moved or withdrawn, councillors leaving groups,
// officers changing role, delegations revoked, pre-election periods
// declared late), it is the registry read whole as of that position.
TEST(CouncilRegistryTest, TheRegistryKeptCaseByCaseIsTheOneReadWhole) {
  const WorkingDayCalendar calendar = Calendar();
  const FairnessSettings settings;
  int registry_events = 0;
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    History h(seed);
    FairnessProjection p;
    ReportBuilder kept(p, settings, calendar, ReportBuilder::ForIndex{});
    for (const v1::RecordedEvent& e : h.log()) {
      p.Apply(e);
      absl::string_view id;
      const std::string& stream = e.event().stream_id();
      const Case* c = nullptr;
      const FairnessProjection::Indexes& x = p.indexes();
      switch (KindOfStream(stream, &id)) {
        case CaseKind::kGroup:
          c = x.group_by_id.at(id);
          break;
        case CaseKind::kMember:
          c = x.member_by_id.at(id);
          break;
        case CaseKind::kOfficer:
          c = x.officer_by_id.at(id);
          break;
        case CaseKind::kElection:
          for (const Case* election : x.elections) {
            if (election->stream_id() == stream) c = election;
          }
          break;
        default:
          break;
      }
      if (c == nullptr) continue;
      ++registry_events;
      kept.UpdateRegistry(*c, e.position());
      ReportBuilder whole(p, settings, calendar, ReportBuilder::ForIndex{});
      whole.ReloadRegistry(e.position());
      const std::string d = Difference(kept.registry(), whole.registry());
      ASSERT_EQ(d, "") << "history " << seed << ", after position " << e.position() << " ("
                       << stream << ")";
    }
  }
  EXPECT_GT(registry_events, 800) << "events that changed the registry";
}

}  // namespace
}  // namespace evenhand::projections::internal
