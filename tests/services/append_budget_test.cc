// maxAppendMibInFlight: the bytes of append requests the server holds at
// once, across calls. A request that would take it past the budget waits
// its turn, first come first served, on Append and AppendStream alike (a
// stream's later requests behind it), and is taken once the requests ahead
// of it are; one request alone is taken however large.
// Real server, real gRPC, real RocksDB; a request is held in flight by
// holding its group commit's write.
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "base/error_details.h"
#include "base/grpc_status.h"
#include "evenhand/v1/log.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/events.h"
#include "tests/testing/server_fixture.h"

namespace evenhand {
namespace {

using ::testing::HasSubstr;

// `n` events of 60 KB each (under maxTextBytes) on `stream`.
v1::AppendRequest Large(const std::string& stream, int n) {
  v1::AppendRequest r;
  r.set_stream_id(stream);
  for (int i = 0; i < n; ++i) {
    *r.add_events() = testing::AnEvent(std::string(60 << 10, static_cast<char>('a' + i % 26)));
  }
  return r;
}

class AppendBudgetTest : public testing::ServerTest {
 protected:
  // A server whose budget is 1 MiB, and whose group commits wait at their
  // write while `hold_` is set, until `release_` (`writing_` says one is).
  void StartHeld() {
    customize_ = [this](server::ServerOptions& o) {
      o.TEST_before_write = [this] {
        if (hold_.load()) {
          if (!writing_.HasBeenNotified()) writing_.Notify();
          release_.WaitForNotification();
        }
        return absl::OkStatus();
      };
    };
    v1::ServerConfig config;
    config.set_max_append_mib_in_flight(1);
    StartServer(config);
  }

  uint64_t EventsIn(const std::string& stream) {
    grpc::ClientContext context;
    v1::ReadStreamRequest request;
    request.set_stream_id(stream);
    auto reader = stub_->ReadStream(&context, request);
    uint64_t n = 0;
    v1::ReadResponse r;
    while (reader->Read(&r)) n += r.events_size();
    EXPECT_TRUE(reader->Finish().ok());
    return n;
  }

  // An append of 12 x 60 KB (720 KB), held at its write once this returns
  // (its thread sets `*status` when it is answered).
  std::thread HoldAnAppend(grpc::Status* status) {
    std::thread held([this, status] {
      grpc::ClientContext context;
      v1::AppendResponse response;
      *status = stub_->Append(&context, Large("query-held", 12), &response);
    });
    EXPECT_TRUE(writing_.WaitForNotificationWithTimeout(absl::Seconds(30)));
    return held;
  }

  std::atomic<bool> hold_{true};
  absl::Notification writing_;
  absl::Notification release_;
};

// Requests past the budget wait their turn, first come first served, on
// Append and AppendStream alike; a stream reads no more meanwhile, so its
// next request, which would fit, does not overtake the waiting one (found
// from outside: refused, then re-sent after later ones went in, a stream's
// events were out of order; and unary retries lost every time to streams
// waiting in line).
TEST_F(AppendBudgetTest, RequestsPastTheBudgetWaitTheirTurnInTheOrderTheyCame) {
  StartHeld();
  // 12 x 60 KB (720 KB) held at its write.
  grpc::Status first;
  std::thread held = HoldAnAppend(&first);
  ASSERT_FALSE(HasFailure());

  // In line: a unary append of 8 x 60 KB (past 1 MiB beside the held one),
  // then a stream's request of 8, then its next of 1 (which alone would
  // fit), then a unary one of 1.
  grpc::Status second;
  std::thread unary([&] {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
    v1::AppendResponse response;
    second = stub_->Append(&context, Large("query-second", 8), &response);
  });
  absl::SleepFor(absl::Milliseconds(200));
  grpc::ClientContext stream_context;
  stream_context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
  auto call = stub_->AppendStream(&stream_context);
  const v1::AppendRequest streamed = Large("query-streamed", 8);
  const v1::AppendRequest after = Large("query-streamed", 1);
  ASSERT_TRUE(call->Write(streamed));
  ASSERT_TRUE(call->Write(after));
  absl::SleepFor(absl::Milliseconds(200));
  grpc::Status last;
  std::thread small([&] {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
    v1::AppendResponse response;
    last = stub_->Append(&context, Large("query-last", 1), &response);
  });
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(EventsIn("query-second"), 0u);
  EXPECT_EQ(EventsIn("query-streamed"), 0u) << "the next request overtook the waiting one";
  EXPECT_EQ(EventsIn("query-last"), 0u) << "a later request was taken past those in line";

  hold_ = false;
  release_.Notify();
  held.join();
  unary.join();
  small.join();
  ASSERT_TRUE(first.ok()) << first.error_message();
  ASSERT_TRUE(second.ok()) << second.error_message();
  ASSERT_TRUE(last.ok()) << last.error_message();
  call->WritesDone();
  v1::AppendStreamResponse answer;
  for (uint64_t index : {0u, 1u}) {
    ASSERT_TRUE(call->Read(&answer));
    EXPECT_EQ(answer.request_index(), index);
    EXPECT_TRUE(answer.has_appended()) << answer.error().message();
  }
  EXPECT_FALSE(call->Read(&answer));
  EXPECT_TRUE(call->Finish().ok());
  // Each in the order it came: positions rise along the line.
  auto positions = [&](const std::string& stream) {
    grpc::ClientContext context;
    v1::ReadStreamRequest request;
    request.set_stream_id(stream);
    auto reader = stub_->ReadStream(&context, request);
    std::vector<std::pair<uint64_t, std::string>> out;
    v1::ReadResponse r;
    while (reader->Read(&r)) {
      for (const auto& e : r.events()) out.emplace_back(e.position(), e.event().event_id());
    }
    EXPECT_TRUE(reader->Finish().ok());
    return out;
  };
  const auto second_at = positions("query-second");
  const auto streamed_at = positions("query-streamed");
  const auto last_at = positions("query-last");
  ASSERT_EQ(second_at.size(), 8u);
  ASSERT_EQ(streamed_at.size(), 9u);
  ASSERT_EQ(last_at.size(), 1u);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(streamed_at[i].second, streamed.events(i).event_id());
  EXPECT_EQ(streamed_at[8].second, after.events(0).event_id());
  EXPECT_LT(second_at.back().first, streamed_at.front().first);
  // (The stream's next request was read only once its first was taken,
  // after the last unary one had come: it is behind it in line.)
  EXPECT_LT(streamed_at[7].first, last_at.front().first);
}

// A caller that gives up while its append waits: nothing of it is written.
TEST_F(AppendBudgetTest, AnAppendWhoseCallerGaveUpWhileItWaitedIsNotWritten) {
  StartHeld();
  grpc::Status first;
  std::thread held = HoldAnAppend(&first);
  ASSERT_FALSE(HasFailure());
  {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Milliseconds(500)));
    v1::AppendResponse response;
    const grpc::Status s = stub_->Append(&context, Large("query-gave-up", 8), &response);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << s.error_message();
  }
  hold_ = false;
  release_.Notify();
  held.join();
  ASSERT_TRUE(first.ok()) << first.error_message();
  // Its turn came after its caller had gone: refused, not written.
  grpc::ClientContext context;
  v1::AppendResponse response;
  ASSERT_TRUE(stub_->Append(&context, Large("query-after", 1), &response).ok());
  EXPECT_EQ(EventsIn("query-gave-up"), 0u);
}

TEST_F(AppendBudgetTest, ARequestLargerThanTheBudgetAloneIsTaken) {
  hold_ = false;
  StartHeld();
  // 30 x 60 KB (1.8 MB) against a budget of 1 MiB, nothing else held.
  for (const char* stream : {"query-big-1", "query-big-2"}) {
    grpc::ClientContext context;
    v1::AppendResponse response;
    grpc::Status s = stub_->Append(&context, Large(stream, 30), &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(EventsIn(stream), 30u);
  }
  grpc::ClientContext context;
  auto call = stub_->AppendStream(&context);
  ASSERT_TRUE(call->Write(Large("query-big-3", 30)));
  v1::AppendStreamResponse answer;
  ASSERT_TRUE(call->Read(&answer));
  EXPECT_TRUE(answer.has_appended()) << answer.error().message();
  call->WritesDone();
  EXPECT_TRUE(call->Finish().ok());
}

}  // namespace
}  // namespace evenhand
