// The server's certificate, key and client CA renewed while it runs
// (server/tls_files.h): a real evenhandd on files that are replaced as an
// operator or an ACME agent would, checked through real gRPC channels and
// real HTTPS scrapes of its metrics listener. Two CAs of make-certs stand
// for the old and the renewed: which CA verifies the server tells which
// certificate it serves.
#include <httplib.h>
#include <signal.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "clients/connection.h"
#include "clients/fairness_client.h"
#include "gtest/gtest.h"
#include "tests/testing/child_server.h"
#include "tests/testing/log_files.h"
#include "tests/testing/temp_dir.h"

namespace evenhand {
namespace {

using testing::ChildServer;
using testing::ReadFile;
using testing::TempDir;

class TlsRotationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::signal(SIGPIPE, SIG_IGN);  // refused handshakes end with a hang-up
    for (const char* name : {"old", "new"}) {
      const std::string command =
          absl::StrCat(MAKE_CERTS_PATH, " ", dir_.Sub(name), " localhost 127.0.0.1 >/dev/null");
      ASSERT_EQ(std::system(command.c_str()), 0) << command;
    }
    live_ = dir_.Sub("live");
    std::filesystem::create_directories(live_);
    Replace("server.pem", "old");
    Replace("server.key", "old");
    Replace("ca.pem", "old");
    // The server's own folder for the files it serves is made here, to be
    // seen removed when it stops.
    tmp_ = dir_.Sub("tmp");
    std::filesystem::create_directories(tmp_);
    ::setenv("TMPDIR", tmp_.c_str(), 1);
    const std::string old = dir_.Sub("old");
    const std::string config = dir_.Sub("config.json");
    testing::WriteFile(
        config,
        absl::StrReplaceAll(ReadFile(old + "/evenhandd.tls.json"),
                            {{old + "/server.pem\"", live_ + "/server.pem\""},
                             {old + "/server.key\"", live_ + "/server.key\""},
                             {old + "/ca.pem\"", live_ + "/ca.pem\", \"checkSeconds\": 1"}}));
    server_ = std::make_unique<ChildServer>(
        dir_, 0, std::vector<std::string>{"--config=" + config, "--metrics_listen=127.0.0.1:0"});
    server_->Start();
    const std::string log = server_->Log();
    const std::string mark = "metrics=https://";
    const size_t at = log.find(mark);
    ASSERT_NE(at, std::string::npos) << log;
    const size_t from = at + mark.size();
    const std::string metrics = log.substr(from, log.find("/metrics", from) - from);
    metrics_host_ = metrics.substr(0, metrics.rfind(':'));
    ASSERT_TRUE(absl::SimpleAtoi(metrics.substr(metrics.rfind(':') + 1), &metrics_port_));
  }
  void TearDown() override { ::unsetenv("TMPDIR"); }

  // Replaces the live `file` with `set`'s, whole (a rename).
  void Replace(const std::string& file, const std::string& set) {
    std::filesystem::copy_file(dir_.Sub(set) + "/" + file, live_ + "/" + file + ".new",
                               std::filesystem::copy_options::overwrite_existing);
    std::filesystem::rename(live_ + "/" + file + ".new", live_ + "/" + file);
  }
  void Write(const std::string& file, const std::string& text) {
    testing::WriteFile(live_ + "/" + file + ".new", text);
    std::filesystem::rename(live_ + "/" + file + ".new", live_ + "/" + file);
  }

  // A call over gRPC, trusting `ca`'s CA, as `client`'s auditor.
  absl::Status Grpc(const std::string& ca, const std::string& client) {
    clients::Connection c;
    c.address = server_->address();
    c.ca_file = dir_.Sub(ca) + "/ca.pem";
    c.cert_file = dir_.Sub(client) + "/auditor.pem";
    c.key_file = dir_.Sub(client) + "/auditor.key";
    auto channel = clients::Dial(c);
    if (!channel.ok()) return channel.status();
    return clients::FairnessClient(v1::Fairness::NewStub(*channel))
        .ListRules(absl::Seconds(5))
        .status();
  }
  // A scrape of /healthz, trusting `ca`'s CA, as `client`'s monitoring.
  bool Scrape(const std::string& ca, const std::string& client) {
    httplib::SSLClient https(metrics_host_, metrics_port_, dir_.Sub(client) + "/monitoring.pem",
                             dir_.Sub(client) + "/monitoring.key");
    https.set_ca_cert_path((dir_.Sub(ca) + "/ca.pem").c_str());
    https.enable_server_certificate_verification(true);
    https.set_connection_timeout(5, 0);
    auto got = https.Get("/healthz");
    return got && got->status == 200;
  }
  // Waits (up to about 20 s) until a call trusting `ca` as `client` is
  // answered.
  bool UntilServed(const std::string& ca, const std::string& client) {
    for (int i = 0; i < 80; ++i) {
      if (Grpc(ca, client).ok() && Scrape(ca, client)) return true;
      absl::SleepFor(absl::Milliseconds(250));
    }
    return false;
  }

  TempDir dir_;
  std::string live_, tmp_;
  std::unique_ptr<ChildServer> server_;
  std::string metrics_host_;
  int metrics_port_ = 0;
};

TEST_F(TlsRotationTest, ARenewedCertificateAndCaAreServedWithoutARestart) {
  ASSERT_TRUE(Grpc("old", "old").ok()) << Grpc("old", "old");
  ASSERT_TRUE(Scrape("old", "old"));
  EXPECT_FALSE(Grpc("new", "old").ok()) << "a CA that did not sign it verified the server";
  EXPECT_FALSE(Scrape("new", "old"));

  // The server's certificate and key are renewed (by the other CA).
  Replace("server.key", "new");
  Replace("server.pem", "new");
  ASSERT_TRUE(UntilServed("new", "old")) << server_->Log();
  EXPECT_FALSE(Grpc("old", "old").ok()) << "the old certificate is still served over gRPC";
  EXPECT_FALSE(Scrape("old", "old")) << "the old certificate is still served for metrics";

  // The CA client certificates must chain to is replaced.
  Replace("ca.pem", "new");
  ASSERT_TRUE(UntilServed("new", "new")) << server_->Log();
  absl::Status old_client = Grpc("new", "old");
  EXPECT_FALSE(old_client.ok()) << "a client of the old CA was taken";
  EXPECT_FALSE(Scrape("new", "old")) << "a scraper of the old CA was answered";

  const std::string log = server_->Log();
  size_t renewed = 0;
  for (size_t at = log.find("serving the TLS files as renewed"); at != std::string::npos;
       at = log.find("serving the TLS files as renewed", at + 1)) {
    ++renewed;
  }
  EXPECT_EQ(renewed, 2u) << log;
}

TEST_F(TlsRotationTest, FilesThatDoNotMatchOrParseKeepWhatIsServed) {
  // A key for another certificate, then (the key put back) a CA file
  // caught half-written, then gone: each said once, and what was served
  // goes on being served.
  Replace("server.key", "new");
  const std::string half = ReadFile(dir_.Sub("new") + "/ca.pem").substr(0, 200);
  for (int step = 0; step < 3; ++step) {
    if (step == 1) {
      Replace("server.key", "old");
      Write("ca.pem", half);
    }
    if (step == 2) std::filesystem::remove(live_ + "/ca.pem");
    for (int i = 0; i < 6; ++i) {
      absl::SleepFor(absl::Milliseconds(500));
      absl::Status served = Grpc("old", "old");
      ASSERT_TRUE(served.ok()) << "step " << step << ": " << served << "\n" << server_->Log();
      ASSERT_TRUE(Scrape("old", "old")) << "step " << step << "\n" << server_->Log();
    }
  }
  const std::string log = server_->Log();
  for (const char* said : {"is not the key of the certificate in", "no PEM certificate in it",
                           "security.tls.clientCaFile: cannot read"}) {
    const size_t first = log.find(said);
    ASSERT_NE(first, std::string::npos) << said << "\n" << log;
    EXPECT_EQ(log.find(said, first + 1), std::string::npos) << said << " twice:\n" << log;
  }
  EXPECT_FALSE(absl::StrContains(log, "serving the TLS files as renewed")) << log;

  // Put right: the renewed set is served.
  Replace("server.key", "new");
  Replace("server.pem", "new");
  Replace("ca.pem", "new");
  EXPECT_TRUE(UntilServed("new", "new")) << server_->Log();

  // Stopped, the server leaves none of the files it served behind.
  server_->Signal(SIGTERM);
  server_->Wait();
  std::string left;
  for (const auto& e : std::filesystem::directory_iterator(tmp_)) left += e.path().string() + " ";
  EXPECT_TRUE(left.empty()) << left << "\n" << server_->Log();
}

}  // namespace
}  // namespace evenhand
