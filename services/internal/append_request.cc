#include "services/internal/append_request.h"

#include "absl/strings/str_cat.h"
#include "base/error_details.h"
#include "base/metrics.h"

namespace evenhand::services::internal {

// Appends by outcome, and how long they took to answer (durable or
// refused), for /metrics.
void CountAppend(absl::StatusCode code, absl::Time started) {
  struct ByCode {
    metrics::Counter* calls;
    metrics::Histogram* seconds;
  };
  static ByCode* by_code = [] {
    auto* table = new ByCode[17];
    for (int c = 0; c <= 16; ++c) {
      const metrics::Labels labels = {
          {"code", absl::StatusCodeToString(static_cast<absl::StatusCode>(c))}};
      table[c].calls = &metrics::Registry::Default().GetCounter(
          "evenhand_append_requests_total", "EventLog.Append calls answered, by gRPC status.",
          labels);
      table[c].seconds = &metrics::Registry::Default().GetHistogram(
          "evenhand_append_duration_seconds",
          "Time from an Append call's arrival to its answer (after the fsync for OK), by gRPC "
          "status.",
          metrics::LatencyBuckets(), labels);
    }
    return table;
  }();
  const int c = static_cast<int>(code);
  if (c < 0 || c > 16) return;
  by_code[c].calls->Add();
  by_code[c].seconds->Observe(absl::ToDoubleSeconds(absl::Now() - started));
}

absl::StatusOr<storage::ExpectedRevision> ToExpected(const v1::AppendRequest& request) {
  switch (request.expected_revision_case()) {
    case v1::AppendRequest::kExactRevision:
      return storage::ExpectedRevision::Exact(request.exact_revision());
    case v1::AppendRequest::kExpectedState:
      switch (request.expected_state()) {
        case v1::EXPECTED_STATE_UNSPECIFIED:
        case v1::ANY:
          return storage::ExpectedRevision::Any();
        case v1::NO_STREAM:
          return storage::ExpectedRevision::NoStream();
        case v1::STREAM_EXISTS:
          return storage::ExpectedRevision::StreamExists();
        default:
          return InvalidFieldError("expected_state",
                                   absl::StrCat("unknown value ", request.expected_state(),
                                                "; use ANY, NO_STREAM, STREAM_EXISTS or set "
                                                "exact_revision"));
      }
    case v1::AppendRequest::EXPECTED_REVISION_NOT_SET:
      return storage::ExpectedRevision::Any();
  }
  return storage::ExpectedRevision::Any();
}

}  // namespace evenhand::services::internal
