// FindingsIndex (projections/internal/findings_index.h): what its
// checkpoint holds, and reading it back: the entries and subjects changed
// since the last one (as records), and a start's restoring of them.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "projections/internal/findings_index.h"

namespace evenhand::projections::internal {

Decided FindingsIndex::FromRecord(const state::FindingEntryRecord& r) {
  Decided d;
  d.obligation = r.obligation();
  d.when_nanos = r.when_nanos();
  d.proto = r.proto();
  for (const state::EvidenceRecord& x : r.evidence()) {
    d.evidence.emplace_back(x.position(), x.summary());
  }
  return d;
}

state::FindingEntryRecord FindingsIndex::ToRecord(uint32_t id, const Entry& x) const {
  state::FindingEntryRecord e;
  e.set_id(id);
  e.set_obligation(x.decided.obligation);
  e.set_when_nanos(x.decided.when_nanos);
  e.set_proto(x.decided.proto);
  for (const auto& [position, summary] : x.decided.evidence) {
    state::EvidenceRecord* r = e.add_evidence();
    r->set_position(position);
    r->set_summary(summary);
  }
  if (x.subject != nullptr) {
    e.set_subject(std::string(x.subject->stream_id()));
  } else if (auto it = subject_names_.find(id); it != subject_names_.end()) {
    e.set_subject(it->second);
  }
  e.set_appeared(x.appeared);
  e.set_withdrawn(x.withdrawn == UINT64_MAX ? 0 : x.withdrawn);
  e.set_deleted(x.deleted);
  return e;
}

void FindingsIndex::ForEachDirty(const std::function<void(const state::FindingEntryRecord&)>& entry,
                                 const std::function<void(const state::SubjectRecord&)>& subject,
                                 const FigureChangesVisitor& figure_changes) const {
  if (stored_ != nullptr) figures_.ForEachUnsaved(figure_changes);
  ForEachDirtyEntry(entry);
  ForEachDirtySubject(subject);
}

void FindingsIndex::ForEachDirtySubject(
    const std::function<void(const state::SubjectRecord&)>& subject) const {
  state::SubjectRecord r;
  std::vector<Contribution> scratch;
  for (const Case* c : dirty_subjects_) {
    SubjectRecordOf(c, &r, &scratch);
    subject(r);
  }
}

void FindingsIndex::ForEachDirtyEntry(
    const std::function<void(const state::FindingEntryRecord&)>& entry) const {
  for (const auto& [id, e] : pending_) {
    if (e.deleted) {
      if (!e.stored && !e.provisional_written) continue;
      state::FindingEntryRecord r;
      r.set_id(id);
      r.set_obligation(e.decided.obligation);
      r.set_when_nanos(e.decided.when_nanos);
      r.set_deleted(true);
      r.set_drop_dated(e.stored);
      r.set_drop_provisional(e.provisional_written);
      entry(r);
      continue;
    }
    if (Provisional(e)) {
      if (e.provisional_written) continue;  // stored as it is
      state::FindingEntryRecord r = ToRecord(id, e);
      r.set_provisional(true);
      entry(r);
      continue;
    }
    state::FindingEntryRecord r = ToRecord(id, e);
    r.set_drop_provisional(e.provisional_written);
    // Withdrawn since it was stored: it moves among the withdrawn.
    r.set_drop_dated(e.stored && e.withdrawn != UINT64_MAX);
    entry(r);
  }
}

void FindingsIndex::SubjectRecordOf(const Case* c, state::SubjectRecord* r,
                                    std::vector<Contribution>* scratch) const {
  const Subject& s = *subjects_.at(c);
  r->Clear();
  r->set_stream_id(std::string(c->stream_id()));
  for (const Alive& a : s.alive) {
    state::AliveEntryRecord* x = r->add_alive();
    x->set_id(a.id);
    x->set_digest(a.digest);
    x->set_when_nanos(a.when_nanos);
    x->set_obligation(a.obligation);
  }
  s.cases.ForEach([&](absl::string_view key) { r->add_cases(std::string(key)); });
  s.matters.ForEach([&](absl::string_view key) { r->add_matters(std::string(key)); });
  r->set_council_until(s.council_until);
  if (s.bounded != nullptr) {
    s.bounded->cases.ForEach(
        [&](absl::string_view key) { r->add_bounded_cases(std::string(key)); });
    s.bounded->matters.ForEach(
        [&](absl::string_view key) { r->add_bounded_matters(std::string(key)); });
    int64_t latest = INT64_MIN;
    for (int64_t u : s.bounded->case_untils) {
      r->add_bounded_case_until(u);
      latest = std::max(latest, u);
    }
    for (int64_t u : s.bounded->matter_untils) {
      r->add_bounded_matter_until(u);
      latest = std::max(latest, u);
    }
    r->set_bounded_until(latest);
  }
  scratch->clear();
  figures_.OfCase(c, s.figures, scratch);
  for (const Contribution& x : *scratch) *r->add_figures() = x.ToRecord();
}

bool FindingsIndex::ForEachSeeded(
    const std::function<void(const state::FindingEntryRecord&)>& entry,
    const std::function<void(const state::SubjectRecord&)>& subject) const {
  if (!seeding_ || stored_ == nullptr) return false;
  // Written without the header: a restart before the first checkpoint
  // finds none and drops them all (ProjectionRunner::RestoreFindings), so
  // what is written here counts only once that checkpoint is.
  ForEachDirtyEntry(entry);
  ForEachDirtySubject(subject);
  return true;
}

void FindingsIndex::SeededSaved() {
  if (!seeding_ || stored_ == nullptr) return;
  dirty_subjects_.clear();
  EntriesSaved();
  // Every subject held is now stored as it is (or had nothing to store).
  for (const auto& [c, s] : subjects_) let_go_.insert(c);
  subjects_.clear();
}

void FindingsIndex::ClearDirty() {
  // While seeding nothing is checkpointed: keep it all for the first
  // checkpoint after. Without a store, entries stay in memory. Nor is
  // anything once failed.
  if (seeding_ || failed_) return;
  seeded_unsaved_ = false;
  links_ahead_unsaved_ = false;
  dirty_subjects_.clear();
  if (stored_ == nullptr) return;
  figures_.Saved();
  // Every subject is stored as it is now (restored, or written by a
  // checkpoint since, the last one this one): none need be held.
  subjects_.clear();
  subjects_stored_ = true;
  let_go_.clear();
  EntriesSaved();
}

void FindingsIndex::EntriesSaved() {
  // Provisional findings stay held (reports read them from here); the rest
  // are read back from the store.
  pending_findings_.clear();
  pending_obligations_.clear();
  subject_names_.clear();
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (Provisional(it->second)) {
      it->second.provisional_written = true;
      pending_findings_.emplace(it->second.decided.when_nanos, it->first);
      ++it;
    } else {
      pending_.erase(it++);
    }
  }
}

absl::Status FindingsIndex::RestoreProvisional(const state::FindingEntryRecord& record,
                                               const FindCase& find) {
  const Case* subject = find(record.subject());
  if (subject == nullptr) {
    return absl::DataLossError(
        absl::StrCat("findings index checkpoint: entry ", record.id(),
                     " names a case not in the checkpoint: ", record.subject()));
  }
  Entry& e = pending_[record.id()];
  e.decided = FromRecord(record);
  e.subject = subject;
  e.appeared = record.appeared();
  e.provisional_written = true;
  pending_findings_.emplace(e.decided.when_nanos, record.id());
  restored_ids_ = std::max(restored_ids_, record.id() + 1);
  return absl::OkStatus();
}

absl::Status FindingsIndex::SubjectFromRecord(const state::SubjectRecord& record,
                                              const Case* subject, Subject* s,
                                              std::vector<Contribution>* contributions) {
  for (const state::AliveEntryRecord& a : record.alive()) {
    s->alive.push_back({a.id(), a.digest(), a.when_nanos(), a.obligation()});
  }
  s->cases = PackedNames::Of(record.cases());
  s->matters = PackedNames::Of(record.matters());
  s->council_until = record.council_until();
  // (A record of another build is never read: the index's fingerprint has
  // the decisions' digest.)
  if (record.bounded_case_until_size() != record.bounded_cases_size() ||
      record.bounded_matter_until_size() != record.bounded_matters_size()) {
    return absl::DataLossError(
        absl::StrCat("findings index checkpoint: subject ", record.stream_id(),
                     " has bounded reads whose instants do not match their names in number"));
  }
  if (record.bounded_cases_size() > 0 || record.bounded_matters_size() > 0) {
    s->bounded = std::make_unique<Subject::Bounded>();
    s->bounded->cases = PackedNames::Of(record.bounded_cases());
    s->bounded->matters = PackedNames::Of(record.bounded_matters());
    s->bounded->case_untils.assign(record.bounded_case_until().begin(),
                                   record.bounded_case_until().end());
    s->bounded->matter_untils.assign(record.bounded_matter_until().begin(),
                                     record.bounded_matter_until().end());
  }
  for (const state::FigureRecord& f : record.figures()) {
    if (f.kind() >= Contribution::kKinds) {
      return absl::DataLossError(absl::StrCat("findings index checkpoint: subject ",
                                              record.stream_id(), " has a figure of unknown kind ",
                                              f.kind()));
    }
    const Contribution x = Contribution::FromRecord(f, subject);
    s->figures.push_back(GroupFigures::KeyOf(x));
    if (contributions != nullptr) contributions->push_back(x);
  }
  std::sort(s->figures.begin(), s->figures.end());
  s->figures.erase(std::unique(s->figures.begin(), s->figures.end()), s->figures.end());
  return absl::OkStatus();
}

absl::Status FindingsIndex::RestoreSubject(const state::SubjectRecord& record,
                                           const FindCase& find) {
  const Case* subject = find(record.stream_id());
  if (subject == nullptr) {
    return absl::DataLossError(absl::StrCat(
        "findings index checkpoint: subject not in the checkpoint: ", record.stream_id()));
  }
  // Filed for the readers and the figures; held only without a store to
  // read it back from.
  Subject s;
  contributions_.clear();
  EH_RETURN_IF_ERROR(SubjectFromRecord(record, subject, &s, &contributions_));
  for (const Alive& a : s.alive) restored_ids_ = std::max(restored_ids_, a.id + 1);
  for (const Contribution& x : contributions_) figures_.AddRestored(x);
  AddReader(subject, s);
  if (stored_ == nullptr) subjects_[subject] = std::make_unique<Subject>(std::move(s));
  return absl::OkStatus();
}

bool FindingsIndex::unsaved() const {
  if (seeding_ || failed_) return false;
  // The header that makes the subjects written while seeding count.
  if (seeded_unsaved_ || links_ahead_unsaved_ || !dirty_subjects_.empty()) return true;
  for (const auto& [id, e] : pending_) {
    if (!(e.provisional_written && Provisional(e))) return true;
  }
  return false;
}

absl::Status FindingsIndex::Restored(const state::FindingsIndexHeader& header) {
  // Every contribution counted is filed, whatever follows.
  figures_.FinishRestoring();
  if (restored_ids_ > header.next_id()) {
    return absl::DataLossError(absl::StrCat("findings index checkpoint: a subject holds entry ",
                                            restored_ids_ - 1, ", beyond the last (",
                                            header.next_id(), ")"));
  }
  next_id_ = header.next_id();
  recorded_nanos_ = header.recorded_nanos();
  links_ahead_.insert(header.links_ahead().begin(), header.links_ahead().end());
  subjects_stored_ = stored_ != nullptr;
  last_position_ = header.position();
  // Decisions from here on read the council as the checkpoint left it.
  builder_.ReloadRegistry(header.position());
  access_.Rebuild(builder_, builder_.indexes().access);
  builder_.ReleaseBodies();
  seeding_ = false;
  complete_from_ = header.complete_from();
  // The totals' changes are stored from where they were first kept (a
  // checkpoint from before they were stored has none).
  figures_.Restored(
      header.has_figures_known_from() ? header.figures_known_from() : header.position(),
      header.position());
  return absl::OkStatus();
}

}  // namespace evenhand::projections::internal
