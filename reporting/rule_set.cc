#include "reporting/rule_set.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "integrity/canonical.h"
#include "integrity/merkle.h"

namespace evenhand::reporting {

std::string RuleSetVersion(const projections::FairnessSettings& s,
                           const projections::WorkingDayCalendar& calendar) {
  // v2: the rules as code too (a rule's decisions can change while its
  // description does not).
  std::string text = absl::StrCat("evenhand rule set v2\nrules-code ",
                                  projections::FairnessProjection::DecisionsDigest(), "\n");
  for (const v1::RuleInfo& rule : projections::FairnessProjection::Rules(s)) {
    // A RuleInfo always encodes (it has no map or unknown fields).
    absl::StatusOr<std::string> bytes = integrity::CanonicalMessage(rule);
    absl::StrAppend(&text, "rule ", absl::Base64Escape(bytes.ok() ? *bytes : rule.rule_id()),
                    "\n");
  }
  absl::StrAppend(&text,
                  absl::StrFormat("settings %d %d %d %d %.17g %.17g %.17g %.17g %d\n",
                                  s.offer_deadline_working_days, s.equal_offer_lookback_days,
                                  s.query_reply_working_days, s.same_matter_window_days,
                                  s.parity_alpha, s.decline_rate_gap, s.late_reply_gap,
                                  s.officer_time_ratio, s.parity_min_cases),
                  "council ", absl::Base64Escape(s.council_name), "\n",
                  "calendar ", CalendarYears(calendar), "\n");
  for (absl::CivilDay day : calendar.bank_holidays()) {
    absl::StrAppend(&text, "holiday ", absl::FormatCivilTime(day), "\n");
  }
  return absl::StrCat("sha256:",
                      absl::BytesToHexString(integrity::Sha256(text)).substr(0, 16));
}

std::string CalendarYears(const projections::WorkingDayCalendar& calendar) {
  return absl::StrCat(calendar.first_year(), "-", calendar.last_year());
}

}  // namespace evenhand::reporting
