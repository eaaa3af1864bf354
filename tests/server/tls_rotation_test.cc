// The server's certificate, key and client CA renewed while it runs
// (server/tls_files.h): a real evenhandd on files that are replaced as an
// operator or an ACME agent would, checked through real gRPC channels and
// real HTTPS scrapes of its metrics listener. Two CAs of make-certs stand
// for the old and the renewed: which CA verifies the server tells which
// certificate it serves.
#include <httplib.h>
#include <signal.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <utility>
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
#include "tests/testing/make_certs.h"
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
      ASSERT_TRUE(testing::MakeCerts(dir_.Sub(name)));
    }
    live_ = dir_.Sub("live");
    std::filesystem::create_directories(live_);
    Replace("server.pem", "old");
    Replace("server.key", "old");
    Replace("ca.pem", "old");
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

  // Replaces the live `file` with `set`'s, whole (a rename).
  void Replace(const std::string& file, const std::string& set) {
    std::filesystem::copy_file(dir_.Sub(set) + "/" + file, live_ + "/" + file + ".new",
                               std::filesystem::copy_options::overwrite_existing);
    std::filesystem::rename(live_ + "/" + file + ".new", live_ + "/" + file);
  }
  void Write(const std::string& file, const std::string& text) {
    testing::WriteFile(live_ + "/" + file + ".new", text);
    // A key as an operator keeps one (one others can read is refused).
    ::chmod((live_ + "/" + file + ".new").c_str(), 0600);
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
  std::string live_;
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
  // A certificate of a key too weak for OpenSSL to serve (RSA-1024), from
  // the renewed CA.
  const std::string weak = dir_.Sub("weak");
  const std::string command = absl::StrCat(
      "cd ", dir_.Sub("new"), " && openssl req -new -newkey rsa:1024 -nodes -keyout ", weak,
      ".key -subj /CN=localhost -out ", weak, ".csr 2>/dev/null && openssl x509 -req -in ", weak,
      ".csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -out ", weak, ".pem 2>/dev/null");
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  // A certificate from the renewed CA that expired yesterday (a stale copy
  // a renewal job put back).
  const std::string expired = dir_.Sub("expired");
  const std::string make_expired = absl::StrCat(
      "cd ", dir_.Sub("new"), " && openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 ",
      "-nodes -keyout ", expired, ".key -subj /CN=localhost -out ", expired,
      ".csr 2>/dev/null && openssl x509 -req -in ", expired,
      ".csr -CA ca.pem -CAkey ca.key -CAcreateserial -days -1 -out ", expired, ".pem 2>/dev/null");
  ASSERT_EQ(std::system(make_expired.c_str()), 0) << make_expired;
  const std::string half_ca = ReadFile(dir_.Sub("new") + "/ca.pem").substr(0, 300);
  // Each step replaces files (the ones before put back), each is said once,
  // and what was served goes on being served.
  const std::string live = live_;
  const std::vector<std::pair<std::string, std::function<void()>>> steps = {
      {"is not the key of the certificate in", [&] { Replace("server.key", "new"); }},
      {absl::StrCat("security.tls.certFile ", live, "/server.pem: no whole PEM certificate"),
       [&] {
         Replace("server.key", "old");
         // An intermediate caught half-written after the server's own.
         Write("server.pem", ReadFile(dir_.Sub("old") + "/server.pem") + half_ca);
       }},
      {"OpenSSL will not serve them",
       [&] {
         Write("server.key", ReadFile(weak + ".key"));
         Write("server.pem", ReadFile(weak + ".pem"));
       }},
      {"expired on",
       [&] {
         Write("server.key", ReadFile(expired + ".key"));
         Write("server.pem", ReadFile(expired + ".pem"));
       }},
      {absl::StrCat("security.tls.clientCaFile ", live, "/ca.pem: no CA certificate in it"),
       [&] {
         Replace("server.key", "old");
         Replace("server.pem", "old");
         // The server's own certificate where the CA should be.
         Write("ca.pem", ReadFile(dir_.Sub("old") + "/server.pem"));
       }},
      {absl::StrCat("security.tls.clientCaFile ", live, "/ca.pem: no whole PEM certificate"),
       [&] {
         Replace("server.key", "old");
         Replace("server.pem", "old");
         Write("ca.pem", half_ca);
       }},
      {"security.tls.clientCaFile: cannot read",
       [&] { std::filesystem::remove(live_ + "/ca.pem"); }},
  };
  for (const auto& [said, make] : steps) {
    make();
    for (int i = 0; i < 6; ++i) {
      absl::SleepFor(absl::Milliseconds(500));
      absl::Status served = Grpc("old", "old");
      ASSERT_TRUE(served.ok()) << said << ": " << served << "\n" << server_->Log();
      ASSERT_TRUE(Scrape("old", "old")) << said << "\n" << server_->Log();
    }
    const std::string log = server_->Log();
    const size_t first = log.find(said);
    ASSERT_NE(first, std::string::npos) << said << "\n" << log;
    EXPECT_EQ(log.find(said, first + 1), std::string::npos) << said << " twice:\n" << log;
  }
  EXPECT_FALSE(absl::StrContains(server_->Log(), "serving the TLS files as renewed"));

  // Put right: the renewed set is served.
  Replace("server.key", "new");
  Replace("server.pem", "new");
  Replace("ca.pem", "new");
  EXPECT_TRUE(UntilServed("new", "new")) << server_->Log();

  // What is served is the server's own, as private as its signing key.
  struct stat st;
  ASSERT_EQ(::stat((server_->data_dir() + "/tls-served").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat((server_->data_dir() + "/tls-served/current/server.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0077, 0u);
}

}  // namespace
}  // namespace evenhand
