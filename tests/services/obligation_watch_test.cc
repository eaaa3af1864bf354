// Fairness.WatchObligations against the real server: a watcher hears when a
// written query comes within its window, when it is answered (met) and when
// its deadline passes unanswered (missed), as the log grows and the
// server's clock moves; filters are checked; shutdown ends the watch.
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "base/grpc_deadline.h"
#include "clients/event_log_client.h"
#include "evenhand/v1/fairness.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/council_scenario.h"
#include "tests/testing/server_fixture.h"
#include "tests/testing/status_matchers.h"

namespace evenhand {
namespace {

using ::evenhand::testing::At;
using ::testing::HasSubstr;

class ObligationWatchTest : public testing::ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    clock_ = [this] {
      absl::MutexLock lock(&mu_);
      return now_;
    };
    StartServer();
    stub_ = v1::Fairness::NewStub(channel_);
  }

  void SetNow(absl::Time t) {
    absl::MutexLock lock(&mu_);
    now_ = t;
  }

  // Appends what `scenario` recorded from position `from` on, one append per
  // event, as the council's systems would.
  void Publish(const testing::CouncilScenario& scenario, uint64_t from = 1) {
    for (uint64_t p = from; p <= scenario.last_position(); ++p) {
      ASSERT_OK(client_->Append(scenario.AppendRequestAt(p)).status());
    }
  }

  struct Watch {
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReader<v1::ObligationUpdate>> reader;
    v1::ObligationUpdate Next() {
      v1::ObligationUpdate u;
      EXPECT_TRUE(reader->Read(&u)) << "the watch ended early";
      return u;
    }
  };

  std::unique_ptr<Watch> Open(uint32_t within, std::vector<std::string> groups = {}) {
    auto w = std::make_unique<Watch>();
    w->context.set_deadline(DeadlineAfter(absl::Seconds(60)));
    v1::WatchObligationsRequest request;
    request.set_within_working_days(within);
    for (auto& g : groups) request.add_group_ids(g);
    w->reader = stub_->WatchObligations(&w->context, request);
    return w;
  }

  absl::Mutex mu_;
  absl::Time now_ = At(2025, 6, 2, 9);
  std::unique_ptr<v1::Fairness::Stub> stub_;
};

TEST_F(ObligationWatchTest, TellsWhenAQueryFallsDueIsAnsweredOrIsMissed) {
  testing::CouncilScenario council;
  council.Query(At(2025, 6, 2, 9), "Q-1", "lab-1");  // five working days: by the end of 9 June
  council.Query(At(2025, 6, 2, 9), "Q-2", "grn-1");
  Publish(council);

  auto all = Open(10);
  std::set<std::string> due;
  for (int i = 0; i < 2; ++i) {
    v1::ObligationUpdate u = all->Next();
    EXPECT_EQ(u.kind(), v1::ObligationUpdate::DUE_SOON);
    EXPECT_EQ(u.obligation().rule_id(), "written-query-reply");
    EXPECT_EQ(u.obligation().working_days_left(), 5u);
    due.insert(u.obligation().case_id());
  }
  EXPECT_EQ(due, (std::set<std::string>{"query-Q-1", "query-Q-2"}));
  EXPECT_EQ(all->Next().kind(), v1::ObligationUpdate::CAUGHT_UP);
  // Green's watcher with no slack: nothing yet.
  auto green = Open(0, {"green"});
  EXPECT_EQ(green->Next().kind(), v1::ObligationUpdate::CAUGHT_UP);
  // Every group's, with no slack: told of nothing, so nothing closes for it.
  auto today_only = Open(0);
  EXPECT_EQ(today_only->Next().kind(), v1::ObligationUpdate::CAUGHT_UP);

  // Q-1 answered the next day: met.
  SetNow(At(2025, 6, 3, 10));
  const uint64_t before = council.last_position();
  council.Answer(At(2025, 6, 3, 10), "Q-1");
  Publish(council, before + 1);
  v1::ObligationUpdate met = all->Next();
  EXPECT_EQ(met.kind(), v1::ObligationUpdate::MET);
  EXPECT_EQ(met.obligation().case_id(), "query-Q-1");

  // Q-2's due day comes: Green's watcher hears it is due; then it passes.
  SetNow(At(2025, 6, 9, 8));
  for (auto* w : {green.get(), today_only.get()}) {
    // (For today_only, not a MET of Q-1 it was never told of.)
    v1::ObligationUpdate today = w->Next();
    EXPECT_EQ(today.kind(), v1::ObligationUpdate::DUE_SOON);
    EXPECT_EQ(today.obligation().case_id(), "query-Q-2");
    EXPECT_EQ(today.obligation().working_days_left(), 0u);
  }
  SetNow(At(2025, 6, 10, 9));
  for (auto* w : {all.get(), green.get(), today_only.get()}) {
    v1::ObligationUpdate missed = w->Next();
    EXPECT_EQ(missed.kind(), v1::ObligationUpdate::MISSED);
    EXPECT_EQ(missed.obligation().case_id(), "query-Q-2");
  }
}

// An acknowledgement with a promised day closes "a reply or an
// acknowledgement by day 5" and opens "the reply by the promised day", at
// the same position: the watcher hears the first close before the second
// opens, so that applying the updates in order leaves the open one.
TEST_F(ObligationWatchTest, AChangedObligationClosesBeforeItsSuccessorOpens) {
  testing::CouncilScenario council;
  council.Query(At(2025, 6, 2, 9), "Q-1", "lab-1");
  Publish(council);
  auto all = Open(10);
  EXPECT_EQ(all->Next().kind(), v1::ObligationUpdate::DUE_SOON);
  EXPECT_EQ(all->Next().kind(), v1::ObligationUpdate::CAUGHT_UP);
  SetNow(At(2025, 6, 3, 10));
  const uint64_t before = council.last_position();
  council.Acknowledge(At(2025, 6, 3, 10), "Q-1", At(2025, 6, 6, 17));
  Publish(council, before + 1);
  v1::ObligationUpdate first = all->Next();
  v1::ObligationUpdate second = all->Next();
  EXPECT_EQ(first.kind(), v1::ObligationUpdate::MET);
  EXPECT_EQ(second.kind(), v1::ObligationUpdate::DUE_SOON);
  EXPECT_EQ(first.obligation().case_id(), "query-Q-1");
  EXPECT_EQ(second.obligation().case_id(), "query-Q-1");
  EXPECT_EQ(first.as_of_position(), second.as_of_position());
  EXPECT_NE(first.obligation().due_at().seconds(), second.obligation().due_at().seconds());
}

// A correction that moves a query's arrival weeks earlier moves its
// deadline into the past: the obligation closes before its old due moment,
// as a finding, and the watcher is told MISSED, not MET. So is one closed
// by an acknowledgement recorded late that promised a day already gone
// (the case has a breach of the rule now). Another answered at the same
// time is still MET.
TEST_F(ObligationWatchTest, AnObligationCorrectedIntoThePastIsMissedNotMet) {
  testing::CouncilScenario council;
  const uint64_t q1 = council.Query(At(2025, 6, 2, 9), "Q-1", "lab-1");
  council.Query(At(2025, 6, 2, 9), "Q-2", "grn-1");
  council.Query(At(2025, 6, 2, 9), "Q-3", "lab-1");
  Publish(council);
  auto all = Open(10);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(all->Next().kind(), v1::ObligationUpdate::DUE_SOON);
  EXPECT_EQ(all->Next().kind(), v1::ObligationUpdate::CAUGHT_UP);

  SetNow(At(2025, 6, 4, 10));
  const uint64_t before = council.last_position();
  council.CorrectWhen(At(2025, 6, 4, 10), q1, At(2025, 5, 12, 9));  // due 19 May
  council.Answer(At(2025, 6, 4, 10), "Q-2");
  council.Acknowledge(At(2025, 6, 2, 15), "Q-3", At(2025, 6, 3, 17));  // recorded on the 4th
  Publish(council, before + 1);
  std::map<std::string, v1::ObligationUpdate::Kind> told;
  for (int i = 0; i < 3; ++i) {
    v1::ObligationUpdate u = all->Next();
    told[u.obligation().case_id()] = u.kind();
  }
  EXPECT_EQ(told["query-Q-1"], v1::ObligationUpdate::MISSED);
  EXPECT_EQ(told["query-Q-2"], v1::ObligationUpdate::MET);
  EXPECT_EQ(told["query-Q-3"], v1::ObligationUpdate::MISSED);

  // And the report lists the breach the watcher was told of.
  v1::ReportRequest request;
  *request.mutable_from() = testing::Proto(At(2025, 5, 1, 0));
  v1::FairnessReport report;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->GetReport(&context, request, &report).ok());
  bool listed = false;
  for (const v1::Finding& f : report.findings()) {
    listed |= f.case_id() == "query-Q-1" && f.rule_id() == "written-query-reply";
  }
  EXPECT_TRUE(listed);
}

TEST_F(ObligationWatchTest, UnknownGroupsAreRefusedAndShutdownEndsTheWatch) {
  testing::CouncilScenario council;
  Publish(council);
  auto unknown = Open(5, {"greens"});
  v1::ObligationUpdate u;
  EXPECT_FALSE(unknown->reader->Read(&u));
  grpc::Status refused = unknown->reader->Finish();
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(refused.error_message(), HasSubstr("did you mean \"green\"?"));

  auto w = Open(5);
  EXPECT_EQ(w->Next().kind(), v1::ObligationUpdate::CAUGHT_UP);
  std::thread stop([this] { StopServer(); });
  EXPECT_FALSE(w->reader->Read(&u));
  grpc::Status ended = w->reader->Finish();
  stop.join();
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::UNAVAILABLE) << ended.error_message();
  EXPECT_THAT(ended.error_message(), HasSubstr("shutting down"));
}

// The server serves maxObligationWatches watches in all (the local
// principal of local mode has no limit of its own); one that ends makes
// room, and a refusal holds none.
TEST_F(ObligationWatchTest, TheServerServesAtMostMaxObligationWatches) {
  v1::ServerConfig config;
  config.set_max_obligation_watches(2);
  StartServer(config);
  stub_ = v1::Fairness::NewStub(channel_);
  v1::ObligationUpdate u;
  auto first = Open(5);
  auto second = Open(5);
  EXPECT_EQ(first->Next().kind(), v1::ObligationUpdate::CAUGHT_UP);
  EXPECT_EQ(second->Next().kind(), v1::ObligationUpdate::CAUGHT_UP);
  for (int i = 0; i < 3; ++i) {
    auto over = Open(5);
    EXPECT_FALSE(over->reader->Read(&u));
    grpc::Status s = over->reader->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr("serves 2 obligation watches"));
    EXPECT_THAT(s.error_message(), HasSubstr("maxObligationWatches"));
  }
  first->context.TryCancel();
  (void)first->reader->Finish();
  bool served = false;
  for (int i = 0; i < 40 && !served; ++i) {
    auto next = Open(5);
    served = next->reader->Read(&u);
    if (served) EXPECT_EQ(u.kind(), v1::ObligationUpdate::CAUGHT_UP);
    next->context.TryCancel();
    (void)next->reader->Finish();
    if (!served) absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_TRUE(served);
  second->context.TryCancel();
  (void)second->reader->Finish();
}

size_t Threads() {
  return std::distance(std::filesystem::directory_iterator("/proc/self/task"),
                       std::filesystem::directory_iterator());
}

TEST_F(ObligationWatchTest, AWatcherCostsNoThread) {
  testing::CouncilScenario council;
  council.Query(At(2025, 6, 2, 9), "Q-1", "lab-1");
  Publish(council);
  auto first = Open(10);  // the watch's own thread starts with the first
  EXPECT_EQ(first->Next().kind(), v1::ObligationUpdate::DUE_SOON);
  EXPECT_EQ(first->Next().kind(), v1::ObligationUpdate::CAUGHT_UP);
  const size_t before = Threads();
  std::vector<std::unique_ptr<Watch>> watches;
  for (int i = 0; i < 300; ++i) {
    watches.push_back(Open(10));
    EXPECT_EQ(watches.back()->Next().kind(), v1::ObligationUpdate::DUE_SOON);
    EXPECT_EQ(watches.back()->Next().kind(), v1::ObligationUpdate::CAUGHT_UP);
  }
  // 300 idle watchers (this process is client and server): gRPC's own pool
  // may grow a little, never by a thread a watcher.
  EXPECT_LT(Threads(), before + 30) << "before: " << before;
  for (auto& w : watches) w->context.TryCancel();
}

}  // namespace
}  // namespace evenhand
