// The canonical encoding of events: the bytes the Merkle tree and the hash
// chain are computed over.
//
// Deterministic protobuf serialisation is stable only within one protobuf
// version, so hashes over it could break on an upgrade. This encoding is our
// own, fixed, and simple enough to re-implement from its description in
// docs/INTEGRITY.md:
//
//   record  = "EHR1" message(RecordedEvent)
//   message = { u32be field_number, u8 tag, value } for each field in
//             ascending field-number order that is set (present, or not the
//             default value for fields without presence)
//   tag     = 1 int (i64be) | 2 uint (u64be) | 3 bool (u8) | 4 enum (i64be)
//             | 5 string (u32be length, UTF-8) | 6 bytes (u32be length)
//             | 7 message (u32be length, message); repeated fields use
//             tag | 0x80, then u32be count, then the values.
//
// Floating-point fields, maps and unknown fields are not allowed in hashed
// messages. Pure functions; thread-safe.
#ifndef EVENHAND_INTEGRITY_CANONICAL_H_
#define EVENHAND_INTEGRITY_CANONICAL_H_

#include <string>

#include "absl/status/statusor.h"
#include "evenhand/v1/events.pb.h"
#include "google/protobuf/message.h"

namespace evenhand::integrity {

// The canonical bytes of any message of ours (no floats, maps or unknown
// fields; else InvalidArgument).
absl::StatusOr<std::string> CanonicalMessage(const google::protobuf::Message& message);

// The canonical bytes of an event as recorded: "EHR1" + its message bytes.
absl::StatusOr<std::string> CanonicalRecord(const v1::RecordedEvent& record);

// The reverse of CanonicalRecord. Rejects bytes that are not exactly the
// canonical encoding of what they decode to (DataLoss), so one event has one
// encoding.
absl::StatusOr<v1::RecordedEvent> DecodeCanonicalRecord(const std::string& bytes);

}  // namespace evenhand::integrity

#endif  // EVENHAND_INTEGRITY_CANONICAL_H_
