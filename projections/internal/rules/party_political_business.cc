// party-political-business (Harlow 14.5: "Officers must never be asked to
// attend political party meetings"; 15.4: information and advice "on Council
// business only"; mayoral §9(e)).
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
  return "Officers are not present at meetings, or parts of meetings, on party-political "
         "business, and give no advice on it (a group's own political assistants, who work "
         "for it, excepted).";
}

void Check(ReportBuilder& b) {
  ForEachOfficerContact(
      b,
      [&](const Case& c, const BriefingView& v, const Seen& d) {
        const auto& delivery = d.payload->briefing_delivered();
        if (delivery.business() != v1::PARTY_POLITICAL_BUSINESS) return;
        std::vector<std::string> names;
        for (const std::string& id : delivery.officer_ids()) names.push_back(b.OfficerName(id));
        b.AddFinding("party-political-business", v.group(), c.stream_id(), d.at,
                     absl::StrCat(absl::StrJoin(names, ", "),
                                  " took part in party-political business at a meeting of ",
                                  b.GroupName(v.group()), " on ", b.Date(d.at), "."),
                     {*v.request, d});
      },
      [&](const Case& c, const Seen& m, const v1::OfficerAttendedGroupMeeting& a) {
        // With the agenda recorded, item by item: an officer who left for
        // the party-political items did what the protocol asks.
        for (const v1::AgendaItem& item : a.agenda_items()) {
          if (!item.officer_present() || item.business() != v1::PARTY_POLITICAL_BUSINESS) {
            continue;
          }
          b.AddFinding("party-political-business", a.group_id(), c.stream_id(), m.at,
                       absl::StrCat(b.OfficerName(a.officer_id()), " was present for item ",
                                    item.item(), ", party-political business, at a meeting of ",
                                    b.GroupName(a.group_id()), " on ", b.Date(m.at), "."),
                       {m});
        }
        if (a.business() != v1::PARTY_POLITICAL_BUSINESS) return;
        b.AddFinding("party-political-business", a.group_id(), c.stream_id(), m.at,
                     absl::StrCat(b.OfficerName(a.officer_id()),
                                  " was present for party-political business at a meeting of ",
                                  b.GroupName(a.group_id()), " on ", b.Date(m.at), "."),
                     {m});
      });
}

}  // namespace

RuleDef PartyPoliticalBusinessRule() {
  return {"party-political-business",
          "Officers never at party-political business",
          "Harlow 14.5, 15.4; mayoral §9(e)",
          v1::HIGH,
          &Describe,
          &Check};
}

}  // namespace evenhand::projections::internal
