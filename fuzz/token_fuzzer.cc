// Bearer tokens: any bytes after "Bearer " in a request's metadata, verified
// against a demo identity provider's public keys (those of the seed tokens in
// fuzz/corpus/token_fuzzer, made with scripts/make-certs). The
// first byte picks what is fuzzed: the token, or the JWKS document itself
// (an operator's file, but parsed by the same code paths).
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "evenhand/v1/config.pb.h"
#include "services/auth/token_verifier.h"

namespace {

constexpr char kJwks[] = R"({"keys": [{"kty": "RSA", "kid": "idp-rsa", "alg": "RS256", "use": "sig", "n": "roSRhmR26w7eZfbQSJuD_qoJpLlah_b97XsoYs41NXOx7ZbfvqtAOQC38pECGzRQFOo6GLYVsZthnZKGtLDuxoaVJYXpa-cmnL0PYj5xXn17x8nWYMDziquRq1YC4T0aJG3PDS6Y94LRP0ldWlqvHv4Q4Prui1dH7Di1HB1XuJ0C8kNB9R_jPyvK-5g96ammZwZrodcFypID7W68OcpLa7V9u1FVLUhFeC2CJWeXM-lIRtE6AxUOZ2CkurTPTldC6kzI6tNyVcu5BLwZ78QlVLRYA7YKAYUoKUpJZqpiar9wUTE6r7TyiQwbHuWASXJlu8HapUEsg4pUKSH_AQgqiw", "e": "AQAB"}, {"kty": "EC", "kid": "idp-ec", "alg": "ES256", "use": "sig", "crv": "P-256", "x": "_4KzO0V41tBkngO6WhrzHDNR2ui1gQpyhqmpG6GzQUY", "y": "FvSxpgDygwhisIaN-EHdby3ehZXcCnDO0rzpnKJ95t4"}]})";

evenhand::v1::OidcConfig Config() {
  evenhand::v1::OidcConfig c;
  c.set_issuer("https://login.demo.council");
  c.add_audiences("evenhand");
  return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto* verifier = [] {
    auto v = evenhand::services::auth::TokenVerifier::FromJwks(Config(), kJwks);
    if (!v.ok()) std::abort();
    return v->release();
  }();
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 8 == 0) {
    (void)evenhand::services::auth::TokenVerifier::FromJwks(Config(), rest);
  } else {
    const absl::Time now = absl::FromUnixSeconds(1800000000);
    auto claims = verifier->Verify(rest, now);
    if (claims.ok()) {
      // A token that verifies stops verifying when its signature changes.
      std::string changed(rest);
      const size_t dot = changed.rfind('.');
      if (dot == std::string::npos || changed.size() - dot < 20) std::abort();
      char& c = changed[changed.size() - 10];
      c = c == 'A' ? 'B' : 'A';
      if (verifier->Verify(changed, now).ok()) std::abort();
    }
  }
  return 0;
}
