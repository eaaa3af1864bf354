// approval-required (Harrow 5.1: officers do not attend group meetings
// "without the agreement of the Head of Paid Service or Monitoring Officer";
// mayoral §9: "the Chief Executive's agreement must be obtained"; Harlow
// 15.3 and 15.10: requests go to the Chief Executive, who may delegate).
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

std::string Describe(const FairnessSettings&) {
  return "A briefing of a political group, and an officer's attendance at a group meeting, "
         "must first be agreed by the Head of Paid Service, the Monitoring Officer, or an "
         "officer the Head of Paid Service has delegated this to. A group's own political "
         "assistants are exempt at its meetings (group office staff).";
}

// The first approval of the briefing before `t` by someone entitled to give
// it, if any; all approvals before `t` go into `tried`.
std::optional<Seen> ValidApproval(const ReportBuilder& b, const Case& briefing, absl::Time t,
                                  std::vector<Seen>* tried) {
  for (const Seen& a : b.Facts(briefing, v1::Payload::kBriefingApproved)) {
    if (a.at > t) continue;
    if (b.CanApproveAt(a.payload->briefing_approved().approved_by_officer_id(), a.at)) return a;
    if (tried != nullptr) tried->push_back(a);
  }
  return std::nullopt;
}

void Check(ReportBuilder& b) {
  ForEachOfficerContact(
      b,
      [&](const Case& c, const BriefingView& v, const Seen& d) {
        std::vector<Seen> tried;
        if (ValidApproval(b, c, d.at, &tried)) return;
        std::vector<Seen> evidence = {*v.request, d};
        evidence.insert(evidence.end(), tried.begin(), tried.end());
        const std::vector<Seen> withdrawn =
            WithdrawnBefore(b, c, v1::Payload::kBriefingApproved, d.at + absl::Nanoseconds(1));
        evidence.insert(evidence.end(), withdrawn.begin(), withdrawn.end());
        std::string why =
            tried.empty()
                ? "nobody agreed it beforehand"
                : absl::StrCat(
                      b.OfficerName(
                          tried.front().payload->briefing_approved().approved_by_officer_id()),
                      ", who agreed it, was neither the Head of Paid "
                      "Service nor the Monitoring Officer nor their "
                      "delegate at the time");
        b.AddFinding("approval-required", v.group(), c.stream_id(), d.at,
                     absl::StrCat("The briefing of ", b.GroupName(v.group()), " on ", v.subject(),
                                  " on ", b.Date(d.at), " went ahead although ", why, ".",
                                  SayWithdrawn(b, withdrawn, "An approval", "Approvals")),
                     evidence);
      },
      [&](const Case& c, const Seen& m, const v1::OfficerAttendedGroupMeeting& a) {
        if (!a.approved_by_officer_id().empty() &&
            b.CanApproveAt(a.approved_by_officer_id(), m.at)) {
          return;
        }
        // Agreed with the briefing it gives: by an approval that names no
        // officer, or names this one (mayoral §9: the Head of Paid Service
        // "will determine the appropriate Officer to attend"). One naming
        // only others is no agreement for this officer (found from outside).
        std::optional<Seen> for_others;
        if (!a.briefing_id().empty()) {
          if (const Case* briefing = b.Briefing(a.briefing_id())) {
            for (const Seen& ap : b.Facts(*briefing, v1::Payload::kBriefingApproved)) {
              const auto& approved = ap.payload->briefing_approved();
              if (ap.at > m.at || !b.CanApproveAt(approved.approved_by_officer_id(), ap.at)) {
                continue;
              }
              const auto& named = approved.assigned_officer_ids();
              if (named.empty() ||
                  std::find(named.begin(), named.end(), a.officer_id()) != named.end()) {
                return;
              }
              if (!for_others) for_others = ap;
            }
          }
        }
        std::vector<Seen> evidence = {m};
        if (for_others) evidence.push_back(*for_others);
        b.AddFinding(
            "approval-required", a.group_id(), c.stream_id(), m.at,
            absl::StrCat(
                b.OfficerName(a.officer_id()), " attended a meeting of ", b.GroupName(a.group_id()),
                " on ", b.Date(m.at),
                for_others ? absl::StrCat(" to give a briefing whose approval by ",
                                          b.OfficerName(for_others->payload->briefing_approved()
                                                            .approved_by_officer_id()),
                                          " named other officers to give it",
                                          a.approved_by_officer_id().empty() ? "." : "")
                : a.approved_by_officer_id().empty() ? std::string(" without anyone's agreement.")
                                                     : std::string(),
                a.approved_by_officer_id().empty()
                    ? std::string()
                    : absl::StrCat(for_others ? ", and " : " with ", "the agreement only of ",
                                   b.OfficerName(a.approved_by_officer_id()),
                                   ", who could not give it.")),
            evidence);
      });
}

}  // namespace

RuleDef ApprovalRequiredRule() {
  return {"approval-required",
          "Briefings and attendance agreed by the Head of Paid Service",
          "Harrow 5.1-5.2; mayoral §9; Harlow 15.3, 15.10; Barnet 9",
          v1::HIGH,
          &Describe,
          &Check};
}

}  // namespace evenhand::projections::internal
