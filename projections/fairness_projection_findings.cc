// FairnessProjection: its findings index (internal/findings_index.h):
// kept, checkpointed and restored, and the events folded while it is read
// back after a start, decided once it is whole.
#include <algorithm>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "projections/fairness_projection.h"
#include "projections/internal/findings_index.h"

namespace evenhand::projections {

void FairnessProjection::IndexFindings(const FairnessSettings& settings,
                                       const WorkingDayCalendar& calendar) {
  findings_ = std::make_unique<internal::FindingsIndex>(*this, settings, calendar, position_ == 0);
  deferred_.reset();
}

void FairnessProjection::DropFindings() {
  findings_.reset();
  deferred_.reset();
}

bool FairnessProjection::SeedFindings(size_t max_cases) {
  return findings_ == nullptr || findings_->Seed(indexes_, position_, max_cases);
}

bool FairnessProjection::ForEachDirtyFindingsRecord(
    state::FindingsIndexHeader* header,
    const std::function<void(const state::FindingEntryRecord&)>& entry,
    const std::function<void(const state::SubjectRecord&)>& subject,
    const FigureChangesVisitor& figure_changes) const {
  if (findings_ == nullptr || findings_->complete_from() == UINT64_MAX) return false;
  header->set_fingerprint(findings_->Fingerprint());
  header->set_complete_from(findings_->complete_from());
  header->set_position(position_);
  header->set_next_id(findings_->entry_count());
  header->set_recorded_nanos(findings_->recorded_nanos());
  header->set_figures_known_from(findings_->figures().known_from());
  header->clear_links_ahead();
  for (std::string& id : findings_->links_ahead()) header->add_links_ahead(std::move(id));
  findings_->ForEachDirty(entry, subject, figure_changes);
  return true;
}

bool FairnessProjection::ForEachSeededFindingsRecord(
    const std::function<void(const state::FindingEntryRecord&)>& entry,
    const std::function<void(const state::SubjectRecord&)>& subject) const {
  return findings_ != nullptr && findings_->ForEachSeeded(entry, subject);
}

void FairnessProjection::SeededFindingsSaved() {
  if (findings_ != nullptr) findings_->SeededSaved();
}

bool FairnessProjection::findings_unsaved() const {
  return findings_ != nullptr && findings_->unsaved();
}

bool FairnessProjection::FindingsCheckpointUsable(const state::FindingsIndexHeader& header) const {
  return findings_ != nullptr && header.position() == position_ &&
         header.complete_from() <= position_ && header.fingerprint() == findings_->Fingerprint();
}

bool FairnessProjection::FindingsCheckpointUsableFor(const state::FindingsIndexHeader& header,
                                                     uint64_t position,
                                                     const FairnessSettings& settings,
                                                     const WorkingDayCalendar& calendar) {
  return header.position() == position && header.complete_from() <= position &&
         header.fingerprint() == internal::FindingsIndex::FingerprintOf(settings, calendar);
}

std::string FairnessProjection::FindingsFingerprint(const FairnessSettings& settings,
                                                    const WorkingDayCalendar& calendar) {
  return internal::FindingsIndex::FingerprintOf(settings, calendar);
}

absl::Status FairnessProjection::RestoreProvisionalFinding(
    const state::FindingEntryRecord& record) {
  return findings_->RestoreProvisional(record, [this](const std::string& id) { return Find(id); });
}

absl::Status FairnessProjection::RestoreFindingSubject(const state::SubjectRecord& record) {
  return findings_->RestoreSubject(record, [this](const std::string& id) { return Find(id); });
}

void FairnessProjection::DeferFindingsUntilRestored() {
  if (findings_ != nullptr && !deferred_) deferred_.emplace();
}

void FairnessProjection::FindingsFolded(const Case& c, const state::FactRecord& fact,
                                        uint64_t position, int64_t recorded_nanos, bool new_case) {
  if (findings_ == nullptr) return;
  if (deferred_) {
    deferred_->push_back({&c, position, fact.position(), recorded_nanos, new_case});
    return;
  }
  findings_->Folded(c, fact, position, recorded_nanos, new_case);
}

absl::Status FairnessProjection::FindingsRestored(const state::FindingsIndexHeader& header) {
  std::optional<std::vector<DeferredFold>> deferred = std::exchange(deferred_, std::nullopt);
  EH_RETURN_IF_ERROR(findings_->Restored(header));
  if (!deferred || deferred->empty()) return absl::OkStatus();
  // Decided now, in the order they were folded, each as of its position:
  // the cases hold later facts too, which every decision leaves out (as a
  // report as of an earlier position does). A case one of them made did
  // not exist before it (FindingsIndex::Replaying).
  absl::flat_hash_map<const Case*, uint64_t> made_at;
  for (const DeferredFold& d : *deferred) {
    if (d.new_case) made_at.emplace(d.c, d.position);
  }
  findings_->Replaying(std::move(made_at));
  absl::Status replayed = [&]() -> absl::Status {
    for (const DeferredFold& d : *deferred) {
      // Changed since the checkpoint, so held: Body() reads none back.
      absl::Status read_error;
      const std::shared_ptr<const state::CaseRecord> body = Body(*d.c, &read_error);
      EH_RETURN_IF_ERROR(read_error);
      const auto& facts = body->facts();
      auto it =
          std::lower_bound(facts.begin(), facts.end(), d.fact_position,
                           [](const state::FactRecord& f, uint64_t p) { return f.position() < p; });
      if (it == facts.end() || it->position() != d.fact_position) {
        return absl::InternalError(absl::StrCat(
            "the fact at position ", d.fact_position,
            " folded while the findings index was read back is not in case ", d.c->stream_id()));
      }
      findings_->Folded(*d.c, *it, d.position, d.recorded_nanos, d.new_case);
    }
    return absl::OkStatus();
  }();
  findings_->Replaying({});
  // Never served half replayed (the caller drops it too, once mu_ is let go).
  if (!replayed.ok()) findings_.reset();
  return replayed;
}

void FairnessProjection::StoreFindingsIn(const StoredFindings* stored) {
  if (findings_ != nullptr) findings_->StoreIn(stored);
}

uint64_t FairnessProjection::findings_complete_from() const {
  return findings_ == nullptr ? UINT64_MAX : findings_->complete_from();
}

bool FairnessProjection::findings_indexed() const {
  return findings_ != nullptr && findings_->complete_from() <= position_;
}

size_t FairnessProjection::indexed_entries() const {
  return findings_ == nullptr ? 0 : findings_->entry_count();
}

size_t FairnessProjection::figure_changes_kept() const {
  return findings_ == nullptr ? 0 : findings_->figures().history_size();
}

size_t FairnessProjection::findings_subjects_held() const {
  return findings_ == nullptr ? 0 : findings_->subjects_held();
}

uint64_t FairnessProjection::findings_decisions() const {
  return findings_ == nullptr ? 0 : findings_->decisions();
}

uint64_t FairnessProjection::figures_known_from() const {
  return findings_ == nullptr ? UINT64_MAX : findings_->figures().known_from();
}

}  // namespace evenhand::projections
