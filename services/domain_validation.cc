#include "services/domain_validation.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/error_details.h"
#include "base/status_macros.h"
#include "projections/fairness_projection.h"

namespace evenhand::services {
namespace {

// "a MemberRegistered", "an OfficerRegistered", "an event".
std::string WithArticle(absl::string_view noun) {
  const bool vowel = !noun.empty() && absl::StrContains("AEIOUaeiou", noun.front());
  return absl::StrCat(vowel ? "an " : "a ", noun);
}

// Opening events start a case; they must be the first event of its stream.
bool IsOpening(const v1::Payload& p) {
  switch (p.kind_case()) {
    case v1::Payload::kPoliticalGroupRecognised:
    case v1::Payload::kMemberRegistered:
    case v1::Payload::kOfficerRegistered:
    case v1::Payload::kPreElectionPeriodDeclared:
    case v1::Payload::kBriefingRequested:
    case v1::Payload::kBriefingOffered:
    case v1::Payload::kWrittenQueryReceived:
    case v1::Payload::kComplaintRaised:
      return true;
    default:
      return false;
  }
}

// Events that may start a stream without an opening event: each officer's
// attendance at a meeting is recorded on its own, in any order.
bool MayStartStream(const v1::Payload& p) {
  return p.kind_case() == v1::Payload::kOfficerAttendedGroupMeeting;
}

const char* OpeningEventOf(const std::string& stream_id) {
  using projections::CaseKind;
  switch (projections::KindOfStream(stream_id, nullptr)) {
    case CaseKind::kGroup:
      return "PoliticalGroupRecognised";
    case CaseKind::kMember:
      return "MemberRegistered";
    case CaseKind::kOfficer:
      return "OfficerRegistered";
    case CaseKind::kElection:
      return "PreElectionPeriodDeclared";
    case CaseKind::kBriefing:
      return "BriefingRequested or BriefingOffered";
    case CaseKind::kQuery:
      return "WrittenQueryReceived";
    case CaseKind::kComplaint:
      return "ComplaintRaised";
    default:
      return "its opening event";
  }
}

// Checks one payload's fields, naming each as a path from the request.
class PayloadChecker {
 public:
  PayloadChecker(const storage::EventStore* store, std::string path,
                 const std::string& append_stream, bool batch_opens_stream)
      : store_(store),
        path_(std::move(path)),
        append_stream_(append_stream),
        batch_opens_stream_(batch_opens_stream) {}

  absl::Status Check(const v1::Payload& p);

 private:
  absl::Status Fail(const std::string& field, const std::string& problem) const {
    return InvalidFieldError(absl::StrCat(path_, ".", field), problem);
  }

  absl::Status Required(const std::string& field, const std::string& value) const {
    if (value.empty()) return Fail(field, "required");
    return absl::OkStatus();
  }

  // A known id: its stream exists (or is this very append's, opened by it).
  absl::Status Known(const std::string& field, const std::string& id, const char* prefix,
                     const char* what, const char* record_first) const {
    if (id.empty()) return Fail(field, "required");
    const std::string stream = absl::StrCat(prefix, id);
    if (stream == append_stream_ && batch_opens_stream_) return absl::OkStatus();
    absl::StatusOr<bool> exists = store_->StreamExists(stream);
    if (!exists.ok()) return exists.status();
    if (!*exists) {
      // A reference to what is not recorded yet: a program (an import, say)
      // can tell it from other refusals and record the other stream first.
      return WithErrorInfo(
          Fail(field, absl::StrCat("unknown ", what, " \"", id, "\" (stream \"", stream,
                                   "\" has no events); record its ", record_first, " first")),
          "UNKNOWN_REFERENCE", {{"field", absl::StrCat(path_, ".", field)}, {"stream", stream}});
    }
    return absl::OkStatus();
  }
  absl::Status KnownIfSet(const std::string& field, const std::string& id, const char* prefix,
                          const char* what, const char* record_first) const {
    return id.empty() ? absl::OkStatus() : Known(field, id, prefix, what, record_first);
  }

  absl::Status Group(const std::string& field, const std::string& id) const {
    return Known(field, id, "group-", "political group", "PoliticalGroupRecognised");
  }
  absl::Status Member(const std::string& field, const std::string& id) const {
    return Known(field, id, "member-", "councillor", "MemberRegistered");
  }
  absl::Status Officer(const std::string& field, const std::string& id) const {
    return Known(field, id, "officer-", "officer", "OfficerRegistered");
  }
  // A political assistant names the group it serves; no other officer serves
  // a group (Harrow 5.1 "apart from group office staff": the exemption the
  // approval rule gives them holds only at their own group's meetings).
  absl::Status ServedGroup(const std::string& message, v1::OfficerRole role,
                           const std::string& group_id) const {
    const std::string field = absl::StrCat(message, ".group_id");
    if (role == v1::POLITICAL_ASSISTANT) {
      if (group_id.empty()) {
        return Fail(field, "required for a POLITICAL_ASSISTANT: the political group it serves");
      }
      return Group(field, group_id);
    }
    if (!group_id.empty()) {
      return Fail(field,
                  "only a POLITICAL_ASSISTANT serves a group; other officers serve the "
                  "whole council, so leave it empty");
    }
    return absl::OkStatus();
  }
  absl::Status OfficerIfSet(const std::string& field, const std::string& id) const {
    return id.empty() ? absl::OkStatus() : Officer(field, id);
  }
  template <typename Ids>
  absl::Status Officers(const std::string& field, const Ids& ids) const {
    for (int i = 0; i < ids.size(); ++i) {
      EH_RETURN_IF_ERROR(Officer(absl::StrCat(field, "[", i, "]"), ids.Get(i)));
    }
    return absl::OkStatus();
  }
  absl::Status Briefing(const std::string& field, const std::string& id) const {
    return Known(field, id, "briefing-", "briefing", "BriefingRequested or BriefingOffered");
  }
  absl::Status Party(const std::string& field, const v1::Party& party) const {
    if (party.has_member_id()) return Member(absl::StrCat(field, ".member_id"), party.member_id());
    if (party.has_officer_id()) {
      return Officer(absl::StrCat(field, ".officer_id"), party.officer_id());
    }
    return Fail(field, "required: a member_id or an officer_id");
  }
  absl::Status Minutes(const std::string& field, int32_t minutes) const {
    if (minutes < 0 || minutes > 24 * 60) return Fail(field, "must be 0 to 1440 minutes");
    return absl::OkStatus();
  }
  absl::Status Business(const std::string& field, v1::Business business) const {
    if (business == v1::BUSINESS_UNSPECIFIED) {
      return Fail(field, "required: COUNCIL_BUSINESS or PARTY_POLITICAL_BUSINESS");
    }
    return absl::OkStatus();
  }

  const storage::EventStore* store_;
  const std::string path_;
  const std::string& append_stream_;
  const bool batch_opens_stream_;
};

absl::Status PayloadChecker::Check(const v1::Payload& p) {
  switch (p.kind_case()) {
    case v1::Payload::kPoliticalGroupRecognised: {
      const auto& r = p.political_group_recognised();
      EH_RETURN_IF_ERROR(Required("political_group_recognised.group_id", r.group_id()));
      EH_RETURN_IF_ERROR(Required("political_group_recognised.name", r.name()));
      if (r.member_ids_size() < 2) {
        return Fail("political_group_recognised.member_ids",
                    absl::StrCat("a political group is two or more councillors (Harlow 2.3); "
                                 "got ",
                                 r.member_ids_size()));
      }
      for (int i = 0; i < r.member_ids_size(); ++i) {
        EH_RETURN_IF_ERROR(Member(absl::StrCat("political_group_recognised.member_ids[", i, "]"),
                                  r.member_ids(i)));
      }
      if (!r.leader_member_id().empty() &&
          std::find(r.member_ids().begin(), r.member_ids().end(), r.leader_member_id()) ==
              r.member_ids().end()) {
        return Fail("political_group_recognised.leader_member_id",
                    "the leader must be one of member_ids");
      }
      return absl::OkStatus();
    }
    case v1::Payload::kPoliticalGroupDissolved:
      return Group("political_group_dissolved.group_id", p.political_group_dissolved().group_id());
    case v1::Payload::kMemberRegistered:
      EH_RETURN_IF_ERROR(
          Required("member_registered.member_id", p.member_registered().member_id()));
      return Required("member_registered.name", p.member_registered().name());
    case v1::Payload::kMemberJoinedGroup:
      EH_RETURN_IF_ERROR(
          Member("member_joined_group.member_id", p.member_joined_group().member_id()));
      return Group("member_joined_group.group_id", p.member_joined_group().group_id());
    case v1::Payload::kMemberLeftGroup:
      EH_RETURN_IF_ERROR(Member("member_left_group.member_id", p.member_left_group().member_id()));
      return Group("member_left_group.group_id", p.member_left_group().group_id());
    case v1::Payload::kOfficerRegistered: {
      const auto& r = p.officer_registered();
      EH_RETURN_IF_ERROR(Required("officer_registered.officer_id", r.officer_id()));
      EH_RETURN_IF_ERROR(Required("officer_registered.name", r.name()));
      if (r.role() == v1::OFFICER_ROLE_UNSPECIFIED) {
        return Fail("officer_registered.role", "required, e.g. HEAD_OF_PAID_SERVICE or DIRECTOR");
      }
      EH_RETURN_IF_ERROR(ServedGroup("officer_registered", r.role(), r.group_id()));
      if (!r.director_officer_id().empty() && r.director_officer_id() == r.officer_id()) {
        return Fail("officer_registered.director_officer_id",
                    "is the officer itself: give the Director the officer reports to, or none");
      }
      return OfficerIfSet("officer_registered.director_officer_id", r.director_officer_id());
    }
    case v1::Payload::kOfficerRoleChanged: {
      const auto& r = p.officer_role_changed();
      EH_RETURN_IF_ERROR(Officer("officer_role_changed.officer_id", r.officer_id()));
      if (r.role() == v1::OFFICER_ROLE_UNSPECIFIED) {
        return Fail("officer_role_changed.role", "required");
      }
      return ServedGroup("officer_role_changed", r.role(), r.group_id());
    }
    case v1::Payload::kOfficerLeft:
      return Officer("officer_left.officer_id", p.officer_left().officer_id());
    case v1::Payload::kApprovalDelegated:
      EH_RETURN_IF_ERROR(Officer("approval_delegated.delegate_officer_id",
                                 p.approval_delegated().delegate_officer_id()));
      return Officer("approval_delegated.delegated_by_officer_id",
                     p.approval_delegated().delegated_by_officer_id());
    case v1::Payload::kApprovalDelegationRevoked:
      EH_RETURN_IF_ERROR(Officer("approval_delegation_revoked.delegate_officer_id",
                                 p.approval_delegation_revoked().delegate_officer_id()));
      return Officer("approval_delegation_revoked.revoked_by_officer_id",
                     p.approval_delegation_revoked().revoked_by_officer_id());
    case v1::Payload::kPreElectionPeriodDeclared: {
      const auto& e = p.pre_election_period_declared();
      EH_RETURN_IF_ERROR(Required("pre_election_period_declared.period_id", e.period_id()));
      if (!e.has_starts_at()) return Fail("pre_election_period_declared.starts_at", "required");
      if (!e.has_election_day()) {
        return Fail("pre_election_period_declared.election_day", "required");
      }
      if (e.election_day().seconds() < e.starts_at().seconds()) {
        return Fail("pre_election_period_declared.election_day", "is before starts_at");
      }
      return absl::OkStatus();
    }
    case v1::Payload::kBriefingRequested: {
      const auto& r = p.briefing_requested();
      EH_RETURN_IF_ERROR(Required("briefing_requested.briefing_id", r.briefing_id()));
      EH_RETURN_IF_ERROR(Group("briefing_requested.group_id", r.group_id()));
      EH_RETURN_IF_ERROR(
          Member("briefing_requested.requested_by_member_id", r.requested_by_member_id()));
      EH_RETURN_IF_ERROR(Required("briefing_requested.topic", r.topic()));
      EH_RETURN_IF_ERROR(Required("briefing_requested.matter_id", r.matter_id()));
      // Harlow 15.3: the request is made to the Chief Executive.
      EH_RETURN_IF_ERROR(
          Officer("briefing_requested.routed_to_officer_id", r.routed_to_officer_id()));
      EH_RETURN_IF_ERROR(
          Officers("briefing_requested.invited_officer_ids", r.invited_officer_ids()));
      if (!r.in_response_to_offer_id().empty()) {
        EH_RETURN_IF_ERROR(
            Briefing("briefing_requested.in_response_to_offer_id", r.in_response_to_offer_id()));
      }
      return absl::OkStatus();
    }
    case v1::Payload::kBriefingApproved:
      EH_RETURN_IF_ERROR(Officer("briefing_approved.approved_by_officer_id",
                                 p.briefing_approved().approved_by_officer_id()));
      return Officers("briefing_approved.assigned_officer_ids",
                      p.briefing_approved().assigned_officer_ids());
    case v1::Payload::kBriefingDeclined:
      EH_RETURN_IF_ERROR(Officer("briefing_declined.declined_by_officer_id",
                                 p.briefing_declined().declined_by_officer_id()));
      if (p.briefing_declined().reason() == v1::DECLINE_REASON_UNSPECIFIED) {
        return Fail("briefing_declined.reason", "required, e.g. PRE_ELECTION_PERIOD or OTHER");
      }
      return absl::OkStatus();
    case v1::Payload::kBriefingOffered: {
      const auto& o = p.briefing_offered();
      EH_RETURN_IF_ERROR(Required("briefing_offered.offer_id", o.offer_id()));
      EH_RETURN_IF_ERROR(Group("briefing_offered.group_id", o.group_id()));
      EH_RETURN_IF_ERROR(Required("briefing_offered.matter_id", o.matter_id()));
      EH_RETURN_IF_ERROR(Required("briefing_offered.topic", o.topic()));
      EH_RETURN_IF_ERROR(
          Officer("briefing_offered.offered_by_officer_id", o.offered_by_officer_id()));
      if (!o.prompted_by_briefing_id().empty()) {
        EH_RETURN_IF_ERROR(
            Briefing("briefing_offered.prompted_by_briefing_id", o.prompted_by_briefing_id()));
      }
      return absl::OkStatus();
    }
    case v1::Payload::kBriefingDelivered: {
      const auto& d = p.briefing_delivered();
      if (d.officer_ids().empty()) {
        return Fail("briefing_delivered.officer_ids", "required: at least one officer");
      }
      EH_RETURN_IF_ERROR(Officers("briefing_delivered.officer_ids", d.officer_ids()));
      EH_RETURN_IF_ERROR(Minutes("briefing_delivered.duration_minutes", d.duration_minutes()));
      EH_RETURN_IF_ERROR(Business("briefing_delivered.business", d.business()));
      if (d.non_members_present() < 0) {
        return Fail("briefing_delivered.non_members_present", "cannot be negative");
      }
      return absl::OkStatus();
    }
    case v1::Payload::kBriefingOfferNotTakenUp:
      return Group("briefing_offer_not_taken_up.group_id",
                   p.briefing_offer_not_taken_up().group_id());
    case v1::Payload::kBriefingRequestWithdrawn:
      return Member("briefing_request_withdrawn.withdrawn_by_member_id",
                    p.briefing_request_withdrawn().withdrawn_by_member_id());
    case v1::Payload::kOfficerAttendedGroupMeeting: {
      const auto& a = p.officer_attended_group_meeting();
      EH_RETURN_IF_ERROR(Required("officer_attended_group_meeting.meeting_id", a.meeting_id()));
      EH_RETURN_IF_ERROR(Group("officer_attended_group_meeting.group_id", a.group_id()));
      EH_RETURN_IF_ERROR(Officer("officer_attended_group_meeting.officer_id", a.officer_id()));
      EH_RETURN_IF_ERROR(OfficerIfSet("officer_attended_group_meeting.approved_by_officer_id",
                                      a.approved_by_officer_id()));
      if (a.agenda_items_size() == 0) {
        EH_RETURN_IF_ERROR(Business("officer_attended_group_meeting.business", a.business()));
      } else {
        if (a.business() != v1::BUSINESS_UNSPECIFIED ||
            a.content() != v1::BRIEFING_CONTENT_UNSPECIFIED || a.non_members_present() != 0) {
          return Fail("officer_attended_group_meeting.business",
                      "with agenda_items, give business, content and non_members_present for "
                      "each item, not for the whole meeting");
        }
        std::vector<std::string> seen;
        for (int i = 0; i < a.agenda_items_size(); ++i) {
          const v1::AgendaItem& item = a.agenda_items(i);
          const std::string at = absl::StrCat("officer_attended_group_meeting.agenda_items[", i, "]");
          EH_RETURN_IF_ERROR(Required(absl::StrCat(at, ".item"), item.item()));
          if (std::find(seen.begin(), seen.end(), item.item()) != seen.end()) {
            return Fail(absl::StrCat(at, ".item"),
                        absl::StrCat("\"", item.item(), "\" is on the agenda twice"));
          }
          seen.push_back(item.item());
          EH_RETURN_IF_ERROR(Business(absl::StrCat(at, ".business"), item.business()));
          if (item.non_members_present() < 0) {
            return Fail(absl::StrCat(at, ".non_members_present"), "cannot be negative");
          }
        }
      }
      EH_RETURN_IF_ERROR(
          Minutes("officer_attended_group_meeting.duration_minutes", a.duration_minutes()));
      if (a.non_members_present() < 0) {
        return Fail("officer_attended_group_meeting.non_members_present", "cannot be negative");
      }
      if (!a.briefing_id().empty()) {
        EH_RETURN_IF_ERROR(Briefing("officer_attended_group_meeting.briefing_id", a.briefing_id()));
      }
      return absl::OkStatus();
    }
    case v1::Payload::kGroupInformationDisclosed: {
      const auto& d = p.group_information_disclosed();
      if (d.briefing_id().empty() == d.meeting_id().empty()) {
        return Fail("group_information_disclosed.briefing_id",
                    "give the briefing or the group meeting (meeting_id) where it was said, "
                    "exactly one");
      }
      EH_RETURN_IF_ERROR(Group("group_information_disclosed.from_group_id", d.from_group_id()));
      if (!d.to_group_id().empty()) {
        if (!d.to_officer_id().empty()) {
          return Fail("group_information_disclosed.to_officer_id",
                      "give the group it reached (to_group_id) or the officer (to_officer_id), "
                      "not both");
        }
        EH_RETURN_IF_ERROR(Group("group_information_disclosed.to_group_id", d.to_group_id()));
        if (d.to_group_id() == d.from_group_id()) {
          return Fail("group_information_disclosed.to_group_id",
                      "is the group it came from (from_group_id): passing a group's discussion "
                      "to itself discloses nothing; give the group or officer it reached");
        }
      }
      if (!d.to_officer_id().empty()) {
        EH_RETURN_IF_ERROR(Officer("group_information_disclosed.to_officer_id", d.to_officer_id()));
        if (d.to_officer_id() == d.disclosed_by_officer_id()) {
          return Fail("group_information_disclosed.to_officer_id",
                      "is the officer who disclosed it (disclosed_by_officer_id): give the "
                      "group or officer it reached");
        }
      }
      return Officer("group_information_disclosed.disclosed_by_officer_id",
                     d.disclosed_by_officer_id());
    }
    case v1::Payload::kWrittenQueryReceived: {
      const auto& q = p.written_query_received();
      EH_RETURN_IF_ERROR(Required("written_query_received.query_id", q.query_id()));
      EH_RETURN_IF_ERROR(Member("written_query_received.member_id", q.member_id()));
      return Officer("written_query_received.addressed_to_officer_id", q.addressed_to_officer_id());
    }
    case v1::Payload::kWrittenQueryAcknowledged:
      EH_RETURN_IF_ERROR(Officer("written_query_acknowledged.officer_id",
                                 p.written_query_acknowledged().officer_id()));
      if (!p.written_query_acknowledged().has_reply_due_at()) {
        return Fail("written_query_acknowledged.reply_due_at",
                    "required: an acknowledgement sets out when the reply will come (Harlow 6.6)");
      }
      return absl::OkStatus();
    case v1::Payload::kWrittenQueryAnswered:
      return Officer("written_query_answered.officer_id", p.written_query_answered().officer_id());
    case v1::Payload::kWrittenQueryTimescaleRevised:
      EH_RETURN_IF_ERROR(Officer("written_query_timescale_revised.officer_id",
                                 p.written_query_timescale_revised().officer_id()));
      if (!p.written_query_timescale_revised().has_reply_due_at()) {
        return Fail("written_query_timescale_revised.reply_due_at", "required");
      }
      return absl::OkStatus();
    case v1::Payload::kComplaintRaised: {
      const auto& c = p.complaint_raised();
      EH_RETURN_IF_ERROR(Required("complaint_raised.complaint_id", c.complaint_id()));
      EH_RETURN_IF_ERROR(Party("complaint_raised.raised_by", c.raised_by()));
      EH_RETURN_IF_ERROR(Party("complaint_raised.about", c.about()));
      if (!c.raised_with_member_id().empty()) {
        if (!c.raised_with_officer_id().empty()) {
          return Fail("complaint_raised.raised_with_member_id",
                      "give either raised_with_officer_id or raised_with_member_id (the Leader, "
                      "Harlow 12.5), not both");
        }
        return Member("complaint_raised.raised_with_member_id", c.raised_with_member_id());
      }
      return Officer("complaint_raised.raised_with_officer_id", c.raised_with_officer_id());
    }
    case v1::Payload::kComplaintEscalated:
      return Officer("complaint_escalated.escalated_to_officer_id",
                     p.complaint_escalated().escalated_to_officer_id());
    case v1::Payload::kComplaintResolved:
      return Officer("complaint_resolved.resolved_by_officer_id",
                     p.complaint_resolved().resolved_by_officer_id());
    case v1::Payload::kComplaintReferredToStandardsCommittee:
      return Officer("complaint_referred_to_standards_committee.referred_by_officer_id",
                     p.complaint_referred_to_standards_committee().referred_by_officer_id());
    case v1::Payload::kRelationshipDeclared: {
      const auto& r = p.relationship_declared();
      EH_RETURN_IF_ERROR(Officer("relationship_declared.officer_id", r.officer_id()));
      EH_RETURN_IF_ERROR(Required("relationship_declared.nature", r.nature()));
      return OfficerIfSet("relationship_declared.declared_to_officer_id",
                          r.declared_to_officer_id());
    }
    case v1::Payload::kMemberParticipatedInDecision: {
      const auto& d = p.member_participated_in_decision();
      EH_RETURN_IF_ERROR(Required("member_participated_in_decision.decision_id", d.decision_id()));
      return Officers("member_participated_in_decision.affected_officer_ids",
                      d.affected_officer_ids());
    }
    case v1::Payload::kAccessRecorded:
      return Fail("access_recorded",
                  "is the server's own record of who read the log; nobody appends it");
    case v1::Payload::kEventCorrected:
    case v1::Payload::KIND_NOT_SET:
      break;
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status DomainValidator::Validate(const std::string& stream_id, std::vector<v1::Event>* events,
                                       storage::ExpectedRevision* expected) const {
  if (events->empty()) return absl::OkStatus();
  const bool opens = IsOpening(events->front().payload());
  for (size_t i = 0; i < events->size(); ++i) {
    v1::Event& e = (*events)[i];
    const std::string path = absl::StrCat("events[", i, "].payload");
    v1::Payload& p = *e.mutable_payload();
    if (p.has_event_corrected()) {
      v1::EventCorrected& c = *p.mutable_event_corrected();
      const std::string field = absl::StrCat(path, ".event_corrected");
      if (c.corrected_event_id().empty()) {
        return InvalidFieldError(absl::StrCat(field, ".corrected_event_id"), "required");
      }
      absl::StatusOr<storage::EventPtr> original = store_->ReadByEventId(c.corrected_event_id());
      if (!original.ok()) {
        return InvalidFieldError(
            absl::StrCat(field, ".corrected_event_id"),
            absl::StrCat(original.status().message(), "; only recorded events can be corrected"));
      }
      const v1::Event& o = (*original)->event();
      if (o.stream_id() != stream_id) {
        return InvalidFieldError(
            absl::StrCat(field, ".corrected_event_id"),
            absl::StrCat("the event is in stream \"", o.stream_id(),
                         "\"; a correction goes in the stream of the event it corrects"));
      }
      if (o.payload().has_access_recorded()) {
        return InvalidFieldError(absl::StrCat(field, ".corrected_event_id"),
                                 "names the server's record of a read; access records cannot be "
                                 "corrected or withdrawn");
      }
      if (o.payload().has_event_corrected()) {
        return InvalidFieldError(absl::StrCat(field, ".corrected_event_id"),
                                 "names a correction; correct the original event instead");
      }
      if (c.has_replacement()) {
        const v1::Payload& r = c.replacement();
        if (r.kind_case() != o.payload().kind_case()) {
          return InvalidFieldError(
              absl::StrCat(field, ".replacement"),
              absl::StrCat("must be the same type of event as the one corrected (", o.type(), ")"));
        }
        if (projections::CanonicalStream(r) != stream_id) {
          return InvalidFieldError(absl::StrCat(field, ".replacement"),
                                   "names another case; a correction changes facts, not which "
                                   "case they belong to");
        }
        PayloadChecker checker(store_, absl::StrCat(field, ".replacement"), stream_id, opens);
        EH_RETURN_IF_ERROR(checker.Check(r));
      }
      c.set_corrected_position((*original)->position());
      continue;
    }
    const std::string canonical = projections::CanonicalStream(p);
    // (A canonical stream ending in '-' lacks its id: the checker says so.)
    if (canonical != stream_id && canonical.back() != '-') {
      return InvalidFieldError(
          absl::StrCat("events[", i, "]"),
          absl::StrCat(WithArticle(e.type().empty() ? "event" : e.type()), " belongs in stream \"",
                       canonical, "\", not \"", stream_id, "\" (one stream per case)"),
          "WRONG_STREAM");
    }
    if (IsOpening(p) && i > 0) {
      return InvalidFieldError(absl::StrCat("events[", i, "]"),
                               absl::StrCat(WithArticle(e.type()),
                                            " opens its case and must be the first event of "
                                            "stream \"",
                                            stream_id, "\""));
    }
    PayloadChecker checker(store_, path, stream_id, opens);
    EH_RETURN_IF_ERROR(checker.Check(p));
    if (canonical != stream_id) {
      return InvalidFieldError(
          absl::StrCat("events[", i, "]"),
          absl::StrCat("belongs in stream \"", canonical, "\", not \"", stream_id, "\""),
          "WRONG_STREAM");
    }
  }
  if (opens) {
    // Two systems opening the same case: only one may win. An expected
    // revision that says the stream exists contradicts opening it: taken as
    // given, it would let a case be opened twice.
    switch (expected->kind) {
      case storage::ExpectedRevision::Kind::kAny:
        *expected = storage::ExpectedRevision::NoStream();
        break;
      case storage::ExpectedRevision::Kind::kNoStream:
        break;
      case storage::ExpectedRevision::Kind::kStreamExists:
      case storage::ExpectedRevision::Kind::kExact:
        return InvalidFieldError(
            expected->kind == storage::ExpectedRevision::Kind::kExact ? "exact_revision"
                                                                      : "expected_state",
            absl::StrCat(WithArticle(events->front().type()),
                         " opens its case, so its stream must not exist yet: send NO_STREAM "
                         "(or no expected revision)"),
            "OPENING_EXPECTS_NO_STREAM");
    }
    return absl::OkStatus();
  }
  if (!MayStartStream(events->front().payload())) {
    absl::StatusOr<bool> exists = store_->StreamExists(stream_id);
    if (!exists.ok()) return exists.status();
    if (!*exists) {
      return InvalidFieldError(
          "events[0]",
          absl::StrCat("stream \"", stream_id, "\" has no events, so this case is unknown; record ",
                       OpeningEventOf(stream_id), " first"),
          "UNKNOWN_CASE");
    }
  }
  return absl::OkStatus();
}

absl::Status PrepareAppend(const AppendLimits& limits, const DomainValidator* validator,
                           absl::Time now, const std::string& stream_id,
                           std::vector<v1::Event>* events, storage::ExpectedRevision* expected) {
  // The stream id first, as the store would check it: a refusal that names
  // it (WRONG_STREAM) must not echo 3,000 characters, twice, past what a
  // client takes in a status (outside probe: RESOURCE_EXHAUSTED instead).
  EH_RETURN_IF_ERROR(storage::CheckStreamId(stream_id));
  EH_RETURN_IF_ERROR(PrepareEvents(limits, now, events));
  if (validator != nullptr) EH_RETURN_IF_ERROR(validator->Validate(stream_id, events, expected));
  return absl::OkStatus();
}

}  // namespace evenhand::services
