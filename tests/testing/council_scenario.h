// CouncilScenario: a small council and a script of what happened, folded
// straight into a FairnessProjection (no server), for the rule tests.
//
// The council: Labour (3 councillors), Conservative (2), Green (2); a Head of
// Paid Service, a Monitoring Officer, a Chief Finance Officer, a director, a
// head of service, an officer and a political assistant.
#ifndef EVENHAND_TESTS_TESTING_COUNCIL_SCENARIO_H_
#define EVENHAND_TESTS_TESTING_COUNCIL_SCENARIO_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "base/time_util.h"
#include "base/uuid.h"
#include "evenhand/v1/fairness.pb.h"
#include "evenhand/v1/log.pb.h"
#include "gtest/gtest.h"
#include "projections/fairness_projection.h"
#include "projections/working_day_calendar.h"

#ifndef EVENHAND_BANK_HOLIDAYS
#error "EVENHAND_BANK_HOLIDAYS must name the bank holiday file"
#endif

namespace evenhand::testing {

// A UK local time.
inline absl::Time At(int y, int m, int d, int hh = 10, int mm = 0) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, hh, mm, 0), UkTimeZone());
}

inline google::protobuf::Timestamp Proto(absl::Time t) { return ToProtoTime(t); }

class CouncilScenario {
 public:
  CouncilScenario() {
    auto calendar = projections::WorkingDayCalendar::LoadFile(EVENHAND_BANK_HOLIDAYS);
    EXPECT_TRUE(calendar.ok()) << calendar.status();
    calendar_.emplace(*std::move(calendar));
    const absl::Time start = At(2025, 5, 1, 9);
    for (const char* m : {"lab-1", "lab-2", "lab-3", "con-1", "con-2", "grn-1", "grn-2", "ind-1"}) {
      v1::Payload p;
      p.mutable_member_registered()->set_member_id(m);
      p.mutable_member_registered()->set_name(absl::StrCat("Cllr ", m));
      Add(start, p);
    }
    RecogniseGroup(start, "labour", "Labour Group", {"lab-1", "lab-2", "lab-3"});
    RecogniseGroup(start, "conservative", "Conservative Group", {"con-1", "con-2"});
    RecogniseGroup(start, "green", "Green Group", {"grn-1", "grn-2"});
    RegisterOfficer(start, "ceo", "Chief Executive", v1::HEAD_OF_PAID_SERVICE);
    RegisterOfficer(start, "mo", "Monitoring Officer", v1::MONITORING_OFFICER);
    RegisterOfficer(start, "cfo", "Chief Finance Officer", v1::CHIEF_FINANCE_OFFICER);
    RegisterOfficer(start, "dir", "Director of Place", v1::DIRECTOR);
    RegisterOfficer(start, "dir2", "Director of People", v1::DIRECTOR);
    RegisterOfficer(start, "hos", "Head of Planning", v1::HEAD_OF_SERVICE, "", "dir");
    RegisterOfficer(start, "off", "Planning Officer", v1::OFFICER, "", "dir");
    RegisterOfficer(start, "pa", "Labour Group Assistant", v1::POLITICAL_ASSISTANT, "labour");
  }

  // ---- Recording ----------------------------------------------------------

  // Records `payload` as happening at `at`, in its canonical stream; returns
  // its position. Events are recorded when they happened.
  uint64_t Add(absl::Time at, v1::Payload payload, std::string stream = "") {
    if (stream.empty()) stream = projections::CanonicalStream(payload);
    v1::RecordedEvent e;
    e.set_position(events_.size() + 1);
    e.mutable_event()->set_event_id(NewUuid());
    e.mutable_event()->set_stream_id(stream);
    *e.mutable_event()->mutable_occurred_at() = Proto(at);
    *e.mutable_event()->mutable_recorded_at() = Proto(std::max(at, last_recorded_));
    last_recorded_ = std::max(at, last_recorded_);
    *e.mutable_event()->mutable_payload() = std::move(payload);
    events_.push_back(e);
    projection_.Apply(e);
    return e.position();
  }

  // Corrects the event at `position` (nullopt withdraws it).
  uint64_t Correct(absl::Time at, uint64_t position, std::optional<v1::Payload> replacement) {
    v1::Payload p;
    auto* c = p.mutable_event_corrected();
    const v1::RecordedEvent& original = events_[position - 1];
    c->set_corrected_event_id(original.event().event_id());
    c->set_corrected_position(position);
    c->set_reason("test correction");
    if (replacement) *c->mutable_replacement() = *replacement;
    return Add(at, p, original.event().stream_id());
  }

  // Corrects when the event at `position` happened (and, with
  // `replacement`, what it said).
  uint64_t CorrectWhen(absl::Time at, uint64_t position, absl::Time really,
                       std::optional<v1::Payload> replacement = std::nullopt) {
    v1::Payload p;
    auto* c = p.mutable_event_corrected();
    const v1::RecordedEvent& original = events_[position - 1];
    c->set_corrected_event_id(original.event().event_id());
    c->set_corrected_position(position);
    c->set_reason("recorded with the wrong date");
    *c->mutable_replacement_occurred_at() = Proto(really);
    if (replacement) *c->mutable_replacement() = *replacement;
    return Add(at, p, original.event().stream_id());
  }

  uint64_t RecogniseGroup(absl::Time at, const std::string& id, const std::string& name,
                          std::vector<std::string> members) {
    v1::Payload p;
    auto* r = p.mutable_political_group_recognised();
    r->set_group_id(id);
    r->set_name(name);
    for (auto& m : members) r->add_member_ids(m);
    return Add(at, p);
  }

  uint64_t RegisterOfficer(absl::Time at, const std::string& id, const std::string& name,
                           v1::OfficerRole role, const std::string& group = "",
                           const std::string& director = "") {
    v1::Payload p;
    p.mutable_officer_registered()->set_officer_id(id);
    p.mutable_officer_registered()->set_name(name);
    p.mutable_officer_registered()->set_role(role);
    p.mutable_officer_registered()->set_group_id(group);
    p.mutable_officer_registered()->set_director_officer_id(director);
    return Add(at, p);
  }

  uint64_t Dissolve(absl::Time at, const std::string& group) {
    v1::Payload p;
    p.mutable_political_group_dissolved()->set_group_id(group);
    p.mutable_political_group_dissolved()->set_reason("fewer than two councillors");
    return Add(at, p);
  }

  uint64_t Join(absl::Time at, const std::string& member, const std::string& group) {
    v1::Payload p;
    p.mutable_member_joined_group()->set_member_id(member);
    p.mutable_member_joined_group()->set_group_id(group);
    return Add(at, p);
  }

  uint64_t Leave(absl::Time at, const std::string& member, const std::string& group) {
    v1::Payload p;
    p.mutable_member_left_group()->set_member_id(member);
    p.mutable_member_left_group()->set_group_id(group);
    return Add(at, p);
  }

  uint64_t Delegate(absl::Time at, const std::string& delegate, const std::string& by) {
    v1::Payload p;
    p.mutable_approval_delegated()->set_delegate_officer_id(delegate);
    p.mutable_approval_delegated()->set_delegated_by_officer_id(by);
    return Add(at, p);
  }

  uint64_t Revoke(absl::Time at, const std::string& delegate, const std::string& by) {
    v1::Payload p;
    p.mutable_approval_delegation_revoked()->set_delegate_officer_id(delegate);
    p.mutable_approval_delegation_revoked()->set_revoked_by_officer_id(by);
    return Add(at, p);
  }

  uint64_t PreElection(absl::Time declared, absl::Time starts, absl::Time election_day) {
    v1::Payload p;
    auto* e = p.mutable_pre_election_period_declared();
    e->set_period_id(absl::StrCat("E", events_.size()));
    *e->mutable_starts_at() = Proto(starts);
    *e->mutable_election_day() = Proto(election_day);
    e->set_description("local elections");
    return Add(declared, p);
  }

  uint64_t Request(absl::Time at, const std::string& id, const std::string& group,
                   const std::string& matter, const std::string& member = "",
                   const std::string& in_response_to = "") {
    v1::Payload p;
    auto* r = p.mutable_briefing_requested();
    r->set_briefing_id(id);
    r->set_group_id(group);
    r->set_matter_id(matter);
    r->set_topic(absl::StrCat("Topic ", matter));
    r->set_requested_by_member_id(member.empty() ? FirstMember(group) : member);
    r->set_routed_to_officer_id("ceo");
    r->set_in_response_to_offer_id(in_response_to);
    return Add(at, p);
  }

  uint64_t Approve(absl::Time at, const std::string& id, const std::string& by = "ceo",
                   std::vector<std::string> assigned = {"hos"}) {
    v1::Payload p;
    p.mutable_briefing_approved()->set_briefing_id(id);
    p.mutable_briefing_approved()->set_approved_by_officer_id(by);
    for (auto& a : assigned) p.mutable_briefing_approved()->add_assigned_officer_ids(a);
    return Add(at, p);
  }

  uint64_t Decline(absl::Time at, const std::string& id, const std::string& by,
                   v1::DeclineReason reason = v1::OTHER) {
    v1::Payload p;
    p.mutable_briefing_declined()->set_briefing_id(id);
    p.mutable_briefing_declined()->set_declined_by_officer_id(by);
    p.mutable_briefing_declined()->set_reason(reason);
    return Add(at, p);
  }

  v1::Payload Delivery(const std::string& id, std::vector<std::string> officers = {"hos"},
                       int minutes = 60, v1::Business business = v1::COUNCIL_BUSINESS,
                       int non_members = 0, bool permitted = false) {
    v1::Payload p;
    auto* d = p.mutable_briefing_delivered();
    d->set_briefing_id(id);
    for (auto& o : officers) d->add_officer_ids(o);
    d->set_duration_minutes(minutes);
    d->set_business(business);
    d->set_non_members_present(non_members);
    d->set_non_member_attendance_permitted(permitted);
    return p;
  }

  uint64_t Deliver(absl::Time at, const std::string& id,
                   std::vector<std::string> officers = {"hos"}, int minutes = 60,
                   v1::Business business = v1::COUNCIL_BUSINESS, int non_members = 0,
                   bool permitted = false) {
    return Add(at, Delivery(id, officers, minutes, business, non_members, permitted));
  }

  // Request, approval by the Head of Paid Service, delivery: a proper briefing.
  uint64_t Briefing(absl::Time requested, absl::Time delivered, const std::string& id,
                    const std::string& group, const std::string& matter,
                    std::vector<std::string> officers = {"hos"}, int minutes = 60) {
    Request(requested, id, group, matter);
    Approve(requested + absl::Hours(2), id, "ceo", officers);
    return Deliver(delivered, id, officers, minutes);
  }

  uint64_t Offer(absl::Time at, const std::string& offer_id, const std::string& group,
                 const std::string& matter, const std::string& prompted_by = "") {
    v1::Payload p;
    auto* o = p.mutable_briefing_offered();
    o->set_offer_id(offer_id);
    o->set_group_id(group);
    o->set_matter_id(matter);
    o->set_topic(absl::StrCat("Topic ", matter));
    o->set_prompted_by_briefing_id(prompted_by);
    o->set_offered_by_officer_id("ceo");
    return Add(at, p);
  }

  // Offers every group but `briefed` the matter, on `at`.
  void OfferOthers(absl::Time at, const std::string& briefed, const std::string& matter,
                   const std::string& prompted_by) {
    for (const char* g : {"labour", "conservative", "green"}) {
      if (g == briefed) continue;
      Offer(at, absl::StrCat("O-", prompted_by, "-", g), g, matter, prompted_by);
    }
  }

  uint64_t Attend(absl::Time at, const std::string& meeting, const std::string& group,
                  const std::string& officer, const std::string& approved_by,
                  v1::Business business = v1::COUNCIL_BUSINESS, int non_members = 0,
                  const std::string& matter = "", const std::string& briefing = "") {
    v1::Payload p;
    auto* a = p.mutable_officer_attended_group_meeting();
    a->set_meeting_id(meeting);
    a->set_group_id(group);
    a->set_officer_id(officer);
    a->set_approved_by_officer_id(approved_by);
    a->set_business(business);
    a->set_duration_minutes(45);
    a->set_non_members_present(non_members);
    a->set_matter_id(matter);
    a->set_briefing_id(briefing);
    return Add(at, p);
  }

  uint64_t Query(absl::Time at, const std::string& id, const std::string& member,
                 const std::string& officer = "hos") {
    v1::Payload p;
    auto* q = p.mutable_written_query_received();
    q->set_query_id(id);
    q->set_member_id(member);
    q->set_addressed_to_officer_id(officer);
    q->set_subject(absl::StrCat("Subject ", id));
    return Add(at, p);
  }

  uint64_t Acknowledge(absl::Time at, const std::string& id, absl::Time due) {
    v1::Payload p;
    p.mutable_written_query_acknowledged()->set_query_id(id);
    p.mutable_written_query_acknowledged()->set_officer_id("hos");
    *p.mutable_written_query_acknowledged()->mutable_reply_due_at() = Proto(due);
    return Add(at, p);
  }

  uint64_t Answer(absl::Time at, const std::string& id) {
    v1::Payload p;
    p.mutable_written_query_answered()->set_query_id(id);
    p.mutable_written_query_answered()->set_officer_id("hos");
    return Add(at, p);
  }

  uint64_t Revise(absl::Time at, const std::string& id, absl::Time due) {
    v1::Payload p;
    p.mutable_written_query_timescale_revised()->set_query_id(id);
    p.mutable_written_query_timescale_revised()->set_officer_id("hos");
    *p.mutable_written_query_timescale_revised()->mutable_reply_due_at() = Proto(due);
    p.mutable_written_query_timescale_revised()->set_explanation("awaiting legal advice");
    return Add(at, p);
  }

  uint64_t Complaint(absl::Time at, const std::string& id, v1::Party by, v1::Party about,
                     const std::string& raised_with) {
    v1::Payload p;
    auto* c = p.mutable_complaint_raised();
    c->set_complaint_id(id);
    *c->mutable_raised_by() = by;
    *c->mutable_about() = about;
    c->set_raised_with_officer_id(raised_with);
    return Add(at, p);
  }

  // A complaint raised with a councillor (the Leader, Harlow 12.5).
  uint64_t ComplaintToMember(absl::Time at, const std::string& id, v1::Party by, v1::Party about,
                             const std::string& member) {
    v1::Payload p;
    auto* c = p.mutable_complaint_raised();
    c->set_complaint_id(id);
    *c->mutable_raised_by() = by;
    *c->mutable_about() = about;
    c->set_raised_with_member_id(member);
    return Add(at, p);
  }

  uint64_t Resolve(absl::Time at, const std::string& id, const std::string& by) {
    v1::Payload p;
    p.mutable_complaint_resolved()->set_complaint_id(id);
    p.mutable_complaint_resolved()->set_resolved_by_officer_id(by);
    return Add(at, p);
  }

  uint64_t Escalate(absl::Time at, const std::string& id, const std::string& to) {
    v1::Payload p;
    p.mutable_complaint_escalated()->set_complaint_id(id);
    p.mutable_complaint_escalated()->set_escalated_to_officer_id(to);
    return Add(at, p);
  }

  uint64_t Refer(absl::Time at, const std::string& id, const std::string& by) {
    v1::Payload p;
    p.mutable_complaint_referred_to_standards_committee()->set_complaint_id(id);
    p.mutable_complaint_referred_to_standards_committee()->set_referred_by_officer_id(by);
    return Add(at, p);
  }

  uint64_t Relationship(absl::Time at, const std::string& member, const std::string& officer) {
    v1::Payload p;
    p.mutable_relationship_declared()->set_member_id(member);
    p.mutable_relationship_declared()->set_officer_id(officer);
    p.mutable_relationship_declared()->set_nature("sibling");
    p.mutable_relationship_declared()->set_declared_to_officer_id("mo");
    return Add(at, p);
  }

  uint64_t Decision(absl::Time at, const std::string& member, const std::string& decision,
                    std::vector<std::string> affected) {
    v1::Payload p;
    auto* d = p.mutable_member_participated_in_decision();
    d->set_member_id(member);
    d->set_decision_id(decision);
    d->set_body("Appointments Panel");
    for (auto& a : affected) d->add_affected_officer_ids(a);
    return Add(at, p);
  }

  uint64_t Disclose(absl::Time at, const std::string& briefing, const std::string& from,
                    const std::string& to, bool agreed) {
    v1::Payload p;
    auto* d = p.mutable_group_information_disclosed();
    d->set_briefing_id(briefing);
    d->set_from_group_id(from);
    d->set_to_group_id(to);
    d->set_disclosed_by_officer_id("hos");
    d->set_agreed_by_originating_group(agreed);
    return Add(at, p);
  }

  static v1::Party MemberParty(const std::string& id) {
    v1::Party p;
    p.set_member_id(id);
    return p;
  }
  static v1::Party OfficerParty(const std::string& id) {
    v1::Party p;
    p.set_officer_id(id);
    return p;
  }

  // ---- Reporting ------------------------------------------------------------

  // The report judged at `now`, over the whole log (or as of `as_of`).
  v1::FairnessReport Report(absl::Time now, std::optional<uint64_t> as_of = std::nullopt,
                            absl::Time from = absl::InfinitePast(),
                            absl::Time to = absl::InfiniteFuture()) const {
    projections::ReportQuery q;
    q.as_of_position = as_of.value_or(events_.size());
    q.as_of_time = now;
    q.from = from;
    q.to = to;
    return projection_.Report(q, settings_, *calendar_);
  }

  // The findings of one rule in the report at `now`.
  std::vector<v1::Finding> Findings(const std::string& rule, absl::Time now,
                                    std::optional<uint64_t> as_of = std::nullopt) const {
    std::vector<v1::Finding> out;
    const v1::FairnessReport report = Report(now, as_of);
    for (const v1::Finding& f : report.findings()) {
      if (f.rule_id() == rule) out.push_back(f);
    }
    return out;
  }

  const std::vector<v1::RecordedEvent>& events() const { return events_; }
  uint64_t last_position() const { return events_.size(); }
  // The append a council's system would send for the event at `position`
  // (1-based): the event alone, as published, with no recorded_at.
  v1::AppendRequest AppendRequestAt(uint64_t position) const {
    const v1::Event& e = events_[position - 1].event();
    v1::AppendRequest r;
    r.set_stream_id(e.stream_id());
    *r.add_events() = e;
    r.mutable_events(0)->clear_recorded_at();
    r.mutable_events(0)->set_source_system("test");
    return r;
  }
  projections::FairnessSettings& settings() { return settings_; }
  const projections::WorkingDayCalendar& calendar() const { return *calendar_; }

 private:
  static std::string FirstMember(const std::string& group) {
    if (group == "labour") return "lab-1";
    if (group == "conservative") return "con-1";
    if (group == "green") return "grn-1";
    return "";
  }

  std::optional<projections::WorkingDayCalendar> calendar_;
  projections::FairnessSettings settings_;
  projections::FairnessProjection projection_;
  std::vector<v1::RecordedEvent> events_;
  absl::Time last_recorded_ = absl::InfinitePast();
};

}  // namespace evenhand::testing

#endif  // EVENHAND_TESTS_TESTING_COUNCIL_SCENARIO_H_
