// The authoriser on its own (services/auth/authorizer.h): that its table
// covers every method the server has, and how publisher lanes are read. The
// same decisions over real TLS are in tests/server/security_test.cc.
#include "services/auth/authorizer.h"

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "evenhand/v1/audit.grpc.pb.h"
#include "evenhand/v1/fairness.grpc.pb.h"
#include "evenhand/v1/log.grpc.pb.h"
#include "evenhand/v1/operations.grpc.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/testing/security_config.h"
#include "tests/testing/status_matchers.h"

namespace evenhand::services::auth {
namespace {

using ::evenhand::testing::StatusIs;
using ::testing::HasSubstr;

constexpr char kAppend[] = "evenhand.v1.EventLog/Append";

v1::SecurityConfig Config(const std::string& json) {
  return testing::SecurityConfigFromJson(json);
}

Identity Publisher(const std::string& system) {
  Identity id;
  id.principal = system;
  id.authenticated_as = absl::StrCat("certificate ", system, ".example");
  id.roles = {absl::StrCat("publisher:", system)};
  return id;
}

// One BriefingRequested from `system` to `stream`.
v1::AppendRequest Request(const std::string& system, const std::string& stream) {
  v1::AppendRequest r;
  r.set_stream_id(stream);
  v1::Event* e = r.add_events();
  e->set_source_system(system);
  e->mutable_payload()->mutable_briefing_requested()->set_group_id("green");
  return r;
}

TEST(AuthorizerTest, EveryMethodOfEveryServiceHasARule) {
  // A method the table lacks is refused to everyone, so a new method
  // without a rule would be unusable, never open; this keeps the table and
  // the protos in step.
  // Referenced so that their descriptors are linked in.
  ASSERT_NE(v1::AppendRequest::descriptor(), nullptr);
  ASSERT_NE(v1::ReportRequest::descriptor(), nullptr);
  ASSERT_NE(v1::ExportRequest::descriptor(), nullptr);
  ASSERT_NE(v1::BackupRequest::descriptor(), nullptr);
  int methods = 0;
  for (const char* name : {"evenhand.v1.EventLog", "evenhand.v1.Fairness", "evenhand.v1.Audit",
                           "evenhand.v1.Operations"}) {
    const google::protobuf::ServiceDescriptor* s =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(name);
    ASSERT_NE(s, nullptr) << name;
    for (int i = 0; i < s->method_count(); ++i) {
      const std::string method = absl::StrCat(s->full_name(), "/", s->method(i)->name());
      EXPECT_TRUE(Authorizer::HasRuleFor(method)) << method << " has no rule";
      ++methods;
    }
  }
  EXPECT_GE(methods, 20);
  EXPECT_FALSE(Authorizer::HasRuleFor("evenhand.v1.EventLog/Delete"));
}

TEST(AuthorizerTest, OnANetworkAPublisherWithoutALaneMayAppendNothing) {
  auto a = Authorizer::Create(Config(R"({"publishers": [
      {"system": "case-system", "eventTypes": ["*"], "streamKinds": ["query"]}]})"),
                              /*local_mode=*/false);
  ASSERT_TRUE(a.ok()) << a.status();
  absl::StatusOr<Grant> g =
      (*a)->Authorize(Publisher("newsys"), kAppend, Request("newsys", "briefing-B-1"));
  ASSERT_TRUE(absl::IsPermissionDenied(g.status())) << g.status();
  EXPECT_TRUE(absl::StrContains(g.status().message(), "publisher \"newsys\" has no lane"))
      << g.status();
  EXPECT_TRUE(absl::StrContains(g.status().message(), "security.publishers")) << g.status();

  // "*" allows any type; the kinds still hold.
  g = (*a)->Authorize(Publisher("case-system"), kAppend, Request("case-system", "query-Q-1"));
  EXPECT_TRUE(g.ok()) << g.status();
  g = (*a)->Authorize(Publisher("case-system"), kAppend, Request("case-system", "briefing-B-1"));
  ASSERT_TRUE(absl::IsPermissionDenied(g.status())) << g.status();
  EXPECT_TRUE(absl::StrContains(g.status().message(), "may append only to query-")) << g.status();
}

// A certificate is one principal's: a name two principals list, or two
// principals of one name, are refused at load; a certificate whose names
// two principals list is refused, not given both's roles; and the record
// names the certificate by the name a principal lists.
TEST(AuthorizerTest, ACertificateIsOnePrincipalsAndRecordedByTheNameItListed) {
  EXPECT_THAT(Authorizer::Create(Config(R"({"principals": [
      {"name": "auditor", "certificateNames": ["a.demo"], "roles": ["auditor"]},
      {"name": "auditor", "certificateNames": ["b.demo"], "roles": ["committee"]}]})"),
                                 /*local_mode=*/false)
                  .status()
                  .message(),
              ::testing::HasSubstr("\"auditor\" names security.principals[0] already"));
  EXPECT_THAT(Authorizer::Create(Config(R"({"principals": [
      {"name": "auditor", "certificateNames": ["a.demo"], "roles": ["auditor"]},
      {"name": "labour", "certificateNames": ["a.demo"], "roles": ["group:labour"]}]})"),
                                 /*local_mode=*/false)
                  .status()
                  .message(),
              ::testing::HasSubstr("\"a.demo\" is listed by principal \"auditor\" already"));
  auto a = Authorizer::Create(Config(R"({"principals": [
      {"name": "auditor", "certificateNames": ["a.demo"], "roles": ["auditor"]},
      {"name": "labour", "certificateNames": ["l.demo"], "roles": ["group:labour"]}]})"),
                              /*local_mode=*/false);
  ASSERT_TRUE(a.ok()) << a.status();
  Caller both;
  both.tls = true;
  both.certificate_names = {"a.demo", "l.demo"};
  absl::StatusOr<Identity> refused = (*a)->Authenticate(both);
  ASSERT_TRUE(absl::IsUnauthenticated(refused.status())) << refused.status();
  EXPECT_THAT(refused.status().message(),
              ::testing::HasSubstr("listed by two principals, \"auditor\" and \"labour\""));
  Caller listed_second;
  listed_second.tls = true;
  listed_second.certificate_names = {"nobody.demo", "a.demo"};
  absl::StatusOr<Identity> id = (*a)->Authenticate(listed_second);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->principal, "auditor");
  EXPECT_EQ(id->authenticated_as, "certificate a.demo");
  EXPECT_EQ(id->roles, std::vector<std::string>{"auditor"});
}

// The handshake checks a certificate's dates when a connection (or a TLS
// session it resumes) begins; a connection lives for hours, so each call is
// checked against the certificate's notAfter again (outside probe: an
// expired certificate read on through a resumed session). The identity
// carries the moment its credential ends, for the streams it opens.
// An authoriser whose one principal, "auditor", is certificate a.demo's,
// and a caller over TLS with that certificate.
absl::StatusOr<std::unique_ptr<Authorizer>> OneAuditor(std::function<absl::Time()> clock = [] {
  return absl::Now();
}) {
  return Authorizer::Create(Config(R"({"principals": [
      {"name": "auditor", "certificateNames": ["a.demo"], "roles": ["auditor"]}]})"),
                            /*local_mode=*/false, std::move(clock));
}
Caller AuditorCaller() {
  Caller caller;
  caller.tls = true;
  caller.certificate_names = {"a.demo"};
  return caller;
}

TEST(AuthorizerTest, ACertificateThatExpiredSinceItsConnectionBeganIsRefused) {
  absl::Time now = absl::FromUnixSeconds(1800000000);
  auto a = OneAuditor([&now] { return now; });
  ASSERT_TRUE(a.ok()) << a.status();
  Caller caller = AuditorCaller();
  caller.certificate_not_after = now + absl::Seconds(30);
  absl::StatusOr<Identity> id = (*a)->Authenticate(caller);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->expires_at, now + absl::Seconds(30));
  now += absl::Seconds(30);
  EXPECT_TRUE((*a)->Authenticate(caller).ok()) << "notAfter itself is within the validity";
  now += absl::Seconds(1);
  absl::StatusOr<Identity> expired = (*a)->Authenticate(caller);
  ASSERT_TRUE(absl::IsUnauthenticated(expired.status())) << expired.status();
  EXPECT_THAT(expired.status().message(),
              ::testing::HasSubstr("the client certificate expired at 2027-01-15 08:00:30 UTC "
                                   "(the connection, or the TLS session it resumed, began while "
                                   "it was valid): present a renewed certificate"));
  // A certificate whose date could not be read is not taken undated.
  caller.certificate_not_after = absl::InfinitePast();
  EXPECT_THAT((*a)->Authenticate(caller).status().message(),
              ::testing::HasSubstr("has no expiry date the server can read"));
}

// Two bearer tokens on one call: which one is meant is not guessed (the
// first was taken, the rest ignored: outside probe).
TEST(AuthorizerTest, ACallWithTwoAuthorizationHeadersIsRefused) {
  auto a = OneAuditor();
  ASSERT_TRUE(a.ok()) << a.status();
  Caller caller = AuditorCaller();
  caller.authorization = "Bearer x.y.z";
  caller.authorization_headers = 2;
  absl::StatusOr<Identity> id = (*a)->Authenticate(caller);
  ASSERT_TRUE(absl::IsUnauthenticated(id.status())) << id.status();
  EXPECT_THAT(id.status().message(),
              ::testing::HasSubstr("the call carries 2 authorization headers"));
}

// A principal with a group's role reads events with other groups' values
// withheld; any hash of the log covers those values and would let it check
// guesses at them. So with the committee's role too (a councillor on the
// standards committee), its signed reports (a checkpoint; the root at an
// as-of position of its choosing) and its reports' roots are withheld, as
// tree heads and checkpoints are (review).
TEST(AuthorizerTest, APrincipalWithAGroupsRoleGetsNoHashOfTheLogWhateverElseItHolds) {
  auto a = Authorizer::Create(v1::SecurityConfig(), /*local_mode=*/false);
  ASSERT_TRUE(a.ok()) << a.status();
  Identity councillor;
  councillor.principal = "cllr";
  councillor.authenticated_as = "token cllr";
  councillor.roles = {"group:labour", "committee"};
  const v1::ReportRequest report;
  EXPECT_TRUE(absl::IsPermissionDenied(
      (*a)->Authorize(councillor, "evenhand.v1.Fairness/GetReportDocument", report).status()));
  EXPECT_TRUE(absl::IsPermissionDenied(
      (*a)->Authorize(councillor, "evenhand.v1.Audit/GetCheckpoint", v1::GetCheckpointRequest())
          .status()));
  absl::StatusOr<Grant> g = (*a)->Authorize(councillor, "evenhand.v1.Fairness/GetReport", report);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_FALSE(g->hashes) << "its report comes without the root";
  Identity clerk = councillor;
  clerk.roles = {"committee"};
  g = (*a)->Authorize(clerk, "evenhand.v1.Fairness/GetReport", report);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_TRUE(g->hashes);
  EXPECT_TRUE((*a)->Authorize(clerk, "evenhand.v1.Fairness/GetReportDocument", report).ok());
}

TEST(AuthorizerTest, InLocalModeASystemWithoutALaneMayAppend) {
  auto a = Authorizer::Create(v1::SecurityConfig(), /*local_mode=*/true);
  ASSERT_TRUE(a.ok()) << a.status();
  absl::StatusOr<Identity> local = (*a)->Authenticate(Caller());
  ASSERT_TRUE(local.ok()) << local.status();
  absl::StatusOr<Grant> g = (*a)->Authorize(*local, kAppend, Request("newsys", "briefing-B-1"));
  EXPECT_TRUE(g.ok()) << g.status();
}

TEST(AuthorizerTest, ATokenSentToALocalModeServerIsRefused) {
  // A token over plain text could be read on the way: refused, so that the
  // sender learns not to send it (the CLI refuses to send one first).
  auto a = Authorizer::Create(v1::SecurityConfig(), /*local_mode=*/true);
  ASSERT_TRUE(a.ok()) << a.status();
  Caller caller;
  caller.authorization = "Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln";
  absl::StatusOr<Identity> id = (*a)->Authenticate(caller);
  ASSERT_TRUE(absl::IsUnauthenticated(id.status())) << id.status();
  EXPECT_TRUE(absl::StrContains(id.status().message(), "accepted only over TLS")) << id.status();
}

TEST(AuthorizerTest, ALaneMustListItsTypesAndKinds) {
  for (const char* lanes : {
           R"([{"system": "case-system", "streamKinds": ["query"]}])",
           R"([{"system": "case-system", "eventTypes": ["WrittenQueryReceived"]}])",
           R"([{"eventTypes": ["*"], "streamKinds": ["*"]}])",
           R"([{"system": "a", "eventTypes": ["*"], "streamKinds": ["*"]},
               {"system": "a", "eventTypes": ["*"], "streamKinds": ["*"]}])",
       }) {
    auto a = Authorizer::Create(Config(absl::StrCat(R"({"publishers": )", lanes, "}")),
                                /*local_mode=*/false);
    ASSERT_TRUE(absl::IsInvalidArgument(a.status())) << lanes;
    EXPECT_TRUE(absl::StrContains(a.status().message(), "security.publishers[")) << a.status();
  }
}

// Settings that would blur who is who, or let one caller be another, are
// refused when the config is read, naming the setting (outside probe: each
// was taken).
TEST(AuthorizerTest, SettingsThatWouldBlurWhoIsWhoAreRefused) {
  for (auto [json, expected] : std::vector<std::pair<std::string, std::string>>{
           {R"({"principals": [{"name": "p", "certificateNames": [""], "roles": ["committee"]}]})",
            "would match certificates that name nothing"},
           {R"({"principals": [{"name": "p", "certificateNames": ["other types of SAN"],
                "roles": ["monitoring"]}]})",
            "gRPC's stand-in for every subject alternative name"},
           {R"({"principals": [{"name": "bob1", "tokenSubjects": ["bob"], "roles": ["auditor"]},
               {"name": "bob2", "tokenSubjects": ["bob"], "roles": ["group:labour"]}]})",
            "\"bob\" is listed by principal \"bob1\" already"},
           {R"({"principals": [{"name": "p", "certificateNames": ["p.demo"],
                "roles": ["publisher:*"]}]})",
            "would let one principal append as every system"},
           {R"({"principals": [{"name": "p", "certificateNames": ["p.demo"],
                "roles": ["publisher:evenhandd"]}]})",
            "evenhandd is the server's own source"},
           {R"({"publishers": [{"system": "evenhandd", "eventTypes": ["*"],
                "streamKinds": ["*"]}]})",
            "is the server's own source"},
           {R"({"oidc": {"leewaySeconds": 400000000}})", "is more than 600 (10 minutes)"},
           {R"({"principals": [{"name": "p", "certificateNames": [" "], "roles": ["committee"]}]})",
            "would match certificates that name nothing"},
           {R"({"publishers": [{"system": "case-system", "eventTypes": ["AccessRecorded"],
                "streamKinds": ["*"]}]})",
            "AccessRecorded is the server's own record of reads"},
           {R"({"publishers": [{"system": "case-system",
                "eventTypes": ["WrittenQueryReceived", "BriefingRequestd"],
                "streamKinds": ["*"]}]})",
            "unknown event type \"BriefingRequestd\"; did you mean \"BriefingRequested\"?"},
           // An empty token group or subject would match a token whose
           // claim is empty (found from outside: "groups": "" was an
           // auditor).
           {R"({"principals": [{"name": "p", "tokenGroups": [""], "roles": ["auditor"]}]})",
            ".tokenGroups: \"\" is not a value a token can be told apart by"},
           {R"({"principals": [{"name": "p", "tokenSubjects": [" "], "roles": ["auditor"]}]})",
            ".tokenSubjects: \" \" is not a value a token can be told apart by"},
           // The local principal's access stream is its own.
           {R"({"principals": [{"name": "local", "certificateNames": ["l.demo"],
                "roles": ["auditor"]}]})",
            "\"local\" is the local principal's name (security.local.name)"},
           {R"({"local": {"name": "desk"}, "principals": [{"name": "desk",
                "certificateNames": ["d.demo"], "roles": ["auditor"]}]})",
            "\"desk\" is the local principal's name"},
       }) {
    auto a = Authorizer::Create(Config(json), /*local_mode=*/false);
    EXPECT_THAT(a.status(), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(expected)))
        << json;
  }
  // Local mode's own roles may hold every publisher.
  EXPECT_OK(Authorizer::Create(Config(R"({"local": {"roles": ["publisher:*"]}})"),
                               /*local_mode=*/true)
                .status());
  EXPECT_OK(Authorizer::Create(Config(R"({"oidc": {"leewaySeconds": 600}})"), /*local_mode=*/false)
                .status());
}

// A certificate that names nothing a principal can be told apart by (only
// otherName or directoryName SANs, which gRPC gives as one placeholder, or
// an empty subject) is refused, not taken as one shared caller.
TEST(AuthorizerTest, ACertificateThatNamesNothingIsRefused) {
  auto a = Authorizer::Create(Config(R"({"principals": [
      {"name": "auditor", "certificateNames": ["a.demo"], "roles": ["auditor"]}]})"),
                              /*local_mode=*/false);
  ASSERT_TRUE(a.ok()) << a.status();
  Caller caller;
  caller.tls = true;
  caller.certificate_without_name = true;
  EXPECT_THAT((*a)->Authenticate(caller),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       HasSubstr("names no DNS name, IP address, e-mail address or URI")));
}

TEST(AuthorizerTest, ACallerNoPrincipalNamesNeverGoesByAPrincipalsName) {
  // A certificate of the council's CA whose name spells a configured
  // principal's ("auditor", issued for something else) is not that
  // principal: it would share its rate, its subscriptions and its access
  // records' stream.
  auto a = Authorizer::Create(Config(R"({"principals": [
      {"name": "auditor", "certificateNames": ["auditor.demo.council"], "roles": ["auditor"]}]})"),
                              /*local_mode=*/false);
  ASSERT_TRUE(a.ok()) << a.status();
  Caller caller;
  caller.tls = true;
  caller.certificate_names = {"auditor"};
  absl::StatusOr<Identity> id = (*a)->Authenticate(caller);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->principal, "certificate:auditor");
  EXPECT_TRUE(id->roles.empty());
  // Nor by the prefix itself, nor by the local principal's name.
  for (const char* name : {"certificate:auditor", "local"}) {
    caller.certificate_names = {name};
    id = (*a)->Authenticate(caller);
    ASSERT_TRUE(id.ok()) << id.status();
    EXPECT_EQ(id->principal, absl::StrCat("certificate:", name));
  }
  // A certificate no principal lists goes by its name, marked as such (a
  // person's subject could be the same); the principal's own certificate
  // is the principal.
  caller.certificate_names = {"someone.demo.council"};
  EXPECT_EQ((*a)->Authenticate(caller)->principal, "certificate:someone.demo.council");
  caller.certificate_names = {"auditor.demo.council"};
  EXPECT_EQ((*a)->Authenticate(caller)->principal, "auditor");
  // So no principal may be named so.
  auto refused = Authorizer::Create(Config(R"({"principals": [
      {"name": "token:bob", "certificateNames": ["bob.demo.council"], "roles": ["auditor"]}]})"),
                                    /*local_mode=*/false);
  ASSERT_TRUE(absl::IsInvalidArgument(refused.status())) << refused.status();
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "security.principals[0].name"))
      << refused.status();
}

TEST(AuthorizerTest, AReloadTakesANewPolicyWholeOrNotAtAll) {
  auto a = Authorizer::Create(Config(R"({"principals": [
      {"name": "committee", "certificateNames": ["committee.demo.council"],
       "roles": ["committee"]}]})"),
                              /*local_mode=*/false);
  ASSERT_TRUE(a.ok()) << a.status();
  Caller caller;
  caller.tls = true;
  caller.certificate_names = {"auditor.demo.council"};
  const char kReport[] = "evenhand.v1.Fairness/GetReport";
  auto refused = (*a)->Authorize(*(*a)->Authenticate(caller), kReport, v1::ReportRequest());
  EXPECT_TRUE(absl::IsPermissionDenied(refused.status())) << refused.status();

  // The auditor is added, with a lower subscription cap.
  ASSERT_TRUE((*a)->Reload(Config(R"({"limits": {"maxSubscriptions": 3}, "principals": [
      {"name": "auditor", "certificateNames": ["auditor.demo.council"], "roles": ["auditor"]}]})"))
                  .ok());
  Identity auditor = *(*a)->Authenticate(caller);
  EXPECT_EQ(auditor.principal, "auditor");
  EXPECT_TRUE((*a)->Authorize(auditor, kReport, v1::ReportRequest()).ok());
  EXPECT_EQ((*a)->max_subscriptions(), 3u);

  // A policy that would not start is refused whole: the one held stays.
  absl::Status bad = (*a)->Reload(Config(R"({"principals": [
      {"name": "auditor", "certificateNames": ["auditor.demo.council"], "roles": ["auditr"]}]})"));
  EXPECT_TRUE(absl::IsInvalidArgument(bad)) << bad;
  EXPECT_TRUE(absl::StrContains(bad.message(), "unknown role \"auditr\"")) << bad;
  EXPECT_EQ((*a)->Authenticate(caller)->principal, "auditor");
  EXPECT_EQ((*a)->max_subscriptions(), 3u);
}

// A stream held across a reload is judged by what it was granted: the same
// grant goes on (with no rate limit: it is no new call), a grant withdrawn
// or changed says so.
TEST(AuthorizerTest, AStreamIsReconfirmedByTheGrantItWasOpenedWith) {
  auto a = Authorizer::Create(Config(R"({"limits": {"requestsPerSecond": 1, "burst": 1},
      "principals": [
      {"name": "labour", "certificateNames": ["labour.demo.council"],
       "roles": ["group:labour", "group:green"]},
      {"name": "auditor", "certificateNames": ["auditor.demo.council"], "roles": ["auditor"]}]})"),
                              /*local_mode=*/false);
  ASSERT_TRUE(a.ok()) << a.status();
  Caller labour;
  labour.tls = true;
  labour.certificate_names = {"labour.demo.council"};
  Caller auditor = labour;
  auditor.certificate_names = {"auditor.demo.council"};
  const char kReplay[] = "evenhand.v1.Audit/Replay";
  const v1::ReplayRequest request;
  Authorizer::Decision l = (*a)->Decide(labour, kReplay, request);
  ASSERT_TRUE(l.grant.ok()) << l.grant.status();
  Authorizer::Decision d = (*a)->Decide(auditor, kReplay, request);
  ASSERT_TRUE(d.grant.ok()) << d.grant.status();
  const absl::Time opened = absl::Now();
  // Over the rate limit for new calls, and still confirmed.
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE((*a)->Reconfirm(labour, opened, kReplay, request, *l.grant).ok());
  }

  // The same roles listed in another order change no grant.
  ASSERT_TRUE((*a)->Reload(Config(R"({"principals": [
      {"name": "auditor", "certificateNames": ["auditor.demo.council"], "roles": ["auditor"]},
      {"name": "labour", "certificateNames": ["labour.demo.council"],
       "roles": ["group:green", "group:labour"]}]})"))
                  .ok());
  EXPECT_TRUE((*a)->Reconfirm(labour, opened, kReplay, request, *l.grant).ok());

  // Labour's reader no longer reads for the Greens; the auditor is gone.
  ASSERT_TRUE((*a)->Reload(Config(R"({"principals": [
      {"name": "labour", "certificateNames": ["labour.demo.council"],
       "roles": ["group:labour"]}]})"))
                  .ok());
  absl::Status changed = (*a)->Reconfirm(labour, opened, kReplay, request, *l.grant);
  EXPECT_TRUE(absl::IsAborted(changed)) << changed;
  EXPECT_TRUE(absl::StrContains(changed.message(), "(labour) withheld now")) << changed;
  EXPECT_TRUE(absl::StrContains(changed.message(), "call again")) << changed;
  absl::Status withdrawn = (*a)->Reconfirm(auditor, opened, kReplay, request, *d.grant);
  EXPECT_TRUE(absl::IsPermissionDenied(withdrawn)) << withdrawn;
  EXPECT_TRUE(absl::StrContains(withdrawn.message(),
                                "no longer allows this "
                                "evenhand.v1.Audit/Replay call of principal "
                                "\"auditor\""))
      << withdrawn;
}

// A decision that cannot be made (whose case a stream is could not be read)
// is no withdrawal: the stream keeps its grant.
TEST(AuthorizerTest, AStreamWhoseOwnerCannotBeReadKeepsItsGrant) {
  auto a = Authorizer::Create(Config(R"({"principals": [
      {"name": "labour", "certificateNames": ["labour.demo.council"],
       "roles": ["group:labour"]}]})"),
                              /*local_mode=*/false);
  ASSERT_TRUE(a.ok()) << a.status();
  bool readable = true;
  (*a)->SetStreamOwner([&](const std::string&) -> absl::StatusOr<std::string> {
    if (!readable) return absl::UnavailableError("the log could not be read");
    return std::string("labour");
  });
  Caller labour;
  labour.tls = true;
  labour.certificate_names = {"labour.demo.council"};
  const char kReadStream[] = "evenhand.v1.EventLog/ReadStream";
  v1::ReadStreamRequest request;
  request.set_stream_id("briefing-B-1");
  Authorizer::Decision d = (*a)->Decide(labour, kReadStream, request);
  ASSERT_TRUE(d.grant.ok()) << d.grant.status();
  readable = false;
  EXPECT_TRUE((*a)->Reconfirm(labour, absl::Now(), kReadStream, request, *d.grant).ok());
}

// In local mode, whether the local principal's reads go on the record is
// part of its grant.
TEST(AuthorizerTest, ALocalStreamWhoseReadsStopBeingRecordedIsToldSo) {
  auto a = Authorizer::Create(Config("{}"), /*local_mode=*/true);
  ASSERT_TRUE(a.ok()) << a.status();
  const char kReplay[] = "evenhand.v1.Audit/Replay";
  Authorizer::Decision d = (*a)->Decide(Caller(), kReplay, v1::ReplayRequest());
  ASSERT_TRUE(d.grant.ok()) << d.grant.status();
  ASSERT_TRUE(d.grant->recorded);
  ASSERT_TRUE((*a)->Reload(Config("{}")).ok());
  EXPECT_TRUE((*a)->Reconfirm(Caller(), absl::Now(), kReplay, v1::ReplayRequest(), *d.grant).ok());
  ASSERT_TRUE((*a)->Reload(Config(R"({"local": {"doNotRecordReads": true}})")).ok());
  absl::Status changed =
      (*a)->Reconfirm(Caller(), absl::Now(), kReplay, v1::ReplayRequest(), *d.grant);
  EXPECT_TRUE(absl::IsAborted(changed)) << changed;
  EXPECT_TRUE(absl::StrContains(changed.message(), "no longer put on the record")) << changed;
}

}  // namespace
}  // namespace evenhand::services::auth
