// TokenVerifier: the OIDC bearer tokens people sign in with.
//
// A token is a JWT (RFC 7519) signed by the council's identity provider with
// RS256 or ES256, whose keys the server reads from a JWKS document (RFC 7517;
// Debian's libjwt has no JWKS support, so each JWK is turned into an OpenSSL
// key here). Verification checks, in this order: the compact form, the
// header's `alg` (RS256 or ES256 only: never "none", never HMAC), the key
// (`kid`, or the only key), the signature (OpenSSL's EVP), then the claims:
// `iss` equal to the configured issuer, `aud` holding a configured audience,
// `exp` in the future and `nbf` in the past (within the configured leeway).
// JSON is parsed by protobuf's JSON mapping (google.protobuf.Struct); base64url
// by abseil. Every refusal says which check failed.
//
// Thread-safe (verification does not mutate).
#ifndef EVENHAND_SERVICES_AUTH_TOKEN_VERIFIER_H_
#define EVENHAND_SERVICES_AUTH_TOKEN_VERIFIER_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "evenhand/v1/config.pb.h"

namespace evenhand::services::auth {

struct TokenClaims {
  std::string subject;
  std::vector<std::string> groups;
  absl::Time expires;
  // The last moment it is taken (its expiry and the leeway).
  absl::Time usable_until;
};

class TokenVerifier {
 public:
  // The keys of a JWKS document (keys of other types are skipped; none
  // usable is an error). The server reads the document from its file, and
  // again when it changes: services/auth/jwks_keys.h.
  static absl::StatusOr<std::unique_ptr<TokenVerifier>> FromJwks(const v1::OidcConfig& config,
                                                                  std::string_view jwks);
  ~TokenVerifier();

  // Unauthenticated, naming the check that failed, unless `token` is valid
  // at `now`. `*unknown_key` (if given) is set when it was refused because
  // no key held is the one it names.
  absl::StatusOr<TokenClaims> Verify(std::string_view token, absl::Time now,
                                     bool* unknown_key = nullptr) const;

  size_t key_count() const;

 private:
  struct Key;
  TokenVerifier(v1::OidcConfig config, std::vector<Key> keys);
  const v1::OidcConfig config_;
  std::vector<Key> keys_;
};

}  // namespace evenhand::services::auth

#endif  // EVENHAND_SERVICES_AUTH_TOKEN_VERIFIER_H_
