// WorkingDayCalendar: working days in England and Wales, for the protocols'
// deadlines ("within five working days", Harlow 6.6 and 15.18).
//
// A working day is Monday to Friday and not a bank holiday. Bank holidays
// are data, read from a file (calendars/bank-holidays.json, GOV.UK's format),
// so a new year needs no code change. Days are local to Europe/London.
//
// Immutable after construction; safe to share between threads.
#ifndef EVENHAND_PROJECTIONS_WORKING_DAY_CALENDAR_H_
#define EVENHAND_PROJECTIONS_WORKING_DAY_CALENDAR_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace evenhand::projections {

class WorkingDayCalendar {
 public:
  // A file ending .json is GOV.UK's published bank-holidays.json
  // (https://www.gov.uk/bank-holidays.json), of which the
  // "england-and-wales" division is read; any other, "YYYY-MM-DD name"
  // lines with '#' starting a comment line.
  static absl::StatusOr<WorkingDayCalendar> LoadFile(const std::string& path);
  // `source` names the text in error messages.
  static absl::StatusOr<WorkingDayCalendar> Parse(absl::string_view text, absl::string_view source);
  static absl::StatusOr<WorkingDayCalendar> ParseGovUkJson(absl::string_view json,
                                                           absl::string_view source);

  // The same holidays over the same years.
  bool operator==(const WorkingDayCalendar& o) const {
    return first_year_ == o.first_year_ && last_year_ == o.last_year_ && holidays_ == o.holidays_;
  }

  bool IsBankHoliday(absl::CivilDay day) const;
  bool IsWorkingDay(absl::CivilDay day) const;

  // The `n`-th working day after `day` (n >= 1); `day` itself never counts,
  // so a query received on a Saturday and one received the Friday before
  // have the same fifth working day.
  absl::CivilDay AddWorkingDays(absl::CivilDay day, int n) const;

  // Working days after `from` up to and including `to`; 0 if to <= from.
  int WorkingDaysBetween(absl::CivilDay from, absl::CivilDay to) const;

  // The local (Europe/London) day of an instant.
  absl::CivilDay LocalDay(absl::Time t) const;

  // The instant `t`'s local day ends (the next local midnight): for a
  // field that names a day, any time on that day is by it.
  absl::Time EndOfLocalDay(absl::Time t) const;

  // The last local day that is over by `due`: the day a deadline at a
  // local midnight ends; for one during a day (a promise broken as it is
  // given is due at that moment), the day before: that day is not whole.
  absl::CivilDay LastDayEndingBy(absl::Time due) const { return LocalDay(due) - 1; }

  // The instant the `n`-th working day after `t`'s local day ends: a reply
  // is in time if it comes strictly before this.
  absl::Time EndOfWorkingDay(absl::Time t, int n) const;

  // The first and last years the file lists holidays for. Deadlines outside
  // them count weekends only: reports flag them (data-quality).
  int first_year() const { return first_year_; }
  int last_year() const { return last_year_; }
  // Whether `day` lies in the years the file covers.
  bool Covers(absl::CivilDay day) const {
    return day.year() >= first_year_ && day.year() <= last_year_;
  }
  // Every bank holiday the calendar holds, in date order.
  std::vector<absl::CivilDay> bank_holidays() const;
  // 31 December of the last year covered.
  absl::CivilDay last_covered_day() const { return absl::CivilDay(last_year_, 12, 31); }

 private:
  WorkingDayCalendar() = default;

  absl::TimeZone london_;
  absl::flat_hash_set<int64_t> holidays_;  // days since 1970-01-01
  int first_year_ = 0;
  int last_year_ = 0;
};

}  // namespace evenhand::projections

#endif  // EVENHAND_PROJECTIONS_WORKING_DAY_CALENDAR_H_
