// pre-election-attendance (mayoral §9: "Officers should not attend nor be
// asked to attend political group meetings during any pre-election period").
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
  return "No officer attends or briefs a political group meeting between the announcement "
         "of an election and the end of election day (a group's own political assistants, "
         "who work for it, excepted).";
}

void Check(ReportBuilder& b) {
  ForEachOfficerContact(
      b,
      [&](const Case& c, const BriefingView& v, const Seen& d) {
        std::optional<Seen> period = b.PreElectionPeriodAt(d.at);
        if (!period) return;
        b.AddFinding(
            "pre-election-attendance", v.group(), c.stream_id(), d.at,
            absl::StrCat("Officers briefed ", b.GroupName(v.group()), " on ", v.subject(), " on ",
                         b.Date(d.at), ", during the pre-election period (",
                         period->payload->pre_election_period_declared().description(), ")."),
            {*period, *v.request, d});
      },
      [&](const Case& c, const Seen& m, const v1::OfficerAttendedGroupMeeting& a) {
        std::optional<Seen> period = b.PreElectionPeriodAt(m.at);
        if (!period) return;
        b.AddFinding(
            "pre-election-attendance", a.group_id(), c.stream_id(), m.at,
            absl::StrCat(b.OfficerName(a.officer_id()), " attended a meeting of ",
                         b.GroupName(a.group_id()), " on ", b.Date(m.at),
                         ", during the pre-election period (",
                         period->payload->pre_election_period_declared().description(), ")."),
            {*period, m});
      });
}

}  // namespace

RuleDef PreElectionAttendanceRule() {
  return {"pre-election-attendance",
          "No officer at group meetings in a pre-election period",
          "mayoral §9",
          v1::HIGH,
          &Describe,
          &Check};
}

}  // namespace evenhand::projections::internal
