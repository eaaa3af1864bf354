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
#include "clients/audit_client.h"
#include "gmock/gmock.h"
#include "grpcpp/generic/generic_stub.h"
#include "google/protobuf/unknown_field_set.h"
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

struct Row {
  // The row of the README's table: the code and what happens.
  grpc::StatusCode code;
  std::string when;
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
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    v1::AppendResponse response;
    return stub_->Append(&context, request, &response);
  }

  // A raw call with bytes that are not a valid AppendRequest.
  grpc::Status AppendRawBytes(const std::string& bytes) {
    grpc::GenericStub generic(channel_);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
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
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
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
      {grpc::StatusCode::INVALID_ARGUMENT, "missing field", {"events[0].occurred_at: required"},
       nullptr, nullptr, [&] { return Append(Request("s", {WithoutOccurredAt()})); }},
      {grpc::StatusCode::INVALID_ARGUMENT, "empty batch", {"at least one event is required"},
       nullptr, nullptr, [&] { return Append(Request("s", {})); }},
      {grpc::StatusCode::INVALID_ARGUMENT, "too many events",
       {"4 events in one append, over the limit of 3", "max_batch_events"},
       [](v1::ServerConfig& c) { c.set_max_batch_events(3); }, nullptr,
       [&] { return Append(Request("s", SomeEvents(4))); }},
      {grpc::StatusCode::INVALID_ARGUMENT, "event over max_event_bytes",
       {"over the limit of 2048 bytes", "max_event_bytes"},
       [](v1::ServerConfig& c) { c.set_max_event_bytes(2048); }, nullptr,
       [&] {
         v1::Event e = SomeEvents(1)[0];
         e.clear_type();
         auto* o = e.mutable_payload()->mutable_officer_registered();
         o->set_officer_id("o-1");
         o->set_name(std::string(3000, 'x'));
         o->set_role(v1::OFFICER);
         return Append(Request("officer-o-1", {e}));
       }},
      {grpc::StatusCode::INVALID_ARGUMENT, "bad stream id",
       {"stream_id: character 4 is not allowed"}, nullptr, nullptr,
       [&] { return Append(Request("bad stream", SomeEvents(1))); }},
      {grpc::StatusCode::INVALID_ARGUMENT, "duplicate id in a batch", {"appears twice in this batch"},
       nullptr, nullptr,
       [&] {
         auto events = SomeEvents(2);
         events[1].set_event_id(events[0].event_id());
         return Append(Request("s", events));
       }},
      {grpc::StatusCode::INVALID_ARGUMENT, "an enum number the server does not know",
       {"events[0].payload.officer_registered.role: 99 is not a known OfficerRole",
        "HEAD_OF_PAID_SERVICE"},
       nullptr, nullptr,
       [&] {
         v1::Event e = SomeEvents(1)[0];
         e.clear_type();
         auto* o = e.mutable_payload()->mutable_officer_registered();
         o->set_officer_id("o-1");
         o->set_role(static_cast<v1::OfficerRole>(99));
         return Append(Request("officer-o-1", {e}));
       }},
      {grpc::StatusCode::INVALID_ARGUMENT, "a field the server's contract does not have",
       {"events[0].payload.officer_registered: field number 42 is not in this server's "
        "evenhand.v1.OfficerRegistered"},
       nullptr, nullptr,
       [&] {
         v1::Event e = SomeEvents(1)[0];
         e.clear_type();
         auto* o = e.mutable_payload()->mutable_officer_registered();
         o->set_officer_id("o-1");
         o->set_role(v1::OFFICER);
         o->GetReflection()->MutableUnknownFields(o)->AddLengthDelimited(42, "x");
         return Append(Request("officer-o-1", {e}));
       }},
      {grpc::StatusCode::INVALID_ARGUMENT, "an identifier too long or outside the alphabet",
       {"events[0].payload.officer_registered.officer_id: character 2 is not allowed in an "
        "identifier"},
       nullptr, nullptr,
       [&] {
         v1::Event e = SomeEvents(1)[0];
         e.clear_type();
         auto* o = e.mutable_payload()->mutable_officer_registered();
         o->set_officer_id("o officer");
         o->set_role(v1::OFFICER);
         return Append(Request("officer-o", {e}));
       }},
      {grpc::StatusCode::INVALID_ARGUMENT, "a free-text field over max_text_bytes",
       {"events[0].payload.officer_registered.name: at most 10000 bytes of text "
        "(max_text_bytes in the server config), got 20000"},
       [](v1::ServerConfig& c) { c.set_max_text_bytes(10000); }, nullptr,
       [&] {
         v1::Event e = SomeEvents(1)[0];
         e.clear_type();
         auto* o = e.mutable_payload()->mutable_officer_registered();
         o->set_officer_id("o-1");
         o->set_name(std::string(20000, 'n'));
         o->set_role(v1::OFFICER);
         return Append(Request("officer-o-1", {e}));
       }},
      {grpc::StatusCode::INVALID_ARGUMENT, "a request that cannot be parsed",
       {"cannot be parsed as evenhand.v1.AppendRequest", "invalid UTF-8"}, nullptr, nullptr,
       [&] { return AppendRawBytes(std::string("\x0a\x02\xff\xfe", 4)); }},
      {grpc::StatusCode::FAILED_PRECONDITION, "wrong expected revision",
       {"stream \"r\" is at revision 1; expected revision 5", "Nothing was written"}, nullptr, nullptr,
       [&] {
         EXPECT_TRUE(Append(Request("r", SomeEvents(2))).ok());
         v1::AppendRequest r = Request("r", SomeEvents(1));
         r.set_exact_revision(5);
         return Append(r);
       }},
      {grpc::StatusCode::ALREADY_EXISTS, "a batch mixing recorded and new ids",
       {"1 of 2 event ids were recorded before", "Nothing was written"}, nullptr, nullptr,
       [&] {
         auto events = SomeEvents(1);
         EXPECT_TRUE(Append(Request("m", events)).ok());
         events.push_back(SomeEvents(1)[0]);
         return Append(Request("m", events));
       }},
      {grpc::StatusCode::ALREADY_EXISTS, "an id recorded in another stream",
       {"was already recorded in stream \"a\" at position 1, not in \"b\""}, nullptr, nullptr,
       [&] {
         auto events = SomeEvents(1);
         EXPECT_TRUE(Append(Request("a", events)).ok());
         return Append(Request("b", events));
       }},
      {grpc::StatusCode::ALREADY_EXISTS, "an id resent with different content",
       {"was already recorded at position 1 with different content (occurred_at differ)"}, nullptr,
       nullptr,
       [&] {
         auto events = SomeEvents(1);
         EXPECT_TRUE(Append(Request("c", events)).ok());
         events[0].mutable_occurred_at()->set_seconds(events[0].occurred_at().seconds() - 60);
         return Append(Request("c", events));
       }},
      {grpc::StatusCode::RESOURCE_EXHAUSTED, "a request over max_request_bytes",
       {"Received message larger than max"},
       [](v1::ServerConfig& c) { c.set_max_request_bytes(64 << 10); }, nullptr,
       [&] { return Append(Request("s", SomeEvents(1, std::string(100 << 10, 'x')))); }},
      {grpc::StatusCode::RESOURCE_EXHAUSTED, "an export over max_export_events",
       {"the filter selects more than 3 events", "maxExportEvents", "narrow it"},
       [](v1::ServerConfig& c) { c.set_max_export_events(3); }, nullptr,
       [&] {
         EXPECT_TRUE(Append(Request("s", SomeEvents(5))).ok());
         auto audit = std::make_unique<clients::AuditClient>(v1::Audit::NewStub(channel_));
         v1::ExportRequest request;
         auto bundle = audit->Export(request);
         return grpc::Status(static_cast<grpc::StatusCode>(bundle.status().code()),
                             std::string(bundle.status().message()));
       }},
      {grpc::StatusCode::RESOURCE_EXHAUSTED, "the disk below its free-space floor",
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
      {grpc::StatusCode::RESOURCE_EXHAUSTED, "too many subscriptions from one client",
       {"2 subscriptions are already open from", "maxSubscriptionsPerClient"},
       [](v1::ServerConfig& c) { c.set_max_subscriptions_per_client(2); }, nullptr,
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
      {grpc::StatusCode::UNAVAILABLE, "shutting down, with an append held in flight",
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
         // still in flight.
         for (int i = 0; i < 100 && testing::CheckHealth(channel_) != testing::Health::kNotServing;
              ++i) {
           absl::SleepFor(absl::Milliseconds(20));
         }
         grpc::Status refused = Append(Request("s", SomeEvents(1)));
         hold_release->Notify();
         in_flight.join();
         stopping.join();
         EXPECT_TRUE(held.ok()) << "the append in flight finished: " << held.error_message();
         return refused;
       }},
      {grpc::StatusCode::UNAVAILABLE, "the projection still catching up",
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
         return grpc::Status(static_cast<grpc::StatusCode>(report.status().code()),
                             std::string(report.status().message()));
       }},
      {grpc::StatusCode::INTERNAL, "a write whose outcome is unknown",
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
      {grpc::StatusCode::UNAVAILABLE, "appends after a storage failure",
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
      {grpc::StatusCode::ABORTED, "a concurrent append this one depended on failed",
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
      {grpc::StatusCode::OUT_OF_RANGE, "Subscribe from beyond the end of the log",
       {"from_position: 9 is beyond the end of the log (last position 2)"}, nullptr, nullptr,
       [&] {
         EXPECT_TRUE(Append(Request("s", SomeEvents(2))).ok());
         v1::SubscribeRequest request;
         request.set_from_position(9);
         return Subscribe(request);
       }},
      {grpc::StatusCode::OUT_OF_RANGE, "a report as of a position beyond the log",
       {"as_of_position: 7 is beyond the end of the log (last position 0)"}, nullptr, nullptr,
       [&] {
         v1::ReportRequest request;
         request.set_as_of_position(7);
         auto report = fairness_->GetReport(request);
         return grpc::Status(static_cast<grpc::StatusCode>(report.status().code()),
                             std::string(report.status().message()));
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
    if (!hold_release->HasBeenNotified()) hold_release->Notify();
    if (!fold_release->HasBeenNotified()) fold_release->Notify();
    StopServer();
  }
  EXPECT_EQ(n, 26);
}

}  // namespace
}  // namespace evenhand
