// A fixture that runs the real server (EvenHandServer, the same object
// evenhandd runs) on 127.0.0.1 with RocksDB in a temporary folder, and talks
// to it through a real gRPC channel.
#ifndef EVENHAND_TESTS_TESTING_SERVER_FIXTURE_H_
#define EVENHAND_TESTS_TESTING_SERVER_FIXTURE_H_

#include <memory>

#include "base/logging.h"
#include "clients/event_log_client.h"
#include "clients/fairness_client.h"
#include "evenhand/v1/config.pb.h"
#include "evenhand/v1/log.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "server/server.h"
#include "tests/testing/temp_dir.h"

namespace evenhand::testing {

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override { logging::SetMinimumSeverity(logging::Severity::kWarning); }

  // Starts (or restarts, on the same folder) the server with `config`;
  // listen and data_dir are filled in.
  void StartServer(v1::ServerConfig config = {}) {
    StopServer();
    if (!domain_validation_) config.set_skip_domain_validation(true);
    if (!record_reads_) config.mutable_security()->mutable_local()->set_do_not_record_reads(true);
    config.set_listen("127.0.0.1:0");
    config.set_data_dir(dir_.Sub(data_subdir_));
    server::ServerOptions options;
    options.config = config;
    options.clock = clock_;
    options.seed_demo = seed_demo_;
    options.rebuild_projections = rebuild_projections_;
    if (customize_) customize_(options);
    auto started = server::EvenHandServer::Start(options);
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = std::move(*started);
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(64 << 20);
    args.SetMaxSendMessageSize(64 << 20);
    channel_ = grpc::CreateCustomChannel(server_->address(), grpc::InsecureChannelCredentials(),
                                         args);
    stub_ = v1::EventLog::NewStub(channel_);
    client_ = std::make_unique<clients::EventLogClient>(v1::EventLog::NewStub(channel_));
    fairness_ = std::make_unique<clients::FairnessClient>(v1::Fairness::NewStub(channel_));
  }

  void StopServer() {
    if (server_ != nullptr) server_->Shutdown(absl::Seconds(5));
    client_.reset();
    fairness_.reset();
    stub_.reset();
    channel_.reset();
    server_.reset();
  }

  void TearDown() override { StopServer(); }

  TempDir dir_;
  // The data folder, under dir_.
  std::string data_subdir_ = "data";
  std::function<absl::Time()> clock_;
  // Tests of the log's mechanics append arbitrary events; tests of the
  // domain turn this on.
  bool domain_validation_ = false;
  // Reads go on the record (an event each); tests that count the log's
  // events leave this off.
  bool record_reads_ = false;
  bool seed_demo_ = false;
  bool rebuild_projections_ = false;
  // Changes the server's options before each start (test hooks, clocks).
  std::function<void(server::ServerOptions&)> customize_;
  std::unique_ptr<server::EvenHandServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::EventLog::Stub> stub_;
  std::unique_ptr<clients::EventLogClient> client_;
  std::unique_ptr<clients::FairnessClient> fairness_;
};

}  // namespace evenhand::testing

#endif  // EVENHAND_TESTS_TESTING_SERVER_FIXTURE_H_
