// RefusalThrottle (services/auth/refusal_throttle.h): which refusals go on
// the record, with a clock the test moves.
#include "services/auth/refusal_throttle.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace evenhand::services::auth {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);

// What the throttle keeps of the last refusal it passed over: here, when.
class Throttle : public RefusalThrottle<absl::Time> {
 public:
  using RefusalThrottle::RefusalThrottle;
  std::optional<PassedOver> Take(const std::string& principal, const std::string& method,
                                 const std::string& kind, absl::Time now) {
    return RefusalThrottle::Take(principal, method, kind, now, [now] { return now; });
  }
};

TEST(RefusalThrottleTest, ARefusalAlikeIsRecordedOnceAMinuteAndTheNextSaysHowManyWereNot) {
  Throttle throttle(absl::Minutes(1), 60, 1000);
  auto first = throttle.Take("p", "GetStatus", "GetStatus denied", kStart);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->count, 0u);
  for (int i = 1; i <= 100; ++i) {
    EXPECT_FALSE(
        throttle.Take("p", "GetStatus", "GetStatus denied", kStart + absl::Milliseconds(i)));
  }
  // Another kind of the same method is recorded at once, carrying the
  // method's count.
  auto other = throttle.Take("p", "GetStatus", "GetStatus limited", kStart + absl::Seconds(1));
  ASSERT_TRUE(other.has_value());
  EXPECT_EQ(other->count, 100u);
  EXPECT_EQ(other->since, kStart);
  // Another method: recorded, with its own count (none).
  auto replay = throttle.Take("p", "Replay", "Replay denied", kStart + absl::Seconds(2));
  ASSERT_TRUE(replay.has_value());
  EXPECT_EQ(replay->count, 0u);
  // Another principal is its own.
  auto q = throttle.Take("q", "GetStatus", "GetStatus denied", kStart + absl::Seconds(2));
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(q->count, 0u);
  // A minute on, the first kind again.
  EXPECT_FALSE(throttle.Take("p", "GetStatus", "GetStatus denied", kStart + absl::Seconds(59)));
  auto again = throttle.Take("p", "GetStatus", "GetStatus denied", kStart + absl::Seconds(61));
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->count, 1u);
  EXPECT_EQ(again->since, kStart + absl::Seconds(1));
}

// Refusals passed over in a flood that stops are reported once none has
// come for a minute (found from outside: their count waited for the next
// refusal of the method, and a flood that stopped was left off the record).
TEST(RefusalThrottleTest, AFloodThatStopsIsOverdueAMinuteAfterItsLastRefusal) {
  Throttle throttle(absl::Minutes(1), 60, 1000);
  ASSERT_TRUE(throttle.Take("p", "GetStatus", "GetStatus denied", kStart).has_value());
  ASSERT_TRUE(throttle.Take("p", "Replay", "Replay denied", kStart).has_value());
  for (int i = 1; i <= 30; ++i) {
    EXPECT_FALSE(throttle.Take("p", "GetStatus", "GetStatus denied", kStart + absl::Seconds(i)));
  }
  EXPECT_TRUE(throttle.TakeOverdue(kStart + absl::Seconds(89)).empty()) << "not a minute quiet";
  std::vector<Throttle::Overdue> overdue = throttle.TakeOverdue(kStart + absl::Seconds(90));
  ASSERT_EQ(overdue.size(), 1u) << "Replay had none passed over";
  EXPECT_EQ(overdue[0].principal, "p");
  EXPECT_EQ(overdue[0].method, "GetStatus");
  EXPECT_EQ(overdue[0].count, 30u);
  EXPECT_EQ(overdue[0].last, kStart + absl::Seconds(30)) << "the last passed over kept";
  EXPECT_EQ(overdue[0].last_at, kStart + absl::Seconds(30));
  // Counted once: not again, nor by the next refusal recorded.
  EXPECT_TRUE(throttle.TakeOverdue(kStart + absl::Minutes(5)).empty());
  auto next = throttle.Take("p", "GetStatus", "GetStatus denied", kStart + absl::Minutes(5));
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->count, 0u);
  // A flood that goes on is counted by its refusals recorded once a minute,
  // never overdue.
  for (int i = 1; i <= 180; ++i) {
    const absl::Time at = kStart + absl::Minutes(5) + absl::Seconds(i);
    throttle.Take("p", "GetStatus", "GetStatus denied", at);
    EXPECT_TRUE(throttle.TakeOverdue(at).empty()) << i;
  }
}

TEST(RefusalThrottleTest, ManyDifferentRefusalsOfOnePrincipalAreBoundedPerMinute) {
  Throttle throttle(absl::Minutes(1), 60, 1000);
  int recorded = 0;
  for (int i = 0; i < 500; ++i) {
    recorded +=
        throttle.Take("p", "ReadStream", absl::StrCat("stream-", i), kStart + absl::Milliseconds(i))
            .has_value();
  }
  EXPECT_EQ(recorded, 60);
  // The next minute: recorded again, with the 440 passed over.
  auto next = throttle.Take("p", "ReadStream", "stream-new", kStart + absl::Seconds(61));
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->count, 440u);
}

TEST(RefusalThrottleTest, ACallerWithoutARoleIsRecordedOnceAMinuteWhateverItAsks) {
  Throttle throttle(absl::Minutes(1), 1, 1000);
  EXPECT_TRUE(throttle.Take("nobody", "GetStatus", "", kStart).has_value());
  EXPECT_FALSE(throttle.Take("nobody", "GetStatus", "", kStart + absl::Seconds(20)));
  EXPECT_FALSE(throttle.Take("nobody", "Replay", "", kStart + absl::Seconds(30)));
  auto next = throttle.Take("nobody", "GetStatus", "", kStart + absl::Seconds(60));
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->count, 1u);
  // The Replay passed over waits for the next Replay recorded.
  auto replay = throttle.Take("nobody", "Replay", "", kStart + absl::Seconds(120));
  ASSERT_TRUE(replay.has_value());
  EXPECT_EQ(replay->count, 1u);
}

TEST(RefusalThrottleTest, WhatItRemembersIsBounded) {
  Throttle throttle(absl::Minutes(1), 60, 10);
  for (int i = 0; i < 25; ++i) {
    EXPECT_TRUE(throttle.Take(absl::StrCat("p", i), "m", "k", kStart).has_value());
  }
  // Forgotten (all were seen within the minute, so all went): recorded again.
  EXPECT_TRUE(throttle.Take("p0", "m", "k", kStart + absl::Seconds(1)).has_value());
}

}  // namespace
}  // namespace evenhand::services::auth
