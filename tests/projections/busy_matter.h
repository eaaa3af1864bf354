// A busy matter: many briefings on one matter in a council of six groups,
// shaped as an outside probe's burst (requests approved and delivered,
// declined, given at the group's meeting or left waiting, offers, one group
// that only ever asks and is declined, one never answered at all), their
// facts recorded in the order generated, not in time. For the findings
// index's tests of what a new fact on the matter decides again.
#ifndef EVENHAND_TESTS_PROJECTIONS_BUSY_MATTER_H_
#define EVENHAND_TESTS_PROJECTIONS_BUSY_MATTER_H_

#include <optional>
#include <random>
#include <string>
#include <vector>

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

// Positions of what AddBusyMatter() recorded, for corrections.
struct BusyMatter {
  std::vector<uint64_t> requests;
  std::vector<uint64_t> deliveries;
  std::vector<uint64_t> offers;
  std::vector<std::string> waiting;  // approved, not yet given
};

// `briefings` briefings (and offers) on matter "busy" from 2 March 2026 over
// sixty days, drawn from `seed`. "residents" is never answered; "libdem"
// only asks and is declined.
inline BusyMatter AddBusyMatter(testing::CouncilScenario& s, int briefings, uint32_t seed) {
  BusyMatter out;
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
      out.offers.push_back(s.Offer(t, id, group, "busy"));
      continue;
    }
    out.requests.push_back(s.Request(t, id, group, "busy", member));
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
        out.waiting.push_back(id);
        break;
      default:
        s.Approve(t + absl::Hours(2), id);
        out.deliveries.push_back(s.Deliver(t + absl::Hours(24 * (1 + pick(9))), id));
    }
  }
  return out;
}

// Then what a busy matter's history also holds, drawn from `seed`: waiting
// briefings delivered, or given at a meeting, dated before their request;
// briefings whose attendance was recorded before their request; requests
// withdrawn; deliveries moved in time; requests moved to another group or
// matter; offers withdrawn.
inline void DisorderBusyMatter(testing::CouncilScenario& s, const BusyMatter& m, uint32_t seed) {
  std::mt19937 random(seed * 7919);
  auto pick = [&](int n) { return static_cast<int>(random() % n); };
  auto any = [&](const std::vector<uint64_t>& v) { return v[pick(static_cast<int>(v.size()))]; };
  const absl::Time start = testing::At(2026, 3, 2, 9);
  auto when = [&] { return start + absl::Minutes(pick(60 * 24 * 60)); };
  for (size_t i = 0; i < m.waiting.size(); ++i) {
    switch (pick(3)) {
      case 0:
        s.Deliver(start - absl::Hours(24) + absl::Minutes(pick(60 * 24 * 20)), m.waiting[i]);
        break;
      case 1: {
        v1::Payload p;
        p.mutable_briefing_request_withdrawn()->set_briefing_id(m.waiting[i]);
        s.Add(when(), p);
        break;
      }
      default:
        break;
    }
  }
  for (int i = 0; i < 4; ++i) {
    const std::string id = absl::StrCat("L-", seed, "-", i);
    const std::string group = kBusyMatterGroups[pick(3)];
    const absl::Time t = when();
    s.Attend(t - absl::Hours(24 * pick(10)), absl::StrCat("M-", id), group, "hos", "ceo",
             v1::COUNCIL_BUSINESS, 0, "busy", id);
    s.Request(t, id, group, "busy");
  }
  const absl::Time late = start + absl::Hours(24 * 70);
  for (int i = 0; i < 4 && !m.deliveries.empty(); ++i) {
    s.CorrectWhen(late, any(m.deliveries), when());
  }
  // When alone corrected (before any is moved to another group or matter):
  // requests moved either way, one with its payload repeated; below, an
  // offer's time after it was withdrawn.
  for (int i = 0; i < 3 && !m.requests.empty(); ++i) {
    const uint64_t position = any(m.requests);
    std::optional<v1::Payload> same;
    if (i == 0) same = s.events()[position - 1].event().payload();
    s.CorrectWhen(late, position, when(), same);
  }
  for (int i = 0; i < 3 && !m.requests.empty(); ++i) {
    const uint64_t position = any(m.requests);
    v1::Payload moved = s.events()[position - 1].event().payload();
    if (pick(3) == 0) {
      moved.mutable_briefing_requested()->set_matter_id("elsewhere");
    } else {
      moved.mutable_briefing_requested()->set_group_id(kBusyMatterGroups[pick(3)]);
      moved.mutable_briefing_requested()->set_requested_by_member_id("");
    }
    s.Correct(late, position, moved);
  }
  for (int i = 0; i < 2 && !m.offers.empty(); ++i) {
    const uint64_t offer = any(m.offers);
    s.Correct(late, offer, std::nullopt);
    s.CorrectWhen(late, offer, when());
  }
}

}  // namespace evenhand::projections

#endif  // EVENHAND_TESTS_PROJECTIONS_BUSY_MATTER_H_
