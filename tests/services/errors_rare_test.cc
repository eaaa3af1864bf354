// The rows of README.md's table of errors that take more than one call to
// reach, through a real gRPC channel to a real server: a WatchObligations
// watcher that stops reading (WATCHER_TOO_SLOW), a report or findings as of
// a time before the first event (BEFORE_FIRST_EVENT), an append to a log
// opened read-only on a disk too full to write (READ_ONLY), what needs a new
// signed checkpoint while the stream-head map is built in steps
// (STREAM_MAP_BUILDING), and proofs beyond the end of the log
// (BEYOND_END_OF_LOG). Each checks the exact code, the google.rpc.Status
// details a program reads and that the message says what to do. The rest of
// the table is tests/services/errors_table_test.cc.
#include <atomic>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "base/grpc_deadline.h"
#include "base/time_util.h"
#include "evenhand/v1/audit.grpc.pb.h"
#include "evenhand/v1/fairness.grpc.pb.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "tests/testing/council_scenario.h"
#include "tests/testing/events.h"
#include "tests/testing/server_fixture.h"
#include "tests/testing/status_matchers.h"

namespace evenhand {
namespace {

using ::evenhand::testing::At;
using ::evenhand::testing::SomeEvents;
using ::testing::AllOf;
using ::testing::HasSubstr;

// The ErrorInfo a refused call carries in its google.rpc.Status trailer,
// after checking that the trailer agrees with the status and its domain is
// ours; empty (and a failure) if there is none.
google::rpc::ErrorInfo ErrorInfoOf(const grpc::Status& status) {
  google::rpc::Status details;
  EXPECT_TRUE(details.ParseFromString(status.error_details())) << status.error_message();
  EXPECT_EQ(details.code(), static_cast<int>(status.error_code()));
  EXPECT_EQ(details.message(), status.error_message());
  for (const google::protobuf::Any& any : details.details()) {
    google::rpc::ErrorInfo info;
    if (any.Is<google::rpc::ErrorInfo>() && any.UnpackTo(&info)) {
      EXPECT_EQ(info.domain(), "evenhand.council");
      return info;
    }
  }
  ADD_FAILURE() << "no ErrorInfo in the details of: " << status.error_message();
  return {};
}

// `info`'s metadata under `key`, or "(none)".
std::string Metadata(const google::rpc::ErrorInfo& info, const std::string& key) {
  auto it = info.metadata().find(key);
  return it == info.metadata().end() ? "(none)" : it->second;
}

class RareErrorsTest : public testing::ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    clock_ = [this] { return now_; };
  }

  // Connects the raw stubs once the server is up.
  void Start(v1::ServerConfig config = {}) {
    StartServer(std::move(config));
    fairness_stub_ = v1::Fairness::NewStub(channel_);
    audit_stub_ = v1::Audit::NewStub(channel_);
  }

  // `n` events that happened at the server's time.
  std::vector<v1::Event> Events(int n) {
    std::vector<v1::Event> events = SomeEvents(n);
    for (v1::Event& e : events) *e.mutable_occurred_at() = ToProtoTime(now_);
    return events;
  }

  grpc::Status Append(const std::vector<v1::Event>& events, const std::string& stream = "s") {
    v1::AppendRequest request;
    request.set_stream_id(stream);
    for (const v1::Event& e : events) *request.add_events() = e;
    grpc::ClientContext context;
    context.set_deadline(DeadlineAfter(absl::Seconds(20)));
    v1::AppendResponse response;
    return stub_->Append(&context, request, &response);
  }

  // Appends what `scenario` recorded from position `from` on, one append
  // per event, as the council's systems would, and waits until the
  // projection has folded it.
  void Publish(const testing::CouncilScenario& scenario, uint64_t from = 1) {
    for (uint64_t p = from; p <= scenario.last_position(); ++p) {
      ASSERT_OK(client_->Append(scenario.AppendRequestAt(p)).status());
    }
    for (int i = 0; i < 1000 && server_->ProjectionPosition() < server_->LastPosition(); ++i) {
      absl::SleepFor(absl::Milliseconds(20));
    }
    ASSERT_EQ(server_->ProjectionPosition(), server_->LastPosition());
  }

  // The server's clock; events are recorded at it.
  const absl::Time now_ = At(2025, 6, 2, 9);
  std::unique_ptr<v1::Fairness::Stub> fairness_stub_;
  std::unique_ptr<v1::Audit::Stub> audit_stub_;
};

// ---- RESOURCE_EXHAUSTED: WATCHER_TOO_SLOW -----------------------------------

// Two watchers are owed the same updates, in bursts each smaller than the
// limit. The one that reads keeps up; the one that stops reading has its
// writes held by HTTP/2 flow control once the stream's window is full, its
// queue grows burst by burst past the limit, and it is ended: what it had
// not been sent is let go, and it meets RESOURCE_EXHAUSTED when it reads.
TEST_F(RareErrorsTest, AWatcherThatStopsReadingIsEndedWhenItFallsBehind) {
  static constexpr int kLimit = 350;
  constexpr int kBurst = 300;  // smaller than the limit: one burst never ends a watcher
  constexpr int kBursts = 3;
  customize_ = [](server::ServerOptions& o) { o.TEST_watch_max_queued = kLimit; };
  Start();
  if (HasFatalFailure()) return;
  testing::CouncilScenario council;
  Publish(council);
  if (HasFatalFailure()) return;

  v1::WatchObligationsRequest due_soon;
  due_soon.set_within_working_days(10);  // every query below is due in 5
  // The slow watcher has a connection of its own whose window stays at
  // HTTP/2's 64 KiB (no BDP probing to grow it): about 280 updates fill it.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  std::unique_ptr<v1::Fairness::Stub> slow_stub = v1::Fairness::NewStub(
      grpc::CreateCustomChannel(server_->address(), grpc::InsecureChannelCredentials(), args));
  grpc::ClientContext slow_context;
  slow_context.set_deadline(DeadlineAfter(absl::Seconds(250)));
  auto slow = slow_stub->WatchObligations(&slow_context, due_soon);
  // Headers come with its first update (CAUGHT_UP): it is being served.
  // Waiting for them reads no update.
  slow->WaitForInitialMetadata();
  // The reader is served after it (one thread serves the watchers in turn,
  // oldest first): once the reader has an update, the slow one has been
  // handed it too.
  grpc::ClientContext reader_context;
  reader_context.set_deadline(DeadlineAfter(absl::Seconds(250)));
  auto reader = fairness_stub_->WatchObligations(&reader_context, due_soon);
  v1::ObligationUpdate update;
  ASSERT_TRUE(reader->Read(&update));
  EXPECT_EQ(update.kind(), v1::ObligationUpdate::CAUGHT_UP);

  for (int burst = 0; burst < kBursts; ++burst) {
    const uint64_t from = council.last_position() + 1;
    for (int i = 0; i < kBurst; ++i) {
      council.Query(now_, absl::StrCat("Q-", burst, "-", i), "lab-1");
    }
    Publish(council, from);
    if (HasFatalFailure()) return;
    for (int i = 0; i < kBurst; ++i) {
      ASSERT_TRUE(reader->Read(&update))
          << "the reader was ended: " << reader->Finish().error_message();
      ASSERT_EQ(update.kind(), v1::ObligationUpdate::DUE_SOON);
    }
  }

  // The slow watcher reads again: what reached it before its writes were
  // held, then the end.
  int read = 0;
  while (slow->Read(&update)) ++read;
  grpc::Status ended = slow->Finish();
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << ended.error_message();
  EXPECT_EQ(ended.error_message(),
            absl::StrCat("this watcher fell ", kLimit,
                         " updates behind and was ended; read faster, or watch fewer groups"));
  google::rpc::ErrorInfo info = ErrorInfoOf(ended);
  EXPECT_EQ(info.reason(), "WATCHER_TOO_SLOW");
  EXPECT_EQ(Metadata(info, "max_queued"), absl::StrCat(kLimit));
  // It was owed CAUGHT_UP and every DUE_SOON; those it fell behind on were
  // let go.
  EXPECT_LE(read, 1 + kBurst * kBursts - kLimit);

  // The reader, told the same, is still watching.
  reader_context.TryCancel();
  EXPECT_FALSE(reader->Read(&update));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

// ---- OUT_OF_RANGE: BEFORE_FIRST_EVENT ---------------------------------------

// As of a time before the first event the log was empty: a report would read
// as "no rule was broken", so it is refused, naming when the log began.
TEST_F(RareErrorsTest, AReportOrFindingsAsOfATimeBeforeTheFirstEventAreOutOfRange) {
  Start();
  ASSERT_TRUE(Append(Events(2)).ok());
  const std::string first = "2025-06-02T08:00:00+00:00";  // now_, 09:00 in London
  ASSERT_EQ(absl::FormatTime(now_, absl::UTCTimeZone()), first);

  v1::ReportRequest before;
  *before.mutable_as_of_time() = ToProtoTime(now_ - absl::Hours(1));
  grpc::Status report;
  {
    grpc::ClientContext context;
    context.set_deadline(DeadlineAfter(absl::Seconds(20)));
    v1::FairnessReport response;
    report = fairness_stub_->GetReport(&context, before, &response);
  }
  grpc::Status findings;
  {
    grpc::ClientContext context;
    context.set_deadline(DeadlineAfter(absl::Seconds(20)));
    v1::ListFindingsRequest request;
    *request.mutable_report() = before;
    v1::ListFindingsResponse response;
    findings = fairness_stub_->ListFindings(&context, request, &response);
  }
  for (const grpc::Status& status : {report, findings}) {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::OUT_OF_RANGE) << status.error_message();
    EXPECT_EQ(status.error_message(),
              absl::StrCat("as_of_time: 2025-06-02T07:00:00+00:00 is before the first event was "
                           "recorded (",
                           first,
                           "): the log was empty then, so there is nothing to report; ask as of "
                           "a later time or a position"));
    google::rpc::ErrorInfo info = ErrorInfoOf(status);
    EXPECT_EQ(info.reason(), "BEFORE_FIRST_EVENT");
    EXPECT_EQ(Metadata(info, "field"), "as_of_time");
    EXPECT_EQ(Metadata(info, "first_recorded_at"), first);
  }

  // As of the moment it was recorded, there is a report.
  *before.mutable_as_of_time() = ToProtoTime(now_);
  {
    grpc::ClientContext context;
    v1::FairnessReport response;
    grpc::Status at_first = fairness_stub_->GetReport(&context, before, &response);
    EXPECT_TRUE(at_first.ok()) << at_first.error_message();
    EXPECT_EQ(response.as_of_position(), 2u);
  }

  // As of position 0 (set, not left out): the same refusal, by position.
  v1::ReportRequest zero;
  zero.set_as_of_position(0);
  ASSERT_EQ(zero.as_of_case(), v1::ReportRequest::kAsOfPosition);
  grpc::ClientContext context;
  v1::FairnessReport response;
  grpc::Status at_zero = fairness_stub_->GetReport(&context, zero, &response);
  EXPECT_EQ(at_zero.error_code(), grpc::StatusCode::OUT_OF_RANGE) << at_zero.error_message();
  EXPECT_EQ(ErrorInfoOf(at_zero).reason(), "BEFORE_FIRST_EVENT");
  EXPECT_EQ(Metadata(ErrorInfoOf(at_zero), "field"), "as_of_position");
}

// ---- UNAVAILABLE: PROJECTION_CATCHING_UP, a slow fold --------------------------

// Events into a case of thousands of facts fold in milliseconds each, and
// the fold takes up to 4,096 at a time. It holds the projection a slice at
// a time, so a report waits fairness.reportWaitSeconds (1 s here) and is
// then refused, as README's table says, rather than waiting out the batch
// (10 s here) past its caller's deadline (5 s).
TEST_F(RareErrorsTest, AReportWaitsForASlowFoldNoLongerThanReportWaitSeconds) {
  // Shared with the server's fold, which outlives this body (the fixture
  // stops the server after it).
  auto slow = std::make_shared<std::atomic<bool>>(false);
  customize_ = [slow](server::ServerOptions& o) {
    o.TEST_fold_event = [slow] {
      if (slow->load()) absl::SleepFor(absl::Milliseconds(10));
    };
  };
  v1::ServerConfig config;
  config.mutable_fairness()->set_report_wait_seconds(1);
  Start(std::move(config));
  ASSERT_TRUE(Append(Events(1)).ok());
  for (int i = 0; i < 500 && server_->ProjectionPosition() < 1; ++i) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  slow->store(true);
  ASSERT_TRUE(Append(Events(1000)).ok());
  grpc::ClientContext context;
  context.set_deadline(DeadlineAfter(absl::Seconds(5)));
  v1::FairnessReport response;
  grpc::Status status = fairness_stub_->GetReport(&context, v1::ReportRequest(), &response);
  slow->store(false);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_EQ(ErrorInfoOf(status).reason(), "PROJECTION_CATCHING_UP");
}

// GetStatus never waits for the projection (found from outside: `evenhand
// status` timed out while the fold waited behind a minute-long report, which
// new readers wait behind too). Here the fold holds the projection in an
// event that takes long: status answers at once, with the position the fold
// last published.
TEST_F(RareErrorsTest, StatusDoesNotWaitForTheProjection) {
  auto hold = std::make_shared<std::atomic<bool>>(false);
  auto entered = std::make_shared<absl::Notification>();
  auto release = std::make_shared<absl::Notification>();
  customize_ = [hold, entered, release](server::ServerOptions& o) {
    o.TEST_fold_event = [hold, entered, release] {
      if (!hold->load()) return;
      if (!entered->HasBeenNotified()) entered->Notify();
      release->WaitForNotificationWithTimeout(absl::Seconds(30));
    };
  };
  Start();
  absl::Cleanup released = [release] {
    if (!release->HasBeenNotified()) release->Notify();
  };
  ASSERT_TRUE(Append(Events(1)).ok());
  for (int i = 0; i < 500 && server_->ProjectionPosition() < 1; ++i) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_EQ(server_->ProjectionPosition(), 1u);
  hold->store(true);
  ASSERT_TRUE(Append(Events(1)).ok());
  ASSERT_TRUE(entered->WaitForNotificationWithTimeout(absl::Seconds(30)));
  grpc::ClientContext context;
  context.set_deadline(DeadlineAfter(absl::Seconds(5)));
  v1::GetStatusResponse response;
  const grpc::Status status = stub_->GetStatus(&context, v1::GetStatusRequest(), &response);
  release->Notify();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.projection_position(), 1u);
  EXPECT_EQ(response.last_position(), 2u);
}

// A stop does not wait for the rest of a batch the fold has begun (4,096
// events, minutes when each takes tens of milliseconds; a probe saw SIGTERM
// take 80 s): the fold stops between two slices, its checkpoint at its last
// whole event, and the next start folds on from there.
TEST_F(RareErrorsTest, AStopDoesNotWaitForTheRestOfASlowFoldsBatch) {
  auto slow = std::make_shared<std::atomic<bool>>(false);
  customize_ = [slow](server::ServerOptions& o) {
    o.TEST_fold_event = [slow] {
      if (slow->load()) absl::SleepFor(absl::Milliseconds(10));
    };
  };
  Start();
  ASSERT_TRUE(Append(Events(1)).ok());
  for (int i = 0; i < 500 && server_->ProjectionPosition() < 1; ++i) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  slow->store(true);
  ASSERT_TRUE(Append(Events(1000)).ok());
  for (int i = 0; i < 500 && server_->ProjectionPosition() < 2; ++i) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  // Status says how far behind reports are.
  auto status = client_->GetStatus();
  ASSERT_OK(status);
  ASSERT_TRUE(status->has_projection_position());
  EXPECT_LT(status->projection_position(), status->last_position());
  server_->Shutdown(absl::Seconds(5));
  const uint64_t stopped_at = server_->ProjectionPosition();
  EXPECT_GE(stopped_at, 2u);
  EXPECT_LT(stopped_at, 1001u) << "the stop waited for the whole batch";
  StopServer();
  slow->store(false);
  Start();
  for (int i = 0; i < 500 && server_->ProjectionPosition() < 1001; ++i) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(server_->ProjectionPosition(), 1001u);
  grpc::ClientContext context;
  context.set_deadline(DeadlineAfter(absl::Seconds(30)));
  v1::FairnessReport report;
  EXPECT_TRUE(fairness_stub_->GetReport(&context, v1::ReportRequest(), &report).ok());
  EXPECT_EQ(report.as_of_position(), 1001u);
}

// ---- UNAVAILABLE: READ_ONLY ---------------------------------------------------

// A server started with under 4 MiB free opens the log read-only
// (docs/RELIABILITY.md, "The reserve file"): an append is refused saying to
// free space and restart, and nothing is written.
TEST_F(RareErrorsTest, AnAppendToALogOpenedReadOnlyIsRefusedAndNothingIsWritten) {
  Start();
  ASSERT_TRUE(Append(Events(2)).ok());
  StopServer();
  customize_ = [](server::ServerOptions& o) {
    o.free_disk_bytes = []() -> absl::StatusOr<uint64_t> { return uint64_t{1} << 20; };
  };
  Start();
  if (HasFatalFailure()) return;
  absl::StatusOr<v1::GetStatusResponse> before = client_->GetStatus();
  ASSERT_OK(before);
  ASSERT_TRUE(before->read_only());

  std::vector<v1::Event> refused_events = Events(1);
  grpc::Status refused = Append(refused_events);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE) << refused.error_message();
  EXPECT_THAT(refused.error_message(),
              AllOf(HasSubstr(absl::StrCat("the disk holding ", dir_.Sub(data_subdir_),
                                           " had only 1.0 MiB free when the server started")),
                    HasSubstr("too little to open the log for writing: it serves reads only"),
                    HasSubstr("Free space, then restart evenhandd to accept appends")));
  google::rpc::ErrorInfo info = ErrorInfoOf(refused);
  EXPECT_EQ(info.reason(), "READ_ONLY");
  // Status says the same, and the log did not move.
  absl::StatusOr<v1::GetStatusResponse> after = client_->GetStatus();
  ASSERT_OK(after);
  EXPECT_EQ(after->last_position(), 2u);
  EXPECT_FALSE(after->accepting_appends());
  // Not "reads continue" for reads on the record, which are refused (an
  // outside probe read that, then had every read refused).
  EXPECT_THAT(after->appends_refused(),
              AllOf(HasSubstr("serves reads only, and only those not on the record"),
                    HasSubstr("the server's default refuses them")));
  std::set<std::string> ids;
  ASSERT_OK(client_->ReadAll({}, [&](const v1::RecordedEvent& e) {
    ids.insert(e.event().event_id());
    return true;
  }));
  EXPECT_EQ(ids.size(), 2u);
  EXPECT_EQ(ids.count(refused_events[0].event_id()), 0u);
}

// ---- UNAVAILABLE: STREAM_MAP_BUILDING -----------------------------------------

// A stream-head map lost (or a restored log's) is built by the checkpoint
// thread in steps. Meanwhile what needs a new signed checkpoint (the latest
// checkpoint of a grown log, a signed report) is refused with the build's
// progress and "try again later", not kept waiting for the whole build; the
// latest checkpoint is served while it still covers the log. Then both work.
TEST_F(RareErrorsTest, WhatNeedsANewCheckpointIsRefusedWhileTheStreamMapIsBuilt) {
  // The real clock: a checkpoint is signed at most once a second of it.
  clock_ = nullptr;
  Start();
  // In streams of 1,000 (a stream holds at most maxEventsPerStream).
  for (int i = 0; i < 25; ++i) ASSERT_TRUE(Append(Events(1000), absl::StrCat("s-", i)).ok());
  StopServer();  // signs 25,000 with the map built
  std::filesystem::remove_all(dir_.Sub("data/stream-map"));
  absl::Notification stepped, go_on;
  // Whatever fails, the checkpoint thread is let go before the server stops.
  absl::Cleanup release = [&] {
    if (!go_on.HasBeenNotified()) go_on.Notify();
  };
  customize_ = [&](server::ServerOptions& o) {
    o.TEST_map_build_in_steps_over = 12000;
    o.TEST_after_map_step = [&] {
      if (!stepped.HasBeenNotified()) stepped.Notify();
      go_on.WaitForNotification();
    };
  };
  Start();
  if (HasFatalFailure()) return;
  ASSERT_TRUE(stepped.WaitForNotificationWithTimeout(absl::Minutes(1)));
  auto latest = [&](v1::SignedCheckpoint* c) {
    grpc::ClientContext context;
    context.set_deadline(DeadlineAfter(absl::Seconds(20)));
    return audit_stub_->GetCheckpoint(&context, v1::GetCheckpointRequest(), c);
  };
  v1::SignedCheckpoint c;
  ASSERT_TRUE(latest(&c).ok());
  EXPECT_EQ(c.checkpoint().tree_size(), 25000u);
  ASSERT_TRUE(Append(Events(1)).ok());
  // Past the second within which the latest would be served as it is.
  absl::SleepFor(absl::Milliseconds(1100));
  auto refused = [&](const grpc::Status& s) {
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
    EXPECT_THAT(s.error_message(),
                AllOf(HasSubstr("stream-head map is being built (at position 10000 of 25000)"),
                      HasSubstr("try again later")));
    const google::rpc::ErrorInfo info = ErrorInfoOf(s);
    EXPECT_EQ(info.reason(), "STREAM_MAP_BUILDING");
    EXPECT_EQ(Metadata(info, "map_position"), "10000");
    EXPECT_EQ(Metadata(info, "building_to"), "25000");
  };
  refused(latest(&c));
  auto document = [&] {
    grpc::ClientContext context;
    context.set_deadline(DeadlineAfter(absl::Seconds(20)));
    v1::ReportDocumentRequest request;
    request.set_format(v1::REPORT_JSON);
    v1::ReportDocument response;
    return fairness_stub_->GetReportDocument(&context, request, &response);
  };
  refused(document());

  go_on.Notify();
  grpc::Status s = latest(&c);
  for (const absl::Time give_up = absl::Now() + absl::Minutes(1);
       !s.ok() && absl::Now() < give_up; s = latest(&c)) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(c.checkpoint().tree_size(), 25001u);
  EXPECT_TRUE(document().ok());
}

// ---- OUT_OF_RANGE: BEYOND_END_OF_LOG, proofs ----------------------------------

// A proof of a tree larger than the log is refused naming its last position:
// from the first size beyond it, for either end of a consistency proof and
// for an inclusion proof's tree.
TEST_F(RareErrorsTest, AProofOfATreeBeyondTheLogIsOutOfRange) {
  Start();
  ASSERT_TRUE(Append(Events(2)).ok());
  auto consistency = [&](uint64_t from_size, uint64_t to_size) {
    grpc::ClientContext context;
    context.set_deadline(DeadlineAfter(absl::Seconds(20)));
    v1::GetConsistencyProofRequest request;
    request.set_from_size(from_size);
    request.set_to_size(to_size);
    v1::ConsistencyProof response;
    return audit_stub_->GetConsistencyProof(&context, request, &response);
  };
  auto inclusion = [&](uint64_t position, uint64_t tree_size) {
    grpc::ClientContext context;
    context.set_deadline(DeadlineAfter(absl::Seconds(20)));
    v1::GetInclusionProofRequest request;
    request.set_position(position);
    request.set_tree_size(tree_size);
    v1::InclusionProof response;
    return audit_stub_->GetInclusionProof(&context, request, &response);
  };
  // The log's own sizes are proved.
  EXPECT_TRUE(consistency(1, 2).ok());
  EXPECT_TRUE(consistency(2, 0).ok());
  EXPECT_TRUE(inclusion(2, 2).ok());

  struct Case {
    std::string field;
    uint64_t size;
    grpc::Status status;
  };
  for (const Case& c : std::vector<Case>{
           {"to_size", 3, consistency(1, 3)},
           {"to_size", 9, consistency(1, 9)},
           // From a size beyond the current tree (to_size 0): the log may
           // yet grow to it.
           {"from_size", 3, consistency(3, 0)},
           {"tree_size", 3, inclusion(1, 3)},
       }) {
    SCOPED_TRACE(absl::StrCat(c.field, " ", c.size));
    EXPECT_EQ(c.status.error_code(), grpc::StatusCode::OUT_OF_RANGE) << c.status.error_message();
    EXPECT_EQ(c.status.error_message(),
              absl::StrCat(c.field, ": ", c.size, " is beyond the end of the log (2 events)"));
    google::rpc::ErrorInfo info = ErrorInfoOf(c.status);
    EXPECT_EQ(info.reason(), "BEYOND_END_OF_LOG");
    EXPECT_EQ(Metadata(info, "field"), c.field);
    EXPECT_EQ(Metadata(info, "last_position"), "2");
  }
  // A from_size past an explicit to_size can never be proved: a bad request.
  grpc::Status reversed = consistency(2, 1);
  EXPECT_EQ(reversed.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ErrorInfoOf(reversed).reason(), "INVALID_FIELD");
}

}  // namespace
}  // namespace evenhand
