#include "base/uuid.h"

#include <openssl/rand.h>
#include <openssl/sha.h>

#include <random>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace evenhand {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

UuidBytes WithVersion(UuidBytes b, int version) {
  b[6] = static_cast<uint8_t>((b[6] & 0x0f) | (version << 4));
  b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  return b;
}

}  // namespace

absl::StatusOr<UuidBytes> ParseUuid(std::string_view text) {
  if (text.size() != 36) {
    return absl::InvalidArgumentError(absl::StrCat(
        "must be a UUID like 123e4567-e89b-12d3-a456-426614174000 (36 characters), got ",
        text.size(), " characters"));
  }
  UuidBytes out{};
  size_t n = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-') {
        return absl::InvalidArgumentError(
            absl::StrCat("must be a UUID: expected '-' at character ", i + 1));
      }
      continue;
    }
    int hi = HexValue(text[i]);
    int lo = i + 1 < text.size() ? HexValue(text[i + 1]) : -1;
    if (hi < 0 || lo < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("must be a UUID: non-hex character near character ", i + 1));
    }
    out[n++] = static_cast<uint8_t>(hi << 4 | lo);
    ++i;
  }
  return out;
}

std::string FormatUuid(const UuidBytes& b) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  s.reserve(36);
  for (size_t i = 0; i < b.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s.push_back('-');
    s.push_back(kHex[b[i] >> 4]);
    s.push_back(kHex[b[i] & 0xf]);
  }
  return s;
}

bool IsLowerCaseUuid(std::string_view text) {
  absl::StatusOr<UuidBytes> parsed = ParseUuid(text);
  return parsed.ok() && FormatUuid(*parsed) == text;
}

std::string NewUuid() {
  UuidBytes b;
  // OpenSSL's CSPRNG is thread-safe and seeded from the OS.
  if (RAND_bytes(b.data(), static_cast<int>(b.size())) != 1) {
    std::random_device rd;
    for (auto& byte : b) byte = static_cast<uint8_t>(rd());
  }
  return FormatUuid(WithVersion(b, 4));
}

std::string UuidFromName(std::string_view name) {
  // Version 5 uses SHA-1; SHA-256 truncated serves the same purpose here and
  // keeps one hash function in the project. Marked version 8 (custom).
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(name.data()), name.size(), digest);
  UuidBytes b;
  for (int i = 0; i < 16; ++i) b[i] = digest[i];
  return FormatUuid(WithVersion(b, 8));
}

}  // namespace evenhand
