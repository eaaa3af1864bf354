// FindingsIndex: the per-case findings and obligations, decided as events
// arrive and kept with the positions at which they appeared and were
// withdrawn, so a report reads the ones alive at its as-of position and
// dated (or due) in its period instead of re-deriving them from the cases.
// Internal to projections/.
//
// After each folded event the index decides again, with the rules' own code
// (ReportBuilder::Decide), the cases whose findings the event can change:
//   - its own case, if it is a subject (briefing, meeting, query, complaint
//     or councillor);
//   - every subject whose last decision read that case (for a councillor,
//     officer or group: its name or Director, so only an event that names
//     them), or listed the cases of a matter the event names;
//   - the briefing an officer's attendance at a group meeting links;
//   - for an event that changes the council's registry (a group, a
//     membership, an officer's role or delegation, a pre-election period),
//     every subject whose last decision asked about the council at or after
//     the earliest instant the event touches.
// It compares the result with what the subject had: what is new appears at
// the event's position, what is gone is withdrawn there. Deadlines need no
// rescan: a finding that comes from time passing is dated at its deadline
// and an obligation is due then, so a report as of time T shows the
// findings dated up to T and the obligations due after T.
//
// It also keeps each subject's contributions to its group's figures, and
// their running totals per day (GroupFigures), and the access records summed
// per day (AccessFigures), which reports as of the last position sum
// instead of counting the period's cases and records.
//
// With a store, what a subject has and read (its Subject) is held only from
// when an event decides it again until the next checkpoint has written it:
// then it is let go, and read back from the store (StoredFindings::
// GetSubject) when it is next decided. A restore reads every subject's
// record once, for the readers and the figures, and holds none. Seeding
// writes each slice's entries and subjects ahead of the first checkpoint
// and lets them go likewise (ForEachSeeded), so neither memory nor that
// checkpoint holds the whole history's.
//
// What it does not know: what depends on a period as a whole (which groups
// existed and their sizes, access-parity's statistics), which reports still
// derive (ReportBuilder::kPeriodOnly), nor the figures as of an earlier
// position, which such reports derive from the cases.
//
// Not thread-safe: the projection serialises updates against reports.
#ifndef EVENHAND_PROJECTIONS_INTERNAL_FINDINGS_INDEX_H_
#define EVENHAND_PROJECTIONS_INTERNAL_FINDINGS_INDEX_H_

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "evenhand/state/fairness_state.pb.h"
#include "projections/fairness_projection.h"
#include "projections/internal/access_figures.h"
#include "projections/internal/bounded_readers.h"
#include "projections/internal/group_figures.h"
#include "projections/internal/packed_names.h"
#include "projections/internal/report_builder.h"

namespace evenhand::projections::internal {

// Sorts `v` and drops its repeats.
template <typename T>
void SortUnique(std::vector<T>* v) {
  std::sort(v->begin(), v->end());
  v->erase(std::unique(v->begin(), v->end()), v->end());
}

class FindingsIndex {
 public:
  // `indexes` is the projection's; the settings and calendar are those the
  // findings are decided with (a report asking with others is derived in
  // full instead).
  // `seeded`: false for a projection already holding events, which must be
  // seeded (Seed()) before the index answers.
  FindingsIndex(const FairnessProjection& projection, FairnessSettings settings,
                WorkingDayCalendar calendar, bool seeded);
  FindingsIndex(const FindingsIndex&) = delete;
  FindingsIndex& operator=(const FindingsIndex&) = delete;

  // The projection folded the event at `position` into case `c`, adding or
  // correcting `fact`.
  // `recorded_nanos`: when that event was recorded.
  // `new_case`: the event opened `c`, so nothing of it can be stored yet
  // (its subject is not looked for in the store: most events of a busy
  // council open a case, and the look-up always missed).
  void Folded(const Case& c, const state::FactRecord& fact, uint64_t position,
              int64_t recorded_nanos, bool new_case);
  // Folded() is called for events folded while the index was read back
  // (FairnessProjection::DeferFindingsUntilRestored), whose cases already
  // hold the later ones: every decision reads as of its position (a
  // matter's briefings kept between decisions too: each event that
  // changes whose briefing each is clears them as it is folded again), and
  // what else Folded() reads of a case beyond it only decides more
  // subjects again, except whether a briefing exists: `made_at` says
  // which cases those events made, and the position each was made at.
  // Ended with Replaying({}).
  void Replaying(absl::flat_hash_map<const Case*, uint64_t> made_at);

  // For a projection restored from a checkpoint: decides up to `max_cases`
  // more subjects as the log stands at `position`, and true once every
  // subject has been decided. The index then answers for as-of positions
  // from `position` on (complete_from()); until then, for none.
  bool Seed(const FairnessProjection::Indexes& indexes, uint64_t position, size_t max_cases);

  // Reports as of a position before this are not the index's to answer
  // (it was seeded there, or is still seeding, or failed to read back what
  // it stored): derive them in full.
  uint64_t complete_from() const { return complete_from_; }
  bool Serves(const FairnessSettings& settings, const WorkingDayCalendar& calendar,
              uint64_t as_of_position) const {
    return as_of_position >= complete_from_ && settings == settings_ && calendar == calendar_;
  }

  // Adds to `builder` (a kPeriodOnly report for `query`) the findings alive
  // at the as-of position and dated in the period up to the as-of time, and
  // the obligations alive then, due in the period and still open. An error
  // (reading what was stored) leaves the report to be derived in full.
  absl::Status Collect(const ReportQuery& query, ReportBuilder* builder) const;

  // The group figures as the log stands (its last position), for reports
  // as of that position.
  const GroupFigures& figures() const { return figures_; }
  const AccessFigures& access() const { return access_; }
  // What changed in the figures of `w`'s days after `as_of_position`, held
  // or stored (GroupFigures::ChangedSince).
  absl::Status FigureChangesSince(const FigureWindow& w, uint64_t as_of_position,
                                  const GroupFigures::FindCase& find, FigureChanges* changes,
                                  bool one_by_one = false) const {
    return figures_.ChangedSince(w, as_of_position, stored_, find, changes, one_by_one);
  }

  // Entries decided so far, alive or withdrawn.
  uint32_t entry_count() const { return next_id_; }
  // Subjects held in memory.
  size_t subjects_held() const { return subjects_.size(); }
  // How many times a subject was decided (each event decides its own case
  // and every subject that read what it changes): what the fold spends.
  uint64_t decisions() const { return decisions_; }
  // OK, or why it failed if what it had stored was damaged or missing: its
  // checkpoint must be replaced.
  const absl::Status& damage() const { return damage_; }

  // ---- Checkpointing (beside the projection's cases) ----------------------
  // Identifies the settings, the calendar and the sources that decide (a
  // digest of them, made by the build): a checkpoint of another
  // configuration, or of a build whose rules differ, is not restored, and
  // every case is decided again.
  std::string Fingerprint() const { return FingerprintOf(settings_, calendar_); }
  static std::string FingerprintOf(const FairnessSettings& settings,
                                   const WorkingDayCalendar& calendar);
  // Entries are read back from `stored` once checkpointed (ClearDirty()).
  void StoreIn(const StoredFindings* stored) { stored_ = stored; }
  // What changed since the last ClearDirty(); with a store, the changes to
  // the group figures too (then forgotten).
  void ForEachDirty(const std::function<void(const state::FindingEntryRecord&)>& entry,
                    const std::function<void(const state::SubjectRecord&)>& subject,
                    const FigureChangesVisitor& figure_changes) const;
  void ClearDirty();
  // While seeding, when nothing else of the index is checkpointed: what
  // may be written ahead of the index's first checkpoint, a slice at a
  // time. Else that one checkpoint writes it all at once on the fold's
  // thread: every subject (490k records, 80 MB and ~6 s at 1M events) and
  // every entry the seeding decided (at 10M events over fifty years, a
  // batch that held reports back for a minute). The entries decided or
  // withdrawn since the last SeededSaved(), as a checkpoint writes them
  // (ForEachDirty), and the subjects decided or changed since. False,
  // visiting none, once seeded (or failed).
  bool ForEachSeeded(const std::function<void(const state::FindingEntryRecord&)>& entry,
                     const std::function<void(const state::SubjectRecord&)>& subject) const;
  // They were written: the entries are let go as a checkpoint lets them go
  // (read back from the store when withdrawn), and so are the subjects
  // (read back when decided again): memory holds one slice's worth, not the
  // whole seeding's.
  void SeededSaved();
  // Whether a checkpoint has anything of the index to write (never while
  // seeding, nor once failed).
  bool unsaved() const;
  // Restoring, on an index created unseeded over the restored cases: each
  // subject, then Restored().
  using FindCase = std::function<const Case*(const std::string& stream_id)>;
  absl::Status RestoreSubject(const state::SubjectRecord& record, const FindCase& find);
  absl::Status RestoreProvisional(const state::FindingEntryRecord& record, const FindCase& find);
  absl::Status Restored(const state::FindingsIndexHeader& header);
  int64_t recorded_nanos() const { return recorded_nanos_; }
  // Briefing ids linked ahead of their case, sorted (links_ahead_).
  std::vector<std::string> links_ahead() const;

 private:
  // An entry not yet checkpointed (or changed since), held in full.
  struct Entry {
    Decided decided;
    const Case* subject = nullptr;
    uint64_t appeared = 0;
    uint64_t withdrawn = UINT64_MAX;
    // Stored by date, not withdrawn (read back to be withdrawn), or as
    // provisional.
    bool stored = false;
    bool provisional_written = false;
    // Withdrawn before its date: forgotten, and what is stored deleted.
    bool deleted = false;
  };
  // An entry a subject has now.
  struct Alive {
    uint32_t id = 0;
    uint64_t digest = 0;
    int64_t when_nanos = 0;
    bool obligation = false;
    bool operator==(const Alive& o) const { return id == o.id && digest == o.digest; }
  };
  // What a subject has now, and what its last decision read. Kept small:
  // most cases are subjects (488k of 489k cases at 1M events).
  struct Subject {
    std::vector<Alive> alive;
    // The cases and the matters its last decision read, each sorted.
    PackedNames cases;
    PackedNames matters;
    int64_t council_until = INT64_MIN;
    // Read for their facts up to an instant only (Reads::bounded_*), and
    // not among the above: each name with its own instant, in the same
    // order. Most subjects read none so (null).
    struct Bounded {
      PackedNames cases;
      std::vector<int64_t> case_untils;
      PackedNames matters;
      std::vector<int64_t> matter_untils;
    };
    std::unique_ptr<Bounded> bounded;
    // Where what it adds to its group's figures is kept (GroupFigures::
    // OfCase), sorted: the figures keep the only copy.
    std::vector<GroupFigures::Key> figures;
  };

  // The entries and subjects parts of ForEachDirty(), and the entries part
  // of ClearDirty().
  void ForEachDirtyEntry(const std::function<void(const state::FindingEntryRecord&)>& entry) const;
  void ForEachDirtySubject(const std::function<void(const state::SubjectRecord&)>& subject) const;
  void EntriesSaved();
  // `recorded_nanos`: when the event at `position` was recorded (INT64_MIN
  // when seeding).
  void Decide(const Case& subject, uint64_t position, int64_t recorded_nanos);
  // The case of the briefing an attendance folded at `position` links
  // (`id`), or null: none named, or none yet (then noted in links_ahead_).
  const Case* LinkedBriefing(const std::string& id, uint64_t position);
  // Notes the briefing ids the attendances of `meeting` link that have no
  // case (links_ahead_).
  void NoteLinksAhead(const Case& meeting);
  void Withdraw(const Alive& alive, uint64_t position, int64_t recorded_nanos);
  void Forget(const Case* subject, const Subject& s);
  // Held, read back from the store, or new (nothing stored); nullptr once
  // reading it back failed (the index has failed then: Fail()).
  Subject* SubjectOf(const Case* subject);
  // `s` as `record` says (and its contributions to `contributions`, if
  // given).
  static absl::Status SubjectFromRecord(const state::SubjectRecord& record, const Case* subject,
                                        Subject* s, std::vector<Contribution>* contributions);
  // Enters `subject` among the readers of what `s` says it read.
  void AddReader(const Case* subject, const Subject& s);
  // Stops answering (every report derived in full) after a failure to read
  // back what was stored.
  void Fail(const absl::Status& status);
  state::FindingEntryRecord ToRecord(uint32_t id, const Entry& e) const;
  // What a stored entry says.
  static Decided FromRecord(const state::FindingEntryRecord& r);
  // `scratch` is reused from one subject to the next.
  void SubjectRecordOf(const Case* c, state::SubjectRecord* r,
                       std::vector<Contribution>* scratch) const;

  const FairnessSettings settings_;
  const WorkingDayCalendar calendar_;
  ReportBuilder builder_;
  const StoredFindings* stored_ = nullptr;
  uint64_t complete_from_ = 0;
  // Seeding: the next subject list and case in it.
  bool seeding_ = false;
  // Seeded since the last checkpoint, which has the header to write.
  bool seeded_unsaved_ = false;
  size_t seed_list_ = 0;
  size_t seed_next_ = 0;

  uint32_t next_id_ = 0;
  // The last position folded: no entry was withdrawn after it.
  uint64_t last_position_ = 0;
  // When the last event folded was recorded.
  int64_t recorded_nanos_ = INT64_MIN;
  // A finding not withdrawn whose date has not come (see state proto).
  // (Not knowing the time yet, after seeding, none is.)
  bool Provisional(const Entry& e) const {
    return recorded_nanos_ != INT64_MIN && !e.deleted && !e.decided.obligation &&
           e.withdrawn == UINT64_MAX && e.decided.when_nanos > recorded_nanos_;
  }
  // Entries decided or withdrawn since the last checkpoint, by id; and by
  // date or due time, for reports.
  absl::flat_hash_map<uint32_t, Entry> pending_;
  // The subject of each pending entry read back to be withdrawn.
  absl::flat_hash_map<uint32_t, std::string> subject_names_;
  absl::btree_multimap<int64_t, uint32_t> pending_findings_;
  absl::btree_multimap<int64_t, uint32_t> pending_obligations_;
  // By pointer: a table of values would be half empty after each growth.
  // With a store, only those decided since the last checkpoint, and those
  // read back since (see the header comment).
  absl::flat_hash_map<const Case*, std::unique_ptr<Subject>> subjects_;
  // Every subject not held is stored as it is (a restored index, or one
  // checkpointed since it was seeded): one not held is read back.
  bool subjects_stored_ = false;
  // While seeding (subjects_stored_ false): the subjects written ahead and
  // let go, stored as they are (SeededSaved()). Read back when decided
  // again, and not seeded again.
  absl::flat_hash_set<const Case*> let_go_;
  // Fail()ed: decides nothing more, and nothing of it is checkpointed (a
  // restart decides it afresh).
  bool failed_ = false;
  // Why, if what it stored was damaged or missing (DataLoss).
  absl::Status damage_;
  absl::flat_hash_map<std::string, absl::flat_hash_set<const Case*>> case_readers_;
  absl::flat_hash_map<std::string, absl::flat_hash_set<const Case*>> matter_readers_;
  // Readers of a case's or a matter's facts up to an instant, each with
  // that instant (Subject::bounded).
  BoundedReaders bounded_case_readers_;
  BoundedReaders bounded_matter_readers_;
  absl::btree_multimap<int64_t, const Case*> council_readers_;
  // Replaying(): the cases made after the checkpoint, by position.
  absl::flat_hash_map<const Case*, uint64_t> made_later_;
  Reads reads_;
  std::vector<Contribution> contributions_;
  GroupFigures figures_;
  AccessFigures access_;
  absl::flat_hash_set<const Case*> dirty_subjects_;
  uint32_t restored_ids_ = 0;
  // The ids of briefings an officer's attendance links that had no case
  // when it was folded (possible only without domain validation): a request
  // for one, when it comes, was given at that meeting, whenever it is
  // dated, so it decides again every reader of its matter up to any moment.
  // Kept in the header (normally none), noted while seeding from the
  // meetings.
  absl::flat_hash_set<std::string> links_ahead_;
  bool links_ahead_unsaved_ = false;
  uint64_t decisions_ = 0;
};

}  // namespace evenhand::projections::internal

#endif  // EVENHAND_PROJECTIONS_INTERNAL_FINDINGS_INDEX_H_
