// The fairness rules: the member-officer protocols' even-handedness
// requirements as checks over the projection's facts. Each rule names the
// paragraphs it enforces; reports carry the same citation.
#include <algorithm>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/time_util.h"
#include "projections/internal/report_builder.h"

namespace evenhand::projections::internal {
namespace {

// True if `officer_id` is, at `t`, a political assistant serving `group_id`.
// Group office staff work for their group, so they may attend its meetings
// without the Head of Paid Service's agreement (Harrow 5.1 "apart from group
// office staff"; Barnet 9); at another group's meeting, or at a meeting held
// before they joined their group's office, they are officers like any other.
bool OwnGroupAssistant(const ReportBuilder& b, const std::string& officer_id,
                       const std::string& group_id, absl::Time t) {
  return !group_id.empty() && b.AssistantGroupAt(officer_id, t) == group_id;
}

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

std::string Plural(int n, const char* word) {
  return absl::StrCat(n, " ", word, n == 1 ? "" : "s");
}

std::string DescribeEqualOffer(const FairnessSettings& s) {
  return absl::StrCat(
      "When a political group is briefed on a matter, every other group recognised at the "
      "time must be offered the same briefing (or have asked for its own) within ",
      Plural(s.offer_deadline_working_days, "working day"),
      " of the briefing; an offer or request up to ", s.equal_offer_lookback_days,
      " days before it also counts. The protocols set no deadline: ", s.offer_deadline_working_days,
      " working days is this council's setting.");
}
std::string DescribeApproval(const FairnessSettings&) {
  return "A briefing of a political group, and an officer's attendance at a group meeting, "
         "must first be agreed by the Head of Paid Service, the Monitoring Officer, or an "
         "officer the Head of Paid Service has delegated this to. A group's own political "
         "assistants are exempt at its meetings (group office staff).";
}
std::string DescribePreElection(const FairnessSettings&) {
  return "No officer attends or briefs a political group meeting between the announcement "
         "of an election and the end of election day (a group's own political assistants, "
         "who work for it, excepted).";
}
std::string DescribeSameMatter(const FairnessSettings& s) {
  return absl::StrCat(
      "An officer who briefed or attended one group on a matter must not decline another "
      "group's request on the same matter (within ",
      s.same_matter_window_days,
      " days). Declines because of a pre-election period, party-political business or "
      "non-members being present are allowed.");
}
std::string DescribeQueryReply(const FairnessSettings& s) {
  return absl::StrCat(
      "A councillor's written query gets a substantive reply, or an acknowledgement with a "
      "clear timescale, within ",
      Plural(s.query_reply_working_days, "working day"),
      " (England and Wales bank holidays excluded). A timescale given must be met, or a "
      "revised one sent before it passes.");
}
std::string DescribePartyPolitical(const FairnessSettings&) {
  return "Officers are not present at meetings, or parts of meetings, on party-political "
         "business, and give no advice on it (a group's own political assistants, who work "
         "for it, excepted).";
}
std::string DescribeNonMembers(const FairnessSettings&) {
  return "A briefing with people present who are not councillors needs the Head of Paid "
         "Service's permission.";
}
std::string DescribeComplaints(const FairnessSettings&) {
  return "A councillor's complaint about an officer goes to a Director, the Head of Paid "
         "Service, the Monitoring Officer or the Chief Finance Officer (about a Director: to "
         "the Head of Paid Service or a statutory officer; about the Head of Paid Service: to "
         "the Monitoring Officer or Chief Finance Officer). An officer's complaint about a "
         "councillor goes to the Head of Paid Service or the Monitoring Officer. Escalation "
         "goes to the Head of Paid Service or Monitoring Officer; only the Monitoring Officer "
         "refers a complaint to the standards committee. Nobody handles a complaint about "
         "themselves.";
}
std::string DescribeRelationship(const FairnessSettings&) {
  return "A councillor who has declared a relationship with an officer takes no part in a "
         "decision that directly affects that officer.";
}
std::string DescribeRelay(const FairnessSettings&) {
  return "What one group discusses with officers is not passed to another group or other "
         "councillors unless the group asked for or agreed to it.";
}
std::string DescribeParity(const FairnessSettings& s) {
  return absl::StrFormat(
      "Each group's access to officers is compared with the other groups' together. A "
      "disparity is a finding only when it is both large and unlikely to be chance: a decline "
      "rate at least %.0f points higher (Fisher's exact test, p < %.2f; declines the protocols "
      "require, in a pre-election period or of party-political business, are not counted); a "
      "share of written "
      "queries answered late at least %.0f points higher (Fisher's exact test, p < %.2f); "
      "officer minutes per briefing below %.0f%% of the others' median (Mann-Whitney U test, "
      "p < %.2f). Each comparison needs at least %d cases on each side.",
      s.decline_rate_gap * 100, s.parity_alpha, s.late_reply_gap * 100, s.parity_alpha,
      s.officer_time_ratio * 100, s.parity_alpha, s.parity_min_cases);
}
std::string DescribeDataQuality(const FairnessSettings&) {
  return "Facts that do not fit together: a group with fewer than two councillors, a "
         "briefing asked for by a councillor who is not in the group. Reported so the source "
         "systems can be put right; not a breach in itself.";
}

}  // namespace

BriefingView ViewBriefing(const ReportBuilder& b, const Case& c) {
  BriefingView v;
  v.c = &c;
  v.request = b.Opening(c);
  if (!v.request) return v;
  const v1::Payload& p = *v.request->payload;
  if (p.has_briefing_requested()) {
    v.group_id = &p.briefing_requested().group_id();
    v.matter_id = &p.briefing_requested().matter_id();
    v.answers_offer = !p.briefing_requested().in_response_to_offer_id().empty();
  } else if (p.has_briefing_offered()) {
    v.group_id = &p.briefing_offered().group_id();
    v.matter_id = &p.briefing_offered().matter_id();
    v.is_offer = true;
  } else {
    v.request.reset();
  }
  return v;
}

const std::vector<RuleDef>& Rules() {
  static const std::vector<RuleDef> rules = {
      {"equal-offer", "Every group offered the same briefing", "Harrow 5.2; mayoral §9; Barnet 9.2",
       v1::HIGH, &DescribeEqualOffer},
      {"approval-required", "Briefings and attendance agreed by the Head of Paid Service",
       "Harrow 5.1-5.2; mayoral §9; Harlow 15.3, 15.10; Barnet 9", v1::HIGH, &DescribeApproval},
      {"pre-election-attendance", "No officer at group meetings in a pre-election period",
       "mayoral §9", v1::HIGH, &DescribePreElection},
      {"same-matter-decline", "No declining one group on a matter advised to another",
       "Harlow 15.12", v1::MEDIUM, &DescribeSameMatter},
      {"written-query-reply", "Written queries answered within five working days",
       "Harlow 6.6, 15.18", v1::MEDIUM, &DescribeQueryReply},
      {"party-political-business", "Officers never at party-political business",
       "Harlow 14.5, 15.4; mayoral §9(e)", v1::HIGH, &DescribePartyPolitical},
      {"non-members-present", "Non-members at a briefing only with permission",
       "Harlow 15.7; mayoral §9(d)", v1::MEDIUM, &DescribeNonMembers},
      {"complaint-routing", "Complaints raised and escalated through the set route",
       "Harrow 2.2, 7.4; mayoral §13; Harlow 12.4-12.5, 13.1, 13.3; Barnet 7.3", v1::LOW,
       &DescribeComplaints},
      {"relationship-conflict", "No decision affecting an officer one has a relationship with",
       "Harlow 6.4, 8.3; Harrow 6.3", v1::HIGH, &DescribeRelationship},
      {"confidentiality-relay", "One group's discussions not relayed to another",
       "Harlow 15.8; mayoral §9; Harrow 4.2; Barnet 9.3", v1::HIGH, &DescribeRelay},
      {"access-parity", "Equivalent access to officers for every group",
       "Harrow 4.1; Barnet 9.2; mayoral §9; Harlow 15.9", v1::MEDIUM, &DescribeParity},
      {"data-quality", "Facts that do not fit together", "Harlow 2.3", v1::INFO,
       &DescribeDataQuality},
  };
  return rules;
}

const RuleDef& Rule(const std::string& id) {
  for (const RuleDef& r : Rules()) {
    if (id == r.id) return r;
  }
  std::abort();  // a rule id in code that is not in the catalogue
}

std::vector<v1::RuleInfo> RuleCatalogue(const FairnessSettings& settings) {
  std::vector<v1::RuleInfo> out;
  for (const RuleDef& r : Rules()) {
    v1::RuleInfo info;
    info.set_rule_id(r.id);
    info.set_title(r.title);
    info.set_citation(r.citation);
    info.set_severity(r.severity);
    info.set_description(r.describe(settings));
    out.push_back(std::move(info));
  }
  return out;
}

// ---------------------------------------------------------------------------
// equal-offer (Harrow 5.2: requests go through the Head of Paid Service "who
// would be responsible for advising the other groups who could then ask for
// the same briefing"; mayoral §9: "all groups must be offered the same
// facilities"; Barnet 9.2: "equivalent facilities are available to all
// political groups").

void CheckEqualOffer(ReportBuilder& b) {
  const FairnessSettings& s = b.settings();
  for (const Case* c : b.Cases(CaseKind::kBriefing)) {
    const BriefingView& v = b.BriefingOf(*c);
    // An offer, or a briefing taken up from an offer, is the answer to an
    // obligation, not the start of a new one.
    if (!v.request || v.is_offer || v.answers_offer || v.matter().empty()) continue;
    std::optional<Seen> delivered = b.First(*c, v1::Payload::kBriefingDelivered);
    if (!delivered) continue;
    const absl::Time t = delivered->at;
    const absl::Time deadline = b.calendar().EndOfWorkingDay(t, s.offer_deadline_working_days);
    if (!b.InPeriod(deadline)) continue;  // a finding here is dated at the deadline
    const absl::Time window_start = t - absl::Hours(24 * s.equal_offer_lookback_days);
    auto matter = b.indexes().by_matter.find(v.matter());
    for (const Case* group : b.GroupsAt(t)) {
      if (group->id == v.group()) continue;
      // The earliest offer to, or request by, this group on the matter.
      std::optional<Seen> earliest;
      if (matter != b.indexes().by_matter.end()) {
        for (const Case* other : matter->second) {
          if (other->kind != CaseKind::kBriefing) continue;
          const BriefingView& o = b.BriefingOf(*other);
          if (!o.request || o.group() != group->id || o.matter() != v.matter()) continue;
          if (o.request->at < window_start) continue;
          if (!earliest || std::tie(o.request->at, o.request->position) <
                               std::tie(earliest->at, earliest->position)) {
            earliest = o.request;
          }
        }
      }
      if (earliest && earliest->at < deadline) continue;
      std::optional<Seen> recognised = b.First(*group, v1::Payload::kPoliticalGroupRecognised);
      if (earliest) {
        const int late_by = b.calendar().WorkingDaysBetween(b.calendar().LocalDay(t),
                                                            b.calendar().LocalDay(earliest->at));
        b.AddFinding(
            "equal-offer", group->id, c->record.stream_id(), deadline,
            absl::StrCat(b.GroupName(v.group()), " was briefed on ", v.subject(), " on ",
                         b.Date(t), "; ", b.GroupName(group->id), " was offered the same only on ",
                         b.Date(earliest->at), ", ", Plural(late_by, "working day"),
                         " later (the limit is ", s.offer_deadline_working_days, ")."),
            {*v.request, *delivered, *earliest});
      } else if (b.query().as_of_time >= deadline) {
        std::vector<Seen> evidence = {*v.request, *delivered};
        if (recognised) evidence.push_back(*recognised);
        b.AddFinding("equal-offer", group->id, c->record.stream_id(), deadline,
                     absl::StrCat(b.GroupName(v.group()), " was briefed on ", v.subject(), " on ",
                                  b.Date(t), "; ", b.GroupName(group->id),
                                  " had not been offered the same briefing by the end of ",
                                  b.Date(deadline - absl::Seconds(1)), " (",
                                  Plural(s.offer_deadline_working_days, "working day"), " later)."),
                     evidence);
      }
    }
  }
}

// ---------------------------------------------------------------------------
// approval-required (Harrow 5.1: officers do not attend group meetings
// "without the agreement of the Head of Paid Service or Monitoring Officer";
// mayoral §9: "the Chief Executive's agreement must be obtained"; Harlow
// 15.3 and 15.10: requests go to the Chief Executive, who may delegate).

namespace {

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

}  // namespace

void CheckApprovalRequired(ReportBuilder& b) {
  ForEachOfficerContact(
      b,
      [&](const Case& c, const BriefingView& v, const Seen& d) {
        std::vector<Seen> tried;
        if (ValidApproval(b, c, d.at, &tried)) return;
        std::vector<Seen> evidence = {*v.request, d};
        evidence.insert(evidence.end(), tried.begin(), tried.end());
        std::string why =
            tried.empty()
                ? "nobody agreed it beforehand"
                : absl::StrCat(
                      b.OfficerName(
                          tried.front().payload->briefing_approved().approved_by_officer_id()),
                      ", who agreed it, was neither the Head of Paid "
                      "Service nor the Monitoring Officer nor their "
                      "delegate at the time");
        b.AddFinding("approval-required", v.group(), c.record.stream_id(), d.at,
                     absl::StrCat("The briefing of ", b.GroupName(v.group()), " on ", v.subject(),
                                  " on ", b.Date(d.at), " went ahead although ", why, "."),
                     evidence);
      },
      [&](const Case& c, const Seen& m, const v1::OfficerAttendedGroupMeeting& a) {
        if (!a.approved_by_officer_id().empty() &&
            b.CanApproveAt(a.approved_by_officer_id(), m.at)) {
          return;
        }
        if (!a.briefing_id().empty()) {
          if (const Case* briefing = b.Briefing(a.briefing_id())) {
            if (ValidApproval(b, *briefing, m.at, nullptr)) return;
          }
        }
        b.AddFinding("approval-required", a.group_id(), c.record.stream_id(), m.at,
                     absl::StrCat(b.OfficerName(a.officer_id()), " attended a meeting of ",
                                  b.GroupName(a.group_id()), " on ", b.Date(m.at),
                                  a.approved_by_officer_id().empty()
                                      ? " without anyone's agreement."
                                      : absl::StrCat(" with the agreement only of ",
                                                     b.OfficerName(a.approved_by_officer_id()),
                                                     ", who could not give it.")),
                     {m});
      });
}

// ---------------------------------------------------------------------------
// pre-election-attendance (mayoral §9: "Officers should not attend nor be
// asked to attend political group meetings during any pre-election period").

void CheckPreElectionAttendance(ReportBuilder& b) {
  ForEachOfficerContact(
      b,
      [&](const Case& c, const BriefingView& v, const Seen& d) {
        std::optional<Seen> period = b.PreElectionPeriodAt(d.at);
        if (!period) return;
        b.AddFinding(
            "pre-election-attendance", v.group(), c.record.stream_id(), d.at,
            absl::StrCat("Officers briefed ", b.GroupName(v.group()), " on ", v.subject(), " on ",
                         b.Date(d.at), ", during the pre-election period (",
                         period->payload->pre_election_period_declared().description(), ")."),
            {*period, *v.request, d});
      },
      [&](const Case& c, const Seen& m, const v1::OfficerAttendedGroupMeeting& a) {
        std::optional<Seen> period = b.PreElectionPeriodAt(m.at);
        if (!period) return;
        b.AddFinding(
            "pre-election-attendance", a.group_id(), c.record.stream_id(), m.at,
            absl::StrCat(b.OfficerName(a.officer_id()), " attended a meeting of ",
                         b.GroupName(a.group_id()), " on ", b.Date(m.at),
                         ", during the pre-election period (",
                         period->payload->pre_election_period_declared().description(), ")."),
            {*period, m});
      });
}

// ---------------------------------------------------------------------------
// same-matter-decline (Harlow 15.12: "An Officer accepting an invitation to
// the meeting of one party group will not decline an invitation to advise
// another group about the same matter").

void CheckSameMatterDecline(ReportBuilder& b) {
  const absl::Duration window = absl::Hours(24 * b.settings().same_matter_window_days);
  for (const Case* c : b.Cases(CaseKind::kBriefing)) {
    const BriefingView& v = b.BriefingOf(*c);
    if (!v.request || v.matter().empty()) continue;
    auto matter = b.indexes().by_matter.find(v.matter());
    if (matter == b.indexes().by_matter.end()) continue;
    for (const Seen& x : b.Facts(*c, v1::Payload::kBriefingDeclined)) {
      if (!b.InPeriod(x.at)) continue;
      const auto& decline = x.payload->briefing_declined();
      // Harlow 15.7 and the pre-election and party-political rules allow
      // refusing for these reasons.
      if (decline.reason() == v1::PRE_ELECTION_PERIOD || decline.reason() == v1::PARTY_POLITICAL ||
          decline.reason() == v1::NON_MEMBERS_PRESENT) {
        continue;
      }
      const std::string& officer = decline.declined_by_officer_id();
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
      for (const Case* other : matter->second) {
        if (other == c) continue;
        if (other->kind == CaseKind::kBriefing) {
          const BriefingView& o = b.BriefingOf(*other);
          if (!o.request || o.matter() != v.matter()) continue;
          for (const Seen& d : b.Facts(*other, v1::Payload::kBriefingDelivered)) {
            const auto& ids = d.payload->briefing_delivered().officer_ids();
            if (std::find(ids.begin(), ids.end(), officer) != ids.end()) consider(d, o.group());
          }
        } else if (other->kind == CaseKind::kMeeting) {
          for (const Seen& m : b.Facts(*other, v1::Payload::kOfficerAttendedGroupMeeting)) {
            const auto& a = m.payload->officer_attended_group_meeting();
            if (a.officer_id() == officer && a.matter_id() == v.matter()) consider(m, a.group_id());
          }
        }
      }
      if (!accepted) continue;
      b.AddFinding("same-matter-decline", v.group(), c->record.stream_id(), x.at,
                   absl::StrCat(b.OfficerName(officer), " declined to advise ",
                                b.GroupName(v.group()), " on ", v.subject(), " on ", b.Date(x.at),
                                " but advised ", b.GroupName(accepted_group),
                                " on the same matter on ", b.Date(accepted->at), "."),
                   {*v.request, *accepted, x});
    }
  }
}

// ---------------------------------------------------------------------------
// written-query-reply (Harlow 6.6 and 15.18: "Officers will respond to
// Councillor written queries ... within five working days ... either a
// substantive reply ... or an acknowledgement setting out a clear timescale
// ... In the event that this timescale cannot subsequently be met, the
// Officer will contact the Councillor with an explanation and a revised
// timescale").

QueryOutcome EvaluateQuery(const ReportBuilder& b, const Case& query) {
  QueryOutcome out;
  out.received = b.First(query, v1::Payload::kWrittenQueryReceived);
  if (!out.received) return out;
  const auto& q = out.received->payload->written_query_received();
  out.group_id = b.MemberGroupAt(q.member_id(), out.received->at);
  out.deadline =
      b.calendar().EndOfWorkingDay(out.received->at, b.settings().query_reply_working_days);
  for (const Seen& seen : b.View(query)) {
    const std::optional<Seen> s = seen;
    if (!s) continue;
    const bool reply = s->payload->has_written_query_answered() ||
                       (s->payload->has_written_query_acknowledged() &&
                        s->payload->written_query_acknowledged().has_reply_due_at());
    if (reply &&
        (!out.first_reply ||
         std::tie(s->at, s->position) < std::tie(out.first_reply->at, out.first_reply->position))) {
      out.first_reply = s;
    }
  }
  out.in_time = out.first_reply && out.first_reply->at < out.deadline;
  out.pending = !out.first_reply && b.query().as_of_time < out.deadline;
  return out;
}

void CheckWrittenQueryReply(ReportBuilder& b) {
  const int days = b.settings().query_reply_working_days;
  for (const Case* c : b.Cases(CaseKind::kQuery)) {
    const QueryOutcome& o = b.QueryOf(*c);
    if (!o.received) continue;
    const auto& q = o.received->payload->written_query_received();
    const std::string who =
        absl::StrCat("The written query \"", q.subject(), "\" from ", b.MemberName(q.member_id()),
                     " (received ", b.Date(o.received->at), ")");
    if (!o.first_reply) {
      if (!o.pending) {
        b.AddFinding("written-query-reply", o.group_id, c->record.stream_id(), o.deadline,
                     absl::StrCat(who, " had no reply or acknowledgement within ",
                                  Plural(days, "working day"), " (by the end of ",
                                  b.Date(o.deadline - absl::Seconds(1)), ")."),
                     {*o.received});
      }
      continue;
    }
    if (!o.in_time) {
      const int took = b.calendar().WorkingDaysBetween(b.calendar().LocalDay(o.received->at),
                                                       b.calendar().LocalDay(o.first_reply->at));
      b.AddFinding(
          "written-query-reply", o.group_id, c->record.stream_id(), o.deadline,
          absl::StrCat(
              who, " was first ",
              o.first_reply->payload->has_written_query_answered() ? "answered" : "acknowledged",
              " after ", Plural(took, "working day"), ", on ", b.Date(o.first_reply->at),
              " (the limit is ", days, ")."),
          {*o.received, *o.first_reply});
      continue;
    }
    if (!o.first_reply->payload->has_written_query_acknowledged()) continue;
    // Acknowledged in time with a timescale: the timescale must be kept, or
    // revised before it passes.
    absl::Time due =
        FromProtoTime(o.first_reply->payload->written_query_acknowledged().reply_due_at());
    std::vector<Seen> evidence = {*o.received, *o.first_reply};
    std::optional<Seen> answer;
    for (const Seen& seen : b.View(*c)) {
      const std::optional<Seen> s = seen;
      if (!s) continue;
      if (s->payload->has_written_query_answered()) {
        if (!answer || s->at < answer->at) answer = s;
      }
    }
    for (const Seen& r : b.Facts(*c, v1::Payload::kWrittenQueryTimescaleRevised)) {
      if (answer && r.at > answer->at) continue;
      if (r.at < due) {
        due = FromProtoTime(r.payload->written_query_timescale_revised().reply_due_at());
        evidence.push_back(r);
      }
    }
    if (answer && answer->at <= due) continue;
    if (!answer && b.query().as_of_time <= due) continue;
    if (answer) evidence.push_back(*answer);
    b.AddFinding("written-query-reply", o.group_id, c->record.stream_id(), due,
                 absl::StrCat(who, " was acknowledged with a reply promised by ", b.Date(due),
                              answer ? absl::StrCat(", but answered only on ", b.Date(answer->at))
                                     : std::string(", but not answered by then"),
                              ", and no revised timescale was given before it passed."),
                 evidence);
  }
}

// ---------------------------------------------------------------------------
// party-political-business (Harlow 14.5: "Officers must never be asked to
// attend political party meetings"; 15.4: information and advice "on Council
// business only"; mayoral §9(e)).

void CheckPartyPoliticalBusiness(ReportBuilder& b) {
  ForEachOfficerContact(
      b,
      [&](const Case& c, const BriefingView& v, const Seen& d) {
        const auto& delivery = d.payload->briefing_delivered();
        if (delivery.business() != v1::PARTY_POLITICAL_BUSINESS) return;
        std::vector<std::string> names;
        for (const std::string& id : delivery.officer_ids()) names.push_back(b.OfficerName(id));
        b.AddFinding("party-political-business", v.group(), c.record.stream_id(), d.at,
                     absl::StrCat(absl::StrJoin(names, ", "),
                                  " took part in party-political business at a meeting of ",
                                  b.GroupName(v.group()), " on ", b.Date(d.at), "."),
                     {*v.request, d});
      },
      [&](const Case& c, const Seen& m, const v1::OfficerAttendedGroupMeeting& a) {
        if (a.business() != v1::PARTY_POLITICAL_BUSINESS) return;
        b.AddFinding("party-political-business", a.group_id(), c.record.stream_id(), m.at,
                     absl::StrCat(b.OfficerName(a.officer_id()),
                                  " was present for party-political business at a meeting of ",
                                  b.GroupName(a.group_id()), " on ", b.Date(m.at), "."),
                     {m});
      });
}

// ---------------------------------------------------------------------------
// non-members-present (Harlow 15.7: special care where persons who are not
// councillors are present; mayoral §9(d) and: "At his/her discretion, the
// Head of Paid Service may permit an Officer to give a political group
// briefing when such representatives are likely to be present").

void CheckNonMembersPresent(ReportBuilder& b) {
  for (const Case* c : b.Cases(CaseKind::kBriefing)) {
    const BriefingView& v = b.BriefingOf(*c);
    if (!v.request) continue;
    for (const Seen& d : b.Facts(*c, v1::Payload::kBriefingDelivered)) {
      const auto& delivery = d.payload->briefing_delivered();
      if (delivery.non_members_present() <= 0 || delivery.non_member_attendance_permitted()) {
        continue;
      }
      b.AddFinding(
          "non-members-present", v.group(), c->record.stream_id(), d.at,
          absl::StrCat("Officers briefed ", b.GroupName(v.group()), " on ", v.subject(), " on ",
                       b.Date(d.at), " with ", Plural(delivery.non_members_present(), "non-member"),
                       " present, without the Head of Paid Service's permission."),
          {*v.request, d});
    }
  }
  for (const Case* c : b.Cases(CaseKind::kMeeting)) {
    for (const Seen& m : b.Facts(*c, v1::Payload::kOfficerAttendedGroupMeeting)) {
      const auto& a = m.payload->officer_attended_group_meeting();
      if (a.non_members_present() <= 0) continue;
      if (!a.approved_by_officer_id().empty() &&
          b.OfficerRoleAt(a.approved_by_officer_id(), m.at) == v1::HEAD_OF_PAID_SERVICE) {
        continue;
      }
      b.AddFinding("non-members-present", a.group_id(), c->record.stream_id(), m.at,
                   absl::StrCat(b.OfficerName(a.officer_id()), " attended a meeting of ",
                                b.GroupName(a.group_id()), " on ", b.Date(m.at), " with ",
                                Plural(a.non_members_present(), "non-member"),
                                " present, without the Head of Paid Service's permission."),
                   {m});
    }
  }
}

// ---------------------------------------------------------------------------
// complaint-routing (Harrow 2.2: complaints about officers "to the relevant
// Director, Head of Paid Service, Monitoring Officer or Chief Finance
// Officer"; Harlow 12.4-12.5: to the appropriate Director, then the Chief
// Executive; about a Director, to the Chief Executive; about the Chief
// Executive, to the Leader and/or statutory officers; mayoral §13: about the
// Head of Paid Service, to the Monitoring Officer; an officer's concern about
// a member goes to the Monitoring Officer, who may refer it to the standards
// committee; Harlow 13.1, 13.3: an officer's complaint about a councillor to
// the Chief Executive, or at any time the Monitoring Officer).

namespace {

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

}  // namespace

void CheckComplaintRouting(ReportBuilder& b) {
  for (const Case* c : b.Cases(CaseKind::kComplaint)) {
    std::optional<Seen> raised = b.First(*c, v1::Payload::kComplaintRaised);
    if (!raised) continue;
    const auto& r = raised->payload->complaint_raised();
    std::string group_id;
    std::vector<v1::OfficerRole> first_line, escalation;
    std::string subject_officer;
    if (r.raised_by().has_member_id() && r.about().has_officer_id()) {
      group_id = b.MemberGroupAt(r.raised_by().member_id(), raised->at);
      subject_officer = r.about().officer_id();
      switch (b.OfficerRoleAt(subject_officer, raised->at)) {
        case v1::HEAD_OF_PAID_SERVICE:
          first_line = {v1::MONITORING_OFFICER, v1::CHIEF_FINANCE_OFFICER};
          escalation = {v1::MONITORING_OFFICER};
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
          break;
      }
    } else if (r.raised_by().has_officer_id() && r.about().has_member_id()) {
      group_id = b.MemberGroupAt(r.about().member_id(), raised->at);
      first_line = {v1::HEAD_OF_PAID_SERVICE, v1::MONITORING_OFFICER};
      escalation = {v1::MONITORING_OFFICER};
    } else {
      continue;  // between councillors, or between officers: not this protocol's route
    }
    auto allowed = [&](const std::string& officer, absl::Time t,
                       const std::vector<v1::OfficerRole>& roles) {
      if (officer == subject_officer) return false;  // nobody judges a complaint about themselves
      v1::OfficerRole role = b.OfficerRoleAt(officer, t);
      return std::find(roles.begin(), roles.end(), role) != roles.end();
    };
    if (!allowed(r.raised_with_officer_id(), raised->at, first_line)) {
      b.AddFinding(
          "complaint-routing", group_id, c->record.stream_id(), raised->at,
          absl::StrCat(
              "Complaint ", c->id, " was raised with ", b.OfficerName(r.raised_with_officer_id()),
              r.raised_with_officer_id() == subject_officer ? ", the officer complained about" : "",
              "; it should go to ", RoleList(first_line), "."),
          {*raised});
    }
    for (const Seen& e : b.Facts(*c, v1::Payload::kComplaintEscalated)) {
      const std::string& to = e.payload->complaint_escalated().escalated_to_officer_id();
      if (allowed(to, e.at, escalation)) continue;
      b.AddFinding("complaint-routing", group_id, c->record.stream_id(), e.at,
                   absl::StrCat("Complaint ", c->id, " was escalated to ", b.OfficerName(to),
                                "; escalation goes to ", RoleList(escalation), "."),
                   {*raised, e});
    }
    for (const Seen& f : b.Facts(*c, v1::Payload::kComplaintReferredToStandardsCommittee)) {
      const std::string& by =
          f.payload->complaint_referred_to_standards_committee().referred_by_officer_id();
      if (b.OfficerRoleAt(by, f.at) == v1::MONITORING_OFFICER) continue;
      b.AddFinding("complaint-routing", group_id, c->record.stream_id(), f.at,
                   absl::StrCat("Complaint ", c->id, " was referred to the standards committee by ",
                                b.OfficerName(by),
                                "; only the Monitoring Officer refers "
                                "complaints there."),
                   {*raised, f});
    }
  }
}

// ---------------------------------------------------------------------------
// relationship-conflict (Harlow 6.4: "Where a personal relationship has
// been disclosed ... a Councillor should not sit on a body or participate in
// any decision that directly affects the Officer on a personal basis";
// Harlow 8.3: not take part in an appointment of a close friend or relative;
// Harrow 6.3: relationships are declared). Barnet 11.2-11.3 said the same,
// but the marked-up revision we hold strikes them through, so they are not
// cited.

void CheckRelationshipConflict(ReportBuilder& b) {
  for (const Case* m : b.indexes().members) {
    std::vector<Seen> declared = b.Facts(*m, v1::Payload::kRelationshipDeclared);
    if (declared.empty()) continue;
    for (const Seen& d : b.Facts(*m, v1::Payload::kMemberParticipatedInDecision)) {
      const auto& decision = d.payload->member_participated_in_decision();
      for (const Seen& r : declared) {
        const auto& rel = r.payload->relationship_declared();
        if (r.at > d.at) continue;
        const auto& affected = decision.affected_officer_ids();
        if (std::find(affected.begin(), affected.end(), rel.officer_id()) == affected.end()) {
          continue;
        }
        b.AddFinding("relationship-conflict", b.MemberGroupAt(m->id, d.at), m->record.stream_id(),
                     d.at,
                     absl::StrCat(b.MemberName(m->id), " took part in ", decision.body(),
                                  " decision ", decision.decision_id(), " on ", b.Date(d.at),
                                  ", which directly affected ", b.OfficerName(rel.officer_id()),
                                  ", with whom they had declared a relationship on ", b.Date(r.at), "."),
                     {r, d});
        break;
      }
    }
  }
}

// ---------------------------------------------------------------------------
// confidentiality-relay (Harlow 15.8 and mayoral §9: officers "will not
// relay the content of such discussions to another political group or to any
// other members" unless requested by that group; Harrow 4.2; Barnet 9.3).

void CheckConfidentialityRelay(ReportBuilder& b) {
  for (const Case* c : b.Cases(CaseKind::kBriefing)) {
    for (const Seen& d : b.Facts(*c, v1::Payload::kGroupInformationDisclosed)) {
      const auto& disclosure = d.payload->group_information_disclosed();
      if (disclosure.agreed_by_originating_group()) continue;
      std::vector<Seen> evidence = {d};
      if (std::optional<Seen> opening = b.Opening(*c)) evidence.push_back(*opening);
      b.AddFinding("confidentiality-relay", disclosure.from_group_id(), c->record.stream_id(), d.at,
                   absl::StrCat(b.OfficerName(disclosure.disclosed_by_officer_id()),
                                " passed what ", b.GroupName(disclosure.from_group_id()),
                                " discussed to ", b.GroupName(disclosure.to_group_id()), " on ",
                                b.Date(d.at), " without the group asking for or agreeing to it."),
                   evidence);
    }
  }
}

// ---------------------------------------------------------------------------
// data-quality (Harlow 2.3: a political group is "two or more Councillors").

void CheckDataQuality(ReportBuilder& b) {
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

}  // namespace evenhand::projections::internal
