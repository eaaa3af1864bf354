// EventLogService: the gRPC face of the event log (proto/evenhand/v1/log.proto).
//
// Append is a callback-API method completed by the storage sequencer after the
// fsync; ReadAll is a raw callback method that streams the stored bytes as
// they are; Subscribe is a raw callback method served by a reactor per
// subscriber (services/subscribe_reactor.h); ReadStream is a sync-API method
// (see services/README.md).
// Thread-safe; `store` must outlive the service.
#ifndef EVENHAND_SERVICES_EVENT_LOG_SERVICE_H_
#define EVENHAND_SERVICES_EVENT_LOG_SERVICE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "evenhand/v1/log.grpc.pb.h"
#include "services/append_streams.h"
#include "services/auth/call_gate.h"
#include "services/domain_validation.h"
#include "services/event_validation.h"
#include "services/internal/append_budget.h"
#include "services/subscribe_reactor.h"
#include "storage/event_store.h"

namespace evenhand::services {

struct EventLogOptions {
  AppendLimits limits;
  std::string server_version;
  // Clock for validating occurred_at; tests inject one.
  std::function<absl::Time()> clock = [] { return absl::Now(); };
  // Checks payloads against the protocol model and the log; null accepts
  // every well-formed payload. Must outlive the service.
  const DomainValidator* validator = nullptr;
  // What the integrity checks found wrong (GetStatus reports it).
  std::function<std::vector<std::string>()> problems;
  // Why checkpoints are not being signed, if they are not
  // (IntegrityLog::signing_stalled); empty otherwise.
  std::function<std::string()> checkpoints_stalled;
  // How far the fairness projection has folded the log (GetStatus reports
  // it); unset without a projection.
  std::function<uint64_t()> projection_position;
  // Why the projection stopped folding, if it did (ProjectionRunner::
  // fold_stopped); empty while it folds.
  std::function<std::string()> projection_stopped;
  // Concurrent subscriptions: in all, and from one client.
  size_t max_subscriptions = 4096;
  size_t max_subscriptions_per_client = 1024;
  // What all subscribers are sent together, at most (0: no cap).
  uint64_t subscriber_bytes_per_second = 64ull << 20;
  // Who may call what (services/auth); must outlive the service.
  auth::CallGate* gate = nullptr;
  // AppendStream reads a call's next request only while fewer than this
  // many of its requests are unanswered.
  size_t append_stream_window = 1024;
  // The bytes of append requests held at once, across calls
  // (services/internal/append_budget.h); 0: no bound.
  uint64_t max_append_bytes_in_flight = 256ull << 20;
};

class EventLogService final
    : public v1::EventLog::WithCallbackMethod_Append<
          v1::EventLog::WithRawCallbackMethod_AppendStream<
              v1::EventLog::WithRawCallbackMethod_ReadAll<
                  v1::EventLog::WithRawCallbackMethod_Subscribe<v1::EventLog::Service>>>> {
 public:
  // `*store` must remain live while this service is registered with a server.
  EventLogService(storage::EventStore* store, EventLogOptions options);
  ~EventLogService() override;

  grpc::ServerUnaryReactor* Append(grpc::CallbackServerContext* context,
                                   const v1::AppendRequest* request,
                                   v1::AppendResponse* response) override;

  // Many appends on one call (services/append_stream.h); raw, so that a
  // request that cannot be parsed is answered, not taken for the call's end.
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* AppendStream(
      grpc::CallbackServerContext* context) override;

  grpc::Status ReadStream(grpc::ServerContext* context, const v1::ReadStreamRequest* request,
                          grpc::ServerWriter<v1::ReadResponse>* writer) override;

  // Served from the stored bytes without parsing them (see the .cc).
  grpc::ServerWriteReactor<grpc::ByteBuffer>* ReadAll(grpc::CallbackServerContext* context,
                                                      const grpc::ByteBuffer* request) override;

  // A reactor per subscriber; no thread waits for new events.
  grpc::ServerWriteReactor<grpc::ByteBuffer>* Subscribe(grpc::CallbackServerContext* context,
                                                        const grpc::ByteBuffer* request) override;

  // The server is stopping: every AppendStream call ends once what it has
  // read is answered (services/append_stream.h).
  void EndAppendStreams() { append_streams_.EndAll(); }

  // Subscriptions being served now.
  size_t subscriptions() const { return limits_.active(); }
  // Bytes of append requests taken and not yet answered (all calls).
  uint64_t append_bytes_in_flight() const { return append_budget_.held(); }

  // Once gRPC has ended every call (at shutdown, before the log is closed):
  // waits until the access records of reads that ended ("completed",
  // "cancelled": a subscription the shutdown cut) are appended. The number
  // still not appended if `deadline` passed first.
  size_t FinishAccessRecords(absl::Time deadline);

  grpc::Status GetStatus(grpc::ServerContext* context, const v1::GetStatusRequest* request,
                         v1::GetStatusResponse* response) override;

 private:
  // An Append once its bytes are held in the budget (at once, or on the
  // resume pool when its turn came): validated and handed to the store.
  void ContinueAppend(grpc::ServerUnaryReactor* reactor, grpc::CallbackServerContext* context,
                      const v1::AppendRequest* request, v1::AppendResponse* response,
                      absl::Time started, internal::AppendBudget::Hold hold);

  storage::EventStore* const store_;
  const EventLogOptions options_;
  SubscriberLimits limits_;
  // (Before the streams: their answers release what they hold.)
  internal::AppendBudget append_budget_;
  AppendStreams append_streams_;
  std::unique_ptr<internal::DeliveryPool> pool_;
  // Where AppendStream's parked requests are taken up again, and appends
  // whose turn in the budget's line came.
  std::unique_ptr<internal::DeliveryPool> resume_pool_;
  // Where subscriptions' "completed" access records are appended.
  std::unique_ptr<internal::DeliveryPool> record_pool_;
};

}  // namespace evenhand::services

#endif  // EVENHAND_SERVICES_EVENT_LOG_SERVICE_H_
