#include "storage/subscription.h"

#include <algorithm>

#include "base/error_details.h"
#include "base/status_macros.h"
#include "storage/event_store.h"
#include "storage/internal/store_impl.h"

namespace evenhand::storage {

absl::Status Subscription::Next(size_t max_events, size_t max_bytes, absl::Time deadline,
                                std::vector<EventPtr>* out) {
  max_events = std::max<size_t>(max_events, 1);
  const LiveFeed& feed = store_->feed();
  auto shutting_down = [] {
    return WithErrorInfo(
        absl::UnavailableError(
            "the server is shutting down; resubscribe from the next position to continue"),
        "SHUTTING_DOWN");
  };
  // Reaching the end is reported at once rather than after the wait, so a
  // caller can tell its client "caught up" promptly.
  if (mode_ == Mode::kCatchingUp && next_position_ > feed.committed() && !feed.shutting_down()) {
    mode_ = Mode::kLive;
    return absl::OkStatus();
  }
  feed.AwaitCommitted(next_position_, deadline);
  const size_t before = out->size();
  std::vector<FeedEvent> from_feed;
  switch (feed.Read(next_position_, max_events, max_bytes, &from_feed)) {
    case LiveFeed::ReadResult::kShutdown:
      return shutting_down();
    case LiveFeed::ReadResult::kNotYet:
      return absl::OkStatus();  // the deadline passed
    case LiveFeed::ReadResult::kOk:
      for (FeedEvent& e : from_feed) out->push_back(std::move(e.event));
      break;
    case LiveFeed::ReadResult::kBehind: {
      // Behind the feed: read from the log.
      absl::Status parsed;
      size_t bytes = 0;
      EH_RETURN_IF_ERROR(
          store_->ReadAllRaw(next_position_, Direction::kForwards, max_events, ReadFilter(),
                             [&](uint64_t position, std::string_view stored) {
                               if (out->size() > before && bytes + stored.size() > max_bytes)
                                 return false;
                               absl::StatusOr<EventPtr> e = internal::ParseRecord(stored, position);
                               if (!e.ok()) {
                                 parsed = e.status();
                                 return false;
                               }
                               bytes += stored.size();
                               out->push_back(*std::move(e));
                               return true;
                             }));
      EH_RETURN_IF_ERROR(parsed);
      if (mode_ == Mode::kLive && out->size() > before) {
        fell_behind_ = true;
        mode_ = Mode::kCatchingUp;
      }
      break;
    }
  }
  next_position_ += out->size() - before;
  if (next_position_ > feed.committed()) mode_ = Mode::kLive;
  return absl::OkStatus();
}

bool Subscription::TakeFellBehind() {
  bool fell = fell_behind_;
  fell_behind_ = false;
  return fell;
}

}  // namespace evenhand::storage
