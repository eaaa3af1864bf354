// Publisher (2/3): the AppendStream call's life. Dialing (and dialing
// again, reading the credentials' files, after a refusal or a call with no
// answer), back-off, the refusals of the publisher itself, and the answers.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>
#include <utility>

#include "absl/hash/hash.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/call_metadata.h"
#include "clients/publisher.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace evenhand::clients {
namespace {

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

// Errors after which the same request is sent again: the server was
// unreachable, stopping, out of disk for now, or a request it depended on
// failed. Anything else is the event's outcome.
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

// What the connection's files hold now (a hash; missing files count), to
// notice a renewed token or certificate.
uint64_t CredentialsFingerprint(const Connection& c) {
  std::string all;
  for (const std::string* path : {&c.ca_file, &c.cert_file, &c.key_file, &c.token_file}) {
    std::ifstream in(*path);
    std::stringstream text;
    if (in) text << in.rdbuf();
    absl::StrAppend(&all, in ? "+" : "-", text.str().size(), ":", text.str());
  }
  return absl::HashOf(all);
}

// A length-delimited field's size on the wire: its tag (fields 1 and 4:
// one byte), its length, its bytes.
size_t FieldBytes(size_t length) {
  return 1 + google::protobuf::io::CodedOutputStream::VarintSize64(length) + length;
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

void Publisher::Run() {
  auto stub = v1::EventLog::NewStub(channel_);
  absl::Duration backoff = absl::Milliseconds(50);
  // Zero while the server takes the publisher; after a refusal, the wait
  // before the next try but one (the first goes at once).
  absl::Duration refused_backoff;
  // Dialled here too (Start's dial checked the options), so that what
  // the files held is known from just before.
  bool redial = true;
  std::string dial_error;  // said once
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (closing_) return;
    }
    if (redial) {
      // The files again (a renewed token, a rotated certificate the server
      // wants now), and a new connection.
      dialled_files_ = CredentialsFingerprint(options_.connection);
      absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = Dial(options_.connection);
      if (channel.ok()) {
        channel_ = *std::move(channel);
        stub = v1::EventLog::NewStub(channel_);
        dial_error.clear();
      } else if (channel.status().ToString() != dial_error) {
        dial_error = channel.status().ToString();
        std::fprintf(stderr, "evenhand publisher: cannot read its credentials again: %s\n",
                     dial_error.c_str());
      }
    }
    const CallEnd end = ServeCall(stub.get());
    // After a call the server answered nothing on, or refused.
    redial = !end.answered || !end.refused.ok();
    // A refusal after a call was taken (a token expired during it) is a
    // new one: tried again at once.
    if (end.admitted) refused_backoff = absl::ZeroDuration();
    absl::Duration wait;
    bool watch_files = false;
    if (end.refused.ok()) {
      backoff = end.answered ? absl::Milliseconds(50) : std::min(backoff * 2, options_.max_backoff);
      // A call the server ended with a RetryInfo (stopping, over a limit)
      // is not tried again before its delay.
      wait = std::max(backoff, end.server_delay);
    } else if (refused_backoff == absl::ZeroDuration()) {
      wait = end.server_delay;  // once more, with the files read again
      refused_backoff = options_.max_backoff;
    } else {
      // With an outbox, each refusal is on the server's record: tried
      // again less and less often, up to every five minutes, and at once
      // when the files change. Without one, each refusal reports what
      // waits, so events handed over meanwhile learn theirs at
      // max_backoff's pace.
      Refused(end.refused, refused_backoff);
      wait = std::max(refused_backoff, end.server_delay);
      if (outbox_ != nullptr) {
        refused_backoff =
            std::min(refused_backoff * 2, std::max(options_.max_backoff, absl::Minutes(5)));
      }
      watch_files = true;
    }
    const absl::Time until = absl::Now() + wait;
    absl::MutexLock lock(&mu_);
    auto closing = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return closing_; };
    for (;;) {
      if (watch_files) {
        // Against what the refused call was dialled with.
        mu_.Unlock();
        const bool changed = CredentialsFingerprint(options_.connection) != dialled_files_;
        mu_.Lock();
        if (changed) break;
      }
      const absl::Duration left = until - absl::Now();
      if (left <= absl::ZeroDuration()) break;
      if (mu_.AwaitWithTimeout(absl::Condition(&closing),
                               watch_files ? std::min(left, absl::Seconds(1)) : left)) {
        return;
      }
    }
  }
}

void Publisher::Refused(const absl::Status& refusal, absl::Duration next_try) {
  if (outbox_ != nullptr) {
    size_t waiting;
    {
      absl::MutexLock lock(&mu_);
      if (blocked_ == refusal) return;  // said already
      blocked_ = refusal;
      waiting = pending_;
    }
    std::fprintf(stderr,
                 "evenhand publisher: %s: the %zu events waiting, and those handed over from now, "
                 "stay in the outbox; trying again in %s (then less often, up to every 5m), or "
                 "as soon as its certificate, key or token file changes\n",
                 std::string(refusal.message()).c_str(), waiting,
                 absl::FormatDuration(next_try).c_str());
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

void Publisher::Admitted() {
  if (blocked_.ok()) return;
  blocked_ = absl::OkStatus();
  std::fprintf(stderr, "evenhand publisher: the server takes the publisher's calls again\n");
}

absl::Status Publisher::Blocked() const {
  absl::MutexLock lock(&mu_);
  return blocked_;
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
    call_admitted_ = false;
    call_unauthenticated_ = absl::OkStatus();
  }
  auto call = stub->AppendStream(&context);
  std::thread reader([&] { ReadAnswers(call.get(), &context); });
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
        // The request as it went on the wire: its stream id and events.
        size_t bytes = FieldBytes(it->second.batch.stream_id.size());
        for (const Entry& e : it->second.batch.entries) bytes += FieldBytes(e.bytes);
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
    end.admitted = call_admitted_ || call_answered_;
    if (!closing_ && !end.admitted && RefusedCall(ended.error_code())) {
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
    grpc::ClientReaderWriter<v1::AppendRequest, v1::AppendStreamResponse>* call,
    grpc::ClientContext* context) {
  // A server that takes the call says so at once; a refusal has no
  // initial metadata (an older server: the first answer says it).
  call->WaitForInitialMetadata();
  if (context->GetServerInitialMetadata().count(kAppendStreamAdmitted) > 0) {
    absl::MutexLock lock(&mu_);
    call_admitted_ = true;
    Admitted();
  }
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
      Admitted();
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

}  // namespace evenhand::clients
