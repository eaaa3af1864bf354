// The trust boundary's limits and records, tried from outside
// (tests/server/security_fixture.h): each audited read on the record and
// covered by a checkpoint, per-principal limits on subscriptions and
// exports, a read refused when its record cannot be written, and backups
// kept to admins and to the backup folder.
#include <atomic>
#include <thread>

#include "absl/synchronization/notification.h"
#include "base/error_details.h"
#include "base/grpc_deadline.h"
#include "google/protobuf/unknown_field_set.h"
#include "grpcpp/generic/generic_stub.h"
#include "tests/server/security_fixture.h"
#include "tests/testing/health.h"

namespace evenhand::security_testing {
namespace {

// A read's request is on its record whole: prefixes that match nothing
// no longer push what it asked for out of the record (found from outside:
// the record was cut at 2,000 bytes, and a replay padded past them was
// recorded without its filter). One too long to record is refused.
TEST_F(SecurityTest, AReadsRequestIsOnItsRecordWholeOrTheReadIsRefused) {
  v1::ReplayRequest padded;
  for (int i = 0; i < 63; ++i) {
    padded.mutable_filter()->add_stream_prefixes(absl::StrCat("zz", i, "-", std::string(25, 'q')));
  }
  padded.mutable_filter()->add_stream_prefixes(LabourBriefing());
  const std::string who = "auditor";
  const size_t before = AccessRecords(who).size();
  absl::Status s = Audit(As(who)).Replay(
      padded, [](const v1::AuditedEvent&) { return true; }, [](uint64_t, uint64_t) {});
  EXPECT_TRUE(s.ok()) << s;
  std::vector<v1::RecordedEvent> records = AccessRecords(who);
  bool whole = false;
  for (size_t i = before; i < records.size(); ++i) {
    const auto& a = records[i].event().payload().access_recorded();
    // (AccessRecords' own replays ask for one stream.)
    if (a.method() != "evenhand.v1.Audit/Replay" || a.request().size() < 2000) continue;
    whole |= absl::StrContains(a.request(), absl::StrCat("stream_prefixes: \"", LabourBriefing()));
  }
  EXPECT_TRUE(whole) << "the replay's record lacks what it asked for";

  // Past what a record holds whole: refused, naming the field, and the
  // refusal is on the record.
  v1::ReplayRequest too_long;
  for (int i = 0; i < 40; ++i) {
    too_long.mutable_filter()->add_stream_prefixes(absl::StrCat(i, std::string(500, 'p')));
  }
  const size_t before_refusal = AccessRecords(who).size();
  s = Audit(As(who)).Replay(
      too_long, [](const v1::AuditedEvent&) { return true; }, [](uint64_t, uint64_t) {});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(std::string(s.message()),
              ::testing::AllOf(::testing::StartsWith("filter: the request is too long to put on "
                                                     "the record whole"),
                               ::testing::HasSubstr("over the 16384 an access record holds")));
  EXPECT_EQ(ReasonOf(s), "REQUEST_TOO_LONG_TO_RECORD");
  records = AccessRecords(who);
  bool refused = false;
  for (size_t i = before_refusal; i < records.size(); ++i) {
    const auto& a = records[i].event().payload().access_recorded();
    refused |= a.method() == "evenhand.v1.Audit/Replay" &&
               absl::StartsWith(a.outcome(), "denied: filter: the request is too long");
  }
  EXPECT_TRUE(refused);

  // Made long by a field this server does not know: named so, not as the
  // largest field it knows (found from outside).
  v1::ReplayRequest unknown;
  unknown.mutable_filter()->set_stream_id(LabourBriefing());
  unknown.GetReflection()->MutableUnknownFields(&unknown)->AddLengthDelimited(
      99, std::string(17000, 'u'));
  s = Audit(As(who)).Replay(
      unknown, [](const v1::AuditedEvent&) { return true; }, [](uint64_t, uint64_t) {});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_TRUE(absl::StartsWith(s.message(),
                               "(fields this server does not know): the request "
                               "is too long"))
      << s;
}

// The server's peak memory so far (VmHWM).
uint64_t PeakBytes(int pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return uint64_t{std::stoull(line.substr(6))} << 10;
  }
  return uint64_t{0};
}

// Calls `method` with a request whose field 1 (a stream id, a health
// check's service name) holds `size` bytes, and returns how it ended.
grpc::Status SendLarge(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                       size_t size) {
  std::string bytes = "\x0a";
  for (size_t n = size; n != 0; n >>= 7) {
    bytes.push_back(static_cast<char>((n & 0x7f) | (n >> 7 ? 0x80 : 0)));
  }
  bytes.append(size, 'a');
  grpc::GenericStub generic(channel);
  grpc::ClientContext context;
  context.set_deadline(DeadlineAfter(absl::Seconds(60)));
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request(&slice, 1), reply;
  grpc::Status s;
  absl::Notification done;
  generic.UnaryCall(&context, method, grpc::StubOptions(), &request, &reply,
                    [&](grpc::Status status) {
                      s = std::move(status);
                      done.Notify();
                    });
  done.WaitForNotification();
  return s;
}

// A caller without credentials is refused on its request's headers, before
// the request is read (found from outside: eight such callers sending 60 MiB
// each took the server from 284 MB to 1.9 GB), health checks included (gRPC
// reads theirs whole too); a caller with a certificate gets its health.
TEST_F(SecurityTest, ACallerWithoutCredentialsIsRefusedBeforeItsRequestIsRead) {
  auto peak_bytes = [&] { return PeakBytes(server_->pid()); };
  const uint64_t before = peak_bytes();
  ASSERT_GT(before, 0u);
  std::shared_ptr<grpc::Channel> channel = Dial(As(""));  // the CA only
  std::atomic<int> refused{0};
  std::vector<std::thread> senders;
  constexpr size_t kEach = 40 << 20;
  for (const std::string method :
       {"/evenhand.v1.EventLog/Append", "/grpc.health.v1.Health/Check"}) {
    for (int i = 0; i < 2; ++i) {
      senders.emplace_back([&, method] {
        const grpc::Status s = SendLarge(channel, method, kEach);
        refused +=
            s.error_code() == grpc::StatusCode::UNAUTHENTICATED &&
            absl::StrContains(s.error_message(), "no client certificate and no bearer token");
      });
    }
  }
  for (std::thread& t : senders) t.join();
  EXPECT_EQ(refused.load(), 4);
  // Read, the four would have taken 160 MiB at once.
  EXPECT_LT(peak_bytes() - before, kEach * 2) << "peak before " << before;
  EXPECT_TRUE(absl::StrContains(server_->Log(), "on its headers, before its request was read"))
      << server_->Log();
  EXPECT_EQ(testing::CheckHealth(channel), testing::Health::kFailed);
  EXPECT_EQ(testing::CheckHealth(Dial(As("monitoring"))), testing::Health::kServing);
  EXPECT_EQ(testing::CheckHealth(Dial(As("labour"))), testing::Health::kServing);
}

// A caller who authenticates but none of whose roles may call the method is
// refused on its headers too (found from outside: a valid token of a person
// with no role, sending eight 60 MiB appends, took the server to 0.7 GB),
// with the message the call gate gives, and the refusal is on the record.
TEST_F(SecurityTest, ACallerWhoseRolesCannotCallTheMethodIsRefusedBeforeItsRequestIsRead) {
  auto peak_bytes = [&] { return PeakBytes(server_->pid()); };
  const uint64_t before = peak_bytes();
  ASSERT_GT(before, 0u);
  // A token that maps to no role, appending; a group's certificate, which
  // may read but not export.
  const std::string nobody = absl::StrCat("nobody.big-", NewUuid().substr(0, 8));
  std::shared_ptr<grpc::Channel> roleless = Dial(As("", Token(nobody, "no-such-group")));
  std::shared_ptr<grpc::Channel> labour = Dial(As("labour"));
  std::atomic<int> refused{0};
  std::vector<std::thread> senders;
  constexpr size_t kEach = 40 << 20;
  for (const auto& [channel, method, says] :
       std::vector<std::tuple<std::shared_ptr<grpc::Channel>, std::string, std::string>>{
           {roleless, "/evenhand.v1.EventLog/Append", "it has no role"},
           {labour, "/evenhand.v1.Audit/Export", "it needs the role auditor"}}) {
    for (int i = 0; i < 2; ++i) {
      senders.emplace_back([&, channel = channel, method = method, says = says] {
        const grpc::Status s = SendLarge(channel, method, kEach);
        const bool as_said = s.error_code() == grpc::StatusCode::PERMISSION_DENIED &&
                             absl::StrContains(s.error_message(), says);
        EXPECT_TRUE(as_said) << method << ": " << s.error_code() << " " << s.error_message();
        refused += as_said;
      });
    }
  }
  for (std::thread& t : senders) t.join();
  EXPECT_EQ(refused.load(), 4);
  // Read, the four would have taken 160 MiB at once.
  EXPECT_LT(peak_bytes() - before, kEach * 2) << "peak before " << before;
  // On the record, saying the request was not read: the roleless caller's
  // first refusal of the minute, the group's refusal of Export.
  for (const auto& [principal, method] : std::vector<std::pair<std::string, std::string>>{
           {nobody, "evenhand.v1.EventLog/Append"}, {"labour-group", "evenhand.v1.Audit/Export"}}) {
    auto refusal = [method = method](const v1::AccessRecorded& a) {
      return a.method() == method && absl::StartsWith(a.outcome(), "denied: ") &&
             a.request() == "(not read: refused on its headers)";
    };
    size_t found = 0;
    for (const v1::RecordedEvent& r : AccessRecordsOnce(principal, 1, refusal)) {
      found += refusal(r.event().payload().access_recorded());
    }
    EXPECT_EQ(found, 1u) << principal << " " << method;
  }
  // What its roles allow, it still may: labour reads its briefing's case.
  v1::ReadStreamRequest read;
  read.set_stream_id(LabourBriefing());
  size_t events = 0;
  const absl::Status s = Log(As("labour")).ReadStream(read, [&](const v1::RecordedEvent&) {
    ++events;
    return true;
  });
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_GT(events, 0u);
}

TEST_F(SecurityTest, EachAuditedReadIsInTheLogCoveredByACheckpoint) {
  v1::ReplayRequest request;
  request.mutable_filter()->set_stream_id(LabourBriefing());
  const std::string who = "auditor";
  uint64_t before = AccessRecords(who).size();
  ASSERT_TRUE(
      Audit(As(who))
          .Replay(
              request, [](const v1::AuditedEvent&) { return true; }, [](uint64_t, uint64_t) {})
          .ok());
  // Opened, completed (4 events), plus AccessRecords' own reads.
  std::vector<v1::RecordedEvent> records = AccessRecords(who);
  ASSERT_GE(records.size(), before + 2);
  const v1::RecordedEvent* completed = nullptr;
  for (const auto& r : records) {
    const auto& a = r.event().payload().access_recorded();
    if (a.method() == "evenhand.v1.Audit/Replay" && a.outcome() == "completed" &&
        a.events_returned() == 4 && absl::StrContains(a.request(), LabourBriefing())) {
      completed = &r;
    }
  }
  ASSERT_NE(completed, nullptr);
  EXPECT_EQ(completed->event().stream_id(), "access-auditor");
  EXPECT_EQ(completed->event().source_system(), "evenhandd");
  // A signed checkpoint covers it, and its inclusion proof verifies.
  clients::AuditClient audit = Audit(As("monitoring"));
  absl::StatusOr<v1::SignedCheckpoint> checkpoint;
  for (int i = 0; i < 200; ++i) {
    checkpoint = audit.GetCheckpoint(0);
    ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
    if (checkpoint->checkpoint().tree_size() >= completed->position()) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  const uint64_t n = checkpoint->checkpoint().tree_size();
  ASSERT_GE(n, completed->position());
  auto proof = audit.GetInclusionProof(completed->position(), n);
  ASSERT_TRUE(proof.ok()) << proof.status();
  auto leaf = integrity::LeafHash(*integrity::CanonicalRecord(*completed));
  std::vector<std::string> path(proof->hashes().begin(), proof->hashes().end());
  EXPECT_TRUE(integrity::VerifyInclusion(completed->position() - 1, n, leaf, path,
                                         checkpoint->checkpoint().root_hash())
                  .ok());
}

TEST_F(SecurityTest, SubscriptionsAndExportsAreLimitedPerPrincipal) {
  auto stub = v1::EventLog::NewStub(Dial(As("auditor")));
  v1::SubscribeRequest request;
  request.set_from_end(true);
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<v1::SubscribeResponse>>> open;
  for (int i = 0; i < 2; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    open.push_back(stub->Subscribe(contexts.back().get(), request));
    v1::SubscribeResponse first;
    ASSERT_TRUE(open.back()->Read(&first)) << "subscription " << i << " did not start";
  }
  grpc::ClientContext third_context;
  auto third = stub->Subscribe(&third_context, request);
  v1::SubscribeResponse message;
  EXPECT_FALSE(third->Read(&message));
  grpc::Status s = third->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
  EXPECT_TRUE(absl::StrContains(s.error_message(), "security.limits.maxSubscriptions"))
      << s.error_message();
  // The principal's limit refused it: on the record as denied, as the other
  // per-principal limits' refusals are (docs/SECURITY.md).
  // Whether the auditor's records hold a refusal of `method` naming `limit`.
  auto denied_on_record = [&](const std::string& method, const std::string& limit) {
    for (const auto& r : AccessRecords("auditor")) {
      const auto& a = r.event().payload().access_recorded();
      if (a.method() == method && absl::StartsWith(a.outcome(), "denied: ") &&
          absl::StrContains(a.outcome(), limit)) {
        return true;
      }
    }
    return false;
  };
  EXPECT_TRUE(
      denied_on_record("evenhand.v1.EventLog/Subscribe", "security.limits.maxSubscriptions"));
  // Another principal has its own allowance.
  auto other = v1::EventLog::NewStub(Dial(As("", Token("a.patel", "internal-audit"))));
  grpc::ClientContext other_context;
  auto fine = other->Subscribe(&other_context, request);
  EXPECT_TRUE(fine->Read(&message));
  other_context.TryCancel();
  (void)fine->Finish();
  for (auto& c : contexts) c->TryCancel();
  for (auto& r : open) (void)r->Finish();

  v1::ExportRequest everything;
  auto bundle = Audit(As("auditor")).Export(everything);
  EXPECT_EQ(bundle.status().code(), absl::StatusCode::kResourceExhausted) << bundle.status();
  EXPECT_TRUE(absl::StrContains(bundle.status().message(), "more than 50 events"))
      << bundle.status();
  // On the record as denied too (it was not: outside probe).
  EXPECT_TRUE(denied_on_record("evenhand.v1.Audit/Export", "security.limits.maxExportEvents"));
}

// A second server whose disk is "full" for its own records: its free-space
// floor is set beyond any disk, so neither appends nor access records can
// be written, and every audited read must be refused.
TEST_F(SecurityTest, AReadWhoseAccessRecordCannotBeWrittenIsRefused) {
  TempDir dir;
  std::string config = ReadFile(certs_ + "/evenhandd.tls.json");
  config = absl::StrReplaceAll(config, {{"\"security\": {",
                                         "\"minFreeDiskMib\": 4000000000,\n  "
                                         "\"security\": {\"limits\": {\"requestsPerSecond\": 1, "
                                         "\"burst\": 30},"}});
  const std::string path = dir.Sub("full.json");
  std::ofstream(path) << config;
  ChildServer full(dir, 0, {absl::StrCat("--config=", path)});
  full.Start();
  clients::Connection c = As("auditor");
  c.address = full.address();
  v1::ReplayRequest request;
  absl::Status s = Audit(c).Replay(
      request, [](const v1::AuditedEvent&) { return true; }, [](uint64_t, uint64_t) {});
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "access record could not be made durable")) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "reads that are recorded are refused until space"))
      << s;
  EXPECT_FALSE(absl::StrContains(s.message(), "reads continue")) << s;
  c = As("committee");
  c.address = full.address();
  EXPECT_EQ(Fairness(c).GetReport(v1::ReportRequest()).status().code(),
            absl::StatusCode::kUnavailable);
  // Monitoring, which is not a recorded read, still works: it says why.
  c = As("monitoring");
  c.address = full.address();
  auto status = Log(c).GetStatus();
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_FALSE(status->accepting_appends());
  // Limits per principal: past its burst, a precise RESOURCE_EXHAUSTED.
  absl::Status limited;
  for (int i = 0; i < 40 && limited.ok(); ++i) limited = Log(c).GetStatus().status();
  EXPECT_EQ(limited.code(), absl::StatusCode::kResourceExhausted) << limited;
  EXPECT_TRUE(absl::StrContains(limited.message(), "requestsPerSecond")) << limited;
}

TEST_F(SecurityTest, BackupsAreForAdminsAndStayInTheBackupFolder) {
  namespace fs = std::filesystem;
  auto backup = [&](const std::string& who, const std::string& to) {
    auto stub = v1::Operations::NewStub(Dial(As(who)));
    grpc::ClientContext context;
    v1::BackupRequest request;
    request.set_to(to);
    v1::BackupInfo info;
    return stub->Backup(&context, request, &info);
  };
  // Only an admin may copy the whole log out.
  for (const char* who : {"auditor", "committee", "monitoring", "case-system"}) {
    grpc::Status s = backup(who, "");
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << who;
    EXPECT_THAT(s.error_message(), ::testing::HasSubstr("needs the role admin")) << who;
  }
  // With TLS, not even an admin can make the server write elsewhere.
  grpc::Status outside = backup("admin", dir_->Sub("elsewhere"));
  EXPECT_EQ(outside.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(outside.error_message(), ::testing::HasSubstr("outside the server's backup folder"));
  EXPECT_FALSE(fs::exists(dir_->Sub("elsewhere")));
  // Into its backup folder (the default) it may, and the backup is on the
  // record.
  grpc::Status ok = backup("admin", "");
  EXPECT_TRUE(ok.ok()) << ok.error_message();
  bool recorded = false, refused = false;  // the backup, and the one outside on the record
  for (const auto& r : AccessRecords("admin")) {
    const auto& a = r.event().payload().access_recorded();
    recorded |=
        a.method() == "evenhand.v1.Operations/Backup" && absl::StartsWith(a.outcome(), "backup to");
    refused |= absl::StartsWith(a.outcome(), "denied: ") &&
               absl::StrContains(a.outcome(), "outside the server's");
  }
  EXPECT_TRUE(recorded && refused) << recorded << " " << refused;
}

}  // namespace
}  // namespace evenhand::security_testing
