#include "clients/event_log_client.h"

#include <utility>

#include "base/grpc_deadline.h"
#include "base/grpc_status.h"
#include "base/time_util.h"
#include "base/uuid.h"
#include "grpcpp/grpcpp.h"

namespace evenhand::clients {

v1::Event NewEvent(v1::Payload payload, std::string source_system, absl::Time occurred_at) {
  v1::Event e;
  e.set_event_id(NewUuid());
  *e.mutable_occurred_at() = ToProtoTime(occurred_at);
  e.set_source_system(std::move(source_system));
  *e.mutable_payload() = std::move(payload);
  return e;
}

EventLogClient::EventLogClient(std::shared_ptr<v1::EventLog::StubInterface> stub)
    : stub_(std::move(stub)) {}

std::unique_ptr<EventLogClient> EventLogClient::Connect(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  auto channel = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
  return std::make_unique<EventLogClient>(v1::EventLog::NewStub(channel));
}

absl::StatusOr<v1::AppendResponse> EventLogClient::Append(const v1::AppendRequest& request,
                                                          absl::Duration timeout) {
  grpc::ClientContext context;
  context.set_deadline(DeadlineAfter(timeout));
  v1::AppendResponse response;
  grpc::Status status = stub_->Append(&context, request, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

absl::Status EventLogClient::ReadChunks(const ReaderFactory& open, const EventHandler& handle) {
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReaderInterface<v1::ReadResponse>> reader = open(&context);
  v1::ReadResponse chunk;
  bool stopped = false;
  while (!stopped && reader->Read(&chunk)) {
    for (const v1::RecordedEvent& e : chunk.events()) {
      if (!handle(e)) {
        stopped = true;
        break;
      }
    }
  }
  if (stopped) {
    context.TryCancel();
    while (reader->Read(&chunk)) {
    }
    reader->Finish().ok();  // CANCELLED, by us
    return absl::OkStatus();
  }
  return FromGrpcStatus(reader->Finish());
}

absl::Status EventLogClient::ReadStream(const v1::ReadStreamRequest& request,
                                        const EventHandler& handle) {
  return ReadChunks(
      [&](grpc::ClientContext* c) { return stub_->ReadStream(c, request); }, handle);
}

absl::Status EventLogClient::ReadAll(const v1::ReadAllRequest& request,
                                     const EventHandler& handle) {
  return ReadChunks([&](grpc::ClientContext* c) { return stub_->ReadAll(c, request); }, handle);
}

absl::Status EventLogClient::Subscribe(
    const v1::SubscribeRequest& request,
    const std::function<bool(const v1::SubscribeResponse&)>& handle) {
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReaderInterface<v1::SubscribeResponse>> reader =
      stub_->Subscribe(&context, request);
  v1::SubscribeResponse message;
  while (reader->Read(&message)) {
    if (!handle(message)) {
      context.TryCancel();
      while (reader->Read(&message)) {
      }
      reader->Finish().ok();  // CANCELLED, by us
      return absl::OkStatus();
    }
  }
  return FromGrpcStatus(reader->Finish());
}

absl::StatusOr<v1::GetStatusResponse> EventLogClient::GetStatus(absl::Duration timeout) {
  grpc::ClientContext context;
  context.set_deadline(DeadlineAfter(timeout));
  v1::GetStatusResponse response;
  grpc::Status status = stub_->GetStatus(&context, v1::GetStatusRequest(), &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

}  // namespace evenhand::clients
