// Per-group metrics for the report, and the access-parity rule that
// compares them (Harrow 4.1: "equivalent access to officers' time is
// available to all political groups"; Barnet 9.2; mayoral §9: "officers must
// treat each group in a fair and evenhanded manner"; Harlow 15.9).
//
// The counts come from what each case contributes (group_figures.h): summed
// from the findings index's running totals for a report as the log stands,
// worked out from the period's cases otherwise. Which groups existed in the
// period, their sizes, and the statistics are worked out here, per report.
#include <algorithm>
#include <map>
#include <optional>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "projections/internal/group_figures.h"
#include "projections/internal/report_builder.h"
#include "projections/internal/rules/common.h"
#include "projections/statistics.h"

namespace evenhand::projections::internal {
namespace {

// "p = 0.0123", or "p < 0.0001" when smaller than four decimals show.
std::string PValue(double p) {
  return p < 0.0001 ? std::string("p < 0.0001") : absl::StrFormat("p = %.4f", p);
}

// Each group's mean number of councillors over the period (weighted by
// time, over the part of the period it existed, up to the report's moment;
// from the first change to the council when the period has no start).
absl::flat_hash_map<std::string, double> MeanGroupSizes(const ReportBuilder& b) {
  const absl::Time end = b.query().as_of_time < b.query().to
                             ? b.query().as_of_time + absl::Nanoseconds(1)
                             : b.query().to;
  std::vector<absl::Time> changes = b.CouncilChangesIn(b.query().from, end);
  if (b.query().from == absl::InfinitePast()) changes.erase(changes.begin());
  // Summed in whole nanoseconds, exactly: in doubles, a size that never
  // changed came out as 2.9999999999999996 or 3 depending on where the
  // period's council changes fell, and the same figure differed in its
  // last digit between two moments of one log (outside probe).
  absl::flat_hash_map<std::string, std::pair<__int128, __int128>> sums;  // size × time, time
  for (size_t i = 0; i < changes.size(); ++i) {
    const absl::Time until = i + 1 < changes.size() ? changes[i + 1] : end;
    const absl::Duration span = until - changes[i];
    if (span <= absl::ZeroDuration() || span == absl::InfiniteDuration()) continue;
    absl::Duration part;
    const int64_t seconds = absl::IDivDuration(span, absl::Seconds(1), &part);
    const __int128 nanos =
        static_cast<__int128>(seconds) * 1'000'000'000 + absl::ToInt64Nanoseconds(part);
    for (const Case* g : b.GroupsAt(changes[i])) {
      auto& [weighted, time] = sums[g->id()];
      weighted += nanos * static_cast<__int128>(b.GroupSizeAt(std::string(g->id()), changes[i]));
      time += nanos;
    }
  }
  absl::flat_hash_map<std::string, double> out;
  for (const auto& [id, sum] : sums) {
    const auto& [weighted, time] = sum;
    if (time <= 0) {
      out[id] = 0;
      continue;
    }
    // Whole councillors and a fraction: exact for a size that never changed.
    const __int128 whole = weighted / time;
    out[id] =
        static_cast<double>(whole) + static_cast<double>(static_cast<long double>(weighted % time) /
                                                         static_cast<long double>(time));
  }
  return out;
}

}  // namespace

void AddGroupMetrics(ReportBuilder& b, v1::FairnessReport* report) {
  const absl::Time end = b.period_end();
  const absl::Time last_instant = end - absl::Nanoseconds(1);
  std::map<std::string, GroupTally> tallies;  // by group id: sorted, so deterministic
  // Every group that existed at some point of the period.
  for (const Case* g : b.indexes().groups) {
    std::optional<Seen> recognised = b.First(*g, v1::Payload::kPoliticalGroupRecognised);
    if (!recognised || recognised->at >= end) continue;
    bool dissolved_before = false;
    for (const Seen& d : b.Facts(*g, v1::Payload::kPoliticalGroupDissolved)) {
      if (d.at < b.query().from) dissolved_before = true;
    }
    if (dissolved_before) continue;
    GroupTally& t = tallies[std::string(g->id())];
    t.metrics.set_group_id(std::string(g->id()));
    t.metrics.set_name(b.GroupName(std::string(g->id())));
    t.metrics.set_councillors(
        static_cast<uint32_t>(b.GroupSizeAt(std::string(g->id()), last_instant)));
  }
  auto tally = [&](const std::string& group) -> GroupTally* {
    auto it = tallies.find(group);
    if (it != tallies.end()) return &it->second;
    // A group dissolved before the period that something in it still names
    // (an offer to it, its request, recorded after it was dissolved: the
    // data-quality rule flags them) gets a row of its own, so that every
    // contribution is counted in the period it happened in, and a year's
    // figures are the sum of its quarters' (found by an outside test).
    auto g = b.indexes().group_by_id.find(group);
    if (g == b.indexes().group_by_id.end()) return nullptr;
    std::optional<Seen> recognised = b.First(*g->second, v1::Payload::kPoliticalGroupRecognised);
    if (!recognised || recognised->at >= end) return nullptr;
    GroupTally& t = tallies[group];
    t.dissolved_before = true;
    t.metrics.set_group_id(group);
    t.metrics.set_name(b.GroupName(group));
    t.metrics.set_councillors(static_cast<uint32_t>(b.GroupSizeAt(group, last_instant)));
    return &t;
  };

  // What the period's cases contribute: summed by the findings index as the
  // log stands, or worked out case by case (the reference).
  const FigureWindow window = FigureWindow::Of(b.query());
  // The fact a contribution comes from, as the report sees it.
  auto seen = [&b](const Contribution& x) -> std::optional<Seen> {
    const auto& facts = b.Body(*x.c).facts();
    auto it = std::lower_bound(
        facts.begin(), facts.end(), x.position,
        [](const state::FactRecord& f, uint64_t position) { return f.position() < position; });
    if (it == facts.end() || it->position() != x.position) return std::nullopt;
    return b.Visible(*it);
  };
  // Access-parity's evidence: the declines by choice, and the queries
  // answered late or not at all.
  auto is_decline = [](const Contribution& x, bool) { return x.kind == Contribution::kDeclined; };
  auto is_late = [](const Contribution& x, bool not_yet_due) {
    return x.kind == Contribution::kQueryLate ||
           (x.kind == Contribution::kQueryUnreplied && !not_yet_due);
  };
  const GroupFigures* figures = b.figures();
  if (figures != nullptr) {
    figures->Sum(window, b.figure_changes(), tally);
  } else {
    std::vector<Contribution> contributions;
    for (CaseKind kind :
         {CaseKind::kBriefing, CaseKind::kMeeting, CaseKind::kQuery, CaseKind::kComplaint}) {
      for (const Case* c : b.Cases(kind)) {
        contributions.clear();
        AddContributions(b, *c, &contributions);
        for (const Contribution& x : contributions) {
          if (!window.Counts(x)) continue;
          GroupTally* t = tally(x.group);
          if (t == nullptr) continue;
          const bool not_yet_due = window.NotYetDue(x);
          t->Add(x, not_yet_due);
          if (is_decline(x, not_yet_due) || is_late(x, not_yet_due)) {
            if (std::optional<Seen> s = seen(x)) {
              (is_decline(x, not_yet_due) ? t->declines : t->late_replies).push_back(*s);
            }
          }
        }
      }
    }
  }
  // The evidence of a group's parity finding (summed figures gather it only
  // for a finding: a walk over the period's contributions).
  auto evidence = [&](const std::string& group, const GroupTally& t, bool declines) {
    if (figures == nullptr) return declines ? t.declines : t.late_replies;
    std::vector<Seen> out;
    figures->ForEach(
        window, b.figure_changes_one_by_one(),
        [&](const Contribution& x, bool not_yet_due) {
          return x.group == group &&
                 (declines ? is_decline(x, not_yet_due) : is_late(x, not_yet_due));
        },
        [&](const Contribution& x) {
          if (std::optional<Seen> s = seen(x)) out.push_back(*s);
        });
    return out;
  };
  // A dissolved group's row that counts nothing (contributions taken back,
  // summing as of an earlier position) is not shown: the derived report,
  // which only adds, never makes one.
  for (auto it = tallies.begin(); it != tallies.end();) {
    v1::GroupMetrics counts = it->second.metrics;
    counts.clear_group_id();
    counts.clear_name();
    counts.clear_councillors();
    if (it->second.dissolved_before && counts.ByteSizeLong() == 0) {
      it = tallies.erase(it);
    } else {
      ++it;
    }
  }
  const absl::flat_hash_map<std::string, double> mean_sizes = MeanGroupSizes(b);
  for (auto& [id, t] : tallies) {
    v1::GroupMetrics& m = t.metrics;
    const uint32_t discretionary = m.briefings_declined() - m.briefings_declined_required();
    const uint32_t decided = m.briefings_approved() + discretionary;
    m.set_decline_rate(decided == 0 ? 0 : static_cast<double>(discretionary) / decided);
    // Per councillor the group had over the period, not at its end: a group
    // whose councillors left after its briefings had them when briefed.
    auto mean = mean_sizes.find(id);
    const double size = mean != mean_sizes.end() && mean->second > 0
                            ? mean->second
                            : static_cast<double>(m.councillors());
    m.set_officer_minutes_per_councillor(
        size == 0 ? 0 : static_cast<double>(m.officer_minutes()) / size);
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
  // Groups that existed in the period, each against the others: a group
  // dissolved before it is neither compared nor counted among the others.
  for (auto& [id, t] : tallies) {
    if (t.dissolved_before) continue;
    uint64_t declined_others = 0, approved_others = 0, late_others = 0, in_time_others = 0;
    Distribution minutes_others;
    for (auto& [other_id, o] : tallies) {
      if (other_id == id || o.dissolved_before) continue;
      declined_others += o.metrics.briefings_declined() - o.metrics.briefings_declined_required();
      approved_others += o.metrics.briefings_approved();
      late_others += o.metrics.queries_replied_late() + o.metrics.queries_unanswered();
      in_time_others += o.metrics.queries_replied_in_time();
      minutes_others.Merge(o.minutes_per_briefing);
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
                     cap(evidence(id, t, /*declines=*/true)));
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
                     cap(evidence(id, t, /*declines=*/false)));
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
