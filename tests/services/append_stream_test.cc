// EventLog.AppendStream: many appends on one call, each with Append's
// semantics and its own answer, errors that do not end the call, order per
// stream, and flow control that holds back a publisher whose answers pile
// up. Real server, real gRPC, real RocksDB.
#include <atomic>
#include <map>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/uuid.h"
#include "evenhand/v1/log.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "clients/event_log_client.h"
#include "tests/testing/events.h"
#include "tests/testing/server_fixture.h"

namespace evenhand {
namespace {

using ::testing::HasSubstr;

class AppendStreamTest : public testing::ServerTest {
 protected:
  static v1::AppendRequest Request(const std::string& stream, v1::Event event,
                                   std::optional<uint64_t> exact = std::nullopt) {
    v1::AppendRequest r;
    r.set_stream_id(stream);
    if (exact) r.set_exact_revision(*exact);
    *r.add_events() = std::move(event);
    return r;
  }

  // Sends `requests` on one call, half-closes, and returns every answer by
  // request index, and the call's status.
  std::pair<std::map<uint64_t, v1::AppendStreamResponse>, grpc::Status> SendAll(
      const std::vector<v1::AppendRequest>& requests) {
    grpc::ClientContext context;
    auto call = stub_->AppendStream(&context);
    std::map<uint64_t, v1::AppendStreamResponse> answers;
    std::thread reader([&] {
      v1::AppendStreamResponse r;
      while (call->Read(&r)) answers[r.request_index()] = r;
    });
    for (const auto& r : requests) {
      if (!call->Write(r)) break;
    }
    call->WritesDone();
    reader.join();
    return {answers, call->Finish()};
  }
};

TEST_F(AppendStreamTest, EveryRequestIsAnsweredInOrderPerStream) {
  StartServer();
  // Four streams, each written at exact revisions 0, 1, 2, ...: every one
  // succeeds only if the server keeps the order of one stream's requests.
  std::vector<v1::AppendRequest> requests;
  for (int i = 0; i < 400; ++i) {
    const int stream = i % 4;
    requests.push_back(Request(
        absl::StrCat("query-stream-", stream), testing::AnEvent(absl::StrCat("s", stream, "-", i)),
        static_cast<uint64_t>(i / 4) == 0 ? std::nullopt : std::optional<uint64_t>(i / 4 - 1)));
  }
  auto [answers, status] = SendAll(requests);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(answers.size(), requests.size());
  std::map<std::string, uint64_t> last_position;
  for (uint64_t i = 0; i < requests.size(); ++i) {
    const v1::AppendStreamResponse& a = answers[i];
    ASSERT_TRUE(a.has_appended()) << i << ": " << a.error().message();
    EXPECT_EQ(a.stream_id(), requests[i].stream_id());
    EXPECT_EQ(a.first_event_id(), requests[i].events(0).event_id());
    EXPECT_EQ(a.appended().stream_revision(), i / 4);
    // Positions grow in the order the stream's requests were sent.
    EXPECT_GT(a.appended().positions(0), last_position[a.stream_id()]);
    last_position[a.stream_id()] = a.appended().positions(0);
  }
  EXPECT_EQ(server_->LastPosition(), 400u);
}

TEST_F(AppendStreamTest, ARefusedRequestIsAnsweredWithItsErrorAndTheCallGoesOn) {
  StartServer();
  v1::Event first = testing::AnEvent("first");
  std::vector<v1::AppendRequest> requests = {
      Request("query-a", first),
      Request("query-a", testing::AnEvent("wrong"), /*exact=*/7),  // stream is at 0
      Request("not a stream id!", testing::AnEvent("invalid")),
      Request("query-a", first),  // the same event again: a replay
      Request("query-c", testing::AnEvent("last")),
  };
  auto [answers, status] = SendAll(requests);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(answers.size(), 5u);
  EXPECT_TRUE(answers[0].has_appended());
  ASSERT_TRUE(answers[1].has_error());
  EXPECT_EQ(answers[1].error().code_name(), "FAILED_PRECONDITION");
  EXPECT_THAT(answers[1].error().message(), HasSubstr("revision 0"));
  EXPECT_FALSE(answers[1].error().reason().empty());
  // With the details a unary Append's status carries.
  std::vector<std::string> kinds;
  for (const auto& any : answers[1].error().details()) kinds.push_back(any.type_url());
  EXPECT_THAT(kinds, ::testing::Contains("type.googleapis.com/google.rpc.ErrorInfo"));
  ASSERT_TRUE(answers[2].has_error());
  EXPECT_EQ(answers[2].error().code(), static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  ASSERT_TRUE(answers[3].has_appended());
  EXPECT_TRUE(answers[3].appended().idempotent_replay());
  EXPECT_EQ(answers[3].appended().positions(0), answers[0].appended().positions(0));
  EXPECT_TRUE(answers[4].has_appended());
  EXPECT_EQ(server_->LastPosition(), 2u);
}

TEST_F(AppendStreamTest, APublisherThatDoesNotReadItsAnswersIsHeldBack) {
  v1::ServerConfig config;
  config.set_append_stream_window(8);
  StartServer(config);
  constexpr int kRequests = 5000;
  // A client whose receive window stays small (no BDP probing), as a
  // publisher's would under load: the answers it does not read fill it.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 16 << 10);
  auto stub = v1::EventLog::NewStub(
      grpc::CreateCustomChannel(server_->address(), grpc::InsecureChannelCredentials(), args));
  grpc::ClientContext context;
  auto call = stub->AppendStream(&context);
  std::atomic<int> written{0};
  std::thread writer([&] {
    for (int i = 0; i < kRequests; ++i) {
      if (!call->Write(Request(absl::StrCat("query-held-", i), testing::AnEvent("h")))) break;
      ++written;
    }
    call->WritesDone();
  });
  // Wait until the server stops taking requests: the log stops growing.
  uint64_t last = 0;
  for (int stable = 0; stable < 10;) {
    absl::SleepFor(absl::Milliseconds(100));
    const uint64_t now = server_->LastPosition();
    stable = now == last ? stable + 1 : 0;
    last = now;
  }
  EXPECT_LT(last, static_cast<uint64_t>(kRequests))
      << "the server took every request although its answers were not read";
  // (The client's writes themselves may all have gone into the transports'
  // buffers; what matters is that the server stopped taking them.)
  // Reading the answers lets the rest through.
  int answered = 0;
  v1::AppendStreamResponse r;
  while (call->Read(&r)) {
    ASSERT_TRUE(r.has_appended()) << r.error().message();
    ++answered;
  }
  writer.join();
  EXPECT_TRUE(call->Finish().ok());
  EXPECT_EQ(answered, kRequests);
  EXPECT_EQ(server_->LastPosition(), static_cast<uint64_t>(kRequests));
}

TEST_F(AppendStreamTest, ACancelledCallEndsAndWhatWasAcknowledgedIsKept) {
  StartServer();
  grpc::ClientContext context;
  auto call = stub_->AppendStream(&context);
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(call->Write(Request(absl::StrCat("query-x-", i), testing::AnEvent("x"))));
  }
  v1::AppendStreamResponse r;
  ASSERT_TRUE(call->Read(&r));
  ASSERT_TRUE(r.has_appended()) << r.error().message();
  const uint64_t acknowledged = r.appended().positions(0);
  context.TryCancel();
  while (call->Read(&r)) {
  }
  EXPECT_EQ(call->Finish().error_code(), grpc::StatusCode::CANCELLED);
  // The server is fine, and the acknowledged event is there.
  StopServer();
  StartServer();
  EXPECT_GE(server_->LastPosition(), acknowledged);
  v1::AppendRequest again = Request("query-after", testing::AnEvent("after"));
  EXPECT_TRUE(client_->Append(again).ok());
}

// A request that does not parse (proto3 strings must be UTF-8; protobuf
// sends one that is not, with a warning) is answered as refused, not taken
// for the end of the call, and the requests after it go on.
TEST_F(AppendStreamTest, ARequestThatCannotBeParsedIsAnsweredAndTheCallGoesOn) {
  StartServer();
  v1::Event broken = testing::AnEvent("broken");
  broken.set_event_id("\xff\xfe not UTF-8");
  auto [answers, status] = SendAll({Request("query-a", testing::AnEvent("before")),
                                    Request("query-a", broken),
                                    Request("query-a", testing::AnEvent("after"))});
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(answers.size(), 3u);
  EXPECT_TRUE(answers[0].has_appended());
  ASSERT_TRUE(answers[1].has_error());
  EXPECT_EQ(answers[1].error().code_name(), "INVALID_ARGUMENT");
  EXPECT_THAT(answers[1].error().message(), HasSubstr("evenhand.v1.AppendRequest"));
  ASSERT_TRUE(answers[2].has_appended()) << answers[2].error().message();
  EXPECT_EQ(answers[2].appended().stream_revision(), 1u);
  EXPECT_EQ(server_->LastPosition(), 2u);
}

TEST_F(AppendStreamTest, ARequestMayDependOnTheOneBeforeIt) {
  domain_validation_ = true;
  // Each group commit waits a little: the query is validated while the
  // requests it depends on are still in the store (parked, then taken up
  // once they are decided, off the store's completer thread).
  customize_ = [](server::ServerOptions& o) {
    o.TEST_before_write = [] {
      absl::SleepFor(absl::Milliseconds(50));
      return absl::OkStatus();
    };
  };
  StartServer();
  // Sent back to back: the query names the member and officer registered
  // by the requests before it, which the protocol model checks against the
  // log. It is validated once they are decided, not refused before.
  auto event = [](v1::Payload payload) {
    v1::Event e = clients::NewEvent(std::move(payload), "test", absl::Now());
    return e;
  };
  v1::Payload officer;
  officer.mutable_officer_registered()->set_officer_id("o-dep");
  officer.mutable_officer_registered()->set_name("Officer Dep");
  officer.mutable_officer_registered()->set_role(v1::HEAD_OF_SERVICE);
  v1::Payload member;
  member.mutable_member_registered()->set_member_id("m-dep");
  member.mutable_member_registered()->set_name("Cllr Dep");
  v1::Payload query;
  query.mutable_written_query_received()->set_query_id("Q-dep");
  query.mutable_written_query_received()->set_member_id("m-dep");
  query.mutable_written_query_received()->set_addressed_to_officer_id("o-dep");
  query.mutable_written_query_received()->set_subject("Bins");
  v1::Payload unknown = query;
  unknown.mutable_written_query_received()->set_query_id("Q-nobody");
  unknown.mutable_written_query_received()->set_member_id("m-nobody");
  auto [answers, status] = SendAll({Request("officer-o-dep", event(officer)),
                                    Request("member-m-dep", event(member)),
                                    Request("query-Q-dep", event(query)),
                                    Request("query-Q-nobody", event(unknown))});
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(answers.size(), 4u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(answers[i].has_appended()) << i << ": " << answers[i].error().message();
  }
  // A reference to nobody is still refused, once the requests before it
  // are decided.
  ASSERT_TRUE(answers[3].has_error());
  EXPECT_EQ(answers[3].error().code_name(), "INVALID_ARGUMENT");
}

// A publisher keeps its call open between bursts. A stop does not wait
// its whole grace (ten minutes here: the test would time out) for such a
// call: once every request read is answered, the call ends UNAVAILABLE,
// saying the server is shutting down (not CANCELLED, which a client takes
// for its own cancel), so the publisher calls again when it is back, and
// the stop goes on.
TEST_F(AppendStreamTest, AStopEndsAnIdleCallOnceItsRequestsAreAnswered) {
  StartServer();
  grpc::ClientContext context;
  auto call = stub_->AppendStream(&context);
  ASSERT_TRUE(call->Write(Request("query-idle", testing::AnEvent("idle"))));
  v1::AppendStreamResponse r;
  ASSERT_TRUE(call->Read(&r));
  ASSERT_TRUE(r.has_appended()) << r.error().message();
  const uint64_t acknowledged = r.appended().positions(0);
  std::thread stop([this] { server_->Shutdown(absl::Minutes(10)); });
  EXPECT_FALSE(call->Read(&r)) << "the call went on after the stop";
  const grpc::Status ended = call->Finish();
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::UNAVAILABLE)
      << ended.error_code() << " " << ended.error_message();
  EXPECT_THAT(ended.error_message(), ::testing::HasSubstr("shutting down"));
  stop.join();
  server_.reset();
  StartServer();
  EXPECT_GE(server_->LastPosition(), acknowledged);
}

TEST_F(AppendStreamTest, ACallWithNoRequestsEndsOk) {
  StartServer();
  auto [answers, status] = SendAll({});
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(answers.empty());
}

}  // namespace
}  // namespace evenhand
