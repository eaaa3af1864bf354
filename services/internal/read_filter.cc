#include "services/internal/read_filter.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/error_details.h"
#include "base/nearest.h"
#include "base/status_macros.h"
#include "base/time_util.h"
#include "evenhand/v1/events.pb.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/time_util.h"

namespace evenhand::services::internal {

const std::vector<std::string>& KnownEventTypes() {
  static const auto* types = [] {
    auto* out = new std::vector<std::string>();
    const google::protobuf::Descriptor* payload = v1::Payload::descriptor();
    for (int i = 0; i < payload->field_count(); ++i) {
      const google::protobuf::FieldDescriptor* f = payload->field(i);
      if (f->message_type() != nullptr) out->push_back(f->message_type()->name());
    }
    return out;
  }();
  return *types;
}

absl::Status CheckFilterSize(absl::string_view field, int size) {
  if (size <= kMaxFilterValues) return absl::OkStatus();
  return InvalidFieldError(field,
                           absl::StrCat("at most ", kMaxFilterValues, " values, got ", size,
                                        ": ask for fewer at a time"),
                           "TOO_MANY_VALUES");
}

absl::Status CheckRequestTime(absl::string_view field, const google::protobuf::Timestamp& t,
                              bool period_end) {
  if (t.nanos() < 0 || t.nanos() > 999999999) {
    return InvalidFieldError(field, absl::StrCat("not a valid timestamp (nanos ", t.nanos(),
                                                 " is outside 0 to 999,999,999)"));
  }
  // What an unset or unconverted value encodes to (a JavaScript Date handed
  // to proto-loader, a zeroed struct): set, it would ask for 1970, and a
  // report of 1970 answers with nothing rather than an error.
  if (t.seconds() == 0 && t.nanos() == 0) {
    return InvalidFieldError(field,
                             "1970-01-01T00:00:00Z is an empty Timestamp (a value not set, or a "
                             "language's date object not converted to {seconds, nanos}): leave "
                             "the field unset for its default");
  }
  // A period's end is excluded: the end of 2199 is the last one.
  const bool end_of_range = period_end && t.seconds() == kEndCouncilSecond && t.nanos() == 0;
  if (!InCouncilYears(t) && !end_of_range) {
    return InvalidFieldError(field,
                             "must be a time between 1900 and 2200 (from 1900-01-01T00:00:00Z, "
                             "before 2200-01-01T00:00:00Z)");
  }
  return absl::OkStatus();
}

absl::Status CheckFilterTime(absl::string_view field, const google::protobuf::Timestamp& t) {
  using google::protobuf::util::TimeUtil;
  if (t.nanos() < 0 || t.nanos() > 999999999 || t.seconds() < TimeUtil::kTimestampMinSeconds ||
      t.seconds() > TimeUtil::kTimestampMaxSeconds) {
    return InvalidFieldError(field,
                             "not a valid timestamp (years 0001 to 9999, nanos 0 to "
                             "999,999,999)");
  }
  return absl::OkStatus();
}

absl::StatusOr<storage::ReadFilter> ToReadFilter(
    const google::protobuf::RepeatedPtrField<std::string>& stream_prefixes,
    const google::protobuf::RepeatedPtrField<std::string>& event_types,
    absl::string_view field_prefix) {
  EH_RETURN_IF_ERROR(
      CheckFilterSize(absl::StrCat(field_prefix, "stream_prefixes"), stream_prefixes.size()));
  EH_RETURN_IF_ERROR(
      CheckFilterSize(absl::StrCat(field_prefix, "event_types"), event_types.size()));
  storage::ReadFilter filter;
  const std::vector<std::string>& types = KnownEventTypes();
  for (const std::string& t : event_types) {
    if (std::find(types.begin(), types.end(), t) == types.end()) {
      return InvalidFieldError(absl::StrCat(field_prefix, "event_types"),
                               UnknownValueMessage("event type", t, types), "UNKNOWN_VALUE");
    }
    filter.event_types.push_back(t);
  }
  filter.stream_prefixes.assign(stream_prefixes.begin(), stream_prefixes.end());
  return filter;
}

}  // namespace evenhand::services::internal
