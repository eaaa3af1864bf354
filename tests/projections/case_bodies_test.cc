// The projection's cases' facts out of memory (internal/case_bodies.h), and
// what the findings index keeps of each subject's reads: the packed names
// (internal/packed_names.h) and the readers of a name up to an instant
// (internal/bounded_readers.h).
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/civil_time.h"
#include "base/time_util.h"
#include "demo/demo_council.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "projections/fairness_projection.h"
#include "projections/internal/bounded_readers.h"
#include "projections/internal/packed_names.h"
#include "tests/projections/map_stored_findings.h"
#include "tests/testing/council_scenario.h"

namespace evenhand::projections {
namespace {

using ::evenhand::testing::Proto;

// With no case's body kept once checkpointed, one that cannot be read back
// is said (naming the case) and the projection is unhealthy: a report built
// meanwhile is never taken for one without that case.
TEST(CaseBodiesTest, ACaseThatCannotBeReadBackMakesTheProjectionUnhealthy) {
  auto calendar = WorkingDayCalendar::LoadFile(EVENHAND_BANK_HOLIDAYS);
  ASSERT_TRUE(calendar.ok());
  const FairnessSettings settings;
  const absl::Time now =
      absl::FromCivil(absl::CivilSecond(2026, 11, 30, 12, 0, 0), absl::UTCTimeZone());
  // Folds the demo council into `p`; `briefing`: one of its briefings.
  uint64_t position = 0;
  std::string briefing;
  auto fold = [&](FairnessProjection& p) {
    position = 0;
    for (auto& append : demo::DemoCouncil(now)) {
      if (briefing.empty() && absl::StartsWith(append.stream_id, "briefing-")) {
        briefing = append.stream_id;
      }
      for (auto& e : append.events) {
        v1::RecordedEvent r;
        r.set_position(++position);
        *r.mutable_event() = std::move(e);
        r.mutable_event()->set_stream_id(append.stream_id);
        *r.mutable_event()->mutable_recorded_at() = Proto(now);
        p.Apply(r);
      }
    }
  };
  FairnessProjection all_in_memory;
  fold(all_in_memory);
  ASSERT_FALSE(briefing.empty());
  const ReportQuery whole{absl::InfinitePast(), absl::InfiniteFuture(), position, now};
  {
    FairnessProjection p;
    MapStoredFindings stored;
    p.KeepCasesIn(&stored, 0);
    fold(p);
    EXPECT_GT(p.case_bytes_unsaved(), 0u);
    EXPECT_EQ(p.case_bytes_held(), all_in_memory.case_bytes_held());
    stored.Checkpoint(p);
    // Only the registry's cases are held now.
    EXPECT_EQ(p.case_bytes_unsaved(), 0u);
    EXPECT_LT(p.case_bytes_held(), all_in_memory.case_bytes_held() / 2);
    EXPECT_EQ(p.DerivedReport(whole, settings, *calendar).SerializeAsString(),
              all_in_memory.DerivedReport(whole, settings, *calendar).SerializeAsString());
    EXPECT_TRUE(p.health().ok()) << p.health();
    EXPECT_GT(stored.cases_read(), 0u);
  }

  FairnessProjection p;
  MapStoredFindings stored;
  p.KeepCasesIn(&stored, 0);
  fold(p);
  stored.Checkpoint(p);
  stored.LoseCase(briefing);
  // A report told of it is wrong (and said to be); the projection is not.
  absl::Status read_error;
  p.DerivedReport(whole, settings, *calendar, &read_error);
  EXPECT_TRUE(absl::IsDataLoss(read_error)) << read_error;
  EXPECT_THAT(std::string(read_error.message()), ::testing::HasSubstr(briefing));
  EXPECT_TRUE(p.health().ok()) << p.health();
  // Without, the projection is unhealthy.
  p.DerivedReport(whole, settings, *calendar);
  EXPECT_TRUE(absl::IsDataLoss(p.health())) << p.health();
  EXPECT_THAT(std::string(p.health().message()), ::testing::HasSubstr(briefing));
  // Said until the projection is cleared (the runner then folds again).
  p.DerivedReport(whole, settings, *calendar);
  EXPECT_FALSE(p.health().ok());
  p.Clear();
  EXPECT_TRUE(p.health().ok());
}

// What the index keeps of each subject's reads: names of any length and
// bytes come back as they went in, in order.
TEST(PackedNamesTest, NamesOfAnyLengthComeBackInOrder) {
  const std::vector<std::string> names = {
      "",  std::string(1, '\0'), "briefing-B-1", std::string(127, 'a'), std::string(128, 'b'),
      std::string(20000, 'c'), "matter \xE2\x80\x94 with\nlines"};
  internal::PackedNames packed = internal::PackedNames::Of(names);
  std::vector<std::string> back;
  packed.ForEach([&](absl::string_view name) { back.emplace_back(name); });
  EXPECT_EQ(back, names);
  EXPECT_FALSE(packed.empty());
  EXPECT_TRUE(internal::PackedNames().empty());
  EXPECT_EQ(packed, internal::PackedNames::Of(names));
  // A different split of the same bytes is a different list.
  EXPECT_NE(internal::PackedNames::Of(std::vector<std::string>{"ab", "c"}),
            internal::PackedNames::Of(std::vector<std::string>{"a", "bc"}));
}

// The subjects decided again for a fact of a name are those that read it
// up to the fact's instant or later, at the later instant if one read it
// twice; a name's last reader gone, the name is gone; one never read is
// told.
TEST(BoundedReadersTest, AFactDecidesAgainTheReadersUpToItsInstantOrLater) {
  Case a, b, c;
  internal::BoundedReaders readers;
  EXPECT_TRUE(readers.empty());
  readers.Add("matter-M", &a, 100);
  readers.Add("matter-M", &b, 200);
  readers.Add("briefing-B-1", &c, 50);
  readers.Add("matter-M", &a, 300);  // again, later
  readers.Add("matter-M", &b, 150);  // again, earlier: 200 holds
  EXPECT_EQ(readers.size(), 2u);
  auto from = [&](absl::string_view name, int64_t instant) {
    std::vector<const Case*> out;
    readers.ReadersFrom(name, instant, &out);
    std::sort(out.begin(), out.end());
    return out;
  };
  std::vector<const Case*> ab = {&a, &b};
  std::sort(ab.begin(), ab.end());
  EXPECT_EQ(from("matter-M", 200), ab);
  EXPECT_EQ(from("matter-M", 201), std::vector<const Case*>{&a});
  EXPECT_EQ(from("matter-M", 301), std::vector<const Case*>{});
  EXPECT_EQ(from("briefing-B-1", INT64_MIN), std::vector<const Case*>{&c});
  EXPECT_TRUE(from("matter-N", INT64_MIN).empty());
  EXPECT_TRUE(readers.Read("matter-M"));
  EXPECT_FALSE(readers.Read("matter-N"));

  EXPECT_TRUE(readers.Remove("matter-M", &a));
  EXPECT_FALSE(readers.Remove("matter-M", &a));
  EXPECT_FALSE(readers.Remove("matter-N", &a));
  EXPECT_EQ(from("matter-M", INT64_MIN), std::vector<const Case*>{&b});
  EXPECT_TRUE(readers.Remove("matter-M", &b));
  EXPECT_FALSE(readers.Read("matter-M"));
  EXPECT_TRUE(readers.Remove("briefing-B-1", &c));
  EXPECT_TRUE(readers.empty());
}

// A busy matter's readers (past those held in place) are kept, updated and
// removed one by one as a few are.
TEST(BoundedReadersTest, AMatterOfThousandsOfReadersKeepsEachAtItsInstant) {
  std::vector<Case> cases(2000);
  internal::BoundedReaders readers;
  for (size_t i = 0; i < cases.size(); ++i) {
    readers.Add("matter-busy", &cases[i], static_cast<int64_t>(i));
  }
  readers.Add("matter-busy", &cases[10], 5000);  // later: moves past the rest
  readers.Add("matter-busy", &cases[1999], 0);   // earlier: 1999 holds
  std::vector<const Case*> out;
  readers.ReadersFrom("matter-busy", 1990, &out);
  EXPECT_EQ(out.size(), 11u);  // 1990..1999 and the 10th
  for (size_t i = 0; i < cases.size(); i += 2) {
    EXPECT_TRUE(readers.Remove("matter-busy", &cases[i]));
  }
  out.clear();
  readers.ReadersFrom("matter-busy", INT64_MIN, &out);
  EXPECT_EQ(out.size(), cases.size() / 2);
  for (const Case* c : out) EXPECT_EQ((c - cases.data()) % 2, 1);
  for (size_t i = 1; i < cases.size(); i += 2) {
    EXPECT_TRUE(readers.Remove("matter-busy", &cases[i]));
  }
  EXPECT_TRUE(readers.empty());
}

}  // namespace
}  // namespace evenhand::projections
