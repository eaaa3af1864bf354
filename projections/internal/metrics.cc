// Per-group metrics for the report, and the access-parity rule that
// compares them (Harrow 4.1: "equivalent access to officers' time is
// available to all political groups"; Barnet 9.2; mayoral §9: "officers must
// treat each group in a fair and evenhanded manner"; Harlow 15.9).
#include <algorithm>
#include <tuple>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "projections/internal/report_builder.h"
#include "projections/internal/rules/common.h"
#include "projections/statistics.h"

namespace evenhand::projections::internal {
namespace {

// "p = 0.0123", or "p < 0.0001" when smaller than four decimals show.
std::string PValue(double p) {
  return p < 0.0001 ? std::string("p < 0.0001") : absl::StrFormat("p = %.4f", p);
}

struct Tally {
  v1::GroupMetrics metrics;
  std::vector<double> minutes_per_briefing;
  std::vector<double> reply_days;
  // Evidence for parity findings.
  std::vector<Seen> declines, late_replies;
};

}  // namespace

void AddGroupMetrics(ReportBuilder& b, v1::FairnessReport* report) {
  const absl::Time end = b.period_end();
  const absl::Time last_instant = end - absl::Nanoseconds(1);
  std::map<std::string, Tally> tallies;  // by group id: sorted, so deterministic
  // Every group that existed at some point of the period.
  for (const Case* g : b.indexes().groups) {
    std::optional<Seen> recognised = b.First(*g, v1::Payload::kPoliticalGroupRecognised);
    if (!recognised || recognised->at >= end) continue;
    bool dissolved_before = false;
    for (const Seen& d : b.Facts(*g, v1::Payload::kPoliticalGroupDissolved)) {
      if (d.at < b.query().from) dissolved_before = true;
    }
    if (dissolved_before) continue;
    Tally& t = tallies[g->id];
    t.metrics.set_group_id(g->id);
    t.metrics.set_name(b.GroupName(g->id));
    t.metrics.set_councillors(static_cast<uint32_t>(b.GroupMembersAt(g->id, last_instant).size()));
  }
  auto tally = [&](const std::string& group) -> Tally* {
    auto it = tallies.find(group);
    return it == tallies.end() ? nullptr : &it->second;
  };

  // Briefings and offers.
  for (const Case* c : b.Cases(CaseKind::kBriefing)) {
    std::optional<Seen> opening = b.Opening(*c);
    if (!opening) continue;
    const v1::Payload& p = *opening->payload;
    const bool is_offer = p.has_briefing_offered();
    if (!is_offer && !p.has_briefing_requested()) continue;
    const std::string& group =
        is_offer ? p.briefing_offered().group_id() : p.briefing_requested().group_id();
    Tally* t = tally(group);
    if (t == nullptr) continue;
    if (b.InPeriod(opening->at)) {
      if (is_offer) {
        t->metrics.set_briefings_offered(t->metrics.briefings_offered() + 1);
      } else {
        t->metrics.set_briefings_requested(t->metrics.briefings_requested() + 1);
      }
    }
    for (const Seen& n : b.Facts(*c, v1::Payload::kBriefingOfferNotTakenUp)) {
      if (b.InPeriod(n.at))
        t->metrics.set_offers_not_taken_up(t->metrics.offers_not_taken_up() + 1);
    }
    // The request's decision is its latest approval or decline in the period.
    std::optional<Seen> decision;
    for (const Seen& seen : b.View(*c)) {
      const std::optional<Seen> s = seen;
      if (!s || !b.InPeriod(s->at)) continue;
      if (s->payload->has_briefing_approved() || s->payload->has_briefing_declined()) {
        if (!decision ||
            std::tie(s->at, s->position) > std::tie(decision->at, decision->position)) {
          decision = s;
        }
      }
    }
    if (decision) {
      if (decision->payload->has_briefing_declined()) {
        t->metrics.set_briefings_declined(t->metrics.briefings_declined() + 1);
        const v1::DeclineReason reason = decision->payload->briefing_declined().reason();
        // Declines the protocols require, when the reason given held.
        if ((reason == v1::PRE_ELECTION_PERIOD || reason == v1::PARTY_POLITICAL) &&
            DeclineReasonHeld(b, b.BriefingOf(*c), *decision)) {
          t->metrics.set_briefings_declined_required(t->metrics.briefings_declined_required() + 1);
        } else {
          t->declines.push_back(*decision);
        }
      } else {
        t->metrics.set_briefings_approved(t->metrics.briefings_approved() + 1);
      }
    }
    if (std::optional<Seen> d = b.First(*c, v1::Payload::kBriefingDelivered);
        d && b.InPeriod(d->at)) {
      const auto& delivery = d->payload->briefing_delivered();
      const uint64_t minutes = static_cast<uint64_t>(std::max(0, delivery.duration_minutes())) *
                               static_cast<uint64_t>(std::max(1, delivery.officer_ids_size()));
      t->metrics.set_briefings_delivered(t->metrics.briefings_delivered() + 1);
      t->metrics.set_officer_minutes(t->metrics.officer_minutes() + minutes);
      t->minutes_per_briefing.push_back(static_cast<double>(minutes));
    }
  }
  // Officers at group meetings that were not briefings already counted.
  for (const Case* c : b.Cases(CaseKind::kMeeting)) {
    for (const Seen& m : b.Facts(*c, v1::Payload::kOfficerAttendedGroupMeeting)) {
      const auto& a = m.payload->officer_attended_group_meeting();
      if (!a.briefing_id().empty() || !b.InPeriod(m.at)) continue;
      if (Tally* t = tally(a.group_id())) {
        t->metrics.set_officer_minutes(t->metrics.officer_minutes() +
                                       static_cast<uint64_t>(std::max(0, a.duration_minutes())));
      }
    }
  }
  // Written queries, by the group of the councillor when the query came in.
  for (const Case* c : b.Cases(CaseKind::kQuery)) {
    const QueryOutcome& o = b.QueryOf(*c);
    if (!o.received || !b.InPeriod(o.received->at)) continue;
    Tally* t = tally(o.group_id);
    if (t == nullptr) continue;
    v1::GroupMetrics& m = t->metrics;
    m.set_queries_received(m.queries_received() + 1);
    if (o.first_reply) {
      if (o.in_time) {
        m.set_queries_replied_in_time(m.queries_replied_in_time() + 1);
      } else {
        m.set_queries_replied_late(m.queries_replied_late() + 1);
        t->late_replies.push_back(*o.received);
      }
      t->reply_days.push_back(b.calendar().WorkingDaysBetween(
          b.calendar().LocalDay(o.received->at), b.calendar().LocalDay(o.first_reply->at)));
    } else if (!o.pending) {
      m.set_queries_unanswered(m.queries_unanswered() + 1);
      t->late_replies.push_back(*o.received);
    } else {
      m.set_queries_not_yet_due(m.queries_not_yet_due() + 1);
    }
  }
  // Complaints raised by the group's councillors.
  for (const Case* c : b.Cases(CaseKind::kComplaint)) {
    std::optional<Seen> raised = b.First(*c, v1::Payload::kComplaintRaised);
    if (!raised || !b.InPeriod(raised->at)) continue;
    const auto& r = raised->payload->complaint_raised();
    if (!r.raised_by().has_member_id()) continue;
    if (Tally* t = tally(b.MemberGroupAt(r.raised_by().member_id(), raised->at))) {
      t->metrics.set_complaints_raised(t->metrics.complaints_raised() + 1);
    }
  }
  for (auto& [id, t] : tallies) {
    v1::GroupMetrics& m = t.metrics;
    const uint32_t discretionary = m.briefings_declined() - m.briefings_declined_required();
    const uint32_t decided = m.briefings_approved() + discretionary;
    m.set_decline_rate(decided == 0 ? 0 : static_cast<double>(discretionary) / decided);
    m.set_officer_minutes_per_councillor(
        m.councillors() == 0 ? 0 : static_cast<double>(m.officer_minutes()) / m.councillors());
    m.set_reply_working_days_median(Median(t.reply_days));
    m.set_reply_working_days_p90(Quantile(t.reply_days, 0.9));
  }

  // access-parity: each group against the others together.
  const FairnessSettings& s = b.settings();
  const size_t min_cases = static_cast<size_t>(s.parity_min_cases);
  // The first 20 by when they happened (then position): the same whatever
  // order the cases were held in (a fold, a restore, a report offline).
  auto cap = [](std::vector<Seen> v) {
    constexpr size_t kMaxEvidence = 20;
    std::sort(v.begin(), v.end(), [](const Seen& a, const Seen& b) {
      return std::tie(a.at, a.position) < std::tie(b.at, b.position);
    });
    if (v.size() > kMaxEvidence) v.resize(kMaxEvidence);
    return v;
  };
  for (auto& [id, t] : tallies) {
    uint64_t declined_others = 0, approved_others = 0, late_others = 0, in_time_others = 0;
    std::vector<double> minutes_others;
    for (auto& [other_id, o] : tallies) {
      if (other_id == id) continue;
      declined_others += o.metrics.briefings_declined() - o.metrics.briefings_declined_required();
      approved_others += o.metrics.briefings_approved();
      late_others += o.metrics.queries_replied_late() + o.metrics.queries_unanswered();
      in_time_others += o.metrics.queries_replied_in_time();
      minutes_others.insert(minutes_others.end(), o.minutes_per_briefing.begin(),
                            o.minutes_per_briefing.end());
    }
    const v1::GroupMetrics& m = t.metrics;
    // Decline rates, over the declines that were a choice.
    const uint64_t declined = m.briefings_declined() - m.briefings_declined_required();
    const uint64_t decided = m.briefings_approved() + declined;
    const uint64_t decided_others = declined_others + approved_others;
    if (decided >= min_cases && decided_others >= min_cases) {
      const double rate = static_cast<double>(declined) / decided;
      const double rate_others = static_cast<double>(declined_others) / decided_others;
      const double p =
          FisherExactTwoSided(declined, m.briefings_approved(), declined_others, approved_others);
      if (rate - rate_others >= s.decline_rate_gap && p < s.parity_alpha) {
        b.AddFinding("access-parity", id, "", last_instant,
                     absl::StrFormat("%s had %d of %d briefing requests declined (%.0f%%), "
                                     "against %d of %d (%.0f%%) for the other groups together; "
                                     "Fisher's exact test %s. Declines the protocols "
                                     "require (pre-election, party-political) are not counted.",
                                     m.name(), declined, decided, rate * 100, declined_others,
                                     decided_others, rate_others * 100, PValue(p)),
                     cap(t.declines));
      }
    }
    // Late written replies.
    const uint64_t late = m.queries_replied_late() + m.queries_unanswered();
    const uint64_t judged = late + m.queries_replied_in_time();
    const uint64_t judged_others = late_others + in_time_others;
    if (judged >= min_cases && judged_others >= min_cases) {
      const double share = static_cast<double>(late) / judged;
      const double share_others = static_cast<double>(late_others) / judged_others;
      const double p =
          FisherExactTwoSided(late, m.queries_replied_in_time(), late_others, in_time_others);
      if (share - share_others >= s.late_reply_gap && p < s.parity_alpha) {
        b.AddFinding("access-parity", id, "", last_instant,
                     absl::StrFormat("%s's councillors had %d of %d written queries answered "
                                     "late or not at all (%.0f%%), against %d of %d (%.0f%%) "
                                     "for the other groups; Fisher's exact test %s.",
                                     m.name(), late, judged, share * 100, late_others,
                                     judged_others, share_others * 100, PValue(p)),
                     cap(t.late_replies));
      }
    }
    // Officer time per briefing.
    if (t.minutes_per_briefing.size() >= min_cases && minutes_others.size() >= min_cases) {
      const double median = Median(t.minutes_per_briefing);
      const double median_others = Median(minutes_others);
      const double p = MannWhitneyTwoSided(t.minutes_per_briefing, minutes_others);
      if (median < s.officer_time_ratio * median_others && p < s.parity_alpha) {
        b.AddFinding("access-parity", id, "", last_instant,
                     absl::StrFormat("%s's briefings had a median of %.0f officer minutes, "
                                     "against %.0f for the other groups' briefings; "
                                     "Mann-Whitney U test %s.",
                                     m.name(), median, median_others, PValue(p)),
                     {});
      }
    }
  }
  for (auto& [id, t] : tallies) *report->add_groups() = std::move(t.metrics);
}

}  // namespace evenhand::projections::internal
