// security.limits.maxConcurrentReads and maxObligationWatches over TLS, on
// a real server with the demo's log (services/auth/standing_grants.h):
// reads whose client stops reading hold a server thread each, watches
// their watcher's state, and a principal may hold only so many.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "base/error_details.h"
#include "base/grpc_status.h"
#include "clients/audit_client.h"
#include "clients/event_log_client.h"
#include "evenhand/v1/audit.grpc.pb.h"
#include "evenhand/v1/fairness.grpc.pb.h"
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

// A principal may hold maxConcurrentReads reads (2 here); a third read of
// any kind is refused, on the record as denied and not as opened; another
// principal has its own allowance, and a read that ends makes room.
TEST(ReadLimitsTest, APrincipalsStalledReadsAreCappedByItsLimit) {
  TempDir dir;
  const std::string certs = dir.Sub("certs");
  ASSERT_TRUE(testing::MakeCerts(certs));
  const std::string path = dir.Sub("reads.json");
  testing::WriteFile(path,
                     absl::StrReplaceAll(testing::ReadFile(certs + "/evenhandd.tls.json"),
                                         {{"\"security\": {",
                                           "\"security\": {\"limits\": {\"maxConcurrentReads\": 2, "
                                           "\"maxObligationWatches\": 1},"}}));
  ChildServer server(dir, 0, {absl::StrCat("--config=", path), "--demo"});
  server.Start();
  auto as = [&](const std::string& who) {
    clients::Connection c = testing::DemoConnection(server.address(), certs, who);
    auto channel = clients::Dial(c);
    EXPECT_TRUE(channel.ok()) << channel.status();
    return *channel;
  };

  // Two replays whose client reads one message, then stops: the server
  // waits in its writes, after a few messages of the demo's log.
  struct Stalled {
    std::shared_ptr<grpc::Channel> channel;
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReader<v1::ReplayResponse>> reader;
  };
  auto stall = [&](const std::string& who) {
    auto r = std::make_unique<Stalled>();
    r->channel = testing::SmallWindowChannel(server.address(), certs, who);
    r->reader = v1::Audit::NewStub(r->channel)->Replay(&r->context, v1::ReplayRequest());
    v1::ReplayResponse first;
    if (!r->reader->Read(&first)) {
      ADD_FAILURE() << "the replay did not start: " << r->reader->Finish().error_message();
      r->reader.reset();
    }
    return r;
  };
  std::vector<std::unique_ptr<Stalled>> stalled;
  stalled.push_back(stall("auditor"));
  stalled.push_back(stall("auditor"));

  auto refused = [](const absl::Status& s) {
    return absl::IsResourceExhausted(s) &&
           absl::StrContains(s.message(), "security.limits.maxConcurrentReads");
  };
  clients::AuditClient audit(v1::Audit::NewStub(as("auditor")));
  clients::EventLogClient log(v1::EventLog::NewStub(as("auditor")));
  absl::Status replay = audit.Replay(
      v1::ReplayRequest(), [](const v1::AuditedEvent&) { return true; }, [](uint64_t, uint64_t) {});
  EXPECT_TRUE(refused(replay)) << replay;
  v1::ReadStreamRequest read;
  read.set_stream_id("access-auditor");
  auto all = [](const v1::RecordedEvent&) { return true; };
  absl::Status stream_read = log.ReadStream(read, all);
  EXPECT_TRUE(refused(stream_read)) << stream_read;
  absl::Status read_all = log.ReadAll(v1::ReadAllRequest(), all);
  EXPECT_TRUE(refused(read_all)) << read_all;
  EXPECT_EQ(ReasonOf(read_all), "TOO_MANY_READS");

  // Another principal (a person of internal audit) reads as ever, and finds
  // the auditor's two reads opened and three refused.
  clients::Connection clerk = testing::DemoConnection(server.address(), certs, "");
  clerk.token_file = dir.Sub("token");
  testing::WriteFile(clerk.token_file,
                     testing::DemoToken(certs, "a.patel", "internal-audit", absl::Hours(1)));
  auto clerk_channel = clients::Dial(clerk);
  ASSERT_TRUE(clerk_channel.ok()) << clerk_channel.status();
  std::vector<std::string> outcomes;
  absl::Status other =
      clients::EventLogClient(v1::EventLog::NewStub(*clerk_channel))
          .ReadStream(read, [&](const v1::RecordedEvent& e) {
            const v1::AccessRecorded& a = e.event().payload().access_recorded();
            outcomes.push_back(absl::StartsWith(a.outcome(), "denied: ") &&
                                       absl::StrContains(a.outcome(), "maxConcurrentReads")
                                   ? "denied"
                                   : a.outcome());
            return true;
          });
  EXPECT_TRUE(other.ok()) << other;
  EXPECT_EQ(std::count(outcomes.begin(), outcomes.end(), "opened"), 2) << outcomes.size();
  EXPECT_EQ(std::count(outcomes.begin(), outcomes.end(), "denied"), 3) << outcomes.size();

  // One stalled read is given up; its room is the next read's.
  ASSERT_TRUE(stalled[0]->reader != nullptr && stalled[1]->reader != nullptr);
  stalled.front()->context.TryCancel();
  (void)stalled.front()->reader->Finish();
  stalled.front()->reader.reset();
  absl::Status again;
  for (int i = 0; i < 40; ++i) {
    again = log.ReadStream(read, all);
    if (!refused(again)) break;
    absl::SleepFor(absl::Milliseconds(250));
  }
  EXPECT_TRUE(again.ok()) << again;
  for (auto& r : stalled) r->context.TryCancel();
  for (auto& r : stalled) {
    if (r->reader != nullptr) (void)r->reader->Finish();
  }

  // The committee may watch obligations once at a time (1 here), its reads
  // aside; the second watch is refused and on the record as denied.
  auto committee = v1::Fairness::NewStub(as("committee"));
  struct Watch {
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReader<v1::ObligationUpdate>> reader;
  };
  auto watch = [&] {
    auto w = std::make_unique<Watch>();
    w->reader = committee->WatchObligations(&w->context, v1::WatchObligationsRequest());
    return w;
  };
  auto caught_up = [](Watch& w) {
    v1::ObligationUpdate u;
    while (w.reader->Read(&u)) {
      if (u.kind() == v1::ObligationUpdate::CAUGHT_UP) return true;
    }
    ADD_FAILURE() << "the watch ended: " << w.reader->Finish().error_message();
    return false;
  };
  std::unique_ptr<Watch> first = watch();
  ASSERT_TRUE(caught_up(*first));
  std::unique_ptr<Watch> second = watch();
  v1::ObligationUpdate u;
  EXPECT_FALSE(second->reader->Read(&u));
  const grpc::Status over = second->reader->Finish();
  EXPECT_EQ(over.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << over.error_message();
  EXPECT_TRUE(absl::StrContains(over.error_message(), "security.limits.maxObligationWatches"))
      << over.error_message();
  EXPECT_EQ(ReasonOf(FromGrpcStatus(over)), "TOO_MANY_WATCHES");
  v1::ReadStreamRequest committee_access;
  committee_access.set_stream_id("access-committee");
  std::vector<std::string> watch_outcomes;
  ASSERT_TRUE(log.ReadStream(committee_access,
                             [&](const v1::RecordedEvent& e) {
                               const v1::AccessRecorded& a = e.event().payload().access_recorded();
                               if (absl::EndsWith(a.method(), "/WatchObligations")) {
                                 watch_outcomes.push_back(
                                     absl::StartsWith(a.outcome(), "denied: ") &&
                                             absl::StrContains(a.outcome(), "maxObligationWatches")
                                         ? "denied"
                                         : a.outcome());
                               }
                               return true;
                             })
                  .ok());
  EXPECT_EQ(watch_outcomes, (std::vector<std::string>{"allowed", "denied"}));
  // The first ends; the next watch is served.
  first->context.TryCancel();
  (void)first->reader->Finish();
  bool served = false;
  for (int i = 0; i < 40 && !served; ++i) {
    std::unique_ptr<Watch> next = watch();
    served = next->reader->Read(&u);
    next->context.TryCancel();
    (void)next->reader->Finish();
    if (!served) absl::SleepFor(absl::Milliseconds(250));
  }
  EXPECT_TRUE(served);
}

}  // namespace
}  // namespace evenhand
