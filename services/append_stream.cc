#include "services/append_stream.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/call_metadata.h"
#include "base/error_details.h"
#include "base/grpc_status.h"
#include "base/logging.h"
#include "services/event_validation.h"
#include "services/internal/append_request.h"
#include "services/internal/raw_messages.h"

namespace evenhand::services {
namespace {

constexpr char kAppendStream[] = "evenhand.v1.EventLog/AppendStream";

v1::AppendError ToAppendError(const absl::Status& status) {
  v1::AppendError e;
  const absl::Status detailed = WithDefaultDetails(status);
  e.set_code(static_cast<int>(status.code()));
  e.set_code_name(absl::StatusCodeToString(status.code()));
  e.set_message(std::string(status.message()));
  if (std::optional<google::rpc::ErrorInfo> info = GetErrorInfo(detailed)) {
    e.set_reason(info->reason());
    for (const auto& [k, v] : info->metadata()) (*e.mutable_metadata())[k] = v;
  }
  AddWireDetails(status, e.mutable_details());  // what a unary caller gets
  return e;
}

}  // namespace

AppendStreamReactor::AppendStreamReactor(grpc::CallbackServerContext* context,
                                         storage::EventStore* store, const EventLogOptions& options,
                                         size_t max_unanswered, internal::DeliveryPool* resume,
                                         AppendStreams* open, internal::AppendBudget* budget)
    : context_(context),
      store_(store),
      options_(options),
      max_unanswered_(max_unanswered),
      resume_(resume),
      open_(open),
      budget_(budget) {
  // Who is calling, before anything is read.
  if (absl::Status admitted =
          options_.gate->Admit(*context_, kAppendStream, v1::AppendRequest()).status();
      !admitted.ok()) {
    {
      absl::MutexLock lock(&mu_);
      finished_ = true;
    }
    Finish(ToGrpcStatus(admitted));
    return;
  }
  // Said at once: an idle publisher learns that its credentials were taken
  // (one refused before, say), not only with its first answer.
  context_->AddInitialMetadata(kAppendStreamAdmitted, "1");
  StartSendInitialMetadata();
  if (open_->Add(this)) {
    // Opened after the stop began: refused with the reason, as Append is.
    {
      absl::MutexLock lock(&mu_);
      finished_ = true;
    }
    Finish(ToGrpcStatus(WithErrorInfo(
        absl::UnavailableError("the server is shutting down; call again when it is back"),
        "SHUTTING_DOWN")));
    return;
  }
  Actions actions;
  {
    absl::MutexLock lock(&mu_);
    actions = Decide();
  }
  Run(actions);
}

void AppendStreamReactor::EndForShutdown() {
  Actions actions;
  {
    absl::MutexLock lock(&mu_);
    shutting_down_ = true;
    actions = Decide();
  }
  Run(actions);
}

void AppendStreamReactor::OnReadDone(bool ok) {
  uint64_t index = 0;
  grpc::ByteBuffer bytes;
  Actions actions;
  bool take = false;
  {
    absl::MutexLock lock(&mu_);
    if (!ok || cancelled_ || finished_) {
      // The client half-closed (or the call broke): answer what is in
      // flight, then finish. Finished at a stop with this read in flight,
      // a request it brings is dropped, never appended: the reactor may be
      // gone before anything it starts now would come back to it (a wait
      // for the append budget; found in review).
      reading_ = false;
      reads_done_ = true;
      actions = Decide();
    } else {
      // `reading_` stays set until the request is in the store's queue: the
      // next request must not be read (on another thread) and overtake it,
      // or one stream's appends could be decided out of order.
      take = true;
      index = next_index_++;
      ++unanswered_;
      const size_t size = request_.Length();
      unanswered_bytes_ += size;
      request_bytes_[index] = size;
      bytes.Swap(&request_);
    }
  }
  if (!take) return Run(actions);
  // Parsed as gRPC would (without a copy; it releases `bytes`).
  v1::AppendRequest request;
  if (!grpc::SerializationTraits<v1::AppendRequest>::Deserialize(&bytes, &request).ok()) {
    // Answered like any refused request; the call goes on.
    Answer(index, "", "", internal::UnparseableRequest(request.GetTypeName()), absl::Now(),
           /*from_store=*/false);
    return DoneReading();
  }
  const bool parked = Handle(index, std::move(request), absl::Now(), /*may_park=*/true);
  logging::SetThreadRequestId("");  // this thread goes on to other calls
  // A parked request keeps `reading_` set: nothing is read past it until
  // it is dealt with (Answer takes it up).
  if (!parked) DoneReading();
}

void AppendStreamReactor::DoneReading() {
  Actions actions;
  {
    absl::MutexLock lock(&mu_);
    reading_ = false;
    actions = Decide();
  }
  Run(actions);
}

bool AppendStreamReactor::Handle(uint64_t index, v1::AppendRequest request, absl::Time started,
                                 bool may_park, bool admitted,
                                 std::optional<internal::AppendBudget::Hold> granted) {
  const std::string stream_id = request.stream_id();
  const std::string first_event_id =
      request.events_size() > 0 ? request.events(0).event_id() : std::string();
  auto fail = [&](const absl::Status& status) {
    Answer(index, stream_id, first_event_id, status, started, /*from_store=*/false);
    return false;
  };
  // Each request is authorised as an Append is (the publisher's lane is
  // checked against its events), once: a parked or revalidated request is
  // not counted against the principal's rate again.
  if (!admitted) {
    if (absl::Status s = options_.gate->Admit(*context_, kAppendStream, request).status();
        !s.ok()) {
      return fail(s);
    }
  }
  // Held until the store answers (or this returns: refused, or parked).
  // Past the server's budget the request waits, parked (nothing more of the
  // call is read: its later requests must not overtake it), until bytes are
  // let go, in line with every call's; parked first, so that its turn
  // cannot come before it is.
  std::optional<internal::AppendBudget::Hold> hold = std::move(granted);
  if (!hold.has_value()) {
    const uint64_t size = request.ByteSizeLong();
    {
      absl::MutexLock lock(&mu_);
      parked_ = Parked{index, std::move(request), started, /*for_budget=*/true};
    }
    hold = budget_->TakeOrWait(size, [this, index](internal::AppendBudget::Hold turn) {
      // Not on the thread letting bytes go (the store's completer, say).
      resume_->Submit([this, index, turn = std::move(turn)]() mutable -> size_t {
        ResumeFromBudget(index, std::move(turn));
        return 0;
      });
    });
    if (!hold.has_value()) return true;
    absl::MutexLock lock(&mu_);
    request = std::move(parked_->request);
    parked_.reset();
  }
  absl::StatusOr<storage::ExpectedRevision> expected = internal::ToExpected(request);
  if (!expected.ok()) return fail(expected.status());
  bool earlier_in_store;
  {
    absl::MutexLock lock(&mu_);
    earlier_in_store = in_store_ > 0;
  }
  // Kept only while it may have to be validated again.
  std::optional<v1::AppendRequest> original;
  if (may_park && earlier_in_store) original = request;
  std::vector<v1::Event> events(std::make_move_iterator(request.mutable_events()->begin()),
                                std::make_move_iterator(request.mutable_events()->end()));
  if (absl::Status s = PrepareAppend(options_.limits, options_.validator, options_.clock(),
                                     stream_id, &events, &*expected);
      !s.ok()) {
    if (original) {
      absl::MutexLock lock(&mu_);
      if (in_store_ > 0) {
        parked_ = Parked{index, *std::move(original), started, /*for_budget=*/false};
        return true;
      }
      // Decided meanwhile: validate against the log as it now is.
    }
    if (original) {
      return Handle(index, *std::move(original), started, /*may_park=*/false, /*admitted=*/true,
                    std::move(hold));
    }
    return fail(s);
  }
  {
    absl::MutexLock lock(&mu_);
    ++in_store_;
  }
  store_->AppendAsync(stream_id, *expected, std::move(events),
                      [this, index, stream_id, first_event_id, started, hold = *std::move(hold)](
                          absl::StatusOr<storage::AppendResult> result) mutable {
                        // Let go before the answer: once answered, the call
                        // (and at a stop, the service) may be gone.
                        { internal::AppendBudget::Hold released = std::move(hold); }
                        Answer(index, stream_id, first_event_id, result, started,
                               /*from_store=*/true);
                      });
  return false;
}

void AppendStreamReactor::Answer(uint64_t index, const std::string& stream_id,
                                 const std::string& first_event_id,
                                 const absl::StatusOr<storage::AppendResult>& result,
                                 absl::Time started, bool from_store) {
  internal::CountAppend(result.status().code(), started);
  v1::AppendStreamResponse response;
  response.set_request_index(index);
  response.set_stream_id(stream_id);
  response.set_first_event_id(first_event_id);
  if (result.ok()) {
    v1::AppendResponse* appended = response.mutable_appended();
    appended->mutable_positions()->Assign(result->positions.begin(), result->positions.end());
    appended->set_stream_revision(result->stream_revision);
    appended->set_idempotent_replay(result->idempotent_replay);
  } else {
    *response.mutable_error() = ToAppendError(result.status());
  }
  Response serialised{index, {}};
  bool own_buffer = false;
  if (!grpc::SerializationTraits<v1::AppendStreamResponse>::Serialize(
           response, &serialised.bytes, &own_buffer)
           .ok()) {
    // (Only a message over 2 GiB fails to serialise: not these.) The
    // request is still answered, with what is known of its outcome.
    v1::AppendStreamResponse unknown;
    unknown.set_request_index(index);
    *unknown.mutable_error() = ToAppendError(absl::InternalError(
        "the answer to this request could not be serialised; its events may have been "
        "appended: send it again with the same event ids to learn their positions"));
    (void)grpc::SerializationTraits<v1::AppendStreamResponse>::Serialize(
        unknown, &serialised.bytes, &own_buffer);
  }
  Actions actions;
  std::optional<Parked> resume;
  {
    absl::MutexLock lock(&mu_);
    responses_.push_back(std::move(serialised));
    if (from_store) {
      --in_store_;
      // Everything before the parked request is decided: it goes on (one
      // waiting for the budget goes on when bytes are let go).
      if (in_store_ == 0 && parked_ && !parked_->for_budget) {
        resume = std::move(parked_);
        parked_.reset();
      }
    }
    actions = Decide();
  }
  Run(actions);
  if (resume) {
    // Not on this thread (the store's completer, when from_store).
    resume_->Submit([this, r = *std::move(resume)]() mutable -> size_t {
      const bool parked =
          Handle(r.index, std::move(r.request), r.started, /*may_park=*/false, /*admitted=*/true);
      logging::SetThreadRequestId("");
      if (!parked) DoneReading();  // (parked again, for the budget)
      return 0;
    });
  }
}

void AppendStreamReactor::ResumeFromBudget(uint64_t index, internal::AppendBudget::Hold turn) {
  std::optional<Parked> r;
  bool cancelled = false;
  {
    absl::MutexLock lock(&mu_);
    if (!parked_ || !parked_->for_budget || parked_->index != index) return;
    r = std::move(parked_);
    parked_.reset();
    cancelled = cancelled_;
  }
  if (cancelled) {
    // Nobody will read the answer: not appended (a retry is safe).
    Answer(r->index, r->request.stream_id(), "",
           absl::CancelledError("the call was cancelled while the request waited"), r->started,
           /*from_store=*/false);
    return DoneReading();
  }
  const bool parked = Handle(r->index, std::move(r->request), r->started, /*may_park=*/true,
                             /*admitted=*/true, std::move(turn));
  logging::SetThreadRequestId("");
  if (!parked) DoneReading();
}

void AppendStreamReactor::OnWriteDone(bool ok) {
  Actions actions;
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (auto it = request_bytes_.find(responses_.front().request_index);
        it != request_bytes_.end()) {
      unanswered_bytes_ -= it->second;
      request_bytes_.erase(it);
    }
    responses_.pop_front();
    --unanswered_;
    // Not ok: the client is gone and nothing more can be written. Requests
    // already in the store are still decided there (a retry with the same
    // event ids is safe); their answers are dropped.
    if (!ok) cancelled_ = true;
    actions = Decide();
  }
  Run(actions);
}

void AppendStreamReactor::OnCancel() {
  Actions actions;
  {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    actions = Decide();
  }
  Run(actions);
}

AppendStreamReactor::Actions AppendStreamReactor::Decide() {
  Actions a;
  if (finished_) return a;
  if (cancelled_) {
    // Answers nobody will read are dropped, but the finish waits for the
    // store's callbacks, which still refer to this reactor, and for the
    // read and write in flight.
    if (!writing_) {
      unanswered_ -= responses_.size();
      responses_.clear();
      request_bytes_.clear();
      unanswered_bytes_ = 0;
    }
    if (unanswered_ == 0 && !writing_ && !reading_) {
      finished_ = true;
      a.finish = true;
      a.status = grpc::Status(grpc::StatusCode::CANCELLED, "the call was cancelled");
    }
    return a;
  }
  if (!writing_ && !responses_.empty()) {
    writing_ = true;
    a.write = &responses_.front().bytes;
  }
  if (!shutting_down_ && !reading_ && !reads_done_ && unanswered_ < max_unanswered_ &&
      unanswered_bytes_ < kMaxUnansweredBytes) {
    reading_ = true;
    a.read = true;
  }
  if (reads_done_ && !reading_ && unanswered_ == 0 && !writing_) {
    finished_ = true;
    a.finish = true;
    a.status = grpc::Status::OK;
  } else if (shutting_down_ && unanswered_ == 0 && !writing_) {
    // Every request read is answered: the call ends, saying why, so that a
    // publisher calls again once the server is back (the read in flight, if
    // any, ends with it, and finds the call finished). Cancelled, it was
    // CANCELLED, which a client takes for its own cancel and gives up
    // (found by reading the integration guide's example).
    finished_ = true;
    a.finish = true;
    a.status = ToGrpcStatus(WithErrorInfo(
        absl::UnavailableError("the server is shutting down; every request of this call that it "
                               "read was answered (send again any that was not); call again when "
                               "it is back"),
        "SHUTTING_DOWN"));
  }
  return a;
}

void AppendStreamReactor::Run(const Actions& a) {
  if (a.write != nullptr) StartWrite(a.write);
  if (a.read) StartRead(&request_);
  if (a.finish) Finish(a.status);  // last: `this` may be deleted after it
}

void AppendStreamReactor::OnDone() {
  open_->Remove(this);
  delete this;
}

}  // namespace evenhand::services
