#include "storage/live_feed.h"

#include <algorithm>
#include <utility>

#include "base/thread_name.h"

namespace evenhand::storage {

LiveFeed::LiveFeed(size_t max_events, size_t max_bytes, uint64_t last_position)
    : max_events_(std::max<size_t>(max_events, 1)),
      max_bytes_(std::max<size_t>(max_bytes, 1)),
      first_(last_position + 1),
      committed_(last_position) {
  notifier_ = std::thread([this] {
    SetThreadName("eh-feed");
    RunNotifier();
  });
}

LiveFeed::~LiveFeed() {
  {
    absl::MutexLock lock(&mu_);
    stop_notifier_ = true;
  }
  notifier_.join();
}

namespace {
// What an entry holds: the parsed event (about as large as its bytes) and
// its bytes.
size_t Footprint(const FeedEvent& e) { return 2 * e.bytes->size(); }
}  // namespace

void LiveFeed::Publish(const std::vector<FeedEvent>& events) {
  if (events.empty()) return;
  absl::MutexLock lock(&mu_);
  for (const FeedEvent& e : events) {
    bytes_ += Footprint(e);
    events_.push_back(e);
  }
  // Bounded by count and by bytes, so large events cannot pin memory.
  while (events_.size() > max_events_ || (bytes_ > max_bytes_ && events_.size() > 1)) {
    bytes_ -= Footprint(events_.front());
    events_.pop_front();
    ++first_;
  }
  committed_ = events.back().event->position();
  // Satisfied waits move to the notifier; the writer never runs callbacks.
  while (!waits_by_position_.empty() && waits_by_position_.begin()->first <= committed_) {
    auto node = waits_.extract(waits_by_position_.begin()->second);
    waits_by_position_.erase(waits_by_position_.begin());
    if (!node.empty()) ready_.push_back(std::move(node.mapped().wake));
  }
}

void LiveFeed::Shutdown() {
  absl::MutexLock lock(&mu_);
  shutdown_ = true;
  for (auto& [id, wait] : waits_) ready_.push_back(std::move(wait.wake));
  waits_.clear();
  waits_by_position_.clear();
}

LiveFeed::ReadResult LiveFeed::Read(uint64_t from, size_t max_events, size_t max_bytes,
                                    std::vector<FeedEvent>* out) const {
  absl::MutexLock lock(&mu_);
  if (shutdown_) return ReadResult::kShutdown;
  if (from > committed_) return ReadResult::kNotYet;
  if (from < first_) return ReadResult::kBehind;
  size_t bytes = 0;
  for (auto it = events_.begin() + static_cast<std::ptrdiff_t>(from - first_);
       it != events_.end() && max_events > 0; ++it, --max_events) {
    const size_t size = it->bytes->size();
    if (bytes > 0 && bytes + size > max_bytes) break;
    bytes += size;
    out->push_back(*it);
  }
  return ReadResult::kOk;
}

uint64_t LiveFeed::committed() const {
  absl::MutexLock lock(&mu_);
  return committed_;
}

bool LiveFeed::shutting_down() const {
  absl::MutexLock lock(&mu_);
  return shutdown_;
}

LiveFeed::WaitId LiveFeed::WaitFor(uint64_t from, absl::AnyInvocable<void() &&> wake) {
  absl::MutexLock lock(&mu_);
  const WaitId id = next_wait_id_++;
  if (shutdown_ || from <= committed_) {
    ready_.push_back(std::move(wake));
    return id;
  }
  waits_.emplace(id, Wait{from, std::move(wake)});
  waits_by_position_.emplace(from, id);
  return id;
}

bool LiveFeed::CancelWait(WaitId id) {
  absl::MutexLock lock(&mu_);
  auto it = waits_.find(id);
  if (it == waits_.end()) return false;
  auto [begin, end] = waits_by_position_.equal_range(it->second.from);
  for (auto w = begin; w != end; ++w) {
    if (w->second == id) {
      waits_by_position_.erase(w);
      break;
    }
  }
  waits_.erase(it);
  return true;
}

size_t LiveFeed::waiting() const {
  absl::MutexLock lock(&mu_);
  return waits_.size();
}

bool LiveFeed::AwaitCommitted(uint64_t from, absl::Time deadline) const {
  absl::MutexLock lock(&mu_);
  auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return shutdown_ || committed_ >= from; };
  return mu_.AwaitWithDeadline(absl::Condition(&ready), deadline);
}

void LiveFeed::RunNotifier() {
  for (;;) {
    std::vector<absl::AnyInvocable<void() &&>> ready;
    {
      absl::MutexLock lock(&mu_);
      auto wake = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !ready_.empty() || stop_notifier_;
      };
      mu_.Await(absl::Condition(&wake));
      if (ready_.empty()) return;  // stopping, nothing left to run
      ready.swap(ready_);
    }
    for (auto& wake : ready) std::move(wake)();
  }
}

}  // namespace evenhand::storage
