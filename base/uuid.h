// RFC 4122 UUIDs in their 36-character text form, the event id format.
#ifndef EVENHAND_BASE_UUID_H_
#define EVENHAND_BASE_UUID_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace evenhand {

using UuidBytes = std::array<uint8_t, 16>;

// Parses "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (hex, either case). Returns
// InvalidArgument naming what is wrong otherwise.
absl::StatusOr<UuidBytes> ParseUuid(std::string_view text);

// Lower-case 36-character text form.
std::string FormatUuid(const UuidBytes& bytes);

// Whether `text` is a UUID in that form, and no other spelling of one: a
// log's id as checkpoints and reports name it (docs/INTEGRITY.md).
bool IsLowerCaseUuid(std::string_view text);

// A random (version 4) UUID. Thread-safe.
std::string NewUuid();

// A name-based UUID: the same `name` always gives the same UUID. Used for
// demo and generated data, where a re-run must produce the same event ids so
// that loading twice is an idempotent retry.
std::string UuidFromName(std::string_view name);

}  // namespace evenhand

#endif  // EVENHAND_BASE_UUID_H_
