// README.md's table of errors, row by row, through a real gRPC channel to a
// real server: each row makes its error happen and checks the exact code and
// what the message says. Limits are set low so they can be reached; storage
// failures and a held append use the store's test hooks; the projection is
// held behind with the fold's.
#include <atomic>
#include <functional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "base/error_details.h"
#include "base/grpc_deadline.h"
#include "base/grpc_status.h"
#include "base/time_util.h"
#include "clients/audit_client.h"
#include "gmock/gmock.h"
#include "google/protobuf/unknown_field_set.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "tests/testing/events.h"
#include "tests/testing/health.h"
#include "tests/testing/server_fixture.h"
#include "tests/testing/status_matchers.h"

namespace evenhand {
namespace {

using ::evenhand::testing::SomeEvents;
using ::testing::AllOf;
using ::testing::HasSubstr;

// The detail of type `Message` in `status`, if it has one.
template <typename Message>
std::optional<Message> Detail(const google::rpc::Status& status) {
  for (const google::protobuf::Any& any : status.details()) {
    Message m;
    if (any.Is<Message>() && any.UnpackTo(&m)) return m;
  }
  return std::nullopt;
}

struct Row {
  // The row of the README's table: the code and what happens.
  grpc::StatusCode code;
  std::string when;
  // The google.rpc.ErrorInfo reason a program switches on ("": none, the
  // status is gRPC's own).
  std::string reason;
  // What the message must say.
  std::vector<std::string> says;
  // Sets the server up for the row (config, then hooks); either may be empty.
  std::function<void(v1::ServerConfig&)> config;
  std::function<void(server::ServerOptions&)> hooks;
  // Makes the error happen; returns the status the client got.
  std::function<grpc::Status()> call;
};

class ErrorsTableTest : public testing::ServerTest {
 protected:
  v1::AppendRequest Request(const std::string& stream, std::vector<v1::Event> events) {
    v1::AppendRequest r;
    r.set_stream_id(stream);
    for (auto& e : events) *r.add_events() = std::move(e);
    return r;
  }

  grpc::Status Append(const v1::AppendRequest& request,
                      absl::Duration timeout = absl::Seconds(20)) {
    grpc::ClientContext context;
    context.set_deadline(DeadlineAfter(timeout));
    v1::AppendResponse response;
    return stub_->Append(&context, request, &response);
  }

  // A raw call with bytes that are not a valid AppendRequest.
  grpc::Status AppendRawBytes(const std::string& bytes) {
    grpc::GenericStub generic(channel_);
    grpc::ClientContext context;
    context.set_deadline(DeadlineAfter(absl::Seconds(10)));
    grpc::CompletionQueue cq;
    grpc::Slice slice(bytes);
    grpc::ByteBuffer request(&slice, 1);
    auto call = generic.PrepareUnaryCall(&context, "/evenhand.v1.EventLog/Append", request, &cq);
    call->StartCall();
    grpc::ByteBuffer reply;
    grpc::Status status;
    call->Finish(&reply, &status, reinterpret_cast<void*>(1));
    void* tag;
    bool ok;
    cq.Next(&tag, &ok);
    cq.Shutdown();
    while (cq.Next(&tag, &ok)) {
    }
    return status;
  }

  grpc::Status Subscribe(v1::SubscribeRequest request) {
    grpc::ClientContext context;
    context.set_deadline(DeadlineAfter(absl::Seconds(10)));
    auto reader = stub_->Subscribe(&context, request);
    v1::SubscribeResponse response;
    while (reader->Read(&response)) {
      if (response.has_caught_up()) context.TryCancel();
    }
    return reader->Finish();
  }

  // An open subscription that is never read, holding its slot.
  std::unique_ptr<grpc::ClientContext> Hold(v1::SubscribeRequest request) {
    auto context = std::make_unique<grpc::ClientContext>();
    auto reader = stub_->Subscribe(context.get(), request);
    v1::SubscribeResponse first;
    reader->Read(&first);  // the subscription is being served
    held_readers_.push_back(std::move(reader));
    return context;
  }

  std::vector<std::unique_ptr<grpc::ClientReader<v1::SubscribeResponse>>> held_readers_;
};

v1::Event WithoutOccurredAt() {
  v1::Event e = SomeEvents(1)[0];
  e.clear_occurred_at();
  return e;
}

TEST_F(ErrorsTableTest, EveryRowOfTheReadmesErrorTable) {
  auto hold_release = std::make_unique<absl::Notification>();
  std::atomic<bool> hold{false};
  std::atomic<int> failing_writes{0};
  std::atomic<uint64_t> free_bytes{uint64_t{1} << 40};
  std::atomic<bool> hold_fold{false};
  auto fold_release = std::make_unique<absl::Notification>();

  const std::vector<Row> rows = {
      {grpc::StatusCode::INVALID_ARGUMENT,
       "missing field",
       "INVALID_FIELD",
       {"events[0].occurred_at: required"},
       nullptr,
       nullptr,
       [&] { return Append(Request("s", {WithoutOccurredAt()})); }},
      {grpc::StatusCode::INVALID_ARGUMENT,
       "occurred_at ahead of the server's clock",
       "AHEAD_OF_SERVER_CLOCK",
       {"events[0].occurred_at: ", "ahead of the server's clock, which says ",
        "If that clock is wrong, the event is not"},
       nullptr,
       nullptr,
       [&] {
         v1::Event e = SomeEvents(1)[0];
         *e.mutable_occurred_at() = ToProtoTime(absl::Now() + absl::Hours(24 * 3));
         return Append(Request("s", {e}));
       }},
      {grpc::StatusCode::INVALID_ARGUMENT,
       "empty batch",
       "INVALID_FIELD",
       {"at least one event is required"},
       nullptr,
       nullptr,
       [&] { return Append(Request("s", {})); }},
      {grpc::StatusCode::INVALID_ARGUMENT,
       "too many events",
       "TOO_MANY_EVENTS",
       {"4 events in one append, over the limit of 3", "max_batch_events"},
       [](v1::ServerConfig& c) { c.set_max_batch_events(3); },
       nullptr,
       [&] { return Append(Request("s", SomeEvents(4))); }},
      {grpc::StatusCode::INVALID_ARGUMENT,
       "event over max_event_bytes",
       "EVENT_TOO_LARGE",
       {"over the limit of 2048 bytes", "max_event_bytes"},
       [](v1::ServerConfig& c) { c.set_max_event_bytes(2048); },
       nullptr,
       [&] {
         v1::Event e = SomeEvents(1)[0];
         e.clear_type();
         auto* o = e.mutable_payload()->mutable_officer_registered();
         o->set_officer_id("o-1");
         o->set_name(std::string(3000, 'x'));
         o->set_role(v1::OFFICER);
         return Append(Request("officer-o-1", {e}));
       }},
      {grpc::StatusCode::INVALID_ARGUMENT,
       "bad stream id",
       "INVALID_FIELD",
       {"stream_id: character 4 is not allowed"},
       nullptr,
       nullptr,
       [&] { return Append(Request("bad stream", SomeEvents(1))); }},
      {grpc::StatusCode::INVALID_ARGUMENT,
       "duplicate id in a batch",
       "INVALID_FIELD",
       {"appears twice in this batch"},
       nullptr,
       nullptr,
       [&] {
         auto events = SomeEvents(2);
         events[1].set_event_id(events[0].event_id());
         return Append(Request("s", events));
       }},
      {grpc::StatusCode::INVALID_ARGUMENT,
       "an enum number the server does not know",
       "UNKNOWN_ENUM_VALUE",
       {"events[0].payload.officer_registered.role: 99 is not a known OfficerRole",
        "HEAD_OF_PAID_SERVICE"},
       nullptr,
       nullptr,
       [&] {
         v1::Event e = SomeEvents(1)[0];
         e.clear_type();
         auto* o = e.mutable_payload()->mutable_officer_registered();
         o->set_officer_id("o-1");
         o->set_role(static_cast<v1::OfficerRole>(99));
         return Append(Request("officer-o-1", {e}));
       }},
      {grpc::StatusCode::INVALID_ARGUMENT,
       "an enum number the server does not know, in the request itself",
       "UNKNOWN_ENUM_VALUE",
       {"expected_state: unknown value 9", "NO_STREAM"},
       nullptr,
       nullptr,
       [&] {
         v1::AppendRequest r = Request("s", SomeEvents(1));
         r.set_expected_state(static_cast<v1::ExpectedState>(9));
         return Append(r);
       }},
      {grpc::StatusCode::INVALID_ARGUMENT,
       "a field the server's contract does not have",
       "UNKNOWN_FIELD",
       {"events[0].payload.officer_registered: field number 42 is not in this server's "
        "evenhand.v1.OfficerRegistered"},
       nullptr,
       nullptr,
       [&] {
         v1::Event e = SomeEvents(1)[0];
         e.clear_type();
         auto* o = e.mutable_payload()->mutable_officer_registered();
         o->set_officer_id("o-1");
         o->set_role(v1::OFFICER);
         o->GetReflection()->MutableUnknownFields(o)->AddLengthDelimited(42, "x");
         return Append(Request("officer-o-1", {e}));
       }},
      {grpc::StatusCode::INVALID_ARGUMENT,
       "an identifier too long or outside the alphabet",
       "INVALID_FIELD",
       {"events[0].payload.officer_registered.officer_id: character 2 is not allowed in an "
        "identifier"},
       nullptr,
       nullptr,
       [&] {
         v1::Event e = SomeEvents(1)[0];
         e.clear_type();
         auto* o = e.mutable_payload()->mutable_officer_registered();
         o->set_officer_id("o officer");
         o->set_role(v1::OFFICER);
         return Append(Request("officer-o", {e}));
       }},
      {grpc::StatusCode::INVALID_ARGUMENT,
       "a free-text field over max_text_bytes",
       "INVALID_FIELD",
       {"events[0].payload.officer_registered.name: at most 10000 bytes of text "
        "(max_text_bytes in the server config), got 20000"},
       [](v1::ServerConfig& c) { c.set_max_text_bytes(10000); },
       nullptr,
       [&] {
         v1::Event e = SomeEvents(1)[0];
         e.clear_type();
         auto* o = e.mutable_payload()->mutable_officer_registered();
         o->set_officer_id("o-1");
         o->set_name(std::string(20000, 'n'));
         o->set_role(v1::OFFICER);
         return Append(Request("officer-o-1", {e}));
       }},
      {grpc::StatusCode::INVALID_ARGUMENT,
       "a request that cannot be parsed",
       "UNPARSEABLE_REQUEST",
       {"cannot be parsed as evenhand.v1.AppendRequest", "invalid UTF-8"},
       nullptr,
       nullptr,
       [&] { return AppendRawBytes(std::string("\x0a\x02\xff\xfe", 4)); }},
      {grpc::StatusCode::FAILED_PRECONDITION,
       "wrong expected revision",
       "WRONG_EXPECTED_REVISION",
       {"stream \"r\" is at revision 1; expected revision 5", "Nothing was written"},
       nullptr,
       nullptr,
       [&] {
         EXPECT_TRUE(Append(Request("r", SomeEvents(2))).ok());
         v1::AppendRequest r = Request("r", SomeEvents(1));
         r.set_exact_revision(5);
         return Append(r);
       }},
      {grpc::StatusCode::FAILED_PRECONDITION,
       "a stream over max_events_per_stream",
       "STREAM_FULL",
       {"stream \"f\" holds 3 events and may hold at most 4 (maxEventsPerStream)",
        "nothing was written", "appending to this case in a loop"},
       [](v1::ServerConfig& c) { c.set_max_events_per_stream(4); },
       nullptr,
       [&] {
         EXPECT_TRUE(Append(Request("f", SomeEvents(3))).ok());
         // Two more would make five: refused whole; one fits.
         return Append(Request("f", SomeEvents(2)));
       }},
      {grpc::StatusCode::ALREADY_EXISTS,
       "a batch mixing recorded and new ids",
       "BATCH_PARTLY_RECORDED",
       {"1 of 2 event ids were recorded before", "Nothing was written"},
       nullptr,
       nullptr,
       [&] {
         auto events = SomeEvents(1);
         EXPECT_TRUE(Append(Request("m", events)).ok());
         events.push_back(SomeEvents(1)[0]);
         return Append(Request("m", events));
       }},
      {grpc::StatusCode::ALREADY_EXISTS,
       "an id recorded in another stream",
       "EVENT_ID_IN_OTHER_STREAM",
       {"was already recorded in stream \"a\" at position 1, not in \"b\""},
       nullptr,
       nullptr,
       [&] {
         auto events = SomeEvents(1);
         EXPECT_TRUE(Append(Request("a", events)).ok());
         return Append(Request("b", events));
       }},
      {grpc::StatusCode::ALREADY_EXISTS,
       "an id resent with different content",
       "EVENT_ID_REUSED",
       {"was already recorded at position 1 with different content (the fields that differ: "
        "occurred_at)"},
       nullptr,
       nullptr,
       [&] {
         auto events = SomeEvents(1);
         EXPECT_TRUE(Append(Request("c", events)).ok());
         events[0].mutable_occurred_at()->set_seconds(events[0].occurred_at().seconds() - 60);
         return Append(Request("c", events));
       }},
      {grpc::StatusCode::RESOURCE_EXHAUSTED,
       "a request over max_request_bytes",
       "",
       {"Received message larger than max"},
       [](v1::ServerConfig& c) { c.set_max_request_bytes(64 << 10); },
       nullptr,
       [&] { return Append(Request("s", SomeEvents(1, std::string(100 << 10, 'x')))); }},
      {grpc::StatusCode::RESOURCE_EXHAUSTED,
       "an export over max_export_events",
       "EXPORT_TOO_LARGE",
       {"the filter selects more than 3 events", "maxExportEvents", "narrow it"},
       [](v1::ServerConfig& c) { c.set_max_export_events(3); },
       nullptr,
       [&] {
         EXPECT_TRUE(Append(Request("s", SomeEvents(5))).ok());
         auto audit = std::make_unique<clients::AuditClient>(v1::Audit::NewStub(channel_));
         v1::ExportRequest request;
         auto bundle = audit->Export(request);
         return ToGrpcStatus(bundle.status());
       }},
      {grpc::StatusCode::RESOURCE_EXHAUSTED,
       "a report over max_reply_bytes",
       "REPLY_TOO_LARGE",
       {"this report would be at least", "(maxReplyBytes)", "ask for a shorter period"},
       [](v1::ServerConfig& c) { c.set_max_reply_bytes(100); },
       nullptr,
       [&] {
         EXPECT_TRUE(Append(Request("s", SomeEvents(1))).ok());
         return ToGrpcStatus(fairness_->GetReport({}).status());
       }},
      {grpc::StatusCode::RESOURCE_EXHAUSTED,
       "the disk below its free-space floor",
       "DISK_FULL",
       {"below the floor of 256.0 MiB", "minFreeDiskMib", "resume by themselves",
        "Nothing from this append was written"},
       nullptr,
       [&](server::ServerOptions& o) {
         o.free_disk_bytes = [&]() -> absl::StatusOr<uint64_t> { return free_bytes.load(); };
       },
       [&] {
         free_bytes = 100ull << 20;
         grpc::Status s = Append(Request("s", SomeEvents(1)));
         free_bytes = uint64_t{1} << 40;
         return s;
       }},
      {grpc::StatusCode::RESOURCE_EXHAUSTED,
       "too many subscriptions from one client",
       "TOO_MANY_SUBSCRIPTIONS",
       {"2 subscriptions are already open from", "maxSubscriptionsPerClient"},
       [](v1::ServerConfig& c) { c.set_max_subscriptions_per_client(2); },
       nullptr,
       [&] {
         v1::SubscribeRequest from_end;
         from_end.set_from_end(true);
         auto a = Hold(from_end);
         auto b = Hold(from_end);
         grpc::Status s = Subscribe(from_end);
         a->TryCancel();
         b->TryCancel();
         held_readers_.clear();
         return s;
       }},
      {grpc::StatusCode::UNAVAILABLE,
       "shutting down, with an append held in flight",
       "SHUTTING_DOWN",
       {"shutting down and accepts no more appends", "retry against a running server"},
       nullptr,
       [&](server::ServerOptions& o) {
         o.TEST_before_write = [&]() -> absl::Status {
           if (hold) hold_release->WaitForNotification();
           return absl::OkStatus();
         };
       },
       [&] {
         hold = true;
         grpc::Status held;
         std::thread in_flight([&] { held = Append(Request("held", SomeEvents(1))); });
         absl::SleepFor(absl::Milliseconds(200));
         std::thread stopping([&] { server_->Shutdown(absl::Seconds(20)); });
         // Shutting down: health says so at once, while the held append is
         // still in flight. (Waited for: on a busy machine the stopping
         // thread may start late, and an append sent before would queue
         // behind the held one until its deadline.)
         for (int i = 0; i < 1000 && testing::CheckHealth(channel_) != testing::Health::kNotServing;
              ++i) {
           absl::SleepFor(absl::Milliseconds(20));
         }
         EXPECT_EQ(testing::CheckHealth(channel_), testing::Health::kNotServing);
         grpc::Status refused = Append(Request("s", SomeEvents(1)));
         hold_release->Notify();
         in_flight.join();
         stopping.join();
         EXPECT_TRUE(held.ok()) << "the append in flight finished: " << held.error_message();
         return refused;
       }},
      {grpc::StatusCode::UNAVAILABLE,
       "the projection still catching up",
       "PROJECTION_CATCHING_UP",
       {"still catching up with the log", "try again shortly"},
       [](v1::ServerConfig& c) { c.mutable_fairness()->set_report_wait_seconds(1); },
       [&](server::ServerOptions& o) {
         o.TEST_before_fold = [&] {
           if (hold_fold) fold_release->WaitForNotification();
         };
       },
       [&] {
         hold_fold = true;
         EXPECT_TRUE(Append(Request("s", SomeEvents(1))).ok());
         auto report = fairness_->GetReport({});
         fold_release->Notify();
         return ToGrpcStatus(report.status());
       }},
      {grpc::StatusCode::INTERNAL,
       "a write whose outcome is unknown",
       "OUTCOME_UNKNOWN",
       {"outcome of this append is unknown", "retry with the same event ids"},
       nullptr,
       [&](server::ServerOptions& o) {
         o.TEST_after_write = [&]() -> absl::Status {
           if (failing_writes > 0) {
             --failing_writes;
             return absl::InternalError("injected fsync failure");
           }
           return absl::OkStatus();
         };
       },
       [&] {
         failing_writes = 1;
         return Append(Request("s", SomeEvents(1)));
       }},
      {grpc::StatusCode::UNAVAILABLE,
       "appends after a storage failure",
       "APPENDS_STOPPED",
       {"stopped accepting appends after a storage failure", "restart the server",
        "same event ids"},
       nullptr,
       [&](server::ServerOptions& o) {
         o.TEST_after_write = [&]() -> absl::Status {
           if (failing_writes > 0) {
             --failing_writes;
             return absl::InternalError("injected fsync failure");
           }
           return absl::OkStatus();
         };
       },
       [&] {
         failing_writes = 1;
         EXPECT_EQ(Append(Request("s", SomeEvents(1))).error_code(), grpc::StatusCode::INTERNAL);
         return Append(Request("s", SomeEvents(1)));
       }},
      {grpc::StatusCode::ABORTED,
       "a concurrent append this one depended on failed",
       "DEPENDENCY_FAILED",
       {"a concurrent append this one depended on failed", "nothing was written: retry"},
       nullptr,
       [&](server::ServerOptions& o) {
         auto calls = std::make_shared<std::atomic<int>>(0);
         o.TEST_before_write = [&, calls]() -> absl::Status {
           if (!hold) return absl::OkStatus();
           if ((*calls)++ == 0) {
             hold_release->WaitForNotification();
             return absl::OkStatus();
           }
           return absl::InternalError("injected failure before the write");
         };
       },
       [&] {
         hold = true;
         std::thread first([&] { (void)Append(Request("x", SomeEvents(1))); });
         absl::SleepFor(absl::Milliseconds(200));
         // Two appends open the same new stream in one group: the second's
         // verdict rests on the first's events, which are never written.
         v1::AppendRequest a = Request("n", SomeEvents(1));
         a.set_expected_state(v1::NO_STREAM);
         v1::AppendRequest b = Request("n", SomeEvents(1));
         b.set_expected_state(v1::NO_STREAM);
         grpc::Status a_status, b_status;
         std::thread ta([&] { a_status = Append(a); });
         absl::SleepFor(absl::Milliseconds(100));
         std::thread tb([&] { b_status = Append(b); });
         absl::SleepFor(absl::Milliseconds(200));
         hold_release->Notify();
         first.join();
         ta.join();
         tb.join();
         EXPECT_EQ(a_status.error_code(), grpc::StatusCode::INTERNAL) << a_status.error_message();
         return b_status;
       }},
      {grpc::StatusCode::INVALID_ARGUMENT,
       "a read too long to put on the record whole",
       "REQUEST_TOO_LONG_TO_RECORD",
       {"filter: the request is too long to put on the record whole",
        "over the 16384 an access record holds", "ask with fewer or shorter values"},
       nullptr,
       // (Reads on the record, as a server has them.)
       [](server::ServerOptions& o) {
         o.config.mutable_security()->mutable_local()->set_do_not_record_reads(false);
       },
       [&] {
         v1::SubscribeRequest request;
         for (int i = 0; i < 40; ++i) {
           request.mutable_filter()->add_stream_prefixes(absl::StrCat(i, std::string(500, 'p')));
         }
         return Subscribe(request);
       }},
      {grpc::StatusCode::OUT_OF_RANGE,
       "Subscribe from beyond the end of the log",
       "BEYOND_END_OF_LOG",
       {"from_position: 9 is beyond the end of the log (last position 2)"},
       nullptr,
       nullptr,
       [&] {
         EXPECT_TRUE(Append(Request("s", SomeEvents(2))).ok());
         v1::SubscribeRequest request;
         request.set_from_position(9);
         return Subscribe(request);
       }},
      {grpc::StatusCode::OUT_OF_RANGE,
       "a report as of a position beyond the log",
       "BEYOND_END_OF_LOG",
       {"as_of_position: 7 is beyond the end of the log (last position 0)"},
       nullptr,
       nullptr,
       [&] {
         v1::ReportRequest request;
         request.set_as_of_position(7);
         auto report = fairness_->GetReport(request);
         return ToGrpcStatus(report.status());
       }},
      {grpc::StatusCode::OUT_OF_RANGE,
       "an inclusion proof beyond the tree",
       "BEYOND_END_OF_LOG",
       {"position: 9 is not in the tree of 2 (positions 1 to 2)"},
       nullptr,
       nullptr,
       [&] {
         EXPECT_TRUE(Append(Request("s", SomeEvents(2))).ok());
         clients::AuditClient audit(v1::Audit::NewStub(channel_));
         return ToGrpcStatus(audit.GetInclusionProof(9, 0).status());
       }},
      {grpc::StatusCode::NOT_FOUND,
       "a checkpoint of a tree size never signed",
       "NO_SUCH_CHECKPOINT",
       {"tree_size: no checkpoint was signed at tree size 1"},
       nullptr,
       nullptr,
       [&] {
         EXPECT_TRUE(Append(Request("s", SomeEvents(2))).ok());
         clients::AuditClient audit(v1::Audit::NewStub(channel_));
         return ToGrpcStatus(audit.GetCheckpoint(1).status());
       }},
      {grpc::StatusCode::NOT_FOUND,
       "a replay of a case not in the log",
       "UNKNOWN_CASE",
       {"filter.stream_id: no case \"C-1\" in the log", "did you mean \"complaint-C-1\"?"},
       nullptr,
       nullptr,
       [&] {
         EXPECT_TRUE(Append(Request("complaint-C-1", SomeEvents(1))).ok());
         clients::AuditClient audit(v1::Audit::NewStub(channel_));
         v1::ReplayRequest request;
         request.mutable_filter()->set_stream_id("C-1");
         return ToGrpcStatus(audit.Replay(
             request, [](const v1::AuditedEvent&) { return true; }, [](uint64_t, uint64_t) {}));
       }},
  };

  int n = 0;
  for (const Row& row : rows) {
    SCOPED_TRACE(absl::StrCat(row.code, " ", row.when));
    hold = false;
    hold_fold = false;
    failing_writes = 0;
    hold_release = std::make_unique<absl::Notification>();
    fold_release = std::make_unique<absl::Notification>();
    v1::ServerConfig config;
    if (row.config) row.config(config);
    customize_ = row.hooks;
    data_subdir_ = absl::StrCat("data-", n++);  // a fresh log for every row
    StartServer(config);
    if (HasFatalFailure()) return;
    grpc::Status status = row.call();
    EXPECT_EQ(status.error_code(), row.code) << status.error_message();
    for (const std::string& text : row.says) {
      EXPECT_THAT(status.error_message(), HasSubstr(text));
    }
    // The same, for programs: google.rpc.Status in the trailer.
    google::rpc::Status details;
    if (row.reason.empty()) {
      EXPECT_EQ(status.error_details(), "");
    } else {
      ASSERT_TRUE(details.ParseFromString(status.error_details()));
      EXPECT_EQ(details.code(), static_cast<int>(row.code));
      EXPECT_EQ(details.message(), status.error_message());
      std::optional<google::rpc::ErrorInfo> info = Detail<google::rpc::ErrorInfo>(details);
      ASSERT_TRUE(info.has_value());
      EXPECT_EQ(info->reason(), row.reason);
      EXPECT_EQ(info->domain(), "evenhand.council");
      // (An export or a reply over the limit will be over it again: no
      // RetryInfo.)
      const bool retry_later =
          row.code == grpc::StatusCode::UNAVAILABLE ||
          (row.code == grpc::StatusCode::RESOURCE_EXHAUSTED && row.reason != "EXPORT_TOO_LARGE" &&
           row.reason != "REPLY_TOO_LARGE") ||
          row.code == grpc::StatusCode::ABORTED;
      EXPECT_EQ(Detail<google::rpc::RetryInfo>(details).has_value(), retry_later);
      if (row.code == grpc::StatusCode::INVALID_ARGUMENT && row.reason != "UNPARSEABLE_REQUEST") {
        std::optional<google::rpc::BadRequest> bad = Detail<google::rpc::BadRequest>(details);
        ASSERT_TRUE(bad.has_value());
        ASSERT_EQ(bad->field_violations_size(), 1);
        // The message is the field's path, then what is wrong with it.
        EXPECT_EQ(status.error_message(), absl::StrCat(bad->field_violations(0).field(), ": ",
                                                       bad->field_violations(0).description()));
        EXPECT_EQ(info->metadata().at("field"), bad->field_violations(0).field());
      }
    }
    if (!hold_release->HasBeenNotified()) hold_release->Notify();
    if (!fold_release->HasBeenNotified()) fold_release->Notify();
    StopServer();
  }
  EXPECT_EQ(n, 34);
}

// A program that never reads the message: the code, the reason, the
// stream's actual revision and the field's path all come in the
// google.rpc.Status trailer, and the C++ client hands them on as payloads.
TEST_F(ErrorsTableTest, ProgramsReadWhatWentWrongWithoutTheMessage) {
  StartServer();
  ASSERT_TRUE(Append(Request("r", SomeEvents(2))).ok());

  auto details_of = [](const grpc::Status& status) {
    google::rpc::Status details;
    EXPECT_TRUE(details.ParseFromString(status.error_details()));
    EXPECT_EQ(details.code(), static_cast<int>(status.error_code()));
    return details;
  };
  struct Case {
    std::function<void(v1::AppendRequest&)> expect;
    std::string stream, expected, actual;
  };
  for (const Case& c : std::vector<Case>{
           {[](v1::AppendRequest& r) { r.set_exact_revision(5); }, "r", "5", "1"},
           {[](v1::AppendRequest& r) { r.set_expected_state(v1::NO_STREAM); }, "r", "NO_STREAM",
            "1"},
           {[](v1::AppendRequest& r) { r.set_expected_state(v1::STREAM_EXISTS); }, "new",
            "STREAM_EXISTS", "none"},
       }) {
    SCOPED_TRACE(c.expected);
    v1::AppendRequest request = Request(c.stream, SomeEvents(1));
    c.expect(request);
    grpc::Status status = Append(request);
    ASSERT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    google::rpc::Status details = details_of(status);
    std::optional<google::rpc::ErrorInfo> info = Detail<google::rpc::ErrorInfo>(details);
    ASSERT_TRUE(info.has_value());
    EXPECT_EQ(info->reason(), "WRONG_EXPECTED_REVISION");
    EXPECT_EQ(info->metadata().at("stream"), c.stream);
    EXPECT_EQ(info->metadata().at("expected_revision"), c.expected);
    EXPECT_EQ(info->metadata().at("actual_revision"), c.actual);
    std::optional<google::rpc::PreconditionFailure> failure =
        Detail<google::rpc::PreconditionFailure>(details);
    ASSERT_TRUE(failure.has_value());
    ASSERT_EQ(failure->violations_size(), 1);
    EXPECT_EQ(failure->violations(0).type(), "STREAM_REVISION");
    EXPECT_EQ(failure->violations(0).subject(), c.stream);
  }

  // The second event of a batch lacks its occurred_at; an officer's role is
  // a number the server does not know.
  std::vector<v1::Event> events = SomeEvents(2);
  events[1].clear_occurred_at();
  grpc::Status missing = Append(Request("s", events));
  ASSERT_EQ(missing.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  std::optional<google::rpc::BadRequest> bad = Detail<google::rpc::BadRequest>(details_of(missing));
  ASSERT_TRUE(bad.has_value());
  ASSERT_EQ(bad->field_violations_size(), 1);
  EXPECT_EQ(bad->field_violations(0).field(), "events[1].occurred_at");
  EXPECT_THAT(bad->field_violations(0).description(), ::testing::StartsWith("required"));

  v1::Event officer = SomeEvents(1)[0];
  officer.clear_type();
  officer.mutable_payload()->mutable_officer_registered()->set_officer_id("o-1");
  officer.mutable_payload()->mutable_officer_registered()->set_role(
      static_cast<v1::OfficerRole>(99));
  grpc::Status unknown = Append(Request("officer-o-1", {officer}));
  google::rpc::Status unknown_details = details_of(unknown);
  EXPECT_EQ(Detail<google::rpc::ErrorInfo>(unknown_details)->reason(), "UNKNOWN_ENUM_VALUE");
  EXPECT_EQ(Detail<google::rpc::BadRequest>(unknown_details)->field_violations(0).field(),
            "events[0].payload.officer_registered.role");

  // An event ahead of a slow server clock: the server's time and the skew
  // it allows, so a program can hold the event until the clock is right.
  v1::Event ahead = SomeEvents(1)[0];
  const absl::Time sent_at = absl::Now();
  *ahead.mutable_occurred_at() = ToProtoTime(sent_at + absl::Hours(25));
  grpc::Status early = Append(Request("t", {ahead}));
  ASSERT_EQ(early.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  std::optional<google::rpc::ErrorInfo> ahead_info =
      Detail<google::rpc::ErrorInfo>(details_of(early));
  ASSERT_TRUE(ahead_info.has_value());
  EXPECT_EQ(ahead_info->reason(), "AHEAD_OF_SERVER_CLOCK");
  EXPECT_EQ(ahead_info->metadata().at("field"), "events[0].occurred_at");
  EXPECT_EQ(ahead_info->metadata().at("max_future_skew_seconds"), "86400");
  absl::Time server_time;
  std::string error;
  ASSERT_TRUE(absl::ParseTime(absl::RFC3339_full, ahead_info->metadata().at("server_time"),
                              &server_time, &error))
      << error;
  EXPECT_LE(absl::AbsDuration(server_time - sent_at), absl::Minutes(1));

  // The C++ client keeps the details as the status's payloads.
  v1::AppendRequest stale = Request("r", SomeEvents(1));
  stale.set_exact_revision(0);
  absl::StatusOr<v1::AppendResponse> refused = client_->Append(stale);
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  std::optional<google::rpc::ErrorInfo> info = GetErrorInfo(refused.status());
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->metadata().at("actual_revision"), "1");
  EXPECT_EQ(ReasonOf(refused.status()), "WRONG_EXPECTED_REVISION");
}

}  // namespace
}  // namespace evenhand
