#include "services/internal/append_request.h"

#include "absl/base/call_once.h"
#include "absl/strings/str_cat.h"
#include "base/error_details.h"
#include "base/metrics.h"
#include "google/protobuf/unknown_field_set.h"

namespace evenhand::services::internal {

namespace {

// Appends answered with one gRPC status, and how long they took to answer
// (durable or refused), for /metrics: all shown from the server's start
// (ShowAppendMetrics).
struct ByCode {
  absl::once_flag once;
  metrics::Counter* calls = nullptr;
  metrics::Histogram* seconds = nullptr;
};

ByCode& AppendMetrics(absl::StatusCode code) {
  static ByCode* table = new ByCode[17];
  ByCode& m = table[static_cast<int>(code)];
  absl::call_once(m.once, [&m, code] {
    const metrics::Labels labels = {{"code", absl::StatusCodeToString(code)}};
    m.calls = &metrics::Registry::Default().GetCounter(
        "evenhand_append_requests_total", "EventLog.Append calls answered, by gRPC status.",
        labels);
    m.seconds = &metrics::Registry::Default().GetHistogram(
        "evenhand_append_duration_seconds",
        "Time from an Append call's arrival to its answer (after the fsync for OK), by gRPC "
        "status.",
        metrics::LatencyBuckets(), labels);
  });
  return m;
}

}  // namespace

void ShowAppendMetrics() {
  for (int c = 0; c <= 16; ++c) AppendMetrics(static_cast<absl::StatusCode>(c));
}

void CountAppend(absl::StatusCode code, absl::Time started) {
  const int c = static_cast<int>(code);
  if (c < 0 || c > 16) return;
  ByCode& m = AppendMetrics(code);
  m.calls->Add();
  m.seconds->Observe(absl::ToDoubleSeconds(absl::Now() - started));
}

absl::StatusOr<storage::ExpectedRevision> ToExpected(const v1::AppendRequest& request) {
  // A field this server does not know could be a precondition (a newer
  // client's, or exact_revision sent with another wire type and so parsed
  // as unknown): appended without it, the publisher's intent is lost.
  if (const google::protobuf::UnknownFieldSet& unknown =
          request.GetReflection()->GetUnknownFields(request);
      !unknown.empty()) {
    return InvalidFieldError(
        "AppendRequest",
        absl::StrCat("field number ", unknown.field(0).number(),
                     " is not in this server's AppendRequest, or has the wrong wire type (the "
                     "publisher's .proto is newer than the server's, or the bytes are damaged); "
                     "nothing was appended"),
        "UNKNOWN_FIELD");
  }
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
                                                "exact_revision"),
                                   "UNKNOWN_ENUM_VALUE");
      }
    case v1::AppendRequest::EXPECTED_REVISION_NOT_SET:
      return storage::ExpectedRevision::Any();
  }
  return storage::ExpectedRevision::Any();
}

}  // namespace evenhand::services::internal
