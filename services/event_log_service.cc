#include "services/event_log_service.h"

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/error_details.h"
#include "base/grpc_status.h"
#include "base/logging.h"
#include "base/metrics.h"
#include "services/auth/withholding.h"
#include "services/append_stream.h"
#include "services/internal/append_request.h"
#include "services/internal/delivery_pool.h"
#include "services/internal/raw_messages.h"
#include "services/internal/read_filter.h"

namespace evenhand::services {
namespace {

constexpr char kAppend[] = "evenhand.v1.EventLog/Append";
constexpr char kReadStream[] = "evenhand.v1.EventLog/ReadStream";
constexpr char kReadAll[] = "evenhand.v1.EventLog/ReadAll";
constexpr char kSubscribe[] = "evenhand.v1.EventLog/Subscribe";
constexpr char kGetStatus[] = "evenhand.v1.EventLog/GetStatus";

// A read response carries events up to about this many bytes (and gRPC's
// default 4 MiB client receive limit is never approached).
constexpr size_t kChunkBytes = 1 << 20;
constexpr int kChunkEvents = 512;
// Events a filtered ReadAll examines for one chunk at most (a chunk that
// found no match by then goes out empty).
constexpr uint64_t kMaxScanPerChunk = 65536;

// A direction the server does not know is refused, not read forwards.
absl::Status CheckDirection(int direction) {
  if (v1::Direction_IsValid(direction)) return absl::OkStatus();
  return InvalidFieldError(
      "direction", absl::StrCat("unknown value ", direction, "; use FORWARDS (0) or BACKWARDS (1)"),
      "UNKNOWN_ENUM_VALUE");
}

storage::Direction ToDirection(v1::Direction d) {
  return d == v1::BACKWARDS ? storage::Direction::kBackwards : storage::Direction::kForwards;
}

// Batches events into messages of at most about kChunkBytes (one event may
// exceed it alone) and kChunkEvents, so no message outgrows a client's
// receive limit however large the events are.
template <typename Response>
class ChunkWriter {
 public:
  // `events_of` gives the ReadResponse inside a Response.
  ChunkWriter(grpc::ServerWriter<Response>* writer, v1::ReadResponse* (*events_of)(Response*))
      : writer_(writer), events_(events_of(&message_)) {}

  // False once the client has gone away.
  bool Add(const storage::EventPtr& event) {
    const size_t size = event->ByteSizeLong();
    if (events_->events_size() > 0 && bytes_ + size > kChunkBytes && !Flush()) return false;
    *events_->add_events() = *event;
    bytes_ += size;
    if (bytes_ >= kChunkBytes || events_->events_size() >= kChunkEvents) return Flush();
    return true;
  }

  bool Flush() {
    if (events_->events_size() == 0) return true;
    bool ok = writer_->Write(message_);
    events_->Clear();
    bytes_ = 0;
    ++messages_;
    return ok;
  }

  // Messages written so far.
  uint64_t messages() const { return messages_; }
  // Events added and not written yet.
  uint64_t pending() const { return static_cast<uint64_t>(events_->events_size()); }

 private:
  grpc::ServerWriter<Response>* writer_;
  Response message_;
  v1::ReadResponse* events_;
  size_t bytes_ = 0;
  uint64_t messages_ = 0;
};

v1::ReadResponse* Itself(v1::ReadResponse* r) { return r; }

}  // namespace

EventLogService::EventLogService(storage::EventStore* store, EventLogOptions options)
    : store_(store),
      options_(std::move(options)),
      limits_(options_.max_subscriptions, options_.max_subscriptions_per_client),
      append_budget_(options_.max_append_bytes_in_flight),
      pool_(std::make_unique<internal::DeliveryPool>(2, options_.subscriber_bytes_per_second)),
      resume_pool_(std::make_unique<internal::DeliveryPool>(1, 0, "eh-stream-resume", 0)),
      record_pool_(std::make_unique<internal::DeliveryPool>(1, 0, "eh-access-record", 0)) {
  internal::ShowAppendMetrics();
}

EventLogService::~EventLogService() = default;

size_t EventLogService::FinishAccessRecords(absl::Time deadline) {
  return record_pool_->WaitUntilIdle(deadline);
}

grpc::ServerUnaryReactor* EventLogService::Append(grpc::CallbackServerContext* context,
                                                  const v1::AppendRequest* request,
                                                  v1::AppendResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const absl::Time started = absl::Now();
  auto fail = [&](const absl::Status& status) {
    internal::CountAppend(status.code(), started);
    reactor->Finish(ToGrpcStatus(status));
    return reactor;
  };
  if (absl::Status admitted = options_.gate->Admit(*context, kAppend, *request).status();
      !admitted.ok()) {
    return fail(admitted);
  }
  // Held until the store answers (or this returns refused). Past the
  // server's budget, it waits its turn in line with every call's (a refusal
  // retried 200 ms later lost every time to the streams waiting in line:
  // outside probe), then goes on, on the service's pool.
  std::optional<internal::AppendBudget::Hold> hold = append_budget_.TakeOrWait(
      request->ByteSizeLong(),
      [this, reactor, context, request, response, started](internal::AppendBudget::Hold turn) {
        resume_pool_->Submit([this, reactor, context, request, response, started,
                              turn = std::move(turn)]() mutable -> size_t {
          ContinueAppend(reactor, context, request, response, started, std::move(turn));
          logging::SetThreadRequestId("");
          return 0;
        });
      });
  if (hold.has_value()) {
    ContinueAppend(reactor, context, request, response, started, *std::move(hold));
    // The rest of this call is on the store's threads: this callback thread
    // goes on to other calls.
    logging::SetThreadRequestId("");
  }
  return reactor;
}

void EventLogService::ContinueAppend(grpc::ServerUnaryReactor* reactor,
                                     grpc::CallbackServerContext* context,
                                     const v1::AppendRequest* request, v1::AppendResponse* response,
                                     absl::Time started, internal::AppendBudget::Hold hold) {
  auto fail = [&](const absl::Status& status) {
    internal::CountAppend(status.code(), started);
    reactor->Finish(ToGrpcStatus(status));
  };
  // A caller who gave up while it waited: nothing written.
  if (context->IsCancelled()) {
    return fail(absl::CancelledError(
        "the call was cancelled (or its deadline passed) while the append waited for room in "
        "maxAppendMibInFlight; nothing of it was written"));
  }
  absl::StatusOr<storage::ExpectedRevision> expected = internal::ToExpected(*request);
  if (!expected.ok()) return fail(expected.status());
  std::vector<v1::Event> events(request->events().begin(), request->events().end());
  // The domain checks read RocksDB (point lookups, normally from its block
  // cache) on this callback thread: brief, bounded, and never a write.
  if (absl::Status s = PrepareAppend(options_.limits, options_.validator, options_.clock(),
                                     request->stream_id(), &events, &*expected);
      !s.ok()) {
    return fail(s);
  }
  // Completed on the sequencer thread once the batch is durable. The reactor
  // and `response` stay valid until Finish is called.
  store_->AppendAsync(request->stream_id(), *expected, std::move(events),
                      [reactor, response, started, hold = std::move(hold)](
                          absl::StatusOr<storage::AppendResult> result) mutable {
                        // Let go before the answer: once answered, the call
                        // (and at a stop, the service) may be gone.
                        { internal::AppendBudget::Hold released = std::move(hold); }
                        internal::CountAppend(result.status().code(), started);
                        if (!result.ok()) {
                          reactor->Finish(ToGrpcStatus(result.status()));
                          return;
                        }
                        response->mutable_positions()->Assign(result->positions.begin(),
                                                              result->positions.end());
                        response->set_stream_revision(result->stream_revision);
                        response->set_idempotent_replay(result->idempotent_replay);
                        reactor->Finish(grpc::Status::OK);
                      });
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* EventLogService::AppendStream(
    grpc::CallbackServerContext* context) {
  return new AppendStreamReactor(context, store_, options_, options_.append_stream_window,
                                 resume_pool_.get(), &append_streams_, &append_budget_);
}

grpc::Status EventLogService::ReadStream(grpc::ServerContext* context,
                                         const v1::ReadStreamRequest* request,
                                         grpc::ServerWriter<v1::ReadResponse>* writer) {
  absl::StatusOr<auth::Grant> grant = options_.gate->Admit(*context, kReadStream, *request);
  if (!grant.ok()) return ToGrpcStatus(grant.status());
  if (absl::Status s = CheckDirection(request->direction()); !s.ok()) return ToGrpcStatus(s);
  // A stream id the log could not hold is refused before the read is on
  // the record.
  if (absl::Status s = storage::CheckStreamId(request->stream_id()); !s.ok()) {
    return ToGrpcStatus(s);
  }
  // Within the principal's open reads; ends, with a clear status, if a
  // reloaded configuration withdraws it.
  absl::StatusOr<std::unique_ptr<auth::StandingGrants::Hold>> held =
      options_.gate->Hold(*context, kReadStream, *request, *grant);
  if (!held.ok()) return ToGrpcStatus(held.status());
  const std::unique_ptr<auth::StandingGrants::Hold> hold = *std::move(held);
  if (absl::Status s = options_.gate->Record(*grant, kReadStream, *request, 0, "opened"); !s.ok()) {
    return ToGrpcStatus(s);
  }
  std::string owner;
  if (grant->values == auth::Grant::Values::kOwnGroupOnly) {
    absl::StatusOr<std::string> o = options_.gate->authorizer().OwnerOf(request->stream_id());
    if (!o.ok()) {
      options_.gate->RecordEnd(*grant, kReadStream, *request, 0, "cancelled");
      return ToGrpcStatus(o.status());
    }
    owner = *o;
  }
  ChunkWriter<v1::ReadResponse> chunks(writer, &Itself);
  bool client_gone = false;
  uint64_t sent = 0;
  absl::Status status = store_->ReadStream(
      request->stream_id(),
      request->has_from_revision() ? std::optional<uint64_t>(request->from_revision())
                                   : std::nullopt,
      ToDirection(request->direction()), request->max_count(), [&](const storage::EventPtr& e) {
        storage::EventPtr shown = e;
        if (grant->values != auth::Grant::Values::kFull) {
          auto copy = std::make_shared<v1::RecordedEvent>(*e);
          auth::Withhold(*grant, owner, copy->mutable_event());
          shown = std::move(copy);
        }
        if (hold->withdrawn()) return false;
        if (context->IsCancelled() || !chunks.Add(shown)) {
          client_gone = true;
          return false;
        }
        ++sent;
        return true;
      });
  if (!status.ok()) {
    // Ended before it was done (a damaged or unreadable event): on the
    // record with what it was sent.
    options_.gate->RecordEnd(*grant, kReadStream, *request, sent - chunks.pending(), "cancelled");
    return ToGrpcStatus(status);
  }
  if (absl::Status withdrawn = hold->status(); !withdrawn.ok()) {
    // Nothing more is sent, not even what was read before it was seen.
    options_.gate->RecordEnd(*grant, kReadStream, *request, sent - chunks.pending(), "withdrawn");
    return ToGrpcStatus(withdrawn);
  }
  if (client_gone || !chunks.Flush()) {
    // What it had been sent when the client went (best effort).
    options_.gate->RecordEnd(*grant, kReadStream, *request, sent, "cancelled");
    return grpc::Status(grpc::StatusCode::CANCELLED, "");
  }
  // The count, once known (the read was on the record before it began).
  options_.gate->RecordEnd(*grant, kReadStream, *request, sent, "completed");
  return grpc::Status::OK;
}

namespace {

// Streams a read as chunks, each a serialised ReadResponse. A ReadResponse
// is `repeated RecordedEvent events = 1`, so on the wire it is just each
// stored record behind a tag and a length: the chunk is assembled from the
// bytes RocksDB holds, with no parsing and no copying into messages. Reads
// of the store happen on the callback thread (shared with appends); each is
// a sequential read of one chunk (about 1 MiB), and a filter examines at
// most kMaxScanPerChunk events for one: a chunk may then be empty, which
// lets the thread go between chunks however little the filter matches.
class ChunkReactor final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  // Appends the next chunk's events to `*out`; returns whether it is the
  // last (an empty last chunk is not sent).
  using Fill = std::function<absl::StatusOr<bool>(std::string* out)>;

  // `done` (if set) is called once the call is over, whatever its outcome.
  explicit ChunkReactor(Fill fill, std::function<void()> done = nullptr)
      : fill_(std::move(fill)), done_(std::move(done)) {
    Next();
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      End(grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
      return;
    }
    if (last_) {
      End(grpc::Status::OK);
      return;
    }
    Next();
  }
  void OnDone() override {
    if (done_) done_();
    delete this;
  }

 private:
  // What `fill_` holds (the read's standing grant, which counts against its
  // principal's open reads) is let go as the call ends, not when gRPC is
  // done with it.
  void End(const grpc::Status& status) {
    fill_ = nullptr;
    Finish(status);
  }

  void Next() {
    std::string chunk;
    absl::StatusOr<bool> last = fill_(&chunk);
    if (!last.ok()) {
      End(ToGrpcStatus(last.status()));
      return;
    }
    if (chunk.empty() && *last) {
      End(grpc::Status::OK);
      return;
    }
    last_ = *last;
    grpc::Slice slice(chunk);
    buffer_ = grpc::ByteBuffer(&slice, 1);
    StartWrite(&buffer_);
  }

  Fill fill_;
  std::function<void()> done_;
  bool last_ = false;
  grpc::ByteBuffer buffer_;
};

}  // namespace

grpc::ServerWriteReactor<grpc::ByteBuffer>* EventLogService::ReadAll(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* raw_request) {
  v1::ReadAllRequest request;
  if (absl::Status parsed = internal::ParseRequest(*raw_request, &request); !parsed.ok()) {
    return new ChunkReactor([parsed](std::string*) -> absl::StatusOr<bool> { return parsed; });
  }
  // Auditors only: everything as stored, so the stored bytes can go as
  // they are. On the record before the first chunk.
  absl::StatusOr<auth::Grant> grant = options_.gate->Admit(*context, kReadAll, request);
  absl::StatusOr<storage::ReadFilter> filter =
      internal::ToReadFilter(request.filter().stream_prefixes(), request.filter().event_types(),
                             "filter.");
  absl::Status admitted = grant.status();
  if (admitted.ok() && !filter.ok()) admitted = filter.status();
  if (admitted.ok()) admitted = CheckDirection(request.direction());
  if (admitted.ok() && grant->values != auth::Grant::Values::kFull) {
    admitted = absl::PermissionDeniedError(
        "ReadAll serves whole events only, and this principal may not read every value");
  }
  // Within the principal's open reads; ends, with a clear status, if a
  // reloaded configuration withdraws it (checked before each chunk).
  std::shared_ptr<auth::StandingGrants::Hold> standing;
  if (admitted.ok()) {
    absl::StatusOr<std::unique_ptr<auth::StandingGrants::Hold>> held =
        options_.gate->Hold(*context, kReadAll, request, *grant);
    if (held.ok()) {
      standing = *std::move(held);
    } else {
      admitted = held.status();
    }
  }
  if (admitted.ok()) admitted = options_.gate->Record(*grant, kReadAll, request, 0, "opened");
  if (!admitted.ok()) {
    return new ChunkReactor([admitted](std::string*) -> absl::StatusOr<bool> { return admitted; });
  }
  struct Cursor {
    std::optional<uint64_t> next;
    bool limited;        // max_count was given
    uint64_t remaining;  // of max_count, when limited
    uint64_t last;       // the log's end when the read began
    bool forwards;
    bool done = false;
    bool withdrawn = false;  // ended because its grant was withdrawn
    uint64_t sent = 0;       // events so far
    storage::ReadFilter filter;
  };
  auto cursor = std::make_shared<Cursor>();
  cursor->next =
      request.has_from_position() ? std::optional<uint64_t>(request.from_position()) : std::nullopt;
  cursor->limited = request.max_count() != 0;
  cursor->remaining = request.max_count();
  cursor->last = store_->LastPosition();
  cursor->forwards = request.direction() != v1::BACKWARDS;
  cursor->filter = *std::move(filter);
  // The count goes on the record once the read is done, or what had been
  // sent when the client went (best effort: the read was on the record
  // before it began), on a thread of its own: it waits for a commit, and
  // this is a callback thread appends share.
  auto record = [pool = record_pool_.get(), gate = options_.gate, grant = *grant, request,
                 cursor](const char* outcome) {
    pool->Submit([gate, grant, request, sent = cursor->sent, outcome] {
      gate->RecordEnd(grant, kReadAll, request, sent, outcome);
      return size_t{0};
    });
  };
  auto finished = [record] { record("completed"); };
  // A call that ends before its read is done: cancelled, failed or withdrawn.
  auto over = [record, cursor] {
    if (!cursor->done) record(cursor->withdrawn ? "withdrawn" : "cancelled");
  };
  return new ChunkReactor(
      [store = store_, cursor, context, finished,
       standing](std::string* out) -> absl::StatusOr<bool> {
        if (cursor->done) return true;
        if (context->IsCancelled()) return absl::CancelledError("the client went away");
        if (absl::Status s = standing->status(); !s.ok()) {
          cursor->withdrawn = true;
          return s;
        }
        const uint64_t want =
            cursor->limited ? std::min<uint64_t>(kChunkEvents, cursor->remaining) : kChunkEvents;
        uint64_t sent = 0;
        uint64_t last_seen = 0;
        bool stopped_early = false;  // the chunk is full; more may follow
        bool at_end = false;         // past the log's end as it was when the read began
        // At most `want` events are read, so a read that ends at its limit never
        // touches the event after it.
        storage::ScanBudget budget;
        budget.max_scanned = kMaxScanPerChunk;
        absl::Status s = store->ReadAllRaw(
            cursor->next,
            cursor->forwards ? storage::Direction::kForwards : storage::Direction::kBackwards, want,
            cursor->filter, [&](uint64_t position, std::string_view record) {
              if (cursor->forwards && position > cursor->last) {
                at_end = true;
                return false;
              }
              // Every message within kChunkBytes but for one event alone
              // (at most maxEventBytes, 3 MiB), so within a client's 4 MiB.
              if (!out->empty() && out->size() + record.size() + 16 > kChunkBytes) {
                stopped_early = true;
                return false;
              }
              internal::AppendLengthDelimited(out, 1, record);  // ReadResponse.events
              last_seen = position;
              ++sent;
              return true;
            },
            &budget);
        if (!s.ok()) return s;
        cursor->sent += sent;
        if (cursor->limited) cursor->remaining -= sent;
        if (sent == want || budget.exhausted) stopped_early = true;
        // Where the chunk stopped: after its last event, or after the last
        // event its filter passed over. Forwards, the read ends at the log's
        // end as it was when it began, matching or not.
        last_seen = budget.last_done;
        if (last_seen == 0 || at_end || !stopped_early ||
            (cursor->forwards && last_seen >= cursor->last) ||
            (cursor->limited && cursor->remaining == 0)) {
          cursor->done = true;
          finished();
          return true;
        }
        if (cursor->forwards) {
          cursor->next = last_seen + 1;
        } else if (last_seen <= 1) {
          cursor->done = true;
          finished();
          return true;
        } else {
          cursor->next = last_seen - 1;
        }
        return false;
      },
      over);
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* EventLogService::Subscribe(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) {
  v1::SubscribeRequest parsed;
  if (absl::Status s = internal::ParseRequest(*request, &parsed); !s.ok()) {
    return RefuseSubscription(s);
  }
  absl::StatusOr<auth::Grant> grant = options_.gate->Admit(*context, kSubscribe, parsed);
  if (!grant.ok()) return RefuseSubscription(grant.status());
  // Subscribers see every value: a principal that may not is refused here
  // (today only auditors may subscribe; this holds if that changes).
  if (grant->values != auth::Grant::Values::kFull) {
    return RefuseSubscription(absl::PermissionDeniedError(
        "Subscribe serves whole events only, and this principal may not read every value"));
  }
  // On the record once the subscription is accepted (its position, filter
  // and limits), and again when it ends, with the events it sent.
  SubscriptionRecord record;
  record.opened = [gate = options_.gate, grant = *grant, parsed] {
    return gate->Record(grant, kSubscribe, parsed, 0, "opened");
  };
  record.refused_by_own_limit = [gate = options_.gate, grant = *grant,
                                 parsed](const absl::Status& why) {
    gate->Refused(grant, kSubscribe, parsed, why);
  };
  // Ends, with a clear status, if a reloaded configuration withdraws it.
  absl::StatusOr<std::unique_ptr<auth::StandingGrants::Hold>> held =
      options_.gate->Hold(*context, kSubscribe, parsed, *grant);
  if (!held.ok()) return RefuseSubscription(held.status());
  record.standing = *std::move(held);
  // On a thread of its own: the record waits for a commit, and a thousand
  // subscribers ending at once must not hold up the others' deliveries.
  record.closed = [pool = record_pool_.get(), gate = options_.gate, grant = *grant, parsed](
                      uint64_t sent, bool withdrawn) {
    const char* outcome = withdrawn ? "withdrawn" : "completed";
    pool->Submit([gate, grant, parsed, sent, outcome] {
      gate->RecordEnd(grant, kSubscribe, parsed, sent, outcome);
      return size_t{0};
    });
  };
  // Subscriptions are limited per principal (and in all); the local
  // principal of local mode only by maxSubscriptionsPerClient.
  const size_t own_limit = grant->identity.local ? SIZE_MAX : grant->max_subscriptions;
  return StartSubscription(context, parsed, Subscribers{store_, &limits_, pool_.get()},
                           grant->identity.principal, own_limit,
                           "security.limits.maxSubscriptions", std::move(record));
}

grpc::Status EventLogService::GetStatus(grpc::ServerContext* context,
                                        const v1::GetStatusRequest* request,
                                        v1::GetStatusResponse* response) {
  if (absl::Status s = options_.gate->Admit(*context, kGetStatus, *request).status(); !s.ok()) {
    return ToGrpcStatus(s);
  }
  response->set_last_position(store_->LastPosition());
  response->set_log_id(store_->log_id());
  response->set_server_version(options_.server_version);
  response->set_max_event_bytes(options_.limits.max_event_bytes);
  response->set_max_batch_events(options_.limits.max_batch_events);
  const storage::WriteState state = store_->write_state();
  response->set_accepting_appends(state.accepting);
  if (!state.accepting) {
    response->set_appends_refused(absl::StrCat(absl::StatusCodeToString(state.refusal.code()), ": ",
                                               state.refusal.message()));
  }
  response->set_read_only(state.read_only);
  if (absl::StatusOr<uint64_t> free = store_->free_disk_bytes(); free.ok()) {
    response->set_free_disk_bytes(*free);
  }
  response->set_min_free_disk_bytes(store_->min_free_disk_bytes());
  if (options_.problems) {
    for (std::string& p : options_.problems()) response->add_problems(std::move(p));
  }
  if (options_.projection_position) {
    response->set_projection_position(options_.projection_position());
  }
  if (options_.checkpoints_stalled) {
    response->set_checkpoints_stalled(options_.checkpoints_stalled());
  }
  if (options_.projection_stopped) {
    response->set_projection_stopped(options_.projection_stopped());
  }
  for (std::string& w : store_->warnings()) response->add_warnings(std::move(w));
  return grpc::Status::OK;
}

}  // namespace evenhand::services
