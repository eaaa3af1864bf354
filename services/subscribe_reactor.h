// EventLog.Subscribe on gRPC's callback API: a reactor per subscriber, no
// thread per subscriber.
//
// A subscriber first catches up (from the store's live feed when it still
// holds the position, else from RocksDB, one chunk per write), is told
// `caught_up`, then registers a one-shot wait on the feed and sleeps. A
// commit, or the completion of a write, schedules its next step on the
// DeliveryPool's low-priority threads, so fan-out never competes with
// appends as an equal. A subscriber that
// does not read stops at its first unacknowledged message: it holds that
// message and a registration, never a thread, and the writer never waits
// for it. Messages are small (16 KiB of events), so what an idle subscriber
// pins is small too.
//
// SubscriberLimits caps concurrent subscriptions, in total and per client,
// answered with RESOURCE_EXHAUSTED.
//
// Thread-safety: SubscriberLimits is thread-safe; each reactor serialises its
// own callbacks with a mutex.
#ifndef EVENHAND_SERVICES_SUBSCRIBE_REACTOR_H_
#define EVENHAND_SERVICES_SUBSCRIBE_REACTOR_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "evenhand/v1/log.pb.h"
#include "grpcpp/grpcpp.h"
#include "services/auth/standing_grants.h"
#include "storage/event_store.h"

namespace evenhand::services {

class SubscriberLimits {
 public:
  SubscriberLimits(size_t max_total, size_t max_per_client)
      : max_total_(max_total), max_per_client_(max_per_client) {}

  // Takes a slot for `client`, or ResourceExhausted saying which limit.
  // `client_limit` (if lower than maxSubscriptionsPerClient) is the
  // client's own, named `setting` in the refusal.
  absl::Status Acquire(const std::string& client, size_t client_limit = SIZE_MAX,
                       absl::string_view setting = "");
  void Release(const std::string& client);
  size_t active() const;

 private:
  const size_t max_total_;
  const size_t max_per_client_;
  mutable absl::Mutex mu_;
  size_t total_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<std::string, size_t> per_client_ ABSL_GUARDED_BY(mu_);
};

namespace internal {
class DeliveryPool;
}  // namespace internal

// What every subscription of a server shares. Must outlive every reactor.
struct Subscribers {
  const storage::EventStore* store;
  SubscriberLimits* limits;
  // Where subscribers' work runs (below appends' priority).
  internal::DeliveryPool* pool;
};

// How a subscription goes on the record: `opened` once it is accepted
// (after its position, filter and limits; its error refuses the call), and
// `closed` with the events it sent when it ends, and whether it ended
// because its grant was withdrawn. `closed` is called from
// the reactor's OnDone, on a gRPC callback thread: it must not wait (hand
// the record to a thread of its own).
struct SubscriptionRecord {
  std::function<absl::Status()> opened;
  // Told a refusal by the principal's own limit (`client_limit`), which is
  // on the record as denied as the other per-principal limits' are; not
  // the server's limits, which are of its capacity, not the caller's access.
  std::function<void(const absl::Status&)> refused_by_own_limit;
  std::function<void(uint64_t events_sent, bool withdrawn)> closed;
  // The subscription's standing grant (services/auth/standing_grants.h), if
  // any: once it is withdrawn, the subscription sends at most the message it
  // was already preparing and ends with its status: at once if it is waiting
  // at the end of the log, else when its message in flight is taken (a
  // client that stops reading holds that one until it reads or goes).
  std::shared_ptr<auth::StandingGrants::Hold> standing;
};

// Starts serving one Subscribe call; `client` names the caller (its
// principal) for the per-client limit, and `client_limit` is its own limit
// (named `setting`), if lower.
grpc::ServerWriteReactor<grpc::ByteBuffer>* StartSubscription(
    grpc::CallbackServerContext* context, const v1::SubscribeRequest& request,
    const Subscribers& subscribers, std::string client, size_t client_limit = SIZE_MAX,
    std::string setting = "", SubscriptionRecord record = {});

// A Subscribe call refused before it starts.
grpc::ServerWriteReactor<grpc::ByteBuffer>* RefuseSubscription(const absl::Status& status);

}  // namespace evenhand::services

#endif  // EVENHAND_SERVICES_SUBSCRIBE_REACTOR_H_
