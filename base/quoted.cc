#include "base/quoted.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace evenhand {

std::string Quoted(absl::string_view value, size_t max_bytes) {
  if (value.size() <= max_bytes) return absl::StrCat("\"", absl::CHexEscape(value), "\"");
  return absl::StrCat("\"", absl::CHexEscape(value.substr(0, max_bytes)), "\"... (", value.size(),
                      " bytes)");
}

std::string OneLine(absl::string_view text, size_t max_bytes) {
  std::string out;
  out.reserve(std::min(text.size(), max_bytes) + 3);
  size_t i = 0;
  for (; i < text.size(); ++i) {
    const auto b = static_cast<unsigned char>(text[i]);
    const bool control = b < 0x20 || b == 0x7f;
    if (out.size() + (control ? 4 : 1) > max_bytes) break;
    if (control) {
      absl::StrAppend(&out, "\\x", absl::Hex(b, absl::kZeroPad2));
    } else {
      out += static_cast<char>(b);
    }
  }
  if (i == text.size()) return out;
  // Cut: never half a character. The bytes of the one cut through were
  // copied as they are (control characters are ASCII), at most three.
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  for (int k = 0; k < 3 && i > 0 && (byte(i) & 0xc0) == 0x80 && (byte(i - 1) & 0x80) != 0;
       ++k) {
    out.pop_back();
    --i;
  }
  return out + "...";
}

}  // namespace evenhand
