// Requests at the edges of what they may ask, through a real gRPC channel to
// a real server, as an outside integrator probed them: an append carrying a
// field the server does not know (which could have been its precondition),
// report periods and moments that are not times or had not begun, a
// severity the server does not know, replays from past the log's end or
// with their times the wrong way round, and a replay of large events read
// by a client with gRPC's default 4 MiB message limit. Each is refused with
// INVALID_ARGUMENT or OUT_OF_RANGE naming the field, or answered whole,
// rather than answered as "nothing happened" or left for the client to
// fail on.
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "base/error_details.h"
#include "base/grpc_status.h"
#include "base/time_util.h"
#include "evenhand/v1/audit.grpc.pb.h"
#include "evenhand/v1/fairness.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/testing/events.h"
#include "tests/testing/server_fixture.h"

namespace evenhand {
namespace {

using ::evenhand::testing::AnEvent;
using ::evenhand::testing::SomeEvents;
using ::testing::AllOf;
using ::testing::HasSubstr;

class RequestEdgesTest : public testing::ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    StartServer();
    fairness_stub_ = v1::Fairness::NewStub(channel_);
    audit_stub_ = v1::Audit::NewStub(channel_);
  }

  grpc::Status Append(const std::string& stream, std::vector<v1::Event> events) {
    v1::AppendRequest r;
    r.set_stream_id(stream);
    for (v1::Event& e : events) *r.add_events() = std::move(e);
    grpc::ClientContext context;
    v1::AppendResponse response;
    return stub_->Append(&context, r, &response);
  }

  grpc::Status Report(const v1::ReportRequest& request, v1::FairnessReport* report = nullptr) {
    grpc::ClientContext context;
    v1::FairnessReport ignored;
    return fairness_stub_->GetReport(&context, request, report != nullptr ? report : &ignored);
  }

  // A Replay's status, and the events `stub` was sent.
  static grpc::Status Replay(v1::Audit::Stub* stub, const v1::ReplayFilter& filter,
                             size_t* events = nullptr) {
    v1::ReplayRequest request;
    *request.mutable_filter() = filter;
    grpc::ClientContext context;
    auto reader = stub->Replay(&context, request);
    v1::ReplayResponse r;
    size_t n = 0;
    while (reader->Read(&r)) n += r.events_size();
    if (events != nullptr) *events = n;
    return reader->Finish();
  }

  std::unique_ptr<v1::Fairness::Stub> fairness_stub_;
  std::unique_ptr<v1::Audit::Stub> audit_stub_;
};

TEST_F(RequestEdgesTest, AnAppendWithAFieldTheServerDoesNotKnowIsRefusedAndWritesNothing) {
  ASSERT_TRUE(Append("s", SomeEvents(1)).ok());
  grpc::GenericStub generic(channel_);
  v1::AppendRequest request;
  request.set_stream_id("s");
  *request.add_events() = AnEvent();
  const std::string valid = request.SerializeAsString();
  // Field 99 (a newer client's), and exact_revision (field 3) sent with the
  // wrong wire type: taken as ANY, its precondition would be lost.
  for (const std::string& extra : {std::string("\x98\x06\x01", 3), std::string("\x1a\x00", 2)}) {
    SCOPED_TRACE(absl::StrCat("extra bytes of ", extra.size()));
    grpc::ClientContext context;
    grpc::Slice slice(valid + extra);
    grpc::ByteBuffer send(&slice, 1);
    grpc::ByteBuffer received;
    grpc::Status status;
    absl::Notification done;
    generic.UnaryCall(&context, "/evenhand.v1.EventLog/Append", grpc::StubOptions(), &send,
                      &received, [&](grpc::Status s) {
                        status = std::move(s);
                        done.Notify();
                      });
    done.WaitForNotification();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
    EXPECT_THAT(status.error_message(),
                AllOf(HasSubstr("AppendRequest: field number"), HasSubstr("wrong wire type"),
                      HasSubstr("nothing was appended")));
  }
  EXPECT_EQ(server_->LastPosition(), 1u);
}

TEST_F(RequestEdgesTest, AnEventIdResentInCapitalsIsTheSameEvent) {
  v1::Event event = AnEvent();
  ASSERT_TRUE(Append("s", {event}).ok());
  // A UUID is the same in either case: a retry that spells it in capitals
  // is a retry, answered with the position already recorded.
  v1::Event resent = event;
  resent.set_event_id(absl::AsciiStrToUpper(event.event_id()));
  v1::AppendRequest r;
  r.set_stream_id("s");
  *r.add_events() = resent;
  grpc::ClientContext context;
  v1::AppendResponse response;
  grpc::Status s = stub_->Append(&context, r, &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(response.positions_size(), 1);
  EXPECT_EQ(response.positions(0), 1u);
  EXPECT_EQ(server_->LastPosition(), 1u);
  // Other content under the same id is named, field by field.
  resent.set_actor("someone-else");
  *r.mutable_events(0) = resent;
  grpc::ClientContext again;
  s = stub_->Append(&again, r, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("(the fields that differ: actor)"));
  // From another system, nothing of the event is said.
  resent.set_source_system("another");
  *r.mutable_events(0) = resent;
  grpc::ClientContext other;
  s = stub_->Append(&other, r, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS) << s.error_message();
  EXPECT_THAT(s.error_message(),
              AllOf(HasSubstr("is already recorded, by another system"), Not(HasSubstr("differ"))));
}

TEST_F(RequestEdgesTest, ReportTimesThatAreNotTimesOrHadNotBegunAreRefused) {
  ASSERT_TRUE(Append("s", SomeEvents(3)).ok());
  struct Case {
    const char* what;
    std::function<void(v1::ReportRequest*)> set;
    const char* says;
  };
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  const std::vector<Case> cases = {
      {"to with negative nanos",
       [](v1::ReportRequest* r) {
         r->mutable_to()->set_seconds(1800000000);
         r->mutable_to()->set_nanos(-5);
       },
       "to: not a valid timestamp"},
      {"from with nanos of two seconds",
       [](v1::ReportRequest* r) {
         r->mutable_from()->set_seconds(1700000000);
         r->mutable_from()->set_nanos(2000000000);
       },
       "from: not a valid timestamp"},
      {"as_of_time far beyond 2200",
       [](v1::ReportRequest* r) { r->mutable_as_of_time()->set_seconds(int64_t{1} << 62); },
       "as_of_time: must be a time between 1900 and 2200"},
      {"from at 2200 (to, excluded, may be there: the end of 2199)",
       [](v1::ReportRequest* r) {
         r->mutable_from()->set_seconds(kEndCouncilSecond);
         r->mutable_to()->set_seconds(kEndCouncilSecond + 1);
       },
       "from: must be a time between 1900 and 2200"},
      {"to just past the end of 2199",
       [](v1::ReportRequest* r) { r->mutable_to()->set_seconds(kEndCouncilSecond + 1); },
       "to: must be a time between 1900 and 2200"},
      {"to all zero (a JavaScript Date handed to proto-loader)",
       [](v1::ReportRequest* r) { *r->mutable_to() = google::protobuf::Timestamp(); },
       "to: 1970-01-01T00:00:00Z is an empty Timestamp"},
      {"as_of_time all zero",
       [](v1::ReportRequest* r) { *r->mutable_as_of_time() = google::protobuf::Timestamp(); },
       "as_of_time: 1970-01-01T00:00:00Z is an empty Timestamp"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    v1::ReportRequest request;
    c.set(&request);
    grpc::Status s = Report(request);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr(c.says));
  }
  // Findings of a period that had not begun: refused, not "none".
  for (const int64_t from : {int64_t{7226582400} /* 2199 */, now + 2 * 86400}) {
    v1::ListFindingsRequest request;
    request.mutable_report()->mutable_from()->set_seconds(from);
    grpc::ClientContext context;
    v1::ListFindingsResponse response;
    grpc::Status s = fairness_stub_->ListFindings(&context, request, &response);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
    EXPECT_THAT(
        s.error_message(),
        AllOf(HasSubstr(absl::StrCat(
                  "from: ", absl::FormatTime(absl::FromUnixSeconds(from), absl::UTCTimeZone()),
                  " is after the moment the report is as of")),
              HasSubstr("by more than the 24h an event may be recorded ahead of when it "
                        "occurs (maxFutureSkewSeconds)"),
              HasSubstr("nothing in the period had happened then")));
  }
  // Nor its tables of noughts, which would read as "nobody asked for
  // anything"; its page answers (with the obligations falling due in it).
  for (const v1::ReportFormat format :
       {v1::REPORT_CSV_FINDINGS, v1::REPORT_CSV_GROUPS, v1::REPORT_CSV_ACCESS, v1::REPORT_HTML}) {
    SCOPED_TRACE(v1::ReportFormat_Name(format));
    v1::ReportDocumentRequest request;
    request.set_format(format);
    request.mutable_report()->mutable_from()->set_seconds(now + 2 * 86400);
    grpc::ClientContext context;
    v1::ReportDocument document;
    grpc::Status s = fairness_stub_->GetReportDocument(&context, request, &document);
    if (format == v1::REPORT_HTML) {
      EXPECT_TRUE(s.ok()) << s.error_message();
      EXPECT_THAT(document.document(), HasSubstr("not begun at the report&#39;s moment"));
      EXPECT_THAT(document.document(),
                  AllOf(HasSubstr("The period had not begun at the report's moment: nothing in "
                                  "it had happened"),
                        Not(HasSubstr("No rule of the protocol was found broken"))));
      continue;
    }
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr(" is after the moment the report is as of"));
  }
  // A period that begins within the day ahead may hold an event recorded
  // ahead of when it occurs; and what falls due next month is a fair
  // question of a report or of the obligations: answered.
  v1::ListFindingsRequest soon;
  soon.mutable_report()->mutable_from()->set_seconds(now + 3600);
  grpc::ClientContext soon_context;
  v1::ListFindingsResponse soon_response;
  EXPECT_TRUE(fairness_stub_->ListFindings(&soon_context, soon, &soon_response).ok());
  // A period may end at 2200-01-01T00:00:00Z: it is excluded, so the period
  // runs to the end of 2199.
  v1::ReportRequest to_2200;
  to_2200.mutable_to()->set_seconds(kEndCouncilSecond);
  EXPECT_TRUE(Report(to_2200).ok());
  v1::ReportRequest next_month;
  next_month.mutable_from()->set_seconds(now + 30 * 86400);
  next_month.mutable_to()->set_seconds(now + 60 * 86400);
  v1::FairnessReport coming;
  EXPECT_TRUE(Report(next_month, &coming).ok());
  // What was read ends at the report's moment; the obligations are those
  // due by the end of the period asked for, which the report says.
  EXPECT_EQ(coming.to().seconds(), coming.as_of_time().seconds());
  EXPECT_EQ(coming.obligations_due_before().seconds(), now + 60 * 86400);
  // Asked for with no end: no end stated.
  v1::FairnessReport open_ended;
  EXPECT_TRUE(Report(v1::ReportRequest(), &open_ended).ok());
  EXPECT_FALSE(open_ended.has_obligations_due_before());
  v1::ListObligationsRequest due;
  *due.mutable_report() = next_month;
  grpc::ClientContext due_context;
  v1::ListObligationsResponse due_response;
  grpc::Status s = fairness_stub_->ListObligations(&due_context, due, &due_response);
  EXPECT_TRUE(s.ok()) << s.error_message();
}

TEST_F(RequestEdgesTest, FindingsAtASeverityTheServerDoesNotKnowAreRefused) {
  ASSERT_TRUE(Append("s", SomeEvents(1)).ok());
  v1::ListFindingsRequest request;
  request.set_min_severity(static_cast<v1::Severity>(99));
  grpc::ClientContext context;
  v1::ListFindingsResponse response;
  grpc::Status s = fairness_stub_->ListFindings(&context, request, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("min_severity: unknown value 99"));
  // As for an enum number in an event (outside probe: this said INVALID_FIELD).
  EXPECT_EQ(ReasonOf(FromGrpcStatus(s)), "UNKNOWN_ENUM_VALUE");
  request.set_min_severity(v1::HIGH);
  grpc::ClientContext again;
  EXPECT_TRUE(fairness_stub_->ListFindings(&again, request, &response).ok());
}

TEST_F(RequestEdgesTest, AReplayFromPastTheEndOrWithTimesReversedIsRefused) {
  ASSERT_TRUE(Append("s", SomeEvents(5)).ok());
  v1::ReplayFilter beyond;
  beyond.set_from_position(1005);
  grpc::Status s = Replay(audit_stub_.get(), beyond);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::OUT_OF_RANGE) << s.error_message();
  EXPECT_THAT(s.error_message(),
              HasSubstr("filter.from_position: 1005 is beyond the end of the log (last position "
                        "5)"));
  v1::ReplayFilter next;  // the position the next event will take: nothing yet
  next.set_from_position(6);
  size_t events = 1;
  s = Replay(audit_stub_.get(), next, &events);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(events, 0u);

  v1::ReplayFilter reversed;
  reversed.mutable_occurred_from()->set_seconds(1800000000);
  reversed.mutable_occurred_to()->set_seconds(1700000000);
  s = Replay(audit_stub_.get(), reversed);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("filter.occurred_from: must be before"));
  v1::ReplayFilter not_a_time;
  not_a_time.mutable_occurred_to()->set_seconds(1800000000);
  not_a_time.mutable_occurred_to()->set_nanos(-1);
  s = Replay(audit_stub_.get(), not_a_time);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("filter.occurred_to: not a valid timestamp"));
  // 0001-01-01 to 9999-12-31, as a client may say "no limit": every event.
  v1::ReplayFilter unlimited;
  unlimited.mutable_occurred_from()->set_seconds(-62135596800);
  unlimited.mutable_occurred_to()->set_seconds(253402300799);
  s = Replay(audit_stub_.get(), unlimited, &events);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(events, 5u);
}

TEST_F(RequestEdgesTest, AReplayOfLargeEventsFitsAClientsDefaultMessageLimit) {
  // 100 events of 60 KiB in one case: 6 MB, more than one 4 MiB message.
  for (int batch = 0; batch < 10; ++batch) {
    std::vector<v1::Event> events;
    for (int i = 0; i < 10; ++i) events.push_back(AnEvent(std::string(60 << 10, 'a' + i)));
    ASSERT_TRUE(Append("big-case", std::move(events)).ok());
  }
  // A client as gRPC makes it by default: at most 4 MiB a message.
  auto plain = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
  auto stub = v1::Audit::NewStub(plain);
  v1::ReplayFilter filter;
  filter.set_stream_id("big-case");
  size_t events = 0;
  grpc::Status s = Replay(stub.get(), filter, &events);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(events, 100u);
}

}  // namespace
}  // namespace evenhand
