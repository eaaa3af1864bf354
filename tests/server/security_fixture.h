// The trust boundary's test fixture: a child evenhandd with TLS, client
// certificates and bearer tokens made by scripts/make-certs (a real CA, real
// certificates, real signed JWTs), reached through real gRPC channels on
// 127.0.0.1, one per test binary; and helpers to call it as each principal.
// Used by security_test.cc (roles, lanes, groups, tokens) and
// security_limits_test.cc (limits, the access record, backups).
#ifndef EVENHAND_TESTS_SERVER_SECURITY_FIXTURE_H_
#define EVENHAND_TESTS_SERVER_SECURITY_FIXTURE_H_

#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "base/time_util.h"
#include "base/uuid.h"
#include "clients/audit_client.h"
#include "clients/connection.h"
#include "clients/event_log_client.h"
#include "clients/fairness_client.h"
#include "evenhand/v1/operations.grpc.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "integrity/bundle.h"
#include "integrity/canonical.h"
#include "integrity/merkle.h"
#include "reporting/report_render.h"
#include "tests/testing/child_server.h"
#include "tests/testing/jwt.h"
#include "tests/testing/make_certs.h"
#include "tests/testing/temp_dir.h"

#ifndef MAKE_CERTS_PATH
#error "MAKE_CERTS_PATH must name scripts/make-certs"
#endif

namespace evenhand::security_testing {

using ::evenhand::testing::ChildServer;
using ::evenhand::testing::SignJwt;
using ::evenhand::testing::TempDir;

constexpr char kIssuer[] = "https://login.demo.council";
constexpr char kTopic[] = "Depot closure TOPIC-LABOUR-7731";
constexpr char kNotes[] = "Group voting intentions NOTES-LABOUR-7732";
constexpr char kDisclosed[] = "What labour said DISCLOSED-7733";

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Every confidential value an event holds (the contract's field option).
inline void ConfidentialValues(const google::protobuf::Message& m, std::set<std::string>* out) {
  const google::protobuf::Reflection* r = m.GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  for (const auto* f : fields) {
    if (f->type() == google::protobuf::FieldDescriptor::TYPE_MESSAGE) {
      if (f->is_repeated()) {
        for (int i = 0; i < r->FieldSize(m, f); ++i) {
          ConfidentialValues(r->GetRepeatedMessage(m, f, i), out);
        }
      } else {
        ConfidentialValues(r->GetMessage(m, f), out);
      }
    } else if (f->options().GetExtension(v1::confidential) &&
               f->type() == google::protobuf::FieldDescriptor::TYPE_STRING && !f->is_repeated()) {
      out->insert(r->GetString(m, f));
    }
  }
}

class SecurityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    certs_ = dir_->Sub("certs");
    ASSERT_TRUE(testing::MakeCerts(certs_));
    // make-certs' config, with small limits per principal to reach, and
    // labour's councillors signing in by token (one may sit on the standards
    // committee too).
    const std::string config = dir_->Sub("tls.json");
    std::ofstream(config) << absl::StrReplaceAll(
        ReadFile(certs_ + "/evenhandd.tls.json"),
        {{"\"security\": {",
          "\"security\": {\"limits\": {\"maxSubscriptions\": 2, \"maxExportEvents\": 50},"},
         {"\"principals\": [",
          "\"principals\": [{\"name\": \"labour-councillors\", \"tokenGroups\": "
          "[\"labour-councillors\"], \"roles\": [\"group:labour\"]},"}});
    server_ = new ChildServer(*dir_, 0, {absl::StrCat("--config=", config), "--demo"});
    server_->Start();
  }
  static void TearDownTestSuite() {
    delete server_;
    delete dir_;
  }

  // A connection as `who` (a certificate of make-certs; "" for none),
  // optionally with a bearer token.
  static clients::Connection As(const std::string& who, const std::string& token = "") {
    clients::Connection c;
    c.address = server_->address();
    c.ca_file = certs_ + "/ca.pem";
    if (!who.empty()) {
      c.cert_file = absl::StrCat(certs_, "/", who, ".pem");
      c.key_file = absl::StrCat(certs_, "/", who, ".key");
    }
    if (!token.empty()) {
      c.token_file = dir_->Sub(absl::StrCat("token-", NewUuid()));
      std::ofstream(c.token_file) << token;
    }
    return c;
  }
  static std::shared_ptr<grpc::Channel> Dial(const clients::Connection& c) {
    auto channel = clients::Dial(c);
    EXPECT_TRUE(channel.ok()) << channel.status();
    return *channel;
  }
  static clients::EventLogClient Log(const clients::Connection& c) {
    return clients::EventLogClient(v1::EventLog::NewStub(Dial(c)));
  }
  static clients::AuditClient Audit(const clients::Connection& c) {
    return clients::AuditClient(v1::Audit::NewStub(Dial(c)));
  }
  static clients::FairnessClient Fairness(const clients::Connection& c) {
    return clients::FairnessClient(v1::Fairness::NewStub(Dial(c)));
  }

  // A token from the demo identity provider. `claims` are added to a valid
  // set (issuer, audience, an hour's validity) and replace its members.
  static std::string Token(const std::string& subject, const std::string& group,
                           const std::string& extra_claims = "", const std::string& alg = "RS256") {
    const int64_t now = absl::ToUnixSeconds(absl::Now());
    std::string claims = extra_claims;
    auto claim = [&](const std::string& name, const std::string& json) {
      if (!absl::StrContains(extra_claims, absl::StrCat("\"", name, "\""))) {
        absl::StrAppend(&claims, claims.empty() ? "" : ",", "\"", name, "\":", json);
      }
    };
    claim("iss", absl::StrCat("\"", kIssuer, "\""));
    claim("aud", "\"evenhand\"");
    claim("sub", absl::StrCat("\"", subject, "\""));
    claim("groups", absl::StrCat("[\"", group, "\"]"));
    claim("iat", absl::StrCat(now));
    claim("nbf", absl::StrCat(now - 5));
    claim("exp", absl::StrCat(now + 3600));
    const bool ec = alg == "ES256";
    std::string token = SignJwt(absl::StrCat(certs_, ec ? "/idp-ec.key" : "/idp-rsa.key"), alg,
                                ec ? "idp-ec" : "idp-rsa", absl::StrCat("{", claims, "}"));
    EXPECT_FALSE(token.empty()) << "signing a token failed";
    return token;
  }

  // Appends as the committee-management system (its lane: briefings and
  // meetings).
  static absl::StatusOr<v1::AppendResponse> Publish(const std::string& who,
                                                    const std::string& source,
                                                    const std::string& stream,
                                                    std::vector<v1::Payload> payloads) {
    v1::AppendRequest request;
    request.set_stream_id(stream);
    for (auto& p : payloads) {
      *request.add_events() = clients::NewEvent(std::move(p), source, absl::Now() - absl::Hours(1));
    }
    return Log(As(who)).Append(request);
  }

  // Briefing `id` requested by `group` (its member "<group>-1") on `topic`,
  // about the depot review, routed to the chief executive.
  static v1::Payload BriefingRequested(const std::string& id, const std::string& group,
                                       const std::string& topic) {
    v1::Payload requested;
    auto* r = requested.mutable_briefing_requested();
    r->set_briefing_id(id);
    r->set_group_id(group);
    r->set_requested_by_member_id(absl::StrCat(group, "-1"));
    r->set_topic(topic);
    r->set_matter_id("depot-review");
    r->set_routed_to_officer_id("o-ceo");
    return requested;
  }

  // What group `from` said, disclosed to group `to` by the director of
  // place in briefing `id`.
  static v1::Payload Disclosed(const std::string& id, const std::string& from,
                               const std::string& to, const std::string& summary) {
    v1::Payload disclosed;
    auto* g = disclosed.mutable_group_information_disclosed();
    g->set_briefing_id(id);
    g->set_from_group_id(from);
    g->set_to_group_id(to);
    g->set_disclosed_by_officer_id("o-dir-place");
    g->set_summary(summary);
    return disclosed;
  }

  // Labour's confidential briefing, once per suite: its stream id.
  static const std::string& LabourBriefing() {
    static const std::string* stream = [] {
      const std::string id = absl::StrCat("B-SEC-", NewUuid().substr(0, 8));
      v1::Payload requested = BriefingRequested(id, "labour", kTopic);
      v1::Payload approved;
      approved.mutable_briefing_approved()->set_briefing_id(id);
      approved.mutable_briefing_approved()->set_approved_by_officer_id("o-ceo");
      approved.mutable_briefing_approved()->add_assigned_officer_ids("o-dir-place");
      v1::Payload delivered;
      auto* d = delivered.mutable_briefing_delivered();
      d->set_briefing_id(id);
      d->add_officer_ids("o-dir-place");
      d->set_duration_minutes(45);
      d->set_business(v1::COUNCIL_BUSINESS);
      d->set_notes(kNotes);
      v1::Payload disclosed = Disclosed(id, "labour", "green", kDisclosed);
      const std::string s = absl::StrCat("briefing-", id);
      auto appended = Publish("committee-mgmt", "committee-mgmt", s,
                              {requested, approved, delivered, disclosed});
      EXPECT_TRUE(appended.ok()) << appended.status();
      return new std::string(s);
    }();
    return *stream;
  }

  // Every AccessRecorded event of `principal` so far, as the auditor sees
  // them (this read is itself recorded, under "auditor").
  static std::vector<v1::RecordedEvent> AccessRecords(const std::string& principal) {
    std::vector<v1::RecordedEvent> out;
    v1::ReplayRequest request;
    request.mutable_filter()->add_event_types("AccessRecorded");
    request.mutable_filter()->set_actor(principal);
    absl::Status s = Audit(As("auditor"))
                         .Replay(
                             request,
                             [&](const v1::AuditedEvent& e) {
                               out.push_back(e.event());
                               return true;
                             },
                             [](uint64_t, uint64_t) {});
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }

  // AccessRecords(principal) once it holds at least `count` records that
  // `wanted` picks, or after 10 s: a refusal on a call's headers is
  // recorded just after it is answered (services/auth/header_gate.h).
  static std::vector<v1::RecordedEvent> AccessRecordsOnce(
      const std::string& principal, size_t count,
      const std::function<bool(const v1::AccessRecorded&)>& wanted) {
    std::vector<v1::RecordedEvent> records;
    for (int i = 0; i < 100; ++i) {
      records = AccessRecords(principal);
      size_t n = 0;
      for (const v1::RecordedEvent& r : records) n += wanted(r.event().payload().access_recorded());
      if (n >= count) break;
      absl::SleepFor(absl::Milliseconds(100));
    }
    return records;
  }

  static inline TempDir* dir_ = nullptr;
  static inline std::string certs_;
  static inline ChildServer* server_ = nullptr;
};

}  // namespace evenhand::security_testing

#endif  // EVENHAND_TESTS_SERVER_SECURITY_FIXTURE_H_
