// The publisher library (clients/publisher.h) against a real evenhandd
// child: every event delivered exactly once and its outcome reported once,
// through a server that is down at the start, is killed and restarted,
// answers that are lost after their commit. The outbox's faults (a killed
// publisher, damaged files, a full disk) are publisher_outbox_test's.
#include "clients/publisher.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/clients/publisher_fixture.h"
#include "tests/testing/child_server.h"
#include "tests/testing/temp_dir.h"

namespace evenhand {
namespace {

using testing::ChildServer;
using testing::FreePort;
using testing::Officer;
using testing::PublisherTest;
using testing::Reported;
using testing::TempDir;
using testing::TestOptions;

// A TCP proxy in front of the server that can keep back what the server
// sends (its answers) and then cut every connection, so that requests the
// server has committed are never answered: the publisher must send them
// again and learn that they are replays.
class HoldingProxy {
 public:
  explicit HoldingProxy(int target_port) : target_port_(target_port) {
    listen_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listen_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    socklen_t len = sizeof(a);
    ::getsockname(listen_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    ::listen(listen_, 16);
    acceptor_ = std::thread([this] { Accept(); });
  }
  ~HoldingProxy() {
    stop_ = true;
    CutAll();
    acceptor_.join();
    ::close(listen_);
    for (std::thread& t : pumps_) t.join();
  }
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }
  // While held, the server's bytes are read and kept, not forwarded.
  void Hold(bool hold) { hold_ = hold; }
  // Connections made through it so far.
  size_t connections() {
    absl::MutexLock lock(&mu_);
    return fds_.size() / 2;
  }
  // Closes every connection; what was kept back is dropped.
  void CutAll() {
    absl::MutexLock lock(&mu_);
    for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
  }

 private:
  void Accept() {
    while (!stop_) {
      pollfd p{listen_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int client = ::accept(listen_, nullptr, nullptr);
      if (client < 0) continue;
      const int server = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      a.sin_port = htons(target_port_);
      if (::connect(server, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
        ::close(client);
        ::close(server);
        continue;
      }
      absl::MutexLock lock(&mu_);
      fds_.push_back(client);
      fds_.push_back(server);
      pumps_.emplace_back([this, client, server] { Pump(client, server, false); });
      pumps_.emplace_back([this, client, server] { Pump(server, client, true); });
    }
  }
  void Pump(int from, int to, bool answers) {
    char buf[16384];
    while (true) {
      const ssize_t n = ::read(from, buf, sizeof(buf));
      if (n <= 0) break;
      if (answers && hold_) continue;  // kept back, then dropped by CutAll
      // MSG_NOSIGNAL: a socket CutAll closed is an error here, not a SIGPIPE
      // that kills the test.
      if (::send(to, buf, n, MSG_NOSIGNAL) != n) break;
    }
    ::shutdown(to, SHUT_RDWR);
  }

  const int target_port_;
  int listen_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false}, hold_{false};
  std::thread acceptor_;
  absl::Mutex mu_;
  std::vector<int> fds_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> pumps_;  // joined after the acceptor stops
};

TEST_F(PublisherTest, DeliversEveryEventOnceWithItsOutcomeOnce) {
  auto server = Server(0);
  Reported reported;
  auto publisher = NewPublisher(&reported);
  std::vector<std::string> ids;
  for (int i = 0; i < 500; ++i) {
    auto id =
        publisher->Publish(absl::StrCat("officer-o-", i % 50), Officer(absl::StrCat("o-", i % 50)));
    ASSERT_TRUE(id.ok()) << id.status();
    ids.push_back(*id);
  }
  ASSERT_TRUE(publisher->Flush(absl::Seconds(30)));
  auto log = InTheLog(*server);
  for (const std::string& id : ids) {
    EXPECT_EQ(log[id], 1) << id;
    absl::MutexLock lock(&reported.mu);
    EXPECT_EQ(reported.times[id], 1) << id;
    EXPECT_TRUE(reported.last[id].status.ok()) << reported.last[id].status;
    EXPECT_GT(reported.last[id].position, 0u);
  }
  // A refused event is reported once with its error, and the rest go on.
  v1::Event bad = Officer("o-bad");
  bad.set_type("NoSuchEvent");
  // In one stream, between good ones, so in their batch: the batch is
  // refused as a whole, and sent again one by one.
  auto before_id = publisher->Publish("officer-o-mix", Officer("o-mix"));
  auto bad_id = publisher->Publish("officer-o-mix", bad);
  auto good_id = publisher->Publish("officer-o-mix", Officer("o-mix"));
  ASSERT_TRUE(publisher->Flush(absl::Seconds(30)));
  absl::MutexLock lock(&reported.mu);
  EXPECT_EQ(reported.times[*bad_id], 1);
  EXPECT_EQ(reported.last[*bad_id].status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(reported.last[*before_id].status.ok()) << reported.last[*before_id].status;
  EXPECT_TRUE(reported.last[*good_id].status.ok()) << reported.last[*good_id].status;
  EXPECT_LT(reported.last[*before_id].position, reported.last[*good_id].position);
}

TEST_F(PublisherTest, ServerDownAtStartThenKilledAndRestarted) {
  Reported reported;
  auto publisher = NewPublisher(&reported);
  std::vector<std::string> ids;
  auto publish = [&](int n, const std::string& tag) {
    for (int i = 0; i < n; ++i) {
      auto id = publisher->Publish(absl::StrCat("officer-", tag, "-", i % 10),
                                   Officer(absl::StrCat(tag, "-", i % 10)));
      ASSERT_TRUE(id.ok()) << id.status();
      ids.push_back(*id);
    }
  };
  // Nobody is listening yet: the events wait.
  publish(100, "o-early");
  EXPECT_FALSE(publisher->Flush(absl::Milliseconds(300)));
  {
    auto server = Server(0);
    ASSERT_TRUE(publisher->Flush(absl::Seconds(30)));
    // More, then the server is killed while they go.
    publish(300, "o-during");
    server->Signal(SIGKILL);
    server->Wait();
  }
  publish(100, "o-while-down");
  auto server = Server(1);
  ASSERT_TRUE(publisher->Flush(absl::Seconds(60)));
  auto log = InTheLog(*server);
  absl::MutexLock lock(&reported.mu);
  for (const std::string& id : ids) {
    EXPECT_EQ(log[id], 1) << id << " must be in the log exactly once";
    EXPECT_EQ(reported.times[id], 1) << id << " must be reported exactly once";
    EXPECT_TRUE(reported.last[id].status.ok()) << reported.last[id].status;
  }
}

TEST_F(PublisherTest, AnswersLostAfterTheCommitAreSentAgainAndReportedOnceAsReplays) {
  auto server = Server(0);
  HoldingProxy proxy(std::stoi(address_.substr(address_.rfind(':') + 1)));
  Reported reported;
  clients::PublisherOptions o = TestOptions(proxy.address());
  o.batch_max_events = 20;
  // A stream has one batch unanswered at a time: each of the three streams
  // below must go as one full batch of 20, however slowly they are queued
  // (a sanitised build once sent a partial one, and the rest of its stream
  // waited behind an answer held back).
  o.linger = absl::Seconds(30);
  o.max_backoff = absl::Milliseconds(200);
  auto publisher = clients::Publisher::Start(
      o, [&reported](const clients::Outcome& out) { reported.Add(out); });
  ASSERT_TRUE(publisher.ok()) << publisher.status();
  // The first event goes through, so the call is open before answers are
  // held back.
  auto first = (*publisher)->Publish("officer-o-first", Officer("o-first"));
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE((*publisher)->Flush(absl::Seconds(30)));
  proxy.Hold(true);
  std::vector<std::string> ids;
  for (int i = 0; i < 60; ++i) {
    auto id = (*publisher)->Publish(absl::StrCat("officer-o-", i % 3),
                                    Officer(absl::StrCat("o-", i % 3)));
    ASSERT_TRUE(id.ok()) << id.status();
    ids.push_back(*id);
  }
  // The server commits them all; none of its answers arrives. (Waited for
  // however slow the machine: an id not committed before the cut would be
  // sent again as new, not as a replay.)
  size_t committed = 0;
  for (int i = 0; i < 2400 && committed < ids.size(); ++i) {
    if (i > 0) absl::SleepFor(absl::Milliseconds(25));
    auto log = InTheLog(*server);
    committed = 0;
    for (const std::string& id : ids) committed += log.count(id);
  }
  ASSERT_EQ(committed, ids.size()) << "the server did not commit the held events in 60 s";
  {
    absl::MutexLock lock(&reported.mu);
    for (const std::string& id : ids) EXPECT_EQ(reported.times.count(id), 0u) << id;
  }
  EXPECT_EQ((*publisher)->pending(), ids.size());
  // The connection is lost with the answers; the publisher sends the same
  // ids again, and the server recognises them.
  proxy.CutAll();
  proxy.Hold(false);
  ASSERT_TRUE((*publisher)->Flush(absl::Seconds(30)));
  std::map<std::string, uint64_t> positions;
  std::map<std::string, int> times;
  ASSERT_TRUE(server->client()
                  .ReadAll({},
                           [&](const v1::RecordedEvent& e) {
                             positions[e.event().event_id()] = e.position();
                             ++times[e.event().event_id()];
                             return true;
                           })
                  .ok());
  absl::MutexLock lock(&reported.mu);
  for (const std::string& id : ids) {
    EXPECT_EQ(times[id], 1) << id << " must be in the log exactly once";
    EXPECT_EQ(reported.times[id], 1) << id << " must be reported exactly once";
    EXPECT_TRUE(reported.last[id].status.ok()) << reported.last[id].status;
    EXPECT_TRUE(reported.last[id].idempotent_replay) << id << " was not reported as a replay";
    EXPECT_EQ(reported.last[id].position, positions[id]) << id;
  }
}

// A server that stops answering without closing the connection: its
// answers, flow-control updates and ping replies are held back, so the
// publisher's writes soon wait in gRPC. Its keepalive drops the connection
// and the requests go again on a new one.
TEST_F(PublisherTest, ACallWhoseAnswersStopIsAbandonedEvenWhileItsWritesWait) {
  auto server = Server(0);
  HoldingProxy proxy(std::stoi(address_.substr(address_.rfind(':') + 1)));
  Reported reported;
  clients::PublisherOptions o = TestOptions(proxy.address());
  o.answer_timeout = absl::Seconds(2);
  o.max_backoff = absl::Milliseconds(200);
  o.connection.keepalive = absl::Seconds(1);
  auto publisher = clients::Publisher::Start(
      o, [&reported](const clients::Outcome& out) { reported.Add(out); });
  ASSERT_TRUE(publisher.ok()) << publisher.status();
  ASSERT_TRUE((*publisher)->Publish("officer-o-open", Officer("o-open")).ok());
  ASSERT_TRUE((*publisher)->Flush(absl::Seconds(30)));
  ASSERT_EQ(proxy.connections(), 1u);
  proxy.Hold(true);
  // About 1.6 MB: far more than gRPC's flow-control window.
  std::vector<std::string> ids;
  for (int i = 0; i < 200; ++i) {
    v1::Event e = Officer(absl::StrCat("o-", i % 4));
    e.mutable_payload()->mutable_officer_registered()->set_name(std::string(8000, 'n'));
    auto id = (*publisher)->Publish(absl::StrCat("officer-o-", i % 4), e);
    ASSERT_TRUE(id.ok()) << id.status();
    ids.push_back(*id);
  }
  for (int i = 0; i < 900 && proxy.connections() < 2; ++i) absl::SleepFor(absl::Milliseconds(100));
  ASSERT_GE(proxy.connections(), 2u) << "the silent call was never abandoned";
  proxy.Hold(false);
  ASSERT_TRUE((*publisher)->Flush(absl::Seconds(60)));
  auto log = InTheLog(*server);
  absl::MutexLock lock(&reported.mu);
  for (const std::string& id : ids) {
    EXPECT_EQ(log[id], 1) << id;
    EXPECT_EQ(reported.times[id], 1) << id;
    EXPECT_TRUE(reported.last[id].status.ok()) << reported.last[id].status;
  }
}

// A stand-in server that says "slow down" with a RetryInfo of `kDelay`,
// either as the answer to the first request of the first call or as the
// status the first call ends with, then appends everything; it notes when
// it said so and when the next request came. (The real server's limits
// need a TLS principal and a rate; what is under test is the publisher.)
class ThrottlingLog final : public v1::EventLog::Service {
 public:
  static constexpr absl::Duration kDelay = absl::Milliseconds(1500);
  enum class Where { kAnswer, kCallStatus };
  explicit ThrottlingLog(Where where) : where_(where) {}

  grpc::Status AppendStream(
      grpc::ServerContext*,
      grpc::ServerReaderWriter<v1::AppendStreamResponse, v1::AppendRequest>* call) override {
    google::rpc::RetryInfo retry;
    retry.mutable_retry_delay()->set_seconds(1);
    retry.mutable_retry_delay()->set_nanos(500000000);
    v1::AppendRequest request;
    for (uint64_t index = 0; call->Read(&request); ++index) {
      absl::MutexLock lock(&mu_);
      if (!said_) {
        said_ = true;
        said_at_ = absl::Now();
        if (where_ == Where::kCallStatus) {
          google::rpc::Status status;
          status.set_code(grpc::StatusCode::RESOURCE_EXHAUSTED);
          status.set_message("over the principal's rate");
          status.add_details()->PackFrom(retry);
          return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, status.message(),
                              status.SerializeAsString());
        }
        v1::AppendStreamResponse r;
        r.set_request_index(index);
        r.mutable_error()->set_code(grpc::StatusCode::RESOURCE_EXHAUSTED);
        r.mutable_error()->set_message("over the principal's rate");
        r.mutable_error()->add_details()->PackFrom(retry);
        call->Write(r);
        continue;
      }
      if (next_at_ == absl::InfinitePast()) next_at_ = absl::Now();
      v1::AppendStreamResponse r;
      r.set_request_index(index);
      for (int i = 0; i < request.events_size(); ++i) r.mutable_appended()->add_positions(++last_);
      call->Write(r);
    }
    return grpc::Status::OK;
  }

  // From "slow down" to the request after it.
  absl::Duration Waited() {
    absl::MutexLock lock(&mu_);
    return next_at_ - said_at_;
  }

 private:
  const Where where_;
  absl::Mutex mu_;
  bool said_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time said_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Time next_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  uint64_t last_ ABSL_GUARDED_BY(mu_) = 0;
};

// A server's RetryInfo is a floor for the retry, whether it comes with one
// request's answer or with the status a whole call ends with: sooner would
// only be refused again (the publisher's own back-off starts at 50 ms).
TEST_F(PublisherTest, AServersRetryDelayIsWaitedOutBeforeTryingAgain) {
  for (ThrottlingLog::Where where :
       {ThrottlingLog::Where::kAnswer, ThrottlingLog::Where::kCallStatus}) {
    ThrottlingLog log(where);
    std::unique_ptr<grpc::Server> server = StandIn(&log);
    ASSERT_NE(server, nullptr);
    Reported reported;
    auto publisher = NewPublisher(&reported, /*outbox=*/false);
    auto id = publisher->Publish("officer-o-slow", Officer("o-slow"));
    ASSERT_TRUE(id.ok()) << id.status();
    ASSERT_TRUE(publisher->Flush(absl::Seconds(30)));
    EXPECT_GE(log.Waited(), ThrottlingLog::kDelay) << static_cast<int>(where);
    absl::MutexLock lock(&reported.mu);
    EXPECT_EQ(reported.times[*id], 1);
    EXPECT_TRUE(reported.last[*id].status.ok()) << reported.last[*id].status;
    publisher->Close();
    server->Shutdown();
  }
}

// Without an outbox, what Close() leaves undelivered is reported, not lost
// in silence; after it, Publish is refused.
TEST_F(PublisherTest, CloseWithoutAnOutboxReportsWhatWasNotDelivered) {
  Reported reported;  // nobody listens at address_
  auto publisher = NewPublisher(&reported, /*outbox=*/false);
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    auto id = publisher->Publish("officer-o-closed", Officer("o-closed"));
    ASSERT_TRUE(id.ok()) << id.status();
    ids.push_back(*id);
  }
  publisher->Close();
  EXPECT_EQ(publisher->pending(), 0u);
  EXPECT_EQ(publisher->Publish("officer-o-closed", Officer("o-closed")).status().code(),
            absl::StatusCode::kFailedPrecondition);
  absl::MutexLock lock(&reported.mu);
  EXPECT_EQ(reported.times.size(), ids.size());
  for (const std::string& id : ids) {
    EXPECT_EQ(reported.times[id], 1) << id;
    EXPECT_EQ(reported.last[id].status.code(), absl::StatusCode::kCancelled);
    EXPECT_THAT(std::string(reported.last[id].status.message()),
                ::testing::HasSubstr("same event id"));
  }
}

// What waits for the server is bounded in bytes too: Publish waits for
// room (here until Close(), which refuses it).
TEST_F(PublisherTest, PublishWaitsOncePendingEventsHoldMaxPendingBytes) {
  clients::PublisherOptions o = TestOptions(address_);  // nobody there
  o.max_pending_bytes = 20000;
  Reported reported;
  auto p = clients::Publisher::Start(
      o, [&reported](const clients::Outcome& out) { reported.Add(out); });
  ASSERT_TRUE(p.ok()) << p.status();
  v1::Event e = Officer("o-bytes");
  e.mutable_payload()->mutable_officer_registered()->set_name(std::string(8000, 'b'));
  ASSERT_TRUE((*p)->Publish("officer-o-bytes", e).ok());
  ASSERT_TRUE((*p)->Publish("officer-o-bytes", e).ok());
  absl::Notification returned;
  absl::StatusOr<std::string> third;
  std::thread publisher([&] {
    third = (*p)->Publish("officer-o-bytes", e);
    returned.Notify();
  });
  EXPECT_FALSE(returned.WaitForNotificationWithTimeout(absl::Milliseconds(500)))
      << "a third event went past max_pending_bytes";
  (*p)->Close();
  publisher.join();
  EXPECT_EQ(third.status().code(), absl::StatusCode::kFailedPrecondition) << third.status();
  absl::MutexLock lock(&reported.mu);
  EXPECT_EQ(reported.times.size(), 2u);
}

// Past max_block, Publish gives the system's thread back: the event is
// refused DEADLINE_EXCEEDED (not taken), and the ones already taken stay.
TEST_F(PublisherTest, PublishGivesUpAfterMaxBlockWhenThereIsNoRoom) {
  clients::PublisherOptions o = TestOptions(address_);  // nobody there
  o.max_pending_events = 2;
  o.max_block = absl::Milliseconds(300);
  Reported reported;
  auto p =
      clients::Publisher::Start(o, [&reported](const clients::Outcome& out) { reported.Add(out); });
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_TRUE((*p)->Publish("officer-o-1", Officer("o-1")).ok());
  ASSERT_TRUE((*p)->Publish("officer-o-2", Officer("o-2")).ok());
  absl::StatusOr<std::string> third = (*p)->Publish("officer-o-3", Officer("o-3"));
  EXPECT_EQ(third.status().code(), absl::StatusCode::kDeadlineExceeded) << third.status();
  EXPECT_THAT(std::string(third.status().message()), ::testing::HasSubstr("max_block"));
  EXPECT_EQ((*p)->pending(), 2u);
  (*p)->Close();
  absl::MutexLock lock(&reported.mu);
  EXPECT_EQ(reported.times.size(), 2u);
}

// An event the server could only refuse by ending the call is refused
// when it is handed over.
TEST_F(PublisherTest, AnEventLargerThanARequestMayBeIsRefusedWhenHandedOver) {
  clients::PublisherOptions o = TestOptions(address_);
  o.max_request_bytes = 4096;
  auto p = clients::Publisher::Start(o, nullptr);
  ASSERT_TRUE(p.ok()) << p.status();
  v1::Event big = Officer("o-big");
  big.mutable_payload()->mutable_officer_registered()->set_name(std::string(8192, 'x'));
  absl::StatusOr<std::string> id = (*p)->Publish("officer-o-big", big);
  EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument) << id.status();
  EXPECT_THAT(std::string(id.status().message()), ::testing::HasSubstr("max_request_bytes"));
  EXPECT_EQ((*p)->pending(), 0u);
  EXPECT_TRUE((*p)->Publish("officer-o-small", Officer("o-small")).ok());
}

// The server checks references, so history must go in the order it was
// handed over: two councillors' registrations (streams that sort after
// "group-"), then the group naming them, ten times over. Sent by stream
// name, the groups would go first and be refused.
TEST_F(PublisherTest, EventsGoInTheOrderTheyWereHandedOverAcrossStreams) {
  auto server = Server(0, "{}");
  Reported reported;
  auto publisher = NewPublisher(&reported, /*outbox=*/false);
  std::vector<std::string> ids;
  for (int g = 0; g < 10; ++g) {
    v1::Event group;
    group.set_type("PoliticalGroupRecognised");
    auto* recognised = group.mutable_payload()->mutable_political_group_recognised();
    recognised->set_group_id(absl::StrCat("g", g));
    recognised->set_name(absl::StrCat("Group ", g));
    for (const char* who : {"a", "b"}) {
      const std::string member = absl::StrCat("zz-", g, who);
      v1::Event e;
      e.set_type("MemberRegistered");
      auto* m = e.mutable_payload()->mutable_member_registered();
      m->set_member_id(member);
      m->set_name(absl::StrCat("Councillor ", member));
      m->set_ward("Central");
      *e.mutable_occurred_at() = ToProtoTime(absl::Now());
      auto id = publisher->Publish("member-" + member, e);
      ASSERT_TRUE(id.ok()) << id.status();
      ids.push_back(*id);
      recognised->add_member_ids(member);
    }
    *group.mutable_occurred_at() = ToProtoTime(absl::Now());
    auto id = publisher->Publish(absl::StrCat("group-g", g), group);
    ASSERT_TRUE(id.ok()) << id.status();
    ids.push_back(*id);
  }
  ASSERT_TRUE(publisher->Flush(absl::Seconds(30)));
  absl::MutexLock lock(&reported.mu);
  for (const std::string& id : ids) {
    EXPECT_EQ(reported.times[id], 1) << id;
    EXPECT_TRUE(reported.last[id].status.ok()) << reported.last[id].status;
  }
}

// Without the server's reference checks (no refusal to retry on), the log
// still holds events in the order they were handed over across streams.
TEST_F(PublisherTest, TheLogHoldsEventsInHandOverOrderAcrossStreams) {
  auto server = Server(0);
  Reported reported;
  auto publisher = NewPublisher(&reported, /*outbox=*/false);
  std::vector<std::string> ids;
  for (const char* stream : {"officer-zz", "officer-mm", "officer-aa"}) {
    auto id = publisher->Publish(stream, Officer(std::string(stream).substr(8)));
    ASSERT_TRUE(id.ok()) << id.status();
    ids.push_back(*id);
  }
  ASSERT_TRUE(publisher->Flush(absl::Seconds(30)));
  absl::MutexLock lock(&reported.mu);
  for (size_t i = 0; i < ids.size(); ++i) {
    ASSERT_TRUE(reported.last[ids[i]].status.ok()) << reported.last[ids[i]].status;
    if (i > 0) {
      EXPECT_LT(reported.last[ids[i - 1]].position, reported.last[ids[i]].position) << i;
    }
  }
}

// A request over the server's maxRequestBytes ends the whole call (gRPC's
// own limit, no RetryInfo): the batch goes again event by event, and an
// event too large alone is reported refused once, not sent for ever.
TEST_F(PublisherTest, ARequestOverTheServersLimitIsSplitAndAnEventTooLargeAloneIsRefused) {
  auto server = Server(0, R"({"skipDomainValidation": true, "maxRequestBytes": 32768})");
  Reported reported;
  auto publisher = NewPublisher(&reported, /*outbox=*/false);
  std::vector<std::string> fitting;
  for (int i = 0; i < 6; ++i) {
    v1::Event e = Officer("o-mid");
    e.mutable_payload()->mutable_officer_registered()->set_name(std::string(8000, 'm'));
    auto id = publisher->Publish("officer-o-mid", e);
    ASSERT_TRUE(id.ok()) << id.status();
    fitting.push_back(*id);
  }
  v1::Event big = Officer("o-big");
  big.mutable_payload()->mutable_officer_registered()->set_name(std::string(40000, 'b'));
  auto big_id = publisher->Publish("officer-o-big", big);
  ASSERT_TRUE(big_id.ok()) << big_id.status();
  ASSERT_TRUE(publisher->Flush(absl::Seconds(30)));
  absl::MutexLock lock(&reported.mu);
  for (const std::string& id : fitting) {
    EXPECT_EQ(reported.times[id], 1) << id;
    EXPECT_TRUE(reported.last[id].status.ok()) << reported.last[id].status;
  }
  EXPECT_EQ(reported.times[*big_id], 1);
  EXPECT_EQ(reported.last[*big_id].status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(reported.last[*big_id].status.message()),
              ::testing::HasSubstr("maxRequestBytes"));
}

}  // namespace
}  // namespace evenhand
