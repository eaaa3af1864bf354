#include "services/event_validation.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/error_details.h"
#include "base/time_util.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/unknown_field_set.h"
#include "google/protobuf/util/time_util.h"

namespace evenhand::services {
namespace {

constexpr size_t kMaxShortField = 256;
// A payload's identifiers (fields named *_id, *_ids) name cases, people and
// streams: short, and in the stream-id alphabet.
constexpr size_t kMaxIdField = 128;

bool IdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == ':' || c == '@' || c == '/' || c == '+' || c == '=';
}

absl::Status CheckString(const AppendLimits& limits, const google::protobuf::FieldDescriptor* f,
                         const std::string& path, const std::string& value) {
  const bool id = absl::EndsWith(f->name(), "_id") || absl::EndsWith(f->name(), "_ids");
  const size_t limit = id ? kMaxIdField : limits.max_text_bytes;
  if (value.size() > limit) {
    return InvalidFieldError(
        path,
        absl::StrCat("at most ", limit, " bytes",
                     id ? " for an identifier" : " of text (max_text_bytes in the server config)",
                     ", got ", value.size()));
  }
  if (id) {
    for (size_t i = 0; i < value.size(); ++i) {
      if (!IdChar(value[i])) {
        return InvalidFieldError(
            path, absl::StrCat("character ", i + 1,
                               " is not allowed in an identifier; use letters, digits and "
                               "- _ . : @ / + ="));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status Invalid(int index, absl::string_view field, absl::string_view problem) {
  return InvalidFieldError(absl::StrCat("events[", index, "].", field), problem);
}

// When something happened: a real timestamp, not the empty one, and not
// further ahead of the server's clock than the configured skew.
absl::Status CheckInstant(int index, absl::string_view field,
                          const google::protobuf::Timestamp& at, absl::Time now,
                          const AppendLimits& limits) {
  using google::protobuf::util::TimeUtil;
  if (at.seconds() < TimeUtil::kTimestampMinSeconds ||
      at.seconds() > TimeUtil::kTimestampMaxSeconds || at.nanos() < 0 || at.nanos() > 999999999) {
    return Invalid(index, field, "not a valid timestamp");
  }
  // The all-zero Timestamp is what an unset or unconverted value encodes to
  // (a JavaScript Date handed to proto-loader, a zeroed struct): never a
  // council's fact.
  if (at.seconds() == 0 && at.nanos() == 0) {
    return Invalid(index, field,
                   "required: 1970-01-01T00:00:00Z is an empty Timestamp (a value not set, or a "
                   "language's date object not converted to {seconds, nanos})");
  }
  // Times are counted in nanoseconds (64 bits: 1677 to 2262); no council
  // system records a fact from before 1900, so an earlier one is a
  // mistyped year.
  if (at.seconds() < kFirstCouncilSecond) {
    return Invalid(index, field,
                   "is before 1900-01-01: not a date a council system records (a mistyped year?)");
  }
  const absl::Time occurred = FromProtoTime(at);
  if (occurred > now + limits.max_clock_skew) {
    // Its own reason: a program can tell a slow server clock (hold the
    // event, send it again once the clock is put right) from a bad event.
    const std::string path = absl::StrCat("events[", index, "].", field);
    return WithErrorInfo(
        InvalidFieldError(
            path,
            absl::StrCat(absl::FormatTime(occurred, absl::UTCTimeZone()), " is more than ",
                         absl::FormatDuration(limits.max_clock_skew),
                         " ahead of the server's clock, which says ",
                         absl::FormatTime(now, absl::UTCTimeZone()),
                         " (maxFutureSkewSeconds in the server config). If that clock is wrong, "
                         "the event is not: have the server's clock put right, then send it "
                         "again")),
        "AHEAD_OF_SERVER_CLOCK",
        {{"field", path},
         {"server_time", absl::FormatTime(absl::RFC3339_full, now, absl::UTCTimeZone())},
         {"max_future_skew_seconds", absl::StrCat(absl::ToInt64Seconds(limits.max_clock_skew))}});
  }
  return absl::OkStatus();
}

absl::Status CheckShort(int index, absl::string_view field, const std::string& value) {
  if (value.size() > kMaxShortField) {
    return Invalid(index, field,
                   absl::StrCat("at most ", kMaxShortField, " bytes, got ", value.size()));
  }
  return absl::OkStatus();
}

// Fields the server's contract does not have parse into a message's unknown
// fields. They cannot be hashed (the canonical encoding has no place for
// them) nor read back, so they are refused, naming where they are.
absl::Status CheckNoUnknownFields(const google::protobuf::Message& m, const std::string& path) {
  const google::protobuf::Reflection* r = m.GetReflection();
  if (const google::protobuf::UnknownFieldSet& unknown = r->GetUnknownFields(m); !unknown.empty()) {
    return InvalidFieldError(
        path,
        absl::StrCat("field number ", unknown.field(0).number(), " is not in this server's ",
                     m.GetDescriptor()->full_name(),
                     " (the publisher's .proto is newer than the server's, or the bytes are "
                     "damaged)"),
        "UNKNOWN_FIELD");
  }
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  for (const google::protobuf::FieldDescriptor* f : fields) {
    if (f->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) continue;
    const std::string field_path = absl::StrCat(path, ".", f->name());
    if (f->is_repeated()) {
      for (int i = 0; i < r->FieldSize(m, f); ++i) {
        if (absl::Status s = CheckNoUnknownFields(r->GetRepeatedMessage(m, f, i),
                                                  absl::StrCat(field_path, "[", i, "]"));
            !s.ok()) {
          return s;
        }
      }
    } else if (absl::Status s = CheckNoUnknownFields(r->GetMessage(m, f), field_path); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

// Proto3 enums are open: a number the server does not know parses, and
// would be stored as evidence nobody can read. Every enum field at any depth
// must hold a value this server knows. Strings are bounded (identifiers
// also in their alphabet). `path` names `m` from the request.
absl::Status CheckFields(const AppendLimits& limits, const google::protobuf::Message& m,
                         const std::string& path) {
  if (m.GetDescriptor() == google::protobuf::Timestamp::descriptor()) {
    if (!InCouncilYears(static_cast<const google::protobuf::Timestamp&>(m))) {
      return InvalidFieldError(path,
                               "must be a time between 1900 and 2200 (a mistyped year, or a "
                               "value not converted to {seconds, nanos}?)");
    }
    return absl::OkStatus();
  }
  const google::protobuf::Reflection* r = m.GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  for (const google::protobuf::FieldDescriptor* f : fields) {
    const std::string field_path = absl::StrCat(path, ".", f->name());
    if (f->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_STRING) {
      const int n = f->is_repeated() ? r->FieldSize(m, f) : 1;
      for (int i = 0; i < n; ++i) {
        const std::string value =
            f->is_repeated() ? r->GetRepeatedString(m, f, i) : r->GetString(m, f);
        if (absl::Status s = CheckString(
                limits, f, f->is_repeated() ? absl::StrCat(field_path, "[", i, "]") : field_path,
                value);
            !s.ok()) {
          return s;
        }
      }
    } else if (f->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_ENUM) {
      const int n = f->is_repeated() ? r->FieldSize(m, f) : 1;
      for (int i = 0; i < n; ++i) {
        const int value =
            f->is_repeated() ? r->GetRepeatedEnumValue(m, f, i) : r->GetEnumValue(m, f);
        if (f->enum_type()->FindValueByNumber(value) != nullptr) continue;
        std::vector<std::string> known;
        for (int v = 0; v < f->enum_type()->value_count(); ++v) {
          if (f->enum_type()->value(v)->number() != 0)
            known.push_back(f->enum_type()->value(v)->name());
        }
        return InvalidFieldError(
            absl::StrCat(field_path, f->is_repeated() ? absl::StrCat("[", i, "]") : ""),
            absl::StrCat(value, " is not a known ", f->enum_type()->name(),
                         " (known: ", absl::StrJoin(known, ", "), ")"),
            "UNKNOWN_ENUM_VALUE");
      }
    } else if (f->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) {
      if (f->is_repeated()) {
        for (int i = 0; i < r->FieldSize(m, f); ++i) {
          if (absl::Status s = CheckFields(limits, r->GetRepeatedMessage(m, f, i),
                                           absl::StrCat(field_path, "[", i, "]"));
              !s.ok()) {
            return s;
          }
        }
      } else if (absl::Status s = CheckFields(limits, r->GetMessage(m, f), field_path); !s.ok()) {
        return s;
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string PayloadTypeName(const v1::Payload& payload) {
  const google::protobuf::OneofDescriptor* kind =
      v1::Payload::descriptor()->FindOneofByName("kind");
  const google::protobuf::FieldDescriptor* field =
      v1::Payload::GetReflection()->GetOneofFieldDescriptor(payload, kind);
  return field == nullptr ? std::string() : field->message_type()->name();
}

absl::Status ValidateEnvelope(int index, const AppendLimits& limits, absl::Time now,
                              v1::Event* event) {
  if (absl::Status s = CheckNoUnknownFields(*event, absl::StrCat("events[", index, "]")); !s.ok()) {
    return s;
  }
  if (!event->has_payload() || PayloadTypeName(event->payload()).empty()) {
    return Invalid(index, "payload",
                   "required: set exactly one event, e.g. {\"briefingRequested\": {...}}");
  }
  std::string type = PayloadTypeName(event->payload());
  if (!event->type().empty() && event->type() != type) {
    return Invalid(index, "type",
                   absl::StrCat("\"", event->type(), "\" does not match the payload, which is a ",
                                type, "; leave type empty to have it filled"));
  }
  event->set_type(type);
  if (absl::Status s =
          CheckFields(limits, event->payload(), absl::StrCat("events[", index, "].payload"));
      !s.ok()) {
    return s;
  }

  if (!event->has_occurred_at()) {
    return Invalid(index, "occurred_at", "required: when the fact happened, as a timestamp");
  }
  if (absl::Status s = CheckInstant(index, "occurred_at", event->occurred_at(), now, limits);
      !s.ok()) {
    return s;
  }
  // A correction of when something happened is held to the same rules.
  if (event->payload().has_event_corrected() &&
      event->payload().event_corrected().has_replacement_occurred_at()) {
    if (absl::Status s = CheckInstant(index, "payload.event_corrected.replacement_occurred_at",
                                      event->payload().event_corrected().replacement_occurred_at(),
                                      now, limits);
        !s.ok()) {
      return s;
    }
  }
  if (event->source_system().empty()) {
    return Invalid(index, "source_system",
                   "required: the system that reports the event, e.g. \"committee-mgmt\"");
  }
  for (auto [name, value] :
       {std::pair<const char*, const std::string*>{"source_system", &event->source_system()},
        {"actor", &event->actor()},
        {"correlation_id", &event->correlation_id()},
        {"causation_id", &event->causation_id()}}) {
    if (absl::Status s = CheckShort(index, name, *value); !s.ok()) return s;
  }
  // The server sets recorded_at; a publisher's value is not evidence of
  // anything and is dropped.
  event->clear_recorded_at();
  // What a reader was not entitled to is the server's to say, on reads: a
  // marker appended would be stored, hashed and served as if the server had
  // withheld a value (outside probe).
  if (event->withheld_size() > 0) {
    return Invalid(index, "withheld",
                   "set by the server on reads only (the values a reader was not entitled to): "
                   "an append may not carry it; send the event's values as they are");
  }

  const size_t size = event->ByteSizeLong();
  if (size > limits.max_event_bytes) {
    return InvalidFieldError(
        absl::StrCat("events[", index, "]"),
        absl::StrCat(size, " bytes serialised, over the limit of ", limits.max_event_bytes,
                     " bytes (max_event_bytes in the server config)"),
        "EVENT_TOO_LARGE");
  }
  return absl::OkStatus();
}

absl::Status PrepareEvents(const AppendLimits& limits, absl::Time now,
                           std::vector<v1::Event>* events) {
  if (events->empty()) {
    return InvalidFieldError("events", "at least one event is required");
  }
  if (events->size() > limits.max_batch_events) {
    return InvalidFieldError(
        "events",
        absl::StrCat(events->size(), " events in one append, over the limit of ",
                     limits.max_batch_events, " (max_batch_events); split the batch"),
        "TOO_MANY_EVENTS");
  }
  for (size_t i = 0; i < events->size(); ++i) {
    if (absl::Status s = ValidateEnvelope(static_cast<int>(i), limits, now, &(*events)[i]);
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace evenhand::services
