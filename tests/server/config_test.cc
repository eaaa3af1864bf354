// The server's JSON config file and its defaults.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "projections/fairness_projection.h"
#include "server/server.h"
#include "tests/testing/run_program.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace evenhand::server {
namespace {

using ::evenhand::testing::StatusIs;
using ::evenhand::testing::TempDir;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

class ConfigTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& text) {
    std::string path = dir_.Sub("evenhandd.json");
    std::ofstream(path) << text;
    return path;
  }
  TempDir dir_;
};

TEST_F(ConfigTest, ReadsLimitsInEitherFieldSpelling) {
  ASSERT_OK_AND_ASSIGN(v1::ServerConfig c,
                       LoadConfigFile(Write(R"({"maxEventBytes": 4096, "max_batch_events": 7})")));
  EXPECT_EQ(c.max_event_bytes(), 4096u);
  EXPECT_EQ(c.max_batch_events(), 7u);
}

TEST_F(ConfigTest, UnknownFieldIsAnErrorNotASilentDefault) {
  EXPECT_THAT(LoadConfigFile(Write(R"({"maxEventByte": 4096})")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("maxEventByte")));
}

TEST_F(ConfigTest, AFileThatCannotBeReadSaysWhy) {
  EXPECT_THAT(LoadConfigFile(dir_.Sub("nope.json")),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("cannot read " + dir_.Sub("nope.json") + " (No such file")));
  // A folder reads as an empty file ("Unexpected end of string").
  EXPECT_THAT(LoadConfigFile(dir_.path()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("is a folder")));
  ASSERT_EQ(::symlink(dir_.Sub("b").c_str(), dir_.Sub("a").c_str()), 0);
  ASSERT_EQ(::symlink(dir_.Sub("a").c_str(), dir_.Sub("b").c_str()), 0);
  EXPECT_THAT(
      LoadConfigFile(dir_.Sub("a")),
      StatusIs(absl::StatusCode::kNotFound, HasSubstr("Too many levels of symbolic links")));
}

TEST_F(ConfigTest, DefaultsAreTheDocumentedOnes) {
  v1::ServerConfig c = WithDefaults({});
  EXPECT_EQ(c.listen(), "127.0.0.1:50051");
  EXPECT_EQ(c.data_dir(), "./data");
  EXPECT_EQ(c.max_event_bytes(), 1u << 20);
  EXPECT_EQ(c.max_batch_events(), 1000u);
  EXPECT_EQ(c.shutdown_grace_seconds(), 10u);
}

TEST_F(ConfigTest, PrintConfigShowsTheEffectiveConfigurationWithEveryDefault) {
  const std::string file = Write(R"({"fairness": {"councilName": "Harlow Council"},
                                    "maxEventBytes": 4096,
                                    "security": {"oidc": {"issuer": "https://login.example",
                                                          "audiences": ["evenhand"],
                                                          "jwksFile": "/nonexistent"}}})");
  const std::string command = absl::StrCat(EVENHANDD_PATH, " --print_config --config=", file,
                                           " --listen=127.0.0.1:6000 2>&1");
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string out;
  char buffer[4096];
  for (size_t n; (n = fread(buffer, 1, sizeof buffer, pipe)) > 0;) out.append(buffer, n);
  ASSERT_EQ(pclose(pipe), 0) << out;
  // What it prints is a config file evenhandd takes back as it is.
  const std::string printed = Write(out);
  ASSERT_OK_AND_ASSIGN(v1::ServerConfig c, LoadConfigFile(printed));
  EXPECT_EQ(c.listen(), "127.0.0.1:6000");                      // the flag
  EXPECT_EQ(c.max_event_bytes(), 4096u);                        // the file
  EXPECT_EQ(c.fairness().council_name(), "Harlow Council");     // the file
  EXPECT_EQ(c.max_batch_events(), 1000u);                       // a default
  EXPECT_EQ(c.audit().checkpoint_every_events(), 10000u);       // a default
  EXPECT_EQ(c.audit().signing_key_file(), "./data/signing-key.pem");
  EXPECT_EQ(c.fairness().query_reply_working_days(), 5u);      // the rules' own default
  EXPECT_EQ(c.fairness().parity_alpha(), 0.05);
  // The identity provider's, as its reader fills them in.
  EXPECT_EQ(c.security().oidc().subject_claim(), "sub");
  EXPECT_EQ(c.security().oidc().groups_claim(), "groups");
  EXPECT_EQ(c.security().oidc().leeway_seconds(), 60u);
  EXPECT_EQ(c.security().oidc().jwks_check_seconds(), 60u);
  EXPECT_EQ(c.security().limits().requests_per_second(), 5000u);  // the authoriser's
  EXPECT_EQ(c.security().limits().max_obligation_watches(), 64u);
  // Every scalar, even when zero or false, so nothing is left to guess.
  EXPECT_THAT(out, HasSubstr("\"skipDomainValidation\": false"));
}

TEST_F(ConfigTest, ServerRefusesAnAddressNoListenerCouldTake) {
  ServerOptions options;
  options.config.set_data_dir(dir_.Sub("data"));
  for (const char* listen : {"localhost:notaport", "127.0.0.1:99999", "127.0.0.1", "[::1:5"}) {
    options.config.set_listen(listen);
    EXPECT_THAT(EvenHandServer::Start(options),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         AllOf(HasSubstr(absl::StrCat("listen: \"", listen, "\"")),
                               HasSubstr("port from 0 to 65535"))));
  }
  options.config.set_listen("127.0.0.1:0");
  options.config.mutable_metrics()->set_listen("127.0.0.1:+80");
  EXPECT_THAT(EvenHandServer::Start(options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("metrics.listen")));
}

// What --print_config prints is a config evenhandd starts with: one it
// would refuse is refused (exit 1, saying why), and nothing is printed.
TEST_F(ConfigTest, PrintConfigRefusesAConfigTheServerWouldNotStartWith) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"maxReplyBytes": 3000000000})", "maxReplyBytes"},
      {R"({"audit": {"verifyOnStart": "sometimes"}})", "audit.verifyOnStart"},
      {R"({"metrics": {"listen": "127.0.0.1:99999"}})", "metrics.listen"},
      {R"({"security": {"local": {"roles": ["superuser"]}}})", "superuser"},
  };
  for (const auto& [config, why] : cases) {
    const testing::ProgramResult r = testing::RunProgram(
        EVENHANDD_PATH, {"--print_config", "--log_format=text", "--config=" + Write(config)});
    EXPECT_EQ(r.exit_code, 1) << config << ": " << r.output;
    EXPECT_THAT(r.output, AllOf(HasSubstr("the configuration would not start"), HasSubstr(why),
                                Not(HasSubstr("\"listen\""))))
        << config;
  }
}

// The reason a config file cannot be read is the first line evenhandd
// writes: in JSON, as every line is unless --log_format=text says otherwise.
TEST_F(ConfigTest, AConfigFileThatCannotBeReadIsSaidInTheLogsFormat) {
  const testing::ProgramResult r =
      testing::RunProgram(EVENHANDD_PATH, {"--config=" + Write(R"({"listn": 1})")});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, AllOf(::testing::StartsWith("{\"time\":"), HasSubstr("\"level\":\"error\""),
                              HasSubstr("listn")));
}

TEST_F(ConfigTest, AnEventLimitClientsCouldNotReadBackIsRefusedAtStart) {
  ServerOptions options;
  options.config.set_listen("127.0.0.1:0");
  options.config.set_data_dir(dir_.Sub("data"));
  options.config.set_max_event_bytes(5 << 20);
  EXPECT_THAT(EvenHandServer::Start(options),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("maxEventBytes: 5242880 is more than 3145728"),
                             HasSubstr("never read back"))));
}

// A threshold the rules cannot mean would make a signed report read as the
// protocol's: refused at start, naming the field and its range.
TEST_F(ConfigTest, FairnessThresholdsOutOfTheirRangeAreRefusedAtStart) {
  struct Case {
    std::function<void(v1::FairnessConfig*)> set;
    std::string says;
  };
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<Case> cases = {
      {[](v1::FairnessConfig* f) { f->set_parity_alpha(2); }, "fairness.parityAlpha: 2 is out"},
      {[](v1::FairnessConfig* f) { f->set_parity_alpha(-0.05); }, "fairness.parityAlpha: -0.05"},
      {[&](v1::FairnessConfig* f) { f->set_parity_alpha(nan); }, "fairness.parityAlpha: nan"},
      {[](v1::FairnessConfig* f) { f->set_decline_rate_gap(-1); },
       "fairness.declineRateGap: -1 is out of range"},
      {[](v1::FairnessConfig* f) { f->set_late_reply_gap(1.5); }, "fairness.lateReplyGap: 1.5"},
      {[](v1::FairnessConfig* f) { f->set_officer_time_ratio(3); }, "fairness.officerTimeRatio: 3"},
      {[](v1::FairnessConfig* f) { f->set_query_reply_working_days(1000000000); },
       "fairness.queryReplyWorkingDays: 1000000000 is out of range: at most 260"},
      {[](v1::FairnessConfig* f) { f->set_same_matter_window_days(100000); },
       "fairness.sameMatterWindowDays"},
  };
  for (const Case& c : cases) {
    ServerOptions options;
    options.config.set_listen("127.0.0.1:0");
    options.config.set_data_dir(dir_.Sub("data"));
    c.set(options.config.mutable_fairness());
    EXPECT_THAT(EvenHandServer::Start(options),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.says)));
  }
  // The edges are allowed.
  v1::ServerConfig edges;
  edges.mutable_fairness()->set_parity_alpha(0.5);
  edges.mutable_fairness()->set_decline_rate_gap(1);
  edges.mutable_fairness()->set_query_reply_working_days(260);
  EXPECT_TRUE(projections::FairnessSettings::Check(edges.fairness()).ok());
}

TEST_F(ConfigTest, PlainTextOffLoopbackRefusesToStartSayingHowToConfigureTls) {
  for (const char* listen : {"0.0.0.0:0", "10.1.2.3:50051", "[::]:0", "example.org:50051"}) {
    ServerOptions options;
    options.config.set_listen(listen);
    options.config.set_data_dir(dir_.Sub("data"));
    EXPECT_THAT(EvenHandServer::Start(options),
                StatusIs(absl::StatusCode::kFailedPrecondition,
                         AllOf(HasSubstr("refusing to listen in plain text on"),
                               HasSubstr("security.tls.certFile"), HasSubstr("scripts/make-certs"))))
        << listen;
  }
}

}  // namespace
}  // namespace evenhand::server
