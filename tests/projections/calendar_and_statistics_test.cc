// The working-day calendar (bank holidays as data) and the statistical tests
// behind the access-parity rule, against known values.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "projections/statistics.h"
#include "projections/working_day_calendar.h"
#include "tests/testing/council_scenario.h"
#include "tests/testing/status_matchers.h"

namespace evenhand::projections {
namespace {

using ::evenhand::testing::At;
using ::evenhand::testing::StatusIs;
using ::testing::DoubleNear;
using ::testing::HasSubstr;

class CalendarTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loaded = WorkingDayCalendar::LoadFile(EVENHAND_BANK_HOLIDAYS);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    calendar_.emplace(*std::move(loaded));
  }
  std::optional<WorkingDayCalendar> calendar_;
};

TEST_F(CalendarTest, EasterBankHolidaysAreNotWorkingDays) {
  EXPECT_FALSE(calendar_->IsWorkingDay(absl::CivilDay(2026, 4, 3)));  // Good Friday
  EXPECT_FALSE(calendar_->IsWorkingDay(absl::CivilDay(2026, 4, 6)));  // Easter Monday
  EXPECT_FALSE(calendar_->IsWorkingDay(absl::CivilDay(2026, 4, 4)));  // Saturday
  EXPECT_TRUE(calendar_->IsWorkingDay(absl::CivilDay(2026, 4, 7)));
}

TEST_F(CalendarTest, FifthWorkingDayAfterTheWednesdayBeforeEasterIsTheFollowingFriday) {
  EXPECT_EQ(calendar_->AddWorkingDays(absl::CivilDay(2026, 4, 1), 5), absl::CivilDay(2026, 4, 10));
  EXPECT_EQ(calendar_->WorkingDaysBetween(absl::CivilDay(2026, 4, 1), absl::CivilDay(2026, 4, 13)),
            6);
}

TEST_F(CalendarTest, ADayReceivedOnASaturdayCountsFromMonday) {
  EXPECT_EQ(calendar_->AddWorkingDays(absl::CivilDay(2026, 6, 6), 1), absl::CivilDay(2026, 6, 8));
  EXPECT_EQ(calendar_->AddWorkingDays(absl::CivilDay(2026, 6, 5), 5),
            calendar_->AddWorkingDays(absl::CivilDay(2026, 6, 6), 5));
}

TEST_F(CalendarTest, SubstituteDaysAreHolidays) {
  EXPECT_TRUE(calendar_->IsBankHoliday(absl::CivilDay(2026, 12, 28)));  // Boxing Day moved
  EXPECT_TRUE(calendar_->IsBankHoliday(absl::CivilDay(2027, 12, 27)));
}

TEST_F(CalendarTest, LocalDaysFollowBritishSummerTime) {
  // 23:30 UTC on 1 June is 00:30 on 2 June in London.
  absl::Time t = absl::FromCivil(absl::CivilSecond(2026, 6, 1, 23, 30, 0), absl::UTCTimeZone());
  EXPECT_EQ(calendar_->LocalDay(t), absl::CivilDay(2026, 6, 2));
  // In winter London is on UTC.
  absl::Time w = absl::FromCivil(absl::CivilSecond(2026, 1, 5, 23, 30, 0), absl::UTCTimeZone());
  EXPECT_EQ(calendar_->LocalDay(w), absl::CivilDay(2026, 1, 5));
}

TEST_F(CalendarTest, TheDeadlineIsTheEndOfTheLastWorkingDay) {
  EXPECT_EQ(calendar_->EndOfWorkingDay(At(2026, 4, 1, 15), 5), At(2026, 4, 11, 0));
}

TEST(CalendarFileTest, ABadLineIsReportedWithItsNumber) {
  EXPECT_THAT(WorkingDayCalendar::Parse("# comment\n2026-01-01 New Year\n2026-13-01 nope\n", "f"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("f:3")));
}

TEST(CalendarFileTest, TheYearsCoveredAreKnown) {
  auto c = WorkingDayCalendar::LoadFile(EVENHAND_BANK_HOLIDAYS);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->first_year(), 2018);
  EXPECT_GE(c->last_year(), 2027);
}

// GOV.UK's bank-holidays.json shape: the England and Wales division only.
TEST(CalendarFileTest, GovUkJsonIsReadForEnglandAndWales) {
  auto calendar = WorkingDayCalendar::ParseGovUkJson(
      R"({"england-and-wales": {"division": "england-and-wales", "events": [
            {"title": "New Year's Day", "date": "2028-01-03", "notes": "Substitute day",
             "bunting": true}]},
          "scotland": {"division": "scotland", "events": [
            {"title": "2nd January", "date": "2028-01-04", "notes": "", "bunting": true}]}})",
      "test.json");
  ASSERT_TRUE(calendar.ok()) << calendar.status();
  EXPECT_TRUE(calendar->IsBankHoliday(absl::CivilDay(2028, 1, 3)));
  EXPECT_FALSE(calendar->IsBankHoliday(absl::CivilDay(2028, 1, 4)));  // Scotland's only
  EXPECT_TRUE(calendar->Covers(absl::CivilDay(2028, 12, 31)));
  EXPECT_FALSE(calendar->Covers(absl::CivilDay(2029, 1, 1)));
}

TEST(CalendarFileTest, JsonWithoutTheDivisionOrDatesIsRefused) {
  EXPECT_THAT(WorkingDayCalendar::ParseGovUkJson("not json", "x.json").status().message(),
              ::testing::HasSubstr("x.json: not JSON"));
  EXPECT_THAT(WorkingDayCalendar::ParseGovUkJson(R"({"scotland": {"events": []}})", "x.json")
                  .status()
                  .message(),
              ::testing::HasSubstr("no \"england-and-wales\" division"));
  EXPECT_THAT(WorkingDayCalendar::ParseGovUkJson(
                  R"({"england-and-wales": {"events": [{"title": "x"}]}})", "x.json")
                  .status()
                  .message(),
              ::testing::HasSubstr("events[0] has no \"date\""));
}

TEST(CalendarFileTest, TheShippedFileIsGovUkJson) {
  auto calendar = WorkingDayCalendar::LoadFile(EVENHAND_BANK_HOLIDAYS);
  ASSERT_TRUE(calendar.ok()) << calendar.status();
  EXPECT_TRUE(calendar->IsBankHoliday(absl::CivilDay(2026, 4, 3)));  // Good Friday
  EXPECT_EQ(calendar->last_covered_day(), absl::CivilDay(calendar->last_year(), 12, 31));
}

TEST(FisherExactTest, MatchesPublishedValues) {
  // Fisher's tea-tasting table [[3,1],[1,3]]: two-sided p = 0.4857.
  EXPECT_THAT(FisherExactTwoSided(3, 1, 1, 3), DoubleNear(0.4857, 1e-4));
  // [[1,9],[11,3]] (R's fisher.test documentation example): p = 0.002759.
  EXPECT_THAT(FisherExactTwoSided(1, 9, 11, 3), DoubleNear(0.002759, 1e-6));
  EXPECT_THAT(FisherExactTwoSided(6, 2, 1, 21), DoubleNear(0.0003065, 1e-6));
  EXPECT_DOUBLE_EQ(FisherExactTwoSided(0, 0, 0, 0), 1.0);
}

TEST(MannWhitneyTest, IdenticalSamplesAreNotSignificant) {
  EXPECT_THAT(MannWhitneyTwoSided({1, 2, 3, 4, 5}, {1, 2, 3, 4, 5}), DoubleNear(1.0, 1e-9));
}

TEST(MannWhitneyTest, SeparatedSamplesAreSignificant) {
  std::vector<double> low, high;
  for (int i = 0; i < 10; ++i) {
    low.push_back(i);
    high.push_back(100 + i);
  }
  // U = 0 with n1 = n2 = 10: the normal approximation gives p of about 0.00018.
  EXPECT_LT(MannWhitneyTwoSided(low, high), 0.001);
  EXPECT_EQ(MannWhitneyTwoSided({}, high), 1.0);
}

TEST(QuantileTest, MedianAndNinetiethPercentile) {
  EXPECT_DOUBLE_EQ(Median({3, 1, 2}), 2);
  EXPECT_DOUBLE_EQ(Median({4, 1, 2, 3}), 2.5);
  EXPECT_DOUBLE_EQ(Quantile({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0.9), 9.1);
  EXPECT_DOUBLE_EQ(Median({}), 0);
}

}  // namespace
}  // namespace evenhand::projections
