#include "base/grpc_status.h"

#include <algorithm>
#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "base/error_details.h"
#include "google/rpc/status.pb.h"

namespace evenhand {

void AddWireDetails(const absl::Status& status,
                    google::protobuf::RepeatedPtrField<google::protobuf::Any>* out) {
  if (status.ok()) return;
  const int first = out->size();
  // Only google.rpc details leave the server; other payloads are internal.
  WithDefaultDetails(status).ForEachPayload([&](absl::string_view url, const absl::Cord& value) {
    if (!absl::StartsWith(url, "type.googleapis.com/google.rpc.")) return;
    google::protobuf::Any* any = out->Add();
    any->set_type_url(std::string(url));
    any->set_value(std::string(value));
  });
  // A status keeps its payloads in no fixed order: sent in type order, so
  // the same refusal carries its details the same way each time.
  std::sort(out->begin() + first, out->end(),
            [](const google::protobuf::Any& a, const google::protobuf::Any& b) {
              return a.type_url() < b.type_url();
            });
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  google::rpc::Status wire;
  wire.set_code(static_cast<int>(status.code()));
  wire.set_message(std::string(status.message()));
  AddWireDetails(status, wire.mutable_details());
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()),
                      wire.SerializeAsString());
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  absl::Status out(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  google::rpc::Status wire;
  if (!status.error_details().empty() && wire.ParseFromString(status.error_details())) {
    for (const auto& any : wire.details()) out.SetPayload(any.type_url(), absl::Cord(any.value()));
    // The sender's details are complete: sent on, no default RetryInfo is
    // added to them.
    if (!GetRetryInfo(out).has_value()) out = WithoutRetry(std::move(out));
  }
  return out;
}

}  // namespace evenhand
