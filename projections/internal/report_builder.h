// ReportBuilder: derives one fairness report from the projection's facts.
// Internal to projections/.
//
// Everything here reads facts through Visible(), which applies the as-of
// position: a fact or correction recorded after it does not exist. Results
// never depend on the order cases are held in, so a projection restored from
// a checkpoint reports exactly what a freshly folded one does.
#ifndef EVENHAND_PROJECTIONS_INTERNAL_REPORT_BUILDER_H_
#define EVENHAND_PROJECTIONS_INTERNAL_REPORT_BUILDER_H_

#include <algorithm>
#include <array>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/node_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "evenhand/v1/fairness.pb.h"
#include "projections/fairness_projection.h"
#include "projections/internal/council_registry.h"
#include "projections/internal/rules/rule.h"

namespace evenhand::projections::internal {

struct Contribution;  // group_figures.h
class GroupFigures;
struct FigureChanges;
class AccessFigures;  // access_figures.h

// A briefing case's opening: who asked (or was offered), about what. Points
// into the projection's facts, which outlive the report.
struct BriefingView {
  const Case* c = nullptr;
  std::optional<Seen> request;  // a BriefingRequested or a BriefingOffered
  bool is_offer = false;
  bool answers_offer = false;  // requested in response to an offer
  const std::string& group() const { return *group_id; }
  const std::string& matter() const { return *matter_id; }
  // What the briefing was about, as reports may say it: the matter's id,
  // never the topic, which is confidential to the group (Harlow 15.8).
  std::string subject() const {
    return matter_id->empty() ? absl::StrCat("briefing ", c->id())
                              : absl::StrCat("matter ", *matter_id);
  }

  const std::string* group_id = nullptr;
  const std::string* matter_id = nullptr;
};

// The reply to a written query, in rules/written_query_reply.cc (shared with
// the group table, which counts what the rule decides: one verdict).
struct QueryOutcome {
  std::optional<Seen> received;
  std::string group_id;
  absl::Time deadline;              // end of the fifth working day
  std::optional<Seen> first_reply;  // answer or acknowledgement
  bool pending = false;             // not replied, deadline not passed
  bool in_time = false;             // first reply before the deadline
  // The first answer (the reply that settles the query), if any.
  std::optional<Seen> answer;
  // Acknowledged in time with a timescale: the day promised, after the
  // revisions sent before it passed (and before the answer), which
  // `revisions` lists; the answer is owed by `due`, the end of that day (UK time).
  // Otherwise `due` is `deadline`.
  absl::Time promised = absl::InfinitePast();
  std::vector<Seen> revisions;
  absl::Time due;
  // The day promised had already ended when it was promised (by the holding
  // reply, or the last revision): `due` is then that promise's time, not
  // the day's end, which can come before the query itself.
  bool promised_already_past = false;
  // Answered with no breach of the rule: a first reply in time and, after
  // an acknowledgement, the answer by `due`.
  bool answered_in_time = false;
};

// One finding or obligation a subject case gives rise to, as decided for the
// findings index (findings_index.h): dated (a finding) or due (an
// obligation) at `when`, with the summaries of the events it cites as they
// read at the position it was decided at.
struct Decided {
  bool obligation = false;
  int64_t when_nanos = 0;
  // A serialised v1::Finding, or a v1::Obligation without working_days_left
  // (which depends on the report's moment).
  std::string proto;
  std::vector<std::pair<uint64_t, std::string>> evidence;
};

// The name under which Reads::matters holds a matter read only for its
// facts naming `group` (a briefing asked for or offered to it, an
// attendance at its meeting): "<matter>\x1f<group>". (A matter id holding
// that character can only make more decisions, never fewer.)
inline std::string GroupOnMatterKey(absl::string_view matter, absl::string_view group) {
  return absl::StrCat(matter, "\x1f", group);
}
// And the name under which it holds a matter read only for the advice
// `officer` gave there: its briefings given by the officer, the officer's
// attendances naming it.
inline std::string OfficerOnMatterKey(absl::string_view matter, absl::string_view officer) {
  return absl::StrCat(matter, "\x1d", officer);
}
// And the name under which it holds a matter read only for the answers to
// `group` there: an offer to it, one of its requests delivered, an
// attendance at its meeting linking a briefing.
inline std::string AnswerOnMatterKey(absl::string_view matter, absl::string_view group) {
  return absl::StrCat(matter, "\x1e", group);
}
// And the name under which it holds a matter read only for the attendances
// at `group`'s meetings there that link `briefing_id`.
inline std::string AttendanceLinkKey(absl::string_view matter, absl::string_view group,
                                     absl::string_view briefing_id) {
  return absl::StrCat(matter, "\x1f", group, "\x1f", briefing_id);
}

// What deciding a subject's findings read besides its own facts: the cases
// it looked at (a stream id, or the registry entry of a councillor, officer
// or group by theirs), the matters whose cases it listed, and the latest
// instant at which it asked about the council (groups, memberships, roles,
// pre-election periods). An event in any of those cases, a case newly
// naming one of those matters, or a change to the council at or before that
// instant can change the subject's findings; nothing else can.
struct Reads {
  absl::flat_hash_set<std::string> cases;
  // Matters; and a matter's facts naming one group only, under
  // GroupOnMatterKey().
  absl::flat_hash_set<std::string> matters;
  int64_t council_until = INT64_MIN;
  // Read between BeginBoundedReads() and EndBoundedReads(until), each name
  // with the latest `until` it was read under: what the decision took from
  // it depends on none of its facts after that instant (INT64_MIN: only on
  // what a correction, or a second opening fact, can change; a correction
  // of when alone counts at its earlier instant). Each name its
  // own instant: equal-offer reads a group's briefings on the matter up to
  // that group's earliest answer, not the latest of every group's.
  absl::flat_hash_map<std::string, int64_t> bounded_cases;
  absl::flat_hash_map<std::string, int64_t> bounded_matters;
  void Clear() {
    cases.clear();
    matters.clear();
    council_until = INT64_MIN;
    bounded_cases.clear();
    bounded_matters.clear();
  }
};

class ReportBuilder {
 public:
  // What Build() derives.
  enum class Scope {
    kEverything,  // every rule over the period's cases: the reference
    kPeriodOnly,  // only what depends on the period as a whole (group
                  // tallies, access-parity, group sizes); the per-case
                  // findings and obligations come from the index (AddDecided)
  };
  // `registries`, if given: the council's registry is taken from it when it
  // keeps the one this report reads, and kept in it once read.
  ReportBuilder(const FairnessProjection& projection, const ReportQuery& query,
                const FairnessSettings& settings, const WorkingDayCalendar& calendar,
                Scope scope = Scope::kEverything, CouncilRegistryCache* registries = nullptr);

  ReportBuilder(const ReportBuilder&) = delete;
  ReportBuilder& operator=(const ReportBuilder&) = delete;
  ~ReportBuilder() { ReleaseBodies(); }

  v1::FairnessReport Build();

  // ---- Deciding findings case by case (the findings index) ----------------
  // A builder for Decide(): nothing is filtered by period or as-of time.
  struct ForIndex {};
  ReportBuilder(const FairnessProjection& projection, const FairnessSettings& settings,
                const WorkingDayCalendar& calendar, ForIndex);
  // Reads the council's registry again as of `position`: all of it
  // (starting from a projection folded without the index), or only what
  // `changed` says (after an event that changed a group, councillor,
  // officer or pre-election period, at `position`, and every event before it
  // taken in the same way). Either leaves the registry LoadRegistry() would
  // read as of `position`.
  void ReloadRegistry(uint64_t position);
  void UpdateRegistry(const Case& changed, uint64_t position);
  // The registry read (for tests).
  const CouncilRegistry& registry() const { return *registry_; }
  // The findings and obligations of `subject` (a briefing, meeting, query,
  // complaint or councillor) as the log stands at `position`, for any
  // period and any as-of time: a finding holds from its date on, an
  // obligation is open until it falls due. Fills `reads`.
  // Appends to `figures` what the subject contributes to its group's
  // figures (group_figures.h), read as its findings are.
  std::vector<Decided> Decide(const Case& subject, uint64_t position, Reads* reads,
                              std::vector<Contribution>* figures);
  // Adds a decided finding or obligation to a kPeriodOnly report.
  void AddDecided(const Decided& decided);
  // The same, as the index stored it (read back without a copy).
  void AddDecided(const state::FindingEntryRecord& stored);
  // A report as of the log's last position: the group table and the access
  // section sum these (kept by the findings index) instead of the cases.
  // `one_by_one` reads `changes` again one by one (none summed), for a walk
  // over the period's contributions: the evidence of a finding.
  void UseFigures(const GroupFigures* figures, const FigureChanges* changes,
                  const AccessFigures* access,
                  std::function<absl::Status(FigureChanges*)> one_by_one = nullptr) {
    figures_ = figures;
    figure_changes_ = changes;
    access_figures_ = access;
    figures_one_by_one_ = std::move(one_by_one);
  }
  const GroupFigures* figures() const { return figures_; }
  // What changed in the figures after the report's position (with
  // figures()).
  const FigureChanges& figure_changes() const { return *figure_changes_; }
  // The same one by one, read once when first asked for if some were
  // summed; if they cannot be read, read_error() says why (and the walk
  // finds only what is held).
  const FigureChanges& figure_changes_one_by_one() const;
  const AccessFigures* access_figures() const { return access_figures_; }
  // Deciding for the index: reads as of `position` from here on.
  void ReadAsOf(uint64_t position) { query_.as_of_position = position; }

  // ---- Reading facts as of the query --------------------------------------
  std::optional<Seen> Visible(const state::FactRecord& fact) const;
  // The facts of `c` of `kind` that a correction has withdrawn as of the
  // query, in position order: each as it stood before (its last payload and
  // time in force), with the withdrawal as its correction_position. Rules
  // cite them where what is missing was once recorded.
  std::vector<Seen> Withdrawn(const Case& c, v1::Payload::KindCase kind) const;
  // The visible facts of `c`, in position order, computed as they are read
  // (nothing is copied: most reports touch tens of thousands of cases).
  class FactsView {
   public:
    using FactIt = google::protobuf::RepeatedPtrField<state::FactRecord>::const_iterator;
    class iterator {
     public:
      iterator(const ReportBuilder* b, FactIt at, FactIt end) : b_(b), at_(at), end_(end) {
        Settle();
      }
      const Seen& operator*() const { return *seen_; }
      const Seen* operator->() const { return &*seen_; }
      iterator& operator++() {
        ++at_;
        Settle();
        return *this;
      }
      bool operator!=(const iterator& o) const { return at_ != o.at_; }

     private:
      void Settle() {
        for (; at_ != end_; ++at_) {
          if (at_->position() > b_->query_.as_of_position) {
            at_ = end_;
            return;
          }
          if ((seen_ = b_->Visible(*at_))) return;
        }
      }
      const ReportBuilder* b_;
      FactIt at_;
      FactIt end_;
      std::optional<Seen> seen_;
    };
    iterator begin() const { return iterator(b_, first_, last_); }
    iterator end() const { return iterator(b_, last_, last_); }

   private:
    friend class ReportBuilder;
    FactsView(const ReportBuilder* b, const state::CaseRecord& body)
        : b_(b), first_(body.facts().begin()), last_(body.facts().end()) {}
    const ReportBuilder* b_;
    FactIt first_;
    FactIt last_;
  };
  FactsView View(const Case& c) const {
    ReadCase(c.stream_id());
    return FactsView(this, Body(c));
  }
  // The facts of `c`, every version: held until the builder is done (or,
  // deciding for the index, until the next decision).
  const state::CaseRecord& Body(const Case& c) const;
  // Lets go of the bodies read so far (deciding for the index: between
  // decisions, so the projection's memory stays within its budget).
  void ReleaseBodies() const {
    bodies_.clear();
    projection_.TrimCases();
  }
  // A report's first case that could not be read back (the report is then
  // wrong). Deciding for the index, such a failure goes to the projection's
  // health() instead, unless the decision is a caller's own
  // (DecideForCaller()).
  const absl::Status& read_error() const { return read_error_; }
  // Deciding outside the index (FairnessProjection::CaseFindings): a case
  // that cannot be read back fails only this decision (read_error()).
  void DecideForCaller() { errors_to_caller_ = true; }
  // The visible facts of `c` whose payload is of `kind`, in position order.
  std::vector<Seen> Facts(const Case& c, v1::Payload::KindCase kind) const;
  std::optional<Seen> First(const Case& c, v1::Payload::KindCase kind) const;
  // The case's opening fact (its first visible fact).
  std::optional<Seen> Opening(const Case& c) const;
  // The cases of `kind` (briefing, meeting, query or complaint) that can have
  // facts or breaches in the period: the rest are never read. When
  // deciding for the index, the subject if it is of that kind.
  const std::vector<const Case*>& Cases(CaseKind kind) const;
  // Every councillor's case (when deciding, the subject if a councillor).
  const std::vector<const Case*>& Members() const;
  // The cases that name `matter` (briefings, offers, meeting attendances), or
  // nullptr.
  const FairnessProjection::Indexes::CasesOnMatter* OnMatter(const std::string& matter) const;
  // A rule that reads other cases (and matters) for facts up to an instant
  // only says so: the cases and matters read from BeginBoundedReads() to
  // EndBoundedReads(until) are read for what they held at or before
  // `until` (a later fact there cannot change this decision), and the
  // findings index decides it again for their later events only if they
  // are no later than that. Only cases' and matters' facts: no name (a
  // group's, a councillor's) may be read in between. Not nested. A rule
  // reading so must not use when another briefing that was delivered was
  // asked for (its request's date or evidence): the index decides no
  // bounded reader again when only that moves (IsDeliveredRequest in
  // findings_index_fold.cc; equal-offer takes such a briefing as given, dated by
  // its delivery, and same-matter-decline as advice dated so).
  void BeginBoundedReads() const { bounded_reads_ = true; }
  void EndBoundedReads(absl::Time until) const;
  // Between them: `c` is read whole all the same (any later fact of it may
  // change the decision), the rest of what is read stays bounded.
  void ReadWhole(const Case& c) const {
    if (reads_ != nullptr) reads_->cases.emplace(c.stream_id());
  }
  // Between them too: every answer to `group` on `matter` (an offer, one of
  // its briefings given: delivered, or at its meeting), whenever, may
  // change the decision (AnswerOnMatterKey()).
  void ReadAnswersOnMatter(const std::string& matter, const std::string& group) const {
    if (reads_ != nullptr) reads_->matters.insert(AnswerOnMatterKey(matter, group));
  }
  // The facts on `matter` naming `group` are read as the section's other
  // reads are (bounded, between them): a new case there (a briefing for
  // the group, an attendance at its meeting), or a later fact of one of its
  // briefings, dated no later than the section's instant decides it again.
  void ReadGroupOnMatterUpTo(const std::string& matter, const std::string& group) const {
    ReadMatterName(GroupOnMatterKey(matter, group));
  }
  // So too the briefings on `matter` given by `officer`, and the officer's
  // attendances naming it (OfficerOnMatterKey()).
  void ReadOfficerOnMatterUpTo(const std::string& matter, const std::string& officer) const {
    ReadMatterName(OfficerOnMatterKey(matter, officer));
  }

  // ---- The council at a moment ---------------------------------------------
  // Groups recognised at or before `t` and not dissolved by then.
  std::vector<const Case*> GroupsAt(absl::Time t) const;
  bool GroupExistsAt(const Case& group, absl::Time t) const;
  std::string GroupName(const std::string& group_id) const;
  // The member's group at `t`, or "".
  std::string MemberGroupAt(const std::string& member_id, absl::Time t) const;
  std::string MemberName(const std::string& member_id) const;
  // Councillors in the group at `t`.
  std::vector<std::string> GroupMembersAt(const std::string& group_id, absl::Time t) const;
  // How many: every group's counted in one pass over the councillors, kept
  // for a few instants until the registry changes (found from outside: a
  // council of 1,000 groups took a minute to report, a pass over every
  // councillor for each group at each change).
  size_t GroupSizeAt(const std::string& group_id, absl::Time t) const;
  // The instants in [from, to) at which a councillor's group, or a group's
  // existence, changed, in order; with `from` first.
  std::vector<absl::Time> CouncilChangesIn(absl::Time from, absl::Time to) const;
  // The facts that moved a councillor into or out of the group at its last
  // change of membership at or before `t` (a join, a leave, the recognition
  // naming its founders), by position: what a finding about its size cites.
  std::vector<Seen> MembershipChangesBy(const std::string& group_id, absl::Time t) const;
  // The end of the `n`-th working day after `t` (the calendar's
  // EndOfWorkingDay) for a deadline of case `c`, noting it if the bank
  // holiday calendar does not cover it: data-quality reports those.
  absl::Time Deadline(const Case& c, absl::Time t, int n) const;
  // Cases whose deadline lies outside the calendar's years, with it.
  const std::map<std::string, std::pair<const Case*, absl::Time>, std::less<>>&
  uncovered_deadlines() const {
    return uncovered_deadlines_;
  }

  // The officer's Director as registered (Harlow 12.4), or "".
  std::string DirectorOf(const std::string& officer_id) const;
  // OFFICER_ROLE_UNSPECIFIED if unknown or gone by `t`.
  v1::OfficerRole OfficerRoleAt(const std::string& officer_id, absl::Time t) const;
  std::string OfficerName(const std::string& officer_id) const;
  // The group a political assistant serves at `t`; "" if the officer is not
  // a political assistant then.
  std::string AssistantGroupAt(const std::string& officer_id, absl::Time t) const;
  // Head of Paid Service, Monitoring Officer, or a delegate of the Head of
  // Paid Service at `t` (Harrow 5.1; Harlow 15.3).
  bool CanApproveAt(const std::string& officer_id, absl::Time t) const;
  // When `officer_id` cannot approve at `t` although a delegation to them
  // was in force then: that delegation, given by someone who was not the
  // Head of Paid Service (Harlow 15.3: only they delegate).
  std::optional<Seen> DelegationNotHonouredAt(const std::string& officer_id, absl::Time t) const;
  // The pre-election period declaration covering `t`, if any.
  std::optional<Seen> PreElectionPeriodAt(absl::Time t) const;
  // The briefing case of a briefing or offer id.
  const Case* Briefing(const std::string& briefing_id) const;
  // A briefing case's opening, and a written query's outcome, worked out
  // once per report however many rules ask. The references stay valid for
  // the builder's life.
  const BriefingView& BriefingOf(const Case& c) const;
  // The briefings on `matter` (requests and offers naming it) by the group
  // they are for, read as the matter only (OnMatter()): whose briefing each
  // is, and on what, changes only by an opening fact, which names the
  // matter, or by a correction (which may also change which fact comes
  // first), which the findings index takes as one on the matter of the
  // case's openings: it decides a bounded reader of the matter again for
  // those, whatever its moment (but a correction of when alone, which
  // changes none of that). Worked out
  // once per report or decision (each decision on a matter of hundreds of
  // briefings filed every one of them as read).
  using ByGroup = absl::flat_hash_map<std::string, std::vector<const Case*>>;
  const ByGroup& BriefingsOnMatterByGroup(const std::string& matter) const;
  // Deciding for the index: BriefingsOnMatterByGroup() of a busy matter is
  // kept between decisions (every decision on a matter of hundreds of
  // briefings went through all of them, twice), until MattersChanged(), which
  // the index calls as it folds whatever can change whose briefing each is
  // (a briefing's new case, an opening fact, a correction), before deciding.
  void KeepMattersBetweenDecisions() { keep_matters_ = true; }
  void MattersChanged(uint64_t position) {
    kept_by_group_.clear();
    matters_changed_at_ = std::max(matters_changed_at_, position);
  }
  // The offers on `matter` that a correction withdrew, by the group each
  // was for, as each read when withdrawn (in OnMatter()'s order of cases),
  // read as the matter only: only a correction withdraws one, and it names
  // the matter. Worked out once per report or decision (and which cases
  // have one, kept with BriefingsOnMatterByGroup's).
  using SeenByGroup = absl::flat_hash_map<std::string, std::vector<Seen>>;
  const SeenByGroup& WithdrawnOffersOnMatter(const std::string& matter) const;
  // The advice given on `matter` by each officer: the deliveries of its
  // briefings (requests and offers naming it) that name the officer, and
  // the officer's attendances at group meetings naming it, each with its
  // case and the group advised; read as the matter only (whose briefing
  // each is changes only as BriefingsOnMatterByGroup() says): the caller
  // reads the officer's own with ReadOfficerOnMatterUpTo(). Worked out once
  // per report or decision.
  struct Advice {
    Seen seen;
    const Case* c = nullptr;
    const std::string* group = nullptr;
  };
  using AdviceByOfficer = absl::flat_hash_map<std::string, std::vector<Advice>>;
  const AdviceByOfficer& AdviceOnMatter(const std::string& matter) const;
  const QueryOutcome& QueryOf(const Case& c) const;
  // The officers' attendances at `group`'s meetings that name `matter` and
  // link `briefing_id` (in OnMatter's order of cases, then of facts). The
  // matter's attendances are worked out once per report however many
  // briefings ask (a matter of 200 briefings and their meetings read each
  // meeting's facts once per group per briefing per decision: a burst on it
  // took a minute to fold; outside probe). A call reads only what it
  // returns: the matter's facts naming the three (AttendanceLinkKey), and
  // the meetings holding them (reading every fact on the matter, or the
  // group's, decided each briefing there again at each event on it). A
  // decision asking about its own briefing files no name: the index
  // decides a briefing again at every attendance linking it.
  std::vector<Seen> AttendancesLinking(const std::string& matter, const std::string& group,
                                       const std::string& briefing_id) const;

  // ---- Output --------------------------------------------------------------
  // Adds an obligation of `rule_id` owed to `group_id` by `officer_id`,
  // due at `due`, if it is still open at the as-of time and due in the
  // period.
  void AddObligation(const std::string& rule_id, absl::string_view group_id,
                     absl::string_view officer_id, absl::string_view case_id, absl::Time due,
                     std::string description, const std::vector<Seen>& evidence);

  // Adds a finding if `when` lies in the period and not after the as-of
  // time. Evidence facts are cited with any correction that applies. The
  // finding cites the rule's paragraphs, or `citation` (some of them) where
  // only those are broken.
  void AddFinding(const std::string& rule_id, absl::string_view group_id, absl::string_view case_id,
                  absl::Time when, std::string explanation, const std::vector<Seen>& evidence,
                  const char* citation = nullptr);
  // In [from, to), and not after the report's moment: what happens at the
  // as-of instant itself has happened (a deadline reached at that instant
  // is missed, in the findings as in the group table).
  bool InPeriod(absl::Time t) const {
    return pass_ != Pass::kReport ||
           (t >= query_.from && t < query_.to && t <= query_.as_of_time);
  }

  // "12 Mar 2026"
  std::string Date(absl::Time t) const;

  // Whether the report's budget (query().budget) is spent or given up: the
  // report is then incomplete, and Build() returns at the next step.
  bool given_up() const { return query_.budget != nullptr && query_.budget->given_up(); }
  // A step that adds nothing (an entry passed over); false once given up.
  bool KeepGoing() const { return query_.budget == nullptr || query_.budget->KeepGoing(); }

  const FairnessProjection::Indexes& indexes() const { return indexes_; }
  const ReportQuery& query() const { return query_; }
  const FairnessSettings& settings() const { return settings_; }
  const WorkingDayCalendar& calendar() const { return calendar_; }
  // min(to, as_of_time): nothing after it is reported.
  absl::Time period_end() const { return period_end_; }

 private:
  std::string Summarize(const Seen& seen) const;
  // `fact` as of the query (nullopt if recorded after it), and whether a
  // correction has withdrawn it by then.
  std::optional<Seen> Resolve(const state::FactRecord& fact, bool* withdrawn) const;
  // Counts what a report adds against its budget (not while deciding for
  // the index, which adds to no report).
  void Spend(uint64_t bytes) {
    if (pass_ == Pass::kReport && query_.budget != nullptr) query_.budget->Spend(bytes);
  }
  // A cited event's position and summary, as the report's evidence holds
  // them (at least: two tags and two lengths).
  void SpendOnSummary(const std::string& summary) { Spend(summary.size() + 4); }
  // AddDecided's finding or obligation, serialised.
  void AddDecidedProto(bool obligation, int64_t when_nanos, const std::string& proto);
  // A report that keeps less than everything (query().keep): findings
  // counted by group and severity as they are added, cited events'
  // summaries not kept, and findings or obligations as query().keep says.
  bool tallying() const {
    return pass_ == Pass::kReport && query_.keep != ReportQuery::Keep::kEverything;
  }
  void Tally(absl::string_view group_id, v1::Severity severity);
  // Whether a tallying report keeps `f` (Keep::kFindings, and accepted).
  bool KeepsFinding(const v1::Finding& f) const {
    return query_.keep == ReportQuery::Keep::kFindings &&
           (query_.keep_finding == nullptr || query_.keep_finding(f));
  }
  // The positions that cite `evidence` (with any correction that applies),
  // in order, each added to the report's evidence with its summary.
  std::vector<uint64_t> Cite(const std::vector<Seen>& evidence);
  // The council's registry as of the query, read once per report (or taken
  // from a cache by the constructor).
  void LoadRegistry();
  // Its parts, each read from its own case (or, for pre-election periods,
  // their cases) into `r`, in place of what was read from it before. A
  // councillor's memberships are then merged again (MergeMemberships) for
  // each councillor in `touched`.
  void ReadGroupInto(const Case& group, CouncilRegistry* r,
                     std::vector<std::string>* touched) const;
  void ReadMemberInto(const Case& member, CouncilRegistry* r) const;
  void ReadOfficerInto(const Case& officer, CouncilRegistry* r) const;
  void ReadElectionsInto(CouncilRegistry* r) const;
  static void MergeMemberships(const std::string& member, CouncilRegistry* r);

  const FairnessProjection& projection_;
  const FairnessProjection::Indexes& indexes_;
  // The bodies read (Body()): kept in memory while this reads them.
  mutable absl::flat_hash_map<const Case*, std::shared_ptr<const state::CaseRecord>> bodies_;
  mutable absl::Status read_error_;
  bool errors_to_caller_ = false;
  ReportQuery query_;
  const FairnessSettings& settings_;
  const WorkingDayCalendar& calendar_;
  absl::Time period_end_;
  const Scope scope_ = Scope::kEverything;
  // Deciding for the index: findings (as of the end of time) or obligations
  // (as of its start), for the subject only, recording what is read.
  enum class Pass { kReport, kIndexFindings, kIndexObligations };
  Pass pass_ = Pass::kReport;
  Reads* reads_ = nullptr;
  const GroupFigures* figures_ = nullptr;
  const FigureChanges* figure_changes_ = nullptr;
  std::function<absl::Status(FigureChanges*)> figures_one_by_one_;
  mutable std::shared_ptr<const FigureChanges> figure_changes_one_by_one_;
  const AccessFigures* access_figures_ = nullptr;
  void ReadCase(absl::string_view stream_id) const {
    if (reads_ == nullptr || unrecorded_) return;
    if (bounded_reads_) {
      section_cases_.emplace_back(stream_id);
    } else {
      reads_->cases.emplace(stream_id);
    }
  }
  // Between BeginBoundedReads() and EndBoundedReads(): and what was read
  // since the first, filed under the second's instant.
  mutable bool bounded_reads_ = false;
  mutable std::vector<std::string> section_cases_;
  mutable std::vector<std::string> section_matters_;
  // Set while working out what a call records otherwise (AttendancesLinking).
  mutable bool unrecorded_ = false;
  void ReadCouncilAt(absl::Time t) const;

  // Per-report caches.
  // Node maps: rules hold a view while asking for another case's, so the
  // references handed out must survive later insertions (a flat map moves
  // its values when it grows).
  mutable absl::node_hash_map<const Case*, BriefingView> briefing_views_;
  mutable absl::node_hash_map<const Case*, QueryOutcome> query_outcomes_;
  // A matter's attendances by the briefing id they link, each with its
  // meeting.
  struct MatterAttendances {
    bool worked_out = false;
    absl::flat_hash_map<std::string, std::vector<std::pair<Seen, const Case*>>> by_briefing;
  };
  mutable absl::node_hash_map<std::string, MatterAttendances> attendances_;
  mutable absl::node_hash_map<std::string, ByGroup> briefings_by_group_;
  // KeepMattersBetweenDecisions(): matter -> whose briefing each is there,
  // worked out as of `built_at` (no change to it folded since). Only
  // matters of more than kKeptMatterCases cases, at most kKeptMatters (no
  // more is kept until MattersChanged(): what a decision was handed stays
  // valid through it).
  struct KeptByGroup {
    ByGroup by_group;
    uint64_t built_at = 0;
    // The briefings there with an offer withdrawn (WithdrawnOffersOnMatter
    // reads only these), once worked out.
    std::optional<std::vector<const Case*>> offers_withdrawn;
  };
  // The kept entry of `matter` as of the decision's position, else null.
  KeptByGroup* Kept(const std::string& matter) const;
  static constexpr size_t kKeptMatterCases = 32;
  static constexpr size_t kKeptMatters = 256;
  bool keep_matters_ = false;
  uint64_t matters_changed_at_ = 0;
  mutable absl::node_hash_map<std::string, KeptByGroup> kept_by_group_;
  mutable absl::node_hash_map<std::string, SeenByGroup> withdrawn_offers_;
  mutable absl::node_hash_map<std::string, AdviceByOfficer> advice_;
  // Files `name` (a matter's, or a part of one) as read in the current mode.
  void ReadMatterName(std::string name) const {
    if (reads_ == nullptr) return;
    if (bounded_reads_) {
      section_matters_.push_back(std::move(name));
    } else {
      reads_->matters.insert(std::move(name));
    }
  }
  // What `visit(const Case& briefing, Value&)` gathers from the briefings
  // on `matter`, read as the matter only, kept in `cache` for the decision.
  template <typename Value, typename Visit>
  const Value& ByGroupOnMatter(const std::string& matter,
                               absl::node_hash_map<std::string, Value>& cache,
                               const Visit& visit) const;
  mutable std::array<std::optional<std::vector<const Case*>>,
                     static_cast<size_t>(CaseKind::kOther) + 1>
      cases_;
  std::vector<const Case*> subject_members_;
  // Deciding for the index: the subject (else null).
  const Case* subject_ = nullptr;
  // GroupSizeAt's: instant -> group id (the registry's string) ->
  // councillors. Cleared when the registry changes, and when it holds
  // kMaxGroupSizeInstants.
  static constexpr size_t kMaxGroupSizeInstants = 64;
  mutable std::map<absl::Time, absl::flat_hash_map<absl::string_view, size_t>> group_sizes_;
  // MemberGroupAt's answer as the registry holds it (nullptr: none), not
  // copied, and not recorded as a read of the council.
  const std::string* MemberGroupIn(const std::string& member_id, absl::Time t) const;
  using Change = CouncilRegistry::Change;
  std::shared_ptr<const CouncilRegistry> registry_;
  // Whether registry_ is the whole registry as of some position (the index's
  // first one is empty, right only for a projection at position 0):
  // UpdateRegistry() reads it whole otherwise.
  bool registry_whole_ = true;

  // Stream id -> the case and its deadline.
  mutable std::map<std::string, std::pair<const Case*, absl::Time>, std::less<>>
      uncovered_deadlines_;
  std::vector<v1::Finding> findings_;
  std::vector<v1::Obligation> obligations_;
  std::map<uint64_t, std::string> evidence_;  // position -> summary
  // Group id -> its findings by severity (high, medium, low): as they are
  // added when tallying(), else counted by Build() once they all are.
  absl::flat_hash_map<std::string, std::array<uint32_t, 3>> tallies_;
  v1::Finding tallied_;  // each stored finding parsed in turn
  v1::FairnessReport report_;
};

// Per-group metrics and the access-parity rule, in metrics.cc.
void AddGroupMetrics(ReportBuilder& b, v1::FairnessReport* report);

// Who read the log in the period, in access.cc.
void AddAccessSummary(const ReportBuilder& b, v1::FairnessReport* report);

// A written query's outcome (rules/written_query_reply.cc) and a briefing's
// opening (rules/common.cc), cached by the builder.
QueryOutcome EvaluateQuery(const ReportBuilder& b, const Case& query);
BriefingView ViewBriefing(const ReportBuilder& b, const Case& c);

}  // namespace evenhand::projections::internal

#endif  // EVENHAND_PROJECTIONS_INTERNAL_REPORT_BUILDER_H_
