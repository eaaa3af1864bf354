// non-members-present (Harlow 15.7: special care where persons who are not
// councillors are present; mayoral §9(d) and: "At his/her discretion, the
// Head of Paid Service may permit an Officer to give a political group
// briefing when such representatives are likely to be present").
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
  return "A briefing with people present who are not councillors needs the Head of Paid "
         "Service's permission, and even then non-members must not be present when "
         "confidential or exempt information is given.";
}

// Non-members were present while confidential or exempt information was
// given: whatever the permission (mayoral §9, 3).
const char* kConfidentialWithNonMembers =
    " present while confidential or exempt information was given; non-members must not be "
    "present when it is considered, whatever the permission.";

void Check(ReportBuilder& b) {
  for (const Case* c : b.Cases(CaseKind::kBriefing)) {
    const BriefingView& v = b.BriefingOf(*c);
    if (!v.request) continue;
    for (const Seen& d : b.Facts(*c, v1::Payload::kBriefingDelivered)) {
      const auto& delivery = d.payload->briefing_delivered();
      if (delivery.non_members_present() <= 0) continue;
      const bool confidential = delivery.content() == v1::CONFIDENTIAL_OR_EXEMPT;
      if (delivery.non_member_attendance_permitted() && !confidential) continue;
      b.AddFinding(
          "non-members-present", v.group(), c->stream_id(), d.at,
          absl::StrCat("Officers briefed ", b.GroupName(v.group()), " on ", v.subject(), " on ",
                       b.Date(d.at), " with ", Plural(delivery.non_members_present(), "non-member"),
                       confidential ? kConfidentialWithNonMembers
                                    : " present, without the Head of Paid Service's permission."),
          {*v.request, d});
    }
  }
  for (const Case* c : b.Cases(CaseKind::kMeeting)) {
    for (const Seen& m : b.Facts(*c, v1::Payload::kOfficerAttendedGroupMeeting)) {
      const auto& a = m.payload->officer_attended_group_meeting();
      const bool permitted =
          !a.approved_by_officer_id().empty() &&
          b.OfficerRoleAt(a.approved_by_officer_id(), m.at) == v1::HEAD_OF_PAID_SERVICE;
      // The whole attendance, or (with the agenda recorded) each item the
      // officer was present for.
      auto judge = [&](int non_members, v1::BriefingContent content, const std::string& item) {
        if (non_members <= 0) return;
        const bool confidential = content == v1::CONFIDENTIAL_OR_EXEMPT;
        if (!confidential && permitted) return;
        b.AddFinding(
            "non-members-present", a.group_id(), c->stream_id(), m.at,
            absl::StrCat(b.OfficerName(a.officer_id()), " attended ",
                         item.empty() ? std::string() : absl::StrCat("item ", item, " of "),
                         "a meeting of ", b.GroupName(a.group_id()), " on ", b.Date(m.at),
                         " with ", Plural(non_members, "non-member"),
                         confidential
                             ? kConfidentialWithNonMembers
                             : " present, without the Head of Paid Service's permission."),
            {m});
      };
      if (a.agenda_items().empty()) {
        judge(a.non_members_present(), a.content(), "");
      }
      for (const v1::AgendaItem& item : a.agenda_items()) {
        if (item.officer_present()) judge(item.non_members_present(), item.content(), item.item());
      }
    }
  }
}

}  // namespace

RuleDef NonMembersPresentRule() {
  return {"non-members-present",
          "Non-members at a briefing only with permission",
          "Harlow 15.7; mayoral §9(d)",
          v1::MEDIUM,
          &Describe,
          &Check};
}

}  // namespace evenhand::projections::internal
