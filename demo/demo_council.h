// The demo council that `evenhandd --demo` loads into an empty log, so a
// newcomer sees real data at once.
//
// Event ids are derived from a name (UuidFromName), so building the demo
// twice gives the same events and loading it again is an idempotent retry.
#ifndef EVENHAND_DEMO_DEMO_COUNCIL_H_
#define EVENHAND_DEMO_DEMO_COUNCIL_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "evenhand/v1/events.pb.h"

namespace evenhand::demo {

// One Append call: events for one stream.
struct StreamAppend {
  std::string stream_id;
  std::vector<v1::Event> events;
};

// Collects events in the order they happened and hands them out as appends.
// Not thread-safe.
class Timeline {
 public:
  // `seed` makes event ids unique to this timeline; `source_system` fills
  // every event's envelope.
  Timeline(std::string seed, std::string source_system);

  // Records `payload` as happening at `at` on `stream_id`.
  void Add(const std::string& stream_id, absl::Time at, v1::Payload payload,
           const std::string& actor = "");

  // The events so far, ordered by occurred_at (ties keep insertion order),
  // one append per event.
  std::vector<StreamAppend> Take();

 private:
  std::string seed_;
  std::string source_system_;
  std::vector<std::pair<std::string, v1::Event>> events_;
};

// The demo council: political groups, councillors, officers and a year of
// their dealings, ending shortly before `now`.
std::vector<StreamAppend> DemoCouncil(absl::Time now);

}  // namespace evenhand::demo

#endif  // EVENHAND_DEMO_DEMO_COUNCIL_H_
