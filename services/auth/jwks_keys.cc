#include "services/auth/jwks_keys.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "base/trusted_file.h"

namespace evenhand::services::auth {
namespace {

constexpr char kComponent[] = "auth";
constexpr std::chrono::seconds kDefaultCheck{60};
// The least time between two reads for a token naming a key not held: a
// caller sending tokens of made-up keys costs at most a read a second.
constexpr std::chrono::seconds kUnknownKeyCheck{1};

// Keys that decide who is who: read only if nobody else can change them
// (base/trusted_file.h).
absl::StatusOr<std::string> ReadJwks(const std::string& file) {
  return ReadTrustedFile(file, "security.oidc.jwksFile", FileSecrecy::kPublic);
}

}  // namespace

absl::StatusOr<std::unique_ptr<JwksKeys>> JwksKeys::Load(const v1::OidcConfig& config) {
  absl::StatusOr<std::string> text = ReadJwks(config.jwks_file());
  if (!text.ok()) return text.status();
  absl::StatusOr<std::unique_ptr<TokenVerifier>> keys = TokenVerifier::FromJwks(config, *text);
  if (!keys.ok()) {
    return absl::Status(
        keys.status().code(),
        absl::StrCat("security.oidc.jwksFile ", config.jwks_file(), ": ", keys.status().message()));
  }
  return std::unique_ptr<JwksKeys>(new JwksKeys(config, *std::move(text), *std::move(keys)));
}

JwksKeys::JwksKeys(v1::OidcConfig config, std::string text, std::unique_ptr<TokenVerifier> keys)
    : config_(std::move(config)),
      check_every_(config_.jwks_check_seconds() != 0
                       ? Clock::duration(std::chrono::seconds(config_.jwks_check_seconds()))
                       : Clock::duration(kDefaultCheck)),
      keys_(std::move(keys)),
      checked_(Clock::now()),
      text_(std::move(text)) {}

std::shared_ptr<const TokenVerifier> JwksKeys::Current() const {
  absl::MutexLock lock(&mu_);
  return keys_;
}

absl::StatusOr<TokenClaims> JwksKeys::Verify(std::string_view token, absl::Time now) const {
  std::shared_ptr<const TokenVerifier> keys = CheckFile(false);
  bool unknown_key = false;
  absl::StatusOr<TokenClaims> claims = keys->Verify(token, now, &unknown_key);
  if (!unknown_key) return claims;
  std::shared_ptr<const TokenVerifier> again = CheckFile(true);
  if (again == keys) return claims;
  return again->Verify(token, now);
}

std::shared_ptr<const TokenVerifier> JwksKeys::CheckFile(bool unknown_key) const {
  const Clock::time_point now = Clock::now();
  {
    absl::MutexLock lock(&mu_);
    const Clock::duration since = now - checked_;
    if (since < (unknown_key ? Clock::duration(kUnknownKeyCheck) : check_every_)) return keys_;
  }
  // One caller reads. The others go on with the keys held, except one whose
  // token names a key not held: it waits for that read, then reads again
  // only if no read began in the last second.
  if (unknown_key) {
    read_mu_.Lock();
  } else if (!read_mu_.TryLock()) {
    return Current();
  }
  {
    absl::MutexLock lock(&mu_);
    if (unknown_key && Clock::now() - checked_ < Clock::duration(kUnknownKeyCheck)) {
      read_mu_.Unlock();
      return keys_;
    }
    checked_ = now;
  }
  ReadFile(/*say_again=*/false).IgnoreError();  // said on the server's log
  read_mu_.Unlock();
  return Current();
}

absl::Status JwksKeys::ReadAgain() const {
  read_mu_.Lock();
  {
    absl::MutexLock lock(&mu_);
    checked_ = Clock::now();
  }
  absl::Status read = ReadFile(/*say_again=*/true);
  read_mu_.Unlock();
  return read;
}

absl::Status JwksKeys::ReadFile(bool say_again) const {
  std::string said;
  absl::StatusOr<std::string> text = ReadJwks(config_.jwks_file());
  if (!text.ok()) {
    said = std::string(text.status().message());
  } else if (*text != text_) {
    absl::StatusOr<std::unique_ptr<TokenVerifier>> keys = TokenVerifier::FromJwks(config_, *text);
    if (!keys.ok()) {
      said = absl::StrCat("security.oidc.jwksFile ", config_.jwks_file(), ": ",
                          keys.status().message());
    } else {
      text_ = *std::move(text);
      size_t before;
      {
        absl::MutexLock lock(&mu_);
        before = keys_->key_count();
        keys_ = *std::move(keys);
      }
      logging::Info(kComponent, absl::StrCat("the identity provider's keys were read again from ",
                                             config_.jwks_file(), ": ", Current()->key_count(),
                                             " key(s), ", before, " before"));
    }
  }
  absl::Status read;
  if (!said.empty()) {
    said = absl::StrCat(said, "; the ", Current()->key_count(),
                        " key(s) read before are kept until it holds a usable key");
    if (say_again || said != said_) logging::Warning(kComponent, said);
    read = absl::FailedPreconditionError(said);
  }
  said_ = said;
  return read;
}

}  // namespace evenhand::services::auth
