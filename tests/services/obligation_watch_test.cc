// Fairness.WatchObligations against the real server: a watcher hears when a
// written query comes within its window, when it is answered (met) and when
// its deadline passes unanswered (missed), as the log grows and the
// server's clock moves; filters are checked; shutdown ends the watch.
#include <filesystem>
#include <map>
#include <memory>
#include <set>
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
    v1::WatchObligationsRequest request;
    request.set_within_working_days(within);
    for (auto& g : groups) request.add_group_ids(g);
    return Open(request);
  }
  std::unique_ptr<Watch> Open(const v1::WatchObligationsRequest& request) {
    auto w = std::make_unique<Watch>();
    w->context.set_deadline(DeadlineAfter(absl::Seconds(60)));
    w->reader = stub_->WatchObligations(&w->context, request);
    return w;
  }
  // A watch resuming from `point` (an update that was a resume point).
  std::unique_ptr<Watch> Resume(uint32_t within, const v1::ObligationUpdate& point) {
    v1::WatchObligationsRequest request;
    request.set_within_working_days(within);
    request.set_resume_after_position(point.as_of_position());
    *request.mutable_resume_after_time() = point.as_of_time();
    return Open(request);
  }
  // The status a watch over `request` is refused with.
  grpc::Status Refusal(const v1::WatchObligationsRequest& request) {
    auto w = Open(request);
    v1::ObligationUpdate u;
    EXPECT_FALSE(w->reader->Read(&u)) << "not refused: " << u.DebugString();
    return w->reader->Finish();
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

// An obligation told of that changes without closing (what is owed
// restated: an acknowledgement promising the very day it was due by
// anyway; its officer corrected) is told again as it now stands, not left
// as it was; one moved to an officer a watcher does not watch is told so
// once, and is not MET: it is still owed (outside probe: the first was not
// told at all, the second told MET).
TEST_F(ObligationWatchTest, AnObligationRestatedOrMovedToAnotherOfficerIsToldAsItNowStands) {
  testing::CouncilScenario council;
  council.Query(At(2025, 6, 2, 9), "Q-1", "lab-1");  // by the end of Monday 9 June
  const uint64_t q2 = council.Query(At(2025, 6, 2, 9), "Q-2", "grn-1");
  SetNow(At(2025, 6, 2, 10));
  Publish(council);
  auto all = Open(10);
  v1::WatchObligationsRequest hos_only;
  hos_only.set_within_working_days(10);
  hos_only.add_officer_ids("hos");
  auto hos = Open(hos_only);
  for (auto* w : {all.get(), hos.get()}) {
    for (int i = 0; i < 2; ++i) EXPECT_EQ(w->Next().kind(), v1::ObligationUpdate::DUE_SOON);
    EXPECT_EQ(w->Next().kind(), v1::ObligationUpdate::CAUGHT_UP);
  }

  SetNow(At(2025, 6, 3, 10));
  uint64_t before = council.last_position();
  council.Acknowledge(At(2025, 6, 3, 10), "Q-1", At(2025, 6, 9, 12));
  v1::Payload to_ceo = council.events()[q2 - 1].event().payload();
  to_ceo.mutable_written_query_received()->set_addressed_to_officer_id("ceo");
  council.Correct(At(2025, 6, 3, 10), q2, to_ceo);
  Publish(council, before + 1);
  for (auto* w : {all.get(), hos.get()}) {
    std::map<std::string, v1::ObligationUpdate> told;
    for (int i = 0; i < 2; ++i) {
      v1::ObligationUpdate u = w->Next();
      EXPECT_EQ(u.kind(), v1::ObligationUpdate::DUE_SOON) << u.DebugString();
      told[u.obligation().case_id()] = u;
    }
    EXPECT_THAT(told["query-Q-1"].obligation().description(), HasSubstr("promised a reply"));
    EXPECT_EQ(told["query-Q-2"].obligation().officer_id(), "ceo");
  }

  // Q-2 answered: met, for the watcher of every officer's only; then Q-1,
  // the next (and only) news for the watcher of hos's.
  SetNow(At(2025, 6, 4, 10));
  before = council.last_position();
  council.Answer(At(2025, 6, 4, 10), "Q-2");
  Publish(council, before + 1);
  v1::ObligationUpdate met = all->Next();
  EXPECT_EQ(met.kind(), v1::ObligationUpdate::MET);
  EXPECT_EQ(met.obligation().case_id(), "query-Q-2");
  SetNow(At(2025, 6, 4, 11));
  before = council.last_position();
  council.Answer(At(2025, 6, 4, 11), "Q-1");
  Publish(council, before + 1);
  v1::ObligationUpdate next = hos->Next();
  EXPECT_EQ(next.kind(), v1::ObligationUpdate::MET);
  EXPECT_EQ(next.obligation().case_id(), "query-Q-1");
}

// A watcher that was away resumes from the last resume point it applied:
// it is told what closed meanwhile, each as its case says (met before its
// deadline though the deadline has passed since; missed; corrected into the
// past; acknowledged in time, met, unless the reply promised instead was
// missed before the deadline it replaced), what came within its window
// (the reply an acknowledgement promised), and nothing of what it knows is
// still open. Every update of a reading but the last is no resume point.
TEST_F(ObligationWatchTest, AResumedWatchIsToldWhatChangedWhileItWasAway) {
  testing::CouncilScenario council;
  // Each due by the end of Monday 9 June; Q-S by the end of Thursday 12.
  for (const char* q : {"Q-1", "Q-2", "Q-4", "Q-5", "Q-7"}) {
    council.Query(At(2025, 6, 2, 9), q, "lab-1");
  }
  const uint64_t q3 = council.Query(At(2025, 6, 2, 9), "Q-3", "grn-1");
  council.Query(At(2025, 6, 5, 9), "Q-S", "grn-1");
  SetNow(At(2025, 6, 5, 10));
  Publish(council);
  v1::ObligationUpdate point;
  {
    auto first = Open(10);
    for (int i = 0; i < 7; ++i) {
      v1::ObligationUpdate u = first->Next();
      EXPECT_EQ(u.kind(), v1::ObligationUpdate::DUE_SOON);
      EXPECT_FALSE(u.resume_point()) << u.obligation().case_id();
    }
    point = first->Next();
    EXPECT_EQ(point.kind(), v1::ObligationUpdate::CAUGHT_UP);
    EXPECT_TRUE(point.resume_point());
    first->context.TryCancel();
  }

  // Away: Q-1 answered in time; Q-3 corrected into the past (due 19 May);
  // acknowledged in time, promising a reply by 10 June
  // (not come), 20 June, and 6 June (not come); Q-6 arrives; Q-2 goes
  // unanswered past its deadline.
  SetNow(At(2025, 6, 6, 10));
  uint64_t before = council.last_position();
  council.Answer(At(2025, 6, 6, 10), "Q-1");
  council.CorrectWhen(At(2025, 6, 6, 10), q3, At(2025, 5, 12, 9));
  council.Acknowledge(At(2025, 6, 6, 10), "Q-4", At(2025, 6, 10, 12));
  council.Acknowledge(At(2025, 6, 6, 10), "Q-5", At(2025, 6, 20, 17));
  council.Acknowledge(At(2025, 6, 6, 10), "Q-7", At(2025, 6, 6, 17));
  council.Query(At(2025, 6, 6, 10), "Q-6", "lab-1");  // by the end of Friday 13 June
  Publish(council, before + 1);
  SetNow(At(2025, 6, 11, 9));

  auto resumed = Resume(10, point);
  std::vector<std::pair<std::string, v1::ObligationUpdate::Kind>> told;
  for (int i = 0; i < 8; ++i) {
    v1::ObligationUpdate u = resumed->Next();
    EXPECT_FALSE(u.resume_point()) << u.obligation().case_id();
    told.emplace_back(u.obligation().case_id(), u.kind());
  }
  using Kind = v1::ObligationUpdate;
  EXPECT_THAT(told, ::testing::UnorderedElementsAre(
                        std::pair("query-Q-1", Kind::MET),     // though 9 June has passed
                        std::pair("query-Q-2", Kind::MISSED),  // its deadline passed
                        std::pair("query-Q-3", Kind::MISSED),  // corrected into the past
                        std::pair("query-Q-4", Kind::MET),     // its successor missed after it
                        std::pair("query-Q-5", Kind::MET),
                        std::pair("query-Q-7", Kind::MISSED),    // its successor missed before
                        std::pair("query-Q-5", Kind::DUE_SOON),  // the promised reply
                        std::pair("query-Q-6", Kind::DUE_SOON)));
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_NE(told[i].second, Kind::DUE_SOON) << "what closed is told before what opened";
  }
  v1::ObligationUpdate caught_up = resumed->Next();
  EXPECT_EQ(caught_up.kind(), v1::ObligationUpdate::CAUGHT_UP);
  EXPECT_TRUE(caught_up.resume_point());
  EXPECT_GT(caught_up.as_of_position(), point.as_of_position());

  // A watch from now is told only what is open.
  auto fresh = Open(10);
  std::set<std::string> open;
  for (int i = 0; i < 3; ++i) {
    v1::ObligationUpdate u = fresh->Next();
    EXPECT_EQ(u.kind(), v1::ObligationUpdate::DUE_SOON);
    open.insert(u.obligation().case_id());
  }
  EXPECT_EQ(open, (std::set<std::string>{"query-Q-S", "query-Q-5", "query-Q-6"}));
  EXPECT_EQ(fresh->Next().kind(), v1::ObligationUpdate::CAUGHT_UP);

  // And the resumed watch goes on as any other: Q-S answered, met.
  SetNow(At(2025, 6, 11, 11));
  before = council.last_position();
  council.Answer(At(2025, 6, 11, 11), "Q-S");
  Publish(council, before + 1);
  v1::ObligationUpdate met = resumed->Next();
  EXPECT_EQ(met.kind(), v1::ObligationUpdate::MET);
  EXPECT_EQ(met.obligation().case_id(), "query-Q-S");
  EXPECT_TRUE(met.resume_point());

  // Resumed again from the first point, with a window of 1: of the seven
  // then open, none was within it (two working days left or more), so
  // none was told and none closes; none open now is within it either (Q-6
  // has two).
  auto narrow = Resume(1, point);
  EXPECT_EQ(narrow->Next().kind(), v1::ObligationUpdate::CAUGHT_UP);
}

// A resume point that is not one this server could have sent is refused,
// saying what to give instead: one beyond the log, half a point (a position
// alone was judged at the moment it was recorded, and told again what a
// later reading had told: outside probe), a time that does not go with its
// position, and a position inside one write (no reading stands between its
// events: its watcher was told of an obligation it never had).
TEST_F(ObligationWatchTest, AResumePointThatDoesNotFitTheLogIsRefused) {
  testing::CouncilScenario council;
  council.Query(At(2025, 6, 2, 9), "Q-1", "lab-1");
  SetNow(At(2025, 6, 2, 10));
  Publish(council);
  const uint64_t first_query = council.last_position();
  // Q-2 received and answered in one write; then Q-3.
  SetNow(At(2025, 6, 3, 10));
  council.Query(At(2025, 6, 3, 9), "Q-2", "lab-1");
  council.Answer(At(2025, 6, 3, 9, 30), "Q-2");
  v1::AppendRequest one_write = council.AppendRequestAt(first_query + 1);
  *one_write.add_events() = council.AppendRequestAt(first_query + 2).events(0);
  ASSERT_OK(client_->Append(one_write).status());
  council.Query(At(2025, 6, 3, 10), "Q-3", "lab-1");
  Publish(council, first_query + 3);
  SetNow(At(2025, 6, 4, 10));

  v1::WatchObligationsRequest request;
  request.set_within_working_days(5);
  auto refused = [&](grpc::StatusCode code, const std::string& says) {
    grpc::Status s = Refusal(request);
    EXPECT_EQ(s.error_code(), code) << says << ": " << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr(says));
  };
  request.set_resume_after_position(council.last_position() + 1);
  *request.mutable_resume_after_time() = testing::Proto(At(2025, 6, 3, 11));
  refused(grpc::StatusCode::OUT_OF_RANGE, "beyond the end of the log");
  request.set_resume_after_position(0);
  refused(grpc::StatusCode::INVALID_ARGUMENT, "resume_after_position: is missing");
  request.set_resume_after_position(first_query);
  request.clear_resume_after_time();
  refused(grpc::StatusCode::INVALID_ARGUMENT, "resume_after_time: is missing");
  for (const auto& [when, says] : std::vector<std::pair<absl::Time, std::string>>{
           {At(2025, 6, 5, 10), "is in the future"},
           {At(2025, 6, 2, 9), "is before that position was recorded"},
           {At(2025, 6, 3, 11), "is a second or more after position"}}) {
    *request.mutable_resume_after_time() = testing::Proto(when);
    refused(grpc::StatusCode::INVALID_ARGUMENT, says);
  }
  request.set_resume_after_position(first_query + 1);
  *request.mutable_resume_after_time() = testing::Proto(At(2025, 6, 3, 10));
  refused(grpc::StatusCode::INVALID_ARGUMENT, "as one write");

  // A point that fits: Q-1 was within the window then (told), Q-3 came
  // since; Q-2 was never open at a reading.
  request.set_resume_after_position(first_query);
  *request.mutable_resume_after_time() = testing::Proto(At(2025, 6, 2, 18));
  auto w = Open(request);
  v1::ObligationUpdate u = w->Next();
  EXPECT_EQ(u.kind(), v1::ObligationUpdate::DUE_SOON);
  EXPECT_EQ(u.obligation().case_id(), "query-Q-3");
  EXPECT_EQ(w->Next().kind(), v1::ObligationUpdate::CAUGHT_UP);
  w->context.TryCancel();
}

}  // namespace
}  // namespace evenhand
