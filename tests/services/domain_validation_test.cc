// Domain validation on append: unknown groups, officers and cases are
// refused with INVALID_ARGUMENT naming the field; a stream is one case.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/error_details.h"
#include "base/time_util.h"
#include "demo/demo_council.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "gtest/gtest.h"
#include "projections/stream_references.h"
#include "tests/testing/server_fixture.h"
#include "tests/testing/status_matchers.h"

namespace evenhand {
namespace {

using ::evenhand::testing::StatusIs;
using ::testing::Contains;
using ::testing::HasSubstr;

// Sets one string of a payload (its field, or an element of a list).
using SetString = std::function<void(v1::Payload*, const std::string&)>;

// Calls `f` for each string `m` (reached from a payload along `path`) holds,
// with the field's path and a way to set it in a copy of the payload.
void ForEachStringIn(const google::protobuf::Message& m,
                     const std::vector<const google::protobuf::FieldDescriptor*>& path,
                     const std::vector<int>& indexes,
                     const std::function<void(const std::string&, const SetString&)>& f) {
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  m.GetReflection()->ListFields(m, &fields);
  for (const google::protobuf::FieldDescriptor* field : fields) {
    const int n = field->is_repeated() ? m.GetReflection()->FieldSize(m, field) : 1;
    for (int i = 0; i < n; ++i) {
      std::vector<const google::protobuf::FieldDescriptor*> to = path;
      to.push_back(field);
      std::vector<int> at = indexes;
      at.push_back(field->is_repeated() ? i : -1);
      if (field->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) {
        ForEachStringIn(field->is_repeated() ? m.GetReflection()->GetRepeatedMessage(m, field, i)
                                             : m.GetReflection()->GetMessage(m, field),
                        to, at, f);
        continue;
      }
      if (field->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_STRING) continue;
      std::string name;
      for (const auto* d : to) absl::StrAppend(&name, name.empty() ? "" : ".", d->name());
      f(name, [to, at](v1::Payload* payload, const std::string& value) {
        google::protobuf::Message* cur = payload;
        for (size_t k = 0; k + 1 < to.size(); ++k) {
          cur = at[k] >= 0 ? cur->GetReflection()->MutableRepeatedMessage(cur, to[k], at[k])
                           : cur->GetReflection()->MutableMessage(cur, to[k]);
        }
        if (at.back() >= 0) {
          cur->GetReflection()->SetRepeatedString(cur, to.back(), at.back(), value);
        } else {
          cur->GetReflection()->SetString(cur, to.back(), value);
        }
      });
    }
  }
}

void ForEachString(const v1::Payload& p,
                   const std::function<void(const std::string&, const SetString&)>& f) {
  ForEachStringIn(p, {}, {}, f);
}

class DomainValidationTest : public testing::ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    domain_validation_ = true;
    StartServer();
    for (const char* m : {"m-1", "m-2"}) {
      v1::Payload p;
      p.mutable_member_registered()->set_member_id(m);
      p.mutable_member_registered()->set_name(m);
      ASSERT_OK(Append(absl::StrCat("member-", m), {p}));
    }
    v1::Payload officer;
    officer.mutable_officer_registered()->set_officer_id("ceo");
    officer.mutable_officer_registered()->set_name("Chief Executive");
    officer.mutable_officer_registered()->set_role(v1::HEAD_OF_PAID_SERVICE);
    ASSERT_OK(Append("officer-ceo", {officer}));
    v1::Payload group;
    auto* g = group.mutable_political_group_recognised();
    g->set_group_id("g");
    g->set_name("Group");
    g->add_member_ids("m-1");
    g->add_member_ids("m-2");
    ASSERT_OK(Append("group-g", {group}));
  }

  absl::StatusOr<v1::AppendResponse> Append(const std::string& stream,
                                            std::vector<v1::Payload> payloads,
                                            std::vector<v1::Event>* sent = nullptr) {
    v1::AppendRequest r;
    r.set_stream_id(stream);
    for (auto& p : payloads) {
      *r.add_events() = clients::NewEvent(std::move(p), "test", absl::Now());
    }
    if (sent != nullptr) sent->assign(r.events().begin(), r.events().end());
    return client_->Append(r);
  }

  static v1::Payload Request(const std::string& id, const std::string& group = "g") {
    v1::Payload p;
    auto* r = p.mutable_briefing_requested();
    r->set_briefing_id(id);
    r->set_group_id(group);
    r->set_requested_by_member_id("m-1");
    r->set_topic("Budget");
    r->set_matter_id("budget");
    r->set_routed_to_officer_id("ceo");
    return p;
  }

  static v1::Payload Approval(const std::string& id, const std::string& by = "ceo") {
    v1::Payload p;
    p.mutable_briefing_approved()->set_briefing_id(id);
    p.mutable_briefing_approved()->set_approved_by_officer_id(by);
    return p;
  }
};

TEST_F(DomainValidationTest, AValidCaseIsAccepted) {
  EXPECT_OK(Append("briefing-B-1", {Request("B-1"), Approval("B-1")}));
}

TEST_F(DomainValidationTest, UnknownGroupIsRefusedNamingTheField) {
  EXPECT_THAT(Append("briefing-B-1", {Request("B-1", "nobody")}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("events[0].payload.briefing_requested.group_id: unknown "
                                 "political group \"nobody\" (stream \"group-nobody\" has no "
                                 "events); record its PoliticalGroupRecognised first")));
}

TEST_F(DomainValidationTest, UnknownOfficerIsRefusedNamingTheField) {
  ASSERT_OK(Append("briefing-B-1", {Request("B-1")}));
  EXPECT_THAT(Append("briefing-B-1", {Approval("B-1", "o-who")}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("briefing_approved.approved_by_officer_id: unknown officer")));
}

TEST_F(DomainValidationTest, AnEventForAnUnknownCaseIsRefused) {
  EXPECT_THAT(Append("briefing-B-9", {Approval("B-9")}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("record BriefingRequested or BriefingOffered first")));
}

TEST_F(DomainValidationTest, AnEventInAnotherCasesStreamIsRefused) {
  EXPECT_THAT(Append("briefing-B-2", {Request("B-1")}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("belongs in stream \"briefing-B-1\", not \"briefing-B-2\"")));
}

// A stream id over the limit is refused for its length before anything
// names it: the wrong-stream refusal echoed 3,000 characters twice, more
// than a client takes in a status (outside probe: RESOURCE_EXHAUSTED,
// "received initial metadata size exceeds limit").
TEST_F(DomainValidationTest, AStreamIdTooLongIsRefusedForItsLengthNotEchoed) {
  const absl::Status s =
      Append(absl::StrCat("briefing-", std::string(3000, 'c')), {Request("B-1")}).status();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument,
                          HasSubstr("stream_id: at most 200 bytes, got 3009")));
  EXPECT_LT(s.message().size(), 200u);
}

TEST_F(DomainValidationTest, ACaseIsOpenedOnlyOnce) {
  ASSERT_OK(Append("briefing-B-1", {Request("B-1")}));
  EXPECT_THAT(Append("briefing-B-1", {Request("B-1")}),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("expected no stream")));
  EXPECT_THAT(Append("briefing-B-3", {Request("B-3"), Request("B-3")}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("events[1]: a BriefingRequested opens its case")));
  // An expected revision saying the stream exists cannot open it again.
  for (auto expect : std::vector<std::function<void(v1::AppendRequest&)>>{
           [](v1::AppendRequest& r) { r.set_expected_state(v1::STREAM_EXISTS); },
           [](v1::AppendRequest& r) { r.set_exact_revision(0); }}) {
    v1::AppendRequest r;
    r.set_stream_id("briefing-B-1");
    *r.add_events() = clients::NewEvent(Request("B-1"), "test", absl::Now());
    expect(r);
    absl::StatusOr<v1::AppendResponse> again = client_->Append(r);
    EXPECT_THAT(again, StatusIs(absl::StatusCode::kInvalidArgument,
                                HasSubstr("opens its case, so its stream must not exist yet")));
    EXPECT_EQ(ReasonOf(again.status()), "OPENING_EXPECTS_NO_STREAM");
  }
  // Nothing was added to the case.
  v1::ReadStreamRequest read;
  read.set_stream_id("briefing-B-1");
  int events = 0;
  ASSERT_OK(client_->ReadStream(read, [&](const v1::RecordedEvent&) {
    ++events;
    return true;
  }));
  EXPECT_EQ(events, 1);
}

TEST_F(DomainValidationTest, RetryingTheOpeningOfACaseIsAnIdempotentReplay) {
  v1::AppendRequest r;
  r.set_stream_id("briefing-B-1");
  *r.add_events() = clients::NewEvent(Request("B-1"), "test", absl::Now());
  ASSERT_OK(client_->Append(r));
  auto again = client_->Append(r);
  ASSERT_OK(again);
  EXPECT_TRUE(again->idempotent_replay());
}

TEST_F(DomainValidationTest, APoliticalGroupNeedsTwoCouncillors) {
  v1::Payload group;
  auto* g = group.mutable_political_group_recognised();
  g->set_group_id("solo");
  g->set_name("Solo");
  g->add_member_ids("m-1");
  EXPECT_THAT(Append("group-solo", {group}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("(Harlow 2.3); got 1")));
}

TEST_F(DomainValidationTest, APoliticalAssistantNamesAKnownGroupAndNoOtherOfficerDoes) {
  auto officer = [](const char* id, v1::OfficerRole role, const char* group) {
    v1::Payload p;
    p.mutable_officer_registered()->set_officer_id(id);
    p.mutable_officer_registered()->set_name(id);
    p.mutable_officer_registered()->set_role(role);
    p.mutable_officer_registered()->set_group_id(group);
    return p;
  };
  EXPECT_THAT(Append("officer-pa", {officer("pa", v1::POLITICAL_ASSISTANT, "")}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("events[0].payload.officer_registered.group_id: required for a "
                                 "POLITICAL_ASSISTANT")));
  EXPECT_THAT(Append("officer-pa", {officer("pa", v1::POLITICAL_ASSISTANT, "nobody")}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("officer_registered.group_id: unknown political group")));
  EXPECT_THAT(Append("officer-dir", {officer("dir", v1::DIRECTOR, "g")}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("officer_registered.group_id: only a POLITICAL_ASSISTANT")));
  EXPECT_OK(Append("officer-pa", {officer("pa", v1::POLITICAL_ASSISTANT, "g")}));

  v1::Payload promoted;
  promoted.mutable_officer_role_changed()->set_officer_id("ceo");
  promoted.mutable_officer_role_changed()->set_role(v1::POLITICAL_ASSISTANT);
  EXPECT_THAT(Append("officer-ceo", {promoted}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("officer_role_changed.group_id: required")));
  promoted.mutable_officer_role_changed()->set_group_id("g");
  EXPECT_OK(Append("officer-ceo", {promoted}));
}

TEST_F(DomainValidationTest, RequiredFieldsAreNamed) {
  v1::Payload p = Request("B-1");
  p.mutable_briefing_requested()->clear_matter_id();
  EXPECT_THAT(Append("briefing-B-1", {p}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("events[0].payload.briefing_requested.matter_id: required")));
}

// Event.withheld is the server's, on reads: a publisher's marker would be
// stored, hashed and served as if the server had withheld a value (an
// outside probe planted one). Refused, and nothing is written.
TEST_F(DomainValidationTest, AnAppendMayNotSayWhatWasWithheld) {
  v1::AppendRequest r;
  r.set_stream_id("briefing-B-1");
  *r.add_events() = clients::NewEvent(Request("B-1"), "test", absl::Now());
  v1::WithheldValue* w = r.mutable_events(0)->add_withheld();
  w->set_path("payload.briefing_requested.topic");
  w->set_reason("withheld by nobody");
  EXPECT_THAT(client_->Append(r),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("events[0].withheld: set by the server on reads only")));
  r.mutable_events(0)->clear_withheld();
  EXPECT_TRUE(client_->Append(r).ok()) << "the same event without it is recorded";
}

// Harlow 12.5: a complaint may be raised with the Leader (a councillor)
// instead of an officer, but not with both.
TEST_F(DomainValidationTest, AComplaintIsRaisedWithAnOfficerOrACouncillorNotBoth) {
  v1::Payload p;
  auto* c = p.mutable_complaint_raised();
  c->set_complaint_id("C-1");
  c->mutable_raised_by()->set_member_id("m-1");
  c->mutable_about()->set_officer_id("ceo");
  c->set_raised_with_member_id("m-2");
  c->set_raised_with_officer_id("ceo");
  EXPECT_THAT(Append("complaint-C-1", {p}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("events[0].payload.complaint_raised.raised_with_member_id: give "
                                 "either raised_with_officer_id or raised_with_member_id")));
  c->clear_raised_with_officer_id();
  c->set_raised_with_member_id("nobody");
  EXPECT_THAT(Append("complaint-C-1", {p}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown councillor")));
  c->set_raised_with_member_id("m-2");
  EXPECT_OK(Append("complaint-C-1", {p}));
}

TEST_F(DomainValidationTest, ADisclosureNamesWhereItWasSaidAndOneRecipient) {
  v1::Payload p;
  auto* d = p.mutable_group_information_disclosed();
  d->set_from_group_id("g");
  d->set_disclosed_by_officer_id("ceo");
  EXPECT_THAT(Append("briefing-B-1", {p}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("group_information_disclosed.briefing_id: give the briefing or "
                                 "the group meeting (meeting_id) where it was said, exactly one")));
  ASSERT_OK(Append("briefing-B-1", {Request("B-1")}));
  d->set_briefing_id("B-1");
  d->set_to_group_id("g");
  d->set_to_officer_id("ceo");
  EXPECT_THAT(Append("briefing-B-1", {p}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("group_information_disclosed.to_officer_id: give the group it "
                                 "reached (to_group_id) or the officer (to_officer_id), not both")));
  d->clear_to_group_id();
  v1::Payload mo;
  mo.mutable_officer_registered()->set_officer_id("mo");
  mo.mutable_officer_registered()->set_name("Monitoring Officer");
  mo.mutable_officer_registered()->set_role(v1::MONITORING_OFFICER);
  ASSERT_OK(Append("officer-mo", {mo}));
  d->set_to_officer_id("mo");
  EXPECT_OK(Append("briefing-B-1", {p}));
}

// A disclosure to the group it came from, or to the officer who made it,
// discloses nothing: refused naming the field, as a disclosure to a group
// and an officer at once is.
TEST_F(DomainValidationTest, ADisclosureToItsOwnGroupOrItsOwnDiscloserIsRefused) {
  ASSERT_OK(Append("briefing-B-self", {Request("B-self")}));
  for (const bool to_group : {true, false}) {
    v1::Payload p;
    auto* d = p.mutable_group_information_disclosed();
    d->set_briefing_id("B-self");
    d->set_from_group_id("g");
    d->set_disclosed_by_officer_id("ceo");
    if (to_group) {
      d->set_to_group_id("g");
    } else {
      d->set_to_officer_id("ceo");
    }
    EXPECT_THAT(Append("briefing-B-self", {p}),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr(to_group ? "to_group_id: is the group it came from"
                                            : "to_officer_id: is the officer who disclosed it")));
  }
}

// An officer is not their own Director (the complaint route reads it).
TEST_F(DomainValidationTest, AnOfficerIsNotTheirOwnDirector) {
  v1::Payload p;
  auto* o = p.mutable_officer_registered();
  o->set_officer_id("self");
  o->set_name("Self-directed");
  o->set_role(v1::OFFICER);
  o->set_director_officer_id("self");
  EXPECT_THAT(Append("officer-self", {p}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("officer_registered.director_officer_id: is the officer itself")));
}

TEST_F(DomainValidationTest, ACorrectionIsValidatedAndTheServerFillsThePosition) {
  std::vector<v1::Event> sent;
  auto opened = Append("briefing-B-1", {Request("B-1"), Approval("B-1")}, &sent);
  ASSERT_OK(opened);
  v1::Payload fix;
  fix.mutable_event_corrected()->set_corrected_event_id(sent[1].event_id());
  fix.mutable_event_corrected()->set_reason("wrong approver recorded");
  *fix.mutable_event_corrected()->mutable_replacement() = Approval("B-1");
  auto corrected = Append("briefing-B-1", {fix});
  ASSERT_OK(corrected);
  v1::ReadStreamRequest read;
  read.set_stream_id("briefing-B-1");
  std::vector<v1::RecordedEvent> events;
  ASSERT_OK(client_->ReadStream(read, [&](const v1::RecordedEvent& e) {
    events.push_back(e);
    return true;
  }));
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[2].event().payload().event_corrected().corrected_position(),
            opened->positions(1));
}

TEST_F(DomainValidationTest, ACorrectionMustStayInItsCaseAndType) {
  std::vector<v1::Event> sent;
  ASSERT_OK(Append("briefing-B-1", {Request("B-1"), Approval("B-1")}, &sent));
  ASSERT_OK(Append("briefing-B-2", {Request("B-2")}));
  auto correct = [&](const std::string& stream, const std::string& id,
                     std::optional<v1::Payload> replacement) {
    v1::Payload fix;
    fix.mutable_event_corrected()->set_corrected_event_id(id);
    if (replacement) *fix.mutable_event_corrected()->mutable_replacement() = *replacement;
    return Append(stream, {fix});
  };
  EXPECT_THAT(correct("briefing-B-2", sent[1].event_id(), std::nullopt),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("a correction goes in the stream of the event it corrects")));
  EXPECT_THAT(
      correct("briefing-B-1", sent[1].event_id(), Request("B-1")),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("must be the same type of event")));
  EXPECT_THAT(correct("briefing-B-1", sent[1].event_id(), Approval("B-2")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("names another case")));
  EXPECT_THAT(correct("briefing-B-1", "123e4567-e89b-12d3-a456-426614174000", std::nullopt),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("only recorded events can be corrected")));
}

TEST_F(DomainValidationTest, WhenSomethingHappenedCanBeCorrectedButNotIntoTheFuture) {
  std::vector<v1::Event> sent;
  ASSERT_OK(Append("briefing-B-1", {Request("B-1"), Approval("B-1")}, &sent));
  auto correct_when = [&](google::protobuf::Timestamp when) {
    v1::Payload fix;
    fix.mutable_event_corrected()->set_corrected_event_id(sent[1].event_id());
    fix.mutable_event_corrected()->set_reason("approved the day before");
    *fix.mutable_event_corrected()->mutable_replacement_occurred_at() = when;
    return Append("briefing-B-1", {fix});
  };
  EXPECT_OK(correct_when(ToProtoTime(absl::Now() - absl::Hours(24))).status());
  EXPECT_THAT(correct_when(ToProtoTime(absl::Now() + absl::Hours(24 * 30))),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("events[0].payload.event_corrected.replacement_occurred_at: ")));
  EXPECT_THAT(correct_when(google::protobuf::Timestamp()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("empty Timestamp")));
  // Year 1 (a valid Timestamp) is a mistyped year, and beyond what
  // nanosecond arithmetic can hold.
  v1::AppendRequest victorian;
  victorian.set_stream_id("briefing-B-9");
  *victorian.add_events() =
      clients::NewEvent(Request("B-9"), "test", absl::FromCivil(absl::CivilDay(1850, 1, 1),
                                                                absl::UTCTimeZone()));
  EXPECT_THAT(client_->Append(victorian),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("events[0].occurred_at: is before 1900-01-01")));
  google::protobuf::Timestamp year_one;
  year_one.set_seconds(-62135596800);
  EXPECT_THAT(correct_when(year_one),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("between 1900 and 2200")));
}

TEST_F(DomainValidationTest, AMeetingsAgendaIsGivenItemByItem) {
  auto meeting = [](std::vector<std::pair<std::string, v1::Business>> items,
                    v1::Business whole = v1::BUSINESS_UNSPECIFIED) {
    v1::Payload p;
    auto* a = p.mutable_officer_attended_group_meeting();
    a->set_meeting_id("M-1");
    a->set_group_id("g");
    a->set_officer_id("ceo");
    a->set_duration_minutes(60);
    a->set_business(whole);
    for (auto& [id, business] : items) {
      v1::AgendaItem* item = a->add_agenda_items();
      item->set_item(id);
      item->set_business(business);
      item->set_officer_present(true);
    }
    return p;
  };
  EXPECT_THAT(Append("meeting-M-1", {meeting({{"1", v1::COUNCIL_BUSINESS}}, v1::COUNCIL_BUSINESS)}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("with agenda_items, give business, content and "
                                 "non_members_present for each item")));
  EXPECT_THAT(Append("meeting-M-1",
                     {meeting({{"1", v1::COUNCIL_BUSINESS}, {"1", v1::COUNCIL_BUSINESS}})}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("agenda_items[1].item: \"1\" is on the agenda twice")));
  EXPECT_THAT(Append("meeting-M-1", {meeting({{"1", v1::BUSINESS_UNSPECIFIED}})}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("agenda_items[0].business: required")));
  EXPECT_OK(Append("meeting-M-1", {meeting({{"1", v1::COUNCIL_BUSINESS},
                                            {"2", v1::PARTY_POLITICAL_BUSINESS}})})
                .status());
}

// Every reference the server checks is one that an import (which sends what
// an event names first, projections/stream_references.h) can see: each
// string of each of the demo council's events, set to an id nothing has,
// is either no reference or one NamedStreams names. Were a new reference
// checked under a field name it does not know, imports would count refused
// appends again.
TEST_F(DomainValidationTest, EveryReferenceTheServerChecksIsOneAnImportSees) {
  absl::flat_hash_set<std::string> references;  // fields
  absl::flat_hash_map<std::string, int> tried;  // of each, a few events
  for (demo::StreamAppend& append : demo::DemoCouncil(absl::Now())) {
    for (const v1::Event& e : append.events) {
      ForEachString(e.payload(), [&](const std::string& field, const SetString& set) {
        const std::string& key = field;
        if (++tried[key] > 3) return;
        v1::AppendRequest probe;
        probe.set_stream_id(append.stream_id);
        v1::Event* changed = probe.add_events();
        *changed = e;
        set(changed->mutable_payload(), "nowhere-7f3a");
        // Never recorded: a reference is checked before the revision.
        probe.set_exact_revision(uint64_t{1} << 40);
        absl::StatusOr<v1::AppendResponse> r = client_->Append(probe);
        ASSERT_FALSE(r.ok()) << key;
        std::optional<google::rpc::ErrorInfo> info = GetErrorInfo(r.status());
        if (!info.has_value() || info->reason() != "UNKNOWN_REFERENCE") return;
        references.insert(key);
        const std::vector<std::string> named = projections::NamedStreams(changed->payload());
        EXPECT_THAT(named, Contains(info->metadata().at("stream"))) << key << ": " << r.status();
      });
    }
    v1::AppendRequest r;
    r.set_stream_id(append.stream_id);
    for (v1::Event& e : append.events) *r.add_events() = std::move(e);
    ASSERT_OK(client_->Append(r).status());
  }
  // The demo's events name councillors, groups, officers and briefings in
  // this many fields: the check above is not vacuous.
  EXPECT_GE(references.size(), 20u) << absl::StrJoin(references, ", ");
}

}  // namespace
}  // namespace evenhand
