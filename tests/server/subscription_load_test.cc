// A thousand subscribers that never read, and the cap on subscriptions in
// all, against a child evenhandd (moved from reliability_test.cc).
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "base/error_details.h"
#include "clients/event_log_client.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/testing/child_server.h"
#include "tests/testing/events.h"
#include "tests/testing/log_files.h"
#include "tests/testing/sanitizers.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace evenhand {
namespace {

using ::evenhand::testing::AppendRequestOf;
using ::evenhand::testing::ChildServer;
using ::evenhand::testing::LogOnlyConfig;
using ::evenhand::testing::SomeEvents;
using ::evenhand::testing::StatusIs;
using ::evenhand::testing::TempDir;
using ::testing::HasSubstr;

// Opens a subscription, reads its first message (so the test knows it is
// being served) and never reads again.
class IdleSubscriber final : public grpc::ClientReadReactor<v1::SubscribeResponse> {
 public:
  IdleSubscriber(v1::EventLog::Stub* stub, const v1::SubscribeRequest& request) {
    stub->async()->Subscribe(&context_, &request, this);
    StartRead(&first_);
    StartCall();
  }
  // gRPC must be done with it (and its context) before it goes.
  ~IdleSubscriber() override {
    Cancel();
    WaitDone(absl::Seconds(30));
  }
  void Cancel() { context_.TryCancel(); }
  void OnReadDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    got_first_ = ok;
    read_done_ = true;
  }
  void OnDone(const grpc::Status& s) override {
    absl::MutexLock lock(&mu_);
    status_ = s;
    done_ = true;
  }
  // Waits for the first message: false if the call ended without one.
  bool WaitFirst(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    if (!mu_.AwaitWithTimeout(absl::Condition(&read_done_), timeout)) return false;
    return got_first_;
  }
  // The first message, once WaitFirst has returned true.
  const v1::SubscribeResponse& first() const { return first_; }
  bool WaitDone(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(&done_), timeout);
  }
  bool done() {
    absl::MutexLock lock(&mu_);
    return done_;
  }
  grpc::Status status() {
    absl::MutexLock lock(&mu_);
    return status_;
  }

 private:
  grpc::ClientContext context_;
  v1::SubscribeResponse first_;  // written by gRPC before OnReadDone
  absl::Mutex mu_;
  bool read_done_ ABSL_GUARDED_BY(mu_) = false;
  bool got_first_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
};

TEST(SubscriptionLoadTest, AThousandIdleSubscribersCostLittleMemoryAndNoThreadsAndGiveItBack) {
  TempDir dir;
  // What is measured is the subscribers' memory: their access records
  // (opened, and completed with a count once they end) would add 2,000
  // events to the log, whose memory is the log's, not theirs.
  ChildServer child(dir, 0,
                    {LogOnlyConfig(dir, R"(, "security": {"local": {"doNotRecordReads": true}})")});
  child.Start();
  if (HasFatalFailure()) return;
  for (int i = 0; i < 50; ++i) {
    ASSERT_OK(child.client().Append(AppendRequestOf("s", SomeEvents(10))));
  }
  absl::SleepFor(absl::Milliseconds(500));
  const uint64_t rss_before = child.RssBytes();
  const int threads_before = child.Threads();

  constexpr int kSubscribers = 1000;
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<v1::EventLog::Stub>> stubs;
  for (int c = 0; c < 10; ++c) {
    grpc::ChannelArguments args;
    args.SetInt("grpc.channel_id", c);  // ten separate connections
    channels.push_back(
        grpc::CreateCustomChannel(child.address(), grpc::InsecureChannelCredentials(), args));
    stubs.push_back(v1::EventLog::NewStub(channels.back()));
  }
  std::vector<std::unique_ptr<IdleSubscriber>> subscribers;
  for (int i = 0; i < kSubscribers; ++i) {
    v1::SubscribeRequest request;
    if (i % 2 == 0) {
      request.set_from_position(1);  // catch-up messages waiting to be read
    } else {
      request.set_from_end(true);
    }
    subscribers.push_back(std::make_unique<IdleSubscriber>(stubs[i % 10].get(), request));
  }
  // Every one is served: each got its first message (events from position 1
  // for those catching up; caught_up, or events appended after it, for
  // those from the end) and is still open.
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  int served = 0;
  for (int i = 0; i < kSubscribers; ++i) {
    if (!subscribers[i]->WaitFirst(deadline - absl::Now())) {
      ADD_FAILURE() << "subscriber " << i << " got no first message: "
                    << subscribers[i]->status().error_message();
      continue;
    }
    const v1::SubscribeResponse& first = subscribers[i]->first();
    if (i % 2 == 0) {
      EXPECT_TRUE(first.events().events_size() > 0 && first.events().events(0).position() == 1)
          << "subscriber " << i;
    } else {
      EXPECT_TRUE(first.has_caught_up() || first.events().events_size() > 0) << "subscriber " << i;
    }
    ++served;
  }
  EXPECT_EQ(served, kSubscribers);
  // Appends still work while they all sit there, and every live one is sent
  // something it does not read.
  for (int i = 0; i < 100; ++i) {
    ASSERT_OK(child.client().Append(AppendRequestOf("s", SomeEvents(5))));
  }
  absl::SleepFor(absl::Seconds(2));
  auto status = child.client().GetStatus();
  ASSERT_OK(status);
  const uint64_t rss_during = child.RssBytes();
  const int threads_during = child.Threads();
  std::printf("server RSS %.1f MiB before, %.1f MiB with %d idle subscribers; threads %d -> %d\n",
              rss_before / 1048576.0, rss_during / 1048576.0, kSubscribers, threads_before,
              threads_during);
  // Under AddressSanitizer memory figures mean nothing (shadow memory, a
  // quarantine of freed blocks); threads and behaviour are still checked.
  if (!testing::kUnderAddressSanitizer) {
    EXPECT_LT(rss_during, rss_before + (64ull << 20));
  }
  EXPECT_LT(threads_during, threads_before + 20) << "a thread per subscriber?";
  int open = 0;
  for (auto& s : subscribers) open += s->done() ? 0 : 1;
  EXPECT_EQ(open, kSubscribers) << "subscriptions ended while their clients sat idle";

  for (auto& s : subscribers) s->Cancel();
  for (auto& s : subscribers) ASSERT_TRUE(s->WaitDone(absl::Seconds(30)));
  absl::SleepFor(absl::Seconds(2));
  const uint64_t rss_after = child.RssBytes();
  std::printf("server RSS %.1f MiB after they cancelled\n", rss_after / 1048576.0);
  if (!testing::kUnderAddressSanitizer) {
    EXPECT_LT(rss_after, rss_before + (16ull << 20)) << "memory did not come back";
  }
  // The server goes on taking appends after they have gone.
  EXPECT_OK(child.client().Append(AppendRequestOf("s", SomeEvents(1))));
}

TEST(SubscriptionLoadTest, OverTheTotalCapASubscriptionIsRefusedUntilOneCloses) {
  TempDir dir;
  // maxSubscriptions is the cap on all subscriptions together; the cap per
  // client (maxSubscriptionsPerClient, 1024) is far above it.
  ChildServer child(dir, 0, {LogOnlyConfig(dir, ", \"maxSubscriptions\": 3")});
  child.Start();
  if (HasFatalFailure()) return;
  ASSERT_OK(child.client().Append(AppendRequestOf("s", SomeEvents(2))));
  auto channel = grpc::CreateChannel(child.address(), grpc::InsecureChannelCredentials());
  std::unique_ptr<v1::EventLog::Stub> stub = v1::EventLog::NewStub(channel);
  v1::SubscribeRequest from_end;
  from_end.set_from_end(true);
  std::vector<std::unique_ptr<IdleSubscriber>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<IdleSubscriber>(stub.get(), from_end));
    ASSERT_TRUE(held.back()->WaitFirst(absl::Seconds(30))) << held.back()->status().error_message();
  }
  // A fourth, from another channel: refused, naming the setting.
  auto first_message = [](const v1::SubscribeResponse&) { return false; };
  absl::Status refused = child.client().Subscribe(from_end, first_message);
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kResourceExhausted,
                                AllOf(HasSubstr("the server already serves 3 subscriptions"),
                                      HasSubstr("its limit (maxSubscriptions)"))));
  EXPECT_EQ(ReasonOf(refused), "TOO_MANY_SUBSCRIPTIONS");
  std::optional<google::rpc::ErrorInfo> info = GetErrorInfo(refused);
  ASSERT_TRUE(info.has_value());
  ASSERT_EQ(info->metadata().count("setting"), 1u);
  EXPECT_EQ(info->metadata().at("setting"), "maxSubscriptions");
  for (auto& s : held) EXPECT_FALSE(s->done()) << "a held subscription ended";
  EXPECT_OK(child.client().Append(AppendRequestOf("s", SomeEvents(1))));  // appends are not capped

  // One closes: its slot comes back.
  held[0]->Cancel();
  ASSERT_TRUE(held[0]->WaitDone(absl::Seconds(30)));
  absl::Status again;
  for (int i = 0; i < 50; ++i) {
    again = child.client().Subscribe(from_end, first_message);
    if (again.ok()) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_OK(again);
  for (auto& s : held) s->Cancel();
  for (auto& s : held) EXPECT_TRUE(s->WaitDone(absl::Seconds(30)));
}

// ---- the projection's checkpoint, restored and rebuilt ------------------------

}  // namespace
}  // namespace evenhand
