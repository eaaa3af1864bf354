// approval-required (Harrow 5.1: officers do not attend group meetings
// "without the agreement of the Head of Paid Service or Monitoring Officer";
// mayoral §9: "the Chief Executive's agreement must be obtained"; Harlow
// 15.3 and 15.10: requests go to the Chief Executive, who may delegate).
#include <algorithm>
#include <optional>
#include <utility>

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
         "officer the Head of Paid Service has delegated this to; the latest such decision "
         "governs. An approval agrees the officers it names to give the briefing (any, if it "
         "names none); one of them giving it agrees it for those who give it with them. An "
         "attendance at another group's meeting needs agreement of its own. A "
         "group's own political assistants are exempt at its meetings (group office staff).";
}

// What the decisions on `briefing` made before `t` agree for `officer`. An
// officer entitled to agree (the Head of Paid Service, the Monitoring
// Officer, a delegate) agrees their own part. Otherwise the latest decision
// by someone entitled to make it governs (a later one re-assigns or
// withdraws the agreement: found from outside): an approval agrees the
// officers it names, or any if it names none (mayoral §9: the Head of Paid
// Service "will determine the appropriate Officer to attend"); a decline
// agrees nobody. `for_others` is that approval when it names only others,
// `declined` that decline, and `tried` the approvals by officers who could
// not give one.
struct Agreement {
  bool agreed = false;
  std::optional<Seen> for_others;
  std::optional<Seen> declined;
  std::vector<Seen> tried;
};
Agreement AgreementFor(const ReportBuilder& b, const Case& briefing, const std::string& officer,
                       absl::Time t) {
  Agreement out;
  if (!officer.empty() && b.CanApproveAt(officer, t)) {
    out.agreed = true;
    return out;
  }
  std::optional<Seen> latest;
  auto consider = [&latest](const Seen& s) {
    if (!latest || std::tie(s.at, s.position) > std::tie(latest->at, latest->position)) latest = s;
  };
  for (const Seen& ap : b.Facts(briefing, v1::Payload::kBriefingApproved)) {
    if (ap.at > t) continue;
    if (b.CanApproveAt(ap.payload->briefing_approved().approved_by_officer_id(), ap.at)) {
      consider(ap);
    } else {
      out.tried.push_back(ap);
    }
  }
  for (const Seen& d : b.Facts(briefing, v1::Payload::kBriefingDeclined)) {
    if (d.at <= t &&
        b.CanApproveAt(d.payload->briefing_declined().declined_by_officer_id(), d.at)) {
      consider(d);
    }
  }
  if (!latest) return out;
  if (latest->payload->has_briefing_declined()) {
    out.declined = latest;
    return out;
  }
  const auto& named = latest->payload->briefing_approved().assigned_officer_ids();
  if (named.empty() || officer.empty() ||
      std::find(named.begin(), named.end(), officer) != named.end()) {
    out.agreed = true;
  } else {
    out.for_others = latest;
  }
  return out;
}

// Why it had no agreement, as a finding says it (after the act).
// `own_approver` is the approval an attendance names (at `own_at`). A
// delegation in force that did not count (not the Head of Paid Service's
// to give) is said, and added to `evidence`: otherwise the finding reads as
// if the record of it were overlooked.
std::string WhyNot(const ReportBuilder& b, const Agreement& agreement,
                   const std::string& own_approver, absl::Time own_at,
                   std::vector<Seen>* evidence) {
  const auto not_honoured = [&](const std::string& officer, absl::Time at) -> std::string {
    std::optional<Seen> d = b.DelegationNotHonouredAt(officer, at);
    if (!d) return "";
    evidence->push_back(*d);
    return absl::StrCat(" (the delegation to them recorded on ", b.Date(d->at), " was given by ",
                        b.OfficerName(d->payload->approval_delegated().delegated_by_officer_id()),
                        ", who was not the Head of Paid Service, who alone may delegate it)");
  };
  const auto own = [&]() -> std::string {
    if (own_approver.empty()) return "";
    return absl::StrCat(", and with the agreement only of ", b.OfficerName(own_approver),
                        ", who could not give it", not_honoured(own_approver, own_at));
  };
  if (agreement.for_others) {
    return absl::StrCat(
        ", although the briefing's approval by ",
        b.OfficerName(agreement.for_others->payload->briefing_approved().approved_by_officer_id()),
        " named other officers to give it", own());
  }
  if (agreement.declined) {
    return absl::StrCat(
        ", although ",
        b.OfficerName(agreement.declined->payload->briefing_declined().declined_by_officer_id()),
        " had declined the briefing on ", b.Date(agreement.declined->at), own());
  }
  if (!own_approver.empty()) {
    return absl::StrCat(" with the agreement only of ", b.OfficerName(own_approver),
                        ", who was neither the Head of Paid Service nor the Monitoring Officer "
                        "nor a delegate of the Head of Paid Service at the time",
                        not_honoured(own_approver, own_at));
  }
  if (agreement.tried.empty()) return " although nobody agreed it beforehand";
  const Seen& tried = agreement.tried.front();
  const std::string& approver = tried.payload->briefing_approved().approved_by_officer_id();
  return absl::StrCat(" with the agreement only of ", b.OfficerName(approver),
                      ", who was neither the Head of Paid Service nor the Monitoring Officer nor "
                      "a delegate of the Head of Paid Service at the time",
                      not_honoured(approver, tried.at));
}

void Check(ReportBuilder& b) {
  ForEachOfficerContact(
      b,
      [&](const Case& c, const BriefingView& v, const Seen& d) {
        // Agreed for every officer who gave it (or for the briefing, when
        // it names nobody): one finding naming those it was not agreed for.
        const auto& ids = d.payload->briefing_delivered().officer_ids();
        // The first officer's Agreement says why not, for the finding.
        std::vector<std::string> unagreed;
        std::optional<Agreement> first;
        const auto judge = [&](const std::string& officer) {
          Agreement a = AgreementFor(b, c, officer, d.at);
          if (a.agreed) return;
          unagreed.push_back(officer);
          if (!first.has_value()) first = std::move(a);
        };
        if (ids.empty()) judge("");
        // An officer entitled to agree who gives it agrees it for those who
        // give it with them (Harrow 5.1: the Head of Paid Service "may
        // arrange meetings with, or presentations to, party groups";
        // mayoral §9: the Head of Paid Service "will determine the
        // appropriate Officer to attend"). Found from outside: the Head of
        // Paid Service and another officer were a finding that "nobody
        // agreed it".
        if (std::any_of(ids.begin(), ids.end(), [&](const std::string& officer) {
              return b.CanApproveAt(officer, d.at);
            })) {
          return;
        }
        for (const std::string& officer : ids) {
          if (!OwnGroupAssistant(b, officer, v.group(), d.at)) judge(officer);
        }
        if (!first.has_value()) return;
        const Agreement& agreement = *first;
        std::vector<Seen> evidence = {*v.request, d};
        if (agreement.for_others) evidence.push_back(*agreement.for_others);
        if (agreement.declined) evidence.push_back(*agreement.declined);
        CiteFirstAndLast(agreement.tried, &evidence);
        const std::vector<Seen> withdrawn =
            WithdrawnBefore(b, c, v1::Payload::kBriefingApproved, d.at + absl::Nanoseconds(1));
        CiteFirstAndLast(withdrawn, &evidence);
        // An approval recorded after it went ahead agrees nothing, but is
        // cited (found from outside: left out, the finding read as if
        // nobody had ever agreed it).
        std::optional<Seen> afterwards;
        for (const Seen& ap : b.Facts(c, v1::Payload::kBriefingApproved)) {
          if (ap.at > d.at &&
              b.CanApproveAt(ap.payload->briefing_approved().approved_by_officer_id(), ap.at) &&
              (!afterwards || ap.at < afterwards->at)) {
            afterwards = ap;
          }
        }
        if (afterwards) evidence.push_back(*afterwards);
        const std::string after_text =
            afterwards ? absl::StrCat(
                             " It was approved only afterwards, by ",
                             b.OfficerName(
                                 afterwards->payload->briefing_approved().approved_by_officer_id()),
                             " on ", b.Date(afterwards->at), ".")
                       : std::string();
        const std::string why_not = WhyNot(b, agreement, "", d.at, &evidence);
        std::vector<std::string> names;
        for (const std::string& officer : unagreed) names.push_back(b.OfficerName(officer));
        b.AddFinding(
            "approval-required", v.group(), c.stream_id(), d.at,
            absl::StrCat(
                "The briefing of ", b.GroupName(v.group()), " on ", v.subject(), " on ",
                b.Date(d.at),
                agreement.for_others ? absl::StrCat(" was given by ", absl::StrJoin(names, " and "))
                                     : std::string(" went ahead"),
                why_not, ".", after_text, SayWithdrawn(b, withdrawn, "An approval", "Approvals")),
            evidence);
      },
      [&](const Case& c, const Seen& m, const v1::OfficerAttendedGroupMeeting& a) {
        if (!a.approved_by_officer_id().empty() &&
            b.CanApproveAt(a.approved_by_officer_id(), m.at)) {
          return;
        }
        // An officer entitled to agree attends with their own agreement.
        if (b.CanApproveAt(a.officer_id(), m.at)) return;
        // Agreed with the briefing it gives (at that briefing's group's
        // meeting, on its matter), by its approval. An attendance that does
        // not give it (another group's meeting) needs agreement of its own
        // (found from outside).
        Agreement agreement;
        std::vector<Seen> withdrawn;
        if (const Case* briefing =
                a.briefing_id().empty() ? nullptr : b.Briefing(a.briefing_id())) {
          const BriefingView& v = b.BriefingOf(*briefing);
          if (v.request && a.group_id() == v.group() && a.matter_id() == v.matter()) {
            agreement = AgreementFor(b, *briefing, a.officer_id(), m.at);
            if (agreement.agreed) return;
            withdrawn = WithdrawnBefore(b, *briefing, v1::Payload::kBriefingApproved,
                                        m.at + absl::Nanoseconds(1));
          }
        }
        std::vector<Seen> evidence = {m};
        if (agreement.for_others) evidence.push_back(*agreement.for_others);
        if (agreement.declined) evidence.push_back(*agreement.declined);
        CiteFirstAndLast(agreement.tried, &evidence);
        CiteFirstAndLast(withdrawn, &evidence);
        const std::string why_not =
            WhyNot(b, agreement, a.approved_by_officer_id(), m.at, &evidence);
        b.AddFinding("approval-required", a.group_id(), c.stream_id(), m.at,
                     absl::StrCat(b.OfficerName(a.officer_id()), " attended a meeting of ",
                                  b.GroupName(a.group_id()), " on ", b.Date(m.at), why_not, ".",
                                  SayWithdrawn(b, withdrawn, "An approval", "Approvals")),
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
