// What an event names (stream_references.h).
#include "projections/stream_references.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "projections/fairness_projection.h"

namespace evenhand::projections {
namespace {

// The prefix of the streams a field's values name, or "" if none.
const char* PrefixOfField(absl::string_view name) {
  // A list of ids: member_ids as member_id.
  if (absl::EndsWith(name, "_ids")) name.remove_suffix(1);
  struct Suffix {
    const char* field;
    const char* stream;
  };
  static constexpr Suffix kSuffixes[] = {
      {"member_id", "member-"},     {"group_id", "group-"},    {"officer_id", "officer-"},
      {"briefing_id", "briefing-"}, {"offer_id", "briefing-"},
  };
  for (const Suffix& s : kSuffixes) {
    if (absl::EndsWith(name, s.field)) return s.stream;
  }
  return "";
}

void Collect(const google::protobuf::Message& m, std::vector<std::string>* out) {
  const google::protobuf::Reflection* reflection = m.GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  reflection->ListFields(m, &fields);
  for (const google::protobuf::FieldDescriptor* f : fields) {
    if (f->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) {
      if (!f->is_repeated()) {
        Collect(reflection->GetMessage(m, f), out);
        continue;
      }
      for (int i = 0; i < reflection->FieldSize(m, f); ++i) {
        Collect(reflection->GetRepeatedMessage(m, f, i), out);
      }
      continue;
    }
    if (f->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_STRING) continue;
    const char* prefix = PrefixOfField(f->name());
    if (*prefix == '\0') continue;
    if (!f->is_repeated()) {
      if (const std::string& id = reflection->GetString(m, f); !id.empty()) {
        out->push_back(absl::StrCat(prefix, id));
      }
      continue;
    }
    for (int i = 0; i < reflection->FieldSize(m, f); ++i) {
      if (const std::string& id = reflection->GetRepeatedString(m, f, i); !id.empty()) {
        out->push_back(absl::StrCat(prefix, id));
      }
    }
  }
}

}  // namespace

std::vector<std::string> NamedStreams(const v1::Payload& payload) {
  std::vector<std::string> found;
  Collect(payload, &found);
  // A correction goes in the stream of what it corrects: its replacement's.
  const std::string own = payload.has_event_corrected()
                              ? CanonicalStream(payload.event_corrected().replacement())
                              : CanonicalStream(payload);
  std::vector<std::string> named;
  absl::flat_hash_set<std::string> seen;  // (a group may name 100,000 councillors)
  for (std::string& s : found) {
    if (s == own || !seen.insert(s).second) continue;
    named.push_back(std::move(s));
  }
  return named;
}

}  // namespace evenhand::projections
