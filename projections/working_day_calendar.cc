#include "projections/working_day_calendar.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace evenhand::projections {
namespace {

int64_t DayNumber(absl::CivilDay day) { return day - absl::CivilDay(1970, 1, 1); }

}  // namespace

absl::StatusOr<WorkingDayCalendar> WorkingDayCalendar::LoadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("bank holidays: cannot open ", path,
                                            " (set fairness.bankHolidaysFile in the config)"));
  }
  std::stringstream text;
  text << in.rdbuf();
  return Parse(text.str(), path);
}

absl::StatusOr<WorkingDayCalendar> WorkingDayCalendar::Parse(absl::string_view text,
                                                             absl::string_view source) {
  WorkingDayCalendar calendar;
  if (!absl::LoadTimeZone("Europe/London", &calendar.london_)) {
    return absl::FailedPreconditionError(
        "the Europe/London time zone is not installed (Debian package tzdata)");
  }
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    absl::string_view date = line.substr(0, line.find_first_of(" \t"));
    absl::CivilDay day;
    if (!absl::ParseCivilTime(date, &day)) {
      return absl::InvalidArgumentError(absl::StrCat(source, ":", line_number, ": \"", date,
                                                     "\" is not a YYYY-MM-DD date"));
    }
    calendar.holidays_.insert(DayNumber(day));
    const int year = static_cast<int>(day.year());
    if (calendar.first_year_ == 0 || year < calendar.first_year_) calendar.first_year_ = year;
    if (year > calendar.last_year_) calendar.last_year_ = year;
  }
  return calendar;
}

bool WorkingDayCalendar::IsBankHoliday(absl::CivilDay day) const {
  return holidays_.contains(DayNumber(day));
}

bool WorkingDayCalendar::IsWorkingDay(absl::CivilDay day) const {
  absl::Weekday w = absl::GetWeekday(day);
  return w != absl::Weekday::saturday && w != absl::Weekday::sunday && !IsBankHoliday(day);
}

absl::CivilDay WorkingDayCalendar::AddWorkingDays(absl::CivilDay day, int n) const {
  while (n > 0) {
    ++day;
    if (IsWorkingDay(day)) --n;
  }
  return day;
}

int WorkingDayCalendar::WorkingDaysBetween(absl::CivilDay from, absl::CivilDay to) const {
  int n = 0;
  for (absl::CivilDay d = from + 1; d <= to; ++d) {
    if (IsWorkingDay(d)) ++n;
  }
  return n;
}

absl::CivilDay WorkingDayCalendar::LocalDay(absl::Time t) const {
  return absl::ToCivilDay(t, london_);
}

absl::Time WorkingDayCalendar::EndOfLocalDay(absl::Time t) const {
  return absl::FromCivil(LocalDay(t) + 1, london_);
}

absl::Time WorkingDayCalendar::EndOfWorkingDay(absl::Time t, int n) const {
  return absl::FromCivil(AddWorkingDays(LocalDay(t), n) + 1, london_);
}

}  // namespace evenhand::projections
