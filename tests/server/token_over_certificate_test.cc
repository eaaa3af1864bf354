// A person's token sent over a system's client certificate, on a real
// server over TLS with make-certs' certificates and identity provider:
// the caller is the token's person, and the access record names both; with
// security.tls.requireClientCertificate (systems only) the token is
// refused.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"
#include "clients/event_log_client.h"
#include "clients/fairness_client.h"
#include "gtest/gtest.h"
#include "tests/testing/child_server.h"
#include "tests/testing/demo_callers.h"
#include "tests/testing/log_files.h"
#include "tests/testing/make_certs.h"
#include "tests/testing/temp_dir.h"

namespace evenhand {
namespace {

using testing::ChildServer;
using testing::TempDir;

// A clerk's token over the green group's certificate, to `server`.
absl::StatusOr<std::shared_ptr<grpc::Channel>> ClerkOverGreen(const ChildServer& server,
                                                             const TempDir& dir,
                                                             const std::string& certs) {
  clients::Connection c = testing::DemoConnection(server.address(), certs, "green");
  c.token_file = dir.Sub("clerk.jwt");
  testing::WriteFile(c.token_file, testing::DemoToken(certs, "clerk.evans", "standards-committee",
                                                      absl::Hours(1)));
  return clients::Dial(c);
}

TEST(TokenOverCertificateTest, IsThePersonAndTheRecordNamesBoth) {
  TempDir dir;
  const std::string certs = dir.Sub("certs");
  ASSERT_TRUE(testing::MakeCerts(certs));
  ChildServer server(dir, 0, {absl::StrCat("--config=", certs, "/evenhandd.tls.json")});
  server.Start();
  auto clerk = ClerkOverGreen(server, dir, certs);
  ASSERT_TRUE(clerk.ok()) << clerk.status();
  // The committee's report, which green's certificate alone may not read.
  absl::StatusOr<v1::FairnessReport> report =
      clients::FairnessClient(v1::Fairness::NewStub(*clerk)).GetReport(v1::ReportRequest());
  ASSERT_TRUE(report.ok()) << report.status();
  auto auditor = clients::Dial(testing::DemoConnection(server.address(), certs, "auditor"));
  ASSERT_TRUE(auditor.ok()) << auditor.status();
  v1::ReadStreamRequest read;
  read.set_stream_id("access-clerk.evans");
  std::vector<std::string> who;
  ASSERT_TRUE(clients::EventLogClient(v1::EventLog::NewStub(*auditor))
                  .ReadStream(read,
                              [&](const v1::RecordedEvent& e) {
                                who.push_back(
                                    e.event().payload().access_recorded().authenticated_as());
                                return true;
                              })
                  .ok());
  ASSERT_FALSE(who.empty());
  EXPECT_EQ(who.front(), "token clerk.evans over certificate green.demo.council");
}

TEST(TokenOverCertificateTest, IsRefusedWhenTheServerServesSystemsOnly) {
  TempDir dir;
  const std::string certs = dir.Sub("certs");
  ASSERT_TRUE(testing::MakeCerts(certs));
  const std::string path = dir.Sub("systems-only.json");
  testing::WriteFile(path, absl::StrReplaceAll(testing::ReadFile(certs + "/evenhandd.tls.json"),
                                               {{"\"tls\": {", "\"tls\": {"
                                                               "\"requireClientCertificate\": "
                                                               "true, "}}));
  ChildServer server(dir, 0, {absl::StrCat("--config=", path)});
  server.Start();
  auto clerk = ClerkOverGreen(server, dir, certs);
  ASSERT_TRUE(clerk.ok()) << clerk.status();
  absl::StatusOr<v1::FairnessReport> report =
      clients::FairnessClient(v1::Fairness::NewStub(*clerk)).GetReport(v1::ReportRequest());
  ASSERT_TRUE(absl::IsUnauthenticated(report.status())) << report.status();
  EXPECT_TRUE(absl::StrContains(report.status().message(), "takes no bearer token"))
      << report.status();
  // The certificate alone is served as green.
  auto green = clients::Dial(testing::DemoConnection(server.address(), certs, "green"));
  ASSERT_TRUE(green.ok()) << green.status();
  v1::ReadStreamRequest read;
  read.set_stream_id("access-green-group");
  EXPECT_FALSE(absl::IsUnauthenticated(
      clients::EventLogClient(v1::EventLog::NewStub(*green))
          .ReadStream(read, [](const v1::RecordedEvent&) { return true; })));
}

}  // namespace
}  // namespace evenhand
