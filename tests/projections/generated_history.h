// History: a generated council history for the findings index's tests
// (findings_index_test) and the council registry's (council_registry_test):
// demo::GenerateCouncil's events (planted breaches, events missing, events
// recorded up to 300 places late), recorded with corrections that move,
// replace or withdraw facts, councillors changing group, officers changing
// role, delegations given (by anyone) and revoked, pre-election periods declared late, and the
// server's records of reads along the way.
#ifndef EVENHAND_TESTS_PROJECTIONS_GENERATED_HISTORY_H_
#define EVENHAND_TESTS_PROJECTIONS_GENERATED_HISTORY_H_

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "base/time_util.h"
#include "demo/council_generator.h"
#include "evenhand/v1/log.pb.h"
#include "tests/testing/council_scenario.h"

namespace evenhand::projections {

class History {
 public:
  explicit History(uint64_t seed) : rng_(seed) {
    demo::GeneratorOptions options;
    options.seed = seed;
    options.start = testing::At(2025 + Pick(0, 2), 1 + Pick(0, 11), 1 + Pick(0, 27), 0);
    options.days = Pick(90, 300);
    options.intensity = 0.5 + Pick(0, 15) / 10.0;
    options.plant_breaches = seed % 2 == 0;
    std::vector<v1::Event> events;
    for (auto& append : demo::GenerateCouncil(options)) {
      for (auto& e : append.events) {
        e.set_stream_id(append.stream_id);
        Harvest(e);
        events.push_back(std::move(e));
      }
    }
    first_ = FromProtoTime(events.front().occurred_at());
    last_ = FromProtoTime(events.back().occurred_at());
    // Some events missing (a reply never recorded, an offer never made).
    std::vector<v1::Event> kept;
    for (auto& e : events) {
      const bool registration = e.payload().has_member_registered() ||
                                e.payload().has_officer_registered() ||
                                e.payload().has_political_group_recognised();
      if (!registration && Chance(0.04)) continue;
      kept.push_back(std::move(e));
    }
    // Some recorded late: moved up to 300 places on.
    for (size_t i = kept.size(); i-- > 0;) {
      if (!Chance(0.05)) continue;
      const size_t to = std::min(kept.size() - 1, i + Pick(1, 300));
      std::rotate(kept.begin() + i, kept.begin() + i + 1, kept.begin() + to + 1);
    }
    // Record them, with the council changing and facts being corrected
    // along the way.
    for (auto& e : kept) {
      Record(std::move(e));
      if (Chance(0.03)) Correct();
      if (Chance(0.004)) ChangeCouncil();
      if (Chance(0.01)) DecideAgain();
      if (Chance(0.05)) RecordRead();
    }
  }

  const std::vector<v1::RecordedEvent>& log() const { return log_; }
  absl::Time RecordedAt(uint64_t position) const {
    return FromProtoTime(log_[position - 1].event().recorded_at());
  }
  // The last position recorded at or before `t` (0 if none), as the server
  // answers a report as of a time.
  uint64_t PositionAt(absl::Time t) const {
    auto after = std::upper_bound(log_.begin(), log_.end(), t, [](absl::Time v, const auto& e) {
      return v < FromProtoTime(e.event().recorded_at());
    });
    return static_cast<uint64_t>(after - log_.begin());
  }
  absl::Time first() const { return first_; }
  absl::Time last() const { return last_; }
  int Pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool Chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  absl::Time Between(absl::Time a, absl::Time b) {
    const int64_t span = absl::ToInt64Seconds(b - a);
    return a + absl::Seconds(
                   std::uniform_int_distribution<int64_t>(0, std::max<int64_t>(span, 0))(rng_));
  }

 private:
  void Harvest(const v1::Event& e) {
    const v1::Payload& p = e.payload();
    if (p.has_member_registered()) members_.push_back(p.member_registered().member_id());
    if (p.has_officer_registered()) officers_.push_back(p.officer_registered().officer_id());
    if (p.has_political_group_recognised()) {
      groups_.push_back(p.political_group_recognised().group_id());
    }
  }

  void Record(v1::Event e) {
    v1::RecordedEvent r;
    r.set_position(log_.size() + 1);
    // Recorded when it is (a late one: after it happened).
    absl::Time now = FromProtoTime(e.occurred_at());
    if (!log_.empty()) now = std::max(now, FromProtoTime(log_.back().event().recorded_at()));
    *e.mutable_recorded_at() = testing::Proto(now);
    *r.mutable_event() = std::move(e);
    log_.push_back(std::move(r));
  }

  v1::Event Next(const std::string& stream, absl::Time occurred) {
    v1::Event e;
    e.set_event_id(absl::StrCat("gen-", log_.size() + 1));
    e.set_stream_id(stream);
    *e.mutable_occurred_at() = testing::Proto(occurred);
    return e;
  }

  absl::Time Now() const { return FromProtoTime(log_.back().event().recorded_at()); }
  // Up to `hours` earlier or later, but not after now: the server refuses a
  // time in the future.
  absl::Time Moved(absl::Time at, int hours) {
    return std::min(Now(), at + absl::Hours(Pick(-hours, hours)));
  }

  // A correction of a random earlier fact: withdrawn, moved in time, or
  // replaced (with its own content, moved or not).
  void Correct() {
    const v1::RecordedEvent& original = log_[Pick(0, static_cast<int>(log_.size()) - 1)];
    if (original.event().payload().has_event_corrected()) return;
    v1::Event e = Next(original.event().stream_id(), Now());
    auto* c = e.mutable_payload()->mutable_event_corrected();
    c->set_corrected_event_id(original.event().event_id());
    c->set_corrected_position(original.position());
    const absl::Time at = FromProtoTime(original.event().occurred_at());
    switch (Pick(0, 3)) {
      case 0:  // withdrawn
        break;
      case 1:
        *c->mutable_replacement_occurred_at() = testing::Proto(Moved(at, 240));
        break;
      case 2:
        *c->mutable_replacement() = original.event().payload();
        break;
      case 3:
        *c->mutable_replacement() = original.event().payload();
        *c->mutable_replacement_occurred_at() = testing::Proto(Moved(at, 96));
        break;
    }
    Record(std::move(e));
  }

  // The server's record of a read (the report's "who read the log").
  void RecordRead() {
    static const char* const kPrincipals[] = {"clerk", "auditor", "labour-group"};
    static const char* const kMethods[] = {"evenhand.v1.Fairness/GetReport",
                                           "evenhand.v1.EventLog/ReadStream",
                                           "evenhand.v1.Audit/Export"};
    static const char* const kOutcomes[] = {"allowed", "opened", "completed",
                                            "denied: not a reader of this stream"};
    const std::string principal = kPrincipals[Pick(0, 2)];
    v1::Event e = Next(absl::StrCat("access-", principal), Now());
    auto* a = e.mutable_payload()->mutable_access_recorded();
    a->set_principal(principal);
    a->set_authenticated_as(absl::StrCat("certificate ", principal));
    a->set_method(kMethods[Pick(0, 2)]);
    a->set_outcome(kOutcomes[Pick(0, 3)]);
    a->set_events_returned(static_cast<uint64_t>(Pick(0, 500)));
    a->add_roles(Pick(0, 1) == 0 ? "committee" : "auditor");
    Record(std::move(e));
  }

  // A briefing request decided again (approved after a decline, declined
  // after an approval), sometimes dated before the first decision: the
  // group table counts a request's latest decision in the period.
  void DecideAgain() {
    for (int tries = 0; tries < 20; ++tries) {
      const v1::RecordedEvent& d = log_[Pick(0, static_cast<int>(log_.size()) - 1)];
      const v1::Payload& p = d.event().payload();
      if (!p.has_briefing_approved() && !p.has_briefing_declined()) continue;
      const absl::Time at = FromProtoTime(d.event().occurred_at());
      v1::Event e = Next(d.event().stream_id(), Moved(at, Chance(0.3) ? 24 * 40 : 24 * 5));
      if (p.has_briefing_approved()) {
        auto* x = e.mutable_payload()->mutable_briefing_declined();
        x->set_briefing_id(p.briefing_approved().briefing_id());
        x->set_declined_by_officer_id(p.briefing_approved().approved_by_officer_id());
        x->set_reason(static_cast<v1::DeclineReason>(Pick(1, 6)));
      } else {
        auto* x = e.mutable_payload()->mutable_briefing_approved();
        x->set_briefing_id(p.briefing_declined().briefing_id());
        x->set_approved_by_officer_id(p.briefing_declined().declined_by_officer_id());
      }
      Record(std::move(e));
      return;
    }
  }

  // The council changes, possibly backdated (recorded late).
  void ChangeCouncil() {
    if (members_.empty() || officers_.empty() || groups_.empty()) return;
    const absl::Time now = Now();
    const absl::Time when = Chance(0.5) ? now : Between(first_, now);
    const std::string member = members_[Pick(0, static_cast<int>(members_.size()) - 1)];
    const std::string officer = officers_[Pick(0, static_cast<int>(officers_.size()) - 1)];
    const std::string group = groups_[Pick(0, static_cast<int>(groups_.size()) - 1)];
    switch (Pick(0, 6)) {
      case 0: {
        v1::Event e = Next(absl::StrCat("member-", member), when);
        e.mutable_payload()->mutable_member_left_group()->set_member_id(member);
        e.mutable_payload()->mutable_member_left_group()->set_group_id(group);
        Record(std::move(e));
        break;
      }
      case 1: {
        v1::Event e = Next(absl::StrCat("member-", member), when);
        e.mutable_payload()->mutable_member_joined_group()->set_member_id(member);
        e.mutable_payload()->mutable_member_joined_group()->set_group_id(group);
        Record(std::move(e));
        break;
      }
      case 2: {
        v1::Event e = Next(absl::StrCat("officer-", officer), when);
        auto* r = e.mutable_payload()->mutable_officer_role_changed();
        r->set_officer_id(officer);
        r->set_role(static_cast<v1::OfficerRole>(Pick(1, 7)));
        if (r->role() == v1::POLITICAL_ASSISTANT) r->set_group_id(group);
        Record(std::move(e));
        break;
      }
      case 3: {
        v1::Event e = Next(absl::StrCat("officer-", officer), when);
        auto* r = e.mutable_payload()->mutable_approval_delegation_revoked();
        r->set_delegate_officer_id(officer);
        r->set_revoked_by_officer_id(officers_.front());
        Record(std::move(e));
        break;
      }
      case 4: {
        const std::string id = absl::StrCat("late-", log_.size());
        v1::Event e = Next(absl::StrCat("election-", id), now);
        auto* d = e.mutable_payload()->mutable_pre_election_period_declared();
        d->set_period_id(id);
        *d->mutable_starts_at() = testing::Proto(when);
        *d->mutable_election_day() = testing::Proto(when + absl::Hours(24 * Pick(3, 40)));
        d->set_description("a by-election");
        Record(std::move(e));
        break;
      }
      case 5: {
        v1::Event e = Next(absl::StrCat("officer-", officer), when);
        auto* r = e.mutable_payload()->mutable_officer_registered();
        r->set_officer_id(officer);
        r->set_name(absl::StrCat("Renamed ", officer));
        r->set_role(v1::DIRECTOR);
        r->set_director_officer_id(officers_.back());
        Record(std::move(e));
        break;
      }
      case 6: {
        // A delegation, by any officer: only the Head of Paid Service's
        // counts, and one that does not is cited by the findings it bears on.
        v1::Event e = Next(absl::StrCat("officer-", officer), when);
        auto* d = e.mutable_payload()->mutable_approval_delegated();
        d->set_delegate_officer_id(officer);
        d->set_delegated_by_officer_id(officers_[Pick(0, static_cast<int>(officers_.size()) - 1)]);
        Record(std::move(e));
        break;
      }
    }
  }

  std::mt19937_64 rng_;
  std::vector<v1::RecordedEvent> log_;
  std::vector<std::string> members_, officers_, groups_;
  absl::Time first_, last_;
};

}  // namespace evenhand::projections

#endif  // EVENHAND_TESTS_PROJECTIONS_GENERATED_HISTORY_H_
