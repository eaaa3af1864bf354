// absl::Status <-> grpc::Status, for services and clients. absl's codes mirror
// gRPC's one for one, so the conversion keeps code and message. Services
// convert once, at their edge; clients convert once, on receipt.
#ifndef EVENHAND_BASE_GRPC_STATUS_H_
#define EVENHAND_BASE_GRPC_STATUS_H_

#include <string>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace evenhand {

inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

inline absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

}  // namespace evenhand

#endif  // EVENHAND_BASE_GRPC_STATUS_H_
