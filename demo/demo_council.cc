#include "demo/demo_council.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/time_util.h"
#include "base/uuid.h"
#include "demo/council_generator.h"

namespace evenhand::demo {

Timeline::Timeline(std::string seed, std::string source_system)
    : seed_(std::move(seed)), source_system_(std::move(source_system)) {}

void Timeline::Add(const std::string& stream_id, absl::Time at, v1::Payload payload,
                   const std::string& actor) {
  v1::Event e;
  e.set_event_id(UuidFromName(absl::StrCat(seed_, "/", events_.size())));
  *e.mutable_occurred_at() = ToProtoTime(at);
  e.set_source_system(source_system_);
  e.set_actor(actor);
  *e.mutable_payload() = std::move(payload);
  events_.emplace_back(stream_id, std::move(e));
}

std::vector<StreamAppend> Timeline::Take() {
  std::stable_sort(events_.begin(), events_.end(), [](const auto& a, const auto& b) {
    const auto& x = a.second.occurred_at();
    const auto& y = b.second.occurred_at();
    return x.seconds() != y.seconds() ? x.seconds() < y.seconds() : x.nanos() < y.nanos();
  });
  std::vector<StreamAppend> out;
  out.reserve(events_.size());
  for (auto& [stream, event] : events_) {
    StreamAppend append;
    append.stream_id = stream;
    append.events.push_back(std::move(event));
    out.push_back(std::move(append));
  }
  events_.clear();
  return out;
}

std::vector<StreamAppend> DemoCouncil(absl::Time now) {
  GeneratorOptions options;
  options.seed = 2026;
  // A year of business ending today, so the current report is full.
  options.start = now - absl::Hours(24 * 365);
  options.days = 365;
  options.plant_breaches = true;
  return GenerateCouncil(options);
}

}  // namespace evenhand::demo
