// Every listener speaks what the gRPC one speaks: with TLS configured the
// /metrics and /healthz listener is HTTPS and wants a client certificate of
// the council's CA; without TLS it may use a loopback address only. A real
// evenhandd child, real certificates from scripts/make-certs, real HTTPS.
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "evenhand/v1/log.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/testing/child_server.h"
#include "tests/testing/demo_callers.h"
#include "tests/testing/make_certs.h"
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
  ASSERT_TRUE(testing::MakeCerts(certs));
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
  // A group's certificate: its health, but not the log's counts, which
  // GetStatus refuses it too (outside probe: any council certificate read
  // them).
  {
    httplib::SSLClient https(host, port, certs + "/labour.pem", certs + "/labour.key");
    https.set_ca_cert_path((certs + "/ca.pem").c_str());
    https.enable_server_certificate_verification(true);
    auto got = https.Get("/metrics");
    ASSERT_TRUE(got) << httplib::to_string(got.error());
    EXPECT_EQ(got->status, 403);
    EXPECT_TRUE(absl::StrContains(got->body, "/metrics is read as GetStatus is: ")) << got->body;
    EXPECT_TRUE(absl::StrContains(got->body, "needs the role monitoring")) << got->body;
    EXPECT_FALSE(absl::StrContains(got->body, "evenhand_")) << got->body;
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

// A council that names its issuing (intermediate) CA as the client CA
// trusts what that CA issues, on both ports alike, and not what its root
// signs directly (outside probe: the metrics port refused every client
// certificate of an intermediate that the gRPC port took).
TEST(ListenersTest, AnIssuingCaNamedAsTheClientCaIsTrustedOnBothPortsAlike) {
  ::signal(SIGPIPE, SIG_IGN);
  TempDir dir;
  const std::string certs = dir.Sub("certs");
  ASSERT_TRUE(testing::MakeCerts(certs));
  // An issuing CA under make-certs' root, and a monitoring certificate of
  // it, sent with the issuing CA's after it.
  const std::string script = absl::StrCat(
      "set -e; cd ", certs, "; umask 077; o() { openssl \"$@\" 2>/dev/null; }; ",
      "o req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj '/CN=Issuing CA' "
      "-keyout issuing.key -out issuing.csr; ",
      "printf 'basicConstraints=critical,CA:TRUE\\nkeyUsage=critical,keyCertSign\\n' > i.ext; ",
      "o x509 -req -in issuing.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 "
      "-extfile i.ext -out issuing.pem; ",
      "o req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
      "-subj '/CN=monitoring.demo.council' -keyout issued.key -out issued.csr; ",
      "printf 'subjectAltName=DNS:monitoring.demo.council\\nextendedKeyUsage=clientAuth\\n' "
      "> m.ext; ",
      "o x509 -req -in issued.csr -CA issuing.pem -CAkey issuing.key -CAcreateserial -days 30 "
      "-extfile m.ext -out issued-leaf.pem; ",
      "cat issued-leaf.pem issuing.pem > issued.pem; ",
      "sed 's#/ca.pem\"#/issuing.pem\"#' evenhandd.tls.json > issuing.json");
  ASSERT_EQ(std::system(script.c_str()), 0) << script;
  ChildServer server(
      dir, 0, {absl::StrCat("--config=", certs, "/issuing.json"), "--metrics_listen=127.0.0.1:0"});
  server.Start();
  const std::string metrics = MetricsAddress(server.Log(), "https");
  ASSERT_FALSE(metrics.empty()) << server.Log();
  int port = 0;
  ASSERT_TRUE(absl::SimpleAtoi(metrics.substr(metrics.rfind(':') + 1), &port)) << metrics;

  for (const auto& [who, taken] : {std::pair<std::string, bool>{"issued", true},
                                   std::pair<std::string, bool>{"monitoring", false}}) {
    SCOPED_TRACE(who);
    httplib::SSLClient https("127.0.0.1", port, absl::StrCat(certs, "/", who, ".pem"),
                             absl::StrCat(certs, "/", who, ".key"));
    https.set_ca_cert_path((certs + "/ca.pem").c_str());
    https.enable_server_certificate_verification(true);
    auto got = https.Get("/healthz");
    EXPECT_EQ(got && got->status == 200, taken)
        << (got ? std::to_string(got->status) : httplib::to_string(got.error()));

    auto channel = testing::SmallWindowChannel(server.address(), certs, who);
    auto stub = v1::EventLog::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    v1::GetStatusResponse status;
    const grpc::Status s = stub->GetStatus(&context, v1::GetStatusRequest(), &status);
    EXPECT_EQ(s.ok(), taken) << s.error_message();
  }
}

TEST(ListenersTest, PlainTextOnAnAddressOtherThanLoopbackRefusesToStart) {
  TempDir dir;
  ChildServer server(dir, 0, {"--listen=0.0.0.0:0"});
  const int status = server.StartExpectingFailure();
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_NE(WEXITSTATUS(status), 0);
  EXPECT_TRUE(absl::StrContains(server.Log(), "security.tls.certFile")) << server.Log();
  EXPECT_TRUE(absl::StrContains(server.Log(), "scripts/make-certs")) << server.Log();
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

// A TCP connection to "127.0.0.1:port"; -1 if it cannot be made. Without
// waiting (`nonblocking`), one still being made counts: once the server's
// backlog is full, the kernel answers a connection only as it is accepted.
int ConnectTo(const std::string& address, bool nonblocking = false) {
  int port = 0;
  if (!absl::SimpleAtoi(address.substr(address.rfind(':') + 1), &port)) return -1;
  const int fd = ::socket(AF_INET, SOCK_STREAM | (nonblocking ? SOCK_NONBLOCK : 0), 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 &&
      !(nonblocking && errno == EINPROGRESS)) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// The file descriptors process `pid` holds.
int OpenDescriptors(pid_t pid) {
  int n = 0;
  DIR* d = ::opendir(absl::StrCat("/proc/", pid, "/fd").c_str());
  if (d == nullptr) return -1;
  while (::readdir(d) != nullptr) ++n;
  ::closedir(d);
  return n;
}

// evenhandd with plain metrics on loopback, started, and the metrics
// listener's "host:port".
class PlainMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.Start();
    address_ = MetricsAddress(server_.Log(), "http");
    ASSERT_FALSE(address_.empty()) << server_.Log();
  }

  TempDir dir_;
  ChildServer server_{dir_, 0, {"--metrics_listen=127.0.0.1:0"}};
  std::string address_;
};

// Clients that connect to the metrics port and send nothing are left in the
// kernel's backlog beyond a few: each accepted one is a descriptor of the
// server's, and the ones RocksDB and gRPC need must not run out.
TEST_F(PlainMetricsTest, SilentMetricsClientsDoNotTakeTheServersDescriptors) {
  const int before = OpenDescriptors(server_.pid());
  std::vector<int> silent;
  for (int i = 0; i < 300; ++i) {
    const int fd = ConnectTo(address_, /*nonblocking=*/true);
    if (fd >= 0) silent.push_back(fd);
  }
  ASSERT_GT(silent.size(), 100u);
  absl::SleepFor(absl::Seconds(1));  // what the server would accept, it has
  const int during = OpenDescriptors(server_.pid());
  EXPECT_LT(during - before, 40) << "the metrics listener took a descriptor per silent client";
  for (int fd : silent) ::close(fd);
  httplib::Client http(absl::StrCat("http://", address_));
  http.set_read_timeout(60, 0);
  auto got = http.Get("/healthz");
  ASSERT_TRUE(got) << httplib::to_string(got.error());
  EXPECT_EQ(got->status, 200);
}

// A POST (or any method but GET and HEAD) is refused before its body is
// read, and the connection closed behind the refusal: a chunked body that
// never ends is not taken into memory.
TEST_F(PlainMetricsTest, AMetricsPostIsRefusedBeforeItsBodyIsRead) {
  const int fd = ConnectTo(address_);
  ASSERT_GE(fd, 0);
  const std::string head =
      "POST /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "7fffffff\r\n";
  ASSERT_EQ(::send(fd, head.data(), head.size(), MSG_NOSIGNAL), static_cast<ssize_t>(head.size()));
  const std::string junk(64 << 10, 'j');
  ASSERT_GT(::send(fd, junk.data(), junk.size(), MSG_NOSIGNAL), 0);
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 20000), 1) << "no answer while the body was still coming";
  char answer[256] = {};
  ASSERT_GT(::recv(fd, answer, sizeof(answer) - 1, 0), 0);
  EXPECT_TRUE(absl::StartsWith(answer, "HTTP/1.1 405")) << answer;
  // The server has closed the connection: sending more fails well before
  // a gigabyte.
  bool refused = false;
  for (int i = 0; i < (1 << 14) && !refused; ++i) {
    refused = ::send(fd, junk.data(), junk.size(), MSG_NOSIGNAL) < 0;
  }
  EXPECT_TRUE(refused) << "the server went on reading the body";
  ::close(fd);
}

// A client trickling a request (a byte every half second, each within the
// read timeout) does not hold the server's stop: it is not waited for
// beyond a short grace, so the log is closed and the last checkpoint signed.
TEST_F(PlainMetricsTest, AStopIsNotHeldByAMetricsClientTricklingItsRequest) {
  const int fd = ConnectTo(address_);
  ASSERT_GE(fd, 0);
  std::atomic<bool> done{false};
  std::thread trickle([&] {
    const std::string start = "GET /metrics HTTP/1.1\r\nX-Slow: ";
    ::send(fd, start.data(), start.size(), MSG_NOSIGNAL);
    for (int i = 0; i < 120 && !done; ++i) {
      if (::send(fd, "a", 1, MSG_NOSIGNAL) < 0) break;
      absl::SleepFor(absl::Milliseconds(500));
    }
  });
  absl::SleepFor(absl::Seconds(1));
  server_.Signal(SIGTERM);
  int status = 0;
  bool exited = false;
  for (int i = 0; i < 400 && !exited; ++i) {  // up to 40 s; the trickle lasts 60
    exited = ::waitpid(server_.pid(), &status, WNOHANG) == server_.pid();
    if (!exited) absl::SleepFor(absl::Milliseconds(100));
  }
  done = true;
  trickle.join();
  ::close(fd);
  ASSERT_TRUE(exited) << "evenhandd did not stop while a metrics client trickled";
  server_.Wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_TRUE(absl::StrContains(server_.Log(), "\"stopped data_dir=")) << server_.Log();
}

// Clients trickling their request heads a byte at a time, more of them
// than the listener has threads, do not keep /healthz from answering: each
// is cut off once its deadline passes, whatever pace its bytes come at.
TEST_F(PlainMetricsTest, ClientsTricklingTheirRequestsDoNotKeepHealthFromAnswering) {
  std::vector<int> trickling;
  for (int i = 0; i < 20; ++i) {
    const int fd = ConnectTo(address_);
    ASSERT_GE(fd, 0);
    const std::string start = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
    ASSERT_GT(::send(fd, start.data(), start.size(), MSG_NOSIGNAL), 0);
    trickling.push_back(fd);
  }
  std::atomic<bool> done{false};
  std::atomic<int> cut_off{0};
  std::thread trickle([&] {
    std::vector<bool> cut(trickling.size(), false);
    for (int round = 0; round < 240 && !done; ++round) {  // a header line every 250 ms
      for (size_t i = 0; i < trickling.size(); ++i) {
        if (cut[i]) continue;
        if (::send(trickling[i], "X-A: b\r\n", 8, MSG_NOSIGNAL) < 0) {
          cut[i] = true;
          ++cut_off;
        }
      }
      absl::SleepFor(absl::Milliseconds(250));
    }
  });
  absl::SleepFor(absl::Milliseconds(500));
  httplib::Client http(absl::StrCat("http://", address_));
  http.set_read_timeout(50, 0);
  http.set_connection_timeout(50, 0);
  auto got = http.Get("/healthz");
  done = true;
  trickle.join();
  for (int fd : trickling) ::close(fd);
  ASSERT_TRUE(got) << httplib::to_string(got.error());
  EXPECT_EQ(got->status, 200);
  EXPECT_GT(cut_off.load(), 0) << "no trickling client was cut off";
}

// A request head over 8 KiB (a flood of headers) is refused 431, a request
// line over it 414, not held in memory; a Range header is not honoured (the whole answer, 200).
TEST_F(PlainMetricsTest, AnOversizedRequestHeadIsRefusedAndRangesAreNotHonoured) {
  const int fd = ConnectTo(address_);
  ASSERT_GE(fd, 0);
  std::string head = "GET /metrics HTTP/1.1\r\n";
  while (head.size() < (64 << 10)) head += "X-A: b\r\n";
  ::send(fd, head.data(), head.size(), MSG_NOSIGNAL);
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 20000), 1);
  char answer[256] = {};
  ASSERT_GT(::recv(fd, answer, sizeof(answer) - 1, 0), 0);
  EXPECT_TRUE(absl::StartsWith(answer, "HTTP/1.1 431")) << answer;
  ::close(fd);

  // A request line alone over 8 KiB is a target too long (414).
  const int long_line = ConnectTo(address_);
  ASSERT_GE(long_line, 0);
  const std::string path = "GET /" + std::string(9 << 10, 'a') + " HTTP/1.1\r\n\r\n";
  ::send(long_line, path.data(), path.size(), MSG_NOSIGNAL);
  pollfd l{long_line, POLLIN, 0};
  ASSERT_EQ(::poll(&l, 1, 20000), 1);
  char long_answer[256] = {};
  ASSERT_GT(::recv(long_line, long_answer, sizeof(long_answer) - 1, 0), 0);
  EXPECT_TRUE(absl::StartsWith(long_answer, "HTTP/1.1 414")) << long_answer;
  ::close(long_line);

  // A hand-typed request (bare LF line ends, printf | nc) is answered.
  const int typed = ConnectTo(address_);
  ASSERT_GE(typed, 0);
  const std::string bare = "GET /healthz HTTP/1.0\nHost: x\n\n";
  ::send(typed, bare.data(), bare.size(), MSG_NOSIGNAL);
  pollfd q{typed, POLLIN, 0};
  ASSERT_EQ(::poll(&q, 1, 20000), 1);
  char typed_answer[256] = {};
  ASSERT_GT(::recv(typed, typed_answer, sizeof(typed_answer) - 1, 0), 0);
  EXPECT_TRUE(absl::StartsWith(typed_answer, "HTTP/1.1 200")) << typed_answer;
  ::close(typed);

  httplib::Client http(absl::StrCat("http://", address_));
  auto whole = http.Get("/healthz", {{"Range", "bytes=0-3"}});
  ASSERT_TRUE(whole) << httplib::to_string(whole.error());
  EXPECT_EQ(whole->status, 200);
  EXPECT_EQ(whole->body, "SERVING\n");
  auto metrics = http.Get("/metrics", {{"Range", "bytes=0-,0-,0-,0-"}});
  ASSERT_TRUE(metrics) << httplib::to_string(metrics.error());
  EXPECT_EQ(metrics->status, 200);
  EXPECT_FALSE(metrics->has_header("Content-Range"));
  EXPECT_TRUE(absl::StartsWith(metrics->body, "# HELP")) << metrics->body.substr(0, 100);
}

TEST_F(PlainMetricsTest, PlainMetricsOnLoopbackAreServed) {
  httplib::Client http(absl::StrCat("http://", address_));
  auto got = http.Get("/healthz");
  ASSERT_TRUE(got) << httplib::to_string(got.error());
  EXPECT_EQ(got->status, 200);
}

}  // namespace
}  // namespace evenhand
