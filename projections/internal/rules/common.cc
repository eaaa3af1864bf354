#include "projections/internal/rules/common.h"

#include <algorithm>
#include <tuple>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace evenhand::projections::internal {

bool OwnGroupAssistant(const ReportBuilder& b, const std::string& officer_id,
                       const std::string& group_id, absl::Time t) {
  return !group_id.empty() && b.AssistantGroupAt(officer_id, t) == group_id;
}

bool DeclineReasonHeld(const ReportBuilder& b, const BriefingView& briefing, const Seen& decline,
                       std::string* why_not) {
  switch (decline.payload->briefing_declined().reason()) {
    case v1::PRE_ELECTION_PERIOD:
      if (b.PreElectionPeriodAt(decline.at)) return true;
      if (why_not != nullptr) {
        *why_not = absl::StrCat(
            "it gave the pre-election period as its reason, but no "
            "pre-election period was in force on ",
            b.Date(decline.at));
      }
      return false;
    case v1::PARTY_POLITICAL:
      if (briefing.request && briefing.request->payload->has_briefing_requested() &&
          briefing.request->payload->briefing_requested().business() ==
              v1::PARTY_POLITICAL_BUSINESS) {
        return true;
      }
      if (why_not != nullptr) {
        *why_not =
            "it gave party-political business as its reason, but the request did not "
            "say its business was party-political";
      }
      return false;
    case v1::NON_MEMBERS_PRESENT:
      return true;
    default:
      return false;
  }
}

std::string Plural(int n, const char* word) {
  return absl::StrCat(n, " ", word, n == 1 ? "" : "s");
}

BriefingView ViewBriefing(const ReportBuilder& b, const Case& c) {
  BriefingView v;
  v.c = &c;
  v.request = b.Opening(c);
  if (!v.request) return v;
  const v1::Payload& p = *v.request->payload;
  if (p.has_briefing_requested()) {
    v.group_id = &p.briefing_requested().group_id();
    v.matter_id = &p.briefing_requested().matter_id();
    v.answers_offer = !p.briefing_requested().in_response_to_offer_id().empty();
  } else if (p.has_briefing_offered()) {
    v.group_id = &p.briefing_offered().group_id();
    v.matter_id = &p.briefing_offered().matter_id();
    v.is_offer = true;
  } else {
    v.request.reset();
  }
  return v;
}

std::vector<Seen> GivenAtMeetings(const ReportBuilder& b, const Case& briefing,
                                  const BriefingView& v) {
  if (v.matter().empty()) return {};
  return b.AttendancesLinking(v.matter(), v.group(), std::string(briefing.id()));
}

std::optional<Seen> GivenAt(const ReportBuilder& b, const Case& briefing, const BriefingView& v) {
  if (std::optional<Seen> delivered = b.First(briefing, v1::Payload::kBriefingDelivered)) {
    return delivered;
  }
  std::optional<Seen> earliest;
  for (const Seen& m : GivenAtMeetings(b, briefing, v)) {
    if (!earliest || std::tie(m.at, m.position) < std::tie(earliest->at, earliest->position)) {
      earliest = m;
    }
  }
  return earliest;
}

std::vector<Seen> WithdrawnBefore(const ReportBuilder& b, const Case& c, v1::Payload::KindCase kind,
                                  absl::Time by) {
  std::vector<Seen> out;
  for (const Seen& s : b.Withdrawn(c, kind)) {
    if (s.at < by) out.push_back(s);
  }
  return out;
}

std::vector<Seen> FirstAndLast(const std::vector<Seen>& facts) {
  if (facts.size() <= 2 * kFirstAndLast) return facts;
  std::vector<Seen> by_position = facts;
  std::sort(by_position.begin(), by_position.end(),
            [](const Seen& x, const Seen& y) { return x.position < y.position; });
  std::vector<Seen> out(by_position.begin(), by_position.begin() + kFirstAndLast);
  out.insert(out.end(), by_position.end() - kFirstAndLast, by_position.end());
  return out;
}

void CiteFirstAndLast(const std::vector<Seen>& facts, std::vector<Seen>* evidence) {
  const std::vector<Seen> shown = FirstAndLast(facts);
  evidence->insert(evidence->end(), shown.begin(), shown.end());
}

std::string SayWithdrawn(const ReportBuilder& b, const std::vector<Seen>& withdrawn,
                         const char* one, const char* many) {
  if (withdrawn.empty()) return "";
  std::vector<Seen> by_time = FirstAndLast(withdrawn);
  std::sort(by_time.begin(), by_time.end(), [](const Seen& x, const Seen& y) {
    return std::tie(x.at, x.position) < std::tie(y.at, y.position);
  });
  std::vector<std::string> dates;
  for (const Seen& s : by_time) {
    std::string date = b.Date(s.at);
    if (dates.empty() || dates.back() != date) dates.push_back(std::move(date));
  }
  if (withdrawn.size() == 1) {
    return absl::StrCat(" ", one, " recorded on ", dates[0], " was withdrawn by a correction.");
  }
  if (withdrawn.size() > by_time.size()) {
    return absl::StrCat(" ", withdrawn.size(), " ", absl::AsciiStrToLower(many),
                        " were withdrawn by corrections; the first and the last ", kFirstAndLast,
                        " recorded (on ", absl::StrJoin(dates, ", "),
                        ") are cited, the others are in the log, each with its correction.");
  }
  return absl::StrCat(" ", many, " recorded on ", absl::StrJoin(dates, ", "),
                      " were withdrawn by corrections.");
}

}  // namespace evenhand::projections::internal
