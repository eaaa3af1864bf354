#include "services/auth/call_gate.h"

#include <memory>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "base/error_details.h"
#include "base/log_repeats.h"
#include "base/logging.h"
#include "base/metrics.h"
#include "base/quoted.h"
#include "base/time_util.h"
#include "base/uuid.h"
#include "evenhand/v1/events.pb.h"
#include "evenhand/v1/log.pb.h"
#include "google/protobuf/text_format.h"
#include "services/auth/access_stream.h"

namespace evenhand::services::auth {
namespace {

constexpr size_t kMaxRequestText = 2000;

// A caller without a role: how often one of its refusals is recorded, and
// how many such callers are remembered (then those not seen for a minute are
// forgotten, or all if that is not enough).
constexpr absl::Duration kRolelessRecordEvery = absl::Minutes(1);
constexpr size_t kMaxRolelessKept = 100000;

// Drops every event payload in `m` (a refused append's events), keeping
// each event's envelope and, if it names none, its payload's type. What a
// council system sent to be recorded (personal data, a group's words) must
// not enter the immutable log by way of the record of its refusal.
void DropPayloads(google::protobuf::Message* m) {
  const google::protobuf::Reflection* r = m->GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  r->ListFields(*m, &fields);
  for (const google::protobuf::FieldDescriptor* f : fields) {
    if (f->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (f->message_type() == v1::Payload::descriptor() && f->is_repeated()) {
      r->ClearField(m, f);  // (no event holds payloads so; dropped all the same)
      continue;
    }
    if (f->message_type() == v1::Payload::descriptor()) {
      const v1::Payload& payload = static_cast<const v1::Payload&>(r->GetMessage(*m, f));
      const google::protobuf::FieldDescriptor* kind =
          payload.GetReflection()->GetOneofFieldDescriptor(
              payload, v1::Payload::descriptor()->oneof_decl(0));
      if (auto* event = dynamic_cast<v1::Event*>(m);
          event != nullptr && event->type().empty() && kind != nullptr) {
        event->set_type(kind->message_type()->name());
      }
      r->ClearField(m, f);
      continue;
    }
    if (f->is_repeated()) {
      for (int i = 0; i < r->FieldSize(*m, f); ++i) {
        DropPayloads(r->MutableRepeatedMessage(m, f, i));
      }
    } else {
      DropPayloads(r->MutableMessage(m, f));
    }
  }
}

// Whether a message of type `d` can hold an event payload (every read's
// request cannot, and is described as it is), found once per type.
bool HoldsPayloads(const google::protobuf::Descriptor* d) {
  static absl::Mutex mu(absl::kConstInit);
  static auto* known ABSL_GUARDED_BY(mu) =
      new absl::flat_hash_map<const google::protobuf::Descriptor*, bool>();
  absl::MutexLock lock(&mu);
  if (auto it = known->find(d); it != known->end()) return it->second;
  // Breadth first over the types it holds (protos may nest themselves).
  absl::flat_hash_set<const google::protobuf::Descriptor*> seen = {d};
  std::vector<const google::protobuf::Descriptor*> next = {d};
  bool holds = false;
  while (!next.empty() && !holds) {
    const google::protobuf::Descriptor* t = next.back();
    next.pop_back();
    holds = t == v1::Payload::descriptor();
    for (int i = 0; i < t->field_count(); ++i) {
      const google::protobuf::Descriptor* m = t->field(i)->message_type();
      if (m != nullptr && seen.insert(m).second) next.push_back(m);
    }
  }
  known->emplace(d, holds);
  return holds;
}

// The request as its access record shows it: text on one line, cut short,
// and without event payloads (DropPayloads).
std::string Describe(const google::protobuf::Message& request) {
  std::unique_ptr<google::protobuf::Message> copy;
  const google::protobuf::Message* shown = &request;
  if (HoldsPayloads(request.GetDescriptor())) {
    copy.reset(request.New());
    copy->CopyFrom(request);
    DropPayloads(copy.get());
    shown = copy.get();
  }
  std::string text;
  google::protobuf::TextFormat::Printer printer;
  printer.SetSingleLineMode(true);
  // A string field of many megabytes is printed cut, not printed then cut.
  printer.SetTruncateStringFieldLongerThan(256);
  printer.PrintToString(*shown, &text);
  if (text.size() > kMaxRequestText) text = text.substr(0, kMaxRequestText) + "...";
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text.empty() ? std::string("(everything)") : text;
}

// The caller's "x-request-id" (if it is a sensible token), else a new one.
std::string RequestId(const grpc::ServerContextBase& context) {
  const auto& metadata = context.client_metadata();
  if (auto it = metadata.find("x-request-id"); it != metadata.end()) {
    const grpc::string_ref v = it->second;
    bool ok = !v.empty() && v.size() <= 128;
    for (size_t i = 0; ok && i < v.size(); ++i) {
      const char c = v.data()[i];
      ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.' || c == ':';
    }
    if (ok) return std::string(v.data(), v.size());
  }
  return NewUuid();
}

metrics::Counter& RecordedReads() {
  static metrics::Counter& recorded = metrics::Registry::Default().GetCounter(
      "evenhand_access_records_total",
      "Reads put on the record (AccessRecorded events) before they were answered.");
  return recorded;
}

// Refusals by status (UNAUTHENTICATED, PERMISSION_DENIED, ...).
void Denied(const absl::Status& status) {
  metrics::Registry::Default()
      .GetCounter("evenhand_access_denials_total",
                  "Calls refused by authentication or authorisation, by gRPC status.",
                  {{"code", absl::StatusCodeToString(status.code())}})
      .Add();
}

}  // namespace

CallGate::CallGate(Authorizer* authorizer, storage::EventStore* store,
                   std::function<absl::Time()> clock)
    : authorizer_(authorizer), store_(store), clock_(std::move(clock)), standing_(clock_) {
  // Shown as 0 before the first refusal, so that a rate can be taken.
  for (absl::StatusCode code : {absl::StatusCode::kUnauthenticated,
                                absl::StatusCode::kPermissionDenied}) {
    metrics::Registry::Default().GetCounter(
        "evenhand_access_denials_total",
        "Calls refused by authentication or authorisation, by gRPC status.",
        {{"code", absl::StatusCodeToString(code)}});
  }
  RecordedReads();
}

absl::StatusOr<Grant> CallGate::Admit(const grpc::ServerContextBase& context,
                                      absl::string_view method,
                                      const google::protobuf::Message& request) {
  {
    absl::MutexLock lock(&mu_);
    admitted_.insert(&context);  // asked, whatever the answer: the method did its part
  }
  // Lines this handler logs carry the call's request id.
  logging::SetThreadRequestId(RequestId(context));
  // Who, and whether they may: one decision by one policy.
  Authorizer::Decision decision =
      authorizer_->Decide(Caller::FromContext(context), method, request);
  const absl::StatusOr<Identity>& identity = decision.identity;
  if (!identity.ok()) {
    Denied(identity.status());
    // Not on the record (no principal to record it under), and repeated by a
    // client in a loop: written a few times a minute per address.
    const std::string peer = context.peer();
    logging::Repeated(
        logging::Severity::kWarning, "auth",
        absl::StrCat("unauthenticated ", peer.substr(0, peer.rfind(':'))),
        absl::StrCat("refused ", method, " from ", peer, ": ", identity.status().message()));
    return identity.status();
  }
  absl::StatusOr<Grant>& grant = decision.grant;
  if (!grant.ok() && !identity->listed && !identity->local) {
    // A caller without a role: its first refusal a minute on the record.
    const absl::Time now = clock_();
    bool record = true;
    {
      absl::MutexLock lock(&mu_);
      if (roleless_recorded_.size() >= kMaxRolelessKept) {
        absl::erase_if(roleless_recorded_,
                       [&](const auto& e) { return now - e.second >= kRolelessRecordEvery; });
        if (roleless_recorded_.size() >= kMaxRolelessKept) roleless_recorded_.clear();
      }
      auto [it, inserted] = roleless_recorded_.try_emplace(identity->principal, now);
      if (!inserted && now - it->second < kRolelessRecordEvery) {
        record = false;
      } else {
        it->second = now;
      }
    }
    if (!record) {
      Denied(grant.status());
      logging::Repeated(logging::Severity::kWarning, "auth",
                        absl::StrCat("roleless ", identity->principal),
                        absl::StrCat("refused ", method, " to ", identity->principal,
                                     ", which has no role (not recorded: its first refusal "
                                     "a minute is): ",
                                     grant.status().message()));
      return grant;
    }
  }
  if (!grant.ok()) {
    Denied(grant.status());
    // Every refusal is on the record too (best effort: it is refused anyway).
    absl::Status recorded =
        Append(*identity, method, request, 0, absl::StrCat("denied: ", grant.status().message()));
    if (!recorded.ok()) {
      logging::Error("auth", absl::StrCat("a refusal could not be recorded: ", recorded.message()));
    }
  }
  return grant;
}

absl::StatusOr<std::unique_ptr<StandingGrants::Hold>> CallGate::Hold(
    const grpc::ServerContextBase& context, absl::string_view method,
    const google::protobuf::Message& request, const Grant& grant) {
  absl::StatusOr<std::unique_ptr<StandingGrants::Hold>> held =
      standing_.Keep(*authorizer_, Caller::FromContext(context), std::string(method), request,
                     grant, CountedAs(method));
  if (!held.ok()) Refused(grant, method, request, held.status());
  return held;
}

void CallGate::Refused(const Grant& grant, absl::string_view method,
                       const google::protobuf::Message& request, const absl::Status& why) {
  // As any other refusal of a caller who authenticated: counted, and on
  // the record (best effort: it is refused anyway).
  Denied(why);
  absl::Status recorded =
      Append(grant.identity, method, request, 0, absl::StrCat("denied: ", why.message()));
  if (!recorded.ok()) {
    logging::Error("auth", absl::StrCat("a refusal could not be recorded: ", recorded.message()));
  }
}

StandingGrants::Counted CallGate::CountedAs(absl::string_view method) {
  if (method == "evenhand.v1.EventLog/ReadStream" || method == "evenhand.v1.EventLog/ReadAll" ||
      method == "evenhand.v1.Audit/Replay" || method == "evenhand.v1.Audit/Export") {
    return StandingGrants::Counted::kRead;
  }
  if (method == "evenhand.v1.Fairness/WatchObligations") return StandingGrants::Counted::kWatch;
  return StandingGrants::Counted::kNot;
}

absl::Status CallGate::Record(const Grant& grant, absl::string_view method,
                              const google::protobuf::Message& request, uint64_t events_returned,
                              absl::string_view outcome) {
  if (!grant.recorded) return absl::OkStatus();
  absl::Status s = Append(grant.identity, method, request, events_returned, outcome);
  if (s.ok()) {
    RecordedReads().Add();
    return s;
  }
  return WithErrorInfo(
      absl::UnavailableError(
          absl::StrCat("this read is refused because its access record could not be made durable (",
                       s.message(), "): every read is on the record before it is answered")),
      "ACCESS_NOT_RECORDED");
}

void CallGate::RecordEnd(const Grant& grant, absl::string_view method,
                         const google::protobuf::Message& request, uint64_t events_returned,
                         absl::string_view outcome) {
  if (!grant.recorded) return;
  absl::Status s = Append(grant.identity, method, request, events_returned, outcome);
  if (s.ok()) {
    RecordedReads().Add();
    return;
  }
  logging::Error("auth", absl::StrCat("the \"", outcome, "\" access record of a ", method,
                                      " call by ", Quoted(grant.identity.principal),
                                      " (already answered) was not appended: ", s.message()));
}

absl::Status CallGate::Append(const Identity& identity, absl::string_view method,
                              const google::protobuf::Message& request, uint64_t events_returned,
                              absl::string_view outcome) {
  v1::Event e;
  e.set_event_id(NewUuid());
  e.set_type("AccessRecorded");
  *e.mutable_occurred_at() = ToProtoTime(clock_());
  e.set_source_system("evenhandd");
  e.set_actor(identity.principal);
  v1::AccessRecorded* a = e.mutable_payload()->mutable_access_recorded();
  a->set_principal(identity.principal);
  a->set_authenticated_as(identity.authenticated_as);
  a->set_method(std::string(method));
  a->set_request(Describe(request));
  a->set_events_returned(events_returned);
  // A refusal's reason may quote what the caller sent: one bounded line.
  a->set_outcome(OneLine(outcome, kMaxRequestText));
  for (const std::string& r : identity.roles) a->add_roles(r);
  std::vector<v1::Event> events;
  events.push_back(std::move(e));
  return store_->AppendRecord(AccessStreamOf(identity.principal), std::move(events)).status();
}

bool CallGate::TakeAdmitted(const grpc::ServerContextBase* context) {
  absl::MutexLock lock(&mu_);
  return admitted_.erase(context) > 0;
}

}  // namespace evenhand::services::auth
