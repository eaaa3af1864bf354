// The trust boundary, tried from outside: a child evenhandd with TLS, client
// certificates and bearer tokens made by scripts/make-certs (a real CA, real
// certificates, real signed JWTs), reached through real gRPC channels on
// 127.0.0.1. Each test is one of issue 10's "it must show" items.
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
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

namespace evenhand {
namespace {

using ::evenhand::testing::ChildServer;
using ::evenhand::testing::SignJwt;
using ::evenhand::testing::TempDir;

constexpr char kIssuer[] = "https://login.demo.council";
constexpr char kTopic[] = "Depot closure TOPIC-LABOUR-7731";
constexpr char kNotes[] = "Group voting intentions NOTES-LABOUR-7732";
constexpr char kDisclosed[] = "What labour said DISCLOSED-7733";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Every confidential value an event holds (the contract's field option).
void ConfidentialValues(const google::protobuf::Message& m, std::set<std::string>* out) {
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
    // make-certs' config, with small limits per principal to reach.
    const std::string config = dir_->Sub("tls.json");
    std::ofstream(config) << absl::StrReplaceAll(
        ReadFile(certs_ + "/evenhandd.tls.json"),
        {{"\"security\": {",
          "\"security\": {\"limits\": {\"maxSubscriptions\": 2, \"maxExportEvents\": 50},"}});
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

  // Labour's confidential briefing, once per suite: its stream id.
  static const std::string& LabourBriefing() {
    static const std::string* stream = [] {
      const std::string id = absl::StrCat("B-SEC-", NewUuid().substr(0, 8));
      v1::Payload requested;
      auto* r = requested.mutable_briefing_requested();
      r->set_briefing_id(id);
      r->set_group_id("labour");
      r->set_requested_by_member_id("labour-1");
      r->set_topic(kTopic);
      r->set_matter_id("depot-review");
      r->set_routed_to_officer_id("o-ceo");
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
      v1::Payload disclosed;
      auto* g = disclosed.mutable_group_information_disclosed();
      g->set_briefing_id(id);
      g->set_from_group_id("labour");
      g->set_to_group_id("green");
      g->set_disclosed_by_officer_id("o-dir-place");
      g->set_summary(kDisclosed);
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
    absl::Status s = Audit(As("auditor")).Replay(
        request,
        [&](const v1::AuditedEvent& e) {
          out.push_back(e.event());
          return true;
        },
        [](uint64_t, uint64_t) {});
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }

  static TempDir* dir_;
  static std::string certs_;
  static ChildServer* server_;
};

TempDir* SecurityTest::dir_ = nullptr;
std::string SecurityTest::certs_;
ChildServer* SecurityTest::server_ = nullptr;

TEST_F(SecurityTest, APublisherCannotRead) {
  clients::Connection c = As("case-system");
  v1::ReadAllRequest read_all;
  absl::Status s = Log(c).ReadAll(read_all, [](const v1::RecordedEvent&) { return true; });
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "principal \"case-system\"")) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "evenhand.v1.EventLog/ReadAll")) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "needs the role auditor")) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "publisher:case-system")) << s;

  auto report = Fairness(c).GetReport(v1::ReportRequest());
  EXPECT_EQ(report.status().code(), absl::StatusCode::kPermissionDenied) << report.status();
  v1::ExportRequest e;
  e.mutable_filter()->set_stream_id(LabourBriefing());
  EXPECT_EQ(Audit(c).Export(e).status().code(), absl::StatusCode::kPermissionDenied);

  // Its own lane it may write.
  v1::Payload q;
  q.mutable_written_query_received()->set_query_id(absl::StrCat("Q-SEC-", NewUuid().substr(0, 8)));
  q.mutable_written_query_received()->set_member_id("green-2");
  q.mutable_written_query_received()->set_addressed_to_officer_id("o-ceo");
  auto ok = Publish("case-system", "case-system",
                    absl::StrCat("query-", q.written_query_received().query_id()), {q});
  EXPECT_TRUE(ok.ok()) << ok.status();

  // The refusals are on the record.
  bool found = false;
  for (const auto& r : AccessRecords("case-system")) {
    const auto& a = r.event().payload().access_recorded();
    found |= a.method() == "evenhand.v1.EventLog/ReadAll" &&
             absl::StartsWith(a.outcome(), "denied: ") &&
             a.authenticated_as() == "certificate case-system.demo.council";
  }
  EXPECT_TRUE(found) << "the refused ReadAll is not in access-case-system";
}

TEST_F(SecurityTest, APublisherCannotAppendOutsideItsLane) {
  v1::Payload q;
  const std::string query_id = absl::StrCat("Q-LANE-", NewUuid().substr(0, 8));
  q.mutable_written_query_received()->set_query_id(query_id);
  q.mutable_written_query_received()->set_member_id("green-2");
  q.mutable_written_query_received()->set_addressed_to_officer_id("o-ceo");
  // Committee management may not write written queries...
  auto s = Publish("committee-mgmt", "committee-mgmt", absl::StrCat("query-", query_id), {q});
  EXPECT_EQ(s.status().code(), absl::StatusCode::kPermissionDenied) << s.status();
  EXPECT_TRUE(absl::StrContains(s.status().message(), "of type WrittenQueryReceived")) << s.status();
  EXPECT_TRUE(absl::StrContains(s.status().message(), "security.publishers")) << s.status();
  // ...nor pose as the case system...
  s = Publish("committee-mgmt", "case-system", absl::StrCat("query-", query_id), {q});
  EXPECT_EQ(s.status().code(), absl::StatusCode::kPermissionDenied) << s.status();
  EXPECT_TRUE(absl::StrContains(s.status().message(), "source_system \"case-system\""))
      << s.status();
  // A value it sends is quoted short and on one line, in the refusal and in
  // the access record of it: it forges no log line and fills no record.
  const std::string forged_line = "x\n2026-01-01T00:00:00.000Z INFO auth: admin signed in";
  s = Publish("committee-mgmt", forged_line + std::string(256 << 10, 'y'),
              absl::StrCat("query-", query_id), {q});
  EXPECT_EQ(s.status().code(), absl::StatusCode::kPermissionDenied) << s.status();
  EXPECT_THAT(std::string(s.status().message()),
              ::testing::AllOf(::testing::HasSubstr("\"x\\n2026-01-01T00:00:00.000Z INFO"),
                               ::testing::HasSubstr("... (262197 bytes)"),
                               ::testing::SizeIs(::testing::Lt(2048))));
  int refusals = 0;
  int appends = 0;
  for (const auto& r : AccessRecords("committee-mgmt")) {
    const v1::AccessRecorded& a = r.event().payload().access_recorded();
    const std::string& outcome = a.outcome();
    EXPECT_LT(outcome.size(), 2048u);
    EXPECT_EQ(outcome.find('\n'), std::string::npos) << outcome;
    refusals += absl::StrContains(outcome, "x\\n2026-01-01");
    // What it sent to be recorded is not recorded by way of the refusal:
    // each event's envelope and type, never its payload.
    if (absl::EndsWith(a.method(), "/Append")) {
      ++appends;
      EXPECT_THAT(a.request(),
                  ::testing::AllOf(::testing::HasSubstr("type: \"WrittenQueryReceived\""),
                                   ::testing::Not(::testing::HasSubstr("green-2"))));
    }
  }
  EXPECT_EQ(refusals, 1);
  EXPECT_GE(appends, 3);
  // ...nor write the server's own access records.
  v1::Payload forged;
  forged.mutable_access_recorded()->set_principal("auditor");
  s = Publish("committee-mgmt", "committee-mgmt", "access-auditor", {forged});
  EXPECT_EQ(s.status().code(), absl::StatusCode::kPermissionDenied) << s.status();
  // The monitoring principal may not append at all.
  s = Publish("monitoring", "monitoring", absl::StrCat("query-", query_id), {q});
  EXPECT_EQ(s.status().code(), absl::StatusCode::kPermissionDenied) << s.status();
  // Nothing of it was written.
  v1::ReadStreamRequest read;
  read.set_stream_id(absl::StrCat("query-", query_id));
  absl::Status r = Log(As("auditor")).ReadStream(read, [](const v1::RecordedEvent&) {
    ADD_FAILURE() << "a refused append was written";
    return true;
  });
  EXPECT_TRUE(r.ok()) << r;  // an empty stream reads as no events
}

// AppendStream over mTLS: each request is authorised as an Append is, so a
// request outside the publisher's lane is refused alone and the call goes
// on; a caller with no certificate, or one that may not append, is refused
// before anything it sent is read.
TEST_F(SecurityTest, AStreamingPublisherIsHeldToItsLaneRequestByRequest) {
  auto stream_of = [](const std::string& who) {
    struct Call {
      std::shared_ptr<grpc::Channel> channel;
      std::unique_ptr<v1::EventLog::Stub> stub;
      grpc::ClientContext context;
    };
    auto call = std::make_unique<Call>();
    call->channel = Dial(As(who));
    call->stub = v1::EventLog::NewStub(call->channel);
    return call;
  };
  auto request = [](const std::string& stream, const std::string& source, v1::Payload p) {
    v1::AppendRequest r;
    r.set_stream_id(stream);
    *r.add_events() = clients::NewEvent(std::move(p), source, absl::Now() - absl::Hours(1));
    return r;
  };
  const std::string id = NewUuid().substr(0, 8);
  v1::Payload briefing;
  auto* b = briefing.mutable_briefing_requested();
  b->set_briefing_id("B-STREAM-" + id);
  b->set_group_id("green");
  b->set_requested_by_member_id("green-2");
  b->set_topic("Stream lane");
  b->set_matter_id("stream-lane");
  b->set_routed_to_officer_id("o-ceo");
  v1::Payload query;
  auto* q = query.mutable_written_query_received();
  q->set_query_id("Q-STREAM-" + id);
  q->set_member_id("green-2");
  q->set_addressed_to_officer_id("o-ceo");
  v1::Payload second = briefing;
  second.mutable_briefing_requested()->set_briefing_id("B-STREAM2-" + id);
  const std::vector<v1::AppendRequest> requests = {
      request("briefing-B-STREAM-" + id, "committee-mgmt", briefing),   // its lane
      request("query-Q-STREAM-" + id, "committee-mgmt", query),         // not its lane
      request("query-Q-STREAM-" + id, "case-system", query),            // posing as another
      request("briefing-B-STREAM2-" + id, "committee-mgmt", second),    // its lane again
  };

  auto call = stream_of("committee-mgmt");
  auto rw = call->stub->AppendStream(&call->context);
  std::map<uint64_t, v1::AppendStreamResponse> answers;
  std::thread reader([&] {
    v1::AppendStreamResponse r;
    while (rw->Read(&r)) answers[r.request_index()] = r;
  });
  for (const auto& r : requests) ASSERT_TRUE(rw->Write(r));
  rw->WritesDone();
  reader.join();
  grpc::Status status = rw->Finish();
  EXPECT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(answers.size(), 4u);
  EXPECT_TRUE(answers[0].has_appended()) << answers[0].DebugString();
  EXPECT_TRUE(answers[3].has_appended()) << answers[3].DebugString();
  for (uint64_t i : {1u, 2u}) {
    ASSERT_TRUE(answers[i].has_error()) << answers[i].DebugString();
    EXPECT_EQ(answers[i].error().code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_EQ(answers[i].error().code_name(), "PERMISSION_DENIED");
  }
  EXPECT_THAT(answers[1].error().message(), ::testing::HasSubstr("of type WrittenQueryReceived"));
  EXPECT_THAT(answers[2].error().message(), ::testing::HasSubstr("source_system \"case-system\""));
  // Nothing of the refused requests was written.
  v1::ReadStreamRequest read;
  read.set_stream_id("query-Q-STREAM-" + id);
  EXPECT_TRUE(Log(As("auditor"))
                  .ReadStream(read,
                              [](const v1::RecordedEvent&) {
                                ADD_FAILURE() << "a refused request was written";
                                return true;
                              })
                  .ok());

  // A principal that may not append at all is refused the call itself; a
  // caller with no certificate (nor token) is not authenticated.
  for (const auto& [who, code] :
       std::vector<std::pair<std::string, grpc::StatusCode>>{
           {"monitoring", grpc::StatusCode::PERMISSION_DENIED},
           {"", grpc::StatusCode::UNAUTHENTICATED}}) {
    auto other = stream_of(who);
    auto rw2 = other->stub->AppendStream(&other->context);
    rw2->Write(requests[0]);
    rw2->WritesDone();
    v1::AppendStreamResponse r;
    int answered = 0;
    while (rw2->Read(&r)) ++answered;
    grpc::Status refused = rw2->Finish();
    EXPECT_EQ(answered, 0) << who;
    EXPECT_EQ(refused.error_code(), code) << who << ": " << refused.error_message();
  }
}

TEST_F(SecurityTest, AGroupReadsItsOwnConfidentialContentAndNoOtherGroups) {
  const std::string& stream = LabourBriefing();
  v1::ReadStreamRequest read;
  read.set_stream_id(stream);
  // Labour sees its own briefing whole.
  std::string seen;
  absl::Status s = Log(As("labour")).ReadStream(read, [&](const v1::RecordedEvent& e) {
    seen += e.event().DebugString();
    EXPECT_EQ(e.event().withheld_size(), 0);
    return true;
  });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_TRUE(absl::StrContains(seen, kTopic));
  EXPECT_TRUE(absl::StrContains(seen, kNotes));

  // Green may not read labour's case...
  s = Log(As("green")).ReadStream(read, [](const v1::RecordedEvent&) { return true; });
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "it is group labour's case")) << s;
  // ...nor replay what concerns labour.
  v1::ReplayRequest replay;
  replay.mutable_filter()->set_group_id("labour");
  s = Audit(As("green")).Replay(replay, [](const v1::AuditedEvent&) { return true; },
                                [](uint64_t, uint64_t) {});
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << s;

  // Green's own replay shows the disclosure to green, with labour's words
  // withheld and a marker saying so.
  replay.mutable_filter()->clear_group_id();
  bool disclosure = false;
  s = Audit(As("green")).Replay(
      replay,
      [&](const v1::AuditedEvent& e) {
        const std::string text = e.event().event().DebugString();
        EXPECT_FALSE(absl::StrContains(text, "LABOUR-7731") ||
                     absl::StrContains(text, "LABOUR-7732") ||
                     absl::StrContains(text, "DISCLOSED-7733"))
            << "green saw labour's confidential content: " << text;
        if (e.event().event().stream_id() == stream) {
          EXPECT_TRUE(e.event().event().payload().has_group_information_disclosed()) << text;
          disclosure = true;
          EXPECT_EQ(e.event().event().withheld_size(), 1) << text;
          if (e.event().event().withheld_size() == 1) {
            EXPECT_EQ(e.event().event().withheld(0).path(), "payload.group_information_disclosed.summary");
            EXPECT_TRUE(absl::StrContains(e.event().event().withheld(0).reason(), "group labour"));
          }
        }
        return true;
      },
      [](uint64_t, uint64_t) {});
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_TRUE(disclosure) << "the disclosure to green is not in green's replay";

  // Labour's reads are on the record with what they returned.
  bool recorded = false;
  for (const auto& r : AccessRecords("labour-group")) {
    const auto& a = r.event().payload().access_recorded();
    recorded |= a.method() == "evenhand.v1.EventLog/ReadStream" && a.outcome() == "completed" &&
                a.events_returned() == 4 && absl::StrContains(a.request(), stream);
  }
  EXPECT_TRUE(recorded);
}

TEST_F(SecurityTest, TheCommitteesReportCarriesNoConfidentialValue) {
  LabourBriefing();
  // Every confidential value in the log, as the auditor (who sees them) reads it.
  std::set<std::string> secrets;
  v1::ReplayRequest all;
  absl::Status s = Audit(As("auditor")).Replay(
      all,
      [&](const v1::AuditedEvent& e) {
        ConfidentialValues(e.event().event().payload(), &secrets);
        return true;
      },
      [](uint64_t, uint64_t) {});
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_TRUE(secrets.count(kTopic));
  ASSERT_GT(secrets.size(), 20u) << "the demo council should hold confidential values";

  // A clerk signs in with the identity provider (ES256 this time).
  auto report = Fairness(As("", Token("clerk.jones", "standards-committee", "", "ES256")))
                    .GetReport(v1::ReportRequest());
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_GT(report->findings_size(), 0);
  const std::string text = absl::StrCat(reporting::RenderReportJson(*report),
                                        reporting::RenderReportHtml(*report),
                                        reporting::RenderFindingsCsv(*report));
  for (const char* planted : {kTopic, kNotes, kDisclosed}) {
    EXPECT_FALSE(absl::StrContains(text, planted)) << "the report carries \"" << planted << "\"";
  }
  for (const std::string& secret : secrets) {
    // Short phrases ("no reply", "Other") occur in any report's own words.
    if (secret.size() < 12) continue;
    EXPECT_FALSE(absl::StrContains(text, secret)) << "the report carries \"" << secret << "\"";
  }
  // Who read is in it: the auditor's replay above, the clerk by name.
  bool auditor = false;
  for (const auto& a : report->access()) {
    auditor |= a.principal() == "auditor" && a.method() == "evenhand.v1.Audit/Replay";
  }
  EXPECT_TRUE(auditor);
  // The clerk's own request is recorded under their subject.
  bool clerk = false;
  for (const auto& r : AccessRecords("clerk.jones")) {
    const auto& a = r.event().payload().access_recorded();
    clerk |= a.method() == "evenhand.v1.Fairness/GetReport" &&
             a.authenticated_as() == "token clerk.jones" && a.roles_size() == 1 &&
             a.roles(0) == "committee";
  }
  EXPECT_TRUE(clerk);
}

TEST_F(SecurityTest, AnAuditorsExportHoldsFullValuesAndVerifiesOffline) {
  v1::ExportRequest request;
  request.mutable_filter()->set_stream_id(LabourBriefing());
  auto bundle =
      Audit(As("", Token("a.patel", "internal-audit"))).Export(request);
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  // Pinned to the server's key, as an auditor pins the council's.
  auto key = Audit(As("auditor")).GetPublicKey();
  ASSERT_TRUE(key.ok()) << key.status();
  auto verified = integrity::VerifyBundle(*bundle, &*key);
  ASSERT_TRUE(verified.ok()) << verified.status();
  ASSERT_EQ(verified->events.size(), 4u);
  EXPECT_EQ(verified->events[0].event().payload().briefing_requested().topic(), kTopic);
}

TEST_F(SecurityTest, UnknownCertificatesBadTokensAndPlainTextAreRefused) {
  auto status_of = [](const clients::Connection& c) {
    return Log(c).GetStatus(absl::Seconds(10)).status();
  };
  // A certificate from another CA: the handshake fails.
  absl::Status s = status_of(As("intruder"));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  // No certificate and no token.
  s = status_of(As(""));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "no client certificate and no bearer token")) << s;
  // Plain text against the TLS port.
  clients::Connection plain;
  plain.address = server_->address();
  s = status_of(plain);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;

  struct Case {
    const char* what;
    std::string token;
    const char* says;
  };
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  // A key the identity provider never published, under its key id.
  const std::string rogue = dir_->Sub("rogue.key");
  ASSERT_EQ(std::system(absl::StrCat("openssl genpkey -algorithm RSA -pkeyopt "
                                     "rsa_keygen_bits:2048 -out ",
                                     rogue, " 2>/dev/null")
                            .c_str()),
            0);
  const std::string good = Token("mo.okafor", "internal-audit");
  std::string tampered = good;
  tampered[tampered.find('.') + 3] ^= 1;  // a byte of the claims
  const std::vector<Case> cases = {
      {"expired", Token("mo.okafor", "internal-audit", absl::StrCat("\"exp\":", now - 3600)),
       "expired"},
      {"not yet valid", Token("mo.okafor", "internal-audit", absl::StrCat("\"nbf\":", now + 3600)),
       "not valid yet"},
      {"an expiry past any time",
       Token("mo.okafor", "internal-audit", "\"exp\":9223372036854775808"),
       "is not a time in seconds since 1970"},
      {"another audience", Token("mo.okafor", "internal-audit", "\"aud\":\"payroll\""), "audience"},
      {"another issuer", Token("mo.okafor", "internal-audit", "\"iss\":\"https://evil.example\""),
       "issued by"},
      {"wrongly signed",
       SignJwt(rogue, "RS256", "idp-rsa",
               absl::StrCat(R"({"iss":")", kIssuer, R"(","aud":"evenhand","sub":"x","exp":)",
                            now + 600, "}")),
       "signature"},
      {"tampered", tampered, ""},
      {"unsigned (alg none)",
       absl::StrCat(
           absl::WebSafeBase64Escape(R"({"alg":"none","typ":"JWT"})"), ".",
           absl::WebSafeBase64Escape(absl::StrCat(
               R"({"iss":")", kIssuer, R"(","aud":"evenhand","sub":"x","exp":)", now + 600, "}")),
           "."),
       ""},
      {"not a JWT", "hello", ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    s = status_of(As("", c.token));
    EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated) << s;
    EXPECT_TRUE(absl::StrContains(s.message(), "bearer token is refused")) << s;
    EXPECT_TRUE(absl::StrContains(s.message(), c.says)) << s;
  }
  // The good token works; a token never travels in plain text.
  v1::ReplayRequest nothing;
  nothing.mutable_filter()->set_from_position(1);
  nothing.mutable_filter()->set_to_position(1);
  EXPECT_TRUE(Audit(As("", good)).Replay(nothing, [](const v1::AuditedEvent&) { return true; },
                                         [](uint64_t, uint64_t) {})
                  .ok());
  plain.token_file = dir_->Sub("plain-token");
  std::ofstream(plain.token_file) << good;
  EXPECT_EQ(clients::Dial(plain).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(SecurityTest, EachAuditedReadIsInTheLogCoveredByACheckpoint) {
  v1::ReplayRequest request;
  request.mutable_filter()->set_stream_id(LabourBriefing());
  const std::string who = "auditor";
  uint64_t before = AccessRecords(who).size();
  ASSERT_TRUE(Audit(As(who))
                  .Replay(request, [](const v1::AuditedEvent&) { return true; },
                          [](uint64_t, uint64_t) {})
                  .ok());
  // Opened, completed (4 events), plus AccessRecords' own reads.
  std::vector<v1::RecordedEvent> records = AccessRecords(who);
  ASSERT_GE(records.size(), before + 2);
  const v1::RecordedEvent* completed = nullptr;
  for (const auto& r : records) {
    const auto& a = r.event().payload().access_recorded();
    if (a.method() == "evenhand.v1.Audit/Replay" && a.outcome() == "completed" &&
        a.events_returned() == 4 && absl::StrContains(a.request(), LabourBriefing())) {
      completed = &r;
    }
  }
  ASSERT_NE(completed, nullptr);
  EXPECT_EQ(completed->event().stream_id(), "access-auditor");
  EXPECT_EQ(completed->event().source_system(), "evenhandd");
  // A signed checkpoint covers it, and its inclusion proof verifies.
  clients::AuditClient audit = Audit(As("monitoring"));
  absl::StatusOr<v1::SignedCheckpoint> checkpoint;
  for (int i = 0; i < 200; ++i) {
    checkpoint = audit.GetCheckpoint(0);
    ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
    if (checkpoint->checkpoint().tree_size() >= completed->position()) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  const uint64_t n = checkpoint->checkpoint().tree_size();
  ASSERT_GE(n, completed->position());
  auto proof = audit.GetInclusionProof(completed->position(), n);
  ASSERT_TRUE(proof.ok()) << proof.status();
  auto leaf = integrity::LeafHash(*integrity::CanonicalRecord(*completed));
  std::vector<std::string> path(proof->hashes().begin(), proof->hashes().end());
  EXPECT_TRUE(integrity::VerifyInclusion(completed->position() - 1, n, leaf, path,
                                         checkpoint->checkpoint().root_hash())
                  .ok());
}

TEST_F(SecurityTest, SubscriptionsAndExportsAreLimitedPerPrincipal) {
  auto stub = v1::EventLog::NewStub(Dial(As("auditor")));
  v1::SubscribeRequest request;
  request.set_from_end(true);
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<v1::SubscribeResponse>>> open;
  for (int i = 0; i < 2; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    open.push_back(stub->Subscribe(contexts.back().get(), request));
    v1::SubscribeResponse first;
    ASSERT_TRUE(open.back()->Read(&first)) << "subscription " << i << " did not start";
  }
  grpc::ClientContext third_context;
  auto third = stub->Subscribe(&third_context, request);
  v1::SubscribeResponse message;
  EXPECT_FALSE(third->Read(&message));
  grpc::Status s = third->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
  EXPECT_TRUE(absl::StrContains(s.error_message(), "security.limits.maxSubscriptions"))
      << s.error_message();
  // The principal's limit refused it: on the record as denied, as the other
  // per-principal limits' refusals are (docs/SECURITY.md).
  bool recorded = false;
  for (const auto& r : AccessRecords("auditor")) {
    const auto& a = r.event().payload().access_recorded();
    recorded |= a.method() == "evenhand.v1.EventLog/Subscribe" &&
                absl::StartsWith(a.outcome(), "denied: ") &&
                absl::StrContains(a.outcome(), "security.limits.maxSubscriptions");
  }
  EXPECT_TRUE(recorded);
  // Another principal has its own allowance.
  auto other = v1::EventLog::NewStub(Dial(As("", Token("a.patel", "internal-audit"))));
  grpc::ClientContext other_context;
  auto fine = other->Subscribe(&other_context, request);
  EXPECT_TRUE(fine->Read(&message));
  other_context.TryCancel();
  (void)fine->Finish();
  for (auto& c : contexts) c->TryCancel();
  for (auto& r : open) (void)r->Finish();

  v1::ExportRequest everything;
  auto bundle = Audit(As("auditor")).Export(everything);
  EXPECT_EQ(bundle.status().code(), absl::StatusCode::kResourceExhausted) << bundle.status();
  EXPECT_TRUE(absl::StrContains(bundle.status().message(), "more than 50 events"))
      << bundle.status();
}

// A second server whose disk is "full" for its own records: its free-space
// floor is set beyond any disk, so neither appends nor access records can
// be written, and every audited read must be refused.
TEST_F(SecurityTest, AReadWhoseAccessRecordCannotBeWrittenIsRefused) {
  TempDir dir;
  std::string config = ReadFile(certs_ + "/evenhandd.tls.json");
  config = absl::StrReplaceAll(
      config, {{"\"security\": {", "\"minFreeDiskMib\": 4000000000,\n  "
                                   "\"security\": {\"limits\": {\"requestsPerSecond\": 1, "
                                   "\"burst\": 30},"}});
  const std::string path = dir.Sub("full.json");
  std::ofstream(path) << config;
  ChildServer full(dir, 0, {absl::StrCat("--config=", path)});
  full.Start();
  clients::Connection c = As("auditor");
  c.address = full.address();
  v1::ReplayRequest request;
  absl::Status s = Audit(c).Replay(request, [](const v1::AuditedEvent&) { return true; },
                                   [](uint64_t, uint64_t) {});
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "access record could not be made durable")) << s;
  c = As("committee");
  c.address = full.address();
  EXPECT_EQ(Fairness(c).GetReport(v1::ReportRequest()).status().code(),
            absl::StatusCode::kUnavailable);
  // Monitoring, which is not a recorded read, still works: it says why.
  c = As("monitoring");
  c.address = full.address();
  auto status = Log(c).GetStatus();
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_FALSE(status->accepting_appends());
  // Limits per principal: past its burst, a precise RESOURCE_EXHAUSTED.
  absl::Status limited;
  for (int i = 0; i < 40 && limited.ok(); ++i) limited = Log(c).GetStatus().status();
  EXPECT_EQ(limited.code(), absl::StatusCode::kResourceExhausted) << limited;
  EXPECT_TRUE(absl::StrContains(limited.message(), "requestsPerSecond")) << limited;
}

TEST_F(SecurityTest, BackupsAreForAdminsAndStayInTheBackupFolder) {
  namespace fs = std::filesystem;
  auto backup = [&](const std::string& who, const std::string& to) {
    auto stub = v1::Operations::NewStub(Dial(As(who)));
    grpc::ClientContext context;
    v1::BackupRequest request;
    request.set_to(to);
    v1::BackupInfo info;
    return stub->Backup(&context, request, &info);
  };
  // Only an admin may copy the whole log out.
  for (const char* who : {"auditor", "committee", "monitoring", "case-system"}) {
    grpc::Status s = backup(who, "");
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << who;
    EXPECT_THAT(s.error_message(), ::testing::HasSubstr("needs the role admin")) << who;
  }
  // With TLS, not even an admin can make the server write elsewhere.
  grpc::Status outside = backup("admin", dir_->Sub("elsewhere"));
  EXPECT_EQ(outside.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(outside.error_message(), ::testing::HasSubstr("outside the server's backup folder"));
  EXPECT_FALSE(fs::exists(dir_->Sub("elsewhere")));
  // Into its backup folder (the default) it may, and the backup is on the
  // record.
  grpc::Status ok = backup("admin", "");
  EXPECT_TRUE(ok.ok()) << ok.error_message();
  bool recorded = false, refused = false;  // the backup, and the one outside on the record
  for (const auto& r : AccessRecords("admin")) {
    const auto& a = r.event().payload().access_recorded();
    recorded |=
        a.method() == "evenhand.v1.Operations/Backup" && absl::StartsWith(a.outcome(), "backup to");
    refused |= absl::StartsWith(a.outcome(), "denied: ") &&
               absl::StrContains(a.outcome(), "outside the server's");
  }
  EXPECT_TRUE(recorded && refused) << recorded << " " << refused;
}

}  // namespace
}  // namespace evenhand
