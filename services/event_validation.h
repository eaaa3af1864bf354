// Validation of published events before they reach the log.
//
// The store checks what it needs to place an event (stream id, event ids);
// this checks the rest of the envelope a publisher must fill, and fills the
// `type` from the payload. Every error is InvalidArgument and names the field
// as a path from the request, e.g. "events[2].occurred_at: required".
#ifndef EVENHAND_SERVICES_EVENT_VALIDATION_H_
#define EVENHAND_SERVICES_EVENT_VALIDATION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "evenhand/v1/events.pb.h"

namespace evenhand::services {

struct AppendLimits {
  uint64_t max_event_bytes = 1 << 20;
  uint32_t max_batch_events = 1000;
  // Longest free-text payload value; identifiers are at most 128 bytes.
  uint32_t max_text_bytes = 64 << 10;
  // occurred_at may be at most this far ahead of the server's clock (clock
  // skew between council systems); further is a publisher's bug.
  absl::Duration max_clock_skew = absl::Hours(24);
};

// The payload's type name ("BriefingDelivered"), or "" if no payload is set.
std::string PayloadTypeName(const v1::Payload& payload);

// Checks `*event` (events[index] of a request) and fills event->type.
absl::Status ValidateEnvelope(int index, const AppendLimits& limits, absl::Time now,
                              v1::Event* event);

// Checks the batch size and every envelope of `events`, filling their types.
// Every path into the log (the Append RPC, the demo loader) goes through it.
absl::Status PrepareEvents(const AppendLimits& limits, absl::Time now,
                           std::vector<v1::Event>* events);

}  // namespace evenhand::services

#endif  // EVENHAND_SERVICES_EVENT_VALIDATION_H_
