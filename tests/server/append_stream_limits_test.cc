// AppendStream against a principal's rate limit, tried from outside: a child
// evenhandd with TLS and client certificates made by scripts/make-certs,
// domain validation on, reached through a real gRPC channel on 127.0.0.1.
//
// A request validated while the requests it depends on are still in the
// store is parked, then taken up once they are decided. It was once taken
// up on the store's completer thread and through the call gate again: with
// the principal's rate spent, the gate refused it and recorded the refusal
// with an append that waited for that same completer thread, and no append
// in the server was acknowledged again.
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "base/time_util.h"
#include "base/uuid.h"
#include "clients/connection.h"
#include "clients/event_log_client.h"
#include "evenhand/v1/log.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/testing/child_server.h"
#include "tests/testing/log_files.h"
#include "tests/testing/make_certs.h"
#include "tests/testing/temp_dir.h"

namespace evenhand {
namespace {

using ::evenhand::testing::ChildServer;
using ::evenhand::testing::ReadFile;
using ::evenhand::testing::TempDir;

clients::Connection As(const std::string& certs, const ChildServer& server,
                       const std::string& who) {
  clients::Connection c;
  c.address = server.address();
  c.ca_file = certs + "/ca.pem";
  c.cert_file = absl::StrCat(certs, "/", who, ".pem");
  c.key_file = absl::StrCat(certs, "/", who, ".key");
  return c;
}

TEST(AppendStreamLimitsTest, AParkedRequestIsNotChargedTwiceAndNeverStallsTheLog) {
  TempDir dir;
  const std::string certs = dir.Sub("certs");
  ASSERT_TRUE(testing::MakeCerts(certs));
  // Three requests a burst (the call, the query, its acknowledgement), and
  // one more a second.
  const std::string config = dir.Sub("tls.json");
  std::ofstream(config) << absl::StrReplaceAll(
      ReadFile(certs + "/evenhandd.tls.json"),
      {{"\"security\": {",
        "\"security\": {\"limits\": {\"requestsPerSecond\": 1, \"burst\": 3},"}});
  ChildServer server(dir, 0, {absl::StrCat("--config=", config), "--demo"});
  server.Start();
  if (HasFatalFailure()) return;

  // A query and its acknowledgement, back to back on one call: the
  // acknowledgement names a query the log does not hold until the first
  // request is decided, so it is parked meanwhile.
  const std::string id = absl::StrCat("Q-PARK-", NewUuid().substr(0, 8));
  const absl::Time now = absl::Now() - absl::Hours(1);
  v1::Payload received;
  received.mutable_written_query_received()->set_query_id(id);
  received.mutable_written_query_received()->set_member_id("green-2");
  received.mutable_written_query_received()->set_addressed_to_officer_id("o-ceo");
  received.mutable_written_query_received()->set_subject("Parking");
  v1::Payload acknowledged;
  acknowledged.mutable_written_query_acknowledged()->set_query_id(id);
  acknowledged.mutable_written_query_acknowledged()->set_officer_id("o-ceo");
  *acknowledged.mutable_written_query_acknowledged()->mutable_reply_due_at() =
      ToProtoTime(now + absl::Hours(24 * 5));
  std::vector<v1::AppendRequest> requests(2);
  for (int i = 0; i < 2; ++i) {
    requests[i].set_stream_id(absl::StrCat("query-", id));
    *requests[i].add_events() =
        clients::NewEvent(i == 0 ? received : acknowledged, "case-system", now);
  }

  auto channel = clients::Dial(As(certs, server, "case-system"));
  ASSERT_TRUE(channel.ok()) << channel.status();
  auto stub = v1::EventLog::NewStub(*channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  auto call = stub->AppendStream(&context);
  std::map<uint64_t, v1::AppendStreamResponse> answers;
  std::thread reader([&] {
    v1::AppendStreamResponse r;
    while (call->Read(&r)) answers[r.request_index()] = r;
  });
  for (const auto& r : requests) ASSERT_TRUE(call->Write(r));
  call->WritesDone();
  reader.join();
  const grpc::Status status = call->Finish();
  ASSERT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message() << "\n"
                           << server.Log();
  ASSERT_EQ(answers.size(), 2u);
  for (uint64_t i : {0u, 1u}) {
    EXPECT_TRUE(answers[i].has_appended()) << i << ": " << answers[i].DebugString();
  }

  // The log still takes appends from everyone.
  v1::Payload briefing;
  auto* b = briefing.mutable_briefing_requested();
  b->set_briefing_id(absl::StrCat("B-", id));
  b->set_group_id("green");
  b->set_requested_by_member_id("green-2");
  b->set_topic("After the stream");
  b->set_matter_id("after-the-stream");
  b->set_routed_to_officer_id("o-ceo");
  v1::AppendRequest after;
  after.set_stream_id(absl::StrCat("briefing-B-", id));
  *after.add_events() = clients::NewEvent(briefing, "committee-mgmt", now);
  auto other = clients::Dial(As(certs, server, "committee-mgmt"));
  ASSERT_TRUE(other.ok()) << other.status();
  auto appended = clients::EventLogClient(v1::EventLog::NewStub(*other)).Append(after);
  EXPECT_TRUE(appended.ok()) << appended.status();
}

}  // namespace
}  // namespace evenhand
