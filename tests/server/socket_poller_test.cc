// SocketPoller: the queue that keeps one thread polling a server whose
// callback methods are idle. A real gRPC server on 127.0.0.1 with a
// callback method and a synchronous one, as evenhandd has. These tests
// check its life only: its thread runs while the server serves (and the
// server answers both kinds of call), and every way a server ends (stopped
// after its shutdown, never started, destroyed after its server, as
// evenhandd's members are) lets the thread go without hanging. What it is
// for, no stall of 100 ms every 1.1 s, is a matter of time, which tests do
// not measure: evenhand_bench --parts=reports does (docs/PERFORMANCE.md).
#include "server/socket_poller.h"

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "evenhand/v1/log.grpc.pb.h"
#include "gtest/gtest.h"

namespace evenhand::server {
namespace {

// The callback method (Append) makes gRPC leave socket polling to callback
// queues, as EventLogService's do; GetStatus is synchronous.
class Service final : public v1::EventLog::WithCallbackMethod_Append<v1::EventLog::Service> {
 public:
  grpc::Status GetStatus(grpc::ServerContext*, const v1::GetStatusRequest*,
                         v1::GetStatusResponse* response) override {
    response->set_last_position(42);
    return grpc::Status::OK;
  }
};

// Threads of this process named `name`.
int ThreadsNamed(const std::string& name) {
  // (A joined thread can stay listed for a moment.)
  int n = 0;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string line;
    if (std::getline(comm, line) && line == name) ++n;
  }
  return n;
}

// Whether no thread is named `name` within a few seconds.
bool NoThreadNamed(const std::string& name) {
  for (int i = 0; i < 500; ++i) {
    if (ThreadsNamed(name) == 0) return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return false;
}

// What every test builds: the service, to listen on `address` (the port
// chosen goes to `port`), as evenhandd's builder is set up.
struct Listening {
  explicit Listening(const std::string& address) {
    builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&service);
  }
  Service service;
  grpc::ServerBuilder builder;
  int port = 0;
};

TEST(SocketPollerTest, PollsWhileTheServerServesAndStopsAfterIt) {
  Listening setup("127.0.0.1:0");
  grpc::ServerBuilder& builder = setup.builder;
  SocketPoller poller(builder);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  ASSERT_NE(setup.port, 0);
  poller.Start();
  EXPECT_EQ(ThreadsNamed("eh-poller"), 1);

  auto stub = v1::EventLog::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", setup.port), grpc::InsecureChannelCredentials()));
  for (int i = 0; i < 20; ++i) {
    grpc::ClientContext context;
    v1::GetStatusResponse response;
    ASSERT_TRUE(stub->GetStatus(&context, v1::GetStatusRequest(), &response).ok());
    EXPECT_EQ(response.last_position(), 42u);
  }
  // The callback method is there too (not implemented: UNIMPLEMENTED).
  grpc::ClientContext context;
  v1::AppendResponse appended;
  EXPECT_EQ(stub->Append(&context, v1::AppendRequest(), &appended).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);

  server->Shutdown();
  server->Wait();
  poller.Stop();
  EXPECT_TRUE(NoThreadNamed("eh-poller"));
  poller.Stop();  // again: nothing to do
}

TEST(SocketPollerTest, AServerThatDidNotStartLetsItsQueueGo) {
  Listening setup("127.0.0.1:notaport");
  grpc::ServerBuilder& builder = setup.builder;
  SocketPoller poller(builder);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  EXPECT_EQ(server, nullptr);
  poller.Stop();  // never started: shut down and drained without a thread
  EXPECT_TRUE(NoThreadNamed("eh-poller"));
}

TEST(SocketPollerTest, DestroyedAfterItsServerItStopsItself) {
  Listening setup("127.0.0.1:0");
  grpc::ServerBuilder& builder = setup.builder;
  {
    SocketPoller poller(builder);
    std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
    ASSERT_NE(server, nullptr);
    poller.Start();
    server->Shutdown();
    server->Wait();
  }  // ~SocketPoller stops the thread
  EXPECT_TRUE(NoThreadNamed("eh-poller"));
}

}  // namespace
}  // namespace evenhand::server
