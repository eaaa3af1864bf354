// A client that fails to authenticate in a loop, and a scanner whose
// certificate no CA of the council signed, against a real evenhandd over
// TLS: its log stays one JSON object per line (gRPC's own lines too) and
// holds 5 lines of each kind a window, not one a call (base/log_repeats.h,
// server/grpc_log.h; how the lines not written are told is in
// tests/base/log_repeats_test.cc, on a clock of its own).
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "clients/connection.h"
#include "clients/fairness_client.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
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

struct Line {
  std::string level, component, message;
};

TEST(LogFloodTest, RefusalsAndFailedHandshakesInALoopAreToldNotWrittenEachTime) {
  TempDir dir;
  const std::string certs = dir.Sub("certs");
  ASSERT_TRUE(testing::MakeCerts(certs));
  const std::string config = dir.Sub("config.json");
  testing::WriteFile(config, absl::StrReplaceAll(ReadFile(certs + "/evenhandd.tls.json"),
                                                 {{"\"security\": {",
                                                   "\"log\": {\"repeatSeconds\": 600}, "
                                                   "\"security\": {"}}));
  ChildServer server(dir, 0, {"--config=" + config, "--metrics_listen=off"});
  server.Start();

  // Trusting the council's CA, with no certificate and no token; or with
  // a certificate of another CA.
  auto call = [&](bool intruder) {
    clients::Connection c;
    c.address = server.address();
    c.ca_file = certs + "/ca.pem";
    if (intruder) {
      c.cert_file = certs + "/intruder.pem";
      c.key_file = certs + "/intruder.key";
    }
    auto channel = clients::Dial(c);
    if (!channel.ok()) return channel.status();
    return clients::FairnessClient(v1::Fairness::NewStub(*channel))
        .ListRules(absl::Seconds(5))
        .status();
  };
  for (int i = 0; i < 40; ++i) {
    EXPECT_EQ(call(false).code(), absl::StatusCode::kUnauthenticated);
    EXPECT_FALSE(call(true).ok());
  }
  // gRPC writes its lines from its own threads: wait for them to settle.
  std::string text = server.Log();
  for (int i = 0; i < 40; ++i) {
    absl::SleepFor(absl::Milliseconds(250));
    const std::string now = server.Log();
    if (now == text && absl::StrContains(now, "Handshake failed")) break;
    text = now;
  }

  std::vector<Line> lines;
  std::istringstream log(server.Log());
  for (std::string text; std::getline(log, text);) {
    // The one line for a person at a terminal, on stdout.
    if (absl::StartsWith(text, "Even Hand is serving on")) continue;
    google::protobuf::Struct s;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(text, &s).ok())
        << "not a JSON line: " << text;
    lines.push_back({s.fields().at("level").string_value(),
                     s.fields().at("component").string_value(),
                     s.fields().at("message").string_value()});
  }
  std::vector<const Line*> refused, handshakes;
  for (const Line& l : lines) {
    // (Refused on its headers, before its request is read: gRPC does not
    // tell that step the caller's address.)
    if (l.component == "auth" &&
        absl::StrContains(l.message, "on its headers, before its request was read")) {
      refused.push_back(&l);
    }
    if (l.component == "grpc" && absl::StrContains(l.message, "Handshake failed")) {
      handshakes.push_back(&l);
    }
  }
  // 40 of each, 5 written.
  EXPECT_EQ(refused.size(), 5u) << server.Log();
  EXPECT_EQ(handshakes.size(), 5u) << server.Log();
  // A client's failed handshake is the client's fault: a warning, as a
  // refusal is, so that alerts on errors are not raised by port scanners.
  for (const Line* l : handshakes) EXPECT_EQ(l->level, "warning") << l->message;
}

}  // namespace
}  // namespace evenhand
