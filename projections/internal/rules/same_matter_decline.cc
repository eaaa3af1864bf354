// same-matter-decline (Harlow 15.12: "An Officer accepting an invitation to
// the meeting of one party group will not decline an invitation to advise
// another group about the same matter").
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/time_util.h"
#include "projections/internal/report_builder.h"
#include "projections/internal/rules/common.h"
#include "projections/internal/rules/rule.h"

namespace evenhand::projections::internal {

namespace {

std::string Describe(const FairnessSettings& s) {
  return absl::StrCat(
      "An officer who briefed or attended one group on a matter must not decline another "
      "group's request on the same matter (within ",
      s.same_matter_window_days,
      " days). Declines because of a pre-election period, party-political business or "
      "non-members being present are allowed, when the reason held: a pre-election period in "
      "force, or a request that said its business was party-political. A decline the same "
      "officer reversed by giving that briefing afterwards is no breach from then. Harlow "
      "15.12 sets no time limit: ",
      s.same_matter_window_days,
      " days is this council's setting (fairness.sameMatterWindowDays), beyond which a matter "
      "is taken to have moved on.");
}

void Check(ReportBuilder& b) {
  const absl::Duration window = absl::Hours(24 * b.settings().same_matter_window_days);
  for (const Case* c : b.Cases(CaseKind::kBriefing)) {
    const BriefingView& v = b.BriefingOf(*c);
    if (!v.request || v.matter().empty()) continue;
    // The matter is read for a briefing declined only (a decision reads
    // what it needs: a briefing never declined reads no other).
    const std::vector<Seen> declines = b.Facts(*c, v1::Payload::kBriefingDeclined);
    if (declines.empty()) continue;
    for (const Seen& x : declines) {
      if (!b.InPeriod(x.at)) continue;
      const auto& decline = x.payload->briefing_declined();
      // Harlow 15.7 and the pre-election and party-political rules allow
      // refusing for these reasons, when the reason held.
      std::string reason_failed;
      if (DeclineReasonHeld(b, v, x, &reason_failed)) continue;
      const std::string& officer = decline.declined_by_officer_id();
      // Reversed: the same officer gave this briefing after declining it
      // (delivered it, or gave it at the group's meeting; approved over the
      // decline, say). Harlow 15.12 is about an officer refusing to advise
      // one group while advising another: this group was advised by them
      // after all, so no finding from then (found from outside).
      auto after = [&x](const Seen& s) {
        return std::tie(s.at, s.position) > std::tie(x.at, x.position);
      };
      bool given_after = false;
      for (const Seen& d : b.Facts(*c, v1::Payload::kBriefingDelivered)) {
        const auto& ids = d.payload->briefing_delivered().officer_ids();
        if (after(d) && std::find(ids.begin(), ids.end(), officer) != ids.end()) {
          given_after = true;
        }
      }
      // Only its own group's attendances on the matter can give it (read so,
      // whenever: not every fact on the matter; outside probe, a matter of
      // hundreds of briefings decided each decline again at each event).
      b.BeginBoundedReads();
      for (const Seen& m : GivenAtMeetings(b, *c, v)) {
        if (after(m) && m.payload->officer_attended_group_meeting().officer_id() == officer) {
          given_after = true;
        }
      }
      b.EndBoundedReads(absl::InfiniteFuture());
      if (given_after) continue;
      // The earliest time this officer advised another group on the matter.
      std::optional<Seen> accepted;
      std::string accepted_group;
      auto consider = [&](const Seen& s, const std::string& group) {
        if (group == v.group() || absl::AbsDuration(s.at - x.at) > window) return;
        if (!accepted || std::tie(s.at, s.position) < std::tie(accepted->at, accepted->position)) {
          accepted = s;
          accepted_group = group;
        }
      };
      // The officer's advice on the matter, read as the matter (whose
      // briefing each is), then the officer's own there: once the earliest
      // is found, none dated after it can change the finding, nor, without
      // one, any dated after the window (a new fact on the matter decides
      // this again only if it is this officer's advice, dated so: a matter
      // of hundreds of briefings decided every decline again at each event
      // of any; outside probe).
      b.BeginBoundedReads();
      const ReportBuilder::AdviceByOfficer& advice = b.AdviceOnMatter(v.matter());
      b.EndBoundedReads(absl::InfinitePast());
      if (auto given = advice.find(officer); given != advice.end()) {
        for (const ReportBuilder::Advice& a : given->second) {
          if (a.c != c) consider(a.seen, *a.group);
        }
      }
      b.BeginBoundedReads();
      b.ReadOfficerOnMatterUpTo(v.matter(), officer);
      b.EndBoundedReads(accepted ? accepted->at : x.at + window);
      if (!accepted) continue;
      b.AddFinding(
          "same-matter-decline", v.group(), c->stream_id(), x.at,
          absl::StrCat(b.OfficerName(officer), " declined to advise ", b.GroupName(v.group()),
                       " on ", v.subject(), " on ", b.Date(x.at), " but advised ",
                       b.GroupName(accepted_group), " on the same matter on ", b.Date(accepted->at),
                       ".",
                       reason_failed.empty()
                           ? std::string()
                           : absl::StrCat(" The decline is not excused: ", reason_failed, ".")),
          {*v.request, *accepted, x});
    }
  }
}

}  // namespace

RuleDef SameMatterDeclineRule() {
  return {"same-matter-decline",
          "No declining one group on a matter advised to another",
          "Harlow 15.12",
          v1::MEDIUM,
          &Describe,
          &Check};
}

}  // namespace evenhand::projections::internal
