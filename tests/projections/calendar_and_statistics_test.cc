// The working-day calendar (bank holidays as data) and the statistical tests
// behind the access-parity rule, against known values.
#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

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
  EXPECT_DOUBLE_EQ(Median(std::vector<double>{}), 0);
}

// The statistics as first written, over lists: the reference a
// Distribution (what reports sum over days) must match bit for bit.
double ReferenceMannWhitney(const std::vector<double>& xs, const std::vector<double>& ys) {
  const size_t n1 = xs.size(), n2 = ys.size();
  if (n1 == 0 || n2 == 0) return 1.0;
  std::vector<std::pair<double, int>> all;
  for (double x : xs) all.emplace_back(x, 0);
  for (double y : ys) all.emplace_back(y, 1);
  std::sort(all.begin(), all.end());
  double rank_sum_x = 0, tie_term = 0;
  for (size_t i = 0; i < all.size();) {
    size_t j = i;
    while (j < all.size() && all[j].first == all[i].first) ++j;
    const double t = static_cast<double>(j - i);
    const double avg_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2.0;
    for (size_t k = i; k < j; ++k) {
      if (all[k].second == 0) rank_sum_x += avg_rank;
    }
    tie_term += t * t * t - t;
    i = j;
  }
  const double dn1 = static_cast<double>(n1), dn2 = static_cast<double>(n2);
  const double u = rank_sum_x - dn1 * (dn1 + 1) / 2.0;
  const double mean = dn1 * dn2 / 2.0;
  const double n = dn1 + dn2;
  const double variance = dn1 * dn2 / 12.0 * ((n + 1) - tie_term / (n * (n - 1)));
  if (variance <= 0) return 1.0;
  const double z = (std::fabs(u - mean) - 0.5) / std::sqrt(variance);
  if (z <= 0) return 1.0;
  return std::min(1.0, std::erfc(z / std::sqrt(2.0)));
}

double ReferenceQuantile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const double index = p * static_cast<double>(values.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(index));
  const size_t hi = std::min(values.size() - 1, lo + 1);
  const double frac = index - static_cast<double>(lo);
  return values[lo] + (values[hi] - values[lo]) * frac;
}

TEST(DistributionTest, GivesTheSameAnswersAsTheListsBitForBit) {
  std::mt19937 rng(7);
  for (int round = 0; round < 300; ++round) {
    // Officer minutes (many ties) or working days; samples split in two
    // and each half summed "by day" as a report does.
    const int spread = round % 3 == 0 ? 8 : 400;
    std::vector<double> xs(rng() % 300), ys(rng() % 900);
    for (double& v : xs) v = static_cast<double>(rng() % spread) * 15;
    for (double& v : ys) v = static_cast<double>(rng() % spread) * 15 + (round % 2) * 15;
    Distribution dx, dy;
    Distribution half(std::vector<double>(xs.begin(), xs.begin() + xs.size() / 2));
    dx.Merge(half);
    for (size_t i = xs.size() / 2; i < xs.size(); ++i) dx.Add(xs[i]);
    for (double v : ys) dy.Add(v);
    ASSERT_EQ(dx.size(), xs.size());
    EXPECT_EQ(MannWhitneyTwoSided(dx, dy), ReferenceMannWhitney(xs, ys)) << round;
    EXPECT_EQ(MannWhitneyTwoSided(xs, ys), ReferenceMannWhitney(xs, ys)) << round;
    for (double p : {0.0, 0.1, 0.5, 0.9, 1.0}) {
      EXPECT_EQ(Quantile(dy, p), ReferenceQuantile(ys, p)) << round << " " << p;
    }
    EXPECT_EQ(Median(dx), ReferenceQuantile(xs, 0.5)) << round;
  }
}

}  // namespace
}  // namespace evenhand::projections
