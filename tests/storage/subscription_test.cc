// Subscription against a real RocksDB in a temporary folder: catching up
// from the log, following the live feed, and falling behind it.
#include "storage/subscription.h"

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "storage/event_store.h"
#include "tests/storage/store_fixture.h"
#include "tests/testing/events.h"
#include "tests/testing/status_matchers.h"

namespace evenhand::storage {
namespace {

using ::evenhand::testing::AnEvent;
using ::evenhand::testing::SomeEvents;

class SubscriptionTest : public StoreTest {
 protected:
  // Appends `n` events of about `bytes` each, one per append.
  void AppendLarge(int n, size_t bytes) {
    for (int i = 0; i < n; ++i) {
      ASSERT_OK(store_->Append("s", ExpectedRevision::Any(),
                               {AnEvent(std::string(bytes, static_cast<char>('a' + i % 26)))}));
    }
  }

  // Reads from `from` to the log's end with Next(max_events, max_bytes), and
  // the number of events each call handed over.
  std::vector<size_t> ReadInCalls(uint64_t from, size_t max_events, size_t max_bytes,
                                  std::vector<uint64_t>* positions) {
    std::unique_ptr<Subscription> sub = store_->Subscribe(from);
    std::vector<size_t> calls;
    for (;;) {
      std::vector<EventPtr> got;
      EXPECT_OK(sub->Next(max_events, max_bytes, absl::Now() + absl::Milliseconds(10), &got));
      if (got.empty()) break;
      calls.push_back(got.size());
      for (const EventPtr& e : got) positions->push_back(e->position());
    }
    return calls;
  }
};

TEST_F(SubscriptionTest, SubscriptionCatchesUpThenFollowsLiveEvents) {
  ASSERT_OK(store_->Append("s", ExpectedRevision::Any(), SomeEvents(5)));
  std::unique_ptr<Subscription> sub = store_->Subscribe(2);
  std::vector<EventPtr> got;
  ASSERT_OK(sub->Next(100, SIZE_MAX, absl::Now() + absl::Seconds(1), &got));
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got.front()->position(), 2u);
  EXPECT_EQ(sub->mode(), Subscription::Mode::kLive);

  // Nothing new: Next waits until its deadline and returns nothing.
  got.clear();
  ASSERT_OK(sub->Next(100, SIZE_MAX, absl::Now() + absl::Milliseconds(20), &got));
  EXPECT_TRUE(got.empty());

  std::thread writer([&] {
    absl::SleepFor(absl::Milliseconds(20));
    ASSERT_OK(store_->Append("s", ExpectedRevision::Any(), SomeEvents(1)));
  });
  ASSERT_OK(sub->Next(100, SIZE_MAX, absl::Now() + absl::Seconds(10), &got));
  writer.join();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0]->position(), 6u);
}

TEST_F(SubscriptionTest, SubscriberBehindTheLiveBufferIsServedFromTheLog) {
  StoreOptions options;
  options.live_buffer_events = 4;
  Reopen(options);
  std::unique_ptr<Subscription> sub = store_->Subscribe(1);
  std::vector<EventPtr> got;
  ASSERT_OK(sub->Next(100, SIZE_MAX, absl::Now() + absl::Milliseconds(10), &got));
  EXPECT_EQ(sub->mode(), Subscription::Mode::kLive);
  for (int i = 0; i < 10; ++i)
    ASSERT_OK(store_->Append("s", ExpectedRevision::Any(), SomeEvents(1)));
  // Positions 1..6 have left the buffer: the subscriber reads them from the
  // log, then from the buffer, without a gap or a repeat.
  std::vector<uint64_t> positions;
  while (positions.size() < 10) {
    got.clear();
    ASSERT_OK(sub->Next(3, SIZE_MAX, absl::Now() + absl::Seconds(1), &got));
    if (positions.empty()) {
      EXPECT_EQ(sub->mode(), Subscription::Mode::kCatchingUp);
      EXPECT_TRUE(sub->TakeFellBehind());
    }
    for (auto& e : got) positions.push_back(e->position());
  }
  for (size_t i = 0; i < positions.size(); ++i) EXPECT_EQ(positions[i], i + 1);
  EXPECT_EQ(sub->mode(), Subscription::Mode::kLive);
}

// A run of large events is handed over a few at a time, whether read from
// the log (the subscriber is behind the live feed) or from the feed, and an
// event larger than the bound on its own still comes, alone.
TEST_F(SubscriptionTest, LargeEventsAreHandedOverAboutMaxBytesAtATime) {
  StoreOptions options;
  options.live_buffer_events = 4;  // positions 1..6 will be read from the log
  Reopen(options);
  AppendLarge(10, 100 << 10);
  std::vector<uint64_t> positions;
  std::vector<size_t> calls = ReadInCalls(1, 4096, 250 << 10, &positions);
  ASSERT_EQ(positions.size(), 10u);
  for (size_t i = 0; i < positions.size(); ++i) EXPECT_EQ(positions[i], i + 1);
  for (size_t n : calls) EXPECT_EQ(n, 2u) << "each call at most about 250 KB of 100 KB events";

  // A bound smaller than one event: one event per call, none skipped.
  positions.clear();
  calls = ReadInCalls(1, 4096, 1000, &positions);
  ASSERT_EQ(positions.size(), 10u);
  EXPECT_EQ(calls, std::vector<size_t>(10, 1u));

  // Without a bound on bytes, the count alone.
  positions.clear();
  calls = ReadInCalls(1, 4096, SIZE_MAX, &positions);
  ASSERT_EQ(positions.size(), 10u);
  EXPECT_LE(calls.size(), 2u);  // the log's part, then the feed's
}

}  // namespace
}  // namespace evenhand::storage
