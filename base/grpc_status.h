// absl::Status <-> grpc::Status, for services and clients. absl's codes mirror
// gRPC's one for one, so the conversion keeps code and message; the status's
// google.rpc details (error_details.h) travel as a google.rpc.Status in the
// `grpc-status-details-bin` trailer, and every error gets at least an
// ErrorInfo. Services convert once, at their edge; clients convert once, on
// receipt, and find the details as payloads again.
#ifndef EVENHAND_BASE_GRPC_STATUS_H_
#define EVENHAND_BASE_GRPC_STATUS_H_

#include "absl/status/status.h"
#include "google/protobuf/any.pb.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "grpcpp/support/status.h"

namespace evenhand {

grpc::Status ToGrpcStatus(const absl::Status& status);

// Appends to `out` the details ToGrpcStatus sends for `status` (its
// google.rpc payloads, with the defaults every error gets): for a status
// carried inside a message (AppendStream's AppendError).
void AddWireDetails(const absl::Status& status,
                    google::protobuf::RepeatedPtrField<google::protobuf::Any>* out);

absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace evenhand

#endif  // EVENHAND_BASE_GRPC_STATUS_H_
