// maxAppendMibInFlight: the bytes of append requests the server holds at
// once, across calls. A request that would take it past the budget is
// refused on Append (RESOURCE_EXHAUSTED, APPENDS_IN_FLIGHT_FULL, a retry
// delay) with nothing written, and waits on AppendStream, the call's later
// requests behind it; once the requests held are answered it is taken; one
// request alone is taken however large.
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

  std::atomic<bool> hold_{true};
  absl::Notification writing_;
  absl::Notification release_;
};

TEST_F(AppendBudgetTest, ARequestPastTheBudgetIsRefusedWithNothingWrittenThenTaken) {
  StartHeld();
  // 12 x 60 KB (720 KB) held at its write.
  grpc::Status first;
  std::thread held([&] {
    grpc::ClientContext context;
    v1::AppendResponse response;
    first = stub_->Append(&context, Large("query-held", 12), &response);
  });
  ASSERT_TRUE(writing_.WaitForNotificationWithTimeout(absl::Seconds(30)));

  // 8 x 60 KB more would be past 1 MiB: refused, saying why and when to
  // come back.
  const v1::AppendRequest second = Large("query-second", 8);
  {
    grpc::ClientContext context;  // (a budget not kept would hang here)
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
    v1::AppendResponse response;
    const absl::Status refused = FromGrpcStatus(stub_->Append(&context, second, &response));
    EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted) << refused;
    EXPECT_THAT(refused.message(), HasSubstr("maxAppendMibInFlight (1 MiB)"));
    // Its own size as it is, not rounded up to a MiB (outside probe).
    EXPECT_THAT(refused.message(),
                ::testing::ContainsRegex("this request's 4[0-9][0-9]\\.[0-9] KiB"));
    EXPECT_THAT(refused.message(), HasSubstr("nothing of it was written"));
    EXPECT_THAT(refused.message(), HasSubstr("same event ids"));
    std::optional<google::rpc::ErrorInfo> info = GetErrorInfo(refused);
    ASSERT_TRUE(info.has_value());
    EXPECT_EQ(info->reason(), "APPENDS_IN_FLIGHT_FULL");
    EXPECT_TRUE(GetRetryInfo(refused).has_value());
  }
  // On a stream it waits instead, and the call's next request, which
  // would fit, waits behind it: refused, then re-sent after the next went
  // in, the stream's events would be out of order (found from outside).
  grpc::ClientContext stream_context;
  stream_context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
  auto call = stub_->AppendStream(&stream_context);
  const v1::AppendRequest streamed = Large("query-streamed", 8);
  const v1::AppendRequest after = Large("query-streamed", 1);
  ASSERT_TRUE(call->Write(streamed));
  ASSERT_TRUE(call->Write(after));
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(EventsIn("query-streamed"), 0u) << "the next request overtook the waiting one";

  hold_ = false;
  release_.Notify();
  held.join();
  ASSERT_TRUE(first.ok()) << first.error_message();
  EXPECT_EQ(EventsIn("query-second"), 0u);
  call->WritesDone();
  v1::AppendStreamResponse answer;
  for (uint64_t index : {0u, 1u}) {
    ASSERT_TRUE(call->Read(&answer));
    EXPECT_EQ(answer.request_index(), index);
    EXPECT_TRUE(answer.has_appended()) << answer.error().message();
  }
  EXPECT_FALSE(call->Read(&answer));
  EXPECT_TRUE(call->Finish().ok());
  {
    grpc::ClientContext context;
    v1::ReadStreamRequest request;
    request.set_stream_id("query-streamed");
    auto reader = stub_->ReadStream(&context, request);
    std::vector<std::string> ids;
    v1::ReadResponse r;
    while (reader->Read(&r)) {
      for (const auto& e : r.events()) ids.push_back(e.event().event_id());
    }
    ASSERT_EQ(ids.size(), 9u);
    for (int i = 0; i < 8; ++i) EXPECT_EQ(ids[i], streamed.events(i).event_id());
    EXPECT_EQ(ids[8], after.events(0).event_id());
  }
  // With nothing held it is taken, on the same event ids.
  grpc::ClientContext context;
  v1::AppendResponse response;
  grpc::Status again = stub_->Append(&context, second, &response);
  ASSERT_TRUE(again.ok()) << again.error_message();
  EXPECT_FALSE(response.idempotent_replay());
  EXPECT_EQ(EventsIn("query-second"), 8u);
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
