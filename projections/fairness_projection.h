// FairnessProjection: the log folded into the facts the fairness rules need,
// and the reports built from them.
//
// The fold is deliberately thin: it files every event under its case (its
// stream) and keeps corrections beside the facts they correct, each with its
// position. Everything the committee sees (metrics, findings) is derived at
// report time from those facts, for a period and *as the log stood at a
// position P*: a fact recorded after P, or a correction recorded after P, is
// simply not visible. So:
//   - an as-of report needs no refold and no snapshot: it reads the same
//     state with a different P, and equals a fresh fold of events 1..P;
//   - deadlines ("within five working days") are judged at the as-of time,
//     so a query not yet answered is pending before its deadline and a
//     finding after it;
//   - a late correction changes reports from its position on, and never
//     rewrites what an earlier as-of report said.
//
// That derivation is the reference (DerivedReport). With IndexFindings(),
// each case's findings and obligations are also decided as its events are
// folded and kept with the positions they appeared and were withdrawn at
// (internal/findings_index.h), with what each case adds to its group's
// figures, summed per day (internal/group_figures.h). Reports then read
// those, and derive only what depends on the period as a whole (which
// groups existed and their sizes, access-parity's statistics) and, as of an
// earlier position than the last, the group table. A property test holds
// the two to the same answers.
//
// The state is checkpointed case by case (see ProjectionRunner), so the fold
// resumes from its checkpoint and can always be rebuilt from position 1.
// With KeepCasesIn(), a checkpointed case's facts (its body) may leave
// memory and are read back when a decision or a report needs them
// (internal/case_bodies.h); its skeleton (kind, dates, place in the
// indexes) stays.
//
// Not thread-safe: the runner serialises Apply() against readers.
#ifndef EVENHAND_PROJECTIONS_FAIRNESS_PROJECTION_H_
#define EVENHAND_PROJECTIONS_FAIRNESS_PROJECTION_H_

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "evenhand/state/fairness_state.pb.h"
#include "evenhand/v1/config.pb.h"
#include "evenhand/v1/events.pb.h"
#include "evenhand/v1/fairness.pb.h"
#include "projections/report_budget.h"
#include "projections/working_day_calendar.h"

namespace evenhand::projections {

// The rules' thresholds, with the protocol defaults filled in.
struct FairnessSettings {
  std::string council_name = "the council";
  int offer_deadline_working_days = 5;
  int equal_offer_lookback_days = 90;
  int query_reply_working_days = 5;
  int same_matter_window_days = 180;
  double parity_alpha = 0.05;
  double decline_rate_gap = 0.2;
  double late_reply_gap = 0.2;
  double officer_time_ratio = 0.5;
  int parity_min_cases = 5;
  // How far ahead of the server's clock an event may say it happened (the
  // server's maxFutureSkewSeconds). Decides nothing: a report derived from
  // the cases also reads those that begin up to this long after its moment,
  // since one recorded by then (a query received "tomorrow") holds an
  // obligation open at it, as the findings index lists it.
  absl::Duration max_future_skew = absl::Hours(24);

  bool operator==(const FairnessSettings&) const = default;

  static FairnessSettings FromConfig(const v1::FairnessConfig& config);
  // InvalidArgument, naming the field and its range, for a threshold the
  // rules cannot mean (a significance level of 2, a negative gap, a
  // deadline of a billion working days): a report decided by it would be
  // signed and read as the protocol's. 0 is "the default" (proto3).
  static absl::Status Check(const v1::FairnessConfig& config);
};

// A councillor's time in a political group: [from, to).
struct MembershipSpell {
  std::string member_id;
  absl::Time from;
  absl::Time to;
};

// What a report covers.
struct ReportQuery {
  // The period, [from, to), by when things happened (occurred_at).
  absl::Time from = absl::InfinitePast();
  absl::Time to = absl::InfiniteFuture();
  // Only events at positions <= as_of_position are seen...
  uint64_t as_of_position = 0;
  // ...and deadlines are judged at this time: at or after the moment the
  // event at as_of_position was recorded, and before the next one was (as
  // the Fairness service pairs them: the log as it stood then). The
  // findings index relies on it (it forgets a finding withdrawn before its
  // date, which no such report can show); DerivedReport() does not.
  absl::Time as_of_time = absl::InfinitePast();
  // What the report keeps of what it finds. A period of fifty years holds
  // millions of findings; its groups' table holds their counts.
  enum class Keep {
    kEverything,
    // What the groups' and access tables show: each group's findings
    // counted (GroupMetrics' findings_high, _medium, _low), no finding,
    // obligation or cited event kept.
    kTables,
    // The tables, and the findings `keep_finding` accepts (every one
    // without it), each with its evidence positions: no obligation, and no
    // cited event's summary.
    kFindings,
    // The tables, and every obligation, each with its evidence positions:
    // no finding, and no cited event's summary.
    kObligations,
  };
  Keep keep = Keep::kEverything;
  std::function<bool(const v1::Finding&)> keep_finding = nullptr;
  // If given, the build stops once it is spent or given up
  // (report_budget.h): the report returned is then incomplete and must be
  // discarded. Not owned; one report's.
  ReportBudget* budget = nullptr;
};

// The kinds of case, by stream prefix ("briefing-B-1" is a briefing).
enum class CaseKind : uint8_t {
  kGroup,
  kMember,
  kOfficer,
  kElection,
  kBriefing,
  kMeeting,
  kQuery,
  kComplaint,
  kAccess,  // the server's access records of one principal (and one day)
  kOther,
};

// One case: its kind and what the indexes need. Its facts (one per event,
// position order: a state::CaseRecord) are its body, held apart
// (internal/case_bodies.h): in memory up to a budget, or read back from the
// checkpoint.
struct Case {
  // The stream ("briefing-B-1"), its characters held by the projection's
  // table of cases (internal/case_table.h) as long as the case.
  absl::string_view stream_id() const { return absl::string_view(stream_chars, stream_size); }
  // The id after the stream prefix ("B-1" of "briefing-B-1").
  absl::string_view id() const { return stream_id().substr(id_offset); }

  // 32 bytes: one per case of the log, every one in memory.
  const char* stream_chars = nullptr;
  uint32_t stream_size = 0;  // a stream id is short (storage's kMaxStreamIdBytes)
  uint8_t id_offset = 0;
  CaseKind kind = CaseKind::kOther;
  bool long_running = false;
  // When the case is active: its facts' earliest and latest occurred_at (or
  // a later reply date it promised), over every version of its facts.
  int64_t first_nanos = INT64_MAX;
  int64_t last_nanos = INT64_MIN;
};
static_assert(sizeof(Case) == 32);

// The kind and id of a stream, from its prefix; `id` (if given) is a part
// of `stream_id`.
CaseKind KindOfStream(absl::string_view stream_id, absl::string_view* id = nullptr);

// The matter a payload concerns (a briefing request or offer, a meeting
// attendance), or nullptr.
const std::string* MatterOf(const v1::Payload& payload);

// The canonical stream of a payload ("briefing-B-1" for a BriefingApproved
// of briefing B-1); "" for EventCorrected, which goes in the stream of the
// event it corrects.
std::string CanonicalStream(const v1::Payload& payload);

namespace internal {
class CaseBodies;
class CaseTable;
class CouncilRegistryCache;
class FindingsIndex;
class ReportBuilder;
}  // namespace internal

// Where the cases' bodies are kept once checkpointed (the runner's RocksDB),
// so the projection can drop them from memory and read them back.
class StoredCases {
 public:
  virtual ~StoredCases() = default;
  // The body of the case of `stream_id` as last checkpointed: a serialised
  // state::CaseRecord (the caller parses it, where it chooses).
  virtual absl::Status ReadCase(const std::string& stream_id, std::string* bytes) const = 0;
};

// A checkpoint's changes to the group figures of one UTC day (or a run of
// them), one by one and summed (GroupFigures::ForEachUnsaved), as the
// checkpoint stores them.
using FigureChangesVisitor = std::function<void(
    int64_t day, const state::FigureChangesRecord& changes, const state::FigureSumsRecord& sums)>;

// Where the findings index keeps what it has checkpointed (the runner's
// RocksDB): entries by kind, then whether withdrawn, then date (a finding)
// or due time (an obligation; a withdrawn entry first by the block of
// positions it was alive in), then id. A report as of the last position
// reads only the entries not withdrawn. Reads must see a consistent state.
class StoredFindings {
 public:
  virtual ~StoredFindings() = default;
  // The obligations (or findings), withdrawn or not, dated in [from, to),
  // until `visit` returns false: those not withdrawn in date order, the
  // withdrawn in no order promised. Withdrawn ones not alive at position
  // `alive_at` (not appeared by then, or withdrawn by then) may be left
  // out.
  virtual absl::Status Scan(bool obligations, bool withdrawn, int64_t from, int64_t to,
                            uint64_t alive_at,
                            const std::function<bool(const state::FindingEntryRecord&)>& visit)
      const = 0;
  // An entry not withdrawn.
  virtual absl::StatusOr<state::FindingEntryRecord> Get(bool obligation, int64_t when,
                                                         uint32_t id) const = 0;
  // What the subject of `stream_id` had and read at the last checkpoint;
  // NotFound if it had nothing to store.
  virtual absl::Status GetSubject(const std::string& stream_id,
                                  state::SubjectRecord* record) const = 0;
  // The changes to the group totals of the UTC days [first_day, last_day]
  // (days since 1970-01-01) made while folding a position after
  // `after_position`, by day, then position.
  virtual absl::Status ScanFigureChanges(
      int64_t first_day, int64_t last_day, uint64_t after_position,
      const std::function<void(const state::FigureChangeRecord&)>& visit) const = 0;
  // One record of them (changes to a `day` stored together, the last made
  // at `last_position`); NotFound if there is none.
  virtual absl::Status GetFigureChanges(int64_t day, uint64_t last_position,
                                        state::FigureChangesRecord* record) const = 0;
  // The same changes summed, as stored together (FigureSumsRecord), each
  // record whose last change came after `after_position` (its first may
  // not have), by day, then that last position.
  virtual absl::Status ScanFigureSums(
      int64_t first_day, int64_t last_day, uint64_t after_position,
      const std::function<void(int64_t day, uint64_t last_position,
                               const state::FigureSumsRecord&)>& visit) const = 0;
};

class FairnessProjection {
 public:
  FairnessProjection();
  ~FairnessProjection();
  FairnessProjection(const FairnessProjection&) = delete;
  FairnessProjection& operator=(const FairnessProjection&) = delete;

  // Folds the event at position() + 1 (positions must come in order; an
  // event at or before position() is ignored, so replaying is harmless).
  void Apply(const v1::RecordedEvent& event);
  // The same, taking the payload instead of copying it (a catch-up parses
  // each event only to fold it).
  void Apply(v1::RecordedEvent&& event);

  // The last position folded.
  uint64_t position() const { return position_; }

  // Keeps the findings index (internal/findings_index.h) from now on: each
  // event's per-case findings and obligations are decided as it is folded,
  // and reports with these settings and calendar read them instead of
  // deriving them. A projection already holding events (restored from a
  // checkpoint) must first decide every case once (SeedFindings); until
  // then, and as of any position before that, reports are derived in full.
  void IndexFindings(const FairnessSettings& settings, const WorkingDayCalendar& calendar);
  // Drops the index: reports are derived in full until IndexFindings().
  void DropFindings();
  // Decides up to `max_cases` more cases for the index; true when done (or
  // there is no index).
  bool SeedFindings(size_t max_cases);

  // Checkpointing the index beside the cases: its header, and what changed
  // since ClearDirty() (which clears these too): entries, subjects, and
  // (with a store) the changes to the group totals, which are then read
  // back from the store and no longer held.
  bool ForEachDirtyFindingsRecord(
      state::FindingsIndexHeader* header,
      const std::function<void(const state::FindingEntryRecord&)>& entry,
      const std::function<void(const state::SubjectRecord&)>& subject,
      const FigureChangesVisitor& figure_changes) const;
  // Whether the index has decided anything not yet checkpointed.
  bool findings_unsaved() const;
  // While seeding with a store (when the checkpoint writes nothing of the
  // index): the entries and subjects decided or changed since
  // SeededFindingsSaved(), to be written a slice at a time instead of all
  // in the index's first checkpoint (see FindingsIndex::ForEachSeeded),
  // then let go. A restore reads them only once a checkpoint has written
  // the index's header. False once seeded.
  bool ForEachSeededFindingsRecord(
      const std::function<void(const state::FindingEntryRecord&)>& entry,
      const std::function<void(const state::SubjectRecord&)>& subject) const;
  void SeededFindingsSaved();
  // Restoring it, after the cases, the position, IndexFindings() and
  // StoreFindingsIn(): if FindingsCheckpointUsable(header) (this
  // configuration, this position), each provisional finding and each
  // subject, then FindingsRestored(). Otherwise the index is seeded.
  bool FindingsCheckpointUsable(const state::FindingsIndexHeader& header) const;
  // The same, before IndexFindings(): whether an index of `settings` and
  // `calendar` could restore `header` over cases restored at `position`.
  static bool FindingsCheckpointUsableFor(const state::FindingsIndexHeader& header,
                                          uint64_t position, const FairnessSettings& settings,
                                          const WorkingDayCalendar& calendar);
  // What identifies an index of `settings` and `calendar` decided by this
  // build's rules (FindingsIndexHeader.fingerprint): a checkpoint with
  // another is decided again, never served.
  static std::string FindingsFingerprint(const FairnessSettings& settings,
                                         const WorkingDayCalendar& calendar);
  absl::Status RestoreFindingSubject(const state::SubjectRecord& record);
  absl::Status RestoreProvisionalFinding(const state::FindingEntryRecord& record);
  // Then the events folded since DeferFindingsUntilRestored() are decided.
  absl::Status FindingsRestored(const state::FindingsIndexHeader& header);
  // Once FindingsCheckpointUsable(), events may be folded while the index is
  // read back (a start then serves an event appended after it without
  // waiting for the whole index): filed in the cases at once, so a report
  // as of them is derived meanwhile, and decided by FindingsRestored(), in
  // the order they came, each as of its own position, as if the index had
  // been whole when they were folded. DropFindings() forgets them (the
  // index is then seeded afresh, or dropped, and decides them with the
  // rest).
  void DeferFindingsUntilRestored();
  // Checkpointed entries are read back from `stored` (which must outlive
  // the projection) and no longer held in memory. Without it, the index
  // keeps every entry in memory.
  void StoreFindingsIn(const StoredFindings* stored);

  // The report for `query`; query.as_of_position must be <= position().
  // If a case it needs cannot be read back (KeepCasesIn), the report is
  // wrong: `read_error` says why (the first such case), or without it,
  // health() does from then on.
  v1::FairnessReport Report(const ReportQuery& query, const FairnessSettings& settings,
                            const WorkingDayCalendar& calendar,
                            absl::Status* read_error = nullptr) const;
  // The same, always derived in full from the cases (the reference the
  // findings index is tested against).
  v1::FairnessReport DerivedReport(const ReportQuery& query, const FairnessSettings& settings,
                                   const WorkingDayCalendar& calendar,
                                   absl::Status* read_error = nullptr) const;
  // The findings (not the obligations) the rules decide for each case of
  // `stream_ids` as the log stood at `position` (<= position()), for any
  // period and any as-of time: a finding holds from its date on. None for a
  // case unknown then, or not a subject (a briefing, meeting, query,
  // complaint or councillor). The obligations' watch asks whether one that
  // closed before it fell due closed as a finding (a correction moved its
  // deadline into the past).
  std::vector<std::vector<v1::Finding>> CaseFindings(const std::vector<std::string>& stream_ids,
                                                     uint64_t position,
                                                     const FairnessSettings& settings,
                                                     const WorkingDayCalendar& calendar,
                                                     absl::Status* read_error = nullptr) const;
  // Each councillor's times in group `group_id` (while it existed), as the
  // council's registry stands at position(): what the audit's filter "events
  // concerning this group" reads for a group's written queries and
  // complaints, which name their councillor, not the group
  // (fairness_projection_council.cc).
  std::vector<MembershipSpell> GroupMemberships(const std::string& group_id,
                                                const FairnessSettings& settings,
                                                const WorkingDayCalendar& calendar) const;
  // How many findings and obligations the index holds (0 without one).
  size_t indexed_entries() const;
  // How many changes to the group totals the index holds in memory for
  // reports as of earlier positions (0 without one): with a store, those
  // made since the last checkpoint.
  size_t figure_changes_kept() const;
  // How many subjects' findings state the index holds in memory (0 without
  // one): with a store, those decided or read back since the last
  // checkpoint.
  size_t findings_subjects_held() const;
  // How many times the index decided a subject since it was made (0
  // without one): each event decides its own case and every subject that
  // read what the event changes.
  uint64_t findings_decisions() const;
  // Reports as of a position before this derive their group table
  // (UINT64_MAX: no index).
  uint64_t figures_known_from() const;
  // Whether reports as of the current position are served from the index.
  bool findings_indexed() const;
  // The first as-of position reports are served from the index for
  // (UINT64_MAX: none, no index or still seeding).
  uint64_t findings_complete_from() const;

  // The rules, their citations and settings.
  static std::vector<v1::RuleInfo> Rules(const FairnessSettings& settings);
  // A digest of the sources that decide findings and figures (this build's
  // rules, as code: cmake/source_digest.cmake), which any change to them
  // moves. The findings index and the rule set version of reports name it.
  static const char* DecisionsDigest();

  // The most reads (AccessRecorded facts) one case of a principal's day
  // holds (see AccessCaseFor).
  static constexpr uint32_t kAccessReadsPerCase = 512;

  // Keeps the cases' bodies in memory up to about `budget_bytes` (their
  // serialised size), reading the others back from `stored` (which must
  // outlive the projection): a checkpointed body may then leave memory.
  // The registry's cases and those changed since the last checkpoint stay.
  // nullptr (the default): every body stays in memory. Set it only on an
  // empty projection, or with nullptr together with Clear().
  void KeepCasesIn(const StoredCases* stored, size_t budget_bytes);
  // The facts of `c`, read back from the store if they left memory. Kept
  // alive while the pointer is held. If they cannot be read back, an empty
  // record, and the error goes to `read_error` (the first one) or, without
  // it, to health() from then on.
  std::shared_ptr<const state::CaseRecord> Body(const Case& c,
                                                absl::Status* read_error = nullptr) const;
  // Drops the bodies over budget that nobody holds any longer (a reader
  // that let go of many).
  void TrimCases() const;
  // OK, or why a case's body the fold (or a report given no read_error)
  // needed could not be read back: the projection is then wrong, and must
  // be neither reported from nor checkpointed.
  absl::Status health() const;
  // OK, or the first case's body (or the findings index's record) that
  // could not be read back because the checkpoint is damaged or lacks it
  // (by the fold or a report): the checkpoint must be replaced.
  absl::Status checkpoint_damage() const;
  // The bytes of the bodies in memory (serialised sizes): all of them, and
  // those changed since the last checkpoint, which stay until it is taken.
  size_t case_bytes_held() const;
  size_t case_bytes_unsaved() const;

  // Checkpointing. Cases changed since the last ClearDirty():
  void ForEachDirtyCase(const std::function<void(const state::CaseRecord&)>& visit) const;
  // Once each was serialised (its size is read from that serialisation, not
  // walked again). Then TrimCases(), with the exclusive lock released: the
  // cases saved may now be dropped.
  void ClearDirty();
  // What the indexes hold of the case of `body` (its skeleton), written
  // beside the body at each checkpoint (ForEachDirtyCase).
  state::CaseSkeletonRecord SkeletonOf(const state::CaseRecord& body) const;
  // Restoring: add each checkpointed case, then set the position it was
  // taken at. Only on an empty projection. Either every case whole, or,
  // once KeepCasesIn() has a store, every case's skeleton: its body is then
  // read back from the store when a decision or a report needs it, so a
  // restart reads no case's facts. (The registry's cases are read back on
  // first use and stay.)
  // `skeleton`, if given, is set to the case's (SkeletonOf()).
  // The skeletons' places in the timelines are filed by RestorePosition(),
  // in order of time: skeletons come by stream, at random times, and a
  // btree filed at random is a third larger and slower to fill.
  void RestoreCase(state::CaseRecord record, state::CaseSkeletonRecord* skeleton = nullptr);
  void RestoreSkeleton(const state::CaseSkeletonRecord& skeleton);
  void RestorePosition(uint64_t position);
  // Forgets everything: an empty projection at position 0.
  void Clear();

  size_t case_count() const;

  // The state the rules read. Public for the report builder (internal/).
  struct Indexes {
    std::vector<const Case*> groups;
    std::vector<const Case*> elections;
    std::vector<const Case*> briefings;  // requests and offers
    std::vector<const Case*> meetings;
    std::vector<const Case*> queries;
    std::vector<const Case*> complaints;
    std::vector<const Case*> members;
    std::vector<const Case*> access;
    // By the case's id (its characters the case's own).
    absl::flat_hash_map<absl::string_view, const Case*> group_by_id;
    absl::flat_hash_map<absl::string_view, const Case*> member_by_id;
    absl::flat_hash_map<absl::string_view, const Case*> officer_by_id;
    absl::flat_hash_map<absl::string_view, const Case*> briefing_by_id;
    // Briefings, offers and meeting attendances by the matter they concern
    // (every matter any version of their facts named; its characters held
    // by the table of cases). Most matters have a case or two.
    using CasesOnMatter = absl::InlinedVector<const Case*, 2>;
    absl::flat_hash_map<absl::string_view, CasesOnMatter> by_matter;
    // The cases a report scans (briefings, meetings, queries, complaints) by
    // when they start, so a report reads only those that can touch its
    // period. A case active for longer than kLongRunning is also listed in
    // long_running, which every report reads.
    struct Timeline {
      absl::btree_multimap<int64_t, const Case*> by_start;
      std::vector<const Case*> long_running;
    };
    static constexpr absl::Duration kLongRunning = absl::Hours(24 * 45);
    std::array<Timeline, static_cast<size_t>(CaseKind::kOther) + 1> timelines;
  };
  const Indexes& indexes() const { return indexes_; }

 private:
  // Builds `builder`'s report, passing on a case it could not read back.
  v1::FairnessReport Built(internal::ReportBuilder& builder, absl::Status* read_error) const;
  // A case's body could not be read back (`why`): told to `read_error` if
  // given and not yet told of one, else to health().
  void CouldNotRead(const absl::Status& why, absl::Status* read_error) const;
  // Apply(): copies the payload, or swaps it out of `take` if given.
  void Fold(const v1::RecordedEvent& event, v1::Payload* take);
  // Hands the fact at `position` (or corrected there) of `c` to the
  // findings index, or keeps it for FindingsRestored().
  void FindingsFolded(const Case& c, const state::FactRecord& fact, uint64_t position,
                      int64_t recorded_nanos, bool new_case);
  Case* CaseFor(absl::string_view stream_id);
  // The case of an event of a principal's reads (an "access-" stream): per
  // UTC day of when they happened, "access-<principal>#2026-12-01" ('#' is
  // never in a stream id), then "...#2026-12-01/2", "/3" once a case holds
  // kAccessReadsPerCase, so a case grows with neither every read ever
  // recorded nor a busy day's (a dashboard asking for a report every few
  // seconds records thousands: one day's case of 3.4 MB, rewritten whole at
  // every checkpoint, was seen at 10M events). A correction (possible only
  // without domain validation) goes in the case holding the event it
  // corrects; nullptr if none does (it has nothing to correct).
  Case* AccessCaseFor(const v1::Event& e);
  // Files the fact at `position` of access case `c` (of stream `stream`).
  void AccessFactAt(const std::string& stream, Case* c, uint64_t position);
  // The case of a stream, or nullptr.
  const Case* Find(absl::string_view stream_id) const;
  // Files `fact` (already in `c`) in the indexes; also used on restore, so
  // a restored projection is indexed exactly as a folded one.
  void Index(Case* c, const v1::Payload& payload, int64_t occurred_nanos);
  // Lists `c` under `matter` (once).
  void OnMatter(absl::string_view matter, const Case* c);

  uint64_t position_ = 0;
  std::unique_ptr<internal::CaseTable> cases_;
  Indexes indexes_;
  // RestoreSkeleton()'s starts, until RestorePosition() files them.
  struct Start {
    int64_t nanos;
    const Case* c;
  };
  std::vector<Start> restored_starts_;
  // The positions of the facts each access case holds (a day's reads are
  // mostly, not always, recorded in order), and each access stream's cases
  // in the order they got their first fact.
  struct PositionSpan {
    uint64_t first = UINT64_MAX;
    uint64_t last = 0;
  };
  absl::flat_hash_map<const Case*, PositionSpan> access_spans_;
  absl::flat_hash_map<std::string, std::vector<Case*>> access_days_;
  // Per "<stream>#<day>": the number of its last case and the facts in it
  // (one restored counts as full: its skeleton does not say, and starting
  // another case costs nothing).
  struct AccessChunk {
    uint32_t number = 1;
    uint32_t facts = 0;
  };
  absl::flat_hash_map<std::string, AccessChunk> access_chunks_;
  // Notes a restored access case's place among its day's (AccessChunk).
  void AccessCaseRestored(const std::string& id);
  absl::flat_hash_set<const Case*> dirty_;
  std::unique_ptr<internal::CaseBodies> bodies_;
  std::unique_ptr<internal::FindingsIndex> findings_;
  // Folded since DeferFindingsUntilRestored(), until FindingsRestored():
  // the case, the event's position and the position of the fact it added
  // or corrected.
  struct DeferredFold {
    const Case* c;
    uint64_t position;
    uint64_t fact_position;
    int64_t recorded_nanos;
    bool new_case;
  };
  std::optional<std::vector<DeferredFold>> deferred_;
  // The council's registry as reports read it, built once from each change
  // to it on (council_registry.h).
  std::unique_ptr<internal::CouncilRegistryCache> registries_;
};

}  // namespace evenhand::projections

#endif  // EVENHAND_PROJECTIONS_FAIRNESS_PROJECTION_H_
