// EventLogClient: a small C++ client for the EventLog service.
//
// Wraps the generated stub: deadlines, chunked reads flattened to one event
// at a time, and grpc::Status turned into absl::Status. Safe for concurrent
// use by many threads (the stub and channel are).
#ifndef EVENHAND_CLIENTS_EVENT_LOG_CLIENT_H_
#define EVENHAND_CLIENTS_EVENT_LOG_CLIENT_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "evenhand/v1/log.grpc.pb.h"

namespace evenhand::clients {

// A new event with a fresh UUID, ready to append.
v1::Event NewEvent(v1::Payload payload, std::string source_system, absl::Time occurred_at);

class EventLogClient {
 public:
  explicit EventLogClient(std::shared_ptr<v1::EventLog::StubInterface> stub);

  // A client on a plaintext channel to `address` ("host:port").
  static std::unique_ptr<EventLogClient> Connect(const std::string& address);

  absl::StatusOr<v1::AppendResponse> Append(const v1::AppendRequest& request,
                                            absl::Duration timeout = absl::Seconds(30));

  // Called once per event, in order; return false to stop reading.
  using EventHandler = std::function<bool(const v1::RecordedEvent&)>;

  absl::Status ReadStream(const v1::ReadStreamRequest& request, const EventHandler& handle);
  absl::Status ReadAll(const v1::ReadAllRequest& request, const EventHandler& handle);

  // Follows a subscription, calling `handle` for every message (events,
  // caught-up, fell-behind, checkpoint) until it returns false (then OK is
  // returned) or the stream fails.
  absl::Status Subscribe(const v1::SubscribeRequest& request,
                         const std::function<bool(const v1::SubscribeResponse&)>& handle);

  absl::StatusOr<v1::GetStatusResponse> GetStatus(absl::Duration timeout = absl::Seconds(10));

 private:
  using ReaderFactory =
      std::function<std::unique_ptr<grpc::ClientReaderInterface<v1::ReadResponse>>(
          grpc::ClientContext*)>;
  absl::Status ReadChunks(const ReaderFactory& open, const EventHandler& handle);

  std::shared_ptr<v1::EventLog::StubInterface> stub_;
};

}  // namespace evenhand::clients

#endif  // EVENHAND_CLIENTS_EVENT_LOG_CLIENT_H_
