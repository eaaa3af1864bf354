// The version of the rule set a report was computed with.
//
// Two reports of the same log agree only if they applied the same rules with
// the same settings and counted working days with the same bank holidays.
// The version is a digest of all three, so that a report recomputed offline
// with other settings says so instead of differing silently.
//
// Pure functions; thread-safe.
#ifndef EVENHAND_REPORTING_RULE_SET_H_
#define EVENHAND_REPORTING_RULE_SET_H_

#include <string>

#include "projections/fairness_projection.h"
#include "projections/working_day_calendar.h"

namespace evenhand::reporting {

// "sha256:" and the first 16 hex digits of SHA-256 over: the line
// "evenhand rule set v1", the canonical encoding of each rule's RuleInfo
// (id, title, citation, severity, description with its settings) in the
// registry's order, every FairnessSettings value (the council's name too: reports show it),
// and every bank holiday (YYYY-MM-DD) with the years the calendar covers.
std::string RuleSetVersion(const projections::FairnessSettings& settings,
                           const projections::WorkingDayCalendar& calendar);

// The years the calendar covers, e.g. "2018-2028".
std::string CalendarYears(const projections::WorkingDayCalendar& calendar);

}  // namespace evenhand::reporting

#endif  // EVENHAND_REPORTING_RULE_SET_H_
