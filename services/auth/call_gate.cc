#include "services/auth/call_gate.h"

#include <memory>
#include <optional>
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

// An append's request on its record (its payloads dropped): cut here. A
// refusal's reason: one line, cut here.
constexpr size_t kMaxRequestText = 2000;
// Any other request (a read) is on its record whole, up to this; one whose
// text is longer is refused, so that nothing asked for is left off the
// record (found from outside: a filter padded past 2,000 bytes with
// prefixes that matched nothing hid what was read).
constexpr size_t kMaxReadText = 16384;
// The request of a call refused on its headers, as its record shows it.
constexpr absl::string_view kNotRead = "(not read: refused on its headers)";

// Refusals on the record (RefusalThrottle): one alike a minute, and at most
// kRefusalsPerMinute a minute of one principal (one, of a caller without a
// role); how many principals are remembered.
constexpr absl::Duration kRefusalRecordEvery = absl::Minutes(1);
constexpr size_t kRefusalsPerMinute = 60;
constexpr size_t kMaxRefusalsKept = 100000;

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

// The request as its access record shows it: text on one line, without
// event payloads (DropPayloads) and cut at kMaxRequestText for an append;
// any other request whole up to kMaxReadText (`whole`, if given, says
// whether it was).
std::string Describe(const google::protobuf::Message& request, bool* whole = nullptr) {
  std::unique_ptr<google::protobuf::Message> copy;
  const google::protobuf::Message* shown = &request;
  const bool append = HoldsPayloads(request.GetDescriptor());
  if (append) {
    copy.reset(request.New());
    copy->CopyFrom(request);
    DropPayloads(copy.get());
    shown = copy.get();
  }
  const size_t limit = append ? kMaxRequestText : kMaxReadText;
  std::string text;
  google::protobuf::TextFormat::Printer printer;
  printer.SetSingleLineMode(true);
  // A string field of many megabytes is printed cut, not printed then cut
  // (a read's cut field makes its text longer than the limit).
  printer.SetTruncateStringFieldLongerThan(append ? 256 : kMaxReadText);
  printer.PrintToString(*shown, &text);
  if (whole != nullptr) *whole = text.size() <= limit;
  if (text.size() > limit) text = text.substr(0, limit) + "...";
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text.empty() ? std::string("(everything)") : text;
}

// Why a read's request cannot be put on its record whole, if it cannot.
// Printed only when its bytes could make that much text (each byte prints
// as at most about eight characters, with its field's name).
std::optional<absl::Status> TooLongToRecord(const google::protobuf::Message& request) {
  if (request.ByteSizeLong() * 10 <= kMaxReadText || HoldsPayloads(request.GetDescriptor())) {
    return std::nullopt;
  }
  bool whole = true;
  const size_t size = Describe(request, &whole).size();
  if (whole) return std::nullopt;
  // The field that makes it long, to name.
  std::unique_ptr<google::protobuf::Message> copy(request.New());
  copy->CopyFrom(request);
  const google::protobuf::Reflection* r = copy->GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  r->ListFields(*copy, &fields);
  std::string longest = "request";
  size_t most = 0;
  for (const google::protobuf::FieldDescriptor* f : fields) {
    std::unique_ptr<google::protobuf::Message> alone(request.New());
    r->SwapFields(copy.get(), alone.get(), {f});
    const size_t bytes = alone->ByteSizeLong();
    if (bytes > most) {
      most = bytes;
      longest = f->name();
    }
  }
  // What is left are the fields this server does not know (at the top).
  if (copy->ByteSizeLong() > most) longest = "(fields this server does not know)";
  return InvalidFieldError(
      longest,
      absl::StrCat("the request is too long to put on the record whole (at least ", size,
                   " bytes of text, over the ", kMaxReadText,
                   " an access record holds): every read is on the record with everything it "
                   "asked for; ask with fewer or shorter values"),
      "REQUEST_TOO_LONG_TO_RECORD");
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
    : authorizer_(authorizer),
      store_(store),
      clock_(std::move(clock)),
      refusals_(kRefusalRecordEvery, kRefusalsPerMinute, kMaxRefusalsKept),
      roleless_refusals_(kRefusalRecordEvery, 1, kMaxRefusalsKept),
      standing_(clock_) {
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
  if (grant.ok() && grant->recorded) {
    if (std::optional<absl::Status> too_long = TooLongToRecord(request)) grant = *too_long;
  }
  if (!grant.ok() && absl::IsPermissionDenied(grant.status()) &&
      !GetErrorInfo(grant.status()).has_value()) {
    // Who was refused, for programs (README's table; found from outside:
    // a lane's refusal had no metadata).
    grant =
        WithErrorInfo(grant.status(), "PERMISSION_DENIED", {{"principal", identity->principal}});
  }
  if (!grant.ok()) {
    const bool roleless = !identity->listed && !identity->local;
    Refused(*identity, roleless, method, &request, grant.status());
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
  // As any other refusal of a caller who authenticated.
  Refused(grant.identity, /*roleless=*/false, method, &request, why);
}

void CallGate::RefusedUnread(const Identity& identity, absl::string_view method,
                             const absl::Status& why) {
  Refused(identity, /*roleless=*/!identity.listed && !identity.local, method, nullptr, why);
}

void CallGate::Refused(const Identity& identity, bool roleless, absl::string_view method,
                       const google::protobuf::Message* request, const absl::Status& why) {
  Denied(why);
  // Refusals alike at most once a minute on the record, with how many were
  // passed over; for a caller without a role, any refusal.
  // (A message is cut to a length no two refusals alike differ beyond.)
  const std::string kind = roleless
                               ? std::string()
                               : absl::StrCat(method, "\n", absl::StatusCodeToString(why.code()),
                                              "\n", why.message().substr(0, 512));
  const absl::Time now = clock_();
  std::optional<RefusalThrottle<LastRefusal>::PassedOver> passed =
      (roleless ? roleless_refusals_ : refusals_)
          .Take(identity.principal, std::string(method), kind, now, [&] {
            return LastRefusal{identity, std::string(why.message().substr(0, 4096))};
          });
  if (!passed.has_value()) {
    logging::Repeated(
        logging::Severity::kWarning, "auth", absl::StrCat("refusals ", identity.principal),
        absl::StrCat("refused ", method, " to ", identity.principal,
                     roleless ? ", which has no role (not recorded: its first refusal a minute "
                                "is, with a count of the others): "
                              : " (not recorded: one refused alike was in the last minute, or "
                                "its refusals this minute were many; the next recorded says "
                                "how many were not): ",
                     why.message()));
    return;
  }
  // Best effort: it is refused anyway.
  const std::string outcome = absl::StrCat("denied: ", why.message());
  if (request == nullptr) {
    std::vector<v1::Event> events;
    events.push_back(RecordOf(identity, method, std::string(kNotRead), 0, outcome, passed->count));
    store_->AppendRecordAsync(
        AccessStreamOf(identity.principal), std::move(events),
        [](absl::StatusOr<storage::AppendResult> r) {
          if (r.ok()) return;
          logging::Error("auth",
                         absl::StrCat("a refusal could not be recorded: ", r.status().message()));
        });
    return;
  }
  absl::Status recorded = Append(identity, method, *request, 0, outcome, passed->count);
  if (!recorded.ok()) {
    logging::Error("auth", absl::StrCat("a refusal could not be recorded: ", recorded.message()));
  }
}

size_t CallGate::RecordPassedOver(bool all) {
  const absl::Time now = clock_();
  std::vector<RefusalThrottle<LastRefusal>::Overdue> overdue = refusals_.TakeOverdue(now, all);
  for (RefusalThrottle<LastRefusal>::Overdue& o : roleless_refusals_.TakeOverdue(now, all)) {
    overdue.push_back(std::move(o));
  }
  size_t written = 0;
  for (const RefusalThrottle<LastRefusal>::Overdue& o : overdue) {
    const LastRefusal& last = o.last;
    std::vector<v1::Event> events;
    events.push_back(RecordOf(last.identity, o.method,
                              absl::StrCat("(recorded late: the last of ", o.count,
                                           " refusals not recorded when refused)"),
                              0, absl::StrCat("denied: ", last.why), o.count - 1));
    *events.back().mutable_occurred_at() = ToProtoTime(o.last_at);
    absl::Status s = store_->AppendRecord(AccessStreamOf(o.principal), std::move(events)).status();
    if (!s.ok()) {
      logging::Error("auth",
                     absl::StrCat(o.count, " refusals of ", o.method, " to ", Quoted(o.principal),
                                  " not recorded one by one could not be recorded: ", s.message()));
      continue;
    }
    ++written;
  }
  return written;
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
                              absl::string_view outcome, uint64_t refusals_not_recorded) {
  std::vector<v1::Event> events;
  events.push_back(RecordOf(identity, method, Describe(request), events_returned, outcome,
                            refusals_not_recorded));
  return store_->AppendRecord(AccessStreamOf(identity.principal), std::move(events)).status();
}

v1::Event CallGate::RecordOf(const Identity& identity, absl::string_view method,
                             std::string request, uint64_t events_returned,
                             absl::string_view outcome, uint64_t refusals_not_recorded) const {
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
  a->set_request(std::move(request));
  a->set_events_returned(events_returned);
  // A refusal's reason may quote what the caller sent: one bounded line.
  a->set_outcome(OneLine(outcome, kMaxRequestText));
  for (const std::string& r : identity.roles) a->add_roles(r);
  a->set_refusals_not_recorded(refusals_not_recorded);
  return e;
}

bool CallGate::TakeAdmitted(const grpc::ServerContextBase* context) {
  absl::MutexLock lock(&mu_);
  return admitted_.erase(context) > 0;
}

}  // namespace evenhand::services::auth
