// data-quality (Harlow 2.3: a political group is "two or more Councillors";
// and the facts the deadlines of written-query-reply, Harlow 6.6 and 15.18,
// and of equal-offer, Harrow 5.2, mayoral §9 and Barnet 9.2, are counted
// from). Each finding cites the paragraphs its facts bear on.
#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/time_util.h"
#include "projections/internal/report_builder.h"
#include "projections/internal/rules/common.h"
#include "projections/internal/rules/rule.h"

namespace evenhand::projections::internal {

namespace {

constexpr char kGroups[] = "Harlow 2.3";
constexpr char kQueryDeadlines[] = "Harlow 6.6, 15.18";
constexpr char kOfferDeadlines[] = "Harrow 5.2; mayoral §9; Barnet 9.2";

std::string Describe(const FairnessSettings&) {
  return "Facts that do not fit together: a group with fewer than two councillors at any "
         "time in the period, a "
         "briefing asked for by a councillor who is not in the group; an officer's attendance "
         "linking a briefing with no delivery on record but naming another matter, none, or "
         "another group's meeting. Reported so the source systems can be put right; not a "
         "breach in itself.";
}

// The instant group `g`, below two councillors at `t`, last fell below two
// (the start of the spell `t` is in, which may be before a period).
absl::Time FellBelowTwo(const ReportBuilder& b, const Case& g, absl::Time t) {
  const std::vector<absl::Time> all =
      b.CouncilChangesIn(absl::InfinitePast(), t + absl::Nanoseconds(1));
  size_t i = all.size() - 1;  // the last change at or before t
  while (i > 1 && b.GroupExistsAt(g, all[i - 1]) &&
         b.GroupSizeAt(std::string(g.id()), all[i - 1]) < 2) {
    --i;
  }
  return all[i];
}

// A group below two councillors at any time in the period, not only at its
// end: a spell from when it fell below to when it recovered, was dissolved,
// or the period ended.
void CheckGroupSizes(ReportBuilder& b) {
  // The period, with the as-of instant inside it (as InPeriod has it).
  const absl::Time end = b.query().as_of_time < b.query().to
                             ? b.query().as_of_time + absl::Nanoseconds(1)
                             : b.query().to;
  absl::Time start = b.query().from;
  std::vector<absl::Time> changes = b.CouncilChangesIn(start, end);
  if (start == absl::InfinitePast()) {
    // From the first change on: before it there was no council to judge.
    changes.erase(changes.begin());
    if (changes.empty()) return;
  }
  struct Spell {
    absl::Time from;
    size_t fewest;
    size_t most;
  };
  enum class Ended { kRecovered, kDissolved, kPeriodEnd };
  std::map<std::string, Spell> low;
  auto report = [&](const std::string& group_id, const Spell& spell, absl::Time until,
                    Ended ended) {
    auto found = b.indexes().group_by_id.find(group_id);
    const Case* g = found == b.indexes().group_by_id.end() ? nullptr : found->second;
    std::optional<Seen> recognised =
        g == nullptr ? std::nullopt : b.First(*g, v1::Payload::kPoliticalGroupRecognised);
    if (!recognised) return;
    // What shows it (found from outside: only the recognition was cited):
    // the group; the change that took it below two, before the period if
    // it began there; and what ended the spell, the change that brought it
    // back to two or its dissolution.
    std::vector<Seen> evidence = {*recognised};
    auto add = [&evidence](const std::vector<Seen>& changes) {
      for (const Seen& s : changes) {
        if (std::none_of(evidence.begin(), evidence.end(),
                         [&s](const Seen& e) { return e.position == s.position; })) {
          evidence.push_back(s);
        }
      }
    };
    add(b.MembershipChangesBy(group_id, FellBelowTwo(b, *g, spell.from)));
    if (ended == Ended::kRecovered) add(b.MembershipChangesBy(group_id, until));
    if (ended == Ended::kDissolved) {
      if (std::optional<Seen> d = b.First(*g, v1::Payload::kPoliticalGroupDissolved)) add({*d});
    }
    const std::string how_many =
        spell.fewest != spell.most ? std::string("fewer than two councillors (at times none)")
        : spell.fewest == 0        ? std::string("no councillors")
                                   : Plural(static_cast<int>(spell.fewest), "councillor");
    std::string to;
    switch (ended) {
      case Ended::kRecovered:
        to = absl::StrCat("until ", b.Date(until));
        break;
      case Ended::kDissolved:
        to = absl::StrCat("until it was dissolved on ", b.Date(until));
        break;
      case Ended::kPeriodEnd:
        to = b.query().as_of_time < b.query().to ? "to the report's moment"
                                                 : "to the end of the period";
        break;
    }
    b.AddFinding(
        "data-quality", group_id, g->stream_id(), spell.from,
        absl::StrCat(b.GroupName(group_id), " had ", how_many, " from ", b.Date(spell.from), " ",
                     to, "; a political group is two or more (Harlow 2.3)."),
        evidence, kGroups);
  };
  for (absl::Time t : changes) {
    std::set<std::string> existing;
    for (const Case* g : b.GroupsAt(t)) {
      const std::string group_id(g->id());
      existing.insert(group_id);
      const size_t members = b.GroupSizeAt(group_id, t);
      auto it = low.find(group_id);
      if (members < 2) {
        if (it == low.end()) {
          low.emplace(group_id, Spell{t, members, members});
        } else {
          it->second.fewest = std::min(it->second.fewest, members);
          it->second.most = std::max(it->second.most, members);
        }
      } else if (it != low.end()) {
        report(group_id, it->second, t, Ended::kRecovered);
        low.erase(it);
      }
    }
    for (auto it = low.begin(); it != low.end();) {
      if (existing.contains(it->first)) {
        ++it;
        continue;
      }
      report(it->first, it->second, t, Ended::kDissolved);
      it = low.erase(it);
    }
  }
  for (const auto& [group_id, spell] : low) report(group_id, spell, end, Ended::kPeriodEnd);
}

// A deadline the bank holiday calendar does not cover was counted with
// weekends only: it may be wrong, so say so rather than judge in silence.
void CheckCalendarCoverage(ReportBuilder& b) {
  const auto uncovered = b.uncovered_deadlines();
  for (const auto& [stream_id, entry] : uncovered) {
    const auto& [c, deadline] = entry;
    std::optional<Seen> opening = b.Opening(*c);
    std::vector<Seen> evidence;
    if (opening) evidence.push_back(*opening);
    b.AddFinding(
        "data-quality", "", stream_id, deadline,
        absl::StrCat("The deadline of ", stream_id, " (the end of ",
                     b.Date(deadline - absl::Seconds(1)),
                     ") was counted over days the bank holiday calendar does not cover (it "
                     "covers ",
                     b.calendar().first_year(), " to ", b.calendar().last_year(),
                     "): those days were counted with weekends only, so it may be wrong. Update "
                     "fairness.bankHolidaysFile with GOV.UK's current bank-holidays.json."),
        evidence, c->kind == CaseKind::kQuery ? kQueryDeadlines : kOfferDeadlines);
  }
}

void CheckLinkedAttendances(ReportBuilder& b);

// A reply dated before the query it answers came in: the dates do not fit,
// and the reply is counted as given in time (found from outside: taken
// without a word).
void CheckRepliesBeforeQueries(ReportBuilder& b) {
  for (const Case* c : b.Cases(CaseKind::kQuery)) {
    const QueryOutcome& o = b.QueryOf(*c);
    if (!o.received || !o.first_reply || o.first_reply->at >= o.received->at) continue;
    b.AddFinding("data-quality", o.group_id, c->stream_id(), o.received->at,
                 absl::StrCat("Written query ", c->id(), ", received on ", b.Date(o.received->at),
                              ", has a reply dated ", b.Date(o.first_reply->at),
                              ", before it came in: one of the dates is wrong (a correction puts "
                              "it right); the reply is counted as given in time."),
                 {*o.received, *o.first_reply}, kQueryDeadlines);
  }
}

void Check(ReportBuilder& b) {
  CheckCalendarCoverage(b);
  CheckLinkedAttendances(b);
  CheckRepliesBeforeQueries(b);
  for (const Case* c : b.Cases(CaseKind::kBriefing)) {
    const BriefingView& v = b.BriefingOf(*c);
    if (!v.request || v.is_offer || !b.InPeriod(v.request->at)) continue;
    const std::string& member = v.request->payload->briefing_requested().requested_by_member_id();
    if (member.empty()) continue;
    const std::string group = b.MemberGroupAt(member, v.request->at);
    if (group == v.group()) continue;
    b.AddFinding("data-quality", v.group(), c->stream_id(), v.request->at,
                 absl::StrCat(b.MemberName(member), " asked for briefing ", c->id(), " for ",
                              b.GroupName(v.group()), " but was ",
                              group.empty() ? std::string("in no group")
                                            : absl::StrCat("in ", b.GroupName(group)),
                              " at the time."),
                 {*v.request}, kGroups);
  }
}

// An attendance linking a briefing (briefing_id) that is taken as neither
// its delivery nor the briefing given at the meeting: the briefing was not
// delivered, and the attendance is at another group's meeting or names
// another matter (or none), so equal-offer does not read it as the
// briefing given (rules/common.h, GivenAt). Said, so that a source system
// that leaves the matter out can be put right.
void CheckLinkedAttendances(ReportBuilder& b) {
  for (const Case* c : b.Cases(CaseKind::kMeeting)) {
    for (const Seen& m : b.Facts(*c, v1::Payload::kOfficerAttendedGroupMeeting)) {
      const auto& a = m.payload->officer_attended_group_meeting();
      if (a.briefing_id().empty()) continue;
      const Case* briefing = b.Briefing(a.briefing_id());
      if (briefing == nullptr) continue;
      const BriefingView& v = b.BriefingOf(*briefing);
      if (!v.request || v.is_offer) continue;
      if (a.group_id() == v.group() && !v.matter().empty() && a.matter_id() == v.matter()) continue;
      // Given some other way (delivered, or at a meeting that matches): this
      // link misleads nothing.
      if (GivenAt(b, *briefing, v)) continue;
      const std::string names =
          a.group_id() != v.group()
              ? absl::StrCat("is at ", b.GroupName(a.group_id()), "'s meeting, not ",
                             b.GroupName(v.group()), "'s")
              : absl::StrCat("names ",
                             a.matter_id().empty() ? std::string("no matter")
                                                   : absl::StrCat("matter ", a.matter_id()),
                             ", not the briefing's (",
                             v.matter().empty() ? std::string("none") : v.matter(), ")");
      b.AddFinding("data-quality", a.group_id(), c->stream_id(), m.at,
                   absl::StrCat("The attendance of ", b.OfficerName(a.officer_id()), " on ",
                                b.Date(m.at), " links briefing ", a.briefing_id(),
                                ", which has no delivery on record, but ", names,
                                ": it is not taken as the briefing given, so no other group is "
                                "owed its offer from it."),
                   {m, *v.request}, kOfferDeadlines);
    }
  }
}

}  // namespace

RuleDef DataQualityRule() {
  return {"data-quality",
          "Facts that do not fit together",
          "Harlow 2.3; Harlow 6.6, 15.18; Harrow 5.2; mayoral §9; Barnet 9.2",
          v1::INFO,
          &Describe,
          &Check,
          &CheckGroupSizes};
}

}  // namespace evenhand::projections::internal
