// Machine-readable error details on an absl::Status: a reason a program can
// switch on, the field a request got wrong, the revision a stream is really
// at, how long to wait before trying again. They ride as the status's
// payloads (keyed by the google.rpc type URL) from the layer that knows them
// to the service's edge, where ToGrpcStatus (grpc_status.h) sends them as
// google.rpc.Status details in the `grpc-status-details-bin` trailer, beside
// the message for people. This module knows google/rpc/*.proto, not gRPC.
//
// Every error evenhandd sends carries an ErrorInfo in domain kErrorDomain;
// a status made without one gets the name of its code as its reason
// (README.md's errors table lists the reasons).
#ifndef EVENHAND_BASE_ERROR_DETAILS_H_
#define EVENHAND_BASE_ERROR_DETAILS_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/rpc/error_details.pb.h"

namespace evenhand {

inline constexpr char kErrorDomain[] = "evenhand.council";

// The type URLs under which details ride (Any's convention).
inline constexpr char kErrorInfoUrl[] = "type.googleapis.com/google.rpc.ErrorInfo";
inline constexpr char kBadRequestUrl[] = "type.googleapis.com/google.rpc.BadRequest";
inline constexpr char kPreconditionFailureUrl[] =
    "type.googleapis.com/google.rpc.PreconditionFailure";
inline constexpr char kRetryInfoUrl[] = "type.googleapis.com/google.rpc.RetryInfo";

// `status` with an ErrorInfo of `reason` (UPPER_SNAKE_CASE) and `metadata`,
// replacing any it had.
absl::Status WithErrorInfo(absl::Status status, absl::string_view reason,
                           std::vector<std::pair<std::string, std::string>> metadata = {});

// INVALID_ARGUMENT "<field>: <problem>", with reason `reason` (INVALID_FIELD
// unless said) and a BadRequest naming `field`, a path into the request such
// as events[0].payload.query_received.subject.
absl::Status InvalidFieldError(absl::string_view field, absl::string_view problem,
                               absl::string_view reason = "INVALID_FIELD");

// `status` with one more PreconditionFailure violation.
absl::Status WithPreconditionFailure(absl::Status status, absl::string_view type,
                                     absl::string_view subject, absl::string_view description);

// `status` with a RetryInfo: wait at least `delay` before the same request.
absl::Status WithRetryDelay(absl::Status status, absl::Duration delay);

// `status` marked as one that the same request will always meet (an export
// over the limit, say): it gets no default RetryInfo.
absl::Status WithoutRetry(absl::Status status);

// The details `status` carries, if any.
std::optional<google::rpc::ErrorInfo> GetErrorInfo(const absl::Status& status);
std::optional<google::rpc::BadRequest> GetBadRequest(const absl::Status& status);
std::optional<google::rpc::PreconditionFailure> GetPreconditionFailure(const absl::Status& status);
std::optional<google::rpc::RetryInfo> GetRetryInfo(const absl::Status& status);

// The reason `status` carries, or its code's name (INVALID_ARGUMENT, ...)
// when it has none; "" for OK.
std::string ReasonOf(const absl::Status& status);

// Adds what every error sends: an ErrorInfo (its code's name as the reason
// if none was given) and, for UNAVAILABLE, RESOURCE_EXHAUSTED and ABORTED, a
// RetryInfo with the code's default delay if none was given.
absl::Status WithDefaultDetails(absl::Status status);

}  // namespace evenhand

#endif  // EVENHAND_BASE_ERROR_DETAILS_H_
