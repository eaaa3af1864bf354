#include "projections/internal/group_figures.h"

#include <algorithm>
#include <deque>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "base/status_macros.h"
#include "projections/internal/day_nanos.h"
#include "projections/internal/rules/common.h"

namespace evenhand::projections::internal {
namespace {

Contribution Make(Contribution::Kind kind, const std::string& group, const Seen& s, const Case& c) {
  Contribution x;
  x.kind = kind;
  x.group = group;
  x.at_nanos = ClampToNanos(s.at);
  x.position = s.position;
  x.c = &c;
  return x;
}

void AddBriefing(const ReportBuilder& b, const Case& c, std::vector<Contribution>* out) {
  std::optional<Seen> opening = b.Opening(c);
  if (!opening) return;
  const v1::Payload& p = *opening->payload;
  const bool is_offer = p.has_briefing_offered();
  if (!is_offer && !p.has_briefing_requested()) return;
  const std::string& group =
      is_offer ? p.briefing_offered().group_id() : p.briefing_requested().group_id();
  out->push_back(
      Make(is_offer ? Contribution::kOffered : Contribution::kRequested, group, *opening, c));
  for (const Seen& n : b.Facts(c, v1::Payload::kBriefingOfferNotTakenUp)) {
    out->push_back(Make(Contribution::kNotTakenUp, group, n, c));
  }
  // Every decision, in (time, position) order: the latest in a period is
  // the one whose successor (if any) falls after it.
  std::vector<Seen> decisions;
  for (const Seen& s : b.View(c)) {
    if (s.payload->has_briefing_approved() || s.payload->has_briefing_declined()) {
      decisions.push_back(s);
    }
  }
  std::sort(decisions.begin(), decisions.end(), [](const Seen& x, const Seen& y) {
    return std::tie(x.at, x.position) < std::tie(y.at, y.position);
  });
  for (size_t i = 0; i < decisions.size(); ++i) {
    const Seen& d = decisions[i];
    Contribution::Kind kind = Contribution::kApproved;
    if (d.payload->has_briefing_declined()) {
      const v1::DeclineReason reason = d.payload->briefing_declined().reason();
      // Declines the protocols require, when the reason given held.
      kind = (reason == v1::PRE_ELECTION_PERIOD || reason == v1::PARTY_POLITICAL) &&
                     DeclineReasonHeld(b, b.BriefingOf(c), d)
                 ? Contribution::kDeclinedRequired
                 : Contribution::kDeclined;
    }
    Contribution x = Make(kind, group, d, c);
    if (i + 1 < decisions.size()) x.until_nanos = ClampToNanos(decisions[i + 1].at);
    out->push_back(std::move(x));
  }
  if (std::optional<Seen> d = b.First(c, v1::Payload::kBriefingDelivered)) {
    const auto& delivery = d->payload->briefing_delivered();
    Contribution x = Make(Contribution::kDelivered, group, *d, c);
    // The group's own political assistants work for it, not the council:
    // their time is not officers' time the group had (Harrow 5.1 "apart
    // from group office staff"; found from outside: a group's assistant at
    // its own meetings counted as 90 of its 255 officer minutes).
    int64_t officers = delivery.officer_ids_size() == 0 ? 1 : 0;
    for (const std::string& id : delivery.officer_ids()) {
      if (!OwnGroupAssistant(b, id, group, d->at)) ++officers;
    }
    x.value = static_cast<int64_t>(std::max(0, delivery.duration_minutes())) * officers;
    out->push_back(std::move(x));
  } else if (!is_offer) {
    // Given at the group's own meeting (the attendances linking it): the
    // officers' time there is the briefing's, counted here, not by the
    // meeting (equal-offer reads it so too: rules/common.h, GivenAt).
    std::vector<Seen> given = GivenAtMeetings(b, c, b.BriefingOf(c));
    if (!given.empty()) {
      std::sort(given.begin(), given.end(), [](const Seen& x, const Seen& y) {
        return std::tie(x.at, x.position) < std::tie(y.at, y.position);
      });
      // Delivered at the first meeting (its officers' time together); the
      // time at any later meeting that continues it, dated then.
      const std::string& first_meeting =
          given.front().payload->officer_attended_group_meeting().meeting_id();
      Contribution x = Make(Contribution::kDelivered, group, given.front(), c);
      x.value = 0;
      for (const Seen& m : given) {
        const auto& a = m.payload->officer_attended_group_meeting();
        if (OwnGroupAssistant(b, a.officer_id(), a.group_id(), m.at)) continue;  // as above
        if (a.meeting_id() == first_meeting) {
          x.value += std::max(0, a.duration_minutes());
          continue;
        }
        Contribution later = Make(Contribution::kMeetingMinutes, group, m, c);
        later.value = std::max(0, a.duration_minutes());
        out->push_back(std::move(later));
      }
      out->push_back(std::move(x));
    }
  }
}

// Whether an officer's attendance that links a briefing has its time
// counted by that briefing (delivered, or given at this very meeting), not
// by the meeting.
bool CountedWithItsBriefing(const ReportBuilder& b, const v1::OfficerAttendedGroupMeeting& a) {
  const Case* briefing = b.Briefing(a.briefing_id());
  if (briefing == nullptr) return false;
  const BriefingView& v = b.BriefingOf(*briefing);
  if (!v.request || v.is_offer) return false;
  if (b.First(*briefing, v1::Payload::kBriefingDelivered)) return true;
  return a.group_id() == v.group() && !v.matter().empty() && a.matter_id() == v.matter();
}

}  // namespace

state::FigureRecord Contribution::ToRecord() const {
  state::FigureRecord r;
  r.set_kind(kind);
  r.set_group(group);
  r.set_at_nanos(at_nanos);
  r.set_position(position);
  r.set_until_nanos(until_nanos);
  r.set_due_nanos(due_nanos);
  r.set_value(value);
  return r;
}

Contribution Contribution::FromRecord(const state::FigureRecord& r, const Case* c) {
  Contribution x;
  x.kind = static_cast<Kind>(r.kind());  // checked by the caller
  x.group = r.group();
  x.at_nanos = r.at_nanos();
  x.position = r.position();
  x.until_nanos = r.until_nanos();
  x.due_nanos = r.due_nanos();
  x.value = r.value();
  x.c = c;
  return x;
}

void AddContributions(const ReportBuilder& b, const Case& c, std::vector<Contribution>* out) {
  switch (c.kind) {
    case CaseKind::kBriefing:
      AddBriefing(b, c, out);
      return;
    case CaseKind::kMeeting:
      // Officers at group meetings, but for the time a briefing counts.
      for (const Seen& m : b.Facts(c, v1::Payload::kOfficerAttendedGroupMeeting)) {
        const auto& a = m.payload->officer_attended_group_meeting();
        if (!a.briefing_id().empty() && CountedWithItsBriefing(b, a)) continue;
        // The group's own political assistant at its meeting works for it.
        if (OwnGroupAssistant(b, a.officer_id(), a.group_id(), m.at)) continue;
        Contribution x = Make(Contribution::kMeetingMinutes, a.group_id(), m, c);
        x.value = std::max(0, a.duration_minutes());
        out->push_back(std::move(x));
      }
      return;
    case CaseKind::kQuery: {
      // By the group of the councillor when the query came in, as the rule
      // decides it: answered in time (a first reply within the limit and,
      // after an acknowledgement, the answer by the day promised) or late,
      // each with the working days to the answer; unanswered, overdue from
      // when a finding says so (the limit, or the day promised, ran out).
      // An acknowledgement is a holding reply: it answers nothing.
      const QueryOutcome& o = b.QueryOf(c);
      if (!o.received) return;
      Contribution x = Make(Contribution::kQueryUnreplied, o.group_id, *o.received, c);
      if (o.answer) {
        x.kind = o.answered_in_time ? Contribution::kQueryInTime : Contribution::kQueryLate;
        x.value = b.calendar().WorkingDaysBetween(b.calendar().LocalDay(o.received->at),
                                                  b.calendar().LocalDay(o.answer->at));
      } else {
        x.due_nanos = ClampToNanos(o.due);
      }
      out->push_back(std::move(x));
      return;
    }
    case CaseKind::kComplaint: {
      // Raised by one of the group's councillors.
      std::optional<Seen> raised = b.First(c, v1::Payload::kComplaintRaised);
      if (!raised) return;
      const auto& r = raised->payload->complaint_raised();
      if (!r.raised_by().has_member_id()) return;
      out->push_back(Make(Contribution::kComplaint,
                          b.MemberGroupAt(r.raised_by().member_id(), raised->at), *raised, c));
      return;
    }
    default:
      return;
  }
}

FigureWindow FigureWindow::Of(const ReportQuery& q) {
  FigureWindow w;
  w.from = ClampToNanos(q.from);
  w.as_of = ClampToNanos(q.as_of_time);
  w.end = std::min(ClampToNanos(q.to), w.as_of == INT64_MAX ? INT64_MAX : w.as_of + 1);
  return w;
}

void GroupTally::Add(const Contribution& x, bool not_yet_due, int sign, uint64_t times) {
  Add(x.kind, x.value, not_yet_due, sign, times);
}

void GroupTally::Add(Contribution::Kind kind, int64_t value, bool not_yet_due, int sign,
                     uint64_t times) {
  v1::GroupMetrics& m = metrics;
  // +times, or -times modulo 2^32 (2^64 for the minutes).
  const auto one = static_cast<uint32_t>(static_cast<uint64_t>(sign) * times);
  const auto minutes = static_cast<uint64_t>(sign) * times * static_cast<uint64_t>(value);
  auto distribution = [&](Distribution& d) {
    if (sign > 0) {
      d.Add(static_cast<double>(value), times);
    } else {
      d.Remove(static_cast<double>(value), times);
    }
  };
  switch (kind) {
    case Contribution::kOffered:
      m.set_briefings_offered(m.briefings_offered() + one);
      break;
    case Contribution::kRequested:
      m.set_briefings_requested(m.briefings_requested() + one);
      break;
    case Contribution::kNotTakenUp:
      m.set_offers_not_taken_up(m.offers_not_taken_up() + one);
      break;
    case Contribution::kApproved:
      m.set_briefings_approved(m.briefings_approved() + one);
      break;
    case Contribution::kDeclinedRequired:
      m.set_briefings_declined_required(m.briefings_declined_required() + one);
      m.set_briefings_declined(m.briefings_declined() + one);
      break;
    case Contribution::kDeclined:
      m.set_briefings_declined(m.briefings_declined() + one);
      break;
    case Contribution::kDelivered:
      m.set_briefings_delivered(m.briefings_delivered() + one);
      m.set_officer_minutes(m.officer_minutes() + minutes);
      distribution(minutes_per_briefing);
      break;
    case Contribution::kMeetingMinutes:
      m.set_officer_minutes(m.officer_minutes() + minutes);
      break;
    case Contribution::kQueryInTime:
      m.set_queries_received(m.queries_received() + one);
      m.set_queries_replied_in_time(m.queries_replied_in_time() + one);
      distribution(reply_days);
      break;
    case Contribution::kQueryLate:
      m.set_queries_received(m.queries_received() + one);
      m.set_queries_replied_late(m.queries_replied_late() + one);
      distribution(reply_days);
      break;
    case Contribution::kQueryUnreplied:
      m.set_queries_received(m.queries_received() + one);
      if (not_yet_due) {
        m.set_queries_not_yet_due(m.queries_not_yet_due() + one);
      } else {
        m.set_queries_unanswered(m.queries_unanswered() + one);
      }
      break;
    case Contribution::kComplaint:
      m.set_complaints_raised(m.complaints_raised() + one);
      break;
    case Contribution::kKinds:
      break;
  }
}

// ---------------------------------------------------------------------------

bool GroupFigures::Totals::empty() const {
  for (uint32_t n : count) {
    if (n != 0) return false;
  }
  return true;
}

uint32_t GroupFigures::GroupNumber(const std::string& group) {
  if (auto it = group_numbers_.find(group); it != group_numbers_.end()) return it->second;
  group_names_.push_back(group);  // first: a number never names nothing
  const auto number = static_cast<uint32_t>(group_names_.size() - 1);
  group_numbers_.emplace(group, number);
  return number;
}

Contribution GroupFigures::Unpack(const Key& key, const Kept& k) const {
  Contribution x;
  x.kind = k.kind;
  x.group = group_names_[k.group];
  x.at_nanos = key.first;
  x.position = key.second;
  x.until_nanos = k.until_nanos;
  x.due_nanos = k.due_nanos;
  x.value = k.value;
  x.c = k.c;
  return x;
}

void GroupFigures::Add(const Contribution& x, uint64_t position) {
  all_.emplace(KeyOf(x),
               Kept{x.kind, GroupNumber(x.group), x.until_nanos, x.due_nanos, x.value, x.c});
  Change(x, +1);
  Keep(x, position, /*added=*/true);
}

void GroupFigures::AddRestored(const Contribution& x) {
  restoring_.emplace_back(
      KeyOf(x), Kept{x.kind, GroupNumber(x.group), x.until_nanos, x.due_nanos, x.value, x.c});
  Change(x, +1);
}

void GroupFigures::FinishRestoring() {
  // Stable: contributions under one key stay in the order they came, as
  // Add() would have filed them.
  std::stable_sort(restoring_.begin(), restoring_.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [key, kept] : restoring_) {
    // At the end when all_ held nothing before (a restore); a wrong hint
    // costs only the search it would have saved.
    all_.emplace_hint(all_.end(), key, kept);
  }
  std::vector<std::pair<Key, Kept>>().swap(restoring_);
}

void GroupFigures::OfCase(const Case* c, const std::vector<Key>& keys,
                          std::vector<Contribution>* out) const {
  for (const Key& key : keys) {
    auto [begin, end] = all_.equal_range(key);
    for (auto it = begin; it != end; ++it) {
      if (it->second.c == c) out->push_back(Unpack(it->first, it->second));
    }
  }
}

void GroupFigures::Keep(const Contribution& x, uint64_t position, bool added) {
  if (position <= known_from_) return;
  history_[DayOf(x.at_nanos)].push_back({position, added, x});
  ++history_size_;
  last_change_ = std::max(last_change_, position);
}

void GroupFigures::Remove(const Contribution& x, uint64_t position) {
  if (auto number = group_numbers_.find(x.group); number != group_numbers_.end()) {
    auto [begin, end] = all_.equal_range(KeyOf(x));
    for (auto it = begin; it != end; ++it) {
      if (Same(it->second, x, number->second)) {
        all_.erase(it);
        Change(x, -1);
        Keep(x, position, /*added=*/false);
        return;
      }
    }
  }
  // A bug: a subject removes only what it added.
  logging::Error("fairness", "group figures: a contribution to remove was not there");
}

void GroupFigures::Change(const Contribution& x, int sign) {
  auto remove_one = [](auto& map, int64_t key, const Contribution& x) {
    auto [begin, end] = map.equal_range(key);
    for (auto it = begin; it != end; ++it) {
      if (it->second == x) {
        map.erase(it);
        return;
      }
    }
  };
  if (x.until_nanos != INT64_MAX) {
    if (sign > 0) {
      bounded_.emplace(x.at_nanos, x);
    } else {
      remove_one(bounded_, x.at_nanos, x);
    }
    return;
  }
  if (x.kind == Contribution::kQueryUnreplied) {
    if (sign > 0) {
      unreplied_.emplace(x.due_nanos, x);
    } else {
      remove_one(unreplied_, x.due_nanos, x);
    }
  }
  const int64_t day = DayOf(x.at_nanos);
  auto& groups = days_[day];
  Totals& t = groups[x.group];
  t.count[x.kind] += static_cast<uint32_t>(sign);
  auto histogram = [sign](absl::btree_map<int64_t, uint32_t>& h, int64_t value) {
    uint32_t& n = h[value];
    n += static_cast<uint32_t>(sign);
    if (n == 0) h.erase(value);
  };
  switch (x.kind) {
    case Contribution::kDelivered:
      t.officer_minutes += static_cast<uint64_t>(sign) * static_cast<uint64_t>(x.value);
      histogram(t.briefing_minutes, x.value);
      break;
    case Contribution::kMeetingMinutes:
      t.officer_minutes += static_cast<uint64_t>(sign) * static_cast<uint64_t>(x.value);
      break;
    case Contribution::kQueryInTime:
    case Contribution::kQueryLate:
      histogram(t.reply_days, x.value);
      break;
    default:
      break;
  }
  if (t.empty()) {
    groups.erase(x.group);
    if (groups.empty()) days_.erase(day);
  }
}

void GroupFigures::AddTotals(const Totals& t, GroupTally* tally) {
  v1::GroupMetrics& m = tally->metrics;
  using C = Contribution;
  m.set_briefings_offered(m.briefings_offered() + t.count[C::kOffered]);
  m.set_briefings_requested(m.briefings_requested() + t.count[C::kRequested]);
  m.set_offers_not_taken_up(m.offers_not_taken_up() + t.count[C::kNotTakenUp]);
  m.set_briefings_approved(m.briefings_approved() + t.count[C::kApproved]);
  m.set_briefings_declined_required(m.briefings_declined_required() +
                                    t.count[C::kDeclinedRequired]);
  m.set_briefings_declined(m.briefings_declined() + t.count[C::kDeclinedRequired] +
                           t.count[C::kDeclined]);
  m.set_briefings_delivered(m.briefings_delivered() + t.count[C::kDelivered]);
  m.set_officer_minutes(m.officer_minutes() + t.officer_minutes);
  m.set_queries_received(m.queries_received() + t.count[C::kQueryInTime] + t.count[C::kQueryLate] +
                         t.count[C::kQueryUnreplied]);
  m.set_queries_replied_in_time(m.queries_replied_in_time() + t.count[C::kQueryInTime]);
  m.set_queries_replied_late(m.queries_replied_late() + t.count[C::kQueryLate]);
  // The caller moves those not yet due (GroupFigures::Sum).
  m.set_queries_unanswered(m.queries_unanswered() + t.count[C::kQueryUnreplied]);
  m.set_complaints_raised(m.complaints_raised() + t.count[C::kComplaint]);
  for (const auto& [value, n] : t.briefing_minutes) {
    tally->minutes_per_briefing.Add(static_cast<double>(value), n);
  }
  for (const auto& [value, n] : t.reply_days) {
    tally->reply_days.Add(static_cast<double>(value), n);
  }
}

void GroupFigures::ForEachUnsaved(const FigureChangesVisitor& visit) const {
  state::FigureChangesRecord record;
  state::FigureSumsRecord sums;
  // The steps [begin, end) of one day, as one record and its sums.
  auto one_record = [&](int64_t day, const Step* begin, const Step* end) {
    record.Clear();
    sums.Clear();
    // Net of what cancels, in a stable order.
    absl::btree_map<FigureChanges::SumKey, int64_t> summed;
    for (const Step* step = begin; step != end; ++step) {
      const Contribution& x = step->x;
      state::FigureChangeRecord* r = record.add_changes();
      r->set_position(step->position);
      r->set_added(step->added);
      if (x.c != nullptr) r->set_subject(std::string(x.c->stream_id()));
      *r->mutable_figure() = x.ToRecord();
      summed[{x.group, x.kind, x.value, x.until_nanos, x.due_nanos}] += step->added ? 1 : -1;
    }
    sums.set_first_position(begin->position);
    for (const auto& [key, n] : summed) {
      if (n == 0) continue;
      state::FigureCountRecord* r = sums.add_counts();
      r->set_group(std::get<0>(key));
      r->set_kind(std::get<1>(key));
      r->set_value(std::get<2>(key));
      r->set_until_nanos(std::get<3>(key));
      r->set_due_nanos(std::get<4>(key));
      r->set_count(n);
    }
    visit(day, record, sums);
  };
  // A day's changes in records of kChangesPerRecord or a few more (never
  // splitting a position's), so that a report as of a position among them
  // reads at most about that many one by one, and sums the rest.
  for (const auto& [day, steps] : history_) {
    const Step* begin = steps.data();
    const Step* const end = steps.data() + steps.size();
    while (begin != end) {
      const Step* cut = begin + std::min<size_t>(kChangesPerRecord, end - begin);
      while (cut != end && cut->position == (cut - 1)->position) ++cut;
      one_record(day, begin, cut);
      begin = cut;
    }
  }
}

void GroupFigures::Saved() {
  stored_through_ = last_change_;
  history_.clear();
  history_size_ = 0;
}

absl::Status GroupFigures::ChangedSince(const FigureWindow& w, uint64_t as_of_position,
                                        const StoredFindings* stored, const FindCase& find,
                                        FigureChanges* changes, bool one_by_one) const {
  if (as_of_position >= last_change_ || w.from >= w.end) return absl::OkStatus();
  // Each contribution's additions less its removals after the moment: a
  // removal after an addition after it cancels (neither there then nor
  // now), and so does an addition after a removal.
  absl::flat_hash_map<Contribution, int> net;
  auto count = [&](const Contribution& x, bool added) {
    if (x.at_nanos < w.from || x.at_nanos >= w.end) return;
    net[x] += added ? 1 : -1;
  };
  const int64_t first_day = DayOf(w.from);
  const int64_t last_day = DayOf(w.end - 1);
  // Stored first (made up to the last checkpoint), then those held. A
  // checkpoint being written stores what is still held: counted once, held.
  if (stored != nullptr && as_of_position < stored_through_) {
    absl::Status bad;
    // A subject's changes often come together (one event changes several
    // of its contributions): it is looked up once for them.
    std::string last_subject;
    const Case* last_case = nullptr;
    auto one = [&](const state::FigureChangeRecord& r) {
      if (!bad.ok() || r.position() > stored_through_) return;
      if (last_case == nullptr || r.subject() != last_subject) {
        last_case = find(r.subject());
        last_subject = r.subject();
      }
      const Case* c = last_case;
      if (c == nullptr || r.figure().kind() >= Contribution::kKinds) {
        bad = absl::DataLossError(
            absl::StrCat("a stored change to the group figures names ",
                         c == nullptr ? absl::StrCat("a case not held: ", r.subject())
                                      : absl::StrCat("an unknown kind: ", r.figure().kind())));
        return;
      }
      count(Contribution::FromRecord(r.figure(), c), r.added());
    };
    absl::Status read;
    // The partial days at either end, one by one (and every day, for a walk
    // over the contributions).
    auto partial = [&](int64_t lo, int64_t hi) {
      if (!read.ok() || lo >= hi) return;
      read = stored->ScanFigureChanges(DayOf(lo), DayOf(hi - 1), as_of_position, one);
    };
    // Whole days: each checkpoint's changes to a day summed, if all of them
    // came after the position; else one by one, those after it.
    auto whole = [&](int64_t day, int64_t end_day) {
      if (!read.ok()) return;
      std::vector<std::pair<int64_t, uint64_t>> among;
      read = stored->ScanFigureSums(
          day, end_day - 1, as_of_position,
          [&](int64_t d, uint64_t last_position, const state::FigureSumsRecord& r) {
            if (!bad.ok() || last_position > stored_through_) return;
            if (r.first_position() <= as_of_position) {
              among.emplace_back(d, last_position);
              return;
            }
            changes->summed_any = true;
            for (const state::FigureCountRecord& n : r.counts()) {
              // A run changes a count by at most its changes' number.
              constexpr int64_t kMost = int64_t{1} << 32;
              if (n.kind() >= Contribution::kKinds || n.count() > kMost || n.count() < -kMost) {
                bad = absl::DataLossError(
                    absl::StrCat("a stored sum of the group figures is damaged: kind ", n.kind(),
                                 ", count ", n.count()));
                return;
              }
              int64_t& sum = changes->summed[{n.group(), static_cast<Contribution::Kind>(n.kind()),
                                              n.value(), n.until_nanos(), n.due_nanos()}];
              if (__builtin_add_overflow(sum, n.count(), &sum)) {
                bad = absl::DataLossError("the stored sums of the group figures are damaged");
                return;
              }
            }
          });
      state::FigureChangesRecord record;
      for (const auto& [d, last_position] : among) {
        if (!read.ok()) return;
        read = stored->GetFigureChanges(d, last_position, &record);
        if (absl::IsNotFound(read)) {
          read = absl::DataLossError(absl::StrCat("the group figures' changes summed for day ", d,
                                                  " up to position ", last_position,
                                                  " are not stored one by one"));
        }
        if (!read.ok()) return;
        for (const state::FigureChangeRecord& x : record.changes()) {
          if (x.position() > as_of_position) one(x);
        }
      }
    };
    if (one_by_one) {
      partial(w.from, w.end);
    } else {
      SplitByDay(w.from, w.end, partial, whole);
    }
    EH_RETURN_IF_ERROR(read);
    EH_RETURN_IF_ERROR(bad);
  }
  for (auto day = history_.lower_bound(first_day);
       day != history_.end() && day->first <= last_day; ++day) {
    const std::vector<Step>& steps = day->second;
    auto it = std::upper_bound(steps.begin(), steps.end(), as_of_position,
                               [](uint64_t p, const Step& c) { return p < c.position; });
    for (; it != steps.end(); ++it) count(it->x, it->added);
  }
  for (const auto& [x, n] : net) {
    for (int i = 0; i < n; ++i) changes->added.push_back(x);
    for (int i = 0; i < -n; ++i) changes->removed.push_back(x);
  }
  return absl::OkStatus();
}

void GroupFigures::Sum(const FigureWindow& w, const FigureChanges& changes,
                       const std::function<GroupTally*(const std::string& group)>& tally) const {
  if (w.from >= w.end) return;
  // As the log stands, then back to the report's position: what was there
  // then and is gone is added back, what came after is taken out.
  auto then = [&] {
    // Whatever was there then and is gone is added back before anything
    // that came since is taken out: a distribution takes back only what it
    // holds (a briefing's minutes summed as added since and corrected
    // since, still held: 45 put back before 45 and 50 are taken out).
    auto summed = [&](bool added_back) {
      for (const auto& [key, n] : changes.summed) {
        if (n == 0 || (n < 0) != added_back) continue;
        Contribution x;
        std::tie(x.group, x.kind, x.value, x.until_nanos, x.due_nanos) = key;
        // Of a whole day of the period: counted unless a later decision
        // superseded it within the period.
        if (x.until_nanos < w.end) continue;
        GroupTally* t = tally(x.group);
        if (t == nullptr) continue;
        t->Add(x, w.NotYetDue(x), added_back ? +1 : -1,
               added_back ? 0 - static_cast<uint64_t>(n) : static_cast<uint64_t>(n));
      }
    };
    summed(/*added_back=*/true);
    for (const Contribution& x : changes.removed) {
      if (!w.Counts(x)) continue;
      if (GroupTally* t = tally(x.group)) t->Add(x, w.NotYetDue(x), +1);
    }
    summed(/*added_back=*/false);
    for (const Contribution& x : changes.added) {
      if (!w.Counts(x)) continue;
      if (GroupTally* t = tally(x.group)) t->Add(x, w.NotYetDue(x), -1);
    }
  };
  // Contributions one by one in [lo, hi), as if all unanswered.
  auto one_by_one = [&](int64_t lo, int64_t hi) {
    for (auto it = all_.lower_bound(Key{lo, 0}); it != all_.end() && it->first.first < hi; ++it) {
      const Kept& k = it->second;
      if (k.until_nanos != INT64_MAX) continue;  // below
      if (GroupTally* t = tally(group_names_[k.group])) t->Add(k.kind, k.value, false);
    }
  };
  // Whole days are summed; the partial days at either end are read one by
  // one.
  SplitByDay(w.from, w.end, one_by_one, [&](int64_t first_day, int64_t end_day) {
    for (auto it = days_.lower_bound(first_day); it != days_.end() && it->first < end_day; ++it) {
      for (const auto& [group, totals] : it->second) {
        if (GroupTally* t = tally(group)) AddTotals(totals, t);
      }
    }
  });
  // Decisions superseded later: counted if the next one falls after the
  // period.
  for (auto it = bounded_.lower_bound(w.from); it != bounded_.end() && it->first < w.end; ++it) {
    if (!w.Counts(it->second)) continue;
    if (GroupTally* t = tally(it->second.group)) t->Add(it->second, false);
  }
  // Queries without a reply counted above as unanswered whose deadline is
  // after the report's moment: not yet due.
  if (w.as_of != INT64_MAX) {
    for (auto it = unreplied_.upper_bound(w.as_of); it != unreplied_.end(); ++it) {
      if (!w.Counts(it->second)) continue;
      if (GroupTally* t = tally(it->second.group)) {
        v1::GroupMetrics& m = t->metrics;
        m.set_queries_unanswered(m.queries_unanswered() - 1);
        m.set_queries_not_yet_due(m.queries_not_yet_due() + 1);
      }
    }
  }
  then();
}

void GroupFigures::ForEach(const FigureWindow& w, const FigureChanges& changes,
                           const std::function<bool(const Contribution& x, bool not_yet_due)>& want,
                           const std::function<void(const Contribution& x)>& visit) const {
  absl::flat_hash_map<Contribution, int> not_then;  // there now, not at the moment
  for (const Contribution& x : changes.added) ++not_then[x];
  std::vector<const Contribution*> then;
  // Unpacked (all_ keeps them packed): stable addresses for `then`.
  std::deque<Contribution> unpacked;
  for (auto it = all_.lower_bound(Key{w.from, 0}); it != all_.end() && it->first.first < w.end;
       ++it) {
    if (it->second.until_nanos < w.end) continue;  // not counted (FigureWindow::Counts)
    Contribution x = Unpack(it->first, it->second);
    if (!w.Counts(x) || !want(x, w.NotYetDue(x))) continue;
    if (!not_then.empty()) {
      auto skip = not_then.find(x);
      if (skip != not_then.end() && skip->second > 0) {
        --skip->second;
        continue;
      }
    }
    then.push_back(&unpacked.emplace_back(std::move(x)));
  }
  for (const Contribution& x : changes.removed) {
    if (w.Counts(x) && want(x, w.NotYetDue(x))) then.push_back(&x);
  }
  std::stable_sort(then.begin(), then.end(), [](const Contribution* a, const Contribution* b) {
    return std::pair(a->at_nanos, a->position) < std::pair(b->at_nanos, b->position);
  });
  for (const Contribution* x : then) visit(*x);
}

}  // namespace evenhand::projections::internal
