// data-quality (Harlow 2.3: a political group is "two or more Councillors").
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
  return "Facts that do not fit together: a group with fewer than two councillors, a "
         "briefing asked for by a councillor who is not in the group. Reported so the source "
         "systems can be put right; not a breach in itself.";
}

void Check(ReportBuilder& b) {
  const absl::Time end = b.period_end();
  for (const Case* g : b.GroupsAt(end - absl::Nanoseconds(1))) {
    std::vector<std::string> members = b.GroupMembersAt(g->id, end - absl::Nanoseconds(1));
    if (members.size() >= 2) continue;
    std::optional<Seen> recognised = b.First(*g, v1::Payload::kPoliticalGroupRecognised);
    if (!recognised) continue;
    b.AddFinding("data-quality", g->id, g->record.stream_id(), end - absl::Nanoseconds(1),
                 absl::StrCat(b.GroupName(g->id), " has ",
                              Plural(static_cast<int>(members.size()), "councillor"),
                              " at the end of the period; a political group is two or more "
                              "(Harlow 2.3)."),
                 {*recognised});
  }
  for (const Case* c : b.Cases(CaseKind::kBriefing)) {
    const BriefingView& v = b.BriefingOf(*c);
    if (!v.request || v.is_offer || !b.InPeriod(v.request->at)) continue;
    const std::string& member = v.request->payload->briefing_requested().requested_by_member_id();
    if (member.empty()) continue;
    const std::string group = b.MemberGroupAt(member, v.request->at);
    if (group == v.group()) continue;
    b.AddFinding("data-quality", v.group(), c->record.stream_id(), v.request->at,
                 absl::StrCat(b.MemberName(member), " asked for briefing ", c->id, " for ",
                              b.GroupName(v.group()), " but was ",
                              group.empty() ? std::string("in no group")
                                            : absl::StrCat("in ", b.GroupName(group)),
                              " at the time."),
                 {*v.request});
  }
}

}  // namespace

RuleDef DataQualityRule() {
  return {"data-quality", "Facts that do not fit together", "Harlow 2.3", v1::INFO, &Describe,
          &Check};
}

}  // namespace evenhand::projections::internal
