// What EventLog.Append and AppendStream share: the request's expected
// revision, and the calls' figures for /metrics.
#ifndef EVENHAND_SERVICES_INTERNAL_APPEND_REQUEST_H_
#define EVENHAND_SERVICES_INTERNAL_APPEND_REQUEST_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "evenhand/v1/log.pb.h"
#include "storage/event_store.h"

namespace evenhand::services::internal {

// The request's expected revision: INVALID_ARGUMENT for an unknown state,
// and (UNKNOWN_FIELD) for a request holding a field the server does not
// know, which could have been its precondition.
absl::StatusOr<storage::ExpectedRevision> ToExpected(const v1::AppendRequest& request);

// One append answered with `code`, `started` when it arrived.
void CountAppend(absl::StatusCode code, absl::Time started);
// Puts the appends' counts and histograms, by status, on /metrics at 0
// before the first append, so that a rate can be taken from the start (and
// the first refusal of a rare status is not lost to a series starting at 1).
void ShowAppendMetrics();

}  // namespace evenhand::services::internal

#endif  // EVENHAND_SERVICES_INTERNAL_APPEND_REQUEST_H_
