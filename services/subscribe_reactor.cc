#include "services/subscribe_reactor.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/error_details.h"
#include "base/grpc_status.h"
#include "evenhand/v1/log.pb.h"
#include "services/internal/delivery_pool.h"
#include "services/internal/raw_messages.h"
#include "services/internal/read_filter.h"

namespace evenhand::services {

absl::Status SubscriberLimits::Acquire(const std::string& client, size_t client_limit,
                                       absl::string_view setting) {
  absl::MutexLock lock(&mu_);
  if (total_ >= max_total_) {
    return WithErrorInfo(
        absl::ResourceExhaustedError(absl::StrCat("the server already serves ", total_,
                                                  " subscriptions, its limit (maxSubscriptions); "
                                                  "close one or try again later")),
        "TOO_MANY_SUBSCRIPTIONS", {{"setting", "maxSubscriptions"}});
  }
  size_t& mine = per_client_[client];
  if (client_limit < max_per_client_ && mine >= client_limit) {
    const size_t open = mine;
    if (open == 0) per_client_.erase(client);
    return WithErrorInfo(absl::ResourceExhaustedError(
                             absl::StrCat(open, " subscriptions are already open for ", client,
                                          ", its limit (", setting, "); close one first")),
                         "TOO_MANY_SUBSCRIPTIONS", {{"setting", std::string(setting)}});
  }
  if (mine >= max_per_client_) {
    return WithErrorInfo(
        absl::ResourceExhaustedError(absl::StrCat(
            mine, " subscriptions are already open from ", client,
            ", the limit for one client (maxSubscriptionsPerClient); close one first")),
        "TOO_MANY_SUBSCRIPTIONS", {{"setting", "maxSubscriptionsPerClient"}});
  }
  ++mine;
  ++total_;
  return absl::OkStatus();
}

void SubscriberLimits::Release(const std::string& client) {
  absl::MutexLock lock(&mu_);
  auto it = per_client_.find(client);
  if (it != per_client_.end() && --it->second == 0) per_client_.erase(it);
  --total_;
}

size_t SubscriberLimits::active() const {
  absl::MutexLock lock(&mu_);
  return total_;
}

namespace {

// Messages hold at most about this many bytes of events (one larger event
// goes alone). Small, because a subscriber that stops reading holds its last
// message in the server until it reads again or goes away: 1,000 idle
// subscribers then cost some 30 MiB in all, where 1 MiB messages cost over
// 100 MiB (measured). Catching up 1M events at this size is still some
// 7,000 messages, well under a second of gRPC's work.
constexpr size_t kChunkBytes = 16 << 10;
constexpr size_t kChunkEvents = 512;
// A filtered subscriber that matches nothing is told how far the log was
// scanned at least this often, so it can resume without rescanning...
constexpr absl::Duration kProgressEvery = absl::Seconds(5);
// ...and a catch-up that matches nothing for this many events sends one
// anyway, so no callback thread scans for long.
constexpr uint64_t kMaxScanPerMessage = 65536;

class SubscribeReactor;

// What a feed wait needs to find its reactor: the reactor may be gone by
// the time the wait fires.
struct Core {
  absl::Mutex mu;
  SubscribeReactor* reactor ABSL_GUARDED_BY(mu) = nullptr;
};

class SubscribeReactor final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  SubscribeReactor(const Subscribers& shared, std::string client, uint64_t from,
                   storage::ReadFilter filter, std::function<void(uint64_t, bool)> closed,
                   std::shared_ptr<auth::StandingGrants::Hold> standing)
      : store_(shared.store),
        limits_(shared.limits),
        pool_(shared.pool),
        client_(std::move(client)),
        filter_(std::move(filter)),
        closed_(std::move(closed)),
        standing_(std::move(standing)),
        next_(from),
        core_(std::make_shared<Core>()) {
    absl::MutexLock lock(&core_->mu);
    core_->reactor = this;
  }

  // Begins serving; call once, right after construction.
  void Start() {
    if (standing_ != nullptr) {
      standing_->OnWithdrawn([core = core_](const absl::Status& why) { Withdraw(core, why); });
    }
    Schedule(core_);
  }

  void OnWriteDone(bool ok) override {
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok || cancelled_) {
        FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "the subscriber went away"));
        return;
      }
    }
    Schedule(core_);
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    if (waiting_) {
      // A wait that already fired will find `cancelled_` and finish.
      if (store_->feed().CancelWait(wait_id_)) waiting_ = false;
    }
    if (!writing_ && !waiting_) {
      FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "the subscriber went away"));
    }
  }

  void OnDone() override {
    {
      absl::MutexLock lock(&core_->mu);
      core_->reactor = nullptr;
    }
    limits_->Release(client_);
    if (closed_) {
      uint64_t sent;
      bool withdrawn;
      {
        absl::MutexLock lock(&mu_);
        sent = events_sent_;
        withdrawn = withdrawn_;
      }
      closed_(sent, withdrawn);
    }
    delete this;
  }

  // The feed's notifier: the position waited for has committed (or the
  // store is shutting down). The next step goes to the pool.
  static void Wake(const std::shared_ptr<Core>& core) {
    SubscribeReactor* r;
    {
      absl::MutexLock lock(&core->mu);
      if (core->reactor == nullptr) return;
      r = core->reactor;
      absl::MutexLock inner(&r->mu_);
      r->waiting_ = false;
      if (r->cancelled_) {
        r->FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "the subscriber went away"));
        return;
      }
      // Still alive (OnDone cannot run before Finish), and the pool is the
      // server's, which outlives it.
      r->pool_->Submit([core] { return Run(core); });
    }
  }

  // The subscription's grant was withdrawn (a reloaded configuration). One
  // waiting at the end of the log ends now; otherwise its next step (a
  // write's completion, or one scheduled) finds it withdrawn and ends.
  static void Withdraw(const std::shared_ptr<Core>& core, const absl::Status& why) {
    absl::MutexLock lock(&core->mu);
    if (core->reactor == nullptr) return;
    SubscribeReactor* r = core->reactor;
    absl::MutexLock inner(&r->mu_);
    // A wait that already fired has scheduled a step, which ends it.
    if (r->waiting_ && r->store_->feed().CancelWait(r->wait_id_)) {
      r->waiting_ = false;
      r->withdrawn_ = !r->finished_;
      r->FinishLocked(ToGrpcStatus(why));
    }
  }

  // On the pool: the next step, if the reactor is still there; returns the
  // bytes sent. Holding core->mu keeps it alive: OnDone takes it first, and
  // OnDone cannot run before Finish, which only Pump may call from here.
  static size_t Run(const std::shared_ptr<Core>& core) {
    absl::MutexLock lock(&core->mu);
    return core->reactor != nullptr ? core->reactor->Pump() : 0;
  }

 private:
  // Sends the next message (returning its size), or waits for the next
  // commit. Called with no write outstanding and no wait registered.
  size_t Pump() {
    absl::MutexLock lock(&mu_);
    if (finished_) return 0;
    if (standing_ != nullptr && standing_->withdrawn()) {
      withdrawn_ = true;
      FinishLocked(ToGrpcStatus(standing_->status()));
      return 0;
    }
    std::string events;  // serialised ReadResponse: each record as field 1
    size_t count = 0;
    uint64_t scanned = 0;
    const storage::LiveFeed& feed = store_->feed();
    while (count == 0) {
      if (!pending_.empty()) break;  // a control message goes first
      std::vector<storage::FeedEvent> batch;
      switch (feed.Read(next_, kChunkEvents, kChunkBytes, &batch)) {
        case storage::LiveFeed::ReadResult::kShutdown:
          FinishLocked(ToGrpcStatus(
              WithErrorInfo(absl::UnavailableError(absl::StrCat(
                                "the server is shutting down; resubscribe from position ", next_,
                                " to continue")),
                            "SHUTTING_DOWN", {{"next_position", absl::StrCat(next_)}})));
          return 0;
        case storage::LiveFeed::ReadResult::kOk:
          for (const storage::FeedEvent& e : batch) {
            ++next_;
            ++scanned;
            if (!filter_.Matches(e.event->event())) continue;
            internal::AppendLengthDelimited(&events, 1, *e.bytes);
            ++count;
          }
          break;
        case storage::LiveFeed::ReadResult::kBehind: {
          if (live_) {
            // Fell out of the feed while live: say so, then read the log.
            live_ = false;
            v1::SubscribeResponse behind;
            behind.mutable_fell_behind()->set_next_position(next_);
            pending_.push_back(behind.SerializeAsString());
            break;
          }
          // The filter is the store's, so an event it passes over is never
          // read whole (nor refused as damaged: it was not asked for).
          size_t bytes = 0;
          storage::ScanBudget budget;
          budget.max_scanned = kMaxScanPerMessage - std::min(scanned, kMaxScanPerMessage);
          absl::Status s = store_->ReadAllRaw(
              next_, storage::Direction::kForwards, 0, filter_,
              [&](uint64_t, std::string_view record) {
                if (count >= kChunkEvents || (count > 0 && bytes + record.size() > kChunkBytes)) {
                  return false;
                }
                internal::AppendLengthDelimited(&events, 1, record);
                bytes += record.size();
                ++count;
                return true;
              },
              &budget);
          if (!s.ok()) {
            FinishLocked(ToGrpcStatus(s));
            return 0;
          }
          scanned += budget.scanned;
          if (budget.last_done >= next_) next_ = budget.last_done + 1;
          break;
        }
        case storage::LiveFeed::ReadResult::kNotYet:
          if (!live_) {
            live_ = true;
            v1::SubscribeResponse caught_up;
            caught_up.mutable_caught_up()->set_position(next_ - 1);
            pending_.push_back(caught_up.SerializeAsString());
            break;
          }
          if (scanned > 0 && absl::Now() - last_sent_ >= kProgressEvery) {
            pending_.push_back(Progress());
            break;
          }
          // Nothing to send: sleep until the next commit.
          waiting_ = true;
          wait_id_ = store_->feed().WaitFor(next_, [core = core_] { Wake(core); });
          return 0;
      }
      if (count == 0 && pending_.empty() && scanned >= kMaxScanPerMessage) {
        pending_.push_back(Progress());
      }
    }
    if (count > 0) {
      events_sent_ += count;
      std::string message;
      internal::AppendLengthDelimited(&message, 1, events);  // SubscribeResponse.events
      // Events come before a control message decided after them.
      pending_.insert(pending_.begin(), std::move(message));
    }
    buffer_ = internal::ToByteBuffer(pending_.front());
    pending_.erase(pending_.begin());
    last_sent_ = absl::Now();
    writing_ = true;
    const size_t sent = buffer_.Length();
    StartWrite(&buffer_);
    return sent;
  }

  void Schedule(const std::shared_ptr<Core>& core) {
    pool_->Submit([core] { return Run(core); });
  }

  std::string Progress() {
    v1::SubscribeResponse progress;
    progress.mutable_progress()->set_position(next_ - 1);
    return progress.SerializeAsString();
  }

  void FinishLocked(const grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    Finish(status);
  }

  const storage::EventStore* const store_;
  SubscriberLimits* const limits_;
  internal::DeliveryPool* const pool_;
  const std::string client_;
  const storage::ReadFilter filter_;
  std::function<void(uint64_t, bool)> closed_;
  const std::shared_ptr<auth::StandingGrants::Hold> standing_;

  absl::Mutex mu_;
  uint64_t next_ ABSL_GUARDED_BY(mu_);
  uint64_t events_sent_ ABSL_GUARDED_BY(mu_) = 0;
  bool live_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool waiting_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool withdrawn_ ABSL_GUARDED_BY(mu_) = false;  // finished for that reason
  storage::LiveFeed::WaitId wait_id_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_sent_ ABSL_GUARDED_BY(mu_) = absl::Now();
  // Control messages decided but not yet sent.
  std::vector<std::string> pending_ ABSL_GUARDED_BY(mu_);
  grpc::ByteBuffer buffer_ ABSL_GUARDED_BY(mu_);
  const std::shared_ptr<Core> core_;
};

// A call refused before it starts.
class RefusedReactor final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  explicit RefusedReactor(const absl::Status& status) { Finish(ToGrpcStatus(status)); }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerWriteReactor<grpc::ByteBuffer>* RefuseSubscription(const absl::Status& status) {
  return new RefusedReactor(status);
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* StartSubscription(
    grpc::CallbackServerContext* context, const v1::SubscribeRequest& request,
    const Subscribers& shared, std::string client, size_t client_limit, std::string setting,
    SubscriptionRecord record) {
  const storage::EventStore* store = shared.store;
  const uint64_t last = store->feed().committed();
  uint64_t from = 1;
  if (request.start_case() == v1::SubscribeRequest::kFromEnd) {
    if (!request.from_end()) {
      // Not taken as "from the end" (nor silently as "from the start").
      return new RefusedReactor(InvalidFieldError(
          "from_end", "is false; leave it unset (or set from_position) to read from the start, "
                      "or set it true to follow new events only"));
    }
    from = last + 1;
  } else if (request.start_case() == v1::SubscribeRequest::kFromPosition) {
    from = std::max<uint64_t>(request.from_position(), 1);
    if (from > last + 1) {
      return new RefusedReactor(WithErrorInfo(
          absl::OutOfRangeError(absl::StrCat("from_position: ", from,
                                             " is beyond the end of the log (last position ", last,
                                             "); use from_end to follow new events")),
          "BEYOND_END_OF_LOG",
          {{"field", "from_position"}, {"last_position", absl::StrCat(last)}}));
    }
  }
  absl::StatusOr<storage::ReadFilter> filter = internal::ToReadFilter(
      request.filter().stream_prefixes(), request.filter().event_types(), "filter.");
  if (!filter.ok()) return new RefusedReactor(filter.status());
  if (absl::Status s = shared.limits->Acquire(client, client_limit, setting); !s.ok()) {
    if (std::optional<google::rpc::ErrorInfo> info = GetErrorInfo(s);
        record.refused_by_own_limit && info.has_value() && info->metadata().count("setting") > 0 &&
        info->metadata().at("setting") == setting) {
      record.refused_by_own_limit(s);
    }
    return new RefusedReactor(s);
  }
  // On the record only once accepted: a refusal above was no read.
  if (record.opened) {
    if (absl::Status s = record.opened(); !s.ok()) {
      shared.limits->Release(client);
      return new RefusedReactor(s);
    }
    // The record is in the log now: a subscription from the end starts
    // after it, not with its own access record.
    if (request.start_case() == v1::SubscribeRequest::kFromEnd) {
      from = store->feed().committed() + 1;
    }
  }
  auto* reactor = new SubscribeReactor(shared, std::move(client), from, *std::move(filter),
                                       std::move(record.closed), std::move(record.standing));
  reactor->Start();
  return reactor;
}

}  // namespace evenhand::services
