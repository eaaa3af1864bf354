// Signed JWTs for tests and benchmarks, as the council's identity provider
// would issue them: RS256 or ES256 over base64url(header).base64url(claims),
// with OpenSSL's EVP signing. Never used by the server, which verifies tokens
// in services/auth/token_verifier.cc with its own, separate code.
#ifndef EVENHAND_TESTS_TESTING_JWT_H_
#define EVENHAND_TESTS_TESTING_JWT_H_

#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace evenhand::testing {

// Signs `claims_json` with the PEM private key in `key_file`. `alg` is
// "RS256" (an RSA key) or "ES256" (a P-256 key); `kid` names the key in
// the JWKS; `extra_header` (e.g. `"crit":["x"]`) goes into the header too.
// Returns "" if the key cannot be read or signing fails.
inline std::string SignJwt(const std::string& key_file, const std::string& alg,
                           const std::string& kid, const std::string& claims_json,
                           const std::string& extra_header = "") {
  FILE* f = std::fopen(key_file.c_str(), "r");
  if (f == nullptr) {
    return "";
  }
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_PrivateKey(f, nullptr, nullptr, nullptr), EVP_PKEY_free);
  std::fclose(f);
  if (key == nullptr) {
    return "";
  }
  const std::string header =
      absl::StrCat(R"({"alg":")", alg, R"(","typ":"JWT","kid":")", kid, R"(")",
                   extra_header.empty() ? "" : ",", extra_header, "}");
  const std::string input = absl::StrCat(absl::WebSafeBase64Escape(header), ".",
                                         absl::WebSafeBase64Escape(claims_json));
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  size_t length = 0;
  if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &length,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
    return "";
  }
  std::string signature(length, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
    return "";
  }
  signature.resize(length);
  if (alg == "ES256") {
    // JWS wants r || s, 32 bytes each, not OpenSSL's DER.
    const unsigned char* der = reinterpret_cast<const unsigned char*>(signature.data());
    std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(
        d2i_ECDSA_SIG(nullptr, &der, static_cast<long>(signature.size())), ECDSA_SIG_free);
    if (sig == nullptr) {
        return "";
    }
    std::string raw(64, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), reinterpret_cast<unsigned char*>(raw.data()), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), reinterpret_cast<unsigned char*>(raw.data()) + 32,
                 32);
    signature = raw;
  }
  return absl::StrCat(input, ".", absl::WebSafeBase64Escape(signature));
}

}  // namespace evenhand::testing

#endif  // EVENHAND_TESTS_TESTING_JWT_H_
