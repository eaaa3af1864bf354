// FindingsIndex::Folded (projections/internal/findings_index.h): what one
// folded event changes for the index. Which subjects read what it changes
// and are decided again, and from which instant (a correction of when
// alone, a request already delivered); the council and the registry as
// decisions read them; the briefings an officer's attendance links before
// their request comes. What a decision then stores and withdraws is in
// findings_index.cc.
#include <algorithm>
#include <optional>
#include <utility>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/reflection.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/protobuf/util/time_util.h"
#include "projections/internal/findings_index.h"

namespace evenhand::projections::internal {
namespace {

// The subjects: cases whose findings a rule decides on its own (a briefing,
// meeting, query or complaint; a councillor for relationship-conflict).
bool IsSubject(CaseKind kind) {
  return kind == CaseKind::kBriefing || kind == CaseKind::kMeeting || kind == CaseKind::kQuery ||
         kind == CaseKind::kComplaint || kind == CaseKind::kMember;
}

// What changes the council at a moment, as decisions ask about it
// (ReportBuilder::ReadCouncilAt: groups, memberships, officers' roles and
// delegations, pre-election periods). A councillor's registration is not
// among them: it gives a name, read by name (MemberName, so Names() below),
// and no decision asks the council who is registered (found from outside:
// 5,000 registrations folded at 270 a second, each deciding again every
// subject that had asked about the council since, the councillors among
// them).
bool ChangesCouncil(const v1::Payload& p) {
  switch (p.kind_case()) {
    case v1::Payload::kPoliticalGroupRecognised:
    case v1::Payload::kPoliticalGroupDissolved:
    case v1::Payload::kMemberJoinedGroup:
    case v1::Payload::kMemberLeftGroup:
    case v1::Payload::kOfficerRegistered:
    case v1::Payload::kOfficerRoleChanged:
    case v1::Payload::kOfficerLeft:
    case v1::Payload::kApprovalDelegated:
    case v1::Payload::kApprovalDelegationRevoked:
    case v1::Payload::kPreElectionPeriodDeclared:
      return true;
    default:
      return false;
  }
}

// What ReportBuilder::LoadRegistry reads: the council, and the names.
bool ChangesRegistry(const v1::Payload& p) {
  return ChangesCouncil(p) || p.has_member_registered();
}

// What gives a councillor, officer or group a name or a Director.
bool Names(const v1::Payload& p) {
  return p.has_member_registered() || p.has_officer_registered() ||
         p.has_political_group_recognised();
}

// The group a payload naming a matter names (MatterOf(): a briefing asked
// for or offered, an attendance at a group's meeting).
const std::string& GroupOf(const v1::Payload& p) {
  switch (p.kind_case()) {
    case v1::Payload::kBriefingRequested:
      return p.briefing_requested().group_id();
    case v1::Payload::kBriefingOffered:
      return p.briefing_offered().group_id();
    case v1::Payload::kOfficerAttendedGroupMeeting:
      return p.officer_attended_group_meeting().group_id();
    default: {
      static const std::string* const kNone = new std::string();
      return *kNone;
    }
  }
}

// The earliest instant any Timestamp in `m` names (INT64_MAX if none).
int64_t EarliestTimestamp(const google::protobuf::Message& m) {
  using google::protobuf::FieldDescriptor;
  if (m.GetDescriptor() == google::protobuf::Timestamp::descriptor()) {
    const auto& ts = static_cast<const google::protobuf::Timestamp&>(m);
    return google::protobuf::util::TimeUtil::TimestampToNanoseconds(ts);
  }
  int64_t earliest = INT64_MAX;
  const google::protobuf::Reflection* r = m.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  for (const FieldDescriptor* f : fields) {
    if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (f->is_repeated()) {
      for (int i = 0; i < r->FieldSize(m, f); ++i) {
        earliest = std::min(earliest, EarliestTimestamp(r->GetRepeatedMessage(m, f, i)));
      }
    } else {
      earliest = std::min(earliest, EarliestTimestamp(r->GetMessage(m, f)));
    }
  }
  return earliest;
}

// A correction folded at `position` that changes only when a fact happened:
// the fact is visible before and after it (as `builder` reads it), as the
// same payload (so whose briefing it is, on what, and which fact comes
// first are as they were). Then the earliest instant it names, before or
// after; otherwise none. (A correction of a fact withdrawn before it is not
// taken so: the rules cite withdrawn facts as they stood, read as the
// matter only.) Leaves `builder` reading as of `position`.
std::optional<int64_t> TimeOnlyCorrection(const state::FactRecord& fact, uint64_t position,
                                          ReportBuilder& builder) {
  if (fact.corrections().empty() || fact.corrections().rbegin()->position() != position ||
      position == 0) {
    return std::nullopt;
  }
  builder.ReadAsOf(position - 1);
  const std::optional<Seen> before = builder.Visible(fact);
  builder.ReadAsOf(position);
  const std::optional<Seen> after = builder.Visible(fact);
  if (!before || !after) return std::nullopt;
  if (before->payload != after->payload &&
      !google::protobuf::util::MessageDifferencer::Equals(*before->payload, *after->payload)) {
    return std::nullopt;
  }
  return std::min({absl::ToUnixNanos(before->at), absl::ToUnixNanos(after->at),
                   EarliestTimestamp(*after->payload)});
}

// Whether `fact` is a briefing's request (not an offer) and its case holds a
// delivery, as `builder` reads them. When such a request happened matters
// to no decision but its own briefing's and those that read the case
// whole: to another group's briefing it is a briefing given, dated by its
// delivery (rules/equal_offer.cc: a request's own date is read only while
// it is unmet, and whoever read it so reads every answer to its group, the
// delivery among them, whenever); to a decline on the matter, advice dated
// by its delivery (rules/same_matter_decline.cc).
bool IsDeliveredRequest(const Case& c, const state::FactRecord& fact,
                        const ReportBuilder& builder) {
  if (c.kind != CaseKind::kBriefing) return false;
  const std::optional<Seen> request = builder.Visible(fact);
  return request && request->payload->has_briefing_requested() &&
         builder.First(c, v1::Payload::kBriefingDelivered).has_value();
}

// Every version of a fact: as recorded, and each correction's replacement.
template <typename Visit>
void ForEachVersion(const state::FactRecord& fact, Visit visit) {
  visit(fact.payload());
  for (const state::CorrectionRecord& c : fact.corrections()) {
    if (c.has_replacement()) visit(c.replacement());
  }
}

}  // namespace

void FindingsIndex::Replaying(absl::flat_hash_map<const Case*, uint64_t> made_at) {
  made_later_ = std::move(made_at);
}

const Case* FindingsIndex::LinkedBriefing(const std::string& id, uint64_t position) {
  if (id.empty()) return nullptr;
  const auto& by_id = builder_.indexes().briefing_by_id;
  if (auto linked = by_id.find(id); linked != by_id.end()) {
    auto made = made_later_.find(linked->second);
    if (made == made_later_.end() || made->second <= position) return linked->second;
  }
  if (links_ahead_.insert(id).second) links_ahead_unsaved_ = true;
  return nullptr;
}

void FindingsIndex::NoteLinksAhead(const Case& meeting) {
  for (const state::FactRecord& f : builder_.Body(meeting).facts()) {
    ForEachVersion(f, [&](const v1::Payload& p) {
      if (p.has_officer_attended_group_meeting()) {
        LinkedBriefing(p.officer_attended_group_meeting().briefing_id(), UINT64_MAX);
      }
    });
  }
}

std::vector<std::string> FindingsIndex::links_ahead() const {
  std::vector<std::string> out(links_ahead_.begin(), links_ahead_.end());
  std::sort(out.begin(), out.end());
  return out;
}

void FindingsIndex::Folded(const Case& c, const state::FactRecord& fact, uint64_t position,
                           int64_t recorded_nanos, bool new_case) {
  // Whose briefing each is on a matter changes only by a briefing's new
  // case, an opening fact (a second one too) or a correction.
  if (c.kind == CaseKind::kBriefing) {
    bool opening = new_case || fact.corrections_size() > 0;
    ForEachVersion(fact, [&](const v1::Payload& p) {
      opening = opening || p.has_briefing_requested() || p.has_briefing_offered();
    });
    if (opening) builder_.MattersChanged(position);
  }
  if (failed_) return;  // answers nothing until a restart decides it afresh
  recorded_nanos_ = std::max(recorded_nanos_, recorded_nanos);
  last_position_ = std::max(last_position_, position);
  if (c.kind == CaseKind::kAccess) {
    // The server's records of reads: summed as they come. A correction of
    // one (possible only without domain validation) sums them all again.
    builder_.ReadAsOf(position);
    if (fact.corrections_size() == 0) {
      if (std::optional<Seen> s = builder_.Visible(fact)) access_.Add(c, *s);
    } else {
      access_.Rebuild(builder_, builder_.indexes().access);
      builder_.ReleaseBodies();
    }
    return;  // no rule reads them
  }
  std::vector<const Case*> decide;
  if (IsSubject(c.kind)) {
    decide.push_back(&c);
    // Held from the start: SubjectOf() would look for it in the store.
    if (new_case) subjects_.try_emplace(&c, std::make_unique<Subject>());
  }
  bool registry = false;
  bool council = false;
  bool names = false;
  std::vector<std::string> matters;
  // (GroupOnMatterKey, OfficerOnMatterKey, AttendanceLinkKey, AnswerOnMatterKey)
  std::vector<std::string> group_on_matters;
  // A new briefing an attendance already links (links_ahead_): an answer.
  const bool linked_ahead =
      new_case && c.kind == CaseKind::kBriefing && links_ahead_.erase(c.id()) > 0;
  if (linked_ahead) links_ahead_unsaved_ = true;
  ForEachVersion(fact, [&](const v1::Payload& p) {
    registry = registry || ChangesRegistry(p);
    council = council || ChangesCouncil(p);
    names = names || Names(p);
    const std::string* m = MatterOf(p);
    const bool on_matter = m != nullptr && !m->empty();
    if (on_matter) {
      matters.push_back(*m);
      group_on_matters.push_back(GroupOnMatterKey(*m, GroupOf(p)));
      if (p.has_briefing_offered() || (linked_ahead && p.has_briefing_requested())) {
        group_on_matters.push_back(AnswerOnMatterKey(*m, GroupOf(p)));
      }
    }
    if (!p.has_officer_attended_group_meeting()) return;
    const auto& a = p.officer_attended_group_meeting();
    if (on_matter) {
      group_on_matters.push_back(OfficerOnMatterKey(*m, a.officer_id()));
      if (!a.briefing_id().empty()) {
        group_on_matters.push_back(AttendanceLinkKey(*m, a.group_id(), a.briefing_id()));
        group_on_matters.push_back(AnswerOnMatterKey(*m, a.group_id()));
      }
    }
    // The briefing an attendance links is decided again, whatever it names
    // (ReportBuilder::AttendancesLinking: its own decision files no name
    // for it, so that every briefing on a matter does not hold one more);
    // one with no case yet is noted (links_ahead_).
    if (const Case* linked = LinkedBriefing(a.briefing_id(), position)) {
      decide.push_back(linked);
    }
  });
  auto add_readers = [&](const auto& readers, absl::string_view key) {
    auto it = readers.find(key);
    if (it == readers.end()) return;
    decide.insert(decide.end(), it->second.begin(), it->second.end());
  };
  // A registry entry is read by name (who someone is) and as the council at
  // a moment; any other case is read as a whole.
  const bool registry_case = c.kind == CaseKind::kGroup || c.kind == CaseKind::kMember ||
                             c.kind == CaseKind::kOfficer || c.kind == CaseKind::kElection;
  if (!registry_case || names) add_readers(case_readers_, c.stream_id());
  for (const std::string& m : matters) add_readers(matter_readers_, m);
  for (const std::string& g : group_on_matters) add_readers(matter_readers_, g);
  // Readers of facts up to an instant (ReportBuilder::BeginBoundedReads):
  // the fact's earliest instant in any version. A correction, or a second
  // opening fact (which may change whose briefing it is, or its matter),
  // can change what the case held before any of its instants: every
  // reader then; unless it changes only when the fact happened (then the
  // earlier of its two instants: TimeOnlyCorrection; for a briefing's
  // request that was delivered, no reader's bound: IsDeliveredRequest). So
  // can a new
  // briefing that an attendance recorded before it links (possible only
  // without domain validation: links_ahead_), given at that meeting
  // whenever its request is dated.
  // (Worked out only for a fact that has such readers: most have none.)
  std::optional<int64_t> instant;
  auto instant_of_fact = [&] {
    if (fact.corrections_size() > 0) {
      std::optional<int64_t> moved = TimeOnlyCorrection(fact, position, builder_);
      if (moved && IsDeliveredRequest(c, fact, builder_)) return INT64_MAX;
      return moved.value_or(INT64_MIN);
    }
    int64_t earliest = fact.occurred_at_nanos();
    ForEachVersion(fact, [&](const v1::Payload& p) {
      earliest = std::min(earliest, EarliestTimestamp(p));
      if (!new_case && (p.has_briefing_requested() || p.has_briefing_offered())) {
        earliest = INT64_MIN;
      }
    });
    return earliest;
  };
  auto add_bounded_readers = [&](const BoundedReaders& readers, absl::string_view key) {
    if (!readers.Read(key)) return;
    if (!instant) instant = linked_ahead ? INT64_MIN : instant_of_fact();
    readers.ReadersFrom(key, *instant, &decide);
  };
  if (!registry_case) add_bounded_readers(bounded_case_readers_, c.stream_id());
  for (const std::string& m : matters) add_bounded_readers(bounded_matter_readers_, m);
  for (const std::string& g : group_on_matters) add_bounded_readers(bounded_matter_readers_, g);
  // A briefing's later fact that names no matter (its decision, its
  // delivery) may be dated before its opening: a reader of its matter up to
  // an instant between the two never read the case (its opening came after
  // that instant), yet the fact is on the matter, for the group, in time
  // (a delivery recorded after its request and dated before another
  // group's earliest answer: that answer stayed the earliest). So it is
  // taken as a fact on the matters and groups the case's openings name;
  // a delivery, as an answer to the group too.
  // (A fact one of whose versions names a matter and another is a
  // delivery, or any correction, goes this way too: possible only without
  // domain validation; review.)
  bool delivery = false;
  std::vector<std::string> delivered_by;  // the officers any version names
  ForEachVersion(fact, [&](const v1::Payload& p) {
    if (!p.has_briefing_delivered()) return;
    delivery = true;
    for (const std::string& o : p.briefing_delivered().officer_ids()) delivered_by.push_back(o);
  });
  if (c.kind == CaseKind::kBriefing && !new_case &&
      (matters.empty() || delivery || fact.corrections_size() > 0) &&
      !(bounded_matter_readers_.empty() && matter_readers_.empty())) {
    std::vector<std::string> opened_on;
    std::vector<std::string> answered_on;
    for (const state::FactRecord& f : builder_.Body(c).facts()) {
      ForEachVersion(f, [&](const v1::Payload& p) {
        if (const std::string* m = MatterOf(p); m != nullptr && !m->empty()) {
          // (A delivery is also advice on the matter by its officers:
          // same-matter-decline reads those; the bare matter's readers
          // read its openings only.)
          for (const std::string& o : delivered_by) opened_on.push_back(OfficerOnMatterKey(*m, o));
          opened_on.push_back(GroupOnMatterKey(*m, GroupOf(p)));
          // A correction may change which fact comes first, so whether the
          // case opens with a request at all (possible only without domain
          // validation; review): whose briefing each is, read on the bare
          // matter.
          if (fact.corrections_size() > 0) opened_on.push_back(*m);
          if (delivery && p.has_briefing_requested()) {
            answered_on.push_back(AnswerOnMatterKey(*m, GroupOf(p)));
          }
        }
      });
    }
    SortUnique(&opened_on);
    SortUnique(&answered_on);
    for (const std::string& key : opened_on) {
      add_readers(matter_readers_, key);
      add_bounded_readers(bounded_matter_readers_, key);
    }
    for (const std::string& key : answered_on) add_readers(matter_readers_, key);
  }
  if (registry) builder_.UpdateRegistry(c, position);
  if (council) {
    // The earliest moment the change touches: when the fact happened in any
    // version, or any instant it names (a pre-election period's start).
    int64_t earliest = fact.occurred_at_nanos();
    for (const state::CorrectionRecord& k : fact.corrections()) {
      if (k.occurred_at_nanos() != 0) earliest = std::min(earliest, k.occurred_at_nanos());
    }
    ForEachVersion(
        fact, [&](const v1::Payload& p) { earliest = std::min(earliest, EarliestTimestamp(p)); });
    for (auto it = council_readers_.lower_bound(earliest); it != council_readers_.end(); ++it) {
      decide.push_back(it->second);
    }
  }
  std::sort(decide.begin(), decide.end(),
            [](const Case* a, const Case* b) { return a->stream_id() < b->stream_id(); });
  decide.erase(std::unique(decide.begin(), decide.end()), decide.end());
  for (const Case* s : decide) Decide(*s, position, recorded_nanos);
}

}  // namespace evenhand::projections::internal
