// The EventLog service end to end: the real server on 127.0.0.1, RocksDB in a
// temporary folder, calls through a real gRPC channel.
#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "base/grpc_deadline.h"
#include "gmock/gmock.h"
#include "google/protobuf/unknown_field_set.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "tests/testing/events.h"
#include "tests/testing/server_fixture.h"
#include "tests/testing/status_matchers.h"

namespace evenhand {
namespace {

using ::evenhand::testing::AnEvent;
using ::evenhand::testing::SomeEvents;
using ::evenhand::testing::ToProtoTime;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class EventLogTest : public testing::ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    StartServer();
  }

  v1::AppendRequest Request(const std::string& stream, std::vector<v1::Event> events) {
    v1::AppendRequest r;
    r.set_stream_id(stream);
    for (auto& e : events) *r.add_events() = std::move(e);
    return r;
  }

  grpc::Status RawAppend(const v1::AppendRequest& request, v1::AppendResponse* response = nullptr) {
    grpc::ClientContext context;
    v1::AppendResponse ignored;
    return stub_->Append(&context, request, response != nullptr ? response : &ignored);
  }

  std::vector<v1::RecordedEvent> ReadAll(v1::ReadAllRequest request = {}) {
    std::vector<v1::RecordedEvent> out;
    EXPECT_OK(client_->ReadAll(request, [&](const v1::RecordedEvent& e) {
      out.push_back(e);
      return true;
    }));
    return out;
  }

  static std::vector<uint64_t> Positions(const std::vector<v1::RecordedEvent>& events) {
    std::vector<uint64_t> out;
    for (const auto& e : events) out.push_back(e.position());
    return out;
  }
};

TEST_F(EventLogTest, AppendThenReadStreamRoundTrips) {
  std::vector<v1::Event> events = SomeEvents(3);
  v1::AppendResponse response;
  ASSERT_TRUE(RawAppend(Request("query-7", events), &response).ok());
  EXPECT_THAT(response.positions(), ElementsAre(1, 2, 3));
  EXPECT_EQ(response.stream_revision(), 2u);

  v1::ReadStreamRequest read;
  read.set_stream_id("query-7");
  std::vector<v1::RecordedEvent> got;
  ASSERT_OK(client_->ReadStream(read, [&](const v1::RecordedEvent& e) {
    got.push_back(e);
    return true;
  }));
  ASSERT_EQ(got.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(got[i].event().event_id(), events[i].event_id());
    EXPECT_EQ(got[i].event().type(), "WrittenQueryAnswered");
    EXPECT_EQ(got[i].event().source_system(), "test");
    EXPECT_EQ(got[i].event().stream_id(), "query-7");
    EXPECT_EQ(got[i].stream_revision(), static_cast<uint64_t>(i));
    EXPECT_TRUE(got[i].event().has_recorded_at());
  }
}

TEST_F(EventLogTest, TheServerFillsTheTypeFromThePayload) {
  v1::Event e = AnEvent();
  e.clear_type();
  ASSERT_TRUE(RawAppend(Request("s", {e})).ok());
  EXPECT_EQ(ReadAll()[0].event().type(), "WrittenQueryAnswered");
}

TEST_F(EventLogTest, ReadAllReadsBackwardsFiltersAndLimits) {
  ASSERT_TRUE(RawAppend(Request("briefing-1", SomeEvents(2))).ok());
  v1::Event requested = AnEvent();
  requested.clear_type();
  requested.mutable_payload()->mutable_briefing_requested()->set_briefing_id("1");
  ASSERT_TRUE(RawAppend(Request("query-1", {requested})).ok());

  v1::ReadAllRequest backwards;
  backwards.set_direction(v1::BACKWARDS);
  EXPECT_THAT(Positions(ReadAll(backwards)), ElementsAre(3, 2, 1));
  v1::ReadAllRequest limited;
  limited.set_from_position(2);
  limited.set_max_count(1);
  EXPECT_THAT(Positions(ReadAll(limited)), ElementsAre(2));
  v1::ReadAllRequest by_type;
  by_type.mutable_filter()->add_event_types("BriefingRequested");
  EXPECT_THAT(Positions(ReadAll(by_type)), ElementsAre(3));
  v1::ReadAllRequest by_prefix;
  by_prefix.mutable_filter()->add_stream_prefixes("briefing-");
  EXPECT_THAT(Positions(ReadAll(by_prefix)), ElementsAre(1, 2));
}

TEST_F(EventLogTest, LargeReadsArriveInChunksAndComplete) {
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(RawAppend(Request("s", SomeEvents(1000))).ok());
  EXPECT_EQ(ReadAll().size(), 5000u);
}

// ReadAll is served chunk by chunk from the stored bytes; each chunk must
// resume exactly where the last stopped, in either direction, with a filter
// skipping events and a limit that ends mid-chunk.
TEST_F(EventLogTest, ChunkedReadAllResumesExactlyAcrossChunks) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(RawAppend(Request(absl::StrCat("briefing-", i), SomeEvents(700))).ok());
  }
  v1::ReadAllRequest backwards;
  backwards.set_direction(v1::BACKWARDS);
  backwards.set_from_position(2000);
  backwards.set_max_count(1300);
  std::vector<uint64_t> got = Positions(ReadAll(backwards));
  ASSERT_EQ(got.size(), 1300u);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], 2000 - i);

  v1::ReadAllRequest filtered;
  filtered.set_from_position(650);
  filtered.set_max_count(600);
  filtered.mutable_filter()->add_stream_prefixes("briefing-0");
  filtered.mutable_filter()->add_stream_prefixes("briefing-2");
  got = Positions(ReadAll(filtered));
  ASSERT_EQ(got.size(), 600u);
  // 650..700 from briefing-0, then briefing-2 from 1401.
  EXPECT_EQ(got[0], 650u);
  EXPECT_EQ(got[50], 700u);
  EXPECT_EQ(got[51], 1401u);
  EXPECT_EQ(got.back(), 1949u);
}

TEST_F(EventLogTest, EveryExpectedRevisionCaseOverGrpc) {
  v1::AppendRequest r = Request("s", SomeEvents(1));
  r.set_expected_state(v1::STREAM_EXISTS);
  grpc::Status s = RawAppend(r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("does not exist"));

  r = Request("s", SomeEvents(1));
  r.set_expected_state(v1::NO_STREAM);
  ASSERT_TRUE(RawAppend(r).ok());

  r = Request("s", SomeEvents(1));
  r.set_expected_state(v1::NO_STREAM);
  s = RawAppend(r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("is at revision 0; expected no stream"));

  r = Request("s", SomeEvents(1));
  r.set_exact_revision(5);
  s = RawAppend(r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("is at revision 0; expected revision 5"));

  r = Request("s", SomeEvents(1));
  r.set_exact_revision(0);
  v1::AppendResponse response;
  ASSERT_TRUE(RawAppend(r, &response).ok());
  EXPECT_EQ(response.stream_revision(), 1u);

  r = Request("s", SomeEvents(1));
  r.set_expected_state(v1::STREAM_EXISTS);
  ASSERT_TRUE(RawAppend(r).ok());
  r = Request("s", SomeEvents(1));
  r.set_expected_state(v1::ANY);
  ASSERT_TRUE(RawAppend(r, &response).ok());
  EXPECT_EQ(response.stream_revision(), 3u);
}

TEST_F(EventLogTest, RetryReturnsOriginalPositionsAndWritesNothing) {
  v1::AppendRequest r = Request("s", SomeEvents(2));
  r.set_expected_state(v1::NO_STREAM);
  v1::AppendResponse first, retry;
  ASSERT_TRUE(RawAppend(r, &first).ok());
  ASSERT_TRUE(RawAppend(r, &retry).ok());
  EXPECT_TRUE(retry.idempotent_replay());
  EXPECT_EQ(retry.positions(0), first.positions(0));
  EXPECT_EQ(retry.positions(1), first.positions(1));
  EXPECT_EQ(ReadAll().size(), 2u);
}

TEST_F(EventLogTest, BatchMixingRecordedAndNewIdsIsRejected) {
  std::vector<v1::Event> events = SomeEvents(2);
  ASSERT_TRUE(RawAppend(Request("s", {events[0]})).ok());
  grpc::Status s = RawAppend(Request("s", events));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_THAT(s.error_message(), HasSubstr("a retry must resend exactly the original batch"));
  EXPECT_EQ(ReadAll().size(), 1u);
}

TEST_F(EventLogTest, MalformedEventsAreInvalidArgumentNamingTheField) {
  struct Case {
    std::string name;
    std::function<void(v1::AppendRequest*)> spoil;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"empty batch", [](v1::AppendRequest* r) { r->clear_events(); },
       "events: at least one event is required"},
      {"no stream", [](v1::AppendRequest* r) { r->clear_stream_id(); }, "stream_id: required"},
      {"bad stream", [](v1::AppendRequest* r) { r->set_stream_id("a b"); },
       "stream_id: character 2 is not allowed"},
      {"no event id", [](v1::AppendRequest* r) { r->mutable_events(0)->clear_event_id(); },
       "events[0].event_id: required"},
      {"bad event id", [](v1::AppendRequest* r) { r->mutable_events(0)->set_event_id("42"); },
       "events[0].event_id: must be a UUID"},
      {"no payload", [](v1::AppendRequest* r) { r->mutable_events(0)->clear_payload(); },
       "events[0].payload: required"},
      {"empty payload",
       [](v1::AppendRequest* r) { r->mutable_events(0)->mutable_payload()->Clear(); },
       "events[0].payload: required"},
      {"wrong type", [](v1::AppendRequest* r) { r->mutable_events(0)->set_type("BriefingGiven"); },
       "events[0].type: \"BriefingGiven\" does not match the payload"},
      {"no occurred_at", [](v1::AppendRequest* r) { r->mutable_events(0)->clear_occurred_at(); },
       "events[0].occurred_at: required"},
      {"an empty occurred_at (1970-01-01T00:00:00Z)",
       [](v1::AppendRequest* r) {
         r->mutable_events(0)->mutable_occurred_at()->set_seconds(0);
         r->mutable_events(0)->mutable_occurred_at()->set_nanos(0);
       },
       "events[0].occurred_at: required: 1970-01-01T00:00:00Z is an empty Timestamp"},
      {"future occurred_at",
       [](v1::AppendRequest* r) {
         *r->mutable_events(0)->mutable_occurred_at() =
             ToProtoTime(absl::Now() + absl::Hours(24 * 30));
       },
       "events[0].occurred_at: "},
      {"no source", [](v1::AppendRequest* r) { r->mutable_events(0)->clear_source_system(); },
       "events[0].source_system: required"},
      {"long actor",
       [](v1::AppendRequest* r) { r->mutable_events(0)->set_actor(std::string(300, 'a')); },
       "events[0].actor: at most 256 bytes"},
      {"duplicate id",
       [](v1::AppendRequest* r) { r->mutable_events(1)->set_event_id(r->events(0).event_id()); },
       "events[1].event_id: "},
      {"unknown envelope field",
       [](v1::AppendRequest* r) {
         v1::Event* e = r->mutable_events(0);
         e->GetReflection()->MutableUnknownFields(e)->AddVarint(99, 1);
       },
       "events[0]: field number 99 is not in this server's evenhand.v1.Event"},
      {"unknown payload field",
       [](v1::AppendRequest* r) {
         v1::Payload* p = r->mutable_events(0)->mutable_payload();
         p->GetReflection()->MutableUnknownFields(p)->AddLengthDelimited(9999, "x");
       },
       "events[0].payload: field number 9999 is not in this server's evenhand.v1.Payload"},
      {"unknown field deeper",
       [](v1::AppendRequest* r) {
         google::protobuf::Timestamp* t = r->mutable_events(1)->mutable_occurred_at();
         t->GetReflection()->MutableUnknownFields(t)->AddFixed32(7, 1);
       },
       "events[1].occurred_at: field number 7"},
      {"unknown expected state",
       [](v1::AppendRequest* r) { r->set_expected_state(static_cast<v1::ExpectedState>(9)); },
       "expected_state: unknown value 9"},
  };
  for (const Case& c : cases) {
    v1::AppendRequest r = Request("s", SomeEvents(2));
    c.spoil(&r);
    grpc::Status s = RawAppend(r);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.name;
    EXPECT_THAT(s.error_message(), HasSubstr(c.message)) << c.name;
  }
  EXPECT_TRUE(ReadAll().empty());
}

TEST_F(EventLogTest, OversizedEventAndBatchAreRejectedWithTheLimit) {
  v1::ServerConfig config;
  config.set_max_event_bytes(4096);
  config.set_max_batch_events(10);
  StartServer(config);
  v1::Event big = AnEvent(std::string(5000, 'q'));
  grpc::Status s = RawAppend(Request("s", {AnEvent(), big}));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("events[1]: "));
  EXPECT_THAT(s.error_message(), HasSubstr("over the limit of 4096 bytes (max_event_bytes"));

  s = RawAppend(Request("s", SomeEvents(11)));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("11 events in one append, over the limit of 10"));
  EXPECT_TRUE(ReadAll().empty());
}

TEST_F(EventLogTest, DefaultLimitRejectsAnEventOverOneMebibyte) {
  v1::ServerConfig config;
  config.set_max_text_bytes(2 << 20);
  StartServer(config);
  v1::Event big = AnEvent(std::string((1 << 20) + 1, 'q'));
  grpc::Status s = RawAppend(Request("s", {big}));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("over the limit of 1048576 bytes"));
}

TEST_F(EventLogTest, ConcurrentAppendersProduceDensePositionsWithNoLoss) {
  constexpr int kThreads = 24;
  constexpr int kAppends = 40;
  absl::Mutex mu;
  std::map<std::string, uint64_t> acked;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kAppends; ++i) {
        std::vector<v1::Event> events = SomeEvents(1 + (t + i) % 4);
        v1::AppendResponse response;
        grpc::Status s = RawAppend(Request(absl::StrCat("stream-", t % 5), events), &response);
        ASSERT_TRUE(s.ok()) << s.error_message();
        absl::MutexLock lock(&mu);
        for (size_t k = 0; k < events.size(); ++k) {
          acked[events[k].event_id()] = response.positions(static_cast<int>(k));
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  std::vector<v1::RecordedEvent> all = ReadAll();
  ASSERT_EQ(all.size(), acked.size());
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].position(), i + 1);
    EXPECT_EQ(acked[all[i].event().event_id()], all[i].position());
  }
}

TEST_F(EventLogTest, SubscriptionSwitchesFromCatchUpToLiveWithNoGapOrDuplicate) {
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(RawAppend(Request("s", SomeEvents(100))).ok());
  constexpr int kWriters = 4;
  constexpr int kWrites = 100;
  const uint64_t total = 2000 + kWriters * kWrites;

  std::atomic<bool> caught_up{false};
  std::vector<uint64_t> positions;
  absl::Notification subscribed;
  std::thread subscriber([&] {
    v1::SubscribeRequest request;
    request.set_from_position(1);
    subscribed.Notify();
    ASSERT_OK(client_->Subscribe(request, [&](const v1::SubscribeResponse& m) {
      if (m.has_caught_up()) caught_up = true;
      for (const auto& e : m.events().events()) positions.push_back(e.position());
      return positions.size() < total;
    }));
  });
  subscribed.WaitForNotification();
  // Writers run while the subscriber catches up and switches to live.
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < kWrites; ++i) {
        ASSERT_TRUE(RawAppend(Request(absl::StrCat("w-", w), SomeEvents(1))).ok());
      }
    });
  }
  for (auto& th : writers) th.join();
  subscriber.join();
  EXPECT_TRUE(caught_up);
  ASSERT_EQ(positions.size(), total);
  for (size_t i = 0; i < positions.size(); ++i) ASSERT_EQ(positions[i], i + 1);
}

TEST_F(EventLogTest, SlowSubscriberNeverStallsWritersAndIsNeverDropped) {
  v1::ServerConfig config;
  config.set_live_buffer_events(16);
  StartServer(config);
  // The subscriber reads one message, then stops reading while the writers
  // run: gRPC flow control soon blocks the server's writes to it.
  absl::Notification first_message, writers_done;
  std::atomic<bool> fell_behind{false}, caught_up_after{false};
  std::vector<uint64_t> positions;
  constexpr uint64_t kTotal = 3000;
  std::thread subscriber([&] {
    v1::SubscribeRequest request;
    request.set_from_position(1);
    ASSERT_OK(client_->Subscribe(request, [&](const v1::SubscribeResponse& m) {
      if (!first_message.HasBeenNotified()) {
        first_message.Notify();
        writers_done.WaitForNotification();
      }
      if (m.has_fell_behind()) fell_behind = true;
      if (m.has_caught_up() && fell_behind) caught_up_after = true;
      for (const auto& e : m.events().events()) positions.push_back(e.position());
      return positions.size() < kTotal || !caught_up_after;
    }));
  });
  first_message.WaitForNotification();
  // Writers finish although nobody reads the subscription: had they waited
  // for the subscriber, this would never return.
  for (int i = 0; i < 30; ++i) {
    std::vector<v1::Event> events = SomeEvents(100, std::string(500, 'p'));
    ASSERT_TRUE(RawAppend(Request("s", events)).ok());
  }
  writers_done.Notify();
  subscriber.join();
  EXPECT_TRUE(fell_behind);
  EXPECT_TRUE(caught_up_after);
  ASSERT_EQ(positions.size(), kTotal);
  for (size_t i = 0; i < positions.size(); ++i) ASSERT_EQ(positions[i], i + 1);
}

TEST_F(EventLogTest, SubscribeFromEndSeesOnlyNewEventsAndHonoursTheFilter) {
  ASSERT_TRUE(RawAppend(Request("old", SomeEvents(3))).ok());
  std::vector<v1::RecordedEvent> got;
  absl::Notification live;
  std::thread subscriber([&] {
    v1::SubscribeRequest request;
    request.set_from_end(true);
    request.mutable_filter()->add_stream_prefixes("keep-");
    ASSERT_OK(client_->Subscribe(request, [&](const v1::SubscribeResponse& m) {
      if (m.has_caught_up()) live.Notify();
      for (const auto& e : m.events().events()) got.push_back(e);
      return got.size() < 2;
    }));
  });
  live.WaitForNotification();
  ASSERT_TRUE(RawAppend(Request("skip-1", SomeEvents(1))).ok());
  ASSERT_TRUE(RawAppend(Request("keep-1", SomeEvents(2))).ok());
  subscriber.join();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].position(), 5u);
  EXPECT_EQ(got[1].position(), 6u);
}

TEST_F(EventLogTest, SubscriptionMessagesFitADefaultClientWhateverTheEventSizes) {
  // Ten events of 600 KB: 6 MB in all, more than a default gRPC client
  // accepts in one message (4 MiB). The server must split them.
  v1::ServerConfig config;
  config.set_max_text_bytes(1 << 20);
  StartServer(config);
  for (int i = 0; i < 10; ++i) {
    v1::Event big = AnEvent(std::string(600 << 10, 'b'));
    ASSERT_TRUE(RawAppend(Request("s", {big})).ok());
  }
  auto plain = v1::EventLog::NewStub(
      grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  v1::SubscribeRequest request;
  request.set_from_position(1);
  auto reader = plain->Subscribe(&context, request);
  v1::SubscribeResponse m;
  int events = 0;
  while (events < 10 && reader->Read(&m)) events += m.events().events_size();
  EXPECT_EQ(events, 10);
  context.TryCancel();
  while (reader->Read(&m)) {
  }
  reader->Finish().ok();
}

TEST_F(EventLogTest, SubscribingBeyondTheEndIsOutOfRange) {
  ASSERT_TRUE(RawAppend(Request("s", SomeEvents(2))).ok());
  v1::SubscribeRequest request;
  request.set_from_position(10);
  grpc::ClientContext context;
  auto reader = stub_->Subscribe(&context, request);
  v1::SubscribeResponse m;
  EXPECT_FALSE(reader->Read(&m));
  grpc::Status s = reader->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_THAT(s.error_message(), HasSubstr("beyond the end of the log (last position 2)"));
}

TEST_F(EventLogTest, StatusReportsTheLogsPositionAndIdentity) {
  ASSERT_TRUE(RawAppend(Request("s", SomeEvents(4))).ok());
  ASSERT_OK_AND_ASSIGN(v1::GetStatusResponse status, client_->GetStatus());
  EXPECT_EQ(status.last_position(), 4u);
  EXPECT_EQ(status.log_id().size(), 36u);
  EXPECT_EQ(status.max_event_bytes(), 1u << 20);
}

TEST_F(EventLogTest, HealthServiceReportsServing) {
  // grpc.health.v1.Health/Check with an empty request; the reply is
  // HealthCheckResponse{status: SERVING}, which encodes as 08 01.
  grpc::GenericStub generic(channel_);
  grpc::ClientContext context;
  context.set_deadline(DeadlineAfter(absl::Seconds(5)));
  grpc::CompletionQueue cq;
  grpc::Slice empty;
  grpc::ByteBuffer request(&empty, 1);
  auto call = generic.PrepareUnaryCall(&context, "/grpc.health.v1.Health/Check", request, &cq);
  call->StartCall();
  grpc::ByteBuffer reply;
  grpc::Status status;
  call->Finish(&reply, &status, reinterpret_cast<void*>(1));
  void* tag;
  bool ok;
  ASSERT_TRUE(cq.Next(&tag, &ok));
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(reply.Dump(&slices).ok());
  std::string bytes;
  for (auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  EXPECT_EQ(bytes, std::string("\x08\x01", 2));
  cq.Shutdown();
}

TEST_F(EventLogTest, AppendsDuringShutdownAreUnavailableAndAcknowledgedOnesSurvive) {
  ASSERT_TRUE(RawAppend(Request("s", SomeEvents(2))).ok());
  server_->Shutdown(absl::Seconds(5));
  grpc::ClientContext context;
  context.set_deadline(DeadlineAfter(absl::Seconds(2)));
  v1::AppendResponse response;
  grpc::Status s = stub_->Append(&context, Request("s", SomeEvents(1)), &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  StartServer();
  EXPECT_EQ(ReadAll().size(), 2u);
}

}  // namespace
}  // namespace evenhand
