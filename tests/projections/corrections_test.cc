// Corrections (EventCorrected): what an event said, whether it stands, and
// since issue 12 when it happened. Each is read as of the log's position:
// a report before the correction reads the event as recorded. Dates are UK
// local; Easter 2026 (Good Friday 3 April, Easter Monday 6 April) makes the
// working-day cases.
#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/council_scenario.h"

namespace evenhand::projections {
namespace {

using ::evenhand::testing::At;
using ::evenhand::testing::CouncilScenario;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

class CorrectedDateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    s_.Request(At(2026, 3, 23), "B-1", "labour", "local-plan");
    s_.Approve(At(2026, 3, 24), "B-1");
  }
  CouncilScenario s_;
};

TEST_F(CorrectedDateTest, ABriefingGivenEarlierThanRecordedMakesOffersLate) {
  // Recorded as given on Wednesday 8 April (offers due by the end of
  // Wednesday 15 April); others offered on Monday 13 April: in time.
  const uint64_t delivered = s_.Deliver(At(2026, 4, 8, 12), "B-1");
  s_.OfferOthers(At(2026, 4, 13, 9), "labour", "local-plan", "B-1");
  const uint64_t before = s_.last_position();
  EXPECT_THAT(s_.Findings("equal-offer", At(2026, 5, 1)), IsEmpty());
  // It was really given on Wednesday 1 April: offers were due by the end of
  // Friday 10 April (across Easter), so Monday's came on working day 6.
  const uint64_t correction = s_.CorrectWhen(At(2026, 4, 20), delivered, At(2026, 4, 1, 12));
  std::vector<v1::Finding> f = s_.Findings("equal-offer", At(2026, 5, 1));
  ASSERT_THAT(f, SizeIs(2));
  for (const v1::Finding& finding : f) {
    EXPECT_THAT(finding.explanation(), HasSubstr("6 working days later (the limit is 5)"));
    EXPECT_THAT(finding.evidence_positions(), ::testing::Contains(correction));
  }
  const v1::FairnessReport report = s_.Report(At(2026, 5, 1));
  bool summarised = false;
  for (const v1::EvidenceEvent& e : report.evidence()) {
    summarised |= e.position() == delivered &&
                  absl::StrContains(e.summary(), "(as corrected: it happened on 1 Apr 2026)");
  }
  EXPECT_TRUE(summarised) << "the delivery's summary names its corrected date";
  // As the log stood before the correction, the report is what it was.
  EXPECT_THAT(s_.Findings("equal-offer", At(2026, 5, 1), before), IsEmpty());
}

TEST_F(CorrectedDateTest, ABriefingGivenLaterThanRecordedLeavesOffersInTime) {
  // Recorded as given on 1 April: Monday 13 April's offers look late...
  const uint64_t delivered = s_.Deliver(At(2026, 4, 1, 12), "B-1");
  s_.OfferOthers(At(2026, 4, 13, 9), "labour", "local-plan", "B-1");
  EXPECT_THAT(s_.Findings("equal-offer", At(2026, 5, 1)), SizeIs(2));
  // ...but it was given on 8 April: in time. A correction of the date alone
  // does not withdraw the delivery (the briefing still counts as given).
  s_.CorrectWhen(At(2026, 4, 20), delivered, At(2026, 4, 8, 12));
  EXPECT_THAT(s_.Findings("equal-offer", At(2026, 5, 1)), IsEmpty());
  const v1::FairnessReport report = s_.Report(At(2026, 5, 1));
  for (const v1::GroupMetrics& g : report.groups()) {
    if (g.group_id() == "labour") {
      EXPECT_EQ(g.briefings_delivered(), 1u);
    }
  }
}

TEST(CorrectedDate, APeriodCountsWhatHappenedInItByTheCorrectedDate) {
  CouncilScenario s;
  // Received in May, recorded as March by a keying error.
  const uint64_t query = s.Query(At(2026, 3, 4), "Q-1", "grn-1");
  s.Answer(At(2026, 5, 6), "Q-1");
  auto received = [&](absl::Time from, absl::Time to) {
    const v1::FairnessReport report = s.Report(At(2026, 7, 1), std::nullopt, from, to);
    for (const v1::GroupMetrics& g : report.groups()) {
      if (g.group_id() == "green") return g.queries_received();
    }
    return 0u;
  };
  EXPECT_EQ(received(At(2026, 1, 1, 0), At(2026, 4, 1, 0)), 1u);
  EXPECT_THAT(s.Findings("written-query-reply", At(2026, 7, 1)), SizeIs(1));  // "two months late"
  s.CorrectWhen(At(2026, 6, 1), query, At(2026, 5, 4, 9));
  EXPECT_EQ(received(At(2026, 1, 1, 0), At(2026, 4, 1, 0)), 0u);
  EXPECT_EQ(received(At(2026, 4, 1, 0), At(2026, 7, 1, 0)), 1u);
  // Received Monday 4 May (a bank holiday: counted from Tuesday), answered
  // Wednesday 6 May: in time.
  EXPECT_THAT(s.Findings("written-query-reply", At(2026, 7, 1)), IsEmpty());
}

}  // namespace
}  // namespace evenhand::projections
