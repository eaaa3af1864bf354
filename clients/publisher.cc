#include "clients/publisher.h"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/big_endian.h"
#include "base/time_util.h"
#include "base/uuid.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace evenhand::clients {
namespace {

// Errors after which the same request is sent again: the server was
// unreachable, stopping, out of disk for now, or a request it depended on
// failed. Anything else is the event's outcome.
// A server's RetryInfo delay is honoured up to this: a delay beyond it is
// taken as a server's mistake rather than left to stall the publisher.
constexpr absl::Duration kMaxServerRetryDelay = absl::Seconds(60);

// The RetryInfo delay among `details`, if there is one (zero otherwise).
absl::Duration ServerRetryDelay(
    const google::protobuf::RepeatedPtrField<google::protobuf::Any>& details) {
  for (const google::protobuf::Any& any : details) {
    google::rpc::RetryInfo retry;
    if (!any.UnpackTo(&retry)) continue;
    const absl::Duration delay = absl::Seconds(retry.retry_delay().seconds()) +
                                 absl::Nanoseconds(retry.retry_delay().nanos());
    return std::clamp(delay, absl::ZeroDuration(), kMaxServerRetryDelay);
  }
  return absl::ZeroDuration();
}

// The same, from a call's status (its grpc-status-details-bin).
absl::Duration ServerRetryDelay(const grpc::Status& status) {
  google::rpc::Status details;
  if (status.error_details().empty() || !details.ParseFromString(status.error_details())) {
    return absl::ZeroDuration();
  }
  return ServerRetryDelay(details.details());
}

bool Retryable(int code) {
  switch (static_cast<grpc::StatusCode>(code)) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::CANCELLED:
    case grpc::StatusCode::INTERNAL:  // the outcome is unknown: the same ids are safe
      return true;
    default:
      return false;
  }
}

std::string OutboxKey(uint64_t seq) {
  std::string k;
  PutBigEndian64(&k, seq);
  return k;
}

// A call refused as a whole, which the same call would meet again.
bool RefusedCall(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::UNIMPLEMENTED:
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::FAILED_PRECONDITION:
      return true;
    default:
      return false;
  }
}

}  // namespace

Publisher::Publisher(PublisherOptions options, OnOutcome on_outcome)
    : options_(std::move(options)), on_outcome_(std::move(on_outcome)) {}

absl::StatusOr<std::unique_ptr<Publisher>> Publisher::Start(PublisherOptions options,
                                                            OnOutcome on_outcome) {
  if (options.batch_max_events == 0 || options.max_unanswered == 0 ||
      options.max_pending_events == 0) {
    return absl::InvalidArgumentError(
        "publisher: batch_max_events, max_unanswered and max_pending_events must be at least 1");
  }
  // A server gone without closing the connection is noticed by pings: the
  // call's own writes may wait in flow control forever.
  if (options.connection.keepalive == absl::ZeroDuration()) {
    options.connection.keepalive = absl::Seconds(20);
  }
  // A server back after a long outage is found within max_backoff, as the
  // header promises, not after gRPC's own reconnect back-off (120 s).
  if (options.connection.max_reconnect_backoff == absl::ZeroDuration()) {
    options.connection.max_reconnect_backoff = options.max_backoff;
  }
  std::unique_ptr<Publisher> p(new Publisher(std::move(options), std::move(on_outcome)));
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = Dial(p->options_.connection);
  if (!channel.ok()) return channel.status();
  p->channel_ = *std::move(channel);
  if (!p->options_.outbox_dir.empty()) {
    if (absl::Status s = p->OpenOutbox(); !s.ok()) return s;
  }
  p->sender_ = std::thread([raw = p.get()] { raw->Run(); });
  return p;
}

absl::Status Publisher::OpenOutbox() {
  rocksdb::Options o;
  o.create_if_missing = true;
  o.max_open_files = 64;
  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(o, options_.outbox_dir, &db);
  if (!s.ok()) {
    return absl::UnavailableError(absl::StrCat("publisher: cannot open the outbox ",
                                               options_.outbox_dir, ": ", s.ToString()));
  }
  outbox_.reset(db);
  // What an earlier publisher handed over and never saw the outcome of.
  absl::MutexLock lock(&mu_);
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const uint64_t seq = ReadBigEndian64(it->key().ToStringView());
    v1::AppendRequest stored;
    if (!stored.ParseFromArray(it->value().data(), static_cast<int>(it->value().size())) ||
        stored.events_size() != 1) {
      return absl::DataLossError(absl::StrCat("publisher: outbox entry ", seq, " in ",
                                              options_.outbox_dir, " is damaged"));
    }
    auto q = streams_.try_emplace(stored.stream_id()).first;
    const uint64_t before = FrontSeq(q->second);
    const size_t bytes = stored.events(0).ByteSizeLong();
    q->second.fresh.push_back(
        Entry{seq, std::move(*stored.mutable_events(0)), /*alone=*/true, bytes, absl::Now()});
    Reorder(q, before);
    ++pending_;
    pending_bytes_ += bytes;
    next_seq_ = std::max(next_seq_, seq + 1);
  }
  if (!it->status().ok()) {
    return absl::DataLossError(
        absl::StrCat("publisher: cannot read the outbox: ", it->status().ToString()));
  }
  return absl::OkStatus();
}

Publisher::~Publisher() { Close(); }

absl::StatusOr<std::string> Publisher::Publish(const std::string& stream_id, v1::Event event) {
  if (event.event_id().empty()) event.set_event_id(NewUuid());
  if (event.source_system().empty()) event.set_source_system(options_.source_system);
  if (!event.has_occurred_at()) *event.mutable_occurred_at() = ToProtoTime(absl::Now());
  event.clear_stream_id();
  // Framing of the request around it: its stream id and the field's tag.
  if (const size_t size = event.ByteSizeLong() + stream_id.size() + 16;
      size > options_.max_request_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "publisher: event ", event.event_id(), " would make a request of ", size,
        " bytes, more than max_request_bytes (", options_.max_request_bytes,
        ", the server's maxRequestBytes): the server could not take it"));
  }
  const size_t bytes = event.ByteSizeLong();
  uint64_t seq;
  {
    absl::MutexLock lock(&mu_);
    auto room = [this, bytes]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return closing_ ||
             (pending_ < options_.max_pending_events &&
              (pending_ == 0 || pending_bytes_ + bytes <= options_.max_pending_bytes));
    };
    if (!mu_.AwaitWithTimeout(absl::Condition(&room), options_.max_block)) {
      return absl::DeadlineExceededError(absl::StrCat(
          "publisher: no room for the event within max_block (",
          absl::FormatDuration(options_.max_block), "): ", pending_, " events (", pending_bytes_,
          " bytes) wait for the server, up to max_pending_events / max_pending_bytes; the event "
          "was not taken: hand it over again later",
          blocked_.ok() ? "" : absl::StrCat(" (", blocked_.message(), ")")));
    }
    if (closing_) return absl::FailedPreconditionError("publisher: closed");
    seq = next_seq_++;
    ++pending_;
    pending_bytes_ += bytes;
  }
  if (outbox_ != nullptr) {
    v1::AppendRequest stored;
    stored.set_stream_id(stream_id);
    *stored.add_events() = event;
    rocksdb::WriteOptions wo;
    wo.sync = true;
    rocksdb::Status s = outbox_->Put(wo, OutboxKey(seq), stored.SerializeAsString());
    if (!s.ok()) {
      absl::MutexLock lock(&mu_);
      --pending_;
      pending_bytes_ -= bytes;
      return absl::UnavailableError(
          absl::StrCat("publisher: the outbox cannot take the event: ", s.ToString()));
    }
  }
  const std::string id = event.event_id();
  absl::MutexLock lock(&mu_);
  if (closing_ && outbox_ == nullptr) {
    // Closed meanwhile: nothing would send or report it.
    --pending_;
    pending_bytes_ -= bytes;
    return absl::FailedPreconditionError("publisher: closed");
  }
  // (Closed meanwhile with an outbox: it is there for the next publisher.)
  auto q = streams_.try_emplace(stream_id).first;
  const uint64_t before = FrontSeq(q->second);
  q->second.fresh.push_back(Entry{seq, std::move(event), /*alone=*/false, bytes, absl::Now()});
  Reorder(q, before);
  wake_ = true;
  return id;
}

bool Publisher::Flush(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  flushing_ = true;
  wake_ = true;
  auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return pending_ == 0 || closing_; };
  const bool ok = mu_.AwaitWithTimeout(absl::Condition(&done), timeout) && pending_ == 0;
  flushing_ = false;
  return ok;
}

void Publisher::Close() {
  absl::MutexLock closing(&close_mu_);
  {
    absl::MutexLock lock(&mu_);
    if (closing_ && !sender_.joinable()) return;
    closing_ = true;
    if (call_context_ != nullptr) call_context_->TryCancel();
  }
  if (sender_.joinable()) sender_.join();
  if (outbox_ != nullptr) return;  // kept there for the next publisher
  std::vector<Batch> left;
  {
    absl::MutexLock lock(&mu_);
    left = TakeAllWaiting();
  }
  FailAll(std::move(left),
          absl::CancelledError("publisher: closed before the server answered for this event, "
                               "and there is no outbox to keep it; it is in the log only if it "
                               "was sent: publish it again with the same event id to find out"));
}

std::vector<Publisher::Batch> Publisher::TakeAllWaiting() {
  std::vector<Batch> out;
  for (auto& [stream_id, q] : streams_) {
    Batch b;
    b.stream_id = stream_id;
    for (Batch& r : q.retries) {
      for (Entry& e : r.entries) b.entries.push_back(std::move(e));
    }
    q.retries.clear();
    for (Entry& e : q.fresh) b.entries.push_back(std::move(e));
    q.fresh.clear();
    if (b.entries.empty()) continue;
    q.in_flight = true;  // until Finished
    out.push_back(std::move(b));
  }
  order_.clear();  // nothing waits now
  return out;
}

void Publisher::FailAll(std::vector<Batch> batches, const absl::Status& status) {
  for (const Batch& b : batches) {
    std::vector<Outcome> outcomes;
    for (const Entry& e : b.entries) {
      Outcome o;
      o.event_id = e.event.event_id();
      o.stream_id = b.stream_id;
      o.status = status;
      outcomes.push_back(std::move(o));
    }
    Finished(b, std::move(outcomes));
  }
}

size_t Publisher::pending() const {
  absl::MutexLock lock(&mu_);
  return pending_;
}

void Publisher::Run() {
  auto stub = v1::EventLog::NewStub(channel_);
  absl::Duration backoff = absl::Milliseconds(50);
  // The last call was refused too (since one was taken).
  bool refused_before = false;
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (closing_) return;
    }
    const CallEnd end = ServeCall(stub.get());
    if (!end.answered || !end.refused.ok()) {
      // The files again (a renewed token, a rotated certificate the server
      // wants now), and a new connection.
      absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = Dial(options_.connection);
      if (channel.ok()) {
        channel_ = *std::move(channel);
        stub = v1::EventLog::NewStub(channel_);
      } else {
        std::fprintf(stderr, "evenhand publisher: cannot read its credentials again: %s\n",
                     channel.status().ToString().c_str());
      }
    }
    absl::Duration wait;
    if (end.refused.ok()) {
      refused_before = false;
      backoff = end.answered ? absl::Milliseconds(50) : std::min(backoff * 2, options_.max_backoff);
      // A call the server ended with a RetryInfo (stopping, over a limit)
      // is not tried again before its delay.
      wait = std::max(backoff, end.server_delay);
    } else {
      if (refused_before) Refused(end.refused);
      wait =
          refused_before ? std::max(options_.max_backoff, end.server_delay) : absl::ZeroDuration();
      refused_before = true;
    }
    absl::MutexLock lock(&mu_);
    auto closing = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return closing_; };
    if (mu_.AwaitWithTimeout(absl::Condition(&closing), wait)) return;
  }
}

void Publisher::Refused(const absl::Status& refusal) {
  if (outbox_ != nullptr) {
    size_t waiting;
    {
      absl::MutexLock lock(&mu_);
      if (blocked_ == refusal) return;  // said already
      blocked_ = refusal;
      waiting = pending_;
    }
    std::fprintf(stderr,
                 "evenhand publisher: %s: the %zu events waiting stay in the outbox; trying "
                 "again every %s, with the credentials' files read again each time\n",
                 std::string(refusal.message()).c_str(), waiting,
                 absl::FormatDuration(options_.max_backoff).c_str());
    return;
  }
  std::vector<Batch> refused;
  {
    absl::MutexLock lock(&mu_);
    if (closing_) return;  // Close() reports them
    refused = TakeAllWaiting();
  }
  size_t events = 0;
  for (const Batch& b : refused) events += b.entries.size();
  if (events == 0) return;
  std::fprintf(stderr, "evenhand publisher: %s: the %zu events waiting are reported refused\n",
               std::string(refusal.message()).c_str(), events);
  FailAll(std::move(refused), refusal);
}

absl::Status Publisher::Blocked() const {
  absl::MutexLock lock(&mu_);
  return blocked_;
}

uint64_t Publisher::FrontSeq(const StreamQueue& q) {
  if (!q.retries.empty()) return q.retries.front().entries.front().seq;
  return q.fresh.empty() ? 0 : q.fresh.front().seq;
}

void Publisher::Reorder(std::map<std::string, StreamQueue>::iterator it, uint64_t before) {
  const uint64_t now = FrontSeq(it->second);
  if (now == before) return;
  if (before != 0) order_.erase(before);
  if (now != 0) order_.emplace(now, it);
}

std::optional<Publisher::Batch> Publisher::NextBatch() {
  // In the order events were handed over: the stream holding the oldest
  // waiting event goes first, once its batch is ready (full, lingered, or
  // flushing); until then the streams behind it wait (a linger at most),
  // so an event is not sent ahead of one handed over before it, unless
  // that one waits for its stream's batch in flight, or backs off.
  const absl::Time now = absl::Now();
  for (auto& [seq, it] : order_) {
    StreamQueue& q = it->second;
    if (q.in_flight || now < q.not_before) continue;
    if (q.retries.empty()) {
      const Entry& front = q.fresh.front();
      const bool ready = front.alone || flushing_ || q.fresh.size() >= options_.batch_max_events ||
                         now - front.handed >= options_.linger;
      if (!ready) return std::nullopt;
    }
    return TakeBatch(it);
  }
  return std::nullopt;
}

std::optional<Publisher::Batch> Publisher::TakeBatch(
    std::map<std::string, StreamQueue>::iterator it) {
  const std::string& stream_id = it->first;
  StreamQueue& q = it->second;
  const uint64_t before = FrontSeq(q);
  q.in_flight = true;
  if (!q.retries.empty()) {
    Batch b = std::move(q.retries.front());
    q.retries.pop_front();
    Reorder(it, before);
    return b;
  }
  const bool alone = q.fresh.front().alone;
  Batch b;
  b.stream_id = stream_id;
  const size_t n = alone ? 1 : std::min(q.fresh.size(), options_.batch_max_events);
  size_t bytes = 0;
  for (size_t i = 0; i < n && !(i > 0 && q.fresh.front().alone); ++i) {
    const size_t size = q.fresh.front().event.ByteSizeLong();
    if (i > 0 && bytes + size > options_.batch_max_bytes) break;
    bytes += size;
    b.entries.push_back(std::move(q.fresh.front()));
    q.fresh.pop_front();
  }
  Reorder(it, before);
  return b;
}

bool Publisher::WaitsForEarlierEvents(const Batch& batch, const v1::AppendStreamResponse& r) const {
  const uint64_t seq = batch.entries.front().seq;
  for (const google::protobuf::Any& any : r.error().details()) {
    google::rpc::ErrorInfo info;
    if (!any.UnpackTo(&info) || info.reason() != "UNKNOWN_REFERENCE") continue;
    auto named = info.metadata().find("stream");
    if (named == info.metadata().end() || named->second == batch.stream_id) return false;
    auto q = streams_.find(named->second);
    if (q == streams_.end()) return false;
    // An event of that stream handed over before this one, not yet
    // answered: waiting, or in flight (answers are read on one thread, so
    // none is between its answer and its outcome now).
    if (const uint64_t front = FrontSeq(q->second); front != 0 && front < seq) return true;
    for (const auto& [index, sent] : in_flight_) {
      if (sent.batch.stream_id == named->second && sent.batch.entries.front().seq < seq) {
        return true;
      }
    }
    return false;
  }
  return false;
}

void Publisher::Requeue(Batch batch, bool back_off, absl::Duration server_delay) {
  auto it = streams_.try_emplace(batch.stream_id).first;
  StreamQueue& q = it->second;
  const uint64_t before = FrontSeq(q);
  q.in_flight = false;
  if (back_off) {
    q.backoff = std::min(std::max(absl::Milliseconds(50), q.backoff * 2), options_.max_backoff);
    // The server's RetryInfo is a floor: its rate limit or a disk below its
    // floor says when trying again can help; sooner would only be refused.
    q.not_before = absl::Now() + std::max(q.backoff, server_delay);
  }
  q.retries.push_front(std::move(batch));
  Reorder(it, before);
  wake_ = true;
}

void Publisher::RequeueOneByOne(Batch batch) {
  auto it = streams_.try_emplace(batch.stream_id).first;
  StreamQueue& q = it->second;
  const uint64_t before = FrontSeq(q);
  q.in_flight = false;
  for (auto e = batch.entries.rbegin(); e != batch.entries.rend(); ++e) {
    Batch single;
    single.stream_id = batch.stream_id;
    single.entries.push_back(std::move(*e));
    q.retries.push_front(std::move(single));
  }
  Reorder(it, before);
  wake_ = true;
}

Publisher::CallEnd Publisher::ServeCall(v1::EventLog::Stub* stub) {
  CallEnd end;
  grpc::ClientContext context;
  // Wait for the server to be there rather than fail at once: events
  // handed over while it is down go when it comes back.
  context.set_wait_for_ready(true);
  {
    absl::MutexLock lock(&mu_);
    if (closing_) return end;
    call_context_ = &context;
    call_broken_ = false;
    call_answered_ = false;
    call_unauthenticated_ = absl::OkStatus();
  }
  auto call = stub->AppendStream(&context);
  std::thread reader([&] { ReadAnswers(call.get()); });
  // A server gone without closing the connection answers nothing, and once
  // flow control is full the sender waits in Write(): a thread of its own
  // abandons the call when its oldest request has waited answer_timeout,
  // and its requests go again on the next call.
  bool call_over = false;
  std::thread watchdog([&] {
    const absl::Duration tick = std::min(absl::Seconds(1), options_.answer_timeout / 4);
    absl::MutexLock lock(&mu_);
    while (!mu_.AwaitWithTimeout(absl::Condition(&call_over), tick)) {
      if (!in_flight_.empty() &&
          absl::Now() - in_flight_.begin()->second.at > options_.answer_timeout) {
        call_broken_ = true;
        context.TryCancel();
        return;
      }
    }
  });
  uint64_t index = 0;
  for (;;) {
    Batch batch;
    {
      absl::MutexLock lock(&mu_);
      std::optional<Batch> next;
      for (;;) {
        if (closing_ || call_broken_) break;
        if (in_flight_.size() < options_.max_unanswered && (next = NextBatch())) break;
        wake_ = false;
        mu_.AwaitWithTimeout(absl::Condition(this, &Publisher::Awake),
                             std::max(options_.linger, absl::Milliseconds(1)));
      }
      if (!next) break;
      batch = std::move(*next);
      in_flight_[index] = Sent{batch, absl::Now()};
    }
    v1::AppendRequest request;
    request.set_stream_id(batch.stream_id);
    for (const Entry& e : batch.entries) *request.add_events() = e.event;
    if (!call->Write(request)) break;
    ++index;
  }
  {
    absl::MutexLock lock(&mu_);
    if (closing_) context.TryCancel();
  }
  call->WritesDone();
  reader.join();
  {
    absl::MutexLock lock(&mu_);
    call_over = true;
  }
  watchdog.join();
  const grpc::Status ended = call->Finish();
  end.server_delay = ServerRetryDelay(ended);
  // What the call took and did not answer goes again, as it was.
  std::vector<Batch> too_large;
  {
    absl::MutexLock lock(&mu_);
    if (ended.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED &&
        end.server_delay == absl::ZeroDuration() && !in_flight_.empty() &&
        absl::StrContains(ended.error_message(), "larger than max")) {
      // gRPC ends a call whose request is over the server's maxRequestBytes
      // (no RetryInfo: not a limit that time lifts). The largest request
      // unanswered is over it: split, or refused if it is one event.
      auto largest = in_flight_.begin();
      size_t largest_bytes = 0;
      for (auto it = in_flight_.begin(); it != in_flight_.end(); ++it) {
        size_t bytes = 0;
        for (const Entry& e : it->second.batch.entries) bytes += e.bytes;
        if (bytes > largest_bytes) {
          largest_bytes = bytes;
          largest = it;
        }
      }
      Batch batch = std::move(largest->second.batch);
      in_flight_.erase(largest);
      if (batch.entries.size() == 1) {
        too_large.push_back(std::move(batch));
      } else {
        RequeueOneByOne(std::move(batch));
      }
    }
    for (auto& [i, sent] : in_flight_) Requeue(std::move(sent.batch), /*back_off=*/false);
    in_flight_.clear();
    call_context_ = nullptr;
    end.answered = call_answered_;
    if (!closing_ && !end.answered && RefusedCall(ended.error_code())) {
      const auto code = static_cast<absl::StatusCode>(ended.error_code());
      end.refused = absl::Status(
          code, absl::StrCat("the server refused the publisher's AppendStream call (",
                             absl::StatusCodeToString(code), ": ", ended.error_message(), ")"));
    } else if (!closing_) {
      end.refused = call_unauthenticated_;
    }
  }
  if (!too_large.empty()) {
    FailAll(std::move(too_large),
            absl::ResourceExhaustedError(absl::StrCat(
                "the server ended the call on this event's request (", ended.error_message(),
                "): the event alone is larger than the server's maxRequestBytes; raise it in the "
                "server's config, or make the event smaller")));
  }
  return end;
}

void Publisher::ReadAnswers(
    grpc::ClientReaderWriter<v1::AppendRequest, v1::AppendStreamResponse>* call) {
  v1::AppendStreamResponse r;
  while (call->Read(&r)) {
    Batch batch;
    {
      absl::MutexLock lock(&mu_);
      call_answered_ = true;
      auto it = in_flight_.find(r.request_index());
      if (it == in_flight_.end()) continue;
      batch = std::move(it->second.batch);
      in_flight_.erase(it);
      if (r.has_error() && r.error().code() == grpc::StatusCode::UNAUTHENTICATED) {
        // The caller's credentials (a token that expired during the call),
        // never the event: it waits for a call with fresh ones.
        Requeue(std::move(batch), /*back_off=*/false);
        call_unauthenticated_ = absl::UnauthenticatedError(absl::StrCat(
            "the server refused the publisher's credentials (", r.error().message(), ")"));
        call_broken_ = true;
        continue;
      }
      blocked_ = absl::OkStatus();  // the server takes the publisher again
      if (r.has_error() && Retryable(r.error().code())) {
        Requeue(std::move(batch), /*back_off=*/true, ServerRetryDelay(r.error().details()));
        continue;
      }
      if (r.has_error() && batch.entries.size() == 1 && WaitsForEarlierEvents(batch, r)) {
        // It names what this publisher has yet to deliver (handed over
        // earlier, and still in flight or backing off): once that is in the
        // log it can go.
        Requeue(std::move(batch), /*back_off=*/true);
        continue;
      }
      if (r.has_error() && batch.entries.size() > 1) {
        RequeueOneByOne(std::move(batch));
        continue;
      }
      if (r.has_appended()) streams_[batch.stream_id].backoff = absl::ZeroDuration();
    }
    std::vector<Outcome> outcomes;
    for (size_t i = 0; i < batch.entries.size(); ++i) {
      Outcome o;
      o.event_id = batch.entries[i].event.event_id();
      o.stream_id = batch.stream_id;
      if (r.has_appended() &&
          static_cast<size_t>(r.appended().positions_size()) != batch.entries.size()) {
        // Never a position 0 taken for one.
        o.status = absl::InternalError(absl::StrCat(
            "publisher: the server answered ", r.appended().positions_size(), " positions for ",
            batch.entries.size(), " events; publish them again with the same ids to learn them"));
      } else if (r.has_appended()) {
        o.position = r.appended().positions(static_cast<int>(i));
        o.idempotent_replay = r.appended().idempotent_replay();
      } else {
        o.status =
            absl::Status(static_cast<absl::StatusCode>(r.error().code()), r.error().message());
        // The details a unary Append's status would carry (GetErrorInfo, ...).
        for (const auto& any : r.error().details()) {
          o.status.SetPayload(any.type_url(), absl::Cord(any.value()));
        }
      }
      outcomes.push_back(std::move(o));
    }
    Finished(batch, std::move(outcomes));
  }
  absl::MutexLock lock(&mu_);
  call_broken_ = true;
}

void Publisher::Finished(const Batch& batch, std::vector<Outcome> outcomes) {
  // Reported first, then out of the outbox: a crash in between reports it
  // again (as a replay) rather than never.
  for (const Outcome& o : outcomes) {
    if (on_outcome_) on_outcome_(o);
  }
  if (outbox_ != nullptr) {
    rocksdb::WriteBatch done;
    for (const Entry& e : batch.entries) done.Delete(OutboxKey(e.seq));
    rocksdb::WriteOptions wo;
    wo.sync = true;
    rocksdb::Status s = outbox_->Write(wo, &done);
    if (!s.ok()) {
      // Left in the outbox, they will be sent again by the next publisher
      // and answered as replays: said here, as nothing else can.
      std::fprintf(stderr, "evenhand publisher: cannot remove delivered events from the outbox "
                           "(%s); they will be resent and answered as replays\n",
                   s.ToString().c_str());
    }
  }
  absl::MutexLock lock(&mu_);
  auto it = streams_.find(batch.stream_id);
  if (it != streams_.end()) {
    it->second.in_flight = false;
    if (it->second.fresh.empty() && it->second.retries.empty()) streams_.erase(it);
  }
  pending_ -= batch.entries.size();
  for (const Entry& e : batch.entries) pending_bytes_ -= e.bytes;
  wake_ = true;
}

}  // namespace evenhand::clients
