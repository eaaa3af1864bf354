#include "services/auth/access_stream.h"

#include "absl/strings/escaping.h"
#include "integrity/merkle.h"

namespace evenhand::services::auth {
namespace {

constexpr std::string_view kPrefix = "access-";
// A stream id's limit (storage's kMaxStreamIdBytes).
constexpr size_t kMaxStreamId = 200;
// "==" and the SHA-256 in hex.
constexpr size_t kCutTail = 2 + 64;

// The stream-id alphabet (storage's ValidateStreamId) less '=', the escape.
bool Kept(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == ':' || c == '@' || c == '/' || c == '+';
}

}  // namespace

std::string AccessStreamOf(std::string_view principal) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string id(kPrefix);
  // Where the name could be cut: after the last whole character that leaves
  // room for the tail.
  size_t cut_at = id.size();
  for (char c : principal) {
    if (Kept(c)) {
      id.push_back(c);
    } else {
      const auto byte = static_cast<unsigned char>(c);
      id.push_back('=');
      id.push_back(kHex[byte >> 4]);
      id.push_back(kHex[byte & 0xF]);
    }
    if (id.size() <= kMaxStreamId - kCutTail) cut_at = id.size();
    if (id.size() > kMaxStreamId) break;
  }
  if (id.size() <= kMaxStreamId) return id;
  id.resize(cut_at);
  id.append("==");
  const std::string hash = integrity::Sha256(absl::string_view(principal.data(), principal.size()));
  id.append(absl::BytesToHexString(hash));
  return id;
}

}  // namespace evenhand::services::auth
