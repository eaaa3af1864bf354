#include "projections/internal/report_builder.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <tuple>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "base/logging.h"
#include "base/time_util.h"
#include "projections/internal/group_figures.h"

namespace evenhand::projections::internal {

// ---------------------------------------------------------------------------

ReportBuilder::ReportBuilder(const FairnessProjection& projection, const ReportQuery& query,
                             const FairnessSettings& settings, const WorkingDayCalendar& calendar,
                             Scope scope, CouncilRegistryCache* registries)
    : projection_(projection),
      indexes_(projection.indexes()),
      query_(query),
      settings_(settings),
      calendar_(calendar),
      period_end_(std::min(query.to, query.as_of_time)),
      scope_(scope) {
  if (registries != nullptr) registry_ = registries->Get(query.as_of_position, calendar);
  if (registry_ != nullptr) return;
  // Read whole, whatever the report's budget says: the registry is kept
  // for other reports (and is the council's cases only, not the period's).
  ReportBudget* const budget = query_.budget;
  query_.budget = nullptr;
  LoadRegistry();
  query_.budget = budget;
  // Not one that missed a case it could not read back.
  if (registries != nullptr && read_error_.ok()) {
    registries->Put(registry_, query.as_of_position, calendar);
  }
}

const FigureChanges& ReportBuilder::figure_changes_one_by_one() const {
  if (!figure_changes_->summed_any || !figures_one_by_one_) return *figure_changes_;
  if (figure_changes_one_by_one_ == nullptr) {
    auto changes = std::make_shared<FigureChanges>();
    if (absl::Status s = figures_one_by_one_(changes.get()); !s.ok() && read_error_.ok()) {
      read_error_ = s;
    }
    figure_changes_one_by_one_ = std::move(changes);
  }
  return *figure_changes_one_by_one_;
}

const state::CaseRecord& ReportBuilder::Body(const Case& c) const {
  // Given up, the report is discarded, so what is left costs nothing.
  static const state::CaseRecord* const kNoFacts = new state::CaseRecord();
  ReportBudget* budget = pass_ == Pass::kReport ? query_.budget : nullptr;
  if (budget != nullptr && !budget->KeepGoing()) return *kNoFacts;
  auto [it, inserted] = bodies_.try_emplace(&c);
  if (inserted) {
    // A case not read yet may be read from disk: more steps.
    if (budget != nullptr && !budget->KeepGoing(ReportBudget::kCaseRead)) {
      bodies_.erase(it);
      return *kNoFacts;
    }
    it->second =
        projection_.Body(c, pass_ == Pass::kReport || errors_to_caller_ ? &read_error_ : nullptr);
  }
  return *it->second;
}

std::optional<Seen> ReportBuilder::Resolve(const state::FactRecord& fact, bool* withdrawn) const {
  if (fact.position() > query_.as_of_position) return std::nullopt;
  Seen seen;
  seen.fact = &fact;
  seen.payload = &fact.payload();
  seen.position = fact.position();
  seen.at = absl::FromUnixNanos(fact.occurred_at_nanos());
  *withdrawn = false;
  for (const state::CorrectionRecord& c : fact.corrections()) {
    if (c.position() > query_.as_of_position) break;
    if (c.occurred_at_nanos() != 0) seen.at = absl::FromUnixNanos(c.occurred_at_nanos());
    if (c.has_replacement()) {
      seen.payload = &c.replacement();
      *withdrawn = false;
    } else if (c.occurred_at_nanos() == 0) {
      *withdrawn = true;  // neither what nor when: the event is withdrawn
    }
    seen.correction_position = c.position();
  }
  return seen;
}

std::optional<Seen> ReportBuilder::Visible(const state::FactRecord& fact) const {
  bool withdrawn = false;
  std::optional<Seen> seen = Resolve(fact, &withdrawn);
  if (withdrawn) return std::nullopt;
  return seen;
}

std::vector<Seen> ReportBuilder::Withdrawn(const Case& c, v1::Payload::KindCase kind) const {
  std::vector<Seen> out;
  ReadCase(c.stream_id());
  for (const state::FactRecord& fact : Body(c).facts()) {
    if (fact.position() > query_.as_of_position) break;
    bool withdrawn = false;
    std::optional<Seen> seen = Resolve(fact, &withdrawn);
    if (seen && withdrawn && seen->payload->kind_case() == kind) out.push_back(*seen);
  }
  return out;
}

std::vector<Seen> ReportBuilder::Facts(const Case& c, v1::Payload::KindCase kind) const {
  std::vector<Seen> out;
  for (const Seen& s : View(c)) {
    if (s.payload->kind_case() == kind) out.push_back(s);
  }
  return out;
}

std::optional<Seen> ReportBuilder::First(const Case& c, v1::Payload::KindCase kind) const {
  for (const Seen& s : View(c)) {
    if (s.payload->kind_case() == kind) return s;
  }
  return std::nullopt;
}

std::optional<Seen> ReportBuilder::Opening(const Case& c) const {
  for (const Seen& s : View(c)) return s;
  return std::nullopt;
}

const std::vector<const Case*>& ReportBuilder::Cases(CaseKind kind) const {
  std::optional<std::vector<const Case*>>& cached = cases_[static_cast<size_t>(kind)];
  if (cached) return *cached;  // always so when deciding for the index
  cached.emplace();
  const auto& timeline = indexes_.timelines[static_cast<size_t>(kind)];
  // A case that started before `earliest` and is not long-running ended
  // more than the deadline slack before the period, so nothing it holds can
  // fall in the period. The slack covers the longest deadline counted from a
  // case's last fact, in calendar days (working days, weekends and
  // holidays).
  const int deadline_days =
      std::max(settings_.offer_deadline_working_days, settings_.query_reply_working_days);
  const absl::Duration slack = absl::Hours(24 * (2 * deadline_days + 14));
  const absl::Time earliest = query_.from - FairnessProjection::Indexes::kLongRunning - slack;
  const int64_t from_nanos =
      earliest <= absl::FromUnixNanos(INT64_MIN + 1) ? INT64_MIN : absl::ToUnixNanos(earliest);
  // And a case that begins after the period's end (its moment) may hold
  // an obligation open then and due in the period: a query recorded by the
  // moment, received as far ahead as the server accepts.
  const absl::Time last_start =
      std::max(period_end_, std::min(query_.to, query_.as_of_time + settings_.max_future_skew));
  const int64_t end_nanos =
      last_start >= absl::FromUnixNanos(INT64_MAX - 1) ? INT64_MAX : absl::ToUnixNanos(last_start);
  // Of those, a case whose last fact (in any version, or a reply date it
  // promised) lies more than the slack before the period is done with before
  // it starts: most of the cases that started in the weeks before a period.
  const absl::Time done_before = query_.from - slack;
  const int64_t done_before_nanos = done_before <= absl::FromUnixNanos(INT64_MIN + 1)
                                        ? INT64_MIN
                                        : absl::ToUnixNanos(done_before);
  for (auto it = timeline.by_start.lower_bound(from_nanos);
       it != timeline.by_start.end() && it->first <= end_nanos; ++it) {
    if (it->second->last_nanos >= done_before_nanos) cached->push_back(it->second);
  }
  for (const Case* c : timeline.long_running) {
    if (c->first_nanos < from_nanos && c->last_nanos >= done_before_nanos) cached->push_back(c);
  }
  if (kind == CaseKind::kBriefing) {
    // A briefing given at a group's meeting (rules/common.h, GivenAt) is
    // given when the meeting's attendance says, which its own facts, long
    // before, do not: the period's meetings bring the briefings they give.
    absl::flat_hash_set<const Case*> have(cached->begin(), cached->end());
    std::vector<const Case*> linked;
    for (const Case* m : Cases(CaseKind::kMeeting)) {
      for (const Seen& a : Facts(*m, v1::Payload::kOfficerAttendedGroupMeeting)) {
        const std::string& id = a.payload->officer_attended_group_meeting().briefing_id();
        if (id.empty()) continue;
        auto it = indexes_.briefing_by_id.find(id);
        if (it != indexes_.briefing_by_id.end() && have.insert(it->second).second) {
          linked.push_back(it->second);
        }
      }
    }
    cached->insert(cached->end(), linked.begin(), linked.end());
  }
  return *cached;
}

const std::vector<const Case*>& ReportBuilder::Members() const {
  return pass_ == Pass::kReport ? indexes_.members : subject_members_;
}

bool ReportBuilder::GroupExistsAt(const Case& group, absl::Time t) const {
  ReadCouncilAt(t);
  auto it = registry_->groups.find(group.id());
  return it != registry_->groups.end() && it->second.recognised && it->second.recognised->at <= t &&
         it->second.dissolved > t;
}

std::vector<const Case*> ReportBuilder::GroupsAt(absl::Time t) const {
  ReadCouncilAt(t);
  std::vector<const Case*> out;
  for (const Case* g : indexes_.groups) {
    if (GroupExistsAt(*g, t)) out.push_back(g);
  }
  std::sort(out.begin(), out.end(), [](const Case* a, const Case* b) { return a->id() < b->id(); });
  return out;
}

std::string ReportBuilder::GroupName(const std::string& group_id) const {
  if (group_id.empty()) return "councillors outside any group";
  ReadCase(absl::StrCat("group-", group_id));
  auto it = registry_->groups.find(group_id);
  if (it != registry_->groups.end() && !it->second.name.empty()) return it->second.name;
  return absl::StrCat("group ", group_id);
}

std::string ReportBuilder::MemberGroupAt(const std::string& member_id, absl::Time t) const {
  ReadCouncilAt(t);
  const std::string* group = MemberGroupIn(member_id, t);
  return group == nullptr ? "" : *group;
}

const std::string* ReportBuilder::MemberGroupIn(const std::string& member_id, absl::Time t) const {
  auto it = registry_->memberships.find(member_id);
  if (it == registry_->memberships.end()) return nullptr;
  const std::vector<Change>& changes = it->second;
  // The last change at or before t.
  auto after = std::upper_bound(changes.begin(), changes.end(), t,
                                [](absl::Time v, const Change& c) { return v < c.at; });
  if (after == changes.begin()) return nullptr;
  const std::string& group = std::prev(after)->value;
  if (group.empty()) return nullptr;
  auto g = indexes_.group_by_id.find(group);
  if (g == indexes_.group_by_id.end() || !GroupExistsAt(*g->second, t)) return nullptr;
  return &group;
}

std::string ReportBuilder::MemberName(const std::string& member_id) const {
  ReadCase(absl::StrCat("member-", member_id));
  auto it = registry_->member_names.find(member_id);
  if (it != registry_->member_names.end() && !it->second.empty()) return std::string(it->second);
  return absl::StrCat("councillor ", member_id);
}

std::vector<std::string> ReportBuilder::GroupMembersAt(const std::string& group_id,
                                                       absl::Time t) const {
  ReadCouncilAt(t);
  std::vector<std::string> out;
  for (const auto& [member, changes] : registry_->memberships) {
    if (const std::string* group = MemberGroupIn(member, t); group && *group == group_id) {
      out.push_back(member);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

size_t ReportBuilder::GroupSizeAt(const std::string& group_id, absl::Time t) const {
  ReadCouncilAt(t);
  auto at = group_sizes_.find(t);
  if (at == group_sizes_.end()) {
    if (group_sizes_.size() >= kMaxGroupSizeInstants) group_sizes_.clear();
    absl::flat_hash_map<absl::string_view, size_t> sizes;
    for (const auto& [member, changes] : registry_->memberships) {
      if (const std::string* group = MemberGroupIn(member, t)) ++sizes[*group];
    }
    at = group_sizes_.emplace(t, std::move(sizes)).first;
  }
  auto size = at->second.find(group_id);
  return size == at->second.end() ? 0 : size->second;
}

std::vector<absl::Time> ReportBuilder::CouncilChangesIn(absl::Time from, absl::Time to) const {
  ReadCouncilAt(to);
  std::vector<absl::Time> out = {from};
  auto add = [&](absl::Time t) {
    if (t > from && t < to) out.push_back(t);
  };
  for (const auto& [member, changes] : registry_->memberships) {
    for (const Change& c : changes) add(c.at);
  }
  for (const auto& [id, g] : registry_->groups) {
    if (g.recognised) add(g.recognised->at);
    add(g.dissolved);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<Seen> ReportBuilder::MembershipChangesBy(const std::string& group_id,
                                                     absl::Time t) const {
  ReadCouncilAt(t);
  // The changes naming the group (into it, or out of it), at the latest
  // instant at or before t.
  absl::Time latest = absl::InfinitePast();
  std::vector<std::pair<std::string, uint64_t>> found;  // member, position
  for (const auto& [member, changes] : registry_->memberships) {
    for (size_t i = 0; i < changes.size() && changes[i].at <= t; ++i) {
      const bool into = changes[i].value == group_id;
      const bool out = i > 0 && changes[i - 1].value == group_id && !into;
      if (!into && !out) continue;
      if (changes[i].at > latest) {
        latest = changes[i].at;
        found.clear();
      }
      if (changes[i].at == latest) found.emplace_back(member, changes[i].position);
    }
  }
  std::vector<Seen> out;
  auto cite = [&](const Case* c, uint64_t position) {
    if (c == nullptr) return false;
    for (const Seen& s : View(*c)) {
      if (s.position != position) continue;
      out.push_back(s);
      return true;
    }
    return false;
  };
  for (const auto& [member, position] : found) {
    auto m = indexes_.member_by_id.find(member);
    auto g = indexes_.group_by_id.find(group_id);
    // The councillor's own fact, or the group's recognition naming them.
    if (!cite(m == indexes_.member_by_id.end() ? nullptr : m->second, position)) {
      cite(g == indexes_.group_by_id.end() ? nullptr : g->second, position);
    }
  }
  std::sort(out.begin(), out.end(),
            [](const Seen& a, const Seen& b) { return a.position < b.position; });
  out.erase(std::unique(out.begin(), out.end(),
                        [](const Seen& a, const Seen& b) { return a.position == b.position; }),
            out.end());
  return out;
}

absl::Time ReportBuilder::Deadline(const Case& c, absl::Time t, int n) const {
  const absl::Time deadline = calendar_.EndOfWorkingDay(t, n);
  if (!calendar_.Covers(calendar_.LocalDay(t)) ||
      !calendar_.Covers(calendar_.LocalDay(deadline - absl::Nanoseconds(1)))) {
    uncovered_deadlines_.try_emplace(std::string(c.stream_id()), &c, deadline);
    static std::atomic<bool> logged{false};
    if (!logged.exchange(true)) {
      logging::Error("fairness",
                     absl::StrCat("a deadline (", c.stream_id(),
                                  ") lies outside the bank "
                                  "holiday calendar, which covers ",
                                  calendar_.first_year(), " to ", calendar_.last_year(),
                                  ": it is counted with weekends only and reported as "
                                  "data-quality. Update fairness.bankHolidaysFile with GOV.UK's "
                                  "current bank-holidays.json"));
    }
  }
  return deadline;
}

std::string ReportBuilder::DirectorOf(const std::string& officer_id) const {
  ReadCase(absl::StrCat("officer-", officer_id));
  auto it = registry_->officers.find(officer_id);
  return it == registry_->officers.end() ? std::string() : it->second.director;
}

v1::OfficerRole ReportBuilder::OfficerRoleAt(const std::string& officer_id, absl::Time t) const {
  ReadCouncilAt(t);
  auto it = registry_->officers.find(officer_id);
  if (it == registry_->officers.end()) return v1::OFFICER_ROLE_UNSPECIFIED;
  v1::OfficerRole role = v1::OFFICER_ROLE_UNSPECIFIED;
  for (const auto& [when, r] : it->second.roles) {
    if (when.at > t) break;
    role = r;
  }
  return role;
}

std::string ReportBuilder::AssistantGroupAt(const std::string& officer_id, absl::Time t) const {
  ReadCouncilAt(t);
  auto it = registry_->officers.find(officer_id);
  if (it == registry_->officers.end()) return "";
  std::string group;
  for (const auto& [when, r] : it->second.roles) {
    if (when.at > t) break;
    group = r == v1::POLITICAL_ASSISTANT ? when.value : "";
  }
  return group;
}

std::string ReportBuilder::OfficerName(const std::string& officer_id) const {
  ReadCase(absl::StrCat("officer-", officer_id));
  auto it = registry_->officers.find(officer_id);
  if (it != registry_->officers.end() && !it->second.name.empty()) return it->second.name;
  return absl::StrCat("officer ", officer_id);
}

bool ReportBuilder::CanApproveAt(const std::string& officer_id, absl::Time t) const {
  const v1::OfficerRole role = OfficerRoleAt(officer_id, t);
  if (role == v1::HEAD_OF_PAID_SERVICE || role == v1::MONITORING_OFFICER) return true;
  if (role == v1::OFFICER_ROLE_UNSPECIFIED) return false;
  auto it = registry_->officers.find(officer_id);
  if (it == registry_->officers.end()) return false;
  bool delegated = false;
  for (const auto& [when, granted] : it->second.delegations) {
    if (when.at > t) break;
    // Only the Head of Paid Service can delegate (Harlow 15.3).
    delegated = granted && OfficerRoleAt(when.value, when.at) == v1::HEAD_OF_PAID_SERVICE;
  }
  return delegated;
}

std::optional<Seen> ReportBuilder::DelegationNotHonouredAt(const std::string& officer_id,
                                                           absl::Time t) const {
  if (CanApproveAt(officer_id, t)) return std::nullopt;
  auto it = registry_->officers.find(officer_id);
  if (it == registry_->officers.end()) return std::nullopt;
  std::optional<CouncilRegistry::Change> in_force;
  for (const auto& [when, granted] : it->second.delegations) {
    if (when.at > t) break;
    if (granted) {
      in_force = when;
    } else {
      in_force.reset();
    }
  }
  // (Not agreed at `t`, so whoever gave the one in force could not give it.)
  if (!in_force) return std::nullopt;
  auto officer = indexes_.officer_by_id.find(officer_id);
  if (officer == indexes_.officer_by_id.end()) return std::nullopt;
  for (const Seen& s : Facts(*officer->second, v1::Payload::kApprovalDelegated)) {
    if (s.position == in_force->position) return s;
  }
  return std::nullopt;
}

std::optional<Seen> ReportBuilder::PreElectionPeriodAt(absl::Time t) const {
  ReadCouncilAt(t);
  for (const auto& [period, declared] : registry_->elections) {
    if (t >= period.first && t < period.second) return declared;
  }
  return std::nullopt;
}

const QueryOutcome& ReportBuilder::QueryOf(const Case& c) const {
  ReadCase(c.stream_id());
  auto it = query_outcomes_.find(&c);
  if (it == query_outcomes_.end()) it = query_outcomes_.emplace(&c, EvaluateQuery(*this, c)).first;
  return it->second;
}

std::string ReportBuilder::Date(absl::Time t) const {
  std::string s = absl::FormatTime("%d %b %Y", t, UkTimeZone());
  if (!s.empty() && s[0] == '0') s.erase(0, 1);
  return s;
}

std::vector<uint64_t> ReportBuilder::Cite(const std::vector<Seen>& evidence) {
  std::vector<uint64_t> positions;
  for (const Seen& s : evidence) {
    positions.push_back(s.position);
    if (s.correction_position != 0) positions.push_back(s.correction_position);
    if (tallying()) continue;  // (no summary kept)
    if (auto [it, added] = evidence_.try_emplace(s.position, Summarize(s)); added) {
      SpendOnSummary(it->second);
    }
    if (s.correction_position != 0) {
      bool withdrawal = false;
      for (int i = 0; s.fact != nullptr && i < s.fact->corrections_size(); ++i) {
        const state::CorrectionRecord& c = s.fact->corrections(i);
        if (c.position() == s.correction_position) {
          withdrawal = !c.has_replacement() && c.occurred_at_nanos() == 0;
        }
      }
      if (auto [it, added] = evidence_.try_emplace(
              s.correction_position, absl::StrCat(withdrawal ? "Withdrawal" : "Correction",
                                                  " of the event at position ", s.position));
          added) {
        SpendOnSummary(it->second);
      }
    }
  }
  std::sort(positions.begin(), positions.end());
  positions.erase(std::unique(positions.begin(), positions.end()), positions.end());
  return positions;
}

void ReportBuilder::AddObligation(const std::string& rule_id, absl::string_view group_id,
                                  absl::string_view officer_id, absl::string_view case_id,
                                  absl::Time due, std::string description,
                                  const std::vector<Seen>& evidence) {
  // Open at the report's moment, and due inside its period: the cases read
  // for a period are those that can have a finding dated in it, so this is
  // what the period can show, the same however the log is folded. (When
  // deciding for the index, kept whenever due: the report filters.)
  const RuleDef& rule = Rule(rule_id);
  if (!rule.obligations) {
    // The index would never see it (Decide asks only those rules).
    logging::Error("fairness", absl::StrCat("rule ", rule_id, " adds obligations without saying so"));
    std::abort();
  }
  if (pass_ == Pass::kIndexFindings ||
      (tallying() && query_.keep != ReportQuery::Keep::kObligations)) {
    return;
  }
  if (pass_ == Pass::kReport &&
      (due <= query_.as_of_time || due < query_.from || due >= query_.to)) {
    return;
  }
  v1::Obligation o;
  o.set_rule_id(rule.id);
  o.set_citation(rule.citation);
  o.set_case_id(std::string(case_id));
  o.set_group_id(std::string(group_id));
  o.set_officer_id(std::string(officer_id));
  *o.mutable_due_at() = ToProtoTime(due);
  if (pass_ == Pass::kReport) {
    o.set_working_days_left(static_cast<uint32_t>(calendar_.WorkingDaysBetween(
        calendar_.LocalDay(query_.as_of_time), calendar_.LastDayEndingBy(due))));
  }
  if (uncovered_deadlines_.contains(case_id)) {
    absl::StrAppend(&description, " (Counted without bank holidays: the calendar covers only ",
                    calendar_.first_year(), " to ", calendar_.last_year(), ".)");
  } else if (!calendar_.Covers(calendar_.LastDayEndingBy(due))) {
    // A day promised beyond the calendar: not counted, but the working
    // days left to it are (found from outside: silently).
    absl::StrAppend(&description,
                    " (Working days left to it are counted without bank holidays: the calendar "
                    "covers only ",
                    calendar_.first_year(), " to ", calendar_.last_year(), ".)");
  }
  o.set_description(std::move(description));
  for (uint64_t p : Cite(evidence)) o.add_evidence_positions(p);
  Spend(o.ByteSizeLong());
  obligations_.push_back(std::move(o));
}

void ReportBuilder::AddFinding(const std::string& rule_id, absl::string_view group_id,
                               absl::string_view case_id, absl::Time when, std::string explanation,
                               const std::vector<Seen>& evidence, const char* citation) {
  if (pass_ == Pass::kIndexObligations || !InPeriod(when)) return;
  const RuleDef& rule = Rule(rule_id);
  if (tallying()) {
    Tally(group_id, rule.severity);
    if (query_.keep != ReportQuery::Keep::kFindings) return;
  }
  v1::Finding f;
  f.set_rule_id(rule.id);
  f.set_citation(citation != nullptr ? citation : rule.citation);
  f.set_severity(rule.severity);
  f.set_group_id(std::string(group_id));
  f.set_case_id(std::string(case_id));
  f.set_explanation(std::move(explanation));
  *f.mutable_occurred_at() = ToProtoTime(when);
  for (uint64_t p : Cite(evidence)) f.add_evidence_positions(p);
  if (tallying() && !KeepsFinding(f)) return;
  Spend(f.ByteSizeLong());
  findings_.push_back(std::move(f));
}

v1::FairnessReport ReportBuilder::Build() {
  report_.Clear();
  report_.set_council_name(settings_.council_name);
  if (query_.from != absl::InfinitePast()) *report_.mutable_from() = ToProtoTime(query_.from);
  *report_.mutable_to() = ToProtoTime(period_end_);
  if (query_.to >= query_.as_of_time && query_.to != absl::InfiniteFuture()) {
    *report_.mutable_obligations_due_before() = ToProtoTime(query_.to);
  }
  report_.set_as_of_position(query_.as_of_position);
  *report_.mutable_as_of_time() = ToProtoTime(query_.as_of_time);
  report_.set_events_considered(query_.as_of_position);
  for (v1::RuleInfo& info : RuleCatalogue(settings_)) *report_.add_rules() = std::move(info);

  // The per-case checks (unless the index gave their findings, see
  // AddDecided), then what depends on the period as a whole.
  // Given up (query().budget), the report is incomplete and discarded:
  // nothing more is worked out.
  auto stop_here = [this] {
    if (!given_up()) return false;
    findings_.clear();
    obligations_.clear();
    evidence_.clear();
    return true;
  };
  for (const RuleDef& rule : Rules()) {
    if (scope_ == Scope::kEverything && rule.check != nullptr) rule.check(*this);
    if (stop_here()) return std::move(report_);
  }
  for (const RuleDef& rule : Rules()) {
    if (rule.check_period != nullptr) rule.check_period(*this);
    if (stop_here()) return std::move(report_);
  }
  // Also adds the access-parity findings.
  AddGroupMetrics(*this, &report_);
  AddAccessSummary(*this, &report_);
  if (stop_here()) return std::move(report_);

  std::sort(findings_.begin(), findings_.end(), [](const v1::Finding& a, const v1::Finding& b) {
    auto key = [](const v1::Finding& f) {
      return std::tuple<int64_t, int32_t, const std::string&, const std::string&,
                        const std::string&, const std::string&>(
          f.occurred_at().seconds(), f.occurred_at().nanos(), f.rule_id(), f.case_id(),
          f.group_id(), f.explanation());
    };
    if (key(a) != key(b)) return key(a) < key(b);
    // (Two findings alike but for what they cite: the same order in a
    // report and in any list taken from it.)
    return std::lexicographical_compare(
        a.evidence_positions().begin(), a.evidence_positions().end(),
        b.evidence_positions().begin(), b.evidence_positions().end());
  });
  // Each group's findings by severity: counted as they were added when
  // tallying, else in one pass (not one per group: 1,000 groups by 100,000
  // findings took seconds, and a stopping server waited for it).
  if (!tallying()) {
    tallies_.clear();
    for (const v1::Finding& f : findings_) {
      Tally(f.group_id(), f.severity());
      if (!KeepGoing()) break;
    }
    if (stop_here()) return std::move(report_);
  }
  for (v1::GroupMetrics& g : *report_.mutable_groups()) {
    if (auto t = tallies_.find(g.group_id()); t != tallies_.end()) {
      g.set_findings_high(g.findings_high() + t->second[0]);
      g.set_findings_medium(g.findings_medium() + t->second[1]);
      g.set_findings_low(g.findings_low() + t->second[2]);
    }
  }
  for (v1::Finding& f : findings_) *report_.add_findings() = std::move(f);
  findings_.clear();
  std::sort(obligations_.begin(), obligations_.end(),
            [](const v1::Obligation& a, const v1::Obligation& b) {
              // References, not copies: a report sorts thousands.
              auto key = [](const v1::Obligation& o) {
                return std::tuple<int64_t, int32_t, const std::string&, const std::string&,
                                  const std::string&>(o.due_at().seconds(), o.due_at().nanos(),
                                                      o.rule_id(), o.case_id(), o.group_id());
              };
              return key(a) < key(b);
            });
  for (v1::Obligation& o : obligations_) *report_.add_obligations() = std::move(o);
  obligations_.clear();
  for (const auto& [position, summary] : evidence_) {
    v1::EvidenceEvent* e = report_.add_evidence();
    e->set_position(position);
    e->set_summary(summary);
  }
  return std::move(report_);
}

}  // namespace evenhand::projections::internal
