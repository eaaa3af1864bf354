#include "base/log_repeats.h"

#include <algorithm>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace evenhand::logging {
namespace {

constexpr char kOverflow[] = "(kinds past the bound)";

RepeatLimiter& Process() {
  static RepeatLimiter* limiter = new RepeatLimiter(5, absl::Seconds(60));
  return *limiter;
}

}  // namespace

RepeatLimiter::RepeatLimiter(int burst, absl::Duration window, size_t max_kinds)
    : burst_(burst), max_kinds_(max_kinds), window_(window) {}

void RepeatLimiter::SetWindow(absl::Duration window) {
  absl::MutexLock lock(&mu_);
  window_ = window;
}

bool RepeatLimiter::Admit(absl::string_view kind, absl::Time now, Untold* untold) {
  absl::MutexLock lock(&mu_);
  auto it = kinds_.find(kind);
  if (it == kinds_.end()) {
    if (kinds_.size() >= max_kinds_ && now - last_sweep_ >= window_) {
      // Kinds whose window has passed make room (at most a sweep a window);
      // what they had not written goes to the shared kind, to be told.
      last_sweep_ = now;
      uint64_t moved = 0;
      absl::Time first = absl::InfiniteFuture();
      absl::erase_if(kinds_, [&](const auto& k) {
        if (k.first == kOverflow || now - k.second.window_start < window_) return false;
        if (k.second.unwritten > 0) first = std::min(first, k.second.first_unwritten);
        moved += k.second.unwritten;
        return true;
      });
      if (moved > 0) {
        auto [o, added] = kinds_.try_emplace(kOverflow);
        if (added) o->second.window_start = now;
        o->second.first_unwritten =
            o->second.unwritten == 0 ? first : std::min(o->second.first_unwritten, first);
        o->second.unwritten += moved;
      }
    }
    const absl::string_view held = kinds_.size() < max_kinds_ ? kind : kOverflow;
    bool added;
    std::tie(it, added) = kinds_.try_emplace(held);
    if (added) it->second.window_start = now;
  }
  Kind& k = it->second;
  if (now - k.window_start >= window_) {
    k.window_start = now;
    k.written = 0;
  }
  if (k.written >= burst_) {
    if (k.unwritten++ == 0) k.first_unwritten = now;
    return false;
  }
  ++k.written;
  *untold = Untold();
  if (it->first == kOverflow) {
    // The shared kind's lines are of many kinds: told as others'.
    untold->others = k.unwritten;
    untold->others_since = k.first_unwritten;
  } else {
    untold->like_it = k.unwritten;
    untold->since = k.first_unwritten;
  }
  k.unwritten = 0;
  if (it->first != kOverflow) {
    if (auto o = kinds_.find(kOverflow);
        o != kinds_.end() && o->second.unwritten > 0 && now - o->second.window_start >= window_) {
      untold->others = o->second.unwritten;
      untold->others_since = o->second.first_unwritten;
      o->second.unwritten = 0;
    }
  }
  return true;
}

void Repeated(Severity severity, absl::string_view component, absl::string_view kind,
              absl::string_view message) {
  RepeatLimiter::Untold untold;
  if (!Process().Admit(kind, absl::Now(), &untold)) return;
  auto when = [](absl::Time t) {
    return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
  };
  std::string told;
  if (untold.like_it > 0) {
    absl::StrAppend(&told, " (and ", untold.like_it, " line", untold.like_it == 1 ? "" : "s",
                    " like it not written since ", when(untold.since), ")");
  }
  if (untold.others > 0) {
    absl::StrAppend(&told, " (and ", untold.others, " line", untold.others == 1 ? "" : "s",
                    " of other kinds past the bound not written since ", when(untold.others_since),
                    ")");
  }
  Log(severity, component, told.empty() ? message : absl::StrCat(message, told));
}

void SetRepeatWindow(absl::Duration window) { Process().SetWindow(window); }

}  // namespace evenhand::logging
