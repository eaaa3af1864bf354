#include "services/auth/withholding.h"

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"

namespace evenhand::services::auth {
namespace {

bool IsConfidential(const google::protobuf::FieldDescriptor* f) {
  return f->options().GetExtension(v1::confidential);
}

// Clears the confidential fields set in `m` (at any depth), calling
// `withheld(path)` for each.
template <typename OnWithheld>
int Clear(google::protobuf::Message* m, const std::string& path, const OnWithheld& withheld) {
  const google::protobuf::Reflection* r = m->GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  r->ListFields(*m, &fields);
  int n = 0;
  for (const auto* f : fields) {
    const std::string field_path = absl::StrCat(path, ".", f->name());
    if (IsConfidential(f)) {
      r->ClearField(m, f);
      withheld(field_path);
      ++n;
      continue;
    }
    if (f->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (f->is_repeated()) {
      for (int i = 0; i < r->FieldSize(*m, f); ++i) {
        n += Clear(r->MutableRepeatedMessage(m, f, i), absl::StrCat(field_path, "[", i, "]"),
                   withheld);
      }
    } else {
      n += Clear(r->MutableMessage(m, f), field_path, withheld);
    }
  }
  return n;
}

bool Any(const google::protobuf::Message& m) {
  const google::protobuf::Reflection* r = m.GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  for (const auto* f : fields) {
    if (IsConfidential(f)) return true;
    if (f->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (f->is_repeated()) {
      for (int i = 0; i < r->FieldSize(m, f); ++i) {
        if (Any(r->GetRepeatedMessage(m, f, i))) return true;
      }
    } else if (Any(r->GetMessage(m, f))) {
      return true;
    }
  }
  return false;
}

// The first value of a field named `name` at any depth, in field order.
std::string FirstNamed(const google::protobuf::Message& m, const std::string& name) {
  const google::protobuf::Reflection* r = m.GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  for (const auto* f : fields) {
    if (f->name() == name && !f->is_repeated() &&
        f->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_STRING) {
      return r->GetString(m, f);
    }
    if (f->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE && !f->is_repeated()) {
      std::string inner = FirstNamed(r->GetMessage(m, f), name);
      if (!inner.empty()) return inner;
    }
  }
  return "";
}

// Clears every event id `event` carries or names (its own, its correlation
// and causation ids, a correction's corrected_event_id), each listed in
// Event.withheld. A reader who is not shown every value gets none: ids are
// references, and one that names an event holding a value withheld from
// the reader, seen anywhere (a later event's causation id in the reader's
// own case, an offer caused by another group's request), gives it what it
// cannot guess of that event. With the rest of the event (its own read, a
// report's evidence) and any hash covering it (a proof another principal
// fetched), it could check guesses at the value (outside probe and two
// re-probes). Positions still find every event (a correction keeps
// corrected_position); an auditor reads ids whole.
void WithholdIds(const Grant& grant, v1::Event* event) {
  const std::string reason = absl::StrCat(
      "event ids are shown only to a reader shown every value (find events by position); read "
      "as ",
      grant.identity.principal);
  auto withhold = [&](std::string* id, const char* path) {
    if (id->empty()) return;
    id->clear();
    v1::WithheldValue* w = event->add_withheld();
    w->set_path(path);
    w->set_reason(reason);
  };
  withhold(event->mutable_event_id(), "event_id");
  withhold(event->mutable_correlation_id(), "correlation_id");
  withhold(event->mutable_causation_id(), "causation_id");
  if (event->payload().has_event_corrected()) {
    withhold(event->mutable_payload()->mutable_event_corrected()->mutable_corrected_event_id(),
             "payload.event_corrected.corrected_event_id");
  }
}

}  // namespace

int Withhold(const Grant& grant, const std::string& case_owner, v1::Event* event) {
  if (grant.values == Grant::Values::kFull) return 0;
  WithholdIds(grant, event);
  // What a group said is confidential to that group, in whichever case it
  // was recorded: a disclosure of labour's words recorded in green's
  // briefing (where it happened) showed them to green (outside probe).
  std::string owner = FirstNamed(event->payload(), "from_group_id");
  if (owner.empty()) owner = case_owner;
  for (const std::string& g : grant.groups) {
    if (!owner.empty() && g == owner) return 0;  // its own group's
  }
  const std::string reason = absl::StrCat(
      owner.empty() ? std::string("confidential (personal data or another case)")
                    : absl::StrCat("confidential to group ", owner),
      "; read as ", grant.identity.principal,
      grant.groups.empty() ? "" : absl::StrCat(" (group ", absl::StrJoin(grant.groups, ", "), ")"));
  return Clear(event->mutable_payload(), "payload", [&](const std::string& path) {
    v1::WithheldValue* w = event->add_withheld();
    w->set_path(path);
    w->set_reason(reason);
  });
}

bool HasConfidentialValue(const v1::Payload& payload) { return Any(payload); }

std::string CaseOwner(const std::string& stream_id, const v1::Event& first_event) {
  if (absl::StartsWith(stream_id, "group-")) return stream_id.substr(6);
  std::string owner = FirstNamed(first_event.payload(), "group_id");
  if (owner.empty()) owner = FirstNamed(first_event.payload(), "from_group_id");
  return owner;
}

}  // namespace evenhand::services::auth
