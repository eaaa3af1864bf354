// AppendStreamReactor: one EventLog.AppendStream call (log.proto). Each
// request goes through what Append does (the call gate, PrepareAppend, the
// store's AppendAsync) and is answered by its own response when its group
// commit is durable, or with its error; the call goes on.
//
// Authentication happens once, when the call starts (a caller who may not
// append gets the refusal before sending anything); each request is then
// authorised as an Append is, against its events, once (not again when a
// parked request is taken up). Requests arrive as bytes and are parsed
// here: one that does not parse is answered INVALID_ARGUMENT (gRPC's own
// parsing would end the call as if the client had half-closed).
//
// Flow control: the next request is read only while fewer than
// `max_unanswered` (EventLogOptions.append_stream_window), and fewer than
// kMaxUnansweredBytes, of the call's requests are unanswered (in
// the store, or answered but not yet written to the client), so a publisher faster than the disk
// waits in gRPC's flow control, and the call's memory is bounded. A request
// that would take the server's appends past maxAppendMibInFlight (every
// call's together) waits for room, and nothing more of its call is read
// meanwhile: it is never refused for it, so that one stream's requests stay
// in the order sent (a refused request re-sent after later ones would not). The call finishes once
// the client has half-closed and every request is answered; if the client cancels, it finishes
// after the requests already in the store have been decided (their outcome is then the store's, and
// a retry with the same event ids is safe).
//
// At a stop (AppendStreams::EndAll), a call starts no more reads, and
// once every request it has taken is answered it finishes UNAVAILABLE
// (SHUTTING_DOWN; a request arriving in the read already in flight after
// that is dropped, never appended): the publisher sends what was not
// answered again, with the same event ids, when the server is back (until
// 2026-12-07 the call was cancelled, and a client could take CANCELLED for
// its own cancel); a call opened after is refused UNAVAILABLE
// (SHUTTING_DOWN). gRPC's own shutdown would otherwise wait
// its whole grace for a publisher that keeps its call open and sends
// nothing (every publisher, between bursts).
//
// Threads: gRPC's callback threads and the store's completer thread call
// in; everything shared is under `mu_`. A parked request is taken up on
// `resume` (the service's pool), never on the completer thread: validating
// it reads RocksDB, and a refusal recorded there would wait for the
// completer itself. The reactor deletes itself in OnDone.
#ifndef EVENHAND_SERVICES_APPEND_STREAM_H_
#define EVENHAND_SERVICES_APPEND_STREAM_H_

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "evenhand/v1/log.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "services/append_streams.h"
#include "services/event_log_service.h"
#include "services/internal/append_budget.h"
#include "services/internal/delivery_pool.h"
#include "storage/event_store.h"

namespace evenhand::services {

class AppendStreamReactor final
    : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  static constexpr size_t kMaxUnansweredBytes = 64 << 20;

  // `store`, `options`, `resume`, `open` and `budget` (the service's)
  // outlive the call. Each request holds its bytes in `budget` from when it
  // passes the gate until the store answers it.
  AppendStreamReactor(grpc::CallbackServerContext* context, storage::EventStore* store,
                      const EventLogOptions& options, size_t max_unanswered,
                      internal::DeliveryPool* resume, AppendStreams* open,
                      internal::AppendBudget* budget);

  // The server is stopping: read no more, and end the call once every
  // request read is answered, UNAVAILABLE (SHUTTING_DOWN).
  void EndForShutdown();

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  // Takes request `index` through the gate, validation and the store. A
  // request that would take the server past maxAppendMibInFlight is parked
  // until bytes are let go (returns true), never refused for it: one
  // stream's requests keep their order.
  // Validation reads the log, so a request refused by it while earlier
  // requests of the call are still in the store may only be refused
  // because they are not decided yet (a case opened, a member registered
  // the request before): with `may_park`, such a request is parked (and
  // no more is read) until they are decided, then validated again; Handle
  // then returns true.
  // `admitted`: the gate has already let it through (it is validated again).
  // `granted`: its bytes already held in the budget (its turn came).
  bool Handle(uint64_t index, v1::AppendRequest request, absl::Time started, bool may_park,
              bool admitted = false,
              std::optional<internal::AppendBudget::Hold> granted = std::nullopt);
  // Queues the answer to request `index` and writes it when it can; `from_store` for
  // the store's answers (the request was in the store).
  void Answer(uint64_t index, const std::string& stream_id, const std::string& first_event_id,
              const absl::StatusOr<storage::AppendResult>& result, absl::Time started,
              bool from_store);
  // After the read of a request has been dealt with: reads may go on.
  void DoneReading();
  // Request `index`'s turn in the budget came (`turn` holds its bytes): if
  // it is the one parked for the budget, it is taken up again (on
  // `resume`).
  void ResumeFromBudget(uint64_t index, internal::AppendBudget::Hold turn);
  // What can start now (the next read, the next write, the finish),
  // decided under the lock and started after it (gRPC's Start* and Finish
  // are not called with `mu_` held). After a finish, `this` may be gone.
  struct Actions {
    const grpc::ByteBuffer* write = nullptr;
    bool read = false;
    bool finish = false;
    grpc::Status status;
  };
  Actions Decide() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Run(const Actions& actions);

  grpc::CallbackServerContext* const context_;
  storage::EventStore* const store_;
  const EventLogOptions& options_;
  const size_t max_unanswered_;
  internal::DeliveryPool* const resume_;
  AppendStreams* const open_;
  internal::AppendBudget* const budget_;

  absl::Mutex mu_;
  grpc::ByteBuffer request_;  // the read in flight writes here
  bool reading_ ABSL_GUARDED_BY(mu_) = false;
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_index_ ABSL_GUARDED_BY(mu_) = 0;
  // Requests read and not yet answered to the client (in the store, or
  // waiting in `responses_`), and their bytes: reads stop at either limit.
  size_t unanswered_ ABSL_GUARDED_BY(mu_) = 0;
  size_t unanswered_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<uint64_t, size_t> request_bytes_ ABSL_GUARDED_BY(mu_);
  // Requests handed to the store and not decided yet.
  size_t in_store_ ABSL_GUARDED_BY(mu_) = 0;
  struct Parked {
    uint64_t index;
    v1::AppendRequest request;
    absl::Time started;
    // Waiting for room in the server's budget (AppendBudget::TakeOrWait),
    // not for earlier requests to be decided.
    bool for_budget = false;
  };
  std::optional<Parked> parked_ ABSL_GUARDED_BY(mu_);
  // Answers not yet written, serialised, with the request each answers.
  struct Response {
    uint64_t request_index;
    grpc::ByteBuffer bytes;
  };
  std::deque<Response> responses_ ABSL_GUARDED_BY(mu_);
};

}  // namespace evenhand::services

#endif  // EVENHAND_SERVICES_APPEND_STREAM_H_
