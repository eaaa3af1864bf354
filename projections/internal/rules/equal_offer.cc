// equal-offer (Harrow 5.2: requests go through the Head of Paid Service "who
// would be responsible for advising the other groups who could then ask for
// the same briefing"; mayoral §9: "all groups must be offered the same
// facilities"; Barnet 9.2: "equivalent facilities are available to all
// political groups").
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/time_util.h"
#include "projections/internal/report_builder.h"
#include "projections/internal/rules/common.h"
#include "projections/internal/rules/rule.h"

namespace evenhand::projections::internal {

namespace {

std::string Describe(const FairnessSettings& s) {
  return absl::StrCat(
      "When a political group is briefed on a matter, every other group recognised at the "
      "time must be offered the same briefing (or have asked for its own) within ",
      Plural(s.offer_deadline_working_days, "working day"),
      " of the briefing; an offer or request up to ", s.equal_offer_lookback_days,
      " days before it also counts. The protocols set no deadline: ", s.offer_deadline_working_days,
      " working days is this council's setting.");
}

void Check(ReportBuilder& b) {
  const FairnessSettings& s = b.settings();
  for (const Case* c : b.Cases(CaseKind::kBriefing)) {
    const BriefingView& v = b.BriefingOf(*c);
    // An offer, or a briefing taken up from an offer, is the answer to an
    // obligation, not the start of a new one.
    if (!v.request || v.is_offer || v.answers_offer || v.matter().empty()) continue;
    std::optional<Seen> delivered = b.First(*c, v1::Payload::kBriefingDelivered);
    if (!delivered) continue;
    const absl::Time t = delivered->at;
    const absl::Time deadline = b.calendar().EndOfWorkingDay(t, s.offer_deadline_working_days);
    if (!b.InPeriod(deadline)) continue;  // a finding here is dated at the deadline
    const absl::Time window_start = t - absl::Hours(24 * s.equal_offer_lookback_days);
    auto matter = b.indexes().by_matter.find(v.matter());
    for (const Case* group : b.GroupsAt(t)) {
      if (group->id == v.group()) continue;
      // The earliest offer to, or request by, this group on the matter.
      std::optional<Seen> earliest;
      if (matter != b.indexes().by_matter.end()) {
        for (const Case* other : matter->second) {
          if (other->kind != CaseKind::kBriefing) continue;
          const BriefingView& o = b.BriefingOf(*other);
          if (!o.request || o.group() != group->id || o.matter() != v.matter()) continue;
          if (o.request->at < window_start) continue;
          if (!earliest || std::tie(o.request->at, o.request->position) <
                               std::tie(earliest->at, earliest->position)) {
            earliest = o.request;
          }
        }
      }
      if (earliest && earliest->at < deadline) continue;
      std::optional<Seen> recognised = b.First(*group, v1::Payload::kPoliticalGroupRecognised);
      if (earliest) {
        const int late_by = b.calendar().WorkingDaysBetween(b.calendar().LocalDay(t),
                                                            b.calendar().LocalDay(earliest->at));
        b.AddFinding(
            "equal-offer", group->id, c->record.stream_id(), deadline,
            absl::StrCat(b.GroupName(v.group()), " was briefed on ", v.subject(), " on ", b.Date(t),
                         "; ", b.GroupName(group->id), " was offered the same only on ",
                         b.Date(earliest->at), ", ", Plural(late_by, "working day"),
                         " later (the limit is ", s.offer_deadline_working_days, ")."),
            {*v.request, *delivered, *earliest});
      } else if (b.query().as_of_time >= deadline) {
        std::vector<Seen> evidence = {*v.request, *delivered};
        if (recognised) evidence.push_back(*recognised);
        b.AddFinding("equal-offer", group->id, c->record.stream_id(), deadline,
                     absl::StrCat(b.GroupName(v.group()), " was briefed on ", v.subject(), " on ",
                                  b.Date(t), "; ", b.GroupName(group->id),
                                  " had not been offered the same briefing by the end of ",
                                  b.Date(deadline - absl::Seconds(1)), " (",
                                  Plural(s.offer_deadline_working_days, "working day"), " later)."),
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
          &Check};
}

}  // namespace evenhand::projections::internal
