// The Audit service end to end: replay filters, proofs checked with the
// offline verifiers, checkpoints, export.
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "base/error_details.h"
#include "clients/audit_client.h"
#include "clients/event_log_client.h"
#include "evenhand/v1/audit.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "integrity/bundle.h"
#include "integrity/merkle.h"
#include "integrity/signing.h"
#include "tests/testing/events.h"
#include "tests/testing/server_fixture.h"
#include "tests/testing/status_matchers.h"

namespace evenhand {
namespace {

using ::evenhand::testing::StatusIs;
using ::evenhand::testing::ToProtoTime;
using ::testing::AllOf;
using ::testing::HasSubstr;

class AuditServiceTest : public testing::ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    domain_validation_ = true;
    seed_demo_ = true;
    StartServer();
    audit_ = clients::AuditClient::Connect(server_->address());
  }

  std::vector<v1::AuditedEvent> Replay(const v1::ReplayFilter& filter,
                                       std::vector<uint64_t>* progress = nullptr) {
    v1::ReplayRequest r;
    *r.mutable_filter() = filter;
    std::vector<v1::AuditedEvent> out;
    EXPECT_OK(audit_->Replay(
        r,
        [&](const v1::AuditedEvent& e) {
          out.push_back(e);
          return true;
        },
        [&](uint64_t scanned, uint64_t) {
          if (progress != nullptr) progress->push_back(scanned);
        }));
    return out;
  }

  // Until the projection has folded the whole log (who was in which group
  // when is the projection's).
  void WaitUntilFolded() {
    for (int i = 0; i < 1200; ++i) {
      auto status = client_->GetStatus();
      ASSERT_OK(status);
      if (status->projection_position() >= status->last_position()) return;
      absl::SleepFor(absl::Milliseconds(50));
    }
    FAIL() << "the projection did not catch up";
  }

  std::unique_ptr<clients::AuditClient> audit_;
};

TEST_F(AuditServiceTest, ReplayOfACaseGivesItsEventsWithTheirHashes) {
  v1::ReplayFilter f;
  f.set_stream_id("briefing-B-LP-1");
  std::vector<v1::AuditedEvent> events = Replay(f);
  ASSERT_GE(events.size(), 3u);
  for (const auto& e : events) {
    EXPECT_EQ(e.event().event().stream_id(), "briefing-B-LP-1");
    EXPECT_EQ(e.leaf_hash().size(), 32u);
    auto proof = audit_->GetInclusionProof(e.event().position(), 0);
    ASSERT_OK(proof);
    EXPECT_EQ(proof->leaf_hash(), e.leaf_hash());
  }
}

// A case's events of one type: every condition set holds, the case's too
// (its types and prefixes were dropped when a case was named: an outside
// probe's export claimed a selection it did not hold).
TEST_F(AuditServiceTest, ACasesEventsAreFilteredByTypeAndPrefixToo) {
  v1::ReplayFilter f;
  f.set_stream_id("briefing-B-LP-1");
  const std::vector<v1::AuditedEvent> all = Replay(f);
  ASSERT_GE(all.size(), 3u);
  const std::string first_type = all[0].event().event().type();
  f.add_event_types(first_type);
  const std::vector<v1::AuditedEvent> of_type = Replay(f);
  ASSERT_FALSE(of_type.empty());
  EXPECT_LT(of_type.size(), all.size());
  for (const auto& e : of_type) EXPECT_EQ(e.event().event().type(), first_type);
  f.clear_event_types();
  f.add_event_types("WrittenQueryReceived");
  EXPECT_TRUE(Replay(f).empty());
  f.clear_event_types();
  f.add_stream_prefixes("query-");
  EXPECT_TRUE(Replay(f).empty());
  f.clear_stream_prefixes();
  f.add_stream_prefixes("briefing-");
  EXPECT_EQ(Replay(f).size(), all.size());
}

TEST_F(AuditServiceTest, ReplayFiltersByGroupOfficerTypeAndTime) {
  v1::ReplayFilter f;
  f.set_officer_id("o-hos-housing");
  f.add_event_types("MemberParticipatedInDecision");
  std::vector<v1::AuditedEvent> decisions = Replay(f);
  ASSERT_EQ(decisions.size(), 1u);
  EXPECT_EQ(decisions[0].event().event().payload().member_participated_in_decision().decision_id(),
            "D-REGRADE-1");
  f.Clear();
  f.set_group_id("libdem");
  *f.mutable_occurred_from() = ToProtoTime(absl::Now() - absl::Hours(24 * 30));
  for (const auto& e : Replay(f)) {
    EXPECT_GE(e.event().event().occurred_at().seconds(), f.occurred_from().seconds());
  }
}

// A group's councillors' written queries and complaints name the
// councillor, not the group: they concern the group while the councillor
// is in it (found from outside: `replay --group=green` and `export` left
// out the queries behind Green's own findings).
TEST_F(AuditServiceTest, AGroupsCouncillorsQueriesConcernTheGroupWhileTheyAreInIt) {
  // Who was in which group is the projection's: the replay waits for it
  // (AReplayByGroupWaitsForThoseWhoWereInTheGroup); here, the tests' own.
  ASSERT_NO_FATAL_FAILURE(WaitUntilFolded());
  v1::ReplayFilter f;
  f.set_group_id("green");
  f.add_event_types("WrittenQueryReceived");
  const std::vector<v1::AuditedEvent> green = Replay(f);
  ASSERT_FALSE(green.empty());
  for (const auto& e : green) {
    EXPECT_THAT(e.event().event().payload().written_query_received().member_id(),
                ::testing::StartsWith("green-"));
  }
  f.set_group_id("labour");
  for (const auto& e : Replay(f)) {
    EXPECT_THAT(e.event().event().payload().written_query_received().member_id(),
                ::testing::StartsWith("labour-"));
  }
  f.set_group_id("green");
  f.clear_event_types();
  f.add_event_types("ComplaintRaised");
  EXPECT_FALSE(Replay(f).empty()) << "Green's councillors' complaints";

  // green-1 crosses the floor to Labour, then asks a question: Labour's.
  auto event = [](const std::string& type, absl::Time at) {
    v1::Event e;
    e.set_event_id(NewUuid());
    e.set_type(type);
    e.set_source_system("test");
    *e.mutable_occurred_at() = ToProtoTime(at);
    return e;
  };
  const absl::Time crossed = absl::Now() - absl::Hours(2);
  v1::AppendRequest moves;
  moves.set_stream_id("member-green-1");
  v1::Event left = event("MemberLeftGroup", crossed);
  left.mutable_payload()->mutable_member_left_group()->set_member_id("green-1");
  left.mutable_payload()->mutable_member_left_group()->set_group_id("green");
  v1::Event joined = event("MemberJoinedGroup", crossed);
  joined.mutable_payload()->mutable_member_joined_group()->set_member_id("green-1");
  joined.mutable_payload()->mutable_member_joined_group()->set_group_id("labour");
  *moves.add_events() = left;
  *moves.add_events() = joined;
  ASSERT_OK(client_->Append(moves));
  v1::AppendRequest asked;
  asked.set_stream_id("query-Q-CROSSED-1");
  v1::Event query = event("WrittenQueryReceived", crossed + absl::Hours(1));
  auto* q = query.mutable_payload()->mutable_written_query_received();
  q->set_query_id("Q-CROSSED-1");
  q->set_member_id("green-1");
  q->set_addressed_to_officer_id("o-hos-housing");
  q->set_subject("Bus lanes");
  q->set_channel("email");
  *asked.add_events() = query;
  ASSERT_OK(client_->Append(asked));
  ASSERT_NO_FATAL_FAILURE(WaitUntilFolded());
  f.clear_event_types();
  f.set_stream_id("query-Q-CROSSED-1");
  EXPECT_TRUE(Replay(f).empty()) << "a Labour councillor's query replayed as Green's";
  f.set_group_id("labour");
  EXPECT_EQ(Replay(f).size(), 1u);
  // What green-1 asked while in Green stays Green's.
  f.clear_stream_id();
  f.set_group_id("green");
  f.set_member_id("green-1");
  f.add_event_types("WrittenQueryReceived");
  const std::vector<v1::AuditedEvent> before = Replay(f);
  EXPECT_FALSE(before.empty());
  for (const auto& e : before) {
    EXPECT_LT(e.event().event().occurred_at().seconds(), absl::ToUnixSeconds(crossed));
  }
}

// Who was in a group when is the projection's, and a replay by group waits
// for it to know the log it reads (found by reading: right after a restart,
// while the projection read its checkpoint, `replay --group` left out every
// councillor's written query); if it does not by the report wait, the
// replay is refused, not answered short.
TEST_F(AuditServiceTest, AReplayByGroupWaitsForThoseWhoWereInTheGroup) {
  ASSERT_NO_FATAL_FAILURE(WaitUntilFolded());
  v1::ReplayFilter f;
  f.set_group_id("green");
  f.add_event_types("WrittenQueryReceived");
  const size_t queries = Replay(f).size();
  ASSERT_GT(queries, 0u);

  // A restart whose projection is held reading its checkpoint.
  auto release = std::make_shared<absl::Notification>();
  customize_ = [release](server::ServerOptions& options) {
    options.TEST_before_load = [release] {
      release->WaitForNotificationWithTimeout(absl::Seconds(30));
    };
  };
  v1::ServerConfig config;
  config.mutable_fairness()->set_report_wait_seconds(1);
  StartServer(config);
  audit_ = clients::AuditClient::Connect(server_->address());
  v1::ReplayRequest request;
  *request.mutable_filter() = f;
  const absl::Status refused = audit_->Replay(
      request, [](const v1::AuditedEvent&) { return true; }, [](uint64_t, uint64_t) {});
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kUnavailable,
                                AllOf(HasSubstr("who was in group \"green\" when"),
                                      HasSubstr("reading its checkpoint after a restart"))));
  EXPECT_EQ(ReasonOf(refused), "PROJECTION_CATCHING_UP");
  // Released within the wait: the replay waits, and has every query.
  std::thread releaser([release] {
    absl::SleepFor(absl::Milliseconds(300));
    release->Notify();
  });
  EXPECT_EQ(Replay(f).size(), queries);
  releaser.join();
}

// ... and waits no longer than its caller: a replay by group whose caller's
// deadline passes while the projection reads its checkpoint ends then, on
// the record as cancelled, instead of waiting the whole report wait for a
// caller already gone (found by reading: it was given no deadline).
TEST_F(AuditServiceTest, AReplayByGroupWaitsForTheProjectionNoLongerThanItsCaller) {
  ASSERT_NO_FATAL_FAILURE(WaitUntilFolded());
  auto release = std::make_shared<absl::Notification>();
  customize_ = [release](server::ServerOptions& options) {
    options.TEST_before_load = [release] {
      release->WaitForNotificationWithTimeout(absl::Seconds(60));
    };
  };
  v1::ServerConfig config;
  config.mutable_fairness()->set_report_wait_seconds(120);
  record_reads_ = true;
  StartServer(config);
  auto stub = v1::Audit::NewStub(
      grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials()));
  auto replays_ended = [&] {
    size_t ended = 0;
    v1::ReadStreamRequest read;
    read.set_stream_id("access-local");
    EXPECT_OK(client_->ReadStream(read, [&](const v1::RecordedEvent& e) {
      const v1::AccessRecorded& a = e.event().payload().access_recorded();
      ended += a.method() == "evenhand.v1.Audit/Replay" && a.outcome() == "cancelled";
      return true;
    }));
    return ended;
  };
  const size_t ended_before = replays_ended();
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Milliseconds(500)));
  v1::ReplayRequest request;
  request.mutable_filter()->set_group_id("green");
  std::unique_ptr<grpc::ClientReader<v1::ReplayResponse>> reader = stub->Replay(&context, request);
  v1::ReplayResponse response;
  while (reader->Read(&response)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  // Its end on the record while the projection is still held (it waited
  // until the release before: a minute here).
  bool ended = false;
  for (int i = 0; i < 200 && !ended; ++i) {
    ended = replays_ended() > ended_before;
    if (!ended) absl::SleepFor(absl::Milliseconds(100));
  }
  release->Notify();
  EXPECT_TRUE(ended) << "the replay went on waiting after its caller's deadline";
}

TEST_F(AuditServiceTest, ALongReplayReportsItsProgress) {
  v1::ReplayFilter f;
  f.set_actor("nobody-at-all");  // scans everything, matches nothing
  std::vector<uint64_t> progress;
  EXPECT_TRUE(Replay(f, &progress).empty());
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.back(), server_->LastPosition());
}

TEST_F(AuditServiceTest, AFilterNamingWhatTheLogDoesNotHaveIsRefusedNotEmpty) {
  // Each would match nothing and read as "nothing happened".
  struct Case {
    std::function<void(v1::ReplayFilter*)> set;
    std::string field, says;
  };
  const std::vector<Case> cases = {
      {[](v1::ReplayFilter* f) { f->add_event_types("BriefingRequestd"); }, "event_types",
       "did you mean \"BriefingRequested\""},
      {[](v1::ReplayFilter* f) { f->set_group_id("greens"); }, "group_id",
       "did you mean \"green\""},
      {[](v1::ReplayFilter* f) { f->set_officer_id("nobody"); }, "officer_id",
       "no officer \"nobody\" is registered"},
      {[](v1::ReplayFilter* f) { f->set_member_id("nobody"); }, "member_id",
       "no councillor \"nobody\" is registered"},
  };
  for (const Case& c : cases) {
    v1::ReplayRequest r;
    c.set(r.mutable_filter());
    absl::Status s = audit_->Replay(
        r, [](const v1::AuditedEvent&) { return true; }, [](uint64_t, uint64_t) {});
    EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument,
                            AllOf(HasSubstr(absl::StrCat("filter.", c.field)), HasSubstr(c.says))))
        << c.field;
  }
  // The same type typo on a read of the whole log and on a subscription.
  auto log = clients::EventLogClient::Connect(server_->address());
  v1::ReadAllRequest read;
  read.mutable_filter()->add_event_types("BriefingRequestd");
  EXPECT_THAT(log->ReadAll(read, [](const v1::RecordedEvent&) { return true; }),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("filter.event_types")));
  v1::SubscribeRequest subscribe;
  subscribe.set_from_position(1);
  subscribe.mutable_filter()->add_event_types("BriefingRequestd");
  EXPECT_THAT(log->Subscribe(subscribe, [](const v1::SubscribeResponse&) { return false; }),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("filter.event_types")));
}

TEST_F(AuditServiceTest, ProofsVerifyAgainstTheSignedCheckpoint) {
  auto key = audit_->GetPublicKey();
  ASSERT_OK(key);
  // The latest, signed for the whole log (within a second of the last
  // signing the server returns that one as it is).
  auto first = audit_->GetCheckpoint(0);
  for (int i = 0; i < 100 && first.ok() &&
                  first->checkpoint().tree_size() != server_->LastPosition();
       ++i) {
    absl::SleepFor(absl::Milliseconds(100));
    first = audit_->GetCheckpoint(0);
  }
  ASSERT_OK(first);
  ASSERT_OK(integrity::VerifyCheckpoint(*first, *key));
  const uint64_t n = first->checkpoint().tree_size();
  EXPECT_EQ(n, server_->LastPosition());
  for (uint64_t p : {uint64_t{1}, n / 2, n}) {
    auto proof = audit_->GetInclusionProof(p, n);
    ASSERT_OK(proof);
    std::vector<std::string> path(proof->hashes().begin(), proof->hashes().end());
    EXPECT_OK(integrity::VerifyInclusion(p - 1, n, proof->leaf_hash(), path,
                                         first->checkpoint().root_hash()));
  }
  // The log grows; the old checkpoint's tree is a prefix of the new one.
  v1::Payload member;
  member.mutable_member_registered()->set_member_id("m-audit");
  member.mutable_member_registered()->set_name("Cllr Audit");
  v1::AppendRequest r;
  r.set_stream_id("member-m-audit");
  *r.add_events() = clients::NewEvent(member, "test", absl::Now());
  ASSERT_OK(client_->Append(r));
  // Asked for the latest, the server signs the grown tree, at most once a
  // second (until then the latest is returned as it is).
  auto second = audit_->GetCheckpoint(0);
  for (int i = 0; i < 100 && second.ok() && second->checkpoint().tree_size() == n; ++i) {
    absl::SleepFor(absl::Milliseconds(100));
    second = audit_->GetCheckpoint(0);
  }
  ASSERT_OK(second);
  EXPECT_EQ(second->checkpoint().tree_size(), n + 1);
  auto consistency = audit_->GetConsistencyProof(n, n + 1);
  ASSERT_OK(consistency);
  std::vector<std::string> path(consistency->hashes().begin(), consistency->hashes().end());
  EXPECT_OK(integrity::VerifyConsistency(n, n + 1, first->checkpoint().root_hash(),
                                         second->checkpoint().root_hash(), path));
  // Both checkpoints stay available.
  auto again = audit_->GetCheckpoint(n);
  ASSERT_OK(again);
  EXPECT_EQ(again->signature(), first->signature());
}

TEST_F(AuditServiceTest, ProofsBeyondTheLogAreOutOfRange) {
  const uint64_t n = server_->LastPosition();
  EXPECT_THAT(audit_->GetInclusionProof(n + 1, 0),
              StatusIs(absl::StatusCode::kOutOfRange, HasSubstr("not in the tree")));
  EXPECT_THAT(audit_->GetConsistencyProof(1, n + 5),
              StatusIs(absl::StatusCode::kOutOfRange, HasSubstr("beyond the end of the log")));
  EXPECT_THAT(audit_->GetTreeHead(n + 1), StatusIs(absl::StatusCode::kOutOfRange, HasSubstr("beyond the end of the log")));
  EXPECT_THAT(audit_->GetCheckpoint(3), StatusIs(absl::StatusCode::kNotFound, HasSubstr("no checkpoint was signed at tree size 3")));
}

TEST_F(AuditServiceTest, AnExportedBundleVerifiesWithThePublishedKey) {
  v1::ExportRequest r;
  r.mutable_filter()->set_group_id("green");
  r.mutable_filter()->add_event_types("BriefingDeclined");
  r.set_description("Green Group's declined requests");
  auto bundle = audit_->Export(r);
  ASSERT_OK(bundle);
  auto key = audit_->GetPublicKey();
  ASSERT_OK(key);
  auto report = integrity::VerifyBundle(*bundle, &*key);
  ASSERT_OK(report);
  EXPECT_GE(report->events.size(), 10u);
  EXPECT_THAT(report->selection, HasSubstr("concerning group green"));
}

TEST_F(AuditServiceTest, TheTreeAndKeySurviveARestart) {
  auto key = audit_->GetPublicKey();
  auto head = audit_->GetTreeHead(0);
  ASSERT_OK(key);
  ASSERT_OK(head);
  StartServer();
  audit_ = clients::AuditClient::Connect(server_->address());
  auto key_after = audit_->GetPublicKey();
  auto head_after = audit_->GetTreeHead(head->tree_size());
  ASSERT_OK(key_after);
  ASSERT_OK(head_after);
  EXPECT_EQ(key_after->raw(), key->raw());
  EXPECT_EQ(head_after->root_hash(), head->root_hash());
}

}  // namespace
}  // namespace evenhand
