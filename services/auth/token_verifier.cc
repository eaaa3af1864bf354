#include "services/auth/token_verifier.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/error_details.h"
#include "base/quoted.h"
#include "base/status_macros.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace evenhand::services::auth {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

absl::Status Refused(absl::string_view why) {
  return WithErrorInfo(
      absl::UnauthenticatedError(absl::StrCat("the bearer token is refused: ", why)),
      "TOKEN_REFUSED");
}

absl::StatusOr<std::string> Base64Url(std::string_view text, absl::string_view what) {
  std::string out;
  if (!absl::WebSafeBase64Unescape(absl::string_view(text.data(), text.size()), &out)) {
    return absl::InvalidArgumentError(absl::StrCat(what, " is not base64url"));
  }
  return out;
}

absl::StatusOr<google::protobuf::Struct> ParseJson(std::string_view json, absl::string_view what) {
  google::protobuf::Struct out;
  auto s = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &out);
  if (!s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " is not a JSON object"));
  }
  return out;
}

std::string StringField(const google::protobuf::Struct& s, const std::string& name) {
  auto it = s.fields().find(name);
  if (it == s.fields().end() || !it->second.has_string_value()) return "";
  return it->second.string_value();
}

// A number claim (seconds since the epoch); false if absent or not a number.
bool NumberField(const google::protobuf::Struct& s, const std::string& name, double* out) {
  auto it = s.fields().find(name);
  if (it == s.fields().end() || !it->second.has_number_value()) return false;
  *out = it->second.number_value();
  return true;
}

std::vector<std::string> StringOrList(const google::protobuf::Struct& s, const std::string& name) {
  std::vector<std::string> out;
  auto it = s.fields().find(name);
  if (it == s.fields().end()) return out;
  if (it->second.has_string_value()) {
    out.push_back(it->second.string_value());
  } else if (it->second.has_list_value()) {
    for (const auto& v : it->second.list_value().values()) {
      if (v.has_string_value()) out.push_back(v.string_value());
    }
  }
  return out;
}

absl::StatusOr<Pkey> RsaKey(const std::string& n, const std::string& e) {
  BIGNUM* bn_n = BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()),
                           static_cast<int>(n.size()), nullptr);
  BIGNUM* bn_e = BN_bin2bn(reinterpret_cast<const unsigned char*>(e.data()),
                           static_cast<int>(e.size()), nullptr);
  // RS256 keys are 2048 bits or more (RFC 7518 3.3), with an odd public
  // exponent: an entry without n or e, or with a toy one, is no key (found
  // from outside: {"kty":"RSA","kid":"z"} replaced the provider's keys, and
  // every token was refused).
  if (bn_n != nullptr && bn_e != nullptr &&
      (BN_num_bits(bn_n) < 2048 || BN_num_bits(bn_e) < 2 || BN_num_bits(bn_e) > 64 ||
       !BN_is_odd(bn_e))) {
    const int bits = BN_num_bits(bn_n);
    BN_free(bn_n);
    BN_free(bn_e);
    return absl::InvalidArgumentError(
        absl::StrCat("an RSA key's n is ", bits,
                     " bits, or its e is not an odd exponent of at most 64 bits "
                     "(a key must be 2048 bits or more: RFC 7518 3.3)"));
  }
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM* params = nullptr;
  EVP_PKEY* key = nullptr;
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr);
  bool ok = bn_n != nullptr && bn_e != nullptr && bld != nullptr && ctx != nullptr &&
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) == 1 &&
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) == 1 &&
            (params = OSSL_PARAM_BLD_to_param(bld)) != nullptr &&
            EVP_PKEY_fromdata_init(ctx) == 1 &&
            EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) == 1;
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  EVP_PKEY_CTX_free(ctx);
  BN_free(bn_n);
  BN_free(bn_e);
  if (!ok) {
    ERR_clear_error();
    return absl::InvalidArgumentError("an RSA key's n and e do not make a key");
  }
  return Pkey(key);
}

absl::StatusOr<Pkey> P256Key(const std::string& x, const std::string& y) {
  if (x.size() != 32 || y.size() != 32) {
    return absl::InvalidArgumentError("a P-256 key's x and y must be 32 bytes each");
  }
  std::string point = "\x04" + x + y;  // uncompressed
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM* params = nullptr;
  EVP_PKEY* key = nullptr;
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
  bool ok =
      bld != nullptr && ctx != nullptr &&
      OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) == 1 &&
      OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) ==
          1 &&
      (params = OSSL_PARAM_BLD_to_param(bld)) != nullptr && EVP_PKEY_fromdata_init(ctx) == 1 &&
      EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) == 1;
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  EVP_PKEY_CTX_free(ctx);
  if (!ok) {
    ERR_clear_error();
    return absl::InvalidArgumentError("a P-256 key's x and y are not a point on the curve");
  }
  return Pkey(key);
}

// ES256 signatures are r || s (32 bytes each); OpenSSL verifies DER.
absl::StatusOr<std::string> EcdsaDer(const std::string& raw) {
  if (raw.size() != 64) return absl::InvalidArgumentError("an ES256 signature is 64 bytes");
  ECDSA_SIG* sig = ECDSA_SIG_new();
  BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()), 32, nullptr);
  BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data() + 32), 32, nullptr);
  if (sig == nullptr || r == nullptr || s == nullptr || ECDSA_SIG_set0(sig, r, s) != 1) {
    ECDSA_SIG_free(sig);
    BN_free(r);
    BN_free(s);
    return absl::InvalidArgumentError("an ES256 signature cannot be read");
  }
  unsigned char* der = nullptr;
  int n = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  if (n <= 0) return absl::InvalidArgumentError("an ES256 signature cannot be encoded");
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(n));
  OPENSSL_free(der);
  return out;
}

bool VerifySha256(EVP_PKEY* key, std::string_view message, const std::string& signature) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = ctx != nullptr && EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
            EVP_DigestVerify(
                ctx, reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
  EVP_MD_CTX_free(ctx);
  ERR_clear_error();
  return ok;
}

}  // namespace

struct TokenVerifier::Key {
  std::string kid;
  std::string alg;  // "RS256" or "ES256"
  Pkey pkey;
};

TokenVerifier::TokenVerifier(v1::OidcConfig config, std::vector<Key> keys)
    : config_(std::move(config)), keys_(std::move(keys)) {}
TokenVerifier::~TokenVerifier() = default;

size_t TokenVerifier::key_count() const { return keys_.size(); }

absl::StatusOr<std::unique_ptr<TokenVerifier>> TokenVerifier::FromJwks(const v1::OidcConfig& config,
                                                                       std::string_view jwks) {
  if (config.issuer().empty() || config.audiences().empty()) {
    return absl::InvalidArgumentError(
        "security.oidc: issuer and audiences are required to accept bearer tokens");
  }
  EH_ASSIGN_OR_RETURN(google::protobuf::Struct doc, ParseJson(jwks, "the JWKS document"));
  auto keys_it = doc.fields().find("keys");
  if (keys_it == doc.fields().end() || !keys_it->second.has_list_value()) {
    return absl::InvalidArgumentError("the JWKS document has no \"keys\" list");
  }
  std::vector<Key> keys;
  for (const auto& v : keys_it->second.list_value().values()) {
    if (!v.has_struct_value()) continue;
    const google::protobuf::Struct& jwk = v.struct_value();
    const std::string kty = StringField(jwk, "kty");
    const std::string use = StringField(jwk, "use");
    if (!use.empty() && use != "sig") continue;
    Key key;
    key.kid = StringField(jwk, "kid");
    if (kty == "RSA") {
      EH_ASSIGN_OR_RETURN(std::string n, Base64Url(StringField(jwk, "n"), "an RSA key's n"));
      EH_ASSIGN_OR_RETURN(std::string e, Base64Url(StringField(jwk, "e"), "an RSA key's e"));
      EH_ASSIGN_OR_RETURN(key.pkey, RsaKey(n, e));
      key.alg = "RS256";
    } else if (kty == "EC" && StringField(jwk, "crv") == "P-256") {
      EH_ASSIGN_OR_RETURN(std::string x, Base64Url(StringField(jwk, "x"), "an EC key's x"));
      EH_ASSIGN_OR_RETURN(std::string y, Base64Url(StringField(jwk, "y"), "an EC key's y"));
      EH_ASSIGN_OR_RETURN(key.pkey, P256Key(x, y));
      key.alg = "ES256";
    } else {
      continue;  // another kind of key: not one we accept tokens signed with
    }
    const std::string alg = StringField(jwk, "alg");
    if (!alg.empty() && alg != key.alg) continue;
    keys.push_back(std::move(key));
  }
  if (keys.empty()) {
    return absl::InvalidArgumentError(
        "the JWKS document holds no RSA or P-256 signing key; tokens could never verify");
  }
  return std::unique_ptr<TokenVerifier>(new TokenVerifier(config, std::move(keys)));
}

absl::StatusOr<TokenClaims> TokenVerifier::Verify(std::string_view token, absl::Time now,
                                                  bool* unknown_key) const {
  std::vector<absl::string_view> parts =
      absl::StrSplit(absl::string_view(token.data(), token.size()), '.');
  if (parts.size() != 3) return Refused("it is not a JWT (three base64url parts joined by dots)");
  auto header_json = Base64Url(std::string_view(parts[0].data(), parts[0].size()), "its header");
  auto payload_json = Base64Url(std::string_view(parts[1].data(), parts[1].size()), "its payload");
  auto signature = Base64Url(std::string_view(parts[2].data(), parts[2].size()), "its signature");
  if (!header_json.ok() || !payload_json.ok() || !signature.ok()) {
    return Refused("a part is not base64url");
  }
  auto header = ParseJson(*header_json, "its header");
  auto claims = ParseJson(*payload_json, "its payload");
  if (!header.ok() || !claims.ok()) return Refused("its header or payload is not a JSON object");
  const std::string alg = StringField(*header, "alg");
  if (alg != "RS256" && alg != "ES256") {
    return Refused(
        absl::StrCat("it is signed with ", Quoted(alg), "; only RS256 and ES256 are accepted"));
  }
  // Extensions the signer says must be understood (RFC 7515 4.1.11): this
  // server understands none, so a token naming any is refused.
  if (header->fields().contains("crit")) {
    return Refused(
        "its header names critical extensions (crit), which this server does not understand "
        "(RFC 7515 4.1.11)");
  }
  const std::string kid = StringField(*header, "kid");
  // Without a kid, the one key of its algorithm, if there is only one
  // (found from outside: refused although the JWKS held one RS256 key,
  // beside an ES256 one).
  const Key* key = nullptr;
  size_t of_alg = 0;
  for (const Key& k : keys_) {
    if (k.alg != alg) continue;
    ++of_alg;
    if (kid.empty() || k.kid == kid) key = &k;
  }
  if (kid.empty() && of_alg > 1) {
    return Refused(
        absl::StrCat("its header names no key (kid), and the identity provider's JWKS "
                     "holds ",
                     of_alg, " ", alg, " keys: the token must say which signed it"));
  }
  if (key == nullptr) {
    if (unknown_key != nullptr) *unknown_key = true;
    return Refused(absl::StrCat("no key of the identity provider's JWKS matches it (kid ",
                                Quoted(kid), ", ", alg, ")"));
  }
  std::string sig = *signature;
  if (alg == "ES256") {
    auto der = EcdsaDer(sig);
    if (!der.ok()) return Refused(der.status().message());
    sig = *std::move(der);
  }
  const std::string_view signed_part(token.data(), parts[0].size() + 1 + parts[1].size());
  if (!VerifySha256(key->pkey.get(), signed_part, sig)) {
    return Refused("its signature does not verify with the identity provider's key");
  }
  // The claims, once the signature vouches for them.
  if (StringField(*claims, "iss") != config_.issuer()) {
    return Refused(absl::StrCat("it was issued by \"", StringField(*claims, "iss"), "\", not by \"",
                                config_.issuer(), "\""));
  }
  bool audience_ok = false;
  std::vector<std::string> audiences = StringOrList(*claims, "aud");
  for (const std::string& a : audiences) {
    for (const std::string& mine : config_.audiences()) audience_ok |= a == mine;
  }
  if (!audience_ok) {
    return Refused(absl::StrCat("it is for audience \"", absl::StrJoin(audiences, "\", \""),
                                "\", not for this server (\"",
                                absl::StrJoin(config_.audiences(), "\", \""), "\")"));
  }
  const absl::Duration leeway =
      absl::Seconds(config_.leeway_seconds() == 0 ? 60 : config_.leeway_seconds());
  double exp = 0, nbf = 0;
  if (!NumberField(*claims, "exp", &exp)) {
    return Refused(claims->fields().contains("exp")
                       ? "its expiry (exp) is not a number of seconds (RFC 7519 NumericDate)"
                       : "it has no expiry (exp)");
  }
  // Seconds since 1970 before the year 10000: anything else is no time (and
  // would overflow the conversion).
  constexpr double kYear10000 = 253402300800.0;
  if (!(exp >= 0 && exp < kYear10000)) {
    return Refused(absl::StrCat("its expiry (exp) ", exp, " is not a time in seconds since 1970"));
  }
  const absl::Time expires = absl::FromUnixSeconds(static_cast<int64_t>(exp));
  if (now > expires + leeway) {
    return Refused(absl::StrCat(
        "it expired at ", absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", expires, absl::UTCTimeZone())));
  }
  // A time claim that is there but not a number is refused, not passed
  // over (outside probe: a string nbf let a token be used before its time).
  for (const char* claim : {"nbf", "iat"}) {
    double ignored;
    if (claims->fields().contains(claim) && !NumberField(*claims, claim, &ignored)) {
      return Refused(
          absl::StrCat("its ", claim, " is not a number of seconds (RFC 7519 NumericDate)"));
    }
  }
  if (NumberField(*claims, "nbf", &nbf) && !(nbf >= 0 && nbf < kYear10000)) {
    return Refused(absl::StrCat("its start (nbf) ", nbf, " is not a time in seconds since 1970"));
  }
  if (NumberField(*claims, "nbf", &nbf) &&
      now + leeway < absl::FromUnixSeconds(static_cast<int64_t>(nbf))) {
    return Refused("it is not valid yet (nbf)");
  }
  TokenClaims out;
  out.subject = StringField(
      *claims, config_.subject_claim().empty() ? std::string("sub") : config_.subject_claim());
  if (out.subject.empty()) return Refused("it names no subject");
  out.groups = StringOrList(
      *claims, config_.groups_claim().empty() ? std::string("groups") : config_.groups_claim());
  out.expires = expires;
  out.usable_until = expires + leeway;
  return out;
}

}  // namespace evenhand::services::auth
