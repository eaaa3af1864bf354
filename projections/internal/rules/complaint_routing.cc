// complaint-routing (Harrow 2.2: complaints about officers "to the relevant
// Director, Head of Paid Service, Monitoring Officer or Chief Finance
// Officer"; Harlow 12.4-12.5: to the appropriate Director, then the Chief
// Executive; about a Director, to the Chief Executive; about the Chief
// Executive, to the Leader and/or statutory officers; mayoral §13: about the
// Head of Paid Service, to the Monitoring Officer; an officer's concern about
// a member goes to the Monitoring Officer, who may refer it to the standards
// committee; Harlow 13.1, 13.3: an officer's complaint about a councillor to
// the Chief Executive, or at any time the Monitoring Officer).
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
  return "A councillor's complaint about an officer goes to that officer's own Director, the "
         "Head of Paid Service, the Monitoring Officer or the Chief Finance Officer (an officer "
         "with no Director on record, such as a political assistant: not to a Director; about "
         "a Director: to the Head of Paid Service or a statutory officer; about the Head of "
         "Paid Service: to the Monitoring Officer, the Chief Finance Officer or the Leader). It "
         "is resolved by whoever it was raised with or escalated to. An officer's complaint about "
         "a "
         "councillor goes to the Head of Paid Service or the Monitoring Officer. Escalation "
         "goes to the Head of Paid Service or Monitoring Officer; only the Monitoring Officer "
         "refers a complaint to the standards committee. Nobody handles a complaint about "
         "themselves.";
}

std::string RoleList(const std::vector<v1::OfficerRole>& roles) {
  std::vector<std::string> names;
  for (v1::OfficerRole r : roles) {
    switch (r) {
      case v1::HEAD_OF_PAID_SERVICE:
        names.push_back("the Head of Paid Service");
        break;
      case v1::MONITORING_OFFICER:
        names.push_back("the Monitoring Officer");
        break;
      case v1::CHIEF_FINANCE_OFFICER:
        names.push_back("the Chief Finance Officer");
        break;
      case v1::DIRECTOR:
        names.push_back("a Director");
        break;
      default:
        break;
    }
  }
  if (names.size() <= 1) return names.empty() ? "" : names[0];
  std::string last = names.back();
  names.pop_back();
  return absl::StrCat(absl::StrJoin(names, ", "), " or ", last);
}

void Check(ReportBuilder& b) {
  for (const Case* c : b.Cases(CaseKind::kComplaint)) {
    std::optional<Seen> raised = b.First(*c, v1::Payload::kComplaintRaised);
    if (!raised) continue;
    const auto& r = raised->payload->complaint_raised();
    std::string group_id;
    std::vector<v1::OfficerRole> first_line, escalation;
    std::string subject_officer;
    // A councillor's complaint about an officer below Director goes to that
    // officer's own Director (Harlow 12.4 "the appropriate Director"; Harrow
    // 2.2 "the relevant Director"); one about the Head of Paid Service may
    // go to the Leader (Harlow 12.5).
    bool own_director_only = false;
    bool leader_allowed = false;
    if (r.raised_by().has_member_id() && r.about().has_officer_id()) {
      group_id = b.MemberGroupAt(r.raised_by().member_id(), raised->at);
      subject_officer = r.about().officer_id();
      switch (b.OfficerRoleAt(subject_officer, raised->at)) {
        case v1::HEAD_OF_PAID_SERVICE:
          first_line = {v1::MONITORING_OFFICER, v1::CHIEF_FINANCE_OFFICER};
          escalation = {v1::MONITORING_OFFICER};
          leader_allowed = true;
          break;
        case v1::DIRECTOR:
        case v1::MONITORING_OFFICER:
        case v1::CHIEF_FINANCE_OFFICER:
          first_line = {v1::HEAD_OF_PAID_SERVICE, v1::MONITORING_OFFICER,
                        v1::CHIEF_FINANCE_OFFICER};
          escalation = {v1::HEAD_OF_PAID_SERVICE, v1::MONITORING_OFFICER};
          break;
        default:
          first_line = {v1::DIRECTOR, v1::HEAD_OF_PAID_SERVICE, v1::MONITORING_OFFICER,
                        v1::CHIEF_FINANCE_OFFICER};
          escalation = {v1::HEAD_OF_PAID_SERVICE, v1::MONITORING_OFFICER};
          own_director_only = true;
          break;
      }
    } else if (r.raised_by().has_officer_id() && r.about().has_member_id()) {
      group_id = b.MemberGroupAt(r.about().member_id(), raised->at);
      first_line = {v1::HEAD_OF_PAID_SERVICE, v1::MONITORING_OFFICER};
      escalation = {v1::MONITORING_OFFICER};
    } else {
      continue;  // between councillors, or between officers: not this protocol's route
    }
    const std::string director = own_director_only ? b.DirectorOf(subject_officer) : "";
    // "ok" if `officer` may take the complaint at `t`; otherwise why not, as
    // a clause for the finding ("" when their role is simply not on the
    // route).
    auto refused = [&](const std::string& officer, absl::Time t,
                       const std::vector<v1::OfficerRole>& roles) -> std::string {
      if (officer == subject_officer) return ", the officer complained about";
      const v1::OfficerRole role = b.OfficerRoleAt(officer, t);
      if (std::find(roles.begin(), roles.end(), role) == roles.end()) return "";
      if (role == v1::DIRECTOR && own_director_only && officer != director) {
        return director.empty()
                   ? absl::StrCat(", a Director, but ", b.OfficerName(subject_officer),
                                  " has no Director on record (as a political assistant, who "
                                  "works for a group, has none)")
                   : absl::StrCat(", a Director but not ", b.OfficerName(subject_officer),
                                  "'s, who is ", b.OfficerName(director));
      }
      return "ok";
    };
    // The advice never names the officer complained about: a complaint
    // about the Monitoring Officer or the Chief Finance Officer goes to the
    // route's other roles (a deputy holding the role may still take it).
    const v1::OfficerRole subject_role = subject_officer.empty()
                                             ? v1::OFFICER_ROLE_UNSPECIFIED
                                             : b.OfficerRoleAt(subject_officer, raised->at);
    auto NotTheSubjects = [&](const std::vector<v1::OfficerRole>& roles) {
      std::vector<v1::OfficerRole> shown = roles;
      if (subject_role == v1::MONITORING_OFFICER || subject_role == v1::CHIEF_FINANCE_OFFICER) {
        shown.erase(std::remove(shown.begin(), shown.end(), subject_role), shown.end());
      }
      return shown;
    };
    auto route = [&](const std::vector<v1::OfficerRole>& roles) {
      std::vector<v1::OfficerRole> shown = NotTheSubjects(roles);
      if (own_director_only) {
        shown.erase(std::remove(shown.begin(), shown.end(), v1::DIRECTOR), shown.end());
        std::string list = RoleList(shown);
        return director.empty()
                   ? list
                   : absl::StrCat(b.OfficerName(director), " (", b.OfficerName(subject_officer),
                                  "'s Director), ", list);
      }
      return absl::StrCat(RoleList(shown), leader_allowed ? ", or the Leader of the Council" : "");
    };
    // Who had the complaint, and from when: they may resolve it.
    std::vector<std::pair<std::string, absl::Time>> handlers;
    if (!r.raised_with_member_id().empty()) {
      if (!leader_allowed) {
        b.AddFinding("complaint-routing", group_id, c->stream_id(), raised->at,
                     absl::StrCat("Complaint ", c->id(), " was raised with councillor ",
                                  b.MemberName(r.raised_with_member_id()),
                                  "; only a complaint about the Head of Paid Service goes to the "
                                  "Leader (Harlow 12.5): it should go to ",
                                  route(first_line), "."),
                     {*raised});
      }
    } else {
      const std::string why = refused(r.raised_with_officer_id(), raised->at, first_line);
      if (why != "ok") {
        b.AddFinding("complaint-routing", group_id, c->stream_id(), raised->at,
                     absl::StrCat("Complaint ", c->id(), " was raised with ",
                                  b.OfficerName(r.raised_with_officer_id()), why,
                                  "; it should go to ", route(first_line), "."),
                     {*raised});
      }
      handlers.push_back({r.raised_with_officer_id(), raised->at});
    }
    for (const Seen& e : b.Facts(*c, v1::Payload::kComplaintEscalated)) {
      const std::string& to = e.payload->complaint_escalated().escalated_to_officer_id();
      handlers.push_back({to, e.at});
      const bool saved_own = own_director_only;
      own_director_only = false;  // escalation goes above the Director
      const std::string why = refused(to, e.at, escalation);
      own_director_only = saved_own;
      if (why == "ok") continue;
      b.AddFinding("complaint-routing", group_id, c->stream_id(), e.at,
                   absl::StrCat("Complaint ", c->id(), " was escalated to ", b.OfficerName(to), why,
                                "; escalation goes to ", RoleList(NotTheSubjects(escalation)), "."),
                   {*raised, e});
    }
    // Resolved by someone it was raised with or escalated to (or, for one
    // raised with the Leader, a statutory officer), never by the officer
    // complained about.
    for (const Seen& f : b.Facts(*c, v1::Payload::kComplaintResolved)) {
      const std::string& by = f.payload->complaint_resolved().resolved_by_officer_id();
      const v1::OfficerRole role = b.OfficerRoleAt(by, f.at);
      const bool statutory_for_leader =
          !r.raised_with_member_id().empty() &&
          (role == v1::MONITORING_OFFICER || role == v1::CHIEF_FINANCE_OFFICER);
      const bool had_it = std::any_of(handlers.begin(), handlers.end(), [&](const auto& h) {
        return h.first == by && h.second <= f.at;
      });
      if (by != subject_officer && (had_it || statutory_for_leader)) continue;
      b.AddFinding(
          "complaint-routing", group_id, c->stream_id(), f.at,
          absl::StrCat("Complaint ", c->id(), " was resolved by ", b.OfficerName(by),
                       by == subject_officer ? ", the officer complained about"
                                             : ", who it was neither raised with nor escalated to",
                       "; it is resolved by whoever it was raised with or escalated to."),
          {*raised, f});
    }
    for (const Seen& f : b.Facts(*c, v1::Payload::kComplaintReferredToStandardsCommittee)) {
      const std::string& by =
          f.payload->complaint_referred_to_standards_committee().referred_by_officer_id();
      if (b.OfficerRoleAt(by, f.at) == v1::MONITORING_OFFICER) continue;
      b.AddFinding("complaint-routing", group_id, c->stream_id(), f.at,
                   absl::StrCat("Complaint ", c->id(),
                                " was referred to the standards committee by ", b.OfficerName(by),
                                "; only the Monitoring Officer refers "
                                "complaints there."),
                   {*raised, f});
    }
  }
}

}  // namespace

RuleDef ComplaintRoutingRule() {
  return {"complaint-routing",
          "Complaints raised and escalated through the set route",
          "Harrow 2.2, 7.4; mayoral §13; Harlow 12.4-12.5, 13.1, 13.3; Barnet 7.3",
          v1::LOW,
          &Describe,
          &Check};
}

}  // namespace evenhand::projections::internal
