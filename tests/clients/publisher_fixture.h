// What the publisher's tests share: options, an event to publish, the
// outcomes as reported, and a fixture with a child evenhandd (or a plain
// gRPC stand-in) on one address.
#ifndef EVENHAND_TESTS_CLIENTS_PUBLISHER_FIXTURE_H_
#define EVENHAND_TESTS_CLIENTS_PUBLISHER_FIXTURE_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "base/time_util.h"
#include "clients/publisher.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/testing/child_server.h"
#include "tests/testing/temp_dir.h"

namespace evenhand::testing {

// A publisher's options for the tests: to `address`, as "publisher-test".
inline clients::PublisherOptions TestOptions(const std::string& address) {
  clients::PublisherOptions o;
  o.connection.address = address;
  o.source_system = "publisher-test";
  return o;
}

inline int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  const int port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

inline v1::Event Officer(const std::string& id) {
  v1::Event e;
  e.set_type("OfficerRegistered");
  auto* o = e.mutable_payload()->mutable_officer_registered();
  o->set_officer_id(id);
  o->set_name("Officer");
  o->set_role(v1::OFFICER);
  *e.mutable_occurred_at() = ToProtoTime(absl::Now());
  return e;
}

// Outcomes as reported, by event id.
struct Reported {
  absl::Mutex mu;
  std::map<std::string, int> times;
  std::map<std::string, clients::Outcome> last;
  void Add(const clients::Outcome& o) {
    absl::MutexLock lock(&mu);
    ++times[o.event_id];
    last[o.event_id] = o;
  }
};

class PublisherTest : public ::testing::Test {
 protected:
  void SetUp() override { address_ = absl::StrCat("127.0.0.1:", FreePort()); }

  // The events here repeat a registration on one stream (to fill batches),
  // which the protocol model would refuse: the log itself is under test.
  std::unique_ptr<ChildServer> Server(
      int generation, const std::string& json = R"({"skipDomainValidation": true})") {
    const std::string config = dir_.Sub("config.json");
    std::ofstream(config) << json;
    auto s = std::make_unique<ChildServer>(
        dir_, generation,
        std::vector<std::string>{"--listen=" + address_, "--metrics_listen=off",
                                 "--config=" + config});
    s->Start();
    return s;
  }

  std::unique_ptr<clients::Publisher> NewPublisher(Reported* reported, bool outbox = true) {
    clients::PublisherOptions o = TestOptions(address_);
    o.batch_max_events = 20;
    if (outbox) o.outbox_dir = dir_.Sub("outbox");
    auto p = clients::Publisher::Start(
        o, [reported](const clients::Outcome& out) { reported->Add(out); });
    EXPECT_TRUE(p.ok()) << p.status();
    return *std::move(p);
  }

  // A plain gRPC server of `service` on 127.0.0.1, which address_ then
  // names: a stand-in for evenhandd where the publisher is under test.
  std::unique_ptr<grpc::Server> StandIn(grpc::Service* service) {
    grpc::ServerBuilder builder;
    builder.RegisterService(service);
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
    address_ = absl::StrCat("127.0.0.1:", port);
    return server;
  }

  // Every id in the log exactly once.
  std::map<std::string, int> InTheLog(ChildServer& server) {
    std::map<std::string, int> ids;
    EXPECT_TRUE(server.client()
                    .ReadAll({},
                             [&](const v1::RecordedEvent& e) {
                               ++ids[e.event().event_id()];
                               return true;
                             })
                    .ok());
    return ids;
  }

  // PublisherTest.DISABLED_HandOverThenDie, run in a child process of this
  // test binary: 50 events handed over on `outbox` with nobody listening,
  // then SIGKILL.
  static void HandOverFiftyAndDie(const std::string& outbox) {
    const std::string command =
        absl::StrCat("EVENHAND_TEST_OUTBOX=", outbox, " /proc/", ::getpid(),
                     "/exe --gtest_also_run_disabled_tests "
                     "--gtest_filter=PublisherTest.DISABLED_HandOverThenDie > /dev/null 2>&1");
    const int status = std::system(command.c_str());
    ASSERT_TRUE(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0))
        << "the publisher was meant to die";
  }

  // A publisher on the outbox the dead one left delivers its 50 events,
  // each reported once, OK, and in the log once.
  void DeliversTheFiftyOnce() {
    auto server = Server(0);
    Reported reported;
    auto publisher = NewPublisher(&reported);
    EXPECT_EQ(publisher->pending(), 50u);
    ASSERT_TRUE(publisher->Flush(absl::Seconds(30)));
    auto log = InTheLog(*server);
    absl::MutexLock lock(&reported.mu);
    EXPECT_EQ(reported.times.size(), 50u);
    for (const auto& [id, times] : reported.times) {
      EXPECT_EQ(times, 1) << id;
      EXPECT_TRUE(reported.last[id].status.ok()) << reported.last[id].status;
      EXPECT_EQ(log[id], 1) << id;
    }
  }

  TempDir dir_;
  std::string address_;
};

}  // namespace evenhand::testing

#endif  // EVENHAND_TESTS_CLIENTS_PUBLISHER_FIXTURE_H_
