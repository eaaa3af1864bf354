// The trust boundary, tried from outside (tests/server/security_fixture.h):
// who may call what, publishers held to their lanes, a group's reads of
// its own and others' cases, the committee's and the auditor's reads, and
// credentials that are refused. Each test is one of issue 10's "it must
// show" items; the limits and the access record are in
// security_limits_test.cc.
#include "base/error_details.h"
#include "tests/server/security_fixture.h"

namespace evenhand::security_testing {
namespace {

TEST_F(SecurityTest, APublisherCannotRead) {
  clients::Connection c = As("case-system");
  v1::ReadAllRequest read_all;
  absl::Status s = Log(c).ReadAll(read_all, [](const v1::RecordedEvent&) { return true; });
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "principal \"case-system\"")) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "evenhand.v1.EventLog/ReadAll")) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "needs the role auditor")) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "publisher:case-system")) << s;

  auto report = Fairness(c).GetReport(v1::ReportRequest());
  EXPECT_EQ(report.status().code(), absl::StatusCode::kPermissionDenied) << report.status();
  v1::ExportRequest e;
  e.mutable_filter()->set_stream_id(LabourBriefing());
  EXPECT_EQ(Audit(c).Export(e).status().code(), absl::StatusCode::kPermissionDenied);

  // Its own lane it may write.
  v1::Payload q;
  q.mutable_written_query_received()->set_query_id(absl::StrCat("Q-SEC-", NewUuid().substr(0, 8)));
  q.mutable_written_query_received()->set_member_id("green-2");
  q.mutable_written_query_received()->set_addressed_to_officer_id("o-ceo");
  auto ok = Publish("case-system", "case-system",
                    absl::StrCat("query-", q.written_query_received().query_id()), {q});
  EXPECT_TRUE(ok.ok()) << ok.status();

  // The refusals are on the record (just after they are answered: they
  // were refused on their headers).
  bool found = false;
  for (const auto& r : AccessRecordsOnce("case-system", 1, [](const v1::AccessRecorded& a) {
         return a.method() == "evenhand.v1.EventLog/ReadAll";
       })) {
    const auto& a = r.event().payload().access_recorded();
    found |= a.method() == "evenhand.v1.EventLog/ReadAll" &&
             absl::StartsWith(a.outcome(), "denied: ") &&
             a.authenticated_as() == "certificate case-system.demo.council";
  }
  EXPECT_TRUE(found) << "the refused ReadAll is not in access-case-system";
}

TEST_F(SecurityTest, APublisherCannotAppendOutsideItsLane) {
  v1::Payload q;
  const std::string query_id = absl::StrCat("Q-LANE-", NewUuid().substr(0, 8));
  q.mutable_written_query_received()->set_query_id(query_id);
  q.mutable_written_query_received()->set_member_id("green-2");
  q.mutable_written_query_received()->set_addressed_to_officer_id("o-ceo");
  // Committee management may not write written queries...
  auto s = Publish("committee-mgmt", "committee-mgmt", absl::StrCat("query-", query_id), {q});
  EXPECT_EQ(s.status().code(), absl::StatusCode::kPermissionDenied) << s.status();
  EXPECT_TRUE(absl::StrContains(s.status().message(), "of type WrittenQueryReceived"))
      << s.status();
  EXPECT_TRUE(absl::StrContains(s.status().message(), "security.publishers")) << s.status();
  // Who was refused, for programs (found from outside: no metadata).
  std::optional<google::rpc::ErrorInfo> info = GetErrorInfo(s.status());
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->reason(), "PERMISSION_DENIED");
  EXPECT_EQ(info->metadata().at("principal"), "committee-mgmt");
  // ...nor pose as the case system...
  s = Publish("committee-mgmt", "case-system", absl::StrCat("query-", query_id), {q});
  EXPECT_EQ(s.status().code(), absl::StatusCode::kPermissionDenied) << s.status();
  EXPECT_TRUE(absl::StrContains(s.status().message(), "source_system \"case-system\""))
      << s.status();
  // A value it sends is quoted short and on one line, in the refusal and in
  // the access record of it: it forges no log line and fills no record.
  const std::string forged_line = "x\n2026-01-01T00:00:00.000Z INFO auth: admin signed in";
  s = Publish("committee-mgmt", forged_line + std::string(256 << 10, 'y'),
              absl::StrCat("query-", query_id), {q});
  EXPECT_EQ(s.status().code(), absl::StatusCode::kPermissionDenied) << s.status();
  EXPECT_THAT(std::string(s.status().message()),
              ::testing::AllOf(::testing::HasSubstr("\"x\\n2026-01-01T00:00:00.000Z INFO"),
                               ::testing::HasSubstr("... (262197 bytes)"),
                               ::testing::SizeIs(::testing::Lt(2048))));
  int refusals = 0;
  int appends = 0;
  for (const auto& r : AccessRecords("committee-mgmt")) {
    const v1::AccessRecorded& a = r.event().payload().access_recorded();
    const std::string& outcome = a.outcome();
    EXPECT_LT(outcome.size(), 2048u);
    EXPECT_EQ(outcome.find('\n'), std::string::npos) << outcome;
    refusals += absl::StrContains(outcome, "x\\n2026-01-01");
    // What it sent to be recorded is not recorded by way of the refusal:
    // each event's envelope and type, never its payload.
    if (absl::EndsWith(a.method(), "/Append")) {
      ++appends;
      EXPECT_THAT(a.request(),
                  ::testing::AllOf(::testing::HasSubstr("type: \"WrittenQueryReceived\""),
                                   ::testing::Not(::testing::HasSubstr("green-2"))));
    }
  }
  EXPECT_EQ(refusals, 1);
  EXPECT_GE(appends, 3);
  // ...nor write the server's own access records.
  v1::Payload forged;
  forged.mutable_access_recorded()->set_principal("auditor");
  s = Publish("committee-mgmt", "committee-mgmt", "access-auditor", {forged});
  EXPECT_EQ(s.status().code(), absl::StatusCode::kPermissionDenied) << s.status();
  // The monitoring principal may not append at all.
  s = Publish("monitoring", "monitoring", absl::StrCat("query-", query_id), {q});
  EXPECT_EQ(s.status().code(), absl::StatusCode::kPermissionDenied) << s.status();
  // Nothing of it was written.
  v1::ReadStreamRequest read;
  read.set_stream_id(absl::StrCat("query-", query_id));
  absl::Status r = Log(As("auditor")).ReadStream(read, [](const v1::RecordedEvent&) {
    ADD_FAILURE() << "a refused append was written";
    return true;
  });
  EXPECT_TRUE(r.ok()) << r;  // an empty stream reads as no events
}

// AppendStream over mTLS: each request is authorised as an Append is, so a
// request outside the publisher's lane is refused alone and the call goes
// on; a caller with no certificate, or one that may not append, is refused
// before anything it sent is read.
TEST_F(SecurityTest, AStreamingPublisherIsHeldToItsLaneRequestByRequest) {
  auto stream_of = [](const std::string& who) {
    struct Call {
      std::shared_ptr<grpc::Channel> channel;
      std::unique_ptr<v1::EventLog::Stub> stub;
      grpc::ClientContext context;
    };
    auto call = std::make_unique<Call>();
    call->channel = Dial(As(who));
    call->stub = v1::EventLog::NewStub(call->channel);
    return call;
  };
  auto request = [](const std::string& stream, const std::string& source, v1::Payload p) {
    v1::AppendRequest r;
    r.set_stream_id(stream);
    *r.add_events() = clients::NewEvent(std::move(p), source, absl::Now() - absl::Hours(1));
    return r;
  };
  const std::string id = NewUuid().substr(0, 8);
  v1::Payload briefing;
  auto* b = briefing.mutable_briefing_requested();
  b->set_briefing_id("B-STREAM-" + id);
  b->set_group_id("green");
  b->set_requested_by_member_id("green-2");
  b->set_topic("Stream lane");
  b->set_matter_id("stream-lane");
  b->set_routed_to_officer_id("o-ceo");
  v1::Payload query;
  auto* q = query.mutable_written_query_received();
  q->set_query_id("Q-STREAM-" + id);
  q->set_member_id("green-2");
  q->set_addressed_to_officer_id("o-ceo");
  v1::Payload second = briefing;
  second.mutable_briefing_requested()->set_briefing_id("B-STREAM2-" + id);
  const std::vector<v1::AppendRequest> requests = {
      request("briefing-B-STREAM-" + id, "committee-mgmt", briefing),  // its lane
      request("query-Q-STREAM-" + id, "committee-mgmt", query),        // not its lane
      request("query-Q-STREAM-" + id, "case-system", query),           // posing as another
      request("briefing-B-STREAM2-" + id, "committee-mgmt", second),   // its lane again
  };

  auto call = stream_of("committee-mgmt");
  auto rw = call->stub->AppendStream(&call->context);
  std::map<uint64_t, v1::AppendStreamResponse> answers;
  std::thread reader([&] {
    v1::AppendStreamResponse r;
    while (rw->Read(&r)) answers[r.request_index()] = r;
  });
  for (const auto& r : requests) ASSERT_TRUE(rw->Write(r));
  rw->WritesDone();
  reader.join();
  grpc::Status status = rw->Finish();
  EXPECT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(answers.size(), 4u);
  EXPECT_TRUE(answers[0].has_appended()) << answers[0].DebugString();
  EXPECT_TRUE(answers[3].has_appended()) << answers[3].DebugString();
  for (uint64_t i : {1u, 2u}) {
    ASSERT_TRUE(answers[i].has_error()) << answers[i].DebugString();
    EXPECT_EQ(answers[i].error().code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_EQ(answers[i].error().code_name(), "PERMISSION_DENIED");
  }
  EXPECT_THAT(answers[1].error().message(), ::testing::HasSubstr("of type WrittenQueryReceived"));
  EXPECT_THAT(answers[2].error().message(), ::testing::HasSubstr("source_system \"case-system\""));
  // Nothing of the refused requests was written.
  v1::ReadStreamRequest read;
  read.set_stream_id("query-Q-STREAM-" + id);
  EXPECT_TRUE(Log(As("auditor"))
                  .ReadStream(read,
                              [](const v1::RecordedEvent&) {
                                ADD_FAILURE() << "a refused request was written";
                                return true;
                              })
                  .ok());

  // A principal that may not append at all is refused the call itself; a
  // caller with no certificate (nor token) is not authenticated.
  for (const auto& [who, code] : std::vector<std::pair<std::string, grpc::StatusCode>>{
           {"monitoring", grpc::StatusCode::PERMISSION_DENIED},
           {"", grpc::StatusCode::UNAUTHENTICATED}}) {
    auto other = stream_of(who);
    auto rw2 = other->stub->AppendStream(&other->context);
    rw2->Write(requests[0]);
    rw2->WritesDone();
    v1::AppendStreamResponse r;
    int answered = 0;
    while (rw2->Read(&r)) ++answered;
    grpc::Status refused = rw2->Finish();
    EXPECT_EQ(answered, 0) << who;
    EXPECT_EQ(refused.error_code(), code) << who << ": " << refused.error_message();
  }
}

TEST_F(SecurityTest, AGroupReadsItsOwnConfidentialContentAndNoOtherGroups) {
  const std::string& stream = LabourBriefing();
  v1::ReadStreamRequest read;
  read.set_stream_id(stream);
  // Labour sees its own briefing whole.
  std::string seen;
  absl::Status s = Log(As("labour")).ReadStream(read, [&](const v1::RecordedEvent& e) {
    seen += e.event().DebugString();
    // Every value; no event id (a reader not shown every value gets none:
    // ids are references, and the next test says why).
    EXPECT_EQ(e.event().event_id(), "");
    for (const v1::WithheldValue& w : e.event().withheld()) {
      EXPECT_TRUE(w.path() == "event_id" || w.path() == "correlation_id" ||
                  w.path() == "causation_id")
          << w.path();
    }
    return true;
  });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_TRUE(absl::StrContains(seen, kTopic));
  EXPECT_TRUE(absl::StrContains(seen, kNotes));

  // Green may not read labour's case...
  s = Log(As("green")).ReadStream(read, [](const v1::RecordedEvent&) { return true; });
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "it is group labour's case")) << s;
  // ...nor replay what concerns labour.
  v1::ReplayRequest replay;
  replay.mutable_filter()->set_group_id("labour");
  s = Audit(As("green"))
          .Replay(
              replay, [](const v1::AuditedEvent&) { return true; }, [](uint64_t, uint64_t) {});
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << s;

  // Green's own replay shows the disclosure to green, with labour's words
  // withheld and a marker saying so.
  replay.mutable_filter()->clear_group_id();
  bool disclosure = false;
  s = Audit(As("green"))
          .Replay(
              replay,
              [&](const v1::AuditedEvent& e) {
                const std::string text = e.event().event().DebugString();
                EXPECT_FALSE(absl::StrContains(text, "LABOUR-7731") ||
                             absl::StrContains(text, "LABOUR-7732") ||
                             absl::StrContains(text, "DISCLOSED-7733"))
                    << "green saw labour's confidential content: " << text;
                if (e.event().event().stream_id() == stream) {
                  EXPECT_TRUE(e.event().event().payload().has_group_information_disclosed())
                      << text;
                  disclosure = true;
                  // The summary, and the event's id: with the id, a proof
                  // another principal fetched would check guesses at the
                  // summary (outside probe: green's replay and monitoring's
                  // proof together recovered one).
                  bool summary = false;
                  bool id = false;
                  for (const v1::WithheldValue& w : e.event().event().withheld()) {
                    if (w.path() == "payload.group_information_disclosed.summary") {
                      summary = true;
                      EXPECT_TRUE(absl::StrContains(w.reason(), "group labour")) << w.reason();
                    }
                    id |= w.path() == "event_id";
                  }
                  EXPECT_TRUE(summary && id) << text;
                  EXPECT_EQ(e.event().event().event_id(), "") << text;
                }
                return true;
              },
              [](uint64_t, uint64_t) {});
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_TRUE(disclosure) << "the disclosure to green is not in green's replay";

  // Labour's reads are on the record with what they returned.
  bool recorded = false;
  for (const auto& r : AccessRecords("labour-group")) {
    const auto& a = r.event().payload().access_recorded();
    recorded |= a.method() == "evenhand.v1.EventLog/ReadStream" && a.outcome() == "completed" &&
                a.events_returned() == 4 && absl::StrContains(a.request(), stream);
  }
  EXPECT_TRUE(recorded);
}

// What labour said, recorded in green's briefing (where it was disclosed to
// green): green read labour's words in full there, and labour had them
// withheld as "confidential to group green" (outside probe). A disclosure's
// summary is its originating group's, whichever case holds it.
TEST_F(SecurityTest, WhatAGroupSaidIsItsOwnInWhicheverCaseItIsRecorded) {
  const std::string id = absl::StrCat("B-SEC-G-", NewUuid().substr(0, 8));
  constexpr char kSaid[] = "Labour's words LABOUR-IN-GREEN-7741";
  v1::Payload requested = BriefingRequested(id, "green", "Green's own topic GREEN-7742");
  v1::Payload disclosed = Disclosed(id, "labour", "green", kSaid);
  const std::string stream = absl::StrCat("briefing-", id);
  auto appended = Publish("committee-mgmt", "committee-mgmt", stream, {requested, disclosed});
  ASSERT_TRUE(appended.ok()) << appended.status();

  // Green reads its own case: its own topic whole, labour's words withheld.
  v1::ReadStreamRequest read;
  read.set_stream_id(stream);
  std::string seen;
  int withheld = 0;
  absl::Status s = Log(As("green")).ReadStream(read, [&](const v1::RecordedEvent& e) {
    seen += e.event().DebugString();
    for (const v1::WithheldValue& w : e.event().withheld()) {
      if (w.path() == "event_id") {
        EXPECT_EQ(e.event().event_id(), "");
        continue;
      }
      ++withheld;
      EXPECT_EQ(w.path(), "payload.group_information_disclosed.summary");
      EXPECT_TRUE(absl::StrContains(w.reason(), "confidential to group labour")) << w.reason();
    }
    return true;
  });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_TRUE(absl::StrContains(seen, "GREEN-7742")) << seen;
  EXPECT_FALSE(absl::StrContains(seen, "LABOUR-IN-GREEN-7741")) << seen;
  EXPECT_EQ(withheld, 1);
  // The auditor reads it all.
  seen.clear();
  s = Log(As("auditor")).ReadStream(read, [&](const v1::RecordedEvent& e) {
    seen += e.event().DebugString();
    return true;
  });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_TRUE(absl::StrContains(seen, "LABOUR-IN-GREEN-7741")) << seen;
}

// An event read with a value withheld comes without its ids, and one read
// outside the reader's own group's cases without the ids it names of
// others: with an id, a proof fetched by any other principal (monitoring,
// the committee) would check guesses at the value (outside probe: green's
// replay and monitoring's proof together recovered labour's summary).
TEST_F(SecurityTest, AGroupReadsNoIdOfAnEventWhoseValueIsWithheldFromIt) {
  const std::string id = absl::StrCat("B-SEC-C-", NewUuid().substr(0, 8));
  v1::Payload requested = BriefingRequested(id, "labour", "Labour's topic LABOUR-7751");
  v1::Payload disclosed = Disclosed(id, "labour", "green", "What labour said LABOUR-7752");
  const std::string stream = absl::StrCat("briefing-", id);
  ASSERT_TRUE(Publish("committee-mgmt", "committee-mgmt", stream, {requested, disclosed}).ok());
  // The disclosure's id, as the auditor reads it; then a correction of it.
  v1::ReadStreamRequest read;
  read.set_stream_id(stream);
  std::string disclosure_id;
  ASSERT_TRUE(Log(As("auditor"))
                  .ReadStream(read,
                              [&](const v1::RecordedEvent& e) {
                                if (e.event().payload().has_group_information_disclosed()) {
                                  disclosure_id = e.event().event_id();
                                }
                                return true;
                              })
                  .ok());
  ASSERT_FALSE(disclosure_id.empty());
  v1::Payload corrected;
  corrected.mutable_event_corrected()->set_corrected_event_id(disclosure_id);
  corrected.mutable_event_corrected()->set_reason("the summary was mistyped");
  *corrected.mutable_event_corrected()->mutable_replacement() = disclosed;
  corrected.mutable_event_corrected()
      ->mutable_replacement()
      ->mutable_group_information_disclosed()
      ->set_summary("What labour said LABOUR-7753");
  ASSERT_TRUE(Publish("committee-mgmt", "committee-mgmt", stream, {corrected}).ok());

  v1::ReplayRequest replay;
  int seen = 0;
  absl::Status s =
      Audit(As("green"))
          .Replay(
              replay,
              [&](const v1::AuditedEvent& e) {
                const v1::Event& event = e.event().event();
                if (event.stream_id() != stream) return true;
                ++seen;
                const std::string text = event.DebugString();
                EXPECT_FALSE(absl::StrContains(text, disclosure_id)) << text;
                EXPECT_FALSE(absl::StrContains(text, "LABOUR-775")) << text;
                EXPECT_EQ(event.event_id(), "") << text;
                std::set<std::string> paths;
                for (const v1::WithheldValue& w : event.withheld()) paths.insert(w.path());
                EXPECT_TRUE(paths.contains("event_id")) << text;
                if (event.payload().has_event_corrected()) {
                  EXPECT_TRUE(paths.contains("payload.event_corrected.corrected_event_id")) << text;
                  EXPECT_GT(event.payload().event_corrected().corrected_position(), 0u) << text;
                }
                return true;
              },
              [](uint64_t, uint64_t) {});
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(seen, 2) << "green's replay holds the disclosure to it and its correction";

  // Nor through a reference in its own case: a green request caused by the
  // disclosure (a case system chaining causation, as case systems do) names
  // it (re-probe: a later event's causation id in green's own case gave the
  // id of labour's disclosure, and a proof then its summary).
  v1::Payload own;
  auto* q = own.mutable_briefing_requested();
  q->set_briefing_id(id + "-G");
  q->set_group_id("green");
  q->set_requested_by_member_id("green-1");
  q->set_topic("Green's follow-up GREEN-7754");
  q->set_matter_id("depot-review");
  q->set_routed_to_officer_id("o-ceo");
  v1::AppendRequest caused;
  caused.set_stream_id(absl::StrCat("briefing-", id, "-G"));
  v1::Event* e = caused.add_events();
  *e = clients::NewEvent(std::move(own), "committee-mgmt", absl::Now() - absl::Hours(1));
  e->set_causation_id(disclosure_id);
  e->set_correlation_id(disclosure_id);
  ASSERT_TRUE(Log(As("committee-mgmt")).Append(caused).ok());
  v1::ReadStreamRequest green_case;
  green_case.set_stream_id(caused.stream_id());
  std::string green_text;
  ASSERT_TRUE(Log(As("green"))
                  .ReadStream(green_case,
                              [&](const v1::RecordedEvent& r) {
                                green_text += r.event().DebugString();
                                return true;
                              })
                  .ok());
  EXPECT_TRUE(absl::StrContains(green_text, "GREEN-7754")) << green_text;
  EXPECT_FALSE(absl::StrContains(green_text, disclosure_id)) << green_text;
}

// A hash is of the whole event, withheld values included: green, which
// reads labour's disclosure to it with the summary withheld, could hash the
// event with each guess at the summary and compare with the event's leaf
// hash, the chain hash after it or a proof's path (an outside probe
// recovered summaries so). It gets no hashes in its replay, no proofs, no
// tree heads and no checkpoints; the auditor has all.
TEST_F(SecurityTest, AGroupGetsNoHashThatCoversAValueWithheldFromIt) {
  const std::string& stream = LabourBriefing();
  int events = 0;
  uint64_t disclosed = 0;
  absl::Status s = Audit(As("green"))
                       .Replay(
                           v1::ReplayRequest(),
                           [&](const v1::AuditedEvent& e) {
                             ++events;
                             if (e.event().event().stream_id() == stream &&
                                 e.event().event().withheld_size() > 0) {
                               disclosed = e.event().position();
                             }
                             EXPECT_TRUE(e.leaf_hash().empty()) << e.event().position();
                             EXPECT_TRUE(e.chain_hash().empty()) << e.event().position();
                             return true;
                           },
                           [](uint64_t, uint64_t) {});
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_GT(events, 0);
  ASSERT_GT(disclosed, 0u) << "green's replay holds labour's disclosure, withheld";
  absl::StatusOr<v1::InclusionProof> proof = Audit(As("green")).GetInclusionProof(disclosed, 0);
  EXPECT_EQ(proof.status().code(), absl::StatusCode::kPermissionDenied) << proof.status();
  EXPECT_TRUE(absl::StrContains(proof.status().message(), "would let it check guesses"))
      << proof.status();
  // A neighbour's proof carries the disclosure's leaf hash in its path.
  proof = Audit(As("green")).GetInclusionProof(disclosed + 1, 0);
  EXPECT_EQ(proof.status().code(), absl::StatusCode::kPermissionDenied) << proof.status();
  EXPECT_EQ(Audit(As("green")).GetConsistencyProof(disclosed, disclosed + 1).status().code(),
            absl::StatusCode::kPermissionDenied);
  // Nor tree heads or checkpoints: the tree head of a size n covers event n
  // with those of smaller sizes, and checkpoints a second apart in a quiet
  // log carry the chain head before and after one event (review).
  EXPECT_EQ(Audit(As("green")).GetTreeHead(disclosed).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Audit(As("green")).GetCheckpoint().status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(Audit(As("green")).GetPublicKey().ok()) << "the key is no hash of an event";
  // The auditor's replay and proofs carry the hashes.
  v1::ReplayRequest one;
  one.mutable_filter()->set_from_position(disclosed);
  one.mutable_filter()->set_to_position(disclosed);
  std::string leaf;
  ASSERT_TRUE(Audit(As("auditor"))
                  .Replay(
                      one,
                      [&](const v1::AuditedEvent& e) {
                        leaf = e.leaf_hash();
                        return true;
                      },
                      [](uint64_t, uint64_t) {})
                  .ok());
  EXPECT_EQ(leaf.size(), 32u);
  proof = Audit(As("auditor")).GetInclusionProof(disclosed, 0);
  ASSERT_TRUE(proof.ok()) << proof.status();
  EXPECT_EQ(proof->leaf_hash(), leaf);
}

// A caller no principal names has no role: anyone the council's identity
// provider knows (or its CA issued a certificate to) could call in a loop,
// and the log keeps every record for ever (an outside probe grew it by 2,000
// events a second). Its first refusal a minute is on the record; the rest
// are refused all the same, logged and counted.
TEST_F(SecurityTest, ACallerWithoutARoleIsRecordedOnceAMinuteNotOncePerCall) {
  const clients::Connection nobody = As("", Token("nobody.roleless", "no-such-group"));
  auto stub = v1::EventLog::NewStub(Dial(nobody));
  for (int i = 0; i < 40; ++i) {
    grpc::ClientContext context;
    v1::GetStatusResponse status;
    const grpc::Status s = stub->GetStatus(&context, v1::GetStatusRequest(), &status);
    ASSERT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
    EXPECT_TRUE(absl::StrContains(s.error_message(), "it has no role")) << s.error_message();
  }
  // Refused on their headers, and the first recorded just after it was
  // answered: once it is there, no more come.
  AccessRecordsOnce("nobody.roleless", 1, [](const v1::AccessRecorded&) { return true; });
  absl::SleepFor(absl::Milliseconds(200));
  const std::vector<v1::RecordedEvent> records = AccessRecords("nobody.roleless");
  ASSERT_EQ(records.size(), 1u) << "one refusal on the record, not forty";
  EXPECT_EQ(records[0].event().payload().access_recorded().request(),
            "(not read: refused on its headers)");
  EXPECT_TRUE(
      absl::StartsWith(records[0].event().payload().access_recorded().outcome(), "denied: "));
  // A principal with a role has each kind of refusal recorded, once a
  // minute (found from outside: a monitoring certificate refused in a loop
  // grew the log by 1.4 MB a second); the next one recorded of the same
  // method says how many were not. (Other tests' records of labour come
  // before.)
  const size_t before = AccessRecords("labour-group").size();
  auto read_stream = [&](const std::string& stream) {
    v1::ReadStreamRequest read;
    read.set_stream_id(stream);
    return Log(As("labour")).ReadStream(read, [](const v1::RecordedEvent&) { return true; });
  };
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(read_stream("not-labours-1").code(), absl::StatusCode::kPermissionDenied);
  }
  EXPECT_EQ(read_stream("not-labours-2").code(), absl::StatusCode::kPermissionDenied);
  std::vector<v1::AccessRecorded> labour;
  const std::vector<v1::RecordedEvent> records_now = AccessRecords("labour-group");
  for (size_t i = before; i < records_now.size(); ++i) {
    const auto& a = records_now[i].event().payload().access_recorded();
    // (Not those of refusals passed over in other tests, recorded late.)
    if (absl::StartsWith(a.outcome(), "denied") &&
        !absl::StartsWith(a.request(), "(recorded late")) {
      labour.push_back(a);
    }
  }
  ASSERT_EQ(labour.size(), 2u);
  EXPECT_TRUE(absl::StrContains(labour[0].outcome(), "not-labours-1")) << labour[0].outcome();
  EXPECT_EQ(labour[0].refusals_not_recorded(), 0u);
  EXPECT_TRUE(absl::StrContains(labour[1].outcome(), "not-labours-2")) << labour[1].outcome();
  EXPECT_EQ(labour[1].refusals_not_recorded(), 2u);
}

// A councillor on the standards committee reads as labour (other groups'
// values withheld) and as the committee: its reports come without the
// root of the tree they read, and it gets no signed report (a checkpoint,
// and a root at an as-of position of its choosing), as the review of the
// first fix found. The committee's own report has its root.
TEST_F(SecurityTest, ACouncillorOnTheCommitteeGetsReportsWithoutTheLogsHashes) {
  const std::string token =
      Token("cllr.both", "", R"("groups":["labour-councillors","standards-committee"])");
  absl::StatusOr<v1::FairnessReport> report =
      Fairness(As("", token)).GetReport(v1::ReportRequest());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->provenance().root_hash().empty());
  EXPECT_GT(report->provenance().tree_size(), 0u);
  grpc::ClientContext context;
  v1::ReportDocumentRequest document;
  v1::ReportDocument signed_report;
  const grpc::Status refused = v1::Fairness::NewStub(Dial(As("", token)))
                                   ->GetReportDocument(&context, document, &signed_report);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::PERMISSION_DENIED) << refused.error_message();
  absl::StatusOr<v1::FairnessReport> clerks =
      Fairness(As("committee")).GetReport(v1::ReportRequest());
  ASSERT_TRUE(clerks.ok()) << clerks.status();
  EXPECT_EQ(clerks->provenance().root_hash().size(), 32u);
}

TEST_F(SecurityTest, TheCommitteesReportCarriesNoConfidentialValue) {
  LabourBriefing();
  // Every confidential value in the log, as the auditor (who sees them) reads it.
  std::set<std::string> secrets;
  v1::ReplayRequest all;
  absl::Status s = Audit(As("auditor"))
                       .Replay(
                           all,
                           [&](const v1::AuditedEvent& e) {
                             ConfidentialValues(e.event().event().payload(), &secrets);
                             return true;
                           },
                           [](uint64_t, uint64_t) {});
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_TRUE(secrets.count(kTopic));
  ASSERT_GT(secrets.size(), 20u) << "the demo council should hold confidential values";

  // A clerk signs in with the identity provider (ES256 this time).
  auto report = Fairness(As("", Token("clerk.jones", "standards-committee", "", "ES256")))
                    .GetReport(v1::ReportRequest());
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_GT(report->findings_size(), 0);
  const std::string text =
      absl::StrCat(reporting::RenderReportJson(*report), reporting::RenderReportHtml(*report),
                   reporting::RenderFindingsCsv(*report));
  for (const char* planted : {kTopic, kNotes, kDisclosed}) {
    EXPECT_FALSE(absl::StrContains(text, planted)) << "the report carries \"" << planted << "\"";
  }
  // Nor any cited event's id: with the rest of a cited event in its
  // evidence, the log's hashes (a proof's, a signed report's checkpoint)
  // let a reader check guesses at a value withheld from it; its random id
  // is what it cannot guess (outside probe: "sibling" in 5,524 guesses).
  ASSERT_GT(report->evidence_size(), 0);
  for (const v1::EvidenceEvent& e : report->evidence()) {
    EXPECT_EQ(e.event_id(), "") << "position " << e.position();
    EXPECT_GT(e.position(), 0u);
  }
  for (const std::string& secret : secrets) {
    // Short phrases ("no reply", "Other") occur in any report's own words.
    if (secret.size() < 12) continue;
    EXPECT_FALSE(absl::StrContains(text, secret)) << "the report carries \"" << secret << "\"";
  }
  // Who read is in it: the auditor's replay above, the clerk by name.
  bool auditor = false;
  for (const auto& a : report->access()) {
    auditor |= a.principal() == "auditor" && a.method() == "evenhand.v1.Audit/Replay";
  }
  EXPECT_TRUE(auditor);
  // The clerk's own request is recorded under their subject.
  bool clerk = false;
  for (const auto& r : AccessRecords("clerk.jones")) {
    const auto& a = r.event().payload().access_recorded();
    clerk |= a.method() == "evenhand.v1.Fairness/GetReport" &&
             a.authenticated_as() == "token clerk.jones" && a.roles_size() == 1 &&
             a.roles(0) == "committee";
  }
  EXPECT_TRUE(clerk);
}

TEST_F(SecurityTest, AnAuditorsExportHoldsFullValuesAndVerifiesOffline) {
  v1::ExportRequest request;
  request.mutable_filter()->set_stream_id(LabourBriefing());
  auto bundle = Audit(As("", Token("a.patel", "internal-audit"))).Export(request);
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  // Pinned to the server's key, as an auditor pins the council's.
  auto key = Audit(As("auditor")).GetPublicKey();
  ASSERT_TRUE(key.ok()) << key.status();
  auto verified = integrity::VerifyBundle(*bundle, &*key);
  ASSERT_TRUE(verified.ok()) << verified.status();
  ASSERT_EQ(verified->events.size(), 4u);
  EXPECT_EQ(verified->events[0].event().payload().briefing_requested().topic(), kTopic);
}

TEST_F(SecurityTest, UnknownCertificatesBadTokensAndPlainTextAreRefused) {
  auto status_of = [](const clients::Connection& c) {
    return Log(c).GetStatus(absl::Seconds(10)).status();
  };
  // A certificate from another CA: the handshake fails.
  absl::Status s = status_of(As("intruder"));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  // The server's log says what to look at (gRPC names neither the client
  // nor the reason).
  for (int i = 0;
       i < 50 && !absl::StrContains(server_->Log(), "a client's certificate was refused"); ++i) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_TRUE(absl::StrContains(server_->Log(),
                                "a client's certificate was refused: not issued by "
                                "security.tls.clientCaFile's CA"))
      << server_->Log();
  // No certificate and no token.
  s = status_of(As(""));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "no client certificate and no bearer token")) << s;
  // Plain text against the TLS port.
  clients::Connection plain;
  plain.address = server_->address();
  s = status_of(plain);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;

  struct Case {
    const char* what;
    std::string token;
    const char* says;
  };
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  // A key the identity provider never published, under its key id.
  const std::string rogue = dir_->Sub("rogue.key");
  ASSERT_EQ(std::system(absl::StrCat("openssl genpkey -algorithm RSA -pkeyopt "
                                     "rsa_keygen_bits:2048 -out ",
                                     rogue, " 2>/dev/null")
                            .c_str()),
            0);
  const std::string good = Token("mo.okafor", "internal-audit");
  std::string tampered = good;
  tampered[tampered.find('.') + 3] ^= 1;  // a byte of the claims
  const std::vector<Case> cases = {
      {"expired", Token("mo.okafor", "internal-audit", absl::StrCat("\"exp\":", now - 3600)),
       "expired"},
      {"not yet valid", Token("mo.okafor", "internal-audit", absl::StrCat("\"nbf\":", now + 3600)),
       "not valid yet"},
      // Time claims as strings are no times (outside probe: a string nbf
      // was passed over, and the token used before its time).
      {"a start as a string",
       Token("mo.okafor", "internal-audit", absl::StrCat("\"nbf\":\"", now + 3600, "\"")),
       "its nbf is not a number of seconds"},
      {"an expiry as a string",
       Token("mo.okafor", "internal-audit", absl::StrCat("\"exp\":\"", now + 3600, "\"")),
       "its expiry (exp) is not a number of seconds"},
      {"an expiry past any time",
       Token("mo.okafor", "internal-audit", "\"exp\":9223372036854775808"),
       "is not a time in seconds since 1970"},
      {"another audience", Token("mo.okafor", "internal-audit", "\"aud\":\"payroll\""), "audience"},
      {"another issuer", Token("mo.okafor", "internal-audit", "\"iss\":\"https://evil.example\""),
       "issued by"},
      {"wrongly signed",
       SignJwt(rogue, "RS256", "idp-rsa",
               absl::StrCat(R"({"iss":")", kIssuer, R"(","aud":"evenhand","sub":"x","exp":)",
                            now + 600, "}")),
       "signature"},
      {"tampered", tampered, ""},
      // RFC 7515 4.1.11: an extension the signer says must be understood,
      // which this server does not (outside probe: it was accepted).
      {"a critical extension",
       SignJwt(certs_ + "/idp-rsa.key", "RS256", "idp-rsa",
               absl::StrCat(R"({"iss":")", kIssuer,
                            R"(","aud":"evenhand","sub":"mo.okafor","groups":["internal-audit"],)"
                            R"("exp":)",
                            now + 600, "}"),
               R"("crit":["x-must-understand"],"x-must-understand":true)"),
       "critical extensions (crit)"},
      {"unsigned (alg none)",
       absl::StrCat(
           absl::WebSafeBase64Escape(R"({"alg":"none","typ":"JWT"})"), ".",
           absl::WebSafeBase64Escape(absl::StrCat(
               R"({"iss":")", kIssuer, R"(","aud":"evenhand","sub":"x","exp":)", now + 600, "}")),
           "."),
       ""},
      {"not a JWT", "hello", ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    s = status_of(As("", c.token));
    EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated) << s;
    EXPECT_TRUE(absl::StrContains(s.message(), "bearer token is refused")) << s;
    EXPECT_TRUE(absl::StrContains(s.message(), c.says)) << s;
  }
  // The good token works; a token never travels in plain text.
  v1::ReplayRequest nothing;
  nothing.mutable_filter()->set_from_position(1);
  nothing.mutable_filter()->set_to_position(1);
  EXPECT_TRUE(
      Audit(As("", good))
          .Replay(
              nothing, [](const v1::AuditedEvent&) { return true; }, [](uint64_t, uint64_t) {})
          .ok());
  // Without a kid: the JWKS's one key of its algorithm (it holds one RS256
  // key and one ES256 key; found from outside: refused).
  const std::string claims = absl::StrCat(
      R"({"iss":")", kIssuer,
      R"(","aud":"evenhand","sub":"mo.okafor","groups":["internal-audit"],"exp":)", now + 600, "}");
  for (const auto& [alg, key] :
       {std::pair<std::string, std::string>{"RS256", "/idp-rsa.key"}, {"ES256", "/idp-ec.key"}}) {
    SCOPED_TRACE(alg);
    const absl::Status without_kid = status_of(As("", SignJwt(certs_ + key, alg, "", claims)));
    EXPECT_TRUE(without_kid.ok()) << without_kid;
  }
  plain.token_file = dir_->Sub("plain-token");
  std::ofstream(plain.token_file) << good;
  EXPECT_EQ(clients::Dial(plain).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace evenhand::security_testing
