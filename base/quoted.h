// Quoting a caller's value inside a message: errors returned over gRPC,
// refusals kept in the access records, log lines. What a caller sends may
// be long or hold newlines and escape sequences; quoted, it is one short
// line that forges nothing (another log line, a second field of a record).
#ifndef EVENHAND_BASE_QUOTED_H_
#define EVENHAND_BASE_QUOTED_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace evenhand {

// `value` in double quotes, its quotes, backslashes, control characters and
// bytes beyond ASCII as C escapes (absl::CHexEscape); only the first
// `max_bytes` of it, followed by "... (N bytes)" when it was longer.
std::string Quoted(absl::string_view value, size_t max_bytes = 128);

// `text` with its control characters (C0 and DEL) as \xNN escapes, at
// most `max_bytes` once escaped (cut at a UTF-8 character's start, then
// "..."): a message made safe to store or log as one line, keeping
// everything else as it is.
std::string OneLine(absl::string_view text, size_t max_bytes);

// Text from a council system or a file, made safe to show to a person (on
// a terminal, or in the committee's page): names, topics and descriptions
// may hold anything, so control characters (an escape sequence could
// retitle a terminal, hide a line or move the cursor), C1 controls and
// bidirectional marks and overrides (which reorder what a reader sees:
// "Trojan Source", CVE-2021-42574) are shown as \xNN or \uNNNN escapes, as
// are bytes that are not UTF-8. Newlines are escaped too unless
// `keep_newlines` (a message meant to span lines).
std::string Printable(absl::string_view text, bool keep_newlines = false);

// Whether `text` is well-formed UTF-8 (RFC 3629: no overlong forms, no
// surrogates, nothing past U+10FFFF).
bool IsValidUtf8(absl::string_view text);

}  // namespace evenhand

#endif  // EVENHAND_BASE_QUOTED_H_
