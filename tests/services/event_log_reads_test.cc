// The EventLog's reads at their edges: a filter that matches little over a
// long log, values the server does not know, and how subscriptions go on
// the record. The real server on 127.0.0.1, RocksDB in a temporary folder,
// calls through a real gRPC channel.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/error_details.h"
#include "base/grpc_deadline.h"
#include "evenhand/v1/audit.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/testing/events.h"
#include "tests/testing/server_fixture.h"
#include "tests/testing/status_matchers.h"

namespace evenhand {
namespace {

using ::evenhand::testing::SomeEvents;
using ::evenhand::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class EventLogReadsTest : public testing::ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    StartServer();
  }

  void Append(const std::string& stream, int events) {
    v1::AppendRequest r;
    r.set_stream_id(stream);
    for (v1::Event& e : SomeEvents(events)) *r.add_events() = std::move(e);
    grpc::ClientContext context;
    v1::AppendResponse response;
    grpc::Status s = stub_->Append(&context, r, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  // Each ReadResponse of one ReadAll call, as sent.
  std::vector<std::vector<uint64_t>> Messages(const v1::ReadAllRequest& request,
                                              grpc::Status* status) {
    grpc::ClientContext context;
    auto reader = stub_->ReadAll(&context, request);
    std::vector<std::vector<uint64_t>> out;
    v1::ReadResponse r;
    while (reader->Read(&r)) {
      out.emplace_back();
      for (const v1::RecordedEvent& e : r.events()) out.back().push_back(e.position());
    }
    *status = reader->Finish();
    return out;
  }

  // The local principal's access records of `method`, once there are
  // `at_least` (they are appended after the read ends), or after 10 s.
  std::vector<v1::AccessRecorded> AccessRecords(const std::string& method, size_t at_least) {
    std::vector<v1::AccessRecorded> records;
    for (int i = 0; i < 200; ++i) {
      records = AccessRecords(method);
      if (records.size() >= at_least) break;
      absl::SleepFor(absl::Milliseconds(50));
    }
    return records;
  }

  // A subscription to the "briefing-" streams from position 1, read until
  // it has caught up, which it must have done with `events` events.
  std::unique_ptr<grpc::ClientReader<v1::SubscribeResponse>> SubscribeToBriefingsUntilCaughtUp(
      grpc::ClientContext* context, int events) {
    v1::SubscribeRequest briefings;
    briefings.set_from_position(1);
    briefings.mutable_filter()->add_stream_prefixes("briefing-");
    auto reader = stub_->Subscribe(context, briefings);
    v1::SubscribeResponse m;
    int sent = 0;
    while (!m.has_caught_up() && reader->Read(&m)) sent += m.events().events_size();
    EXPECT_EQ(sent, events);
    return reader;
  }

  // Reads what is left of a subscription; how it ended.
  static grpc::Status Drain(grpc::ClientReader<v1::SubscribeResponse>* reader) {
    v1::SubscribeResponse m;
    while (reader->Read(&m)) {
    }
    return reader->Finish();
  }

  // A subscription's two access records: opened, then completed with
  // `events` sent.
  static void ExpectOpenedThenCompleted(const std::vector<v1::AccessRecorded>& records,
                                        uint64_t events) {
    ASSERT_EQ(records.size(), 2u);
    EXPECT_EQ(records[0].outcome(), "opened");
    EXPECT_EQ(records[1].outcome(), "completed");
    EXPECT_EQ(records[1].events_returned(), events);
  }

  // The local principal's access records of `method` so far.
  std::vector<v1::AccessRecorded> AccessRecords(const std::string& method) {
    std::vector<v1::AccessRecorded> out;
    v1::ReadStreamRequest read;
    read.set_stream_id("access-local");
    EXPECT_OK(client_->ReadStream(read, [&](const v1::RecordedEvent& e) {
      const v1::AccessRecorded& a = e.event().payload().access_recorded();
      if (a.method() == method) out.push_back(a);
      return true;
    }));
    return out;
  }
};

// A filter that matches little does not scan the whole log for one chunk
// on the callback thread that appends share: a chunk examines at most
// 65,536 events and goes out empty if none matched, and the read goes on
// from there. Forwards, backwards and with a limit, nothing is missed.
TEST_F(EventLogReadsTest, AFilterThatMatchesLittleIsReadInBoundedStepsAndMissesNothing) {
  for (int i = 0; i < 70; ++i) {
    Append(absl::StrCat("filler-", i), 1000);
    if (HasFatalFailure()) return;
  }
  Append("match-a", 1);  // position 70,001
  Append("filler-last", 1000);
  Append("match-b", 1);  // position 71,002
  if (HasFatalFailure()) return;

  v1::ReadAllRequest forwards;
  forwards.mutable_filter()->add_stream_prefixes("match-");
  grpc::Status status;
  auto messages = Messages(forwards, &status);
  ASSERT_TRUE(status.ok()) << status.error_message();
  // Positions 1..65,536 match nothing: that chunk goes out empty.
  EXPECT_THAT(messages, ElementsAre(ElementsAre(), ElementsAre(70001, 71002)));

  v1::ReadAllRequest backwards = forwards;
  backwards.set_direction(v1::BACKWARDS);
  messages = Messages(backwards, &status);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(messages, ElementsAre(ElementsAre(71002, 70001)));

  v1::ReadAllRequest one = forwards;
  one.set_max_count(1);
  messages = Messages(one, &status);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(messages, ElementsAre(ElementsAre(), ElementsAre(70001)));

  v1::ReadAllRequest none;
  none.mutable_filter()->add_stream_prefixes("nobody-");
  messages = Messages(none, &status);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(messages, ElementsAre(ElementsAre()));
}

// A direction the server does not know is refused, not read forwards.
TEST_F(EventLogReadsTest, AnUnknownDirectionIsRefused) {
  Append("s", 2);
  v1::ReadAllRequest all;
  all.set_direction(static_cast<v1::Direction>(2));
  grpc::Status status;
  Messages(all, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("direction"));

  v1::ReadStreamRequest stream;
  stream.set_stream_id("s");
  stream.set_direction(static_cast<v1::Direction>(7));
  const absl::Status unknown =
      client_->ReadStream(stream, [](const v1::RecordedEvent&) { return true; });
  EXPECT_THAT(unknown, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown value 7")));
  EXPECT_EQ(ReasonOf(unknown), "UNKNOWN_ENUM_VALUE");
}

// from_end false is neither "from the end" nor silently "from the start".
TEST_F(EventLogReadsTest, FromEndFalseIsRefused) {
  Append("s", 2);
  v1::SubscribeRequest request;
  request.set_from_end(false);
  grpc::ClientContext context;
  context.set_deadline(DeadlineAfter(absl::Seconds(20)));  // the old answer: wait for new events
  auto reader = stub_->Subscribe(&context, request);
  v1::SubscribeResponse m;
  EXPECT_FALSE(reader->Read(&m));
  grpc::Status s = reader->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("from_end"));
}

// A subscription goes on the record once accepted (a refused one was no
// read), and again when it ends, with the events it sent.
TEST_F(EventLogReadsTest, ASubscriptionIsOnTheRecordWhenAcceptedAndWhenItEndsWithItsCount) {
  record_reads_ = true;
  StartServer();
  Append("briefing-1", 3);
  Append("query-1", 2);
  if (HasFatalFailure()) return;
  const std::string method = "evenhand.v1.EventLog/Subscribe";
  {
    v1::SubscribeRequest beyond;
    beyond.set_from_position(1000);
    grpc::ClientContext context;
    auto reader = stub_->Subscribe(&context, beyond);
    v1::SubscribeResponse m;
    EXPECT_FALSE(reader->Read(&m));
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::OUT_OF_RANGE);
  }
  EXPECT_TRUE(AccessRecords(method).empty());
  {
    grpc::ClientContext context;
    auto reader = SubscribeToBriefingsUntilCaughtUp(&context, 3);
    context.TryCancel();
    Drain(reader.get());
  }
  ExpectOpenedThenCompleted(AccessRecords(method, 2), 3);
}

// A subscriber stays connected for days: a server that stops (SIGTERM, an
// upgrade) ends its subscription, and that end goes on the record with
// what it had been sent before the log closes, not refused as "shutting
// down" and lost.
TEST_F(EventLogReadsTest, ASubscriptionTheShutdownEndsIsOnTheRecordWithWhatItWasSent) {
  record_reads_ = true;
  StartServer();
  Append("briefing-1", 4);
  if (HasFatalFailure()) return;
  grpc::ClientContext context;
  auto reader = SubscribeToBriefingsUntilCaughtUp(&context, 4);
  if (HasFatalFailure()) return;
  StopServer();
  EXPECT_FALSE(Drain(reader.get()).ok());
  StartServer();
  ExpectOpenedThenCompleted(AccessRecords("evenhand.v1.EventLog/Subscribe"), 4);
}

// A read the client ends early is on the record with what it had been
// sent, and counts as one read in the committee's access table.
TEST_F(EventLogReadsTest, AReadTheClientEndsEarlyIsRecordedWithWhatItWasSent) {
  record_reads_ = true;
  StartServer();
  // Far more than gRPC's flow control lets the server send unread.
  for (int i = 0; i < 60; ++i) Append(absl::StrCat("briefing-", i), 1000);
  if (HasFatalFailure()) return;
  {
    // A small window and no growing it (gRPC's BDP probe could let the
    // server send it all unread on a busy machine: found once, "completed"
    // with 60,001 events).
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
    args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 64 << 10);
    auto stub = v1::EventLog::NewStub(
        grpc::CreateCustomChannel(server_->address(), grpc::InsecureChannelCredentials(), args));
    grpc::ClientContext context;
    auto reader = stub->ReadAll(&context, v1::ReadAllRequest());
    v1::ReadResponse r;
    ASSERT_TRUE(reader->Read(&r));
    EXPECT_GT(r.events_size(), 0);
    context.TryCancel();
    while (reader->Read(&r)) {
    }
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
  const std::string method = "evenhand.v1.EventLog/ReadAll";
  const std::vector<v1::AccessRecorded> records = AccessRecords(method, 2);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].outcome(), "opened");
  EXPECT_EQ(records[1].outcome(), "cancelled");
  EXPECT_GT(records[1].events_returned(), 0u);
  EXPECT_LT(records[1].events_returned(), 60000u);
}

// A Replay whose positions are the wrong way round is refused before it is
// on the record; one the client ends early is on the record as cancelled,
// with what it was sent, as ReadAll and ReadStream are.
TEST_F(EventLogReadsTest, AReplayIsOnTheRecordOnlyIfItBeganAndThenHowItEnded) {
  record_reads_ = true;
  StartServer();
  for (int i = 0; i < 40; ++i) Append(absl::StrCat("briefing-", i), 1000);
  if (HasFatalFailure()) return;
  auto audit = v1::Audit::NewStub(channel_);
  const std::string method = "evenhand.v1.Audit/Replay";
  {
    v1::ReplayRequest backwards;
    backwards.mutable_filter()->set_from_position(10);
    backwards.mutable_filter()->set_to_position(5);
    grpc::ClientContext context;
    auto reader = audit->Replay(&context, backwards);
    v1::ReplayResponse r;
    EXPECT_FALSE(reader->Read(&r));
    const grpc::Status s = reader->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
    EXPECT_THAT(s.error_message(), ::testing::HasSubstr("is after filter.to_position"));
  }
  EXPECT_TRUE(AccessRecords(method).empty());
  {
    grpc::ClientContext context;
    auto reader = audit->Replay(&context, v1::ReplayRequest());
    v1::ReplayResponse r;
    ASSERT_TRUE(reader->Read(&r));
    context.TryCancel();
    while (reader->Read(&r)) {
    }
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
  const std::vector<v1::AccessRecorded> records = AccessRecords(method, 2);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].outcome(), "opened");
  EXPECT_EQ(records[1].outcome(), "cancelled");
  EXPECT_LT(records[1].events_returned(), 40000u);
}

// A ReadStream of an id no stream could have is refused for what it asks,
// before it is on the record (docs/SECURITY.md).
TEST_F(EventLogReadsTest, AReadOfAnIdNoStreamCouldHaveIsRefusedBeforeTheRecord) {
  record_reads_ = true;
  StartServer();
  for (const std::string& id : {std::string(), std::string("two words"), std::string(300, 'a')}) {
    v1::ReadStreamRequest request;
    request.set_stream_id(id);
    grpc::ClientContext context;
    auto reader = stub_->ReadStream(&context, request);
    v1::ReadResponse r;
    EXPECT_FALSE(reader->Read(&r));
    const grpc::Status s = reader->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << id;
    EXPECT_THAT(s.error_message(), ::testing::HasSubstr("stream_id")) << id;
  }
  // (The records' own read is on the record too.)
  for (const v1::AccessRecorded& a : AccessRecords("evenhand.v1.EventLog/ReadStream")) {
    EXPECT_THAT(a.request(), ::testing::HasSubstr("access-local"));
  }
}

// A subscription from the end starts after its own access record: what
// it is sent first is what was appended after it began.
TEST_F(EventLogReadsTest, ASubscriptionFromTheEndIsNotSentItsOwnAccessRecord) {
  record_reads_ = true;
  StartServer();
  Append("briefing-1", 1);
  v1::SubscribeRequest request;
  request.set_from_end(true);
  grpc::ClientContext context;
  context.set_deadline(DeadlineAfter(absl::Seconds(30)));
  auto reader = stub_->Subscribe(&context, request);
  v1::SubscribeResponse m;
  ASSERT_TRUE(reader->Read(&m));  // caught_up: the subscription is live
  EXPECT_TRUE(m.has_caught_up());
  Append("query-9", 1);
  if (HasFatalFailure()) return;
  while (m.events().events_size() == 0 && reader->Read(&m)) {
  }
  ASSERT_GT(m.events().events_size(), 0);
  EXPECT_EQ(m.events().events(0).event().stream_id(), "query-9");
  context.TryCancel();
}

}  // namespace
}  // namespace evenhand

namespace evenhand {
namespace {

// A filter's lists are checked against every event or finding, and an
// unknown value's message looks for the nearest known one: a request's
// lists are bounded and a long value is quoted short, not compared.
TEST_F(EventLogReadsTest, FilterListsAreBoundedAndLongValuesQuotedShort) {
  Append("query-Q-1", 3);
  v1::ReadAllRequest read;
  for (int i = 0; i < 65; ++i) read.mutable_filter()->add_stream_prefixes("query-");
  absl::Status s = client_->ReadAll(read, [](const v1::RecordedEvent&) { return true; });
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument,
                          HasSubstr("filter.stream_prefixes: at most 64 values, got 65")));
  EXPECT_EQ(ReasonOf(s), "TOO_MANY_VALUES");
  read.mutable_filter()->mutable_stream_prefixes()->RemoveLast();
  int seen = 0;
  ASSERT_OK(client_->ReadAll(read, [&](const v1::RecordedEvent&) { return ++seen, true; }));
  EXPECT_EQ(seen, 3);  // 64 is allowed

  v1::ListFindingsRequest findings;
  for (int i = 0; i < 65; ++i) findings.add_group_ids(absl::StrCat("g", i));
  EXPECT_THAT(fairness_->ListFindings(findings).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("group_ids: at most 64 values, got 65")));
  v1::ListObligationsRequest obligations;
  for (int i = 0; i < 65; ++i) obligations.add_officer_ids(absl::StrCat("o", i));
  EXPECT_THAT(fairness_->ListObligations(obligations).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("officer_ids: at most 64 values, got 65")));

  // 8 MB of a rule id: refused at once, quoted in 128 bytes.
  findings.clear_group_ids();
  findings.add_rule_ids(std::string(8 << 20, 'x') + "\n");
  s = fairness_->ListFindings(findings).status();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument,
                          HasSubstr("... (8388609 bytes) (known: ")));
  EXPECT_LT(s.message().size(), 4096u);
}

}  // namespace
}  // namespace evenhand
