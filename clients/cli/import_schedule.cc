// The order of an import's turns (import_schedule.h).
#include "clients/cli/import_schedule.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace evenhand::cli {

ImportSchedule::ImportSchedule(const std::vector<ImportStream>& streams, size_t batch)
    : streams_(streams), batch_(std::max<size_t>(batch, 1)) {
  for (size_t s = 0; s < streams.size(); ++s) index_.emplace(streams[s].id, s);
  absl::MutexLock lock(&mu_);
  state_.resize(streams.size());
  for (size_t s = 0; s < streams.size(); ++s) {
    if (!streams[s].events.empty()) ready_.push_back(s);
  }
}

std::optional<ImportSchedule::Turn> ImportSchedule::TurnOf(size_t s) {
  State& state = state_[s];
  const ImportStream& stream = streams_[s];
  const size_t limit =
      std::min(stream.events.size() - state.done,
               state.done < state.single_until || state.forced ? size_t{1} : batch_);
  size_t count = 0;
  for (; count < limit; ++count) {
    // A correction goes after what it corrects is recorded: first in its
    // batch.
    if (count > 0 && stream.events[state.done + count].payload().has_event_corrected()) break;
    if (state.forced && count == 0) continue;
    const std::vector<size_t>& names = stream.names[state.done + count];
    auto unrecorded = std::find_if(names.begin(), names.end(),
                                   [&](size_t other) { return state_[other].done == 0; });
    if (unrecorded == names.end()) continue;
    if (count == 0) {
      waiting_[*unrecorded].push_back(s);
      return std::nullopt;
    }
    break;
  }
  const bool forced = state.forced;
  state.forced = false;
  ++in_flight_;
  return Turn{s, state.done, count, forced};
}

bool ImportSchedule::RetryWhatIsLeft() {
  // First what the server refused, if anything was recorded since: it may
  // have been what the refused event named.
  std::vector<size_t> still;
  for (size_t s : refused_) {
    if (state_[s].refused_at < recorded_) {
      ready_.push_back(s);
    } else {
      still.push_back(s);
    }
  }
  refused_ = std::move(still);
  if (!ready_.empty()) return true;
  // Then streams waiting for one another: the server decides.
  for (auto& [awaited, streams] : waiting_) {
    for (size_t s : streams) {
      state_[s].forced = true;
      ready_.push_back(s);
    }
  }
  waiting_.clear();
  std::sort(ready_.begin(), ready_.end());
  return !ready_.empty();
}

std::optional<ImportSchedule::Turn> ImportSchedule::Next() {
  absl::MutexLock lock(&mu_);
  for (;;) {
    if (over_) return std::nullopt;
    while (!ready_.empty()) {
      const size_t s = ready_.front();
      ready_.pop_front();
      if (std::optional<Turn> turn = TurnOf(s); turn.has_value()) return turn;
    }
    if (in_flight_ > 0) {
      auto moved = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return over_ || !ready_.empty() || in_flight_ == 0;
      };
      mu_.Await(absl::Condition(&moved));
      continue;
    }
    if (!RetryWhatIsLeft()) over_ = true;
  }
}

void ImportSchedule::Recorded(const Turn& turn) {
  absl::MutexLock lock(&mu_);
  --in_flight_;
  State& state = state_[turn.stream];
  const bool opened = state.done == 0 && turn.count > 0;
  state.done += turn.count;
  recorded_ += turn.count;
  state.why.clear();
  if (opened) {
    // What waited for this stream's first event may go now.
    if (auto it = waiting_.find(turn.stream); it != waiting_.end()) {
      for (size_t s : it->second) ready_.push_back(s);
      waiting_.erase(it);
    }
  }
  if (state.done < streams_[turn.stream].events.size()) ready_.push_back(turn.stream);
}

void ImportSchedule::Refused(const Turn& turn, std::string why, const std::string& stream) {
  absl::MutexLock lock(&mu_);
  --in_flight_;
  State& state = state_[turn.stream];
  state.why = std::move(why);
  if (turn.count > 1) {
    state.single_until = turn.first + turn.count;
    ready_.push_back(turn.stream);
    return;
  }
  // A reference stream_references.h does not know of, to a stream the file
  // holds: waits for it, as one it knows of would have.
  if (auto it = index_.find(stream); !turn.forced && it != index_.end() &&
                                     it->second != turn.stream && state_[it->second].done == 0) {
    waiting_[it->second].push_back(turn.stream);
    return;
  }
  state.refused_at = recorded_;
  refused_.push_back(turn.stream);
}

void ImportSchedule::Stop() {
  absl::MutexLock lock(&mu_);
  over_ = true;
}

size_t ImportSchedule::Unfinished(std::string* example) const {
  absl::MutexLock lock(&mu_);
  size_t count = 0;
  for (size_t s = 0; s < streams_.size(); ++s) {
    if (state_[s].done == streams_[s].events.size()) continue;
    if (count++ == 0) {
      *example =
          absl::StrCat(streams_[s].id, ": ", state_[s].why.empty() ? "not tried" : state_[s].why);
    }
  }
  return count;
}

uint64_t ImportSchedule::recorded() const {
  absl::MutexLock lock(&mu_);
  return recorded_;
}

}  // namespace evenhand::cli
