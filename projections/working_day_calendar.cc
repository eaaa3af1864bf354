#include "projections/working_day_calendar.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

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
  if (absl::EndsWith(path, ".json")) return ParseGovUkJson(text.str(), path);
  return Parse(text.str(), path);
}

absl::StatusOr<WorkingDayCalendar> WorkingDayCalendar::ParseGovUkJson(absl::string_view json,
                                                                      absl::string_view source) {
  google::protobuf::Struct doc;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  if (!google::protobuf::util::JsonStringToMessage(std::string(json), &doc, options).ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": not JSON (expected GOV.UK's bank-holidays.json)"));
  }
  auto division = doc.fields().find("england-and-wales");
  if (division == doc.fields().end() || !division->second.has_struct_value()) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": no \"england-and-wales\" division (expected GOV.UK's bank-holidays.json)"));
  }
  auto events = division->second.struct_value().fields().find("events");
  if (events == division->second.struct_value().fields().end() ||
      !events->second.has_list_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": the \"england-and-wales\" division has no \"events\" list"));
  }
  std::string lines;
  int index = 0;
  for (const google::protobuf::Value& e : events->second.list_value().values()) {
    const auto& fields = e.struct_value().fields();
    auto date = fields.find("date");
    if (date == fields.end() || !date->second.has_string_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": england-and-wales.events[", index, "] has no \"date\" string"));
    }
    absl::StrAppend(&lines, date->second.string_value(), "\n");
    ++index;
  }
  if (index == 0) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": no bank holidays listed"));
  }
  return Parse(lines, source);
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
      return absl::InvalidArgumentError(
          absl::StrCat(source, ":", line_number, ": \"", date, "\" is not a YYYY-MM-DD date"));
    }
    calendar.holidays_.insert(DayNumber(day));
    const int year = static_cast<int>(day.year());
    if (calendar.first_year_ == 0 || year < calendar.first_year_) calendar.first_year_ = year;
    if (year > calendar.last_year_) calendar.last_year_ = year;
  }
  return calendar;
}

std::vector<absl::CivilDay> WorkingDayCalendar::bank_holidays() const {
  std::vector<absl::CivilDay> days;
  days.reserve(holidays_.size());
  for (int64_t d : holidays_) days.push_back(absl::CivilDay(1970, 1, 1) + d);
  std::sort(days.begin(), days.end());
  return days;
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
