#include "projections/fairness_projection.h"

#include <algorithm>
#include <cassert>
#include <tuple>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "base/logging.h"
#include "base/status_macros.h"
#include "google/protobuf/util/time_util.h"
#include "projections/internal/case_bodies.h"
#include "projections/internal/case_table.h"
#include "projections/internal/confidential_values.h"
#include "projections/internal/council_registry.h"
#include "projections/internal/decisions_digest.h"  // generated (CMakeLists.txt)
#include "projections/internal/findings_index.h"
#include "projections/internal/report_builder.h"

namespace evenhand::projections {
namespace {

struct Prefix {
  const char* text;
  CaseKind kind;
};
constexpr Prefix kPrefixes[] = {
    {"group-", CaseKind::kGroup},       {"member-", CaseKind::kMember},
    {"officer-", CaseKind::kOfficer},   {"election-", CaseKind::kElection},
    {"briefing-", CaseKind::kBriefing}, {"meeting-", CaseKind::kMeeting},
    {"query-", CaseKind::kQuery},       {"complaint-", CaseKind::kComplaint},
    {"access-", CaseKind::kAccess},
};

int64_t ToNanos(const google::protobuf::Timestamp& ts) {
  return google::protobuf::util::TimeUtil::TimestampToNanoseconds(ts);
}

template <typename Cases>
void AddOnce(Cases* cases, const Case* c) {
  if (std::find(cases->begin(), cases->end(), c) == cases->end()) cases->push_back(c);
}

}  // namespace

FairnessSettings FairnessSettings::FromConfig(const v1::FairnessConfig& c) {
  FairnessSettings s;
  if (!c.council_name().empty()) s.council_name = c.council_name();
  if (c.offer_deadline_working_days() != 0) {
    s.offer_deadline_working_days = static_cast<int>(c.offer_deadline_working_days());
  }
  if (c.equal_offer_lookback_days() != 0) {
    s.equal_offer_lookback_days = static_cast<int>(c.equal_offer_lookback_days());
  }
  if (c.query_reply_working_days() != 0) {
    s.query_reply_working_days = static_cast<int>(c.query_reply_working_days());
  }
  if (c.same_matter_window_days() != 0) {
    s.same_matter_window_days = static_cast<int>(c.same_matter_window_days());
  }
  if (c.parity_alpha() != 0) s.parity_alpha = c.parity_alpha();
  if (c.decline_rate_gap() != 0) s.decline_rate_gap = c.decline_rate_gap();
  if (c.late_reply_gap() != 0) s.late_reply_gap = c.late_reply_gap();
  if (c.officer_time_ratio() != 0) s.officer_time_ratio = c.officer_time_ratio();
  if (c.parity_min_cases() != 0) s.parity_min_cases = static_cast<int>(c.parity_min_cases());
  return s;
}

absl::Status FairnessSettings::Check(const v1::FairnessConfig& c) {
  auto share = [](const char* field, double value, double low, bool low_included, double high,
                  const char* meaning) -> absl::Status {
    // (Written so that NaN is out of range too.)
    if (value == 0 || ((low_included ? value >= low : value > low) && value <= high)) {
      return absl::OkStatus();
    }
    return absl::InvalidArgumentError(
        absl::StrCat("fairness.", field, ": ", value, " is out of range: ", meaning, ", ",
                     low_included ? "from " : "more than ", low, " to ", high,
                     " (or leave it out for the "
                     "protocol's default)"));
  };
  EH_RETURN_IF_ERROR(share("parityAlpha", c.parity_alpha(), 0, false, 0.5,
                           "a significance level (0.05 is usual)"));
  EH_RETURN_IF_ERROR(share("declineRateGap", c.decline_rate_gap(), 0, false, 1,
                           "a difference of two shares (0.2 = 20 percentage points)"));
  EH_RETURN_IF_ERROR(share("lateReplyGap", c.late_reply_gap(), 0, false, 1,
                           "a difference of two shares (0.2 = 20 percentage points)"));
  EH_RETURN_IF_ERROR(share("officerTimeRatio", c.officer_time_ratio(), 0, false, 1,
                           "a fraction of the other groups' officer time (0.5 = half)"));
  auto days = [](const char* field, uint32_t value, uint32_t high,
                 const char* unit) -> absl::Status {
    if (value <= high) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrCat("fairness.", field, ": ", value,
                                                   " is out of range: at most ", high, " ", unit,
                                                   " (or leave it out for the protocol's "
                                                   "default)"));
  };
  EH_RETURN_IF_ERROR(
      days("offerDeadlineWorkingDays", c.offer_deadline_working_days(), 260, "working days"));
  EH_RETURN_IF_ERROR(
      days("queryReplyWorkingDays", c.query_reply_working_days(), 260, "working days"));
  EH_RETURN_IF_ERROR(days("equalOfferLookbackDays", c.equal_offer_lookback_days(), 3660, "days"));
  EH_RETURN_IF_ERROR(days("sameMatterWindowDays", c.same_matter_window_days(), 3660, "days"));
  EH_RETURN_IF_ERROR(days("parityMinCases", c.parity_min_cases(), 1000000, "cases"));
  return absl::OkStatus();
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

CaseKind KindOfStream(absl::string_view stream_id, absl::string_view* id) {
  for (const Prefix& p : kPrefixes) {
    if (absl::StartsWith(stream_id, p.text)) {
      if (id != nullptr) *id = stream_id.substr(std::char_traits<char>::length(p.text));
      return p.kind;
    }
  }
  if (id != nullptr) *id = stream_id;
  return CaseKind::kOther;
}

std::string CanonicalStream(const v1::Payload& p) {
  switch (p.kind_case()) {
    case v1::Payload::kPoliticalGroupRecognised:
      return absl::StrCat("group-", p.political_group_recognised().group_id());
    case v1::Payload::kPoliticalGroupDissolved:
      return absl::StrCat("group-", p.political_group_dissolved().group_id());
    case v1::Payload::kMemberRegistered:
      return absl::StrCat("member-", p.member_registered().member_id());
    case v1::Payload::kMemberJoinedGroup:
      return absl::StrCat("member-", p.member_joined_group().member_id());
    case v1::Payload::kMemberLeftGroup:
      return absl::StrCat("member-", p.member_left_group().member_id());
    case v1::Payload::kRelationshipDeclared:
      return absl::StrCat("member-", p.relationship_declared().member_id());
    case v1::Payload::kMemberParticipatedInDecision:
      return absl::StrCat("member-", p.member_participated_in_decision().member_id());
    case v1::Payload::kOfficerRegistered:
      return absl::StrCat("officer-", p.officer_registered().officer_id());
    case v1::Payload::kOfficerRoleChanged:
      return absl::StrCat("officer-", p.officer_role_changed().officer_id());
    case v1::Payload::kOfficerLeft:
      return absl::StrCat("officer-", p.officer_left().officer_id());
    case v1::Payload::kApprovalDelegated:
      return absl::StrCat("officer-", p.approval_delegated().delegate_officer_id());
    case v1::Payload::kApprovalDelegationRevoked:
      return absl::StrCat("officer-", p.approval_delegation_revoked().delegate_officer_id());
    case v1::Payload::kPreElectionPeriodDeclared:
      return absl::StrCat("election-", p.pre_election_period_declared().period_id());
    case v1::Payload::kBriefingRequested:
      return absl::StrCat("briefing-", p.briefing_requested().briefing_id());
    case v1::Payload::kBriefingApproved:
      return absl::StrCat("briefing-", p.briefing_approved().briefing_id());
    case v1::Payload::kBriefingDeclined:
      return absl::StrCat("briefing-", p.briefing_declined().briefing_id());
    case v1::Payload::kBriefingOffered:
      return absl::StrCat("briefing-", p.briefing_offered().offer_id());
    case v1::Payload::kBriefingDelivered:
      return absl::StrCat("briefing-", p.briefing_delivered().briefing_id());
    case v1::Payload::kBriefingOfferNotTakenUp:
      return absl::StrCat("briefing-", p.briefing_offer_not_taken_up().offer_id());
    case v1::Payload::kGroupInformationDisclosed:
      // Said at a briefing, or at the group's own meeting.
      return p.group_information_disclosed().briefing_id().empty()
                 ? absl::StrCat("meeting-", p.group_information_disclosed().meeting_id())
                 : absl::StrCat("briefing-", p.group_information_disclosed().briefing_id());
    case v1::Payload::kBriefingRequestWithdrawn:
      return absl::StrCat("briefing-", p.briefing_request_withdrawn().briefing_id());
    case v1::Payload::kOfficerAttendedGroupMeeting:
      return absl::StrCat("meeting-", p.officer_attended_group_meeting().meeting_id());
    case v1::Payload::kWrittenQueryReceived:
      return absl::StrCat("query-", p.written_query_received().query_id());
    case v1::Payload::kWrittenQueryAcknowledged:
      return absl::StrCat("query-", p.written_query_acknowledged().query_id());
    case v1::Payload::kWrittenQueryAnswered:
      return absl::StrCat("query-", p.written_query_answered().query_id());
    case v1::Payload::kWrittenQueryTimescaleRevised:
      return absl::StrCat("query-", p.written_query_timescale_revised().query_id());
    case v1::Payload::kComplaintRaised:
      return absl::StrCat("complaint-", p.complaint_raised().complaint_id());
    case v1::Payload::kComplaintEscalated:
      return absl::StrCat("complaint-", p.complaint_escalated().complaint_id());
    case v1::Payload::kComplaintResolved:
      return absl::StrCat("complaint-", p.complaint_resolved().complaint_id());
    case v1::Payload::kComplaintReferredToStandardsCommittee:
      return absl::StrCat("complaint-",
                          p.complaint_referred_to_standards_committee().complaint_id());
    case v1::Payload::kEventCorrected:
    case v1::Payload::kAccessRecorded:
    case v1::Payload::KIND_NOT_SET:
      return "";
  }
  return "";
}

FairnessProjection::FairnessProjection()
    : cases_(std::make_unique<internal::CaseTable>()),
      bodies_(std::make_unique<internal::CaseBodies>()),
      registries_(std::make_unique<internal::CouncilRegistryCache>()) {}
FairnessProjection::~FairnessProjection() = default;

const Case* FairnessProjection::Find(absl::string_view stream_id) const {
  return cases_->Find(stream_id);
}

size_t FairnessProjection::case_count() const { return cases_->size(); }

Case* FairnessProjection::CaseFor(absl::string_view stream_id) {
  bool made;
  Case* c = cases_->FindOrMake(stream_id, &made);
  if (made) {
    switch (c->kind) {
      case CaseKind::kGroup:
        indexes_.groups.push_back(c);
        indexes_.group_by_id[c->id()] = c;
        break;
      case CaseKind::kMember:
        indexes_.members.push_back(c);
        indexes_.member_by_id[c->id()] = c;
        break;
      case CaseKind::kOfficer:
        indexes_.officer_by_id[c->id()] = c;
        break;
      case CaseKind::kElection:
        indexes_.elections.push_back(c);
        break;
      case CaseKind::kBriefing:
        indexes_.briefings.push_back(c);
        indexes_.briefing_by_id[c->id()] = c;
        break;
      case CaseKind::kMeeting:
        indexes_.meetings.push_back(c);
        break;
      case CaseKind::kQuery:
        indexes_.queries.push_back(c);
        break;
      case CaseKind::kComplaint:
        indexes_.complaints.push_back(c);
        break;
      case CaseKind::kAccess:
        indexes_.access.push_back(c);
        break;
      case CaseKind::kOther:
        break;
    }
  }
  return c;
}

void FairnessProjection::OnMatter(absl::string_view matter, const Case* c) {
  // One look-up, and the matter's name kept only if it is new.
  auto it = indexes_.by_matter.lazy_emplace(matter, [&](const auto& construct) {
    construct(std::piecewise_construct, std::forward_as_tuple(cases_->Keep(matter)),
              std::forward_as_tuple());
  });
  AddOnce(&it->second, c);
}

void FairnessProjection::Index(Case* c, const v1::Payload& payload, int64_t occurred_nanos) {
  // Not while restored skeletons' starts wait to be filed (RestorePosition):
  // a start moved here would miss the one waiting.
  assert(restored_starts_.empty());
  if (const std::string* matter = MatterOf(payload); matter != nullptr && !matter->empty()) {
    OnMatter(*matter, c);
  }
  if (c->kind == CaseKind::kAccess) {
    // When its reads happened, every version: a derived report reads only
    // the cases that can touch its period.
    c->first_nanos = std::min(c->first_nanos, occurred_nanos);
    c->last_nanos = std::max(c->last_nanos, occurred_nanos);
    return;
  }
  if (c->kind != CaseKind::kBriefing && c->kind != CaseKind::kMeeting &&
      c->kind != CaseKind::kQuery && c->kind != CaseKind::kComplaint) {
    return;
  }
  Indexes::Timeline& timeline = indexes_.timelines[static_cast<size_t>(c->kind)];
  if (occurred_nanos < c->first_nanos) {
    if (c->first_nanos != INT64_MAX) {
      auto [begin, end] = timeline.by_start.equal_range(c->first_nanos);
      for (auto it = begin; it != end; ++it) {
        if (it->second == c) {
          timeline.by_start.erase(it);
          break;
        }
      }
    }
    c->first_nanos = occurred_nanos;
    timeline.by_start.emplace(occurred_nanos, c);
  }
  int64_t last = occurred_nanos;
  // A promised reply date keeps a query active until it passes: it names
  // a day, so until that day's end (at most 25 hours after its instant,
  // across a clock change).
  constexpr int64_t kDay = 25LL * 3600 * 1000000000;
  if (payload.has_written_query_acknowledged()) {
    last = std::max(last, ToNanos(payload.written_query_acknowledged().reply_due_at()) + kDay);
  } else if (payload.has_written_query_timescale_revised()) {
    last = std::max(last, ToNanos(payload.written_query_timescale_revised().reply_due_at()) + kDay);
  }
  c->last_nanos = std::max(c->last_nanos, last);
  if (!c->long_running &&
      c->last_nanos - c->first_nanos > absl::ToInt64Nanoseconds(Indexes::kLongRunning)) {
    c->long_running = true;
    timeline.long_running.push_back(c);
  }
}

void FairnessProjection::Apply(const v1::RecordedEvent& event) { Fold(event, nullptr); }

void FairnessProjection::Apply(v1::RecordedEvent&& event) {
  Fold(event, event.mutable_event()->mutable_payload());
}

void FairnessProjection::Fold(const v1::RecordedEvent& event, v1::Payload* take) {
  if (event.position() <= position_) return;
  position_ = event.position();
  const v1::Event& e = event.event();
  const size_t cases_before = cases_->size();
  const bool access = KindOfStream(e.stream_id(), nullptr) == CaseKind::kAccess;
  Case* c = access ? AccessCaseFor(e) : CaseFor(e.stream_id());
  if (c == nullptr) return;  // a correction of a read that names none
  if (c->kind == CaseKind::kGroup || c->kind == CaseKind::kMember ||
      c->kind == CaseKind::kOfficer || c->kind == CaseKind::kElection) {
    registries_->Changed(event.position());
  }
  const bool new_case = cases_->size() != cases_before;
  if (new_case) bodies_->Create(*c);
  dirty_.insert(c);
  state::CaseRecord* body = bodies_->MutableBody(*c);
  if (e.payload().has_event_corrected()) {
    const v1::EventCorrected& correction = e.payload().event_corrected();
    auto* facts = body->mutable_facts();
    auto it =
        std::lower_bound(facts->begin(), facts->end(), correction.corrected_position(),
                         [](const state::FactRecord& f, uint64_t p) { return f.position() < p; });
    // Validation on append guarantees the corrected event is in this
    // stream; a correction that names nothing here has nothing to correct.
    if (it == facts->end() || it->position() != correction.corrected_position()) return;
    state::CorrectionRecord* record = it->add_corrections();
    record->set_position(event.position());
    if (correction.has_replacement_occurred_at()) {
      record->set_occurred_at_nanos(ToNanos(correction.replacement_occurred_at()));
      if (!correction.has_replacement()) Index(c, it->payload(), record->occurred_at_nanos());
    }
    if (correction.has_replacement()) {
      if (take != nullptr) {
        record->mutable_replacement()->Swap(take->mutable_event_corrected()->mutable_replacement());
      } else {
        *record->mutable_replacement() = correction.replacement();
      }
      internal::DropConfidential(record->mutable_replacement());
      Index(c, record->replacement(),
            record->occurred_at_nanos() != 0 ? record->occurred_at_nanos()
                                             : it->occurred_at_nanos());
    }
    bodies_->Grew(*c, *record);
    FindingsFolded(*c, *it, event.position(), ToNanos(e.recorded_at()), new_case);
    return;
  }
  state::FactRecord* fact = body->add_facts();
  fact->set_position(event.position());
  fact->set_occurred_at_nanos(ToNanos(e.occurred_at()));
  // `take` is the event's own payload: read nothing of it after the swap.
  if (take != nullptr) {
    fact->mutable_payload()->Swap(take);
  } else {
    *fact->mutable_payload() = e.payload();
  }
  // Nothing decided reads them; the log keeps them (confidential_values.h).
  internal::DropConfidential(fact->mutable_payload());
  Index(c, fact->payload(), fact->occurred_at_nanos());
  if (access) AccessFactAt(e.stream_id(), c, event.position());
  bodies_->Grew(*c, *fact);
  FindingsFolded(*c, *fact, event.position(), ToNanos(e.recorded_at()), new_case);
}

void FairnessProjection::ForEachDirtyCase(
    const std::function<void(const state::CaseRecord&)>& visit) const {
  for (const Case* c : dirty_) {
    // Held until saved: never read back.
    if (auto body = bodies_->Get(*c); body.ok()) visit(**body);
  }
}

void FairnessProjection::ClearDirty() {
  for (const Case* c : dirty_) bodies_->Saved(*c);
  dirty_.clear();
  if (findings_ != nullptr) findings_->ClearDirty();
}

void FairnessProjection::Clear() {
  findings_.reset();
  deferred_.reset();
  dirty_.clear();
  bodies_->Clear();
  indexes_ = Indexes();
  std::vector<Start>().swap(restored_starts_);
  access_days_.clear();
  access_spans_.clear();
  access_chunks_.clear();
  cases_->Clear();
  position_ = 0;
  registries_->Changed(0);
}

void FairnessProjection::RestorePosition(uint64_t position) {
  // Stable: cases starting together stay in the order they came, as
  // Index() would have filed them.
  std::stable_sort(restored_starts_.begin(), restored_starts_.end(),
                   [](const Start& a, const Start& b) { return a.nanos < b.nanos; });
  for (const Start& s : restored_starts_) {
    auto& by_start = indexes_.timelines[static_cast<size_t>(s.c->kind)].by_start;
    // At the end when the timeline held nothing before (a restore): each
    // node filled before the next is begun.
    by_start.emplace_hint(by_start.end(), s.nanos, s.c);
  }
  std::vector<Start>().swap(restored_starts_);
  position_ = position;
  // Which of the restored facts was the registry's last is not known.
  registries_->Changed(position);
}

Case* FairnessProjection::AccessCaseFor(const v1::Event& e) {
  if (e.payload().has_event_corrected()) {
    const uint64_t corrected = e.payload().event_corrected().corrected_position();
    auto days = access_days_.find(e.stream_id());
    if (days == access_days_.end()) return nullptr;
    // Latest first: the cases whose facts span the position, then the one
    // that holds it.
    for (auto it = days->second.rbegin(); it != days->second.rend(); ++it) {
      const PositionSpan& span = access_spans_.at(*it);
      if (corrected < span.first || corrected > span.last) continue;
      absl::StatusOr<std::shared_ptr<const state::CaseRecord>> body = bodies_->Get(**it);
      if (!body.ok()) {
        CouldNotRead(body.status(), nullptr);
        return nullptr;
      }
      const auto& facts = (*body)->facts();
      auto fact = std::lower_bound(
          facts.begin(), facts.end(), corrected,
          [](const state::FactRecord& f, uint64_t p) { return f.position() < p; });
      if (fact != facts.end() && fact->position() == corrected) return *it;
    }
    return nullptr;
  }
  const absl::CivilDay day =
      absl::ToCivilDay(absl::FromUnixNanos(ToNanos(e.occurred_at())), absl::UTCTimeZone());
  std::string id = absl::StrCat(e.stream_id(), "#", absl::FormatCivilTime(day));
  AccessChunk& chunk = access_chunks_[id];
  if (chunk.facts >= kAccessReadsPerCase) {
    ++chunk.number;
    chunk.facts = 0;
  }
  ++chunk.facts;
  if (chunk.number > 1) absl::StrAppend(&id, "/", chunk.number);
  return CaseFor(id);
}

void FairnessProjection::AccessCaseRestored(const std::string& id) {
  const size_t day = id.find('#');
  if (day == std::string::npos) return;  // an older checkpoint's case of every day
  const size_t slash = id.find('/', day);
  uint32_t number = 1;
  if (slash != std::string::npos && !absl::SimpleAtoi(id.substr(slash + 1), &number)) return;
  AccessChunk& chunk = access_chunks_[id.substr(0, slash)];
  if (number >= chunk.number) chunk = {number, kAccessReadsPerCase};
}

void FairnessProjection::AccessFactAt(const std::string& stream, Case* c, uint64_t position) {
  PositionSpan& span = access_spans_[c];
  if (span.first == UINT64_MAX) access_days_[stream].push_back(c);
  span.first = std::min(span.first, position);
  span.last = std::max(span.last, position);
}

void FairnessProjection::RestoreCase(state::CaseRecord record,
                                     state::CaseSkeletonRecord* skeleton) {
  Case* c = CaseFor(record.stream_id());
  if (c->kind == CaseKind::kAccess) {
    const std::string& id = record.stream_id();
    AccessCaseRestored(id);
    for (const state::FactRecord& fact : record.facts()) {
      AccessFactAt(id.substr(0, id.find('#')), c, fact.position());
    }
  }
  for (const state::FactRecord& fact : record.facts()) {
    Index(c, fact.payload(), fact.occurred_at_nanos());
    for (const state::CorrectionRecord& correction : fact.corrections()) {
      if (correction.has_replacement() || correction.occurred_at_nanos() != 0) {
        Index(c, correction.has_replacement() ? correction.replacement() : fact.payload(),
              correction.occurred_at_nanos() != 0 ? correction.occurred_at_nanos()
                                                  : fact.occurred_at_nanos());
      }
    }
  }
  if (skeleton != nullptr) *skeleton = SkeletonOf(record);
  bodies_->Restore(*c, std::move(record));
}

state::CaseSkeletonRecord FairnessProjection::SkeletonOf(const state::CaseRecord& body) const {
  state::CaseSkeletonRecord skeleton;
  skeleton.set_stream_id(body.stream_id());
  const Case* c = Find(body.stream_id());
  if (c == nullptr) return skeleton;  // never: every body is a case's
  skeleton.set_first_nanos(c->first_nanos);
  skeleton.set_last_nanos(c->last_nanos);
  skeleton.set_long_running(c->long_running);
  auto add_matter = [&skeleton](const v1::Payload& payload) {
    const std::string* matter = MatterOf(payload);
    if (matter == nullptr || matter->empty()) return;
    for (const std::string& m : skeleton.matters()) {
      if (m == *matter) return;
    }
    skeleton.add_matters(*matter);
  };
  for (const state::FactRecord& fact : body.facts()) {
    add_matter(fact.payload());
    for (const state::CorrectionRecord& correction : fact.corrections()) {
      if (correction.has_replacement()) add_matter(correction.replacement());
    }
  }
  if (auto span = access_spans_.find(c); span != access_spans_.end()) {
    skeleton.set_first_position(span->second.first);
    skeleton.set_last_position(span->second.last);
  }
  return skeleton;
}

void FairnessProjection::RestoreSkeleton(const state::CaseSkeletonRecord& skeleton) {
  Case* c = CaseFor(skeleton.stream_id());
  c->first_nanos = skeleton.first_nanos();
  c->last_nanos = skeleton.last_nanos();
  for (const std::string& matter : skeleton.matters()) OnMatter(matter, c);
  if (c->kind == CaseKind::kAccess) {
    AccessCaseRestored(skeleton.stream_id());
    if (skeleton.first_position() != 0) {
      const std::string& id = skeleton.stream_id();
      access_days_[id.substr(0, id.find('#'))].push_back(c);
      access_spans_[c] = {skeleton.first_position(), skeleton.last_position()};
    }
    return;
  }
  if (c->kind != CaseKind::kBriefing && c->kind != CaseKind::kMeeting &&
      c->kind != CaseKind::kQuery && c->kind != CaseKind::kComplaint) {
    return;
  }
  // As Index() leaves them.
  Indexes::Timeline& timeline = indexes_.timelines[static_cast<size_t>(c->kind)];
  if (c->first_nanos != INT64_MAX) restored_starts_.push_back({c->first_nanos, c});
  if (skeleton.long_running()) {
    c->long_running = true;
    timeline.long_running.push_back(c);
  }
}

void FairnessProjection::KeepCasesIn(const StoredCases* stored, size_t budget_bytes) {
  bodies_->KeepIn(stored, budget_bytes);
}

std::shared_ptr<const state::CaseRecord> FairnessProjection::Body(const Case& c,
                                                                  absl::Status* read_error) const {
  absl::StatusOr<std::shared_ptr<const state::CaseRecord>> body = bodies_->Get(c);
  if (body.ok()) return *std::move(body);
  CouldNotRead(body.status(), read_error);
  // Never taken for the case: whoever reads it fails.
  auto empty = std::make_shared<state::CaseRecord>();
  empty->set_stream_id(std::string(c.stream_id()));
  return empty;
}

void FairnessProjection::TrimCases() const { bodies_->Trim(); }

absl::Status FairnessProjection::health() const { return bodies_->status(); }

absl::Status FairnessProjection::checkpoint_damage() const {
  absl::Status damage = bodies_->damage();
  if (damage.ok() && findings_ != nullptr) damage = findings_->damage();
  return damage;
}

size_t FairnessProjection::case_bytes_held() const { return bodies_->bytes(); }

size_t FairnessProjection::case_bytes_unsaved() const { return bodies_->unsaved_bytes(); }

v1::FairnessReport FairnessProjection::Report(const ReportQuery& query,
                                              const FairnessSettings& settings,
                                              const WorkingDayCalendar& calendar,
                                              absl::Status* read_error) const {
  if (findings_ == nullptr || !findings_->Serves(settings, calendar, query.as_of_position)) {
    return DerivedReport(query, settings, calendar, read_error);
  }
  internal::ReportBuilder builder(*this, query, settings, calendar,
                                  internal::ReportBuilder::Scope::kPeriodOnly, registries_.get());
  // The group table sums the index's running totals, taking back what
  // changed after the report's position; the access section too, as the
  // log stands now (as of an earlier position it is derived).
  internal::FigureChanges changes;
  if (query.as_of_position >= findings_->figures().known_from()) {
    const internal::FigureWindow window = internal::FigureWindow::Of(query);
    auto find = [this](const std::string& stream_id) { return Find(stream_id); };
    if (absl::Status s =
            findings_->FigureChangesSince(window, query.as_of_position, find, &changes);
        s.ok()) {
      builder.UseFigures(&findings_->figures(), &changes,
                         query.as_of_position >= position_ ? &findings_->access() : nullptr,
                         // Called while the report is built, after this
                         // block: by value.
                         [this, window, find,
                          position = query.as_of_position](internal::FigureChanges* one_by_one) {
                           return findings_->FigureChangesSince(window, position, find, one_by_one,
                                                                /*one_by_one=*/true);
                         });
    } else {
      logging::Error("fairness",
                     absl::StrCat("the group figures' stored changes could not be read (",
                                  s.ToString(), "): the group table is derived"));
    }
  }
  if (absl::Status s = findings_->Collect(query, &builder); !s.ok()) {
    logging::Error("fairness", absl::StrCat("the findings index could not be read (", s.ToString(),
                                            "): the report is derived in full"));
    if (query.budget != nullptr) query.budget->ForgetSpent();
    return DerivedReport(query, settings, calendar, read_error);
  }
  return Built(builder, read_error);
}

std::vector<std::vector<v1::Finding>> FairnessProjection::CaseFindings(
    const std::vector<std::string>& stream_ids, uint64_t position, const FairnessSettings& settings,
    const WorkingDayCalendar& calendar, absl::Status* read_error) const {
  std::vector<std::vector<v1::Finding>> out(stream_ids.size());
  internal::ReportBuilder builder(*this, settings, calendar, internal::ReportBuilder::ForIndex());
  builder.DecideForCaller();
  builder.ReloadRegistry(std::min(position, position_));
  internal::Reads reads;
  std::vector<internal::Contribution> figures;
  for (size_t i = 0; i < stream_ids.size(); ++i) {
    const Case* c = Find(stream_ids[i]);
    if (c == nullptr) continue;  // (nor a case begun after `position`: no facts then)
    switch (c->kind) {
      case CaseKind::kBriefing:
      case CaseKind::kMeeting:
      case CaseKind::kQuery:
      case CaseKind::kComplaint:
      case CaseKind::kMember:
        break;
      default:
        continue;
    }
    figures.clear();
    for (const internal::Decided& d : builder.Decide(*c, position, &reads, &figures)) {
      if (d.obligation) continue;
      v1::Finding& f = out[i].emplace_back();
      if (!f.ParseFromString(d.proto)) out[i].pop_back();
    }
  }
  if (!builder.read_error().ok()) CouldNotRead(builder.read_error(), read_error);
  return out;
}

v1::FairnessReport FairnessProjection::DerivedReport(const ReportQuery& query,
                                                     const FairnessSettings& settings,
                                                     const WorkingDayCalendar& calendar,
                                                     absl::Status* read_error) const {
  internal::ReportBuilder builder(*this, query, settings, calendar,
                                  internal::ReportBuilder::Scope::kEverything, registries_.get());
  return Built(builder, read_error);
}

v1::FairnessReport FairnessProjection::Built(internal::ReportBuilder& builder,
                                             absl::Status* read_error) const {
  v1::FairnessReport report = builder.Build();
  if (!builder.read_error().ok()) CouldNotRead(builder.read_error(), read_error);
  return report;
}

void FairnessProjection::CouldNotRead(const absl::Status& why, absl::Status* read_error) const {
  if (read_error == nullptr) {
    bodies_->Fail(why);
  } else if (read_error->ok()) {
    *read_error = why;
  }
}

std::vector<v1::RuleInfo> FairnessProjection::Rules(const FairnessSettings& settings) {
  return internal::RuleCatalogue(settings);
}

const char* FairnessProjection::DecisionsDigest() { return kDecisionsDigest; }

}  // namespace evenhand::projections
