// Every listener speaks what the gRPC one speaks: with TLS configured the
// /metrics and /healthz listener is HTTPS and wants a client certificate of
// the council's CA; without TLS it may use a loopback address only. A real
// evenhandd child, real certificates from scripts/make-certs, real HTTPS.
#include <signal.h>
#include <sys/wait.h>

#include <string>

#include <httplib.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/testing/child_server.h"
#include "tests/testing/temp_dir.h"

#ifndef MAKE_CERTS_PATH
#error "MAKE_CERTS_PATH must name scripts/make-certs"
#endif

namespace evenhand {
namespace {

using ::evenhand::testing::ChildServer;
using ::evenhand::testing::TempDir;

// "host:port" of the metrics listener, from evenhandd's "started" log line
// (logged before it says it is ready).
std::string MetricsAddress(const std::string& log, const std::string& scheme) {
  const std::string mark = absl::StrCat("metrics=", scheme, "://");
  const size_t at = log.find(mark);
  if (at == std::string::npos) return "";
  const size_t from = at + mark.size();
  return log.substr(from, log.find("/metrics", from) - from);
}

TEST(ListenersTest, WithTlsMetricsAreHttpsForAClientCertificateOfTheCouncilsCa) {
  // The refused handshakes below end with the server hanging up: a write
  // then fails with EPIPE rather than ending this process.
  ::signal(SIGPIPE, SIG_IGN);
  TempDir dir;
  const std::string certs = dir.Sub("certs");
  const std::string command =
      absl::StrCat(MAKE_CERTS_PATH, " ", certs, " localhost 127.0.0.1 >/dev/null");
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  ChildServer server(dir, 0,
                     {absl::StrCat("--config=", certs, "/evenhandd.tls.json"),
                      "--metrics_listen=127.0.0.1:0"});
  server.Start();
  const std::string address = MetricsAddress(server.Log(), "https");
  ASSERT_FALSE(address.empty()) << server.Log();
  const std::string host = address.substr(0, address.rfind(':'));
  int port = 0;
  ASSERT_TRUE(absl::SimpleAtoi(address.substr(address.rfind(':') + 1), &port)) << address;

  // The monitoring system's certificate: served.
  {
    httplib::SSLClient https(host, port, certs + "/monitoring.pem", certs + "/monitoring.key");
    https.set_ca_cert_path((certs + "/ca.pem").c_str());
    https.enable_server_certificate_verification(true);
    auto got = https.Get("/metrics");
    ASSERT_TRUE(got) << httplib::to_string(got.error());
    EXPECT_EQ(got->status, 200);
    EXPECT_TRUE(absl::StrContains(got->body, "evenhand_")) << got->body.substr(0, 200);
    auto health = https.Get("/healthz");
    ASSERT_TRUE(health) << httplib::to_string(health.error());
    EXPECT_EQ(health->status, 200);
  }
  // No client certificate: the handshake is refused.
  {
    httplib::SSLClient https(host, port);
    https.set_ca_cert_path((certs + "/ca.pem").c_str());
    https.enable_server_certificate_verification(true);
    EXPECT_FALSE(https.Get("/healthz")) << "answered a client without a certificate";
  }
  // A certificate of another CA: refused.
  {
    httplib::SSLClient https(host, port, certs + "/intruder.pem", certs + "/intruder.key");
    https.set_ca_cert_path((certs + "/ca.pem").c_str());
    https.enable_server_certificate_verification(true);
    EXPECT_FALSE(https.Get("/healthz")) << "answered a certificate of another CA";
  }
  // Plain HTTP: no answer.
  {
    httplib::Client http(host, port);
    http.set_read_timeout(5, 0);
    auto got = http.Get("/metrics");
    EXPECT_FALSE(got && got->status == 200) << "served metrics in plain HTTP";
  }
  // Still serving after every refused peer hung up on it.
  httplib::SSLClient https(host, port, certs + "/monitoring.pem", certs + "/monitoring.key");
  https.set_ca_cert_path((certs + "/ca.pem").c_str());
  https.enable_server_certificate_verification(true);
  auto again = https.Get("/healthz");
  ASSERT_TRUE(again) << httplib::to_string(again.error()) << server.Log();
  EXPECT_EQ(again->status, 200);
  EXPECT_EQ(::kill(server.pid(), 0), 0) << "evenhandd died: " << server.Log();
}

TEST(ListenersTest, PlainMetricsOnAnAddressOtherThanLoopbackRefuseToStart) {
  TempDir dir;
  ChildServer server(dir, 0, {"--metrics_listen=0.0.0.0:0"});
  const int status = server.StartExpectingFailure();
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_NE(WEXITSTATUS(status), 0);
  const std::string log = server.Log();
  EXPECT_TRUE(absl::StrContains(log, "refusing to serve metrics in plain HTTP on 0.0.0.0:0"))
      << log;
  EXPECT_TRUE(absl::StrContains(log, "security.tls")) << log;
}

TEST(ListenersTest, PlainMetricsOnLoopbackAreServed) {
  TempDir dir;
  ChildServer server(dir, 0, {"--metrics_listen=127.0.0.1:0"});
  server.Start();
  const std::string address = MetricsAddress(server.Log(), "http");
  ASSERT_FALSE(address.empty()) << server.Log();
  httplib::Client http(absl::StrCat("http://", address));
  auto got = http.Get("/healthz");
  ASSERT_TRUE(got) << httplib::to_string(got.error());
  EXPECT_EQ(got->status, 200);
}

}  // namespace
}  // namespace evenhand
