// confidentiality-relay (Harlow 15.8 and mayoral §9: officers "will not
// relay the content of such discussions to another political group or to any
// other members" unless requested by that group; Harrow 4.2; Barnet 9.3).
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
  return "What one group discusses with officers, at a briefing or at its own meeting, is not "
         "passed to another group or other councillors unless the group asked for or agreed to "
         "it. Feedback to a senior officer on a need-to-know basis is allowed; to any other "
         "officer it is a relay under the mayoral protocol (section 9), which alone limits "
         "feedback to senior officers. Passing it to the group itself or its own political "
         "assistant relays nothing.";
}

// What a finding of a disclosure to an officer cites (mayoral §9: "feedback
// to other senior officers on a need-to-know basis").
constexpr char kToOfficerCitation[] = "mayoral §9";

// Senior officers, to whom feedback on a need-to-know basis is allowed
// (mayoral §9).
bool Senior(v1::OfficerRole role) {
  return role == v1::HEAD_OF_PAID_SERVICE || role == v1::MONITORING_OFFICER ||
         role == v1::CHIEF_FINANCE_OFFICER || role == v1::DIRECTOR || role == v1::HEAD_OF_SERVICE;
}

void Check(ReportBuilder& b) {
  for (CaseKind kind : {CaseKind::kBriefing, CaseKind::kMeeting}) {
    for (const Case* c : b.Cases(kind)) {
      for (const Seen& d : b.Facts(*c, v1::Payload::kGroupInformationDisclosed)) {
        const auto& disclosure = d.payload->group_information_disclosed();
        if (disclosure.agreed_by_originating_group()) continue;
        const bool to_officer = !disclosure.to_officer_id().empty();
        // Nothing reached another group: the group itself, its own
        // political assistant (group office staff, who work for it), or
        // the officer who said it (the server refuses the first and last
        // since validation knew of them; a log recorded before may hold
        // them).
        if (!to_officer && disclosure.to_group_id() == disclosure.from_group_id()) continue;
        if (to_officer &&
            (disclosure.to_officer_id() == disclosure.disclosed_by_officer_id() ||
             OwnGroupAssistant(b, disclosure.to_officer_id(), disclosure.from_group_id(), d.at))) {
          continue;
        }
        if (to_officer && Senior(b.OfficerRoleAt(disclosure.to_officer_id(), d.at))) continue;
        std::vector<Seen> evidence = {d};
        if (std::optional<Seen> opening = b.Opening(*c)) evidence.push_back(*opening);
        // Another group's political assistant works for that group: what
        // reaches them reaches it, a relay every protocol forbids.
        const std::string assistant_of =
            to_officer ? b.AssistantGroupAt(disclosure.to_officer_id(), d.at) : std::string();
        std::string to;
        if (!to_officer) {
          to = b.GroupName(disclosure.to_group_id());
        } else if (!assistant_of.empty()) {
          to = absl::StrCat(b.OfficerName(disclosure.to_officer_id()), ", ",
                            b.GroupName(assistant_of), "'s political assistant,");
        } else {
          to = absl::StrCat(b.OfficerName(disclosure.to_officer_id()),
                            ", not a senior officer with a need to know,");
        }
        // To an officer who serves no group: only the mayoral protocol limits
        // feedback to senior officers; Harlow 15.8, Harrow 4.2 and Barnet 9.3
        // allow it to other officers on a need-to-know basis, so they are not
        // cited.
        b.AddFinding(
            "confidentiality-relay", disclosure.from_group_id(), c->stream_id(), d.at,
            absl::StrCat(b.OfficerName(disclosure.disclosed_by_officer_id()), " passed what ",
                         b.GroupName(disclosure.from_group_id()), " discussed",
                         kind == CaseKind::kMeeting ? " at its own meeting" : "", " to ", to,
                         " on ", b.Date(d.at), " without the group asking for or agreeing to it."),
            evidence, to_officer && assistant_of.empty() ? kToOfficerCitation : nullptr);
      }
    }
  }
}

}  // namespace

RuleDef ConfidentialityRelayRule() {
  return {"confidentiality-relay",
          "One group's discussions not relayed to another",
          "Harlow 15.8; mayoral §9; Harrow 4.2; Barnet 9.3",
          v1::HIGH,
          &Describe,
          &Check};
}

}  // namespace evenhand::projections::internal
