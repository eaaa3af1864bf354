// evenhandd's config read again on SIGHUP (server/config_reload.h): a real
// server over TLS, whose file is rewritten as an operator would, and
// callers with make-certs' certificates. A principal added is taken, one
// removed is refused, and a file that does not parse or that the
// authoriser refuses changes nothing; what only a restart takes is named.
// Streams open across the reload are decided again: those no longer
// granted as they were end at once, idle or not, and the others go on.
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "base/error_details.h"
#include "base/grpc_deadline.h"
#include "base/grpc_status.h"
#include "clients/connection.h"
#include "clients/fairness_client.h"
#include "evenhand/v1/audit.grpc.pb.h"
#include "evenhand/v1/fairness.grpc.pb.h"
#include "evenhand/v1/log.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/testing/child_server.h"
#include "tests/testing/demo_callers.h"
#include "tests/testing/log_files.h"
#include "tests/testing/make_certs.h"
#include "tests/testing/temp_dir.h"

namespace evenhand {
namespace {

using testing::ChildServer;
using testing::ReadFile;
using testing::TempDir;

constexpr char kAuditor[] =
    R"(      {"name": "auditor", "certificateNames": ["auditor.demo.council"], )"
    R"("roles": ["auditor"]},)"
    "\n";

class ConfigReloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    certs_ = dir_.Sub("certs");
    ASSERT_TRUE(testing::MakeCerts(certs_));
    full_ = ReadFile(certs_ + "/evenhandd.tls.json");
    ASSERT_TRUE(absl::StrContains(full_, kAuditor)) << full_;
    config_ = dir_.Sub("config.json");
  }

  // Replaces the config file whole, then tells the server.
  void Reload(const std::string& text, ChildServer& server) {
    testing::WriteFile(config_ + ".new", text);
    std::filesystem::rename(config_ + ".new", config_);
    server.Signal(SIGHUP);
  }

  // A report asked for with the auditor's certificate.
  absl::Status AsAuditor(const ChildServer& server) {
    auto channel = clients::Dial(As(server, "auditor"));
    if (!channel.ok()) return channel.status();
    return clients::FairnessClient(v1::Fairness::NewStub(*channel))
        .GetReport(v1::ReportRequest(), absl::Seconds(10))
        .status();
  }
  // Asks until the answer is (or is not) OK, up to about 10 s.
  absl::Status Until(const ChildServer& server, bool ok) {
    absl::Status s;
    for (int i = 0; i < 40; ++i) {
      s = AsAuditor(server);
      if (s.ok() == ok) break;
      absl::SleepFor(absl::Milliseconds(250));
    }
    return s;
  }
  // Waits until the log holds `text` (up to about 10 s).
  bool Logged(const ChildServer& server, const std::string& text) {
    for (int i = 0; i < 40; ++i) {
      if (absl::StrContains(server.Log(), text)) return true;
      absl::SleepFor(absl::Milliseconds(250));
    }
    return false;
  }

  // A connection as make-certs' `who`, or with `token` and no certificate.
  clients::Connection As(const ChildServer& server, const std::string& who,
                         const std::string& token = "") {
    clients::Connection c = testing::DemoConnection(server.address(), certs_, who);
    if (who.empty()) {
      c.token_file = dir_.Sub(absl::StrCat("token-", ++tokens_));
      testing::WriteFile(c.token_file, token);
    }
    return c;
  }
  std::string Token(const std::string& subject, const std::string& group, absl::Duration valid) {
    return testing::DemoToken(certs_, subject, group, valid);
  }

  TempDir dir_;
  std::string certs_, full_, config_;
  int tokens_ = 0;
};

// A call that streams, and its channel.
template <typename Reader>
struct OpenCall {
  std::shared_ptr<grpc::Channel> channel;
  grpc::ClientContext context;
  std::unique_ptr<Reader> reader;
};

// Subscribes from the end of the log as `c`; waits until caught up.
std::unique_ptr<OpenCall<grpc::ClientReader<v1::SubscribeResponse>>> Subscribe(
    const clients::Connection& c) {
  auto call = std::make_unique<OpenCall<grpc::ClientReader<v1::SubscribeResponse>>>();
  auto channel = clients::Dial(c);
  EXPECT_TRUE(channel.ok()) << channel.status();
  call->channel = *channel;
  call->context.set_deadline(DeadlineAfter(absl::Seconds(60)));
  v1::SubscribeRequest request;
  request.set_from_end(true);
  call->reader = v1::EventLog::NewStub(call->channel)->Subscribe(&call->context, request);
  v1::SubscribeResponse first;
  EXPECT_TRUE(call->reader->Read(&first)) << call->reader->Finish().error_message();
  EXPECT_TRUE(first.has_caught_up()) << first.DebugString();
  return call;
}

// Reads what is left of a call; its status.
template <typename Reader, typename Message>
grpc::Status Drain(Reader& reader, Message message) {
  while (reader.Read(&message)) {
  }
  return reader.Finish();
}
template <typename Reader, typename Message>
grpc::Status Drain(OpenCall<Reader>& call, Message message) {
  return Drain(*call.reader, std::move(message));
}

// Two principals lose their role or their name in a reload while their
// subscriptions wait, idle, at the end of the log, and a committee member
// loses the role its obligation watch needs: the three calls end at once,
// each with a status that says why. A reader the reload leaves as it was
// goes on, and reads the others' ends on the record. A reader whose token
// expired ended before, when it expired (UNAUTHENTICATED, CREDENTIAL_EXPIRED):
// a stream is no way to read past a credential's end (outside probe).
TEST_F(ConfigReloadTest, OpenStreamsEndWhenTheirGrantIsWithdrawnOrChanged) {
  // The admin is an auditor too; tokens get a second's leeway.
  const std::string before =
      absl::StrReplaceAll(full_, {{R"("roles": ["admin"]})", R"("roles": ["admin", "auditor"]})"},
                                  {R"("jwksFile":)", R"("leewaySeconds": 1, "jwksFile":)"}});
  ASSERT_TRUE(absl::StrContains(before, R"("roles": ["admin", "auditor"]})") &&
              absl::StrContains(before, R"("leewaySeconds": 1)"))
      << before;
  testing::WriteFile(config_, before);
  ChildServer server(dir_, 0, {"--config=" + config_, "--metrics_listen=off"});
  server.Start();

  // One clerk's token is good for long enough to subscribe on a slow
  // machine, and has expired (with its leeway) before the reload; the
  // other's for an hour.
  const absl::Duration valid = absl::Seconds(10);
  const absl::Time signed_at = absl::Now();
  auto expiring = Subscribe(As(server, "", Token("a.patel", "internal-audit", valid)));
  auto clerk = Subscribe(As(server, "", Token("b.okafor", "internal-audit", absl::Hours(1))));
  auto auditor = Subscribe(As(server, "auditor"));
  auto admin = Subscribe(As(server, "admin"));
  OpenCall<grpc::ClientReader<v1::ObligationUpdate>> watch;
  {
    auto channel = clients::Dial(As(server, "committee"));
    ASSERT_TRUE(channel.ok()) << channel.status();
    watch.channel = *channel;
    watch.context.set_deadline(DeadlineAfter(absl::Seconds(60)));
    v1::WatchObligationsRequest request;
    request.set_within_working_days(5);
    watch.reader = v1::Fairness::NewStub(watch.channel)->WatchObligations(&watch.context, request);
    v1::ObligationUpdate update;
    ASSERT_TRUE(watch.reader->Read(&update)) << watch.reader->Finish().error_message();
    ASSERT_EQ(update.kind(), v1::ObligationUpdate::CAUGHT_UP) << update.DebugString();
  }
  absl::SleepFor(signed_at + valid + absl::Seconds(3) - absl::Now());
  // Ended when its token expired (with the second's leeway), idle as it was.
  grpc::Status expired = Drain(*expiring, v1::SubscribeResponse());
  EXPECT_EQ(expired.error_code(), grpc::StatusCode::UNAUTHENTICATED) << expired.error_message();
  EXPECT_TRUE(absl::StrContains(expired.error_message(),
                                "the bearer token this "
                                "evenhand.v1.EventLog/Subscribe call"))
      << expired.error_message();
  EXPECT_EQ(ReasonOf(FromGrpcStatus(expired)), "CREDENTIAL_EXPIRED");
  EXPECT_LT(absl::Now() - signed_at, absl::Seconds(40)) << "at once, not at the deadline";

  // The auditor is gone, the admin's certificate names another principal,
  // and the committee only monitors.
  Reload(absl::StrReplaceAll(before, {{kAuditor, ""},
                                      {R"("name": "admin")", R"("name": "admin-2")"},
                                      {R"(["committee.demo.council"], "roles": ["committee"])",
                                       R"(["committee.demo.council"], "roles": ["monitoring"])"}}),
         server);
  const absl::Time reloaded = absl::Now();
  grpc::Status gone = Drain(*auditor, v1::SubscribeResponse());
  EXPECT_EQ(gone.error_code(), grpc::StatusCode::PERMISSION_DENIED) << gone.error_message();
  EXPECT_TRUE(absl::StrContains(gone.error_message(),
                                "no longer allows this "
                                "evenhand.v1.EventLog/Subscribe call"))
      << gone.error_message();
  grpc::Status changed = Drain(*admin, v1::SubscribeResponse());
  EXPECT_EQ(changed.error_code(), grpc::StatusCode::ABORTED) << changed.error_message();
  EXPECT_TRUE(absl::StrContains(changed.error_message(), "principal \"admin-2\" now"))
      << changed.error_message();
  // To be called again: it says when.
  EXPECT_TRUE(GetRetryInfo(FromGrpcStatus(changed)).has_value());
  EXPECT_EQ(ReasonOf(FromGrpcStatus(changed)), "GRANT_CHANGED");
  EXPECT_EQ(ReasonOf(FromGrpcStatus(gone)), "GRANT_WITHDRAWN");
  grpc::Status unwatched = Drain(watch, v1::ObligationUpdate());
  EXPECT_EQ(unwatched.error_code(), grpc::StatusCode::PERMISSION_DENIED)
      << unwatched.error_message();
  // At once, not at a deadline or the next event.
  EXPECT_LT(absl::Now() - reloaded, absl::Seconds(20));
  EXPECT_TRUE(Logged(server, "3 open stream(s) ended")) << server.Log();

  // The other clerk's subscription goes on: it reads the three ends on the
  // record.
  std::vector<std::string> ends;
  v1::SubscribeResponse message;
  while (ends.size() < 3 && clerk->reader->Read(&message)) {
    for (const v1::RecordedEvent& e : message.events().events()) {
      const v1::AccessRecorded& a = e.event().payload().access_recorded();
      if (a.method() == "evenhand.v1.EventLog/Subscribe" && a.outcome() == "withdrawn") {
        ends.push_back(a.principal());
      }
    }
  }
  std::sort(ends.begin(), ends.end());
  EXPECT_EQ(ends, (std::vector<std::string>{"a.patel", "admin", "auditor"}));
  clerk->context.TryCancel();
  Drain(*clerk, v1::SubscribeResponse());

  // Called again, the admin goes on under its new name; the auditor is
  // refused.
  auto again = Subscribe(As(server, "admin"));
  again->context.TryCancel();
  Drain(*again, v1::SubscribeResponse());
  {
    auto channel = clients::Dial(As(server, "auditor"));
    ASSERT_TRUE(channel.ok()) << channel.status();
    grpc::ClientContext context;
    context.set_deadline(DeadlineAfter(absl::Seconds(30)));
    v1::SubscribeRequest request;
    request.set_from_end(true);
    auto refused = v1::EventLog::NewStub(*channel)->Subscribe(&context, request);
    grpc::Status status = Drain(*refused, v1::SubscribeResponse());
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
  }
  auditor.reset();
  admin.reset();
  clerk.reset();
  again.reset();
  watch.reader.reset();
  watch.channel.reset();
  server.Signal(SIGTERM);
  const int status = server.Wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << server.Log();
}

TEST_F(ConfigReloadTest, PrincipalsComeAndGoOnSighupAndABadFileChangesNothing) {
  const std::string without = absl::StrReplaceAll(full_, {{kAuditor, ""}});
  testing::WriteFile(config_, without);
  ChildServer server(dir_, 0, {"--config=" + config_, "--metrics_listen=off"});
  server.Start();
  absl::Status refused = AsAuditor(server);
  ASSERT_EQ(refused.code(), absl::StatusCode::kPermissionDenied) << refused;

  // The auditor is added.
  Reload(full_, server);
  absl::Status taken = Until(server, true);
  ASSERT_TRUE(taken.ok()) << taken << "\n" << server.Log();
  EXPECT_TRUE(Logged(server, "the security configuration was read again")) << server.Log();

  // Systems only (requireClientCertificate) is a restart's, as the TLS
  // section is: named so, and until then a person's token is still taken.
  Reload(absl::StrReplaceAll(full_,
                             {{"\"tls\": {", "\"tls\": {\"requireClientCertificate\": true, "}}),
         server);
  ASSERT_TRUE(Logged(server, "also changes security.tls")) << server.Log();
  auto clerk =
      clients::Dial(As(server, "", Token("clerk.hale", "standards-committee", absl::Hours(1))));
  ASSERT_TRUE(clerk.ok()) << clerk.status();
  absl::StatusOr<v1::FairnessReport> report =
      clients::FairnessClient(v1::Fairness::NewStub(*clerk)).GetReport(v1::ReportRequest());
  EXPECT_TRUE(report.ok()) << report.status();
  Reload(full_, server);

  // A file caught half-written, then a role the authoriser does not know:
  // each said, and nothing changes.
  Reload(full_.substr(0, full_.size() / 2), server);
  ASSERT_TRUE(Logged(server, "the configuration in use is kept")) << server.Log();
  Reload(absl::StrReplaceAll(full_, {{R"("roles": ["auditor"]},)", R"("roles": ["auditr"]},)"}}),
         server);
  ASSERT_TRUE(Logged(server, "unknown role \\\"auditr\\\"")) << server.Log();
  EXPECT_TRUE(Logged(server, "the security configuration in use is kept")) << server.Log();
  EXPECT_TRUE(AsAuditor(server).ok());
  // A file whose security section would do, but with which the server would
  // not start (the next restart would fail): none of it is taken.
  Reload(absl::StrReplaceAll(without,
                             {{"\"security\": {", "\"maxEventBytes\": 99999999, \"security\": {"}}),
         server);
  ASSERT_TRUE(Logged(server, "maxEventBytes: 99999999 is more than")) << server.Log();
  EXPECT_TRUE(AsAuditor(server).ok()) << "a file the server would not start with was taken";

  // The auditor is removed, and a limit of the log changed with it, while
  // the identity provider's key file is caught half-written: the principal
  // goes at once (the provider's section is unchanged, so its keys are
  // kept), the limit is named as a restart's.
  testing::WriteFile(certs_ + "/jwks.json", "{\"keys\": [");
  Reload(
      absl::StrReplaceAll(without, {{"\"security\": {", "\"maxBatchEvents\": 7, \"security\": {"}}),
      server);
  absl::Status gone = Until(server, false);
  EXPECT_EQ(gone.code(), absl::StatusCode::kPermissionDenied) << gone;
  EXPECT_TRUE(Logged(server, "also changes maxBatchEvents, which only a restart takes"))
      << server.Log();
  // The reload says the key file cannot be used (it was silent: outside
  // probe), and says it again at the next one, though nothing changed.
  const std::string unusable = "JWKS document is not a JSON object";
  ASSERT_TRUE(Logged(server, unusable)) << server.Log();
  EXPECT_TRUE(Logged(server, "key(s) read before are kept until it holds a usable key"))
      << server.Log();
  Reload(
      absl::StrReplaceAll(without, {{"\"security\": {", "\"maxBatchEvents\": 7, \"security\": {"}}),
      server);
  bool said_again = false;
  for (int i = 0; i < 40 && !said_again; ++i) {
    const std::string log = server.Log();
    const size_t first = log.find(unusable);
    said_again = first != std::string::npos && log.find(unusable, first + 1) != std::string::npos;
    if (!said_again) absl::SleepFor(absl::Milliseconds(250));
  }
  EXPECT_TRUE(said_again) << server.Log();

  // Still serving, and stops as ever.
  server.Signal(SIGTERM);
  const int status = server.Wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << server.Log();
}

// An auditor's replay that is under way when the auditor is removed: it
// stops at the next event, is told why, and is on the record as withdrawn
// with exactly the events it was sent.
TEST_F(ConfigReloadTest, AReplayUnderWayEndsAtItsNextEventWhenItsGrantIsWithdrawn) {
  const std::string before =
      absl::StrReplaceAll(full_, {{R"("roles": ["admin"]})", R"("roles": ["admin", "auditor"]})"}});
  ASSERT_TRUE(absl::StrContains(before, R"("roles": ["admin", "auditor"]})")) << before;
  testing::WriteFile(config_, before);
  ChildServer server(dir_, 0, {"--config=" + config_, "--metrics_listen=off", "--demo"});
  server.Start();

  // A channel whose window is small, so that the server waits on the
  // client's reading after the first few messages.
  auto channel = testing::SmallWindowChannel(server.address(), certs_, "auditor");
  grpc::ClientContext context;
  context.set_deadline(DeadlineAfter(absl::Seconds(60)));
  auto replay = v1::Audit::NewStub(channel)->Replay(&context, v1::ReplayRequest());
  v1::ReplayResponse message;
  ASSERT_TRUE(replay->Read(&message)) << replay->Finish().error_message();
  const uint64_t last = message.last_position();
  uint64_t received = message.events_size();
  Reload(absl::StrReplaceAll(before, {{kAuditor, ""}}), server);
  ASSERT_TRUE(Logged(server, "1 open stream(s) ended")) << server.Log();
  while (replay->Read(&message)) received += message.events_size();
  grpc::Status status = replay->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
  EXPECT_GT(received, 0u);
  EXPECT_LT(received, last) << "the whole log was replayed";

  // On the record: withdrawn, with what it was sent.
  auto admin = clients::Dial(As(server, "admin"));
  ASSERT_TRUE(admin.ok()) << admin.status();
  grpc::ClientContext read_context;
  v1::ReadStreamRequest read;
  read.set_stream_id("access-auditor");
  auto records = v1::EventLog::NewStub(*admin)->ReadStream(&read_context, read);
  std::vector<std::string> ends;
  v1::ReadResponse page;
  while (records->Read(&page)) {
    for (const v1::RecordedEvent& e : page.events()) {
      const v1::AccessRecorded& a = e.event().payload().access_recorded();
      if (a.method() == "evenhand.v1.Audit/Replay" && a.outcome() != "opened") {
        ends.push_back(absl::StrCat(a.outcome(), " ", a.events_returned()));
      }
    }
  }
  ASSERT_TRUE(records->Finish().ok());
  EXPECT_EQ(ends, (std::vector<std::string>{absl::StrCat("withdrawn ", received)}));
}

}  // namespace
}  // namespace evenhand
