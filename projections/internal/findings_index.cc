#include "projections/internal/findings_index.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "base/status_macros.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/reflection.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/protobuf/util/time_util.h"
#include "projections/internal/day_nanos.h"
#include "projections/internal/decisions_digest.h"  // generated (CMakeLists.txt)

namespace evenhand::projections::internal {
namespace {

template <typename T>
void SortUnique(std::vector<T>* v) {
  std::sort(v->begin(), v->end());
  v->erase(std::unique(v->begin(), v->end()), v->end());
}

// Whether `a` and `b` hold the same contributions, in any order (a case
// has a handful).
bool SameContributions(const std::vector<Contribution>& a, const std::vector<Contribution>& b) {
  if (a.size() != b.size()) return false;
  std::vector<bool> used(b.size(), false);
  for (const Contribution& x : a) {
    bool found = false;
    for (size_t j = 0; j < b.size() && !found; ++j) {
      if (!used[j] && b[j] == x) used[j] = found = true;
    }
    if (!found) return false;
  }
  return true;
}

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

FindingsIndex::FindingsIndex(const FairnessProjection& projection, FairnessSettings settings,
                             WorkingDayCalendar calendar, bool seeded)
    : settings_(std::move(settings)),
      calendar_(std::move(calendar)),
      builder_(projection, settings_, calendar_, ReportBuilder::ForIndex{}),
      complete_from_(seeded ? 0 : UINT64_MAX),
      seeding_(!seeded) {
  builder_.KeepMattersBetweenDecisions();
}

const Case* FindingsIndex::LinkedBriefing(const std::string& id) {
  if (id.empty()) return nullptr;
  const auto& by_id = builder_.indexes().briefing_by_id;
  if (auto linked = by_id.find(id); linked != by_id.end()) return linked->second;
  if (links_ahead_.insert(id).second) links_ahead_unsaved_ = true;
  return nullptr;
}

void FindingsIndex::NoteLinksAhead(const Case& meeting) {
  for (const state::FactRecord& f : builder_.Body(meeting).facts()) {
    ForEachVersion(f, [&](const v1::Payload& p) {
      if (p.has_officer_attended_group_meeting()) {
        LinkedBriefing(p.officer_attended_group_meeting().briefing_id());
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
      new_case && c.kind == CaseKind::kBriefing && links_ahead_.erase(c.id) > 0;
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
    if (const Case* linked = LinkedBriefing(a.briefing_id())) decide.push_back(linked);
  });
  auto add_readers = [&](const auto& readers, const std::string& key) {
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
  auto add_bounded_readers = [&](const auto& readers, const std::string& key) {
    auto it = readers.find(key);
    if (it == readers.end()) return;
    if (!instant) instant = linked_ahead ? INT64_MIN : instant_of_fact();
    for (const auto& [reader, until] : it->second) {
      if (until >= *instant) decide.push_back(reader);
    }
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
  std::sort(decide.begin(), decide.end(), [](const Case* a, const Case* b) {
    return a->stream_id() < b->stream_id();
  });
  decide.erase(std::unique(decide.begin(), decide.end()), decide.end());
  for (const Case* s : decide) Decide(*s, position, recorded_nanos);
}

bool FindingsIndex::Seed(const FairnessProjection::Indexes& indexes, uint64_t position,
                         size_t max_cases) {
  if (!seeding_) return true;
  builder_.ReloadRegistry(position);
  if (seed_list_ == 0 && seed_next_ == 0) {
    access_.Rebuild(builder_, indexes.access);
    builder_.ReleaseBodies();
  }
  // No report is served as of a position before the seeding's end: the
  // changes it makes need not be kept for one.
  figures_.KnownFrom(position);
  last_position_ = std::max(last_position_, position);
  const std::vector<const Case*>* lists[] = {&indexes.briefings, &indexes.meetings,
                                             &indexes.queries, &indexes.complaints,
                                             &indexes.members};
  for (; seed_list_ < std::size(lists); ++seed_list_, seed_next_ = 0) {
    const std::vector<const Case*>& list = *lists[seed_list_];
    for (; seed_next_ < list.size(); ++seed_next_) {
      if (max_cases-- == 0) return false;
      // A subject an event has decided since needs no seeding (and must
      // not lose the positions its findings appeared at).
      if (list[seed_next_]->kind == CaseKind::kMeeting) {
        NoteLinksAhead(*list[seed_next_]);
        builder_.ReleaseBodies();
      }
      if (!subjects_.contains(list[seed_next_]) && !let_go_.contains(list[seed_next_])) {
        Decide(*list[seed_next_], position, INT64_MIN);
        // Failed (Fail() ended the seeding): it answers no report.
        if (failed_) return true;
      }
    }
  }
  // Every subject holds what it had at `position` or later.
  seeding_ = false;
  seeded_unsaved_ = true;
  complete_from_ = position;
  return true;
}

FindingsIndex::Subject* FindingsIndex::SubjectOf(const Case* subject) {
  std::unique_ptr<Subject>& held = subjects_[subject];
  if (held != nullptr) return held.get();
  held = std::make_unique<Subject>();
  if (stored_ == nullptr || (!subjects_stored_ && !let_go_.contains(subject))) {
    return held.get();
  }
  state::SubjectRecord record;
  absl::Status read = stored_->GetSubject(subject->stream_id(), &record);
  if (absl::IsNotFound(read)) return held.get();  // it had nothing to store
  if (read.ok()) read = SubjectFromRecord(record, subject, held.get(), nullptr);
  if (read.ok()) return held.get();
  subjects_.erase(subject);
  Fail(read);
  return nullptr;
}

void FindingsIndex::Forget(const Case* subject, const Subject& s) {
  auto forget = [subject](auto& readers, absl::string_view key) {
    auto it = readers.find(key);
    if (it == readers.end()) {
      // A bug: a subject is among the readers of everything it read.
      logging::Error("fairness", "findings index: a subject was not among a name's readers");
      return;
    }
    it->second.erase(subject);
    if (it->second.empty()) readers.erase(it);
  };
  s.cases.ForEach([&](absl::string_view key) { forget(case_readers_, key); });
  s.matters.ForEach([&](absl::string_view key) { forget(matter_readers_, key); });
  if (s.bounded != nullptr) {
    s.bounded->cases.ForEach([&](absl::string_view key) { forget(bounded_case_readers_, key); });
    s.bounded->matters.ForEach(
        [&](absl::string_view key) { forget(bounded_matter_readers_, key); });
  }
  if (s.council_until != INT64_MIN) {
    auto [begin, end] = council_readers_.equal_range(s.council_until);
    for (auto it = begin; it != end; ++it) {
      if (it->second == subject) {
        council_readers_.erase(it);
        break;
      }
    }
  }
}

// FNV-1a over what a decided entry says: equal content, equal digest.
static uint64_t Digest(const Decided& d) {
  uint64_t h = 1469598103934665603ULL;
  auto mix = [&h](const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) {
      h ^= p[i];
      h *= 1099511628211ULL;
    }
  };
  auto mix_string = [&](const std::string& s) {
    const uint64_t n = s.size();
    mix(&n, sizeof n);
    mix(s.data(), s.size());
  };
  const unsigned char obligation = d.obligation ? 1 : 0;
  mix(&obligation, 1);
  mix(&d.when_nanos, sizeof d.when_nanos);
  mix_string(d.proto);
  for (const auto& [position, summary] : d.evidence) {
    mix(&position, sizeof position);
    mix_string(summary);
  }
  return h;
}

void FindingsIndex::Fail(const absl::Status& status) {
  failed_ = true;
  if (absl::IsDataLoss(status) && damage_.ok()) damage_ = status;
  if (complete_from_ == UINT64_MAX && !seeding_) return;
  logging::Error("fairness", absl::StrCat("the findings index stops answering (reports are "
                                          "derived in full until a restart): ",
                                          status.ToString()));
  complete_from_ = UINT64_MAX;
  seeding_ = false;
}

void FindingsIndex::Withdraw(const Alive& alive, uint64_t position, int64_t recorded_nanos) {
  // A finding withdrawn well before its date came (a reply days before the
  // deadline, the offer made in time) was never shown: a report as of a
  // position before this one is judged before this event was recorded, so
  // before the date. Forgotten, rather than kept withdrawn, so the period's
  // range holds only findings that were shown. The margin covers a report
  // that reads the clock, then the log's end, while an event stamped before
  // that reading is still being written (milliseconds; a stalled disk,
  // seconds), and a clock stepped back: a finding due within it is kept.
  constexpr int64_t kMargin = 3600LL * 1000000000;
  const bool never_shown = !alive.obligation && recorded_nanos != INT64_MIN &&
                           alive.when_nanos - kMargin > recorded_nanos;
  auto it = pending_.find(alive.id);
  if (never_shown) {
    if (it != pending_.end() && !it->second.stored && !it->second.provisional_written) {
      auto [begin, end] = pending_findings_.equal_range(alive.when_nanos);
      for (auto f = begin; f != end; ++f) {
        if (f->second == alive.id) {
          pending_findings_.erase(f);
          break;
        }
      }
      pending_.erase(it);
      return;
    }
    if (it != pending_.end()) {
      it->second.deleted = true;  // what is stored goes at the next checkpoint
      return;
    }
    Entry& tomb = pending_[alive.id];
    tomb.decided.obligation = false;
    tomb.decided.when_nanos = alive.when_nanos;
    tomb.stored = tomb.deleted = true;
    return;
  }
  if (it == pending_.end()) {
    // Checkpointed: read it back to store it again, withdrawn.
    if (stored_ == nullptr) return Fail(absl::InternalError("an entry is neither held nor stored"));
    absl::StatusOr<state::FindingEntryRecord> record =
        stored_->Get(alive.obligation, alive.when_nanos, alive.id);
    if (!record.ok()) return Fail(record.status());
    Entry e;
    e.decided = FromRecord(*record);
    e.subject = nullptr;  // not needed again: only its subject's name is stored
    e.appeared = record->appeared();
    e.stored = true;
    it = pending_.emplace(alive.id, std::move(e)).first;
    subject_names_.emplace(alive.id, record->subject());
    (alive.obligation ? pending_obligations_ : pending_findings_)
        .emplace(alive.when_nanos, alive.id);
  }
  it->second.withdrawn = position;
}

void FindingsIndex::Decide(const Case& subject, uint64_t position, int64_t recorded_nanos) {
  ++decisions_;
  contributions_.clear();
  std::vector<Decided> now = builder_.Decide(subject, position, &reads_, &contributions_);
  Subject* held = SubjectOf(&subject);
  if (held == nullptr) return;  // the index has failed
  Subject& s = *held;
  std::vector<Contribution> had;
  if (!s.figures.empty()) figures_.OfCase(&subject, s.figures, &had);
  if (!SameContributions(contributions_, had)) {
    // Only what changed: a briefing given does not take back and add again
    // its request and decision (each change is kept for earlier positions).
    absl::flat_hash_map<Contribution, int> before;
    for (const Contribution& x : had) ++before[x];
    for (const Contribution& x : contributions_) {
      auto it = before.find(x);
      if (it != before.end() && it->second > 0) {
        --it->second;
      } else {
        figures_.Add(x, position);
      }
    }
    for (const auto& [x, n] : before) {
      for (int i = 0; i < n; ++i) figures_.Remove(x, position);
    }
    s.figures.clear();
    for (const Contribution& x : contributions_) s.figures.push_back(GroupFigures::KeyOf(x));
    SortUnique(&s.figures);
    dirty_subjects_.insert(&subject);
  }

  // What is still there stays; what is gone is withdrawn; what is new appears.
  std::vector<uint64_t> digests;
  digests.reserve(now.size());
  for (const Decided& d : now) digests.push_back(Digest(d));
  std::vector<bool> matched(now.size(), false);
  // Each alive entry takes the first unmatched decision of its digest. For
  // the usual few, a scan; for a case with many (thousands of attendances
  // each found wanting), by digest, the decisions' indexes in order and how
  // many are taken (those taken are always a prefix): one pass, not one
  // pass per finding.
  const bool few = now.size() * s.alive.size() <= 64;
  absl::flat_hash_map<uint64_t, std::pair<std::vector<size_t>, size_t>> by_digest;
  if (!few) {
    for (size_t j = 0; j < now.size(); ++j) by_digest[digests[j]].first.push_back(j);
  }
  std::vector<Alive> alive;
  for (const Alive& a : s.alive) {
    bool found = false;
    if (few) {
      for (size_t j = 0; j < now.size(); ++j) {
        if (!matched[j] && digests[j] == a.digest) {
          matched[j] = found = true;
          break;
        }
      }
    } else if (auto it = by_digest.find(a.digest); it != by_digest.end()) {
      auto& [indexes, taken] = it->second;
      if (taken < indexes.size()) matched[indexes[taken++]] = found = true;
    }
    if (found) {
      alive.push_back(a);
    } else {
      Withdraw(a, position, recorded_nanos);
    }
  }
  for (size_t j = 0; j < now.size(); ++j) {
    if (matched[j]) continue;
    const uint32_t id = next_id_++;
    Entry& e = pending_[id];
    e.decided = std::move(now[j]);
    e.subject = &subject;
    e.appeared = position;
    (e.decided.obligation ? pending_obligations_ : pending_findings_)
        .emplace(e.decided.when_nanos, id);
    alive.push_back({id, digests[j], e.decided.when_nanos, e.decided.obligation});
  }
  if (alive != s.alive) dirty_subjects_.insert(&subject);
  s.alive = std::move(alive);

  // What it read, for the next events (its own case needs no entry).
  reads_.cases.erase(subject.stream_id());
  auto sorted = [](const absl::flat_hash_set<std::string>& names) {
    std::vector<absl::string_view> out(names.begin(), names.end());
    std::sort(out.begin(), out.end());
    return PackedNames::Of(out);
  };
  // Read bounded and also not: not bounded. Bounded by nothing: not bounded.
  for (auto [bounded, all] : {std::pair(&reads_.bounded_cases, &reads_.cases),
                              std::pair(&reads_.bounded_matters, &reads_.matters)}) {
    for (auto it = bounded->begin(); it != bounded->end();) {
      if (it->second == INT64_MAX) all->insert(it->first);
      if (it->second == INT64_MAX || all->contains(it->first) ||
          (bounded == &reads_.bounded_cases && it->first == subject.stream_id())) {
        bounded->erase(it++);
      } else {
        ++it;
      }
    }
  }
  // Read as before (most decisions): nothing to sort, pack or file again
  // (a decision on a matter of hundreds of briefings sorted their names).
  auto same = [](const PackedNames& before, const absl::flat_hash_set<std::string>& now) {
    size_t n = 0;
    bool all = true;
    before.ForEach([&](absl::string_view name) {
      ++n;
      all = all && now.contains(name);
    });
    return all && n == now.size();  // (names are kept once each)
  };
  auto same_bounded = [](const PackedNames& before, const std::vector<int64_t>& untils,
                         const absl::flat_hash_map<std::string, int64_t>& now) {
    size_t n = 0;
    bool all = true;
    before.ForEach([&](absl::string_view name) {
      auto it = now.find(name);
      all = all && it != now.end() && it->second == untils[n];
      ++n;
    });
    return all && n == now.size();
  };
  const bool same_bounds =
      s.bounded == nullptr
          ? reads_.bounded_cases.empty() && reads_.bounded_matters.empty()
          : same_bounded(s.bounded->cases, s.bounded->case_untils, reads_.bounded_cases) &&
                same_bounded(s.bounded->matters, s.bounded->matter_untils, reads_.bounded_matters);
  if (reads_.council_until == s.council_until && same_bounds && same(s.cases, reads_.cases) &&
      same(s.matters, reads_.matters)) {
    return;
  }
  PackedNames cases = sorted(reads_.cases);
  PackedNames matters = sorted(reads_.matters);
  std::unique_ptr<Subject::Bounded> bounded;
  if (!reads_.bounded_cases.empty() || !reads_.bounded_matters.empty()) {
    bounded = std::make_unique<Subject::Bounded>();
    auto pack = [](const absl::flat_hash_map<std::string, int64_t>& names, PackedNames* packed,
                   std::vector<int64_t>* untils) {
      std::vector<std::pair<absl::string_view, int64_t>> in_order(names.begin(), names.end());
      std::sort(in_order.begin(), in_order.end());
      for (const auto& [name, until] : in_order) {
        packed->Append(name);
        untils->push_back(until);
      }
    };
    pack(reads_.bounded_cases, &bounded->cases, &bounded->case_untils);
    pack(reads_.bounded_matters, &bounded->matters, &bounded->matter_untils);
  }
  dirty_subjects_.insert(&subject);
  Forget(&subject, s);
  s.cases = std::move(cases);
  s.matters = std::move(matters);
  s.council_until = reads_.council_until;
  s.bounded = std::move(bounded);
  AddReader(&subject, s);
}

void FindingsIndex::AddReader(const Case* subject, const Subject& s) {
  s.cases.ForEach([&](absl::string_view key) { case_readers_[key].insert(subject); });
  s.matters.ForEach([&](absl::string_view key) { matter_readers_[key].insert(subject); });
  if (s.bounded != nullptr) {
    size_t i = 0;
    s.bounded->cases.ForEach([&](absl::string_view key) {
      bounded_case_readers_[key][subject] = s.bounded->case_untils[i++];
    });
    i = 0;
    s.bounded->matters.ForEach([&](absl::string_view key) {
      bounded_matter_readers_[key][subject] = s.bounded->matter_untils[i++];
    });
  }
  if (s.council_until != INT64_MIN) council_readers_.emplace(s.council_until, subject);
}

std::string FindingsIndex::FingerprintOf(const FairnessSettings& s,
                                         const WorkingDayCalendar& calendar) {
  std::string out =
      absl::StrCat("findings-6|", kDecisionsDigest, "|", s.council_name, "|",
                   s.offer_deadline_working_days, "|", s.equal_offer_lookback_days, "|",
                   s.query_reply_working_days, "|", s.same_matter_window_days, "|", s.parity_alpha,
                   "|", s.decline_rate_gap, "|", s.late_reply_gap, "|", s.officer_time_ratio, "|",
                   s.parity_min_cases, "|", calendar.first_year(), "-", calendar.last_year());
  for (absl::CivilDay d : calendar.bank_holidays()) {
    absl::StrAppend(&out, "|", absl::FormatCivilTime(d));
  }
  return out;
}

}  // namespace evenhand::projections::internal
