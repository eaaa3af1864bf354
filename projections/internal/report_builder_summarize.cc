// ReportBuilder::Summarize: how a report cites an event, one line each
// (the evidence table of the page, the CSV and the JSON). Internal to
// projections/.
#include "projections/internal/report_builder.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "base/time_util.h"

namespace evenhand::projections::internal {
namespace {

const char* RoleName(v1::OfficerRole role) {
  switch (role) {
    case v1::HEAD_OF_PAID_SERVICE:
      return "Head of Paid Service";
    case v1::MONITORING_OFFICER:
      return "Monitoring Officer";
    case v1::CHIEF_FINANCE_OFFICER:
      return "Chief Finance Officer";
    case v1::DIRECTOR:
      return "director";
    case v1::HEAD_OF_SERVICE:
      return "head of service";
    case v1::OFFICER:
      return "officer";
    case v1::POLITICAL_ASSISTANT:
      return "political assistant";
    default:
      return "unknown role";
  }
}

const char* BusinessName(v1::Business b) {
  switch (b) {
    case v1::COUNCIL_BUSINESS:
      return "council business";
    case v1::PARTY_POLITICAL_BUSINESS:
      return "party-political business";
    default:
      return "business not stated";
  }
}

const char* DeclineReasonName(v1::DeclineReason r) {
  switch (r) {
    case v1::PRE_ELECTION_PERIOD:
      return "pre-election period";
    case v1::PARTY_POLITICAL:
      return "party-political business";
    case v1::NON_MEMBERS_PRESENT:
      return "non-members present";
    case v1::RESOURCES:
      return "council resources";
    case v1::OFFICER_UNAVAILABLE:
      return "officer unavailable";
    case v1::OTHER:
      return "other reason";
    default:
      return "no reason given";
  }
}

}  // namespace

std::string ReportBuilder::Summarize(const Seen& s) const {
  const v1::Payload& p = *s.payload;
  std::string prefix = s.correction_position != 0 ? "(as corrected) " : "";
  if (s.correction_position != 0 && s.at != absl::FromUnixNanos(s.fact->occurred_at_nanos())) {
    prefix = absl::StrCat("(as corrected: it happened on ", Date(s.at), ") ");
  }
  // Cited as it stood before a correction withdrew it (Withdrawn()): not
  // "as corrected", which reads as if it still stood.
  if (bool withdrawn = false;
      s.correction_position != 0 && Resolve(*s.fact, &withdrawn) && withdrawn) {
    prefix = "(withdrawn by a correction) ";
  }
  auto names = [&](const auto& officer_ids) {
    std::vector<std::string> out;
    for (const std::string& id : officer_ids) out.push_back(OfficerName(id));
    return out.empty() ? std::string("no officer named") : absl::StrJoin(out, ", ");
  };
  // A political assistant's group: "Political assistant to Labour Group".
  auto served = [&](const std::string& group_id) {
    return group_id.empty() ? std::string() : absl::StrCat(" to ", GroupName(group_id));
  };
  switch (p.kind_case()) {
    case v1::Payload::kPoliticalGroupRecognised: {
      const auto& r = p.political_group_recognised();
      return absl::StrCat(prefix, r.name(), " recognised as a political group with ",
                          r.member_ids_size(), " councillors");
    }
    case v1::Payload::kPoliticalGroupDissolved:
      return absl::StrCat(prefix, GroupName(p.political_group_dissolved().group_id()),
                          " dissolved");
    case v1::Payload::kPreElectionPeriodDeclared: {
      const auto& e = p.pre_election_period_declared();
      return absl::StrCat(prefix, "Pre-election period declared (", e.description(), "): from ",
                          Date(FromProtoTime(e.starts_at())), " to election day ",
                          Date(FromProtoTime(e.election_day())));
    }
    case v1::Payload::kBriefingRequested: {
      const auto& r = p.briefing_requested();
      return absl::StrCat(
          prefix, GroupName(r.group_id()), " asked for a briefing on ",
          r.matter_id().empty() ? "a matter not named" : absl::StrCat("matter ", r.matter_id()),
          " (", MemberName(r.requested_by_member_id()), ", to ",
          OfficerName(r.routed_to_officer_id()), ")");
    }
    case v1::Payload::kBriefingApproved:
      return absl::StrCat(prefix, OfficerName(p.briefing_approved().approved_by_officer_id()),
                          " agreed briefing ", p.briefing_approved().briefing_id(), "; assigned ",
                          names(p.briefing_approved().assigned_officer_ids()));
    case v1::Payload::kBriefingDeclined:
      return absl::StrCat(prefix, OfficerName(p.briefing_declined().declined_by_officer_id()),
                          " declined briefing ", p.briefing_declined().briefing_id(), " (",
                          DeclineReasonName(p.briefing_declined().reason()), ")");
    case v1::Payload::kBriefingOffered: {
      const auto& o = p.briefing_offered();
      return absl::StrCat(
          prefix, OfficerName(o.offered_by_officer_id()), " offered ", GroupName(o.group_id()),
          " a briefing on ",
          o.matter_id().empty() ? "a matter not named" : absl::StrCat("matter ", o.matter_id()));
    }
    case v1::Payload::kBriefingOfferNotTakenUp:
      return absl::StrCat(prefix, GroupName(p.briefing_offer_not_taken_up().group_id()),
                          " did not take up offer ", p.briefing_offer_not_taken_up().offer_id());
    case v1::Payload::kBriefingDelivered: {
      const auto& d = p.briefing_delivered();
      return absl::StrCat(prefix, "Briefing ", d.briefing_id(), " given by ",
                          names(d.officer_ids()), ", ", d.duration_minutes(), " minutes, ",
                          BusinessName(d.business()), ", ", d.non_members_present(),
                          " non-members present");
    }
    case v1::Payload::kOfficerAttendedGroupMeeting: {
      const auto& m = p.officer_attended_group_meeting();
      std::string business = BusinessName(m.business());
      if (!m.agenda_items().empty()) {
        std::vector<std::string> items;
        for (const v1::AgendaItem& item : m.agenda_items()) {
          items.push_back(absl::StrCat("item ", item.item(), " ", BusinessName(item.business()),
                                       item.officer_present() ? "" : ", officer not present"));
        }
        business = absl::StrJoin(items, "; ");
      }
      return absl::StrCat(
          prefix, OfficerName(m.officer_id()), " attended a meeting of ", GroupName(m.group_id()),
          " (", business, "), agreed by ",
          m.approved_by_officer_id().empty() ? std::string("nobody")
                                             : OfficerName(m.approved_by_officer_id()));
    }
    case v1::Payload::kGroupInformationDisclosed: {
      const auto& d = p.group_information_disclosed();
      return absl::StrCat(
          prefix, OfficerName(d.disclosed_by_officer_id()), " passed what ",
          GroupName(d.from_group_id()), " discussed",
          d.meeting_id().empty() ? "" : " at its meeting", " to ",
          d.to_officer_id().empty() ? GroupName(d.to_group_id()) : OfficerName(d.to_officer_id()),
          d.agreed_by_originating_group() ? " with" : " without", " the group's agreement");
    }
    case v1::Payload::kBriefingRequestWithdrawn:
      return absl::StrCat(prefix, "Briefing request ", p.briefing_request_withdrawn().briefing_id(),
                          " withdrawn by ",
                          MemberName(p.briefing_request_withdrawn().withdrawn_by_member_id()));
    case v1::Payload::kWrittenQueryReceived: {
      const auto& q = p.written_query_received();
      // By its id: a query's subject can name a constituent's affairs or
      // another group's business, and a report is read widely.
      return absl::StrCat(prefix, "Written query ", q.query_id(), " from ",
                          MemberName(q.member_id()), " to ",
                          OfficerName(q.addressed_to_officer_id()));
    }
    case v1::Payload::kWrittenQueryAcknowledged:
      return absl::StrCat(prefix, OfficerName(p.written_query_acknowledged().officer_id()),
                          " acknowledged query ", p.written_query_acknowledged().query_id(),
                          ", reply promised by ",
                          Date(FromProtoTime(p.written_query_acknowledged().reply_due_at())));
    case v1::Payload::kWrittenQueryAnswered:
      return absl::StrCat(prefix, OfficerName(p.written_query_answered().officer_id()),
                          " answered query ", p.written_query_answered().query_id());
    case v1::Payload::kWrittenQueryTimescaleRevised:
      return absl::StrCat(prefix, OfficerName(p.written_query_timescale_revised().officer_id()),
                          " revised the timescale of query ",
                          p.written_query_timescale_revised().query_id(), " to ",
                          Date(FromProtoTime(p.written_query_timescale_revised().reply_due_at())));
    case v1::Payload::kComplaintRaised: {
      const auto& c = p.complaint_raised();
      auto who = [&](const v1::Party& party) {
        return party.has_member_id() ? MemberName(party.member_id())
                                     : OfficerName(party.officer_id());
      };
      return absl::StrCat(prefix, "Complaint by ", who(c.raised_by()), " about ", who(c.about()),
                          ", raised with ", OfficerName(c.raised_with_officer_id()));
    }
    case v1::Payload::kComplaintEscalated:
      return absl::StrCat(prefix, "Complaint ", p.complaint_escalated().complaint_id(),
                          " escalated to ",
                          OfficerName(p.complaint_escalated().escalated_to_officer_id()));
    case v1::Payload::kComplaintResolved:
      return absl::StrCat(prefix, "Complaint ", p.complaint_resolved().complaint_id(),
                          " resolved by ",
                          OfficerName(p.complaint_resolved().resolved_by_officer_id()));
    case v1::Payload::kComplaintReferredToStandardsCommittee:
      return absl::StrCat(
          prefix, "Complaint ", p.complaint_referred_to_standards_committee().complaint_id(),
          " referred to the standards committee by ",
          OfficerName(p.complaint_referred_to_standards_committee().referred_by_officer_id()));
    case v1::Payload::kRelationshipDeclared: {
      const auto& r = p.relationship_declared();
      return absl::StrCat(prefix, MemberName(r.member_id()), " declared a relationship with ",
                          OfficerName(r.officer_id()));
    }
    case v1::Payload::kMemberParticipatedInDecision: {
      const auto& d = p.member_participated_in_decision();
      return absl::StrCat(prefix, MemberName(d.member_id()), " took part in ", d.body(),
                          " decision ", d.decision_id(), " affecting ",
                          names(d.affected_officer_ids()));
    }
    case v1::Payload::kMemberRegistered:
      return absl::StrCat(prefix, MemberName(p.member_registered().member_id()),
                          " registered as a councillor");
    case v1::Payload::kMemberJoinedGroup:
      return absl::StrCat(prefix, MemberName(p.member_joined_group().member_id()), " joined ",
                          GroupName(p.member_joined_group().group_id()));
    case v1::Payload::kMemberLeftGroup:
      return absl::StrCat(prefix, MemberName(p.member_left_group().member_id()), " left ",
                          GroupName(p.member_left_group().group_id()));
    case v1::Payload::kOfficerRegistered:
      return absl::StrCat(prefix, OfficerName(p.officer_registered().officer_id()),
                          " registered as ", RoleName(p.officer_registered().role()),
                          served(p.officer_registered().group_id()));
    case v1::Payload::kOfficerRoleChanged:
      return absl::StrCat(prefix, OfficerName(p.officer_role_changed().officer_id()), " became ",
                          RoleName(p.officer_role_changed().role()),
                          served(p.officer_role_changed().group_id()));
    case v1::Payload::kOfficerLeft:
      return absl::StrCat(prefix, OfficerName(p.officer_left().officer_id()), " left");
    case v1::Payload::kApprovalDelegated:
      return absl::StrCat(prefix, OfficerName(p.approval_delegated().delegated_by_officer_id()),
                          " delegated approval of briefings to ",
                          OfficerName(p.approval_delegated().delegate_officer_id()));
    case v1::Payload::kApprovalDelegationRevoked:
      return absl::StrCat(prefix, "Delegation to ",
                          OfficerName(p.approval_delegation_revoked().delegate_officer_id()),
                          " revoked");
    case v1::Payload::kEventCorrected:
    case v1::Payload::kAccessRecorded:
    case v1::Payload::KIND_NOT_SET:
      break;
  }
  return absl::StrCat(prefix, "event at position ", s.position);
}

}  // namespace evenhand::projections::internal
