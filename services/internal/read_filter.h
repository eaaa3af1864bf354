// The stream-prefix and event-type filters of reads, subscriptions, replays
// and exports (v1::Filter, v1::ReplayFilter), turned into storage's
// ReadFilter. An event type that nothing could ever match (a typo) is
// refused, naming the nearest and the known ones, rather than read as
// "nothing happened". Stream prefixes are taken as given: a log written
// without domain validation may name its streams freely. Knows the event
// model's names; not the log.
#ifndef EVENHAND_SERVICES_INTERNAL_READ_FILTER_H_
#define EVENHAND_SERVICES_INTERNAL_READ_FILTER_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "google/protobuf/timestamp.pb.h"
#include "storage/event_store.h"

namespace evenhand::services::internal {

// The most values a request's filter list may hold (event types, stream
// prefixes, groups, rules, officers). Each is checked per event or per
// finding, so an unbounded list would multiply a read's cost; no honest
// question names more.
inline constexpr int kMaxFilterValues = 64;

// INVALID_ARGUMENT (TOO_MANY_VALUES, naming `field`) for a list longer than
// kMaxFilterValues.
absl::Status CheckFilterSize(absl::string_view field, int size);

// INVALID_ARGUMENT naming `field` for a time a request's period or moment
// cannot be: not a valid Timestamp (nanos outside 0-999,999,999), the empty
// (all-zero) Timestamp, or outside 1900-2200 (times are counted in 64-bit
// nanoseconds, 1677-2262, and a council's dates lie well inside). A
// `period_end` (excluded) may be 2200-01-01T00:00:00Z itself, the end of
// 2199's last day.
absl::Status CheckRequestTime(absl::string_view field, const google::protobuf::Timestamp& t,
                              bool period_end = false);
// The same for a read's filter, which compares times and signs nothing: any
// valid Timestamp (0001-9999), so that 0001-01-01 and 9999-12-31 may mean
// "no limit".
absl::Status CheckFilterTime(absl::string_view field, const google::protobuf::Timestamp& t);

// Every event type's name ("BriefingRequested", ...), from the Payload.
const std::vector<std::string>& KnownEventTypes();

// INVALID_ARGUMENT (UNKNOWN_VALUE, field `field_prefix` + "event_types")
// for an unknown type, TOO_MANY_VALUES for a list too long; otherwise
// storage's filter.
absl::StatusOr<storage::ReadFilter> ToReadFilter(
    const google::protobuf::RepeatedPtrField<std::string>& stream_prefixes,
    const google::protobuf::RepeatedPtrField<std::string>& event_types,
    absl::string_view field_prefix);

}  // namespace evenhand::services::internal

#endif  // EVENHAND_SERVICES_INTERNAL_READ_FILTER_H_
