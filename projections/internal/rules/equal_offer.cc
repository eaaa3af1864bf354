// equal-offer (Harrow 5.2: requests go through the Head of Paid Service "who
// would be responsible for advising the other groups who could then ask for
// the same briefing"; mayoral §9: "all groups must be offered the same
// facilities"; Barnet 9.2: "equivalent facilities are available to all
// political groups").
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/time_util.h"
#include "projections/internal/report_builder.h"
#include "projections/internal/rules/common.h"
#include "projections/internal/rules/rule.h"

namespace evenhand::projections::internal {

namespace {

std::string Describe(const FairnessSettings& s) {
  return absl::StrCat(
      "When a political group is briefed on a matter, every other group recognised at the "
      "time, of two or more councillors (Harlow 2.3), must be offered the same briefing (or be "
      "given one) within ",
      Plural(s.offer_deadline_working_days, "working day"),
      " of the briefing; an offer or a briefing given up to ", s.equal_offer_lookback_days,
      " days before it also counts. A group's own request for a briefing is not an offer, "
      "whether it is declined, withdrawn or still waiting (approved but not yet given "
      "included); given, it is the same briefing given. A briefing given at the group's own "
      "meeting (an officer's attendance linking "
      "it) is given then. The protocols set no deadline: ",
      s.offer_deadline_working_days, " working days is this council's setting.");
}

// The words for a group not offered the briefing and given one on the same
// matter only late, at its own request. If the request was approved, that
// is said too, and why it is not enough: a request is not an offer, and an
// approved one still waits until it is given.
std::string NotOfferedButGiven(const ReportBuilder& b, const Case& own) {
  if (std::optional<Seen> approved = b.First(own, v1::Payload::kBriefingApproved)) {
    return absl::StrCat(
        " was not offered it; its own request for a briefing on the same matter was approved on ",
        b.Date(approved->at), " (a request is not an offer), and given only on ");
  }
  return " was not offered it, and was given a briefing on the same matter only on ";
}

// The latest fact of `kind` in briefing `c` before `by`, if any.
std::optional<Seen> LatestBefore(const ReportBuilder& b, const Case& c, v1::Payload::KindCase kind,
                                 absl::Time by) {
  std::optional<Seen> out;
  for (const Seen& x : b.Facts(c, kind)) {
    if (x.at < by && (!out || std::tie(x.at, x.position) > std::tie(out->at, out->position))) {
      out = x;
    }
  }
  return out;
}

// The earliest fact of `kind` in briefing `c`, by when it happened (a
// decline or withdrawal recorded later may be dated earlier; review).
std::optional<Seen> Earliest(const ReportBuilder& b, const Case& c, v1::Payload::KindCase kind) {
  std::optional<Seen> out;
  for (const Seen& x : b.Facts(c, kind)) {
    if (!out || std::tie(x.at, x.position) < std::tie(out->at, out->position)) out = x;
  }
  return out;
}

void Check(ReportBuilder& b) {
  const FairnessSettings& s = b.settings();
  for (const Case* c : b.Cases(CaseKind::kBriefing)) {
    const BriefingView& v = b.BriefingOf(*c);
    // An offer, or a briefing taken up from an offer, is the answer to an
    // obligation, not the start of a new one.
    if (!v.request || v.is_offer || v.answers_offer || v.matter().empty()) continue;
    // Given: delivered, or at the group's meeting (an attendance linking it).
    std::optional<Seen> delivered = GivenAt(b, *c, v);
    if (!delivered) continue;
    const absl::Time t = delivered->at;
    const absl::Time deadline = b.Deadline(*c, t, s.offer_deadline_working_days);
    // Not yet due at the report's moment: an obligation, not a finding.
    const bool open = deadline > b.query().as_of_time;
    if (!open && !b.InPeriod(deadline)) continue;  // a finding here is dated at the deadline
    const absl::Time window_start = t - absl::Hours(24 * s.equal_offer_lookback_days);
    // The briefings on the matter by the group they are for, read for that
    // only (whose briefing, on what matter: a correction, or a second
    // opening fact, changes that); each group's are then read below for
    // what its verdict takes from them, up to its own earliest answer, so
    // a new fact there decides this again only for the group it concerns
    // (a matter of hundreds of briefings for six groups decided each again
    // at each event dated before any group's answer; outside probe).
    b.BeginBoundedReads();
    const ReportBuilder::ByGroup& by_group = b.BriefingsOnMatterByGroup(v.matter());
    b.EndBoundedReads(absl::InfinitePast());
    for (const Case* group : b.GroupsAt(t)) {
      if (group->id() == v.group()) continue;
      // Owed to a group that exists when the offer falls due: one dissolved
      // before the deadline can take up nothing, so the obligation lapses
      // (one dissolved after it was still owed the offer, and missed it).
      if (!b.GroupExistsAt(*group, deadline - absl::Nanoseconds(1))) continue;
      // A political group is two or more councillors (Harlow 2.3): one
      // left with a single councillor when the briefing was given is owed
      // nothing as a group (data-quality says it fell below two; found
      // from outside: the report said both).
      if (b.GroupSizeAt(std::string(group->id()), t) < 2) continue;
      // The earliest offer to this group on the matter, or briefing on it
      // actually given to this group. The group's own request does not
      // count, nor does its decline: only an offer, or the briefing itself,
      // is "offered the same facilities" (Harrow 5.2; mayoral §9).
      std::optional<Seen> earliest;
      enum class Answer { kOffer, kGiven } earliest_is = Answer::kGiven;
      const Case* earliest_case = nullptr;
      std::optional<Seen> own_request;  // not given (declined or waiting)
      const Case* own_case = nullptr;
      std::vector<std::pair<const Case*, absl::Time>> withdrawn_requests;
      std::optional<Seen> own_decline;
      std::optional<Seen> own_approved;
      // Once an answer is found, nothing the briefings on the matter hold
      // after it can change this group's verdict or its text (an earlier
      // answer can: one in time, or a late one named; its own requests and
      // the offers withdrawn are named only when none was found): read so
      // (a matter of hundreds of briefings decided each of them again at
      // each event of any; outside probe).
      auto own = by_group.find(group->id());
      const std::vector<const Case*> none;
      const std::vector<const Case*>& owns = own == by_group.end() ? none : own->second;
      b.BeginBoundedReads();
      b.ReadGroupOnMatterUpTo(v.matter(), std::string(group->id()));
      for (const Case* other : owns) {
        const BriefingView& o = b.BriefingOf(*other);
        if (!o.request || o.group() != group->id() || o.matter() != v.matter()) continue;
        // An offer, or the group's own request given (delivered, or at
        // its meeting). Approved but not yet given, it is still waiting:
        // a request is not an offer.
        std::optional<Seen> answer = o.is_offer ? o.request : GivenAt(b, *other, o);
        const Answer kind = o.is_offer ? Answer::kOffer : Answer::kGiven;
        // Given at a meeting: a delivery recorded later, whenever, takes
        // its place (GivenAt), so no later fact of that briefing is beside
        // the point (its delivery names no matter: read whole, it decides
        // this again; the matter's other facts stay bounded: a matter of
        // hundreds of briefings given at meetings decided each again at
        // each event of any; outside probe).
        if (answer && !o.is_offer &&
            answer->payload->kind_case() != v1::Payload::kBriefingDelivered) {
          b.ReadWhole(*other);
        }
        if (!answer) {
          // A request the group withdrew before the deadline asks for
          // nothing more (BriefingRequestWithdrawn): it is not unmet, and
          // not cited. (Withdrawn after a decline, the decline stands.)
          const std::optional<Seen> decline = Earliest(b, *other, v1::Payload::kBriefingDeclined);
          const std::optional<Seen> withdrawn =
              Earliest(b, *other, v1::Payload::kBriefingRequestWithdrawn);
          if (withdrawn && withdrawn->at < deadline && !(decline && decline->at <= withdrawn->at)) {
            withdrawn_requests.emplace_back(other, o.request->at);
            continue;
          }
          // The earliest of the group's own requests still unmet, made
          // in the window and before the deadline (cited, never counted).
          if (o.request->at >= window_start && o.request->at < deadline &&
              (!own_request || std::tie(o.request->at, o.request->position) <
                                   std::tie(own_request->at, own_request->position))) {
            own_request = o.request;
            own_case = other;
            // The latest decision on it before the deadline governs (a
            // decline, then an approval: approved and waiting; found from
            // outside: it said declined).
            own_decline = LatestBefore(b, *other, v1::Payload::kBriefingDeclined, deadline);
            own_approved = LatestBefore(b, *other, v1::Payload::kBriefingApproved, deadline);
          }
          continue;
        }
        // An offer, or a briefing given, up to the lookback before.
        if (answer->at < window_start) continue;
        if (!earliest ||
            std::tie(answer->at, answer->position) < std::tie(earliest->at, earliest->position)) {
          earliest = answer;
          earliest_is = kind;
          earliest_case = other;
        }
      }
      if (!earliest) {
        // No answer: any answer to this group, however late, changes its
        // words (read so, whenever it is dated); of its own requests and
        // their decisions, only those before the deadline are named, so its
        // briefings on the matter are read up to it (a matter of hundreds
        // of briefings, one group always declined, decided each briefing
        // again at each of its requests and declines; outside probe).
        b.ReadAnswersOnMatter(v.matter(), std::string(group->id()));
      }
      // Without one, the earliest of its own requests is named: one dated
      // later changes nothing (a group asking again and again, never
      // answered, decided every briefing there again at each request;
      // outside probe), but that one's decisions and withdrawal up to the
      // deadline do, and so do those of any earlier request skipped as
      // withdrawn (a decline dated before the withdrawal makes it stand).
      b.EndBoundedReads(earliest ? earliest->at : own_request ? own_request->at : deadline);
      if (!earliest && own_case != nullptr) {
        b.BeginBoundedReads();
        b.BriefingOf(*own_case);
        for (const auto& [other, at] : withdrawn_requests) {
          if (at >= window_start && at <= own_request->at) b.BriefingOf(*other);
        }
        b.EndBoundedReads(deadline);
      }
      if (earliest && earliest->at < deadline) continue;
      if (open) {
        b.AddObligation("equal-offer", group->id(),
                        v.request->payload->has_briefing_requested()
                            ? v.request->payload->briefing_requested().routed_to_officer_id()
                            : std::string(),
                        c->stream_id(), deadline,
                        absl::StrCat(b.GroupName(std::string(group->id())),
                                     " is owed an offer of the briefing on ", v.subject(), " that ",
                                     b.GroupName(v.group()), " had on ", b.Date(t),
                                     ", by the end of ", b.Date(deadline - absl::Seconds(1)), "."),
                        {*v.request, *delivered});
        continue;
      }
      std::optional<Seen> recognised = b.First(*group, v1::Payload::kPoliticalGroupRecognised);
      if (earliest) {
        const int late_by = b.calendar().WorkingDaysBetween(b.calendar().LocalDay(t),
                                                            b.calendar().LocalDay(earliest->at));
        // Late by the clock but not by the count (at the deadline's very
        // instant, or on the weekend or bank holiday after it): say when the
        // limit ran out, not "5 working days later (the limit is 5)".
        const std::string how_late =
            late_by > s.offer_deadline_working_days
                ? absl::StrCat(", ", Plural(late_by, "working day"), " later (the limit is ",
                               s.offer_deadline_working_days, ").")
                : absl::StrCat(", after the limit of ",
                               Plural(s.offer_deadline_working_days, "working day"),
                               " ran out at the end of ", b.Date(deadline - absl::Seconds(1)), ".");
        b.AddFinding("equal-offer", group->id(), c->stream_id(), deadline,
                     absl::StrCat(b.GroupName(v.group()), " was briefed on ", v.subject(), " on ",
                                  b.Date(t), "; ", b.GroupName(std::string(group->id())),
                                  earliest_is == Answer::kOffer
                                      ? std::string(" was offered the same only on ")
                                      : NotOfferedButGiven(b, *earliest_case),
                                  b.Date(earliest->at), how_late),
                     {*v.request, *delivered, *earliest});
      } else if (b.query().as_of_time >= deadline) {
        std::vector<Seen> evidence = {*v.request, *delivered};
        if (recognised) evidence.push_back(*recognised);
        // Offers to the group on the matter, in the window, that were
        // recorded and then withdrawn by a correction: no longer offers, but
        // cited, so the committee sees one was recorded. (Only a correction
        // withdraws one: read so.)
        std::vector<Seen> withdrawn;
        b.BeginBoundedReads();
        const ReportBuilder::SeenByGroup& offers_withdrawn = b.WithdrawnOffersOnMatter(v.matter());
        b.EndBoundedReads(absl::InfinitePast());
        if (auto w = offers_withdrawn.find(group->id()); w != offers_withdrawn.end()) {
          for (const Seen& offer : w->second) {
            if (offer.at >= window_start && offer.at < deadline) withdrawn.push_back(offer);
          }
        }
        CiteFirstAndLast(withdrawn, &evidence);
        std::string own;
        auto later = [](const std::optional<Seen>& x, const std::optional<Seen>& y) {
          return x && (!y || std::tie(x->at, x->position) > std::tie(y->at, y->position));
        };
        if (own_request && own_request->at < deadline) {
          evidence.push_back(*own_request);
          if (later(own_decline, own_approved)) {
            evidence.push_back(*own_decline);
            own = absl::StrCat(" Its own request of ", b.Date(own_request->at),
                               " for a briefing on the matter was declined on ",
                               b.Date(own_decline->at),
                               "; a request, and its decline, are not an "
                               "offer.");
          } else if (own_approved) {
            if (own_decline) evidence.push_back(*own_decline);
            evidence.push_back(*own_approved);
            own = absl::StrCat(
                " Its own request of ", b.Date(own_request->at),
                " for a briefing on the matter was ",
                own_decline
                    ? absl::StrCat("declined on ", b.Date(own_decline->at), ", then approved on ")
                    : std::string("approved on "),
                b.Date(own_approved->at), " but not given by then; a request is not an offer.");
          } else {
            own = absl::StrCat(" Its own request of ", b.Date(own_request->at),
                               " for a briefing on the matter had not been met; a request is not "
                               "an offer.");
          }
        }
        b.AddFinding("equal-offer", group->id(), c->stream_id(), deadline,
                     absl::StrCat(b.GroupName(v.group()), " was briefed on ", v.subject(), " on ",
                                  b.Date(t), "; ", b.GroupName(std::string(group->id())),
                                  " had not been offered the same briefing by the end of ",
                                  b.Date(deadline - absl::Seconds(1)), " (",
                                  Plural(s.offer_deadline_working_days, "working day"), " later).",
                                  own, SayWithdrawn(b, withdrawn, "An offer", "Offers")),
                     evidence);
      }
    }
  }
}

}  // namespace

RuleDef EqualOfferRule() {
  return {"equal-offer",
          "Every group offered the same briefing",
          "Harrow 5.2; mayoral §9; Barnet 9.2",
          v1::HIGH,
          &Describe,
          &Check,
          /*check_period=*/nullptr,
          /*obligations=*/true};
}

}  // namespace evenhand::projections::internal
