// Lines of one kind repeated without end (base/log_repeats.h): a few in
// each window, the rest counted and told with the next one written.
#include "base/log_repeats.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace evenhand::logging {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1764806400);

TEST(RepeatLimiterTest, AFewOfAKindAWindowThenTheCountWithTheNext) {
  RepeatLimiter limiter(3, absl::Seconds(10));
  RepeatLimiter::Untold untold;
  int written = 0;
  for (int i = 0; i < 10; ++i) {
    if (limiter.Admit("refused 10.0.0.1", kStart + absl::Milliseconds(i), &untold)) {
      ++written;
      EXPECT_EQ(untold.like_it, 0u);
    }
  }
  EXPECT_EQ(written, 3);
  // Another kind is not held back by this one.
  EXPECT_TRUE(limiter.Admit("refused 10.0.0.2", kStart, &untold));
  // Within the window: still counted.
  EXPECT_FALSE(limiter.Admit("refused 10.0.0.1", kStart + absl::Seconds(9), &untold));
  // The next window: written, telling the 8 that were not since the first.
  ASSERT_TRUE(limiter.Admit("refused 10.0.0.1", kStart + absl::Seconds(10), &untold));
  EXPECT_EQ(untold.like_it, 8u);
  EXPECT_EQ(untold.since, kStart + absl::Milliseconds(3));
  ASSERT_TRUE(limiter.Admit("refused 10.0.0.1", kStart + absl::Seconds(10), &untold));
  EXPECT_EQ(untold.like_it, 0u);
}

TEST(RepeatLimiterTest, KindsPastTheBoundShareOne) {
  RepeatLimiter limiter(1, absl::Seconds(10), /*max_kinds=*/4);
  RepeatLimiter::Untold untold;
  // A scanner from many addresses: four kinds held, the rest share one, so
  // the lines stay bounded whatever the addresses.
  int written = 0;
  for (int i = 0; i < 100; ++i) {
    written += limiter.Admit(absl::StrCat("refused 10.0.0.", i), kStart, &untold);
  }
  EXPECT_EQ(written, 5);
  // Once their window has passed, the kinds held are forgotten to make room
  // (the shared one, which has lines to tell, is kept), and the next line
  // written tells the shared kind's 95.
  ASSERT_TRUE(limiter.Admit("refused 10.0.1.1", kStart + absl::Seconds(10), &untold));
  EXPECT_EQ(untold.like_it, 0u);
  EXPECT_EQ(untold.others, 95u);
  EXPECT_EQ(untold.others_since, kStart);
  ASSERT_TRUE(limiter.Admit("refused 10.0.0.99", kStart + absl::Seconds(10), &untold));
  EXPECT_EQ(untold.others, 0u);
}

TEST(RepeatLimiterTest, KindsForgottenToMakeRoomHandOverWhatTheyHadNotWritten) {
  RepeatLimiter limiter(1, absl::Seconds(10), /*max_kinds=*/2);
  RepeatLimiter::Untold untold;
  for (int i = 0; i < 3; ++i) limiter.Admit("a", kStart, &untold);  // 1 written, 2 not
  ASSERT_TRUE(limiter.Admit("b", kStart, &untold));
  // A window on, a new kind: "a" and "b" are forgotten, "a"'s 2 handed on.
  ASSERT_TRUE(limiter.Admit("c", kStart + absl::Seconds(10), &untold));
  EXPECT_EQ(untold.others, 0u);  // the shared kind's window has just begun
  ASSERT_TRUE(limiter.Admit("c", kStart + absl::Seconds(20), &untold));
  EXPECT_EQ(untold.others, 2u);
  EXPECT_EQ(untold.others_since, kStart);
}

}  // namespace
}  // namespace evenhand::logging
