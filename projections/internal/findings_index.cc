#include "projections/internal/findings_index.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/reflection.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/time_util.h"

namespace evenhand::projections::internal {
namespace {

// The subjects: cases whose findings a rule decides on its own (a briefing,
// meeting, query or complaint; a councillor for relationship-conflict).
bool IsSubject(CaseKind kind) {
  return kind == CaseKind::kBriefing || kind == CaseKind::kMeeting || kind == CaseKind::kQuery ||
         kind == CaseKind::kComplaint || kind == CaseKind::kMember;
}

// What ReportBuilder::LoadRegistry reads: the council at a moment.
bool ChangesRegistry(const v1::Payload& p) {
  switch (p.kind_case()) {
    case v1::Payload::kPoliticalGroupRecognised:
    case v1::Payload::kPoliticalGroupDissolved:
    case v1::Payload::kMemberRegistered:
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

// What gives a councillor, officer or group a name or a Director.
bool Names(const v1::Payload& p) {
  return p.has_member_registered() || p.has_officer_registered() ||
         p.has_political_group_recognised();
}

const std::string* MatterOf(const v1::Payload& p) {
  switch (p.kind_case()) {
    case v1::Payload::kBriefingRequested:
      return &p.briefing_requested().matter_id();
    case v1::Payload::kBriefingOffered:
      return &p.briefing_offered().matter_id();
    case v1::Payload::kOfficerAttendedGroupMeeting:
      return &p.officer_attended_group_meeting().matter_id();
    default:
      return nullptr;
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

// Every version of a fact: as recorded, and each correction's replacement.
template <typename Visit>
void ForEachVersion(const state::FactRecord& fact, Visit visit) {
  visit(fact.payload());
  for (const state::CorrectionRecord& c : fact.corrections()) {
    if (c.has_replacement()) visit(c.replacement());
  }
}

int64_t Clamp(absl::Time t) {
  if (t >= absl::FromUnixNanos(INT64_MAX - 1)) return INT64_MAX;
  if (t <= absl::FromUnixNanos(INT64_MIN + 1)) return INT64_MIN;
  return absl::ToUnixNanos(t);
}

}  // namespace

FindingsIndex::FindingsIndex(const FairnessProjection::Indexes& indexes, FairnessSettings settings,
                             WorkingDayCalendar calendar, bool seeded)
    : settings_(std::move(settings)),
      calendar_(std::move(calendar)),
      builder_(indexes, settings_, calendar_, ReportBuilder::ForIndex{}),
      complete_from_(seeded ? 0 : UINT64_MAX),
      seeding_(!seeded) {}

void FindingsIndex::Folded(const Case& c, const state::FactRecord& fact, uint64_t position) {
  std::vector<const Case*> decide;
  if (IsSubject(c.kind)) decide.push_back(&c);
  bool registry = false;
  bool names = false;
  std::vector<std::string> matters;
  ForEachVersion(fact, [&](const v1::Payload& p) {
    registry = registry || ChangesRegistry(p);
    names = names || Names(p);
    if (const std::string* m = MatterOf(p); m != nullptr && !m->empty()) matters.push_back(*m);
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
  if (!registry_case || names) add_readers(case_readers_, c.record.stream_id());
  for (const std::string& m : matters) add_readers(matter_readers_, m);
  if (registry) {
    builder_.ReloadRegistry(position);
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
    return a->record.stream_id() < b->record.stream_id();
  });
  decide.erase(std::unique(decide.begin(), decide.end()), decide.end());
  for (const Case* s : decide) Decide(*s, position);
}

bool FindingsIndex::Seed(const FairnessProjection::Indexes& indexes, uint64_t position,
                         size_t max_cases) {
  if (!seeding_) return true;
  builder_.ReloadRegistry(position);
  const std::vector<const Case*>* lists[] = {&indexes.briefings, &indexes.meetings,
                                             &indexes.queries, &indexes.complaints,
                                             &indexes.members};
  for (; seed_list_ < std::size(lists); ++seed_list_, seed_next_ = 0) {
    const std::vector<const Case*>& list = *lists[seed_list_];
    for (; seed_next_ < list.size(); ++seed_next_) {
      if (max_cases-- == 0) return false;
      // A subject an event has decided since needs no seeding (and must
      // not lose the positions its findings appeared at).
      if (!subjects_.contains(list[seed_next_])) Decide(*list[seed_next_], position);
    }
  }
  // Every subject holds what it had at `position` or later.
  seeding_ = false;
  complete_from_ = position;
  return true;
}

void FindingsIndex::Forget(const Case* subject, Subject& s) {
  for (const std::string& key : s.cases) {
    auto it = case_readers_.find(key);
    it->second.erase(subject);
    if (it->second.empty()) case_readers_.erase(it);
  }
  for (const std::string& key : s.matters) {
    auto it = matter_readers_.find(key);
    it->second.erase(subject);
    if (it->second.empty()) matter_readers_.erase(it);
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

void FindingsIndex::Decide(const Case& subject, uint64_t position) {
  std::vector<Decided> now = builder_.Decide(subject, position, &reads_);
  Subject& s = subjects_[&subject];

  // What is still there stays; what is gone is withdrawn; what is new appears.
  std::vector<bool> matched(now.size(), false);
  std::vector<uint32_t> alive;
  for (uint32_t id : s.alive) {
    Entry& e = entries_[id];
    bool found = false;
    for (size_t j = 0; j < now.size(); ++j) {
      if (!matched[j] && now[j] == e.decided) {
        matched[j] = found = true;
        break;
      }
    }
    if (found) {
      alive.push_back(id);
    } else {
      e.withdrawn = position;
      dirty_entries_.insert(id);
    }
  }
  for (size_t j = 0; j < now.size(); ++j) {
    if (matched[j]) continue;
    const uint32_t id = static_cast<uint32_t>(entries_.size());
    Entry& e = entries_.emplace_back();
    e.decided = std::move(now[j]);
    e.subject = &subject;
    e.appeared = position;
    dirty_entries_.insert(id);
    (e.decided.obligation ? obligations_by_due_ : findings_by_date_)
        .emplace(e.decided.when_nanos, id);
    alive.push_back(id);
  }
  if (alive != s.alive) dirty_subjects_.insert(&subject);
  s.alive = std::move(alive);

  // What it read, for the next events (its own case needs no entry).
  reads_.cases.erase(subject.record.stream_id());
  std::vector<std::string> cases(reads_.cases.begin(), reads_.cases.end());
  std::vector<std::string> matters(reads_.matters.begin(), reads_.matters.end());
  std::sort(cases.begin(), cases.end());
  std::sort(matters.begin(), matters.end());
  if (cases == s.cases && matters == s.matters && reads_.council_until == s.council_until) return;
  dirty_subjects_.insert(&subject);
  Forget(&subject, s);
  for (const std::string& key : cases) case_readers_[key].insert(&subject);
  for (const std::string& key : matters) matter_readers_[key].insert(&subject);
  if (reads_.council_until != INT64_MIN) council_readers_.emplace(reads_.council_until, &subject);
  s.cases = std::move(cases);
  s.matters = std::move(matters);
  s.council_until = reads_.council_until;
}

std::string FindingsIndex::Fingerprint() const {
  const FairnessSettings& s = settings_;
  std::string out =
      absl::StrCat("findings-1|", s.council_name, "|", s.offer_deadline_working_days, "|",
                   s.equal_offer_lookback_days, "|", s.query_reply_working_days, "|",
                   s.same_matter_window_days, "|", s.parity_alpha, "|", s.decline_rate_gap, "|",
                   s.late_reply_gap, "|", s.officer_time_ratio, "|", s.parity_min_cases, "|",
                   calendar_.first_year(), "-", calendar_.last_year());
  for (absl::CivilDay d : calendar_.bank_holidays())
    absl::StrAppend(&out, "|", absl::FormatCivilTime(d));
  return out;
}

void FindingsIndex::ForEachDirty(
    const std::function<void(const state::FindingEntryRecord&)>& entry,
    const std::function<void(const state::SubjectRecord&)>& subject) const {
  state::FindingEntryRecord e;
  for (uint32_t id : dirty_entries_) {
    const Entry& x = entries_[id];
    e.Clear();
    e.set_id(id);
    e.set_obligation(x.decided.obligation);
    e.set_when_nanos(x.decided.when_nanos);
    e.set_proto(x.decided.proto);
    for (const auto& [position, summary] : x.decided.evidence) {
      state::EvidenceRecord* r = e.add_evidence();
      r->set_position(position);
      r->set_summary(summary);
    }
    e.set_subject(x.subject->record.stream_id());
    e.set_appeared(x.appeared);
    e.set_withdrawn(x.withdrawn == UINT64_MAX ? 0 : x.withdrawn);
    entry(e);
  }
  state::SubjectRecord r;
  for (const Case* c : dirty_subjects_) {
    const Subject& s = subjects_.at(c);
    r.Clear();
    r.set_stream_id(c->record.stream_id());
    for (uint32_t id : s.alive) r.add_alive(id);
    for (const std::string& key : s.cases) r.add_cases(key);
    for (const std::string& key : s.matters) r.add_matters(key);
    r.set_council_until(s.council_until);
    subject(r);
  }
}

void FindingsIndex::ClearDirty() {
  // While seeding nothing is checkpointed: keep it all for the first
  // checkpoint after.
  if (seeding_) return;
  dirty_entries_.clear();
  dirty_subjects_.clear();
}

absl::Status FindingsIndex::RestoreEntry(const state::FindingEntryRecord& record,
                                         const FindCase& find) {
  if (record.id() != entries_.size()) {
    return absl::DataLossError(absl::StrCat("findings index checkpoint: entry ", record.id(),
                                            " where ", entries_.size(), " was expected"));
  }
  const Case* subject = find(record.subject());
  if (subject == nullptr) {
    return absl::DataLossError(
        absl::StrCat("findings index checkpoint: entry ", record.id(),
                     " names a case not in the checkpoint: ", record.subject()));
  }
  Entry& e = entries_.emplace_back();
  e.decided.obligation = record.obligation();
  e.decided.when_nanos = record.when_nanos();
  e.decided.proto = record.proto();
  for (const state::EvidenceRecord& r : record.evidence()) {
    e.decided.evidence.emplace_back(r.position(), r.summary());
  }
  e.subject = subject;
  e.appeared = record.appeared();
  e.withdrawn = record.withdrawn() == 0 ? UINT64_MAX : record.withdrawn();
  (e.decided.obligation ? obligations_by_due_ : findings_by_date_)
      .emplace(e.decided.when_nanos, record.id());
  return absl::OkStatus();
}

absl::Status FindingsIndex::RestoreSubject(const state::SubjectRecord& record,
                                           const FindCase& find) {
  const Case* subject = find(record.stream_id());
  if (subject == nullptr) {
    return absl::DataLossError(absl::StrCat(
        "findings index checkpoint: subject not in the checkpoint: ", record.stream_id()));
  }
  Subject& s = subjects_[subject];
  for (uint32_t id : record.alive()) {
    if (id >= entries_.size()) {
      return absl::DataLossError(absl::StrCat("findings index checkpoint: ", record.stream_id(),
                                              " holds entry ", id, ", which is missing"));
    }
    s.alive.push_back(id);
  }
  s.cases.assign(record.cases().begin(), record.cases().end());
  s.matters.assign(record.matters().begin(), record.matters().end());
  s.council_until = record.council_until();
  for (const std::string& key : s.cases) case_readers_[key].insert(subject);
  for (const std::string& key : s.matters) matter_readers_[key].insert(subject);
  if (s.council_until != INT64_MIN) council_readers_.emplace(s.council_until, subject);
  return absl::OkStatus();
}

void FindingsIndex::Restored(uint64_t complete_from) {
  seeding_ = false;
  complete_from_ = complete_from;
}

void FindingsIndex::Collect(const ReportQuery& q, ReportBuilder* builder) const {
  const uint64_t p = q.as_of_position;
  auto alive = [p](const Entry& e) { return e.appeared <= p && p < e.withdrawn; };
  const int64_t from = Clamp(q.from);
  const int64_t to = Clamp(q.to);  // exclusive
  const int64_t as_of = Clamp(q.as_of_time);
  // Findings dated in [from, to) and not after the as-of time.
  for (auto it = findings_by_date_.lower_bound(from);
       it != findings_by_date_.end() && it->first < to && it->first <= as_of; ++it) {
    const Entry& e = entries_[it->second];
    if (alive(e)) builder->AddDecided(e.decided);
  }
  // Obligations due in [from, to) and still open: due after the as-of time.
  const int64_t open_from = as_of == INT64_MAX ? INT64_MAX : std::max(from, as_of + 1);
  for (auto it = obligations_by_due_.lower_bound(open_from);
       it != obligations_by_due_.end() && it->first < to; ++it) {
    const Entry& e = entries_[it->second];
    if (alive(e)) builder->AddDecided(e.decided);
  }
}

}  // namespace evenhand::projections::internal
