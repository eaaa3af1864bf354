// Publisher (3/3): which batch goes next. Streams are kept in hand-over
// order of their oldest waiting event; batches taken, put back to retry, or
// split to single events; and whether a refused event waits for an earlier
// one this publisher still holds.
#include <algorithm>
#include <utility>

#include "clients/publisher.h"
#include "google/rpc/error_details.pb.h"

namespace evenhand::clients {

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

}  // namespace evenhand::clients
