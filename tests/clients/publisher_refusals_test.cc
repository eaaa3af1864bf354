// The publisher library (clients/publisher.h) when the server refuses the
// publisher rather than its events: a call refused as a whole, and a bearer
// token that expires while the publisher runs. With an outbox nothing is
// given up for that (the events wait and go once a server takes them);
// without one every event waiting is reported with the refusal, once.
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "clients/connection.h"
#include "clients/event_log_client.h"
#include "clients/publisher.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/clients/publisher_fixture.h"
#include "tests/testing/child_server.h"
#include "tests/testing/jwt.h"
#include "tests/testing/log_files.h"
#include "tests/testing/make_certs.h"
#include "tests/testing/temp_dir.h"

namespace evenhand {
namespace {

using testing::ChildServer;
using testing::Officer;
using testing::PublisherTest;
using testing::ReadFile;
using testing::Reported;
using testing::SignJwt;
using testing::TestOptions;

// Polls `done` for up to `timeout`.
template <typename F>
bool Eventually(F done, absl::Duration timeout) {
  const absl::Time until = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > until) return false;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return true;
}

// Thirty registrations of officer `officer` over three streams; their ids
// (fewer if one is not taken, which the test then reports).
std::vector<std::string> PublishThirty(clients::Publisher* publisher, const std::string& officer) {
  std::vector<std::string> ids;
  for (int i = 0; i < 30; ++i) {
    auto id = publisher->Publish(absl::StrCat("officer-o-", i % 3), Officer(officer));
    EXPECT_TRUE(id.ok()) << id.status();
    if (id.ok()) ids.push_back(*id);
  }
  return ids;
}

// A server that refuses the call itself (here one that does not implement
// AppendStream: UNIMPLEMENTED, as a certificate without the publisher role
// would be PERMISSION_DENIED) is not retried forever in silence by a
// publisher without an outbox: every event waiting is reported with the
// refusal, once.
TEST_F(PublisherTest, ACallRefusedWithoutAnOutboxIsReportedForEveryEventOnce) {
  v1::EventLog::Service unimplemented;
  std::unique_ptr<grpc::Server> bare = StandIn(&unimplemented);
  ASSERT_NE(bare, nullptr);
  Reported reported;
  auto publisher = NewPublisher(&reported, /*outbox=*/false);
  const std::vector<std::string> ids = PublishThirty(publisher.get(), "o-refused");
  ASSERT_EQ(ids.size(), 30u);
  ASSERT_TRUE(publisher->Flush(absl::Seconds(30)));
  EXPECT_EQ(publisher->pending(), 0u);
  absl::MutexLock lock(&reported.mu);
  EXPECT_EQ(reported.times.size(), ids.size());
  for (const std::string& id : ids) {
    EXPECT_EQ(reported.times[id], 1) << id;
    EXPECT_EQ(reported.last[id].status.code(), absl::StatusCode::kUnimplemented)
        << reported.last[id].status;
  }
  bare->Shutdown();
}

// With an outbox, the same refusal gives nothing up: the events wait,
// Blocked() says why, a publisher closed meanwhile leaves them there, and
// once a server that takes them is at the address (an upgrade, a role
// granted) the next publisher on the outbox delivers each once.
TEST_F(PublisherTest, ACallRefusedWithAnOutboxKeepsTheEventsEvenThroughACloseUntilTaken) {
  v1::EventLog::Service unimplemented;
  std::unique_ptr<grpc::Server> bare = StandIn(&unimplemented);
  ASSERT_NE(bare, nullptr);
  Reported reported;
  auto publisher = NewPublisher(&reported, /*outbox=*/true);
  const std::vector<std::string> ids = PublishThirty(publisher.get(), "o-kept");
  ASSERT_EQ(ids.size(), 30u);
  ASSERT_TRUE(
      Eventually([&] { return publisher->Blocked().code() == absl::StatusCode::kUnimplemented; },
                 absl::Seconds(30)))
      << publisher->Blocked();
  EXPECT_EQ(publisher->pending(), ids.size());
  {
    absl::MutexLock lock(&reported.mu);
    EXPECT_TRUE(reported.times.empty()) << "an event was reported for a refusal of the call";
  }
  publisher->Close();
  publisher.reset();
  bare->Shutdown();
  bare.reset();
  auto server = Server(0);  // on the same address
  publisher = NewPublisher(&reported, /*outbox=*/true);
  EXPECT_EQ(publisher->pending(), ids.size());
  ASSERT_TRUE(publisher->Flush(absl::Seconds(60))) << publisher->pending() << " left";
  EXPECT_TRUE(publisher->Blocked().ok()) << publisher->Blocked();
  std::map<std::string, int> in_log = InTheLog(*server);
  absl::MutexLock lock(&reported.mu);
  for (const std::string& id : ids) {
    EXPECT_EQ(reported.times[id], 1) << id;
    EXPECT_TRUE(reported.last[id].status.ok()) << reported.last[id].status;
    EXPECT_EQ(in_log[id], 1) << id;
  }
}

// A publisher authenticated by a bearer token (over TLS), against a server
// of make-certs' demo council whose identity provider's tokens it takes.
class TokenPublisherTest : public PublisherTest {
 protected:
  void SetUp() override {
    PublisherTest::SetUp();
    certs_ = dir_.Sub("certs");
    ASSERT_TRUE(testing::MakeCerts(certs_));
    // The case system's lane for a token group, and a leeway of 1 s on
    // expiry (the default is 60).
    config_ = absl::StrReplaceAll(
        ReadFile(certs_ + "/evenhandd.tls.json"),
        {{"\"jwksFile\":", "\"leewaySeconds\": 1, \"jwksFile\":"},
         {"\"principals\": [",
          "\"principals\": [{\"name\": \"case-system-bot\", \"tokenGroups\": [\"case-systems\"], "
          "\"roles\": [\"publisher:case-system\"]},"},
         {"\"security\": {", "\"skipDomainValidation\": true, \"security\": {"}});
  }

  // A token for the case system valid from now for `valid`, written to
  // `file` whole (as an agent renewing it would, by a rename).
  void WriteToken(const std::string& file, absl::Duration valid) {
    const int64_t now = absl::ToUnixSeconds(absl::Now());
    const std::string claims = absl::StrCat(
        R"({"iss":"https://login.demo.council","aud":"evenhand","sub":"case-system-bot",)",
        R"("groups":["case-systems"],"iat":)", now, R"(,"nbf":)", now - 5, R"(,"exp":)",
        now + absl::ToInt64Seconds(valid), "}");
    const std::string token = SignJwt(certs_ + "/idp-rsa.key", "RS256", "idp-rsa", claims);
    ASSERT_FALSE(token.empty());
    std::ofstream(file + ".new") << token;
    std::filesystem::rename(file + ".new", file);
  }

  clients::Connection Tls() const {
    clients::Connection c;
    c.address = address_;
    c.ca_file = certs_ + "/ca.pem";
    return c;
  }

  // Every id in the log, read as the auditor.
  std::map<std::string, int> InTheLogOverTls() {
    clients::Connection c = Tls();
    c.cert_file = certs_ + "/auditor.pem";
    c.key_file = certs_ + "/auditor.key";
    auto channel = clients::Dial(c);
    EXPECT_TRUE(channel.ok()) << channel.status();
    clients::EventLogClient log(v1::EventLog::NewStub(*channel));
    std::map<std::string, int> ids;
    EXPECT_TRUE(log.ReadAll({},
                            [&](const v1::RecordedEvent& e) {
                              ++ids[e.event().event_id()];
                              return true;
                            })
                    .ok());
    return ids;
  }

  static v1::Event Query(const std::string& query_id) {
    v1::Event e;
    e.set_type("WrittenQueryReceived");
    auto* q = e.mutable_payload()->mutable_written_query_received();
    q->set_query_id(query_id);
    q->set_member_id("green-2");
    q->set_addressed_to_officer_id("o-ceo");
    *e.mutable_occurred_at() = ToProtoTime(absl::Now());
    return e;
  }

  std::string certs_;
  std::string config_;
};

// A token that expires while the publisher runs (mid-call: each request is
// authorised with the token as it is then) refuses the publisher, never
// its events: they stay in the outbox, Blocked() says why, and once the
// token file is renewed the publisher reads it again and delivers each
// event once. No event is reported refused on the way. A publisher started
// with an expired token is blocked with nothing to send, and is no longer
// once the server takes its renewed token, before any event.
TEST_F(TokenPublisherTest, ATokenThatExpiresIsReadAgainOnceRenewedAndNoEventIsLost) {
  auto server = Server(0, config_);
  const std::string token_file = dir_.Sub("token");
  WriteToken(token_file, absl::Seconds(-10));
  Reported reported;
  clients::PublisherOptions o = TestOptions(address_);
  o.connection = Tls();
  o.connection.token_file = token_file;
  o.source_system = "case-system";
  o.outbox_dir = dir_.Sub("outbox");
  auto publisher =
      clients::Publisher::Start(o, [&](const clients::Outcome& out) { reported.Add(out); });
  ASSERT_TRUE(publisher.ok()) << publisher.status();
  ASSERT_TRUE(Eventually(
      [&] { return (*publisher)->Blocked().code() == absl::StatusCode::kUnauthenticated; },
      absl::Seconds(30)))
      << (*publisher)->Blocked();
  const absl::Duration valid = absl::Seconds(4);
  const absl::Time expires = absl::Now() + valid;
  WriteToken(token_file, valid);
  // Taken (the server says so when it admits a call), with nothing sent.
  ASSERT_TRUE(Eventually([&] { return (*publisher)->Blocked().ok(); }, absl::Seconds(30)))
      << (*publisher)->Blocked();
  EXPECT_EQ((*publisher)->pending(), 0u);
  std::vector<std::string> ids;
  auto publish = [&](int n) {
    for (int i = 0; i < n; ++i) {
      const std::string query_id = absl::StrCat("Q-TOKEN-", ids.size());
      auto id = (*publisher)->Publish(absl::StrCat("query-", query_id), Query(query_id));
      ASSERT_TRUE(id.ok()) << id.status();
      ids.push_back(*id);
    }
  };
  // Delivered while the token is good (on a slow machine some may not be:
  // they wait like the rest).
  publish(10);
  (*publisher)->Flush(expires - absl::Now());
  // Expired, leeway included, on the call the publisher keeps open.
  absl::SleepFor(expires + absl::Seconds(2) - absl::Now());
  publish(10);
  ASSERT_TRUE(Eventually(
      [&] { return (*publisher)->Blocked().code() == absl::StatusCode::kUnauthenticated; },
      absl::Seconds(30)))
      << (*publisher)->Blocked();
  EXPECT_TRUE(absl::StrContains((*publisher)->Blocked().message(), "expired"))
      << (*publisher)->Blocked();
  EXPECT_GE((*publisher)->pending(), 10u);
  {
    absl::MutexLock lock(&reported.mu);
    for (const auto& [id, outcome] : reported.last) {
      EXPECT_TRUE(outcome.status.ok()) << id << ": " << outcome.status;
    }
  }
  WriteToken(token_file, absl::Hours(1));
  ASSERT_TRUE((*publisher)->Flush(absl::Seconds(60))) << (*publisher)->pending() << " left";
  EXPECT_TRUE((*publisher)->Blocked().ok()) << (*publisher)->Blocked();
  std::map<std::string, int> in_log = InTheLogOverTls();
  absl::MutexLock lock(&reported.mu);
  EXPECT_EQ(reported.times.size(), ids.size());
  for (const std::string& id : ids) {
    EXPECT_EQ(reported.times[id], 1) << id;
    EXPECT_TRUE(reported.last[id].status.ok()) << id << ": " << reported.last[id].status;
    EXPECT_EQ(in_log[id], 1) << id;
  }
}

}  // namespace
}  // namespace evenhand
