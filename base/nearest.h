// "Did you mean ...?": the known value nearest to a mistyped one, for
// messages that refuse an unknown group, rule, command or case. Pure.
#ifndef EVENHAND_BASE_NEAREST_H_
#define EVENHAND_BASE_NEAREST_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace evenhand {

// The number of single-character insertions, deletions, substitutions and
// swaps of two neighbours (case-insensitive) that turn `a` into `b`: "form"
// is one edit from "from", two from "format".
size_t EditDistance(absl::string_view a, absl::string_view b);

// The known value nearest to `value` if it is near enough to be a typo
// (at most a third of its length, and at least 1, edits away, or one
// contains the other); "" if none is.
std::string Nearest(absl::string_view value, const std::vector<std::string>& known);

// "unknown <what> "<value>"[; did you mean "<nearest>"?] (known: a, b, c)".
std::string UnknownValueMessage(absl::string_view what, absl::string_view value,
                                const std::vector<std::string>& known);

}  // namespace evenhand

#endif  // EVENHAND_BASE_NEAREST_H_
