#include "clients/audit_client.h"

#include <utility>

#include "base/grpc_deadline.h"
#include "base/grpc_status.h"
#include "grpcpp/grpcpp.h"

namespace evenhand::clients {
namespace {

template <typename Response, typename Call>
absl::StatusOr<Response> Unary(Call call, absl::Duration timeout = absl::Seconds(60)) {
  grpc::ClientContext context;
  context.set_deadline(DeadlineAfter(timeout));
  Response response;
  grpc::Status status = call(&context, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

}  // namespace

AuditClient::AuditClient(std::shared_ptr<v1::Audit::StubInterface> stub) : stub_(std::move(stub)) {}

std::unique_ptr<AuditClient> AuditClient::Connect(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  auto channel = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
  return std::make_unique<AuditClient>(v1::Audit::NewStub(channel));
}

absl::Status AuditClient::Replay(const v1::ReplayRequest& request,
                                 const std::function<bool(const v1::AuditedEvent&)>& event,
                                 const std::function<void(uint64_t, uint64_t)>& progress) {
  grpc::ClientContext context;
  auto reader = stub_->Replay(&context, request);
  v1::ReplayResponse message;
  bool stopped = false;
  while (!stopped && reader->Read(&message)) {
    for (const v1::AuditedEvent& e : message.events()) {
      if (!event(e)) {
        stopped = true;
        break;
      }
    }
    progress(message.scanned_to_position(), message.last_position());
  }
  if (stopped) {
    context.TryCancel();
    while (reader->Read(&message)) {
    }
    reader->Finish().ok();  // CANCELLED, by us
    return absl::OkStatus();
  }
  return FromGrpcStatus(reader->Finish());
}

absl::StatusOr<std::string> AuditClient::Export(
    const v1::ExportRequest& request,
    const std::function<void(uint64_t scanned, uint64_t last)>& progress) {
  grpc::ClientContext context;
  auto reader = stub_->Export(&context, request);
  std::string out;
  v1::ExportChunk chunk;
  while (reader->Read(&chunk)) {
    if (chunk.bundle_bytes() > 0) out.reserve(chunk.bundle_bytes());
    out += chunk.data();
    if (progress && chunk.last_position() > 0) {
      progress(chunk.scanned_to_position(), chunk.last_position());
    }
  }
  grpc::Status status = reader->Finish();
  if (!status.ok()) return FromGrpcStatus(status);
  return out;
}

absl::StatusOr<v1::SignedCheckpoint> AuditClient::GetCheckpoint(uint64_t tree_size) {
  v1::GetCheckpointRequest r;
  r.set_tree_size(tree_size);
  return Unary<v1::SignedCheckpoint>([&](grpc::ClientContext* c, v1::SignedCheckpoint* out) {
    return stub_->GetCheckpoint(c, r, out);
  });
}

absl::StatusOr<v1::PublicKey> AuditClient::GetPublicKey() {
  return Unary<v1::PublicKey>([&](grpc::ClientContext* c, v1::PublicKey* out) {
    return stub_->GetPublicKey(c, v1::GetPublicKeyRequest(), out);
  });
}

absl::StatusOr<v1::ConsistencyProof> AuditClient::GetConsistencyProof(uint64_t from_size,
                                                                      uint64_t to_size) {
  v1::GetConsistencyProofRequest r;
  r.set_from_size(from_size);
  r.set_to_size(to_size);
  return Unary<v1::ConsistencyProof>([&](grpc::ClientContext* c, v1::ConsistencyProof* out) {
    return stub_->GetConsistencyProof(c, r, out);
  });
}

absl::StatusOr<v1::InclusionProof> AuditClient::GetInclusionProof(uint64_t position,
                                                                  uint64_t tree_size) {
  v1::GetInclusionProofRequest r;
  r.set_position(position);
  r.set_tree_size(tree_size);
  return Unary<v1::InclusionProof>([&](grpc::ClientContext* c, v1::InclusionProof* out) {
    return stub_->GetInclusionProof(c, r, out);
  });
}

absl::StatusOr<v1::TreeHead> AuditClient::GetTreeHead(uint64_t tree_size) {
  v1::GetTreeHeadRequest r;
  r.set_tree_size(tree_size);
  return Unary<v1::TreeHead>(
      [&](grpc::ClientContext* c, v1::TreeHead* out) { return stub_->GetTreeHead(c, r, out); });
}

}  // namespace evenhand::clients
