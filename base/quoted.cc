#include "base/quoted.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace evenhand {
namespace {

// The length of the UTF-8 sequence at text[i] and its code point, or 0 if
// the bytes there are not one (overlong forms and surrogates included).
size_t DecodeUtf8(absl::string_view text, size_t i, char32_t* code_point) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  size_t n = 0;
  char32_t c = 0;
  if (lead >= 0xc2 && lead <= 0xdf) {
    n = 2, c = lead & 0x1f;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    n = 3, c = lead & 0x0f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    n = 4, c = lead & 0x07;
  } else {
    return 0;
  }
  if (i + n > text.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
    c = (c << 6) | (byte(i + k) & 0x3f);
  }
  if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > 0x10ffff)) ||
      (c >= 0xd800 && c <= 0xdfff)) {
    return 0;
  }
  *code_point = c;
  return n;
}

// C1 controls, and the marks and overrides that reorder text (Unicode's
// bidirectional formatting characters: "Trojan Source", CVE-2021-42574).
bool HiddenCodePoint(char32_t c) {
  return (c >= 0x80 && c <= 0x9f) || c == 0x061c || c == 0x200e || c == 0x200f ||
         (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

}  // namespace

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

bool IsValidUtf8(absl::string_view text) {
  for (size_t i = 0; i < text.size();) {
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      ++i;
      continue;
    }
    char32_t c;
    const size_t n = DecodeUtf8(text, i, &c);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string Printable(absl::string_view text, bool keep_newlines) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const unsigned char b = static_cast<unsigned char>(text[i]);
    if (b < 0x80) {
      if (b == '\n' && keep_newlines) {
        out += '\n';
      } else if (b == '\n' || b == '\r' || b == '\t') {
        out += b == '\n' ? "\\n" : b == '\r' ? "\\r" : "\\t";
      } else if (b < 0x20 || b == 0x7f) {
        absl::StrAppend(&out, "\\x", absl::Hex(b, absl::kZeroPad2));
      } else {
        out += static_cast<char>(b);
      }
      ++i;
      continue;
    }
    char32_t c = 0;
    const size_t n = DecodeUtf8(text, i, &c);
    if (n == 0) {
      absl::StrAppend(&out, "\\x", absl::Hex(b, absl::kZeroPad2));
      ++i;
    } else if (HiddenCodePoint(c)) {
      absl::StrAppend(&out, "\\u", absl::Hex(static_cast<uint32_t>(c), absl::kZeroPad4));
      i += n;
    } else {
      out.append(text.data() + i, n);
      i += n;
    }
  }
  return out;
}

}  // namespace evenhand
