// The identity provider's keys read again when the JWKS file changes
// (services/auth/jwks_keys.h), on a real evenhandd over real TLS, with
// tokens signed by make-certs' demo identity provider: a key published in
// the file is taken from its first token, one removed stops verifying, and
// a file caught half-written or emptied keeps the keys read before.
#include <filesystem>
#include <memory>
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
#include "tests/testing/jwt.h"
#include "tests/testing/log_files.h"
#include "tests/testing/make_certs.h"
#include "tests/testing/temp_dir.h"

namespace evenhand {
namespace {

using testing::ChildServer;
using testing::ReadFile;
using testing::SignJwt;
using testing::TempDir;

class JwksRotationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    certs_ = dir_.Sub("certs");
    ASSERT_TRUE(testing::MakeCerts(certs_));
    // make-certs' JWKS holds the provider's RSA key, then its P-256 key.
    google::protobuf::Struct jwks;
    ASSERT_TRUE(
        google::protobuf::util::JsonStringToMessage(ReadFile(certs_ + "/jwks.json"), &jwks).ok());
    const auto& keys = jwks.fields().at("keys").list_value().values();
    ASSERT_EQ(keys.size(), 2);
    for (const auto& key : keys) {
      std::string json;
      ASSERT_TRUE(google::protobuf::util::MessageToJsonString(key, &json).ok());
      (absl::StrContains(json, "idp-rsa") ? rsa_ : ec_) = json;
    }
    ASSERT_FALSE(rsa_.empty() || ec_.empty());
    jwks_ = dir_.Sub("jwks-live.json");
  }

  // Replaces the live JWKS file whole, as a job fetching it would (a rename).
  void WriteJwks(const std::string& text) {
    testing::WriteFile(jwks_ + ".new", text);
    std::filesystem::rename(jwks_ + ".new", jwks_);
  }
  void WriteKeys(const std::vector<std::string>& keys) {
    std::string text = "{\"keys\": [";
    for (size_t i = 0; i < keys.size(); ++i) absl::StrAppend(&text, i ? "," : "", keys[i]);
    WriteJwks(text + "]}");
  }

  // Starts evenhandd (generation `generation`) on make-certs' config, its
  // JWKS the live file, read again every `check_seconds`.
  std::unique_ptr<ChildServer> Server(int generation, int check_seconds) {
    const std::string config = dir_.Sub(absl::StrCat("config-", generation, ".json"));
    testing::WriteFile(
        config, absl::StrReplaceAll(
                    ReadFile(certs_ + "/evenhandd.tls.json"),
                    {{absl::StrCat("\"", certs_, "/jwks.json\""),
                      absl::StrCat("\"", jwks_, "\", \"jwksCheckSeconds\": ", check_seconds)}}));
    auto server = std::make_unique<ChildServer>(
        dir_, generation, std::vector<std::string>{"--config=" + config, "--metrics_listen=off"});
    server->Start();
    return server;
  }

  // A clerk's call with a token signed by the provider's RSA or P-256 key.
  absl::Status CallWith(const ChildServer& server, bool ec) {
    const int64_t now = absl::ToUnixSeconds(absl::Now());
    const std::string claims = absl::StrCat(
        R"({"iss":"https://login.demo.council","aud":"evenhand","sub":"clerk.jones",)",
        R"("groups":["standards-committee"],"nbf":)", now - 5, R"(,"exp":)", now + 600, "}");
    const std::string token = ec ? SignJwt(certs_ + "/idp-ec.key", "ES256", "idp-ec", claims)
                                 : SignJwt(certs_ + "/idp-rsa.key", "RS256", "idp-rsa", claims);
    EXPECT_FALSE(token.empty());
    clients::Connection c;
    c.address = server.address();
    c.ca_file = certs_ + "/ca.pem";
    c.token_file = dir_.Sub(absl::StrCat("token-", ++tokens_));
    testing::WriteFile(c.token_file, token);
    auto channel = clients::Dial(c);
    if (!channel.ok()) return channel.status();
    return clients::FairnessClient(v1::Fairness::NewStub(*channel)).ListRules().status();
  }

  // Calls until the call's outcome is `ok` (or about 10 s pass).
  absl::Status Until(const ChildServer& server, bool ec, bool ok) {
    absl::Status s;
    for (int i = 0; i < 40; ++i) {
      s = CallWith(server, ec);
      if (s.ok() == ok) break;
      absl::SleepFor(absl::Milliseconds(250));
    }
    return s;
  }

  TempDir dir_;
  std::string certs_, jwks_, rsa_, ec_;
  int tokens_ = 0;
};

TEST_F(JwksRotationTest, ANewKeyIsTakenAtItsFirstTokenWithoutARestart) {
  WriteKeys({rsa_});
  // An hour between routine reads: only a token naming a key not held
  // makes the server read the file now.
  auto server = Server(1, 3600);
  ASSERT_TRUE(CallWith(*server, false).ok());
  absl::Status refused = CallWith(*server, true);
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnauthenticated) << refused;
  EXPECT_TRUE(absl::StrContains(refused.message(), "no key of the identity provider's JWKS"))
      << refused;
  // The provider publishes its new key; the first token signed with it is
  // taken (more than a second after the last read for an unknown key).
  WriteKeys({rsa_, ec_});
  absl::SleepFor(absl::Milliseconds(1100));
  absl::Status taken = CallWith(*server, true);
  EXPECT_TRUE(taken.ok()) << taken << "\nlog: " << server->Log();
  EXPECT_TRUE(CallWith(*server, false).ok());
  EXPECT_TRUE(absl::StrContains(server->Log(), "keys were read again")) << server->Log();
}

TEST_F(JwksRotationTest, ARetiredKeyStopsVerifyingAndABrokenFileKeepsTheKeysHeld) {
  WriteKeys({rsa_, ec_});
  auto server = Server(1, 1);
  ASSERT_TRUE(CallWith(*server, false).ok());
  ASSERT_TRUE(CallWith(*server, true).ok());
  // The RSA key is retired.
  WriteKeys({ec_});
  absl::Status retired = Until(*server, false, false);
  EXPECT_EQ(retired.code(), absl::StatusCode::kUnauthenticated) << retired;
  EXPECT_TRUE(CallWith(*server, true).ok());

  // Caught half-written, then emptied, then holding no usable RSA key (an
  // entry without n and e, a toy one), then gone: the P-256 key is kept
  // through each, read every second, and each is said once.
  const std::string damaged[] = {
      "{\"keys\": [{\"kty\": \"EC\"", "{\"keys\": []}",
      "{\"keys\": [{\"kty\": \"RSA\", \"kid\": \"z\"}]}",
      "{\"keys\": [{\"kty\": \"RSA\", \"n\": \"AQAB\", \"e\": \"AQAB\"}]}", ""};
  for (const std::string& text : damaged) {
    if (text.empty()) {
      std::filesystem::remove(jwks_);
    } else {
      WriteJwks(text);
    }
    for (int i = 0; i < 6; ++i) {
      absl::SleepFor(absl::Milliseconds(500));
      absl::Status kept = CallWith(*server, true);
      ASSERT_TRUE(kept.ok()) << kept << "\nlog: " << server->Log();
      EXPECT_EQ(CallWith(*server, false).code(), absl::StatusCode::kUnauthenticated);
    }
  }
  const std::string log = server->Log();
  for (const char* said :
       {"JWKS document is not a JSON object", "holds no RSA or P-256 signing key",
        "an RSA key's n is 0 bits", "an RSA key's n is 17 bits", "cannot read"}) {
    const size_t first = log.find(said);
    ASSERT_NE(first, std::string::npos) << said << "\nlog: " << log;
    EXPECT_EQ(log.find(said, first + 1), std::string::npos) << said << " more than once: " << log;
  }
  EXPECT_TRUE(absl::StrContains(log, "the 1 key(s) read before are kept")) << log;

  // The provider's file is good again: both keys.
  WriteKeys({rsa_, ec_});
  EXPECT_TRUE(Until(*server, false, true).ok()) << server->Log();
  EXPECT_TRUE(CallWith(*server, true).ok());
}

}  // namespace
}  // namespace evenhand
