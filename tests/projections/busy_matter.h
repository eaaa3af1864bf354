// A busy matter: many briefings on one matter in a council of six groups,
// shaped as an outside probe's burst (requests approved and delivered,
// declined, given at the group's meeting or left waiting, offers, one group
// that only ever asks and is declined, one never answered at all), their
// facts recorded in the order generated, not in time. For the findings
// index's tests of what a new fact on the matter decides again.
#ifndef EVENHAND_TESTS_PROJECTIONS_BUSY_MATTER_H_
#define EVENHAND_TESTS_PROJECTIONS_BUSY_MATTER_H_

#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "tests/testing/council_scenario.h"

namespace evenhand::projections {

// The six groups: the scenario's three, and three more of two councillors.
inline const char* const kBusyMatterGroups[] = {"labour", "conservative", "green",
                                                "libdem", "alliance",     "residents"};

// The scenario's council with the three more groups recognised.
inline void AddBusyMatterGroups(testing::CouncilScenario& s) {
  const absl::Time start = testing::At(2025, 5, 2, 9);
  for (const char* g : {"libdem", "alliance", "residents"}) {
    std::vector<std::string> members;
    for (int i = 1; i <= 2; ++i) {
      v1::Payload p;
      const std::string id = absl::StrCat(g, "-", i);
      p.mutable_member_registered()->set_member_id(id);
      p.mutable_member_registered()->set_name(absl::StrCat("Cllr ", id));
      s.Add(start, p);
      members.push_back(id);
    }
    s.RecogniseGroup(start, g, absl::StrCat(g, " group"), members);
  }
}

// `briefings` briefings (and offers) on matter "busy" from 2 March 2026 over
// sixty days, drawn from `seed`. "residents" is never answered; "libdem"
// only asks and is declined.
inline void AddBusyMatter(testing::CouncilScenario& s, int briefings, uint32_t seed) {
  std::mt19937 random(seed);
  auto pick = [&](int n) { return static_cast<int>(random() % n); };
  const absl::Time start = testing::At(2026, 3, 2, 9);
  for (int i = 0; i < briefings; ++i) {
    const std::string id = absl::StrCat("B-", seed, "-", i);
    const absl::Time t = start + absl::Minutes(pick(60 * 24 * 60));
    const int g = pick(5);  // never "residents"
    const std::string group = kBusyMatterGroups[g];
    const std::string member = g < 3 ? "" : absl::StrCat(group, "-1");
    if (g != 3 && pick(7) == 0) {
      s.Offer(t, id, group, "busy");
      continue;
    }
    s.Request(t, id, group, "busy", member);
    switch (g == 3 ? 0 : pick(5)) {
      case 0:
        s.Decline(t + absl::Hours(4), id, "hos", v1::OFFICER_UNAVAILABLE);
        break;
      case 1:  // given at the group's meeting
        s.Approve(t + absl::Hours(1), id);
        s.Attend(t + absl::Hours(24 * (1 + pick(6))), absl::StrCat("M-", id), group, "hos", "ceo",
                 v1::COUNCIL_BUSINESS, 0, "busy", id);
        break;
      case 2:  // approved, still waiting
        s.Approve(t + absl::Hours(2), id);
        break;
      default:
        s.Approve(t + absl::Hours(2), id);
        s.Deliver(t + absl::Hours(24 * (1 + pick(9))), id);
    }
  }
}

}  // namespace evenhand::projections

#endif  // EVENHAND_TESTS_PROJECTIONS_BUSY_MATTER_H_
