// The check that a unary reply can be sent, before it is.
//
// gRPC 1.51 serialises a sync method's reply after the method returns, and
// a reply that does not serialise (protobuf stops at 2 GiB: the whole-log
// report of a ten-million-event log is 2.8 GB) fails an assertion that
// aborts the whole server. A client refuses a reply over its own receive
// limit (the evenhand CLI's is 256 MiB), but only after the server has
// built and sent it. So a reply over the server's maxReplyBytes is refused
// instead: RESOURCE_EXHAUSTED with reason REPLY_TOO_LARGE and no retry (the
// same request always meets it), saying how large it was and how to ask
// for less.
//
// What it does not know: the methods, or what narrows each (`narrow`).
#ifndef EVENHAND_SERVICES_INTERNAL_REPLY_SIZE_H_
#define EVENHAND_SERVICES_INTERNAL_REPLY_SIZE_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace evenhand::services::internal {

// The most maxReplyBytes may be: the largest message protobuf serialises.
inline constexpr uint64_t kReplyBytesLimit = (uint64_t{1} << 31) - 1;

// OK if `bytes` <= `max_bytes`; else the refusal, "this `what` would be
// [at least] ... bytes, ... : `narrow`".
absl::Status CheckReplySize(uint64_t bytes, uint64_t max_bytes, absl::string_view what,
                            absl::string_view narrow, bool at_least = false);

}  // namespace evenhand::services::internal

#endif  // EVENHAND_SERVICES_INTERNAL_REPLY_SIZE_H_
