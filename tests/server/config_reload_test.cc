// evenhandd's config read again on SIGHUP (server/config_reload.h): a real
// server over TLS, whose file is rewritten as an operator would, and
// callers with make-certs' certificates. A principal added is taken, one
// removed is refused, and a file that does not parse or that the
// authoriser refuses changes nothing; what only a restart takes is named.
#include <signal.h>

#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/match.h"
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

constexpr char kAuditor[] =
    R"(      {"name": "auditor", "certificateNames": ["auditor.demo.council"], )"
    R"("roles": ["auditor"]},)"
    "\n";

class ConfigReloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    certs_ = dir_.Sub("certs");
    ASSERT_TRUE(testing::MakeCerts(certs_));
    full_ = ReadFile(certs_ + "/evenhandd.tls.json");
    ASSERT_TRUE(absl::StrContains(full_, kAuditor)) << full_;
    config_ = dir_.Sub("config.json");
  }

  // Replaces the config file whole, then tells the server.
  void Reload(const std::string& text, ChildServer& server) {
    testing::WriteFile(config_ + ".new", text);
    std::filesystem::rename(config_ + ".new", config_);
    server.Signal(SIGHUP);
  }

  // A report asked for with the auditor's certificate.
  absl::Status AsAuditor(const ChildServer& server) {
    clients::Connection c;
    c.address = server.address();
    c.ca_file = certs_ + "/ca.pem";
    c.cert_file = certs_ + "/auditor.pem";
    c.key_file = certs_ + "/auditor.key";
    auto channel = clients::Dial(c);
    if (!channel.ok()) return channel.status();
    return clients::FairnessClient(v1::Fairness::NewStub(*channel))
        .GetReport(v1::ReportRequest(), absl::Seconds(10))
        .status();
  }
  // Asks until the answer is (or is not) OK, up to about 10 s.
  absl::Status Until(const ChildServer& server, bool ok) {
    absl::Status s;
    for (int i = 0; i < 40; ++i) {
      s = AsAuditor(server);
      if (s.ok() == ok) break;
      absl::SleepFor(absl::Milliseconds(250));
    }
    return s;
  }
  // Waits until the log holds `text` (up to about 10 s).
  bool Logged(const ChildServer& server, const std::string& text) {
    for (int i = 0; i < 40; ++i) {
      if (absl::StrContains(server.Log(), text)) return true;
      absl::SleepFor(absl::Milliseconds(250));
    }
    return false;
  }

  TempDir dir_;
  std::string certs_, full_, config_;
};

TEST_F(ConfigReloadTest, PrincipalsComeAndGoOnSighupAndABadFileChangesNothing) {
  const std::string without = absl::StrReplaceAll(full_, {{kAuditor, ""}});
  testing::WriteFile(config_, without);
  ChildServer server(dir_, 0, {"--config=" + config_, "--metrics_listen=off"});
  server.Start();
  absl::Status refused = AsAuditor(server);
  ASSERT_EQ(refused.code(), absl::StatusCode::kPermissionDenied) << refused;

  // The auditor is added.
  Reload(full_, server);
  absl::Status taken = Until(server, true);
  ASSERT_TRUE(taken.ok()) << taken << "\n" << server.Log();
  EXPECT_TRUE(Logged(server, "the security configuration was read again")) << server.Log();

  // A file caught half-written, then a role the authoriser does not know:
  // each said, and nothing changes.
  Reload(full_.substr(0, full_.size() / 2), server);
  ASSERT_TRUE(Logged(server, "the configuration in use is kept")) << server.Log();
  Reload(absl::StrReplaceAll(full_, {{R"("roles": ["auditor"]},)", R"("roles": ["auditr"]},)"}}),
         server);
  ASSERT_TRUE(Logged(server, "unknown role \\\"auditr\\\"")) << server.Log();
  EXPECT_TRUE(Logged(server, "the security configuration in use is kept")) << server.Log();
  EXPECT_TRUE(AsAuditor(server).ok());
  // A file whose security section would do, but with which the server would
  // not start (the next restart would fail): none of it is taken.
  Reload(absl::StrReplaceAll(without,
                             {{"\"security\": {", "\"maxEventBytes\": 99999999, \"security\": {"}}),
         server);
  ASSERT_TRUE(Logged(server, "maxEventBytes: 99999999 is more than")) << server.Log();
  EXPECT_TRUE(AsAuditor(server).ok()) << "a file the server would not start with was taken";

  // The auditor is removed, and a limit of the log changed with it, while
  // the identity provider's key file is caught half-written: the principal
  // goes at once (the provider's section is unchanged, so its keys are
  // kept), the limit is named as a restart's.
  testing::WriteFile(certs_ + "/jwks.json", "{\"keys\": [");
  Reload(
      absl::StrReplaceAll(without, {{"\"security\": {", "\"maxBatchEvents\": 7, \"security\": {"}}),
      server);
  absl::Status gone = Until(server, false);
  EXPECT_EQ(gone.code(), absl::StatusCode::kPermissionDenied) << gone;
  EXPECT_TRUE(Logged(server, "also changes maxBatchEvents, which only a restart takes"))
      << server.Log();

  // Still serving, and stops as ever.
  server.Signal(SIGTERM);
  const int status = server.Wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << server.Log();
}

}  // namespace
}  // namespace evenhand
