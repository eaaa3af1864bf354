// StandingGrants (services/auth/standing_grants.h): calls held while they
// stream, withdrawn by a reload that no longer grants them as they were
// granted, each told once, and forgotten when they end.
#include "services/auth/standing_grants.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/error_details.h"
#include "base/metrics.h"
#include "evenhand/v1/audit.pb.h"
#include "evenhand/v1/fairness.pb.h"
#include "evenhand/v1/log.pb.h"
#include "evenhand/v1/operations.pb.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "services/auth/call_gate.h"
#include "tests/testing/security_config.h"

namespace evenhand::services::auth {
namespace {

constexpr char kReplay[] = "evenhand.v1.Audit/Replay";
constexpr char kWatch[] = "evenhand.v1.Fairness/WatchObligations";
constexpr StandingGrants::Counted kNot = StandingGrants::Counted::kNot;
constexpr StandingGrants::Counted kRead = StandingGrants::Counted::kRead;
constexpr StandingGrants::Counted kWatches = StandingGrants::Counted::kWatch;

v1::SecurityConfig Config(const std::string& json) {
  return testing::SecurityConfigFromJson(json);
}

constexpr char kSecondAuditor[] =
    R"({"name": "auditor-2", "certificateNames": ["auditor-2.demo.council"],
        "roles": ["auditor"]})";

v1::SecurityConfig TwoAuditors() {
  return Config(absl::StrCat(R"({"principals": [
      {"name": "auditor", "certificateNames": ["auditor.demo.council"], "roles": ["auditor"]},)",
                             kSecondAuditor, "]}"));
}
v1::SecurityConfig SecondAuditorOnly() {
  return Config(absl::StrCat(R"({"principals": [)", kSecondAuditor, "]}"));
}

Caller CertificateOf(const std::string& name) {
  Caller c;
  c.tls = true;
  c.certificate_names = {name};
  return c;
}

TEST(StandingGrantsTest, AWithdrawnCallIsToldOnceAndAForgottenOneNever) {
  auto a = Authorizer::Create(TwoAuditors(),
                              /*local_mode=*/false);
  ASSERT_TRUE(a.ok()) << a.status();
  StandingGrants standing;
  auto hold = [&](const std::string& name) {
    Caller caller = CertificateOf(name);
    Authorizer::Decision d = (*a)->Decide(caller, kReplay, v1::ReplayRequest());
    EXPECT_TRUE(d.grant.ok()) << d.grant.status();
    auto held = standing.Keep(**a, caller, kReplay, v1::ReplayRequest(), *d.grant, kRead);
    EXPECT_TRUE(held.ok()) << held.status();
    return *std::move(held);
  };
  auto first = hold("auditor.demo.council");
  auto second = hold("auditor-2.demo.council");
  auto ended = hold("auditor.demo.council");
  std::vector<absl::Status> told;
  first->OnWithdrawn([&](const absl::Status& s) { told.push_back(s); });
  second->OnWithdrawn([&](const absl::Status& s) { told.push_back(s); });
  bool ended_told = false;
  ended->OnWithdrawn([&](const absl::Status&) { ended_told = true; });
  EXPECT_EQ(standing.held(), 3u);
  ended.reset();  // the call is over
  EXPECT_EQ(standing.held(), 2u);

  // Nothing changes for anyone: nobody is told.
  ASSERT_TRUE((*a)->Reload(TwoAuditors())
                  .ok());
  EXPECT_EQ(standing.Reconsider(**a), 0u);
  EXPECT_TRUE(told.empty());
  EXPECT_TRUE(first->status().ok());

  // The first auditor goes: it is told once, its status says why from then
  // on (and counted), and a second reload tells it nothing more.
  metrics::Counter& counted = metrics::Registry::Default().GetCounter(
      "evenhand_streams_withdrawn_total", "", {{"code", "PERMISSION_DENIED"}});
  const uint64_t counted_before = counted.value();
  ASSERT_TRUE((*a)->Reload(SecondAuditorOnly())
                  .ok());
  EXPECT_EQ(standing.Reconsider(**a), 1u);
  EXPECT_EQ(standing.Reconsider(**a), 0u);
  EXPECT_EQ(counted.value(), counted_before + 1);
  ASSERT_EQ(told.size(), 1u);
  EXPECT_TRUE(absl::IsPermissionDenied(told[0])) << told[0];
  EXPECT_TRUE(first->withdrawn());
  EXPECT_EQ(first->status(), told[0]);
  EXPECT_FALSE(second->withdrawn());
  EXPECT_FALSE(ended_told);

  // A function given after the withdrawal is called at once.
  bool late = false;
  first->OnWithdrawn([&](const absl::Status& s) { late = absl::IsPermissionDenied(s); });
  EXPECT_TRUE(late);
}

// A reload between a call's admission and its hold (while its opening is put
// on the record, say) is not passed over: the hold decides it again.
TEST(StandingGrantsTest, ACallAdmittedBeforeAReloadItMissedIsDecidedAgainWhenHeld) {
  auto a = Authorizer::Create(TwoAuditors(),
                              /*local_mode=*/false);
  ASSERT_TRUE(a.ok()) << a.status();
  const Caller first = CertificateOf("auditor.demo.council");
  const Caller second = CertificateOf("auditor-2.demo.council");
  Authorizer::Decision d1 = (*a)->Decide(first, kReplay, v1::ReplayRequest());
  Authorizer::Decision d2 = (*a)->Decide(second, kReplay, v1::ReplayRequest());
  ASSERT_TRUE(d1.grant.ok() && d2.grant.ok());
  EXPECT_EQ(d1.grant->policy_generation, (*a)->generation());
  StandingGrants standing;
  ASSERT_TRUE((*a)->Reload(SecondAuditorOnly())
                  .ok());
  EXPECT_EQ(standing.Reconsider(**a), 0u);  // nothing held yet
  auto h1 = *standing.Keep(**a, first, kReplay, v1::ReplayRequest(), *d1.grant, kNot);
  auto h2 = *standing.Keep(**a, second, kReplay, v1::ReplayRequest(), *d2.grant, kNot);
  EXPECT_TRUE(absl::IsPermissionDenied(h1->status())) << h1->status();
  EXPECT_TRUE(h2->status().ok()) << h2->status();
}

// A principal's open reads are counted, each principal apart, and a read
// that ends makes room for another.
TEST(StandingGrantsTest, APrincipalsOpenReadsAreCappedByItsLimit) {
  auto a = Authorizer::Create(Config(absl::StrCat(R"({"limits": {"maxConcurrentReads": 2},
      "principals": [
      {"name": "auditor", "certificateNames": ["auditor.demo.council"], "roles": ["auditor"]},)",
                                                  kSecondAuditor, "]}")),
                              /*local_mode=*/false);
  ASSERT_TRUE(a.ok()) << a.status();
  StandingGrants standing;
  auto keep = [&](const Caller& caller, StandingGrants::Counted counted) {
    Authorizer::Decision d = (*a)->Decide(caller, kReplay, v1::ReplayRequest());
    EXPECT_TRUE(d.grant.ok()) << d.grant.status();
    EXPECT_EQ(d.grant->max_concurrent_reads, 2u);
    return standing.Keep(**a, caller, kReplay, v1::ReplayRequest(), *d.grant, counted);
  };
  const Caller first = CertificateOf("auditor.demo.council");
  auto r1 = keep(first, kRead);
  auto r2 = keep(first, kRead);
  auto uncounted = keep(first, kNot);  // a subscription, say: its own limit
  ASSERT_TRUE(r1.ok() && r2.ok() && uncounted.ok());
  absl::StatusOr<std::unique_ptr<StandingGrants::Hold>> third = keep(first, kRead);
  ASSERT_TRUE(absl::IsResourceExhausted(third.status())) << third.status();
  EXPECT_EQ(ReasonOf(third.status()), "TOO_MANY_READS");
  EXPECT_TRUE(absl::StrContains(third.status().message(), "has 2 reads open")) << third.status();
  EXPECT_TRUE(absl::StrContains(third.status().message(), "security.limits.maxConcurrentReads"))
      << third.status();
  EXPECT_TRUE(keep(CertificateOf("auditor-2.demo.council"), kRead).ok());
  r1->reset();
  EXPECT_TRUE(keep(first, kRead).ok());
}

// A principal's obligation watches are counted apart from its reads,
// against a limit of their own.
TEST(StandingGrantsTest, APrincipalsWatchesAreCappedApartFromItsReads) {
  auto a =
      Authorizer::Create(Config(R"({"limits": {"maxConcurrentReads": 1, "maxObligationWatches": 2},
          "principals": [{"name": "clerk", "certificateNames": ["clerk.demo.council"],
                          "roles": ["committee", "auditor"]},
                         {"name": "member", "certificateNames": ["member.demo.council"],
                          "roles": ["committee"]}]})"),
                         /*local_mode=*/false);
  ASSERT_TRUE(a.ok()) << a.status();
  StandingGrants standing;
  auto keep = [&](const std::string& name, const char* method,
                  const google::protobuf::Message& request) {
    const Caller caller = CertificateOf(name);
    Authorizer::Decision d = (*a)->Decide(caller, method, request);
    EXPECT_TRUE(d.grant.ok()) << d.grant.status();
    EXPECT_EQ(d.grant->max_obligation_watches, 2u);
    return standing.Keep(**a, caller, method, request, *d.grant, CallGate::CountedAs(method));
  };
  const v1::WatchObligationsRequest watch;
  auto read = keep("clerk.demo.council", kReplay, v1::ReplayRequest());
  auto w1 = keep("clerk.demo.council", kWatch, watch);
  auto w2 = keep("clerk.demo.council", kWatch, watch);
  ASSERT_TRUE(read.ok() && w1.ok() && w2.ok());
  absl::StatusOr<std::unique_ptr<StandingGrants::Hold>> third =
      keep("clerk.demo.council", kWatch, watch);
  ASSERT_TRUE(absl::IsResourceExhausted(third.status())) << third.status();
  EXPECT_EQ(ReasonOf(third.status()), "TOO_MANY_WATCHES");
  ASSERT_TRUE(GetErrorInfo(third.status()).has_value());
  EXPECT_EQ(GetErrorInfo(third.status())->metadata().at("max_obligation_watches"), "2");
  EXPECT_TRUE(absl::StrContains(third.status().message(), "has 2 obligation watches open"))
      << third.status();
  EXPECT_TRUE(absl::StrContains(third.status().message(), "security.limits.maxObligationWatches"))
      << third.status();
  // Its second read meets the read limit, not the watches'.
  EXPECT_EQ(ReasonOf(keep("clerk.demo.council", kReplay, v1::ReplayRequest()).status()),
            "TOO_MANY_READS");
  EXPECT_TRUE(keep("member.demo.council", kWatch, watch).ok());
  w2->reset();
  EXPECT_TRUE(keep("clerk.demo.council", kWatch, watch).ok());
}

// Every method that streams counts against a limit: the watch against its
// own, Subscribe against maxSubscriptions (elsewhere), every other against
// the reads'. A streaming method added later is counted unless named here.
TEST(StandingGrantsTest, EveryStreamingCallCountsAgainstALimit) {
  int streaming = 0;
  // Each service's file, by one of its messages (which links it in).
  for (const google::protobuf::FileDescriptor* file :
       {v1::ReadAllRequest::descriptor()->file(), v1::ReplayRequest::descriptor()->file(),
        v1::WatchObligationsRequest::descriptor()->file(),
        v1::BackupRequest::descriptor()->file()}) {
    ASSERT_EQ(file->service_count(), 1) << file->name();
    const google::protobuf::ServiceDescriptor* d = file->service(0);
    const std::string service = d->full_name();
    for (int i = 0; i < d->method_count(); ++i) {
      const google::protobuf::MethodDescriptor* m = d->method(i);
      if (!m->server_streaming() || m->client_streaming()) continue;
      ++streaming;
      const std::string method = absl::StrCat(service, "/", m->name());
      const StandingGrants::Counted expected = m->name() == "Subscribe"          ? kNot
                                               : m->name() == "WatchObligations" ? kWatches
                                                                                 : kRead;
      EXPECT_EQ(CallGate::CountedAs(method), expected) << method;
    }
  }
  EXPECT_EQ(streaming, 6);
}

// The local principal of local mode reads and watches without those limits.
TEST(StandingGrantsTest, TheLocalPrincipalsReadsAreNotCapped) {
  auto a = Authorizer::Create(
      Config(R"({"limits": {"maxConcurrentReads": 1, "maxObligationWatches": 1}})"),
      /*local_mode=*/true);
  ASSERT_TRUE(a.ok()) << a.status();
  StandingGrants standing;
  std::vector<std::unique_ptr<StandingGrants::Hold>> held;
  for (int i = 0; i < 5; ++i) {
    Authorizer::Decision d = (*a)->Decide(Caller(), kReplay, v1::ReplayRequest());
    ASSERT_TRUE(d.grant.ok()) << d.grant.status();
    auto h = standing.Keep(**a, Caller(), kReplay, v1::ReplayRequest(), *d.grant, kRead);
    ASSERT_TRUE(h.ok()) << h.status();
    held.push_back(*std::move(h));
    const v1::WatchObligationsRequest watch;
    Authorizer::Decision w = (*a)->Decide(Caller(), kWatch, watch);
    ASSERT_TRUE(w.grant.ok()) << w.grant.status();
    auto hw = standing.Keep(**a, Caller(), kWatch, watch, *w.grant, kWatches);
    ASSERT_TRUE(hw.ok()) << hw.status();
    held.push_back(*std::move(hw));
  }
}

}  // namespace
}  // namespace evenhand::services::auth
