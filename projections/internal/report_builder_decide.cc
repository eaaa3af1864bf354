// ReportBuilder, deciding one case's findings for the findings index
// (findings_index.h): the builder kept by the index, the two passes of
// Decide(), and what a kPeriodOnly report takes back from the index. The
// reads Decide() records are noted by the accessors in report_builder.cc.
#include <algorithm>
#include <cstdint>
#include <utility>

#include "base/time_util.h"
#include "projections/internal/day_nanos.h"
#include "projections/internal/group_figures.h"
#include "projections/internal/report_builder.h"
#include "projections/internal/rules/rule.h"

namespace evenhand::projections::internal {

ReportBuilder::ReportBuilder(const FairnessProjection& projection, const FairnessSettings& settings,
                             const WorkingDayCalendar& calendar, ForIndex)
    : projection_(projection),
      indexes_(projection.indexes()),
      settings_(settings),
      calendar_(calendar),
      period_end_(absl::InfiniteFuture()),
      pass_(Pass::kIndexFindings),
      registry_(std::make_shared<CouncilRegistry>()),  // position 0's
      // Folded into before: read whole at the first change (or the seeding).
      registry_whole_(projection.position() == 0) {}

std::vector<Decided> ReportBuilder::Decide(const Case& subject, uint64_t position, Reads* reads,
                                           std::vector<Contribution>* figures) {
  ReleaseBodies();  // read afresh: the fold may have changed them since
  query_.as_of_position = position;
  reads->Clear();
  reads_ = reads;
  for (auto& cases : cases_) cases.emplace();
  subject_members_.clear();
  subject_ = &subject;
  if (subject.kind == CaseKind::kMember) {
    subject_members_.push_back(&subject);
  } else {
    cases_[static_cast<size_t>(subject.kind)]->push_back(&subject);
  }
  std::vector<Decided> out;
  // Findings as of the end of time: each is shown from its date on. Then
  // obligations as of the start of time: each is open until it falls due.
  // Each pass works its cached views out afresh (a query's outcome depends
  // on the moment it is judged at).
  for (Pass pass : {Pass::kIndexFindings, Pass::kIndexObligations}) {
    pass_ = pass;
    query_.as_of_time =
        pass == Pass::kIndexFindings ? absl::InfiniteFuture() : absl::InfinitePast();
    briefing_views_.clear();
    attendances_.clear();
    briefings_by_group_.clear();
    withdrawn_offers_.clear();
    advice_.clear();
    query_outcomes_.clear();
    uncovered_deadlines_.clear();
    evidence_.clear();
    for (const RuleDef& rule : Rules()) {
      if (rule.check != nullptr && (pass == Pass::kIndexFindings || rule.obligations)) {
        rule.check(*this);
      }
    }
    // The group figures, which do not depend on the moment (a query not
    // yet due carries its deadline instead).
    if (pass == Pass::kIndexFindings) AddContributions(*this, subject, figures);
    auto cited = [&](const auto& positions) {
      std::vector<std::pair<uint64_t, std::string>> evidence;
      for (uint64_t p : positions) evidence.emplace_back(p, evidence_.at(p));
      return evidence;
    };
    for (const v1::Finding& f : findings_) {
      out.push_back({false, absl::ToUnixNanos(FromProtoTime(f.occurred_at())),
                     f.SerializeAsString(), cited(f.evidence_positions())});
    }
    for (const v1::Obligation& o : obligations_) {
      out.push_back({true, absl::ToUnixNanos(FromProtoTime(o.due_at())), o.SerializeAsString(),
                     cited(o.evidence_positions())});
    }
    findings_.clear();
    obligations_.clear();
  }
  reads_ = nullptr;
  subject_ = nullptr;
  // Nothing read is held between decisions (`out` holds copies), so the
  // cases' facts may leave memory.
  briefing_views_.clear();
  attendances_.clear();
  briefings_by_group_.clear();
  withdrawn_offers_.clear();
  advice_.clear();
  query_outcomes_.clear();
  uncovered_deadlines_.clear();
  evidence_.clear();
  ReleaseBodies();
  return out;
}

void ReportBuilder::AddDecided(const Decided& d) {
  if (given_up()) return;
  if (tallying()) return AddDecidedProto(d.obligation, d.when_nanos, d.proto);
  for (const auto& [position, summary] : d.evidence) {
    if (evidence_.try_emplace(position, summary).second) SpendOnSummary(summary);
  }
  AddDecidedProto(d.obligation, d.when_nanos, d.proto);
}

void ReportBuilder::AddDecided(const state::FindingEntryRecord& stored) {
  if (given_up()) return;
  if (tallying()) return AddDecidedProto(stored.obligation(), stored.when_nanos(), stored.proto());
  for (const state::EvidenceRecord& x : stored.evidence()) {
    if (evidence_.try_emplace(x.position(), x.summary()).second) SpendOnSummary(x.summary());
  }
  AddDecidedProto(stored.obligation(), stored.when_nanos(), stored.proto());
}

void ReportBuilder::AddDecidedProto(bool obligation, int64_t when_nanos,
                                    const std::string& proto) {
  if (tallying()) {
    Spend(0);  // (a step: whether the caller still waits is asked)
    if (obligation && query_.keep != ReportQuery::Keep::kObligations) return;
    if (!obligation) {
      if (!tallied_.ParseFromString(proto)) return;
      Tally(tallied_.group_id(), tallied_.severity());
      if (!KeepsFinding(tallied_)) return;
      Spend(proto.size());
      findings_.emplace_back().Swap(&tallied_);
      return;
    }
  }
  Spend(proto.size());
  if (!obligation) {
    v1::Finding& f = findings_.emplace_back();
    f.ParseFromString(proto);
    return;
  }
  v1::Obligation& o = obligations_.emplace_back();
  o.ParseFromString(proto);
  o.set_working_days_left(static_cast<uint32_t>(
      calendar_.WorkingDaysBetween(calendar_.LocalDay(query_.as_of_time),
                                   calendar_.LastDayEndingBy(absl::FromUnixNanos(when_nanos)))));
}

void ReportBuilder::Tally(absl::string_view group_id, v1::Severity severity) {
  std::array<uint32_t, 3>& t = tallies_[group_id];
  if (severity == v1::HIGH) ++t[0];
  if (severity == v1::MEDIUM) ++t[1];
  if (severity == v1::LOW) ++t[2];
}

void ReportBuilder::EndBoundedReads(absl::Time until) const {
  bounded_reads_ = false;
  if (reads_ != nullptr) {
    const int64_t u = ClampToNanos(until);
    auto file = [u](std::vector<std::string>& names,
                    absl::flat_hash_map<std::string, int64_t>& to) {
      for (std::string& name : names) {
        auto [it, fresh] = to.try_emplace(std::move(name), u);
        if (!fresh) it->second = std::max(it->second, u);
      }
      names.clear();
    };
    file(section_cases_, reads_->bounded_cases);
    file(section_matters_, reads_->bounded_matters);
  }
}

void ReportBuilder::ReadCouncilAt(absl::Time t) const {
  if (reads_ == nullptr) return;
  reads_->council_until = std::max(reads_->council_until, ClampToNanos(t));
}

}  // namespace evenhand::projections::internal
