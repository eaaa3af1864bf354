// What several rules share: who counts as a group's own office staff, the
// officers' contacts with groups that the approval, pre-election and
// party-political rules judge, and small wording helpers.
#ifndef EVENHAND_PROJECTIONS_INTERNAL_RULES_COMMON_H_
#define EVENHAND_PROJECTIONS_INTERNAL_RULES_COMMON_H_

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "projections/internal/report_builder.h"

namespace evenhand::projections::internal {

// True if `officer_id` is, at `t`, a political assistant serving `group_id`.
// Group office staff work for their group, so they may attend its meetings
// without the Head of Paid Service's agreement (Harrow 5.1 "apart from group
// office staff"; Barnet 9); at another group's meeting, or at a meeting held
// before they joined their group's office, they are officers like any other.
bool OwnGroupAssistant(const ReportBuilder& b, const std::string& officer_id,
                       const std::string& group_id, absl::Time t);

// True if every officer named is one of `group_id`'s own political assistants.
template <typename Ids>
bool AllOwnGroupAssistants(const ReportBuilder& b, const Ids& officer_ids,
                           const std::string& group_id, absl::Time t) {
  if (officer_ids.empty()) return false;
  for (const std::string& id : officer_ids) {
    if (!OwnGroupAssistant(b, id, group_id, t)) return false;
  }
  return true;
}

// Officers' contact with political groups in the period, other than a
// group's own office staff at its meetings: each briefing delivered (with its
// case and opening) and each officer's attendance at a group meeting. The
// approval, pre-election and party-political rules judge these.
template <typename OnDelivery, typename OnAttendance>
void ForEachOfficerContact(const ReportBuilder& b, OnDelivery on_delivery,
                           OnAttendance on_attendance) {
  for (const Case* c : b.Cases(CaseKind::kBriefing)) {
    const BriefingView& v = b.BriefingOf(*c);
    if (!v.request) continue;
    for (const Seen& d : b.Facts(*c, v1::Payload::kBriefingDelivered)) {
      if (!b.InPeriod(d.at)) continue;
      if (AllOwnGroupAssistants(b, d.payload->briefing_delivered().officer_ids(), v.group(), d.at))
        continue;
      on_delivery(*c, v, d);
    }
  }
  for (const Case* c : b.Cases(CaseKind::kMeeting)) {
    for (const Seen& m : b.Facts(*c, v1::Payload::kOfficerAttendedGroupMeeting)) {
      if (!b.InPeriod(m.at)) continue;
      const auto& a = m.payload->officer_attended_group_meeting();
      if (OwnGroupAssistant(b, a.officer_id(), a.group_id(), m.at)) continue;
      on_attendance(*c, m, a);
    }
  }
}

// Whether the reason a decline gives held when it was given, so that the
// decline is one the protocols require or allow (Harlow 15.7, 15.4, mayoral
// §9) and is excused from the same-matter and parity rules. A
// PRE_ELECTION_PERIOD decline holds only inside a pre-election period; a
// PARTY_POLITICAL one only if the request said its business was
// party-political; NON_MEMBERS_PRESENT is taken as given (the log cannot
// say who would have been present). `why_not`, if given, says why not.
bool DeclineReasonHeld(const ReportBuilder& b, const BriefingView& briefing, const Seen& decline,
                       std::string* why_not = nullptr);

// When `briefing` (viewed as `v`) was given: its first BriefingDelivered,
// or else the first attendance of an officer at its group's meeting that
// links it (OfficerAttendedGroupMeeting.briefing_id, on the briefing's
// matter: a briefing given at the group's meeting, recorded as the
// attendance alone). nullopt if neither.
std::optional<Seen> GivenAt(const ReportBuilder& b, const Case& briefing, const BriefingView& v);
// The attendances that give `briefing` at its group's meeting, as GivenAt
// reads them (whether or not it was also delivered), in no set order.
std::vector<Seen> GivenAtMeetings(const ReportBuilder& b, const Case& briefing,
                                  const BriefingView& v);

// "1 day", "3 days".
std::string Plural(int n, const char* word);

// The facts of `c` of `kind` recorded as happening before `by` and withdrawn
// since by a correction (ReportBuilder::Withdrawn). Where a rule finds that
// something was missing, it cites these with their withdrawals, so the
// committee sees one was recorded and that it no longer stands.
std::vector<Seen> WithdrawnBefore(const ReportBuilder& b, const Case& c, v1::Payload::KindCase kind,
                                  absl::Time by);
// Of facts a finding would cite many of (those withdrawn, with their
// corrections; approvals by officers who could not give one): all, or, past
// 2 * kFirstAndLast, the first and the last kFirstAndLast recorded. (A
// query's reply recorded and withdrawn 1,500 times gave a finding citing
// 3,001 events, each of its 1,500 versions kept in the findings index for
// reports as of earlier positions: half a gigabyte, and five seconds of the
// fold. The others are in the log.)
inline constexpr size_t kFirstAndLast = 3;
std::vector<Seen> FirstAndLast(const std::vector<Seen>& facts);
// Adds FirstAndLast(facts) to `evidence`.
void CiteFirstAndLast(const std::vector<Seen>& facts, std::vector<Seen>* evidence);
// What a finding says of them: " An offer recorded on 2 Apr 2026 was
// withdrawn by a correction." ("" for none); of more than FirstAndLast()
// cites, how many, and the days of those cited. `one` and `many` name the
// fact: "An offer", "Offers".
std::string SayWithdrawn(const ReportBuilder& b, const std::vector<Seen>& withdrawn,
                         const char* one, const char* many);

}  // namespace evenhand::projections::internal

#endif  // EVENHAND_PROJECTIONS_INTERNAL_RULES_COMMON_H_
