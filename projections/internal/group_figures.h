// The report's per-group figures (the group table: briefings requested,
// offered, approved and declined, officer minutes, written queries and how
// long their replies took, complaints), as what each case contributes.
// Internal to projections/.
//
// A case's contributions (AddContributions) are worked out by the same code
// whether a report derives them from the period's cases (the reference) or
// the findings index keeps them as running totals (GroupFigures), so the two
// cannot count differently. Each contribution is placed in time by the fact
// it comes from, and says what it adds; two things about it depend on the
// report rather than the case:
//   - a request's decision counts only if it is the latest in the period:
//     a decision superseded later counts in periods that end at or before
//     the next decision (`until`);
//   - a written query without a reply is "not yet due" while the report's
//     moment is before its deadline (`due`), "unanswered" after.
//
// GroupFigures keeps them as totals per day (UTC) and group, so a report
// for a period sums whole days and reads only the contributions of its two
// partial days one by one, the few decisions superseded later, and the
// unreplied queries whose deadline is after its moment. The totals are the
// log as it stands (the projection's last position); each change to them is
// also kept, per day in position order, so a report as of an earlier
// position P takes back what changed in its period's days after P (few
// changes, for a period before P: late replies, corrections, decisions
// superseded). Changes are kept from known_from() on (the position the
// index was seeded at; 0 for an index that decided from the start): a
// report as of an earlier position derives its figures from the cases.
// With a store, the changes are held only until the next checkpoint
// writes them (ForEachUnsaved, Saved) and are read back from it, so they
// survive a restart and their memory does not grow with the log. It writes
// a day's changes in runs of positions, each one by one and summed: a
// report as of P reads the sums of the runs of its whole days that all
// came after P (FigureChanges::summed), and one by one only the run P
// falls in and its two partial days (StoredFindings::ScanFigureSums,
// GetFigureChanges, ScanFigureChanges), or every change one by one for the
// evidence of a finding.
//
// What it does not know: which groups exist in a period or how many
// councillors they have (the registry), and the statistics the group table
// and access-parity compute from the sums (metrics.cc).
#ifndef EVENHAND_PROJECTIONS_INTERNAL_GROUP_FIGURES_H_
#define EVENHAND_PROJECTIONS_INTERNAL_GROUP_FIGURES_H_

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "evenhand/state/fairness_state.pb.h"
#include "evenhand/v1/fairness.pb.h"
#include "projections/internal/report_builder.h"
#include "projections/statistics.h"

namespace evenhand::projections::internal {

// What one fact of a case adds to its group's figures.
struct Contribution {
  enum Kind : uint8_t {
    kOffered,           // a briefing offered to the group
    kRequested,         // a briefing the group asked for
    kNotTakenUp,        // an offer the group turned down
    kApproved,          // a request's decision: approved
    kDeclinedRequired,  // declined for a reason the protocols require, which held
    kDeclined,          // declined by choice (access-parity's evidence)
    kDelivered,         // a briefing given: `value` officer minutes
    kMeetingMinutes,    // an officer at a group meeting: `value` minutes
    kQueryInTime,       // a written query replied to in time: `value` working days
    kQueryLate,         // replied to late: `value` working days
    kQueryUnreplied,    // no reply yet: not yet due, or unanswered
    kComplaint,         // a complaint raised by one of the group's councillors
    kKinds,
  };
  Kind kind = kOffered;
  std::string group;
  // When the fact it comes from happened, and its position.
  int64_t at_nanos = 0;
  uint64_t position = 0;
  // A decision: counts only in a period ending at or before the next one.
  int64_t until_nanos = INT64_MAX;
  // A query without a reply: its deadline.
  int64_t due_nanos = INT64_MAX;
  int64_t value = 0;
  const Case* c = nullptr;

  bool operator==(const Contribution& o) const {
    return kind == o.kind && group == o.group && at_nanos == o.at_nanos && position == o.position &&
           until_nanos == o.until_nanos && due_nanos == o.due_nanos && value == o.value && c == o.c;
  }
  template <typename H>
  friend H AbslHashValue(H h, const Contribution& x) {
    return H::combine(std::move(h), x.kind, x.group, x.at_nanos, x.position, x.until_nanos,
                      x.due_nanos, x.value, x.c);
  }
  state::FigureRecord ToRecord() const;
  static Contribution FromRecord(const state::FigureRecord& r, const Case* c);
};

// Appends what case `c` (a briefing, meeting, query or complaint) contributes
// as the log stands at `b`'s position, whatever the period.
void AddContributions(const ReportBuilder& b, const Case& c, std::vector<Contribution>* out);

// The period a report counts, in nanoseconds: [from, end), end being the
// period's end or just after the report's moment (ReportBuilder::InPeriod),
// judged at `as_of`.
struct FigureWindow {
  int64_t from = INT64_MIN;
  int64_t end = INT64_MAX;
  int64_t as_of = INT64_MAX;
  static FigureWindow Of(const ReportQuery& q);
  bool Counts(const Contribution& x) const {
    return x.at_nanos >= from && x.at_nanos < end && x.until_nanos >= end;
  }
  // A query without a reply whose deadline has not passed.
  bool NotYetDue(const Contribution& x) const {
    return x.kind == Contribution::kQueryUnreplied && as_of < x.due_nanos;
  }
};

// What changed in a window's days after a report's position, net of
// changes that cancel (GroupFigures::ChangedSince).
struct FigureChanges {
  // There now and not then; there then and gone now.
  std::vector<Contribution> added, removed;
  // What the contributions of the window's whole days add now and did not
  // then, as stored summed by the checkpoints whose changes to a day (or
  // to a run of its positions) all came after the position: (group, kind,
  // value, until, due) -> how many more now (fewer: negative). Summed
  // changes name no case: the evidence of a finding is walked over changes
  // one by one (ChangedSince with `one_by_one`).
  using SumKey = std::tuple<std::string, Contribution::Kind, int64_t, int64_t, int64_t>;
  absl::flat_hash_map<SumKey, int64_t> summed;
  // Whether any run was summed (its changes may all have cancelled).
  bool summed_any = false;
};

// One group's figures for a period, and the distributions the statistics
// need. Evidence (the declines by choice, the late and unanswered queries)
// is gathered by whoever sums: see AddGroupMetrics.
struct GroupTally {
  v1::GroupMetrics metrics;
  Distribution minutes_per_briefing;
  Distribution reply_days;
  std::vector<Seen> declines, late_replies;
  // The row of a group dissolved before the period, made for what events in
  // the period still name (metrics.cc): shown if it counts anything, never
  // compared by access-parity.
  bool dissolved_before = false;

  // Adds a contribution counted in the period `times` times (sign -1: takes
  // them back): what it adds is its kind's, by its value.
  void Add(const Contribution& x, bool not_yet_due, int sign = 1, uint64_t times = 1);
  void Add(Contribution::Kind kind, int64_t value, bool not_yet_due, int sign = 1,
           uint64_t times = 1);
};

class GroupFigures {
 public:
  // `position`: the log position whose folding made the change (0: a
  // restored state, older than any report it answers).
  void Add(const Contribution& x, uint64_t position = 0);
  void Remove(const Contribution& x, uint64_t position = 0);
  // A restore's Add()s (no position): counted at once, but filed in key
  // order only once the last is in (FinishRestoring()), so all_ fills from
  // its end, each node full, with no search per contribution. Filed in the
  // order subjects are read (by stream, so at random times), its nodes were
  // two thirds full on average: at a million events, 52 MB for 660,000.
  void AddRestored(const Contribution& x);
  void FinishRestoring();
  size_t size() const { return all_.size(); }
  // Every change after `position` is kept from now on; reports as of an
  // earlier position cannot be answered.
  void KnownFrom(uint64_t position) { known_from_ = position; }
  uint64_t known_from() const { return known_from_; }
  // Restored from a checkpoint taken at `position`, whose stored changes
  // go back to `known_from`.
  void Restored(uint64_t known_from, uint64_t position) {
    known_from_ = known_from;
    last_change_ = std::max(last_change_, position);
    stored_through_ = std::max(stored_through_, position);
  }
  // Changes held in memory (for the memory they take).
  size_t history_size() const { return history_size_; }

  // Where a contribution is kept: when its fact happened, and its position.
  using Key = std::pair<int64_t, uint64_t>;
  static Key KeyOf(const Contribution& x) { return {x.at_nanos, x.position}; }
  // Appends to `out` the contributions of case `c` kept at `keys` (what
  // its last Add()s were placed by): a subject keeps only where its
  // contributions are, not a second copy of them.
  void OfCase(const Case* c, const std::vector<Key>& keys, std::vector<Contribution>* out) const;

  // Checkpointing: the changes held (not yet stored), per UTC day of the
  // contribution, in position order; then Saved() once they are, which
  // forgets them. Between the two, reports may run (the checkpoint is
  // written off the projection's lock) and find them both held and stored:
  // they count the stored ones only up to the last Saved().
  // Each day's changes are visited twice over: one by one (`changes`), as a
  // report as of a position among them reads them, and summed (`sums`), as
  // a report as of a position before them all does.
  void ForEachUnsaved(const FigureChangesVisitor& visit) const;
  static constexpr size_t kChangesPerRecord = 64;
  void Saved();

  // What changed in `w`'s days after `as_of_position` (>= known_from()):
  // the changes held, and those in `stored` (if any; `find` names their
  // cases), summed where they can be (FigureChanges::summed) unless
  // `one_by_one`. An error: `stored` could not be read.
  using FindCase = std::function<const Case*(const std::string& stream_id)>;
  absl::Status ChangedSince(const FigureWindow& w, uint64_t as_of_position,
                            const StoredFindings* stored, const FindCase& find,
                            FigureChanges* changes, bool one_by_one = false) const;

  // Adds to tally(group) every contribution counted in `w`, as the log
  // stood when `changes` were made (ChangedSince with `w`), for the groups
  // `tally` knows (it returns nullptr for the others). No evidence.
  void Sum(const FigureWindow& w, const FigureChanges& changes,
           const std::function<GroupTally*(const std::string& group)>& tally) const;
  // Visits, in (time, position) order, every contribution counted in `w` as
  // the log stood then for which `want(x, not_yet_due)` is true: a walk
  // over the period's contributions, for the evidence of a finding.
  // `changes` are one by one (none summed).
  void ForEach(const FigureWindow& w, const FigureChanges& changes,
               const std::function<bool(const Contribution& x, bool not_yet_due)>& want,
               const std::function<void(const Contribution& x)>& visit) const;

 private:
  // One change to the totals: `x` added or removed while folding `position`.
  struct Step {
    uint64_t position;
    bool added;
    Contribution x;
  };
  // Keeps the change of `x` made while folding `position` (after
  // known_from()).
  void Keep(const Contribution& x, uint64_t position, bool added);

  // What one group's contributions of one day add up to (those that count
  // in every period holding their day: not the decisions superseded later).
  struct Totals {
    uint32_t count[Contribution::kKinds] = {};
    uint64_t officer_minutes = 0;
    // Value -> how many: minutes per briefing given, working days per reply.
    absl::btree_map<int64_t, uint32_t> briefing_minutes;
    absl::btree_map<int64_t, uint32_t> reply_days;
    bool empty() const;
  };
  void Change(const Contribution& x, int sign);
  // Adds `t` to `tally` as if each of its contributions were added (queries
  // without a reply as unanswered).
  static void AddTotals(const Totals& t, GroupTally* tally);

  // A contribution as all_ keeps it: its time and position are its key,
  // its group a number in group_names_. Half the bytes of a Contribution
  // (56 a slot, against 104): all_ holds every contribution of the log (a
  // million events' 660,000 took 68 MiB).
  struct Kept {
    Contribution::Kind kind;
    uint32_t group;
    int64_t until_nanos;
    int64_t due_nanos;
    int64_t value;
    const Case* c;
  };
  Contribution Unpack(const Key& key, const Kept& k) const;
  // Whether `k`, kept under x's key, is `x`; `group` is the number of x's
  // group.
  static bool Same(const Kept& k, const Contribution& x, uint32_t group) {
    return k.kind == x.kind && k.group == group && k.until_nanos == x.until_nanos &&
           k.due_nanos == x.due_nanos && k.value == x.value && k.c == x.c;
  }
  // The number of a group's name, given on first sight and never taken back
  // (a council names a handful; the names ever seen, at most).
  uint32_t GroupNumber(const std::string& group);
  std::vector<std::string> group_names_;
  absl::flat_hash_map<std::string, uint32_t> group_numbers_;
  absl::btree_multimap<Key, Kept> all_;
  // AddRestored()'s, until FinishRestoring().
  std::vector<std::pair<Key, Kept>> restoring_;
  // UTC day -> group -> totals.
  absl::btree_map<int64_t, absl::flat_hash_map<std::string, Totals>> days_;
  // Decisions superseded later, by when they happened.
  absl::btree_multimap<int64_t, Contribution> bounded_;
  // Queries without a reply, by deadline.
  absl::btree_multimap<int64_t, Contribution> unreplied_;
  // UTC day of the contribution -> its changes held, in position order.
  absl::btree_map<int64_t, std::vector<Step>> history_;
  size_t history_size_ = 0;
  uint64_t known_from_ = 0;
  uint64_t last_change_ = 0;
  // The changes stored and no longer held: those made up to here (later
  // ones in the store are still held too, until Saved()).
  uint64_t stored_through_ = 0;
};

}  // namespace evenhand::projections::internal

#endif  // EVENHAND_PROJECTIONS_INTERNAL_GROUP_FIGURES_H_
