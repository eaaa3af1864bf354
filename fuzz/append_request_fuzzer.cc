// Request validation: any bytes a publisher could send as an AppendRequest.
// What the server parses goes through the same checks the Append method
// runs before the store sees it (envelope, enums, string bounds, batch
// limits); what passes must have a canonical encoding, as the log will
// hash it.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "evenhand/v1/log.pb.h"
#include "integrity/canonical.h"
#include "services/event_validation.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  evenhand::v1::AppendRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  evenhand::services::AppendLimits limits;
  limits.max_batch_events = 64;
  limits.max_text_bytes = 4096;
  std::vector<evenhand::v1::Event> events(request.events().begin(), request.events().end());
  const absl::Time now = absl::FromUnixSeconds(1800000000);
  if (!evenhand::services::PrepareEvents(limits, now, &events).ok()) return 0;
  for (evenhand::v1::Event& e : events) {
    evenhand::v1::RecordedEvent recorded;
    *recorded.mutable_event() = e;
    recorded.set_position(1);
    recorded.mutable_event()->set_stream_id(request.stream_id());
    // Valid events are hashable; a validator that lets through what the
    // encoder cannot take would wedge the log.
    if (absl::StatusOr<std::string> c = evenhand::integrity::CanonicalRecord(recorded); !c.ok()) {
      std::fprintf(stderr, "a valid event has no canonical encoding: %s\n%s\n",
                   c.status().ToString().c_str(), recorded.DebugString().c_str());
      std::abort();
    }
  }
  return 0;
}
