// JwksKeys: the identity provider's keys (a TokenVerifier), read again from
// the JWKS file when it changes, so that a provider's key rotation needs the
// file updated (by hand, or by a job that fetches the provider's jwks_uri),
// not the server restarted.
//
// When a token is verified, the file is read again if it was last read
// `jwks_check_seconds` ago or more (security.oidc, default 60), and at once
// (at most once a second) when the token names a key the keys held do not
// have: a provider publishes a new key before it signs with it, so the
// first token signed with it finds it. A key the file no longer holds stops
// verifying within `jwks_check_seconds`.
//
// A file that cannot be read, does not parse or holds no usable key leaves
// the keys held as they are (a file caught half-written must not sign
// everyone out), and is said on the server's log once per distinct error;
// the first read, at start, fails the start instead.
//
// Thread-safe. Verification goes on with the keys held while one caller
// reads the file.
#ifndef EVENHAND_SERVICES_AUTH_JWKS_KEYS_H_
#define EVENHAND_SERVICES_AUTH_JWKS_KEYS_H_

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "evenhand/v1/config.pb.h"
#include "services/auth/token_verifier.h"

namespace evenhand::services::auth {

class JwksKeys {
 public:
  // Reads `config.jwks_file()`; its error (naming the setting) if it cannot.
  static absl::StatusOr<std::unique_ptr<JwksKeys>> Load(const v1::OidcConfig& config);

  // As TokenVerifier::Verify, with the keys the file holds.
  absl::StatusOr<TokenClaims> Verify(std::string_view token, absl::Time now) const;

  // Reads the file now (a reload of the configuration: SIGHUP), waiting for
  // a read under way. A file that cannot be used is said on the server's
  // log even if it was said before, and returned (FAILED_PRECONDITION); the
  // keys held are kept, as at any read.
  absl::Status ReadAgain() const;

 private:
  using Clock = std::chrono::steady_clock;
  JwksKeys(v1::OidcConfig config, std::string text, std::unique_ptr<TokenVerifier> keys);
  std::shared_ptr<const TokenVerifier> Current() const;
  // Reads the file again if it is time (or `unknown_key` and a second has
  // passed) and no other caller is; returns the keys then held.
  std::shared_ptr<const TokenVerifier> CheckFile(bool unknown_key) const;
  // Reads the file, taking its keys if they changed and are usable; its
  // error otherwise, said on the log if new (or `say_again`).
  absl::Status ReadFile(bool say_again) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(read_mu_);

  const v1::OidcConfig config_;
  const Clock::duration check_every_;
  mutable absl::Mutex mu_;
  mutable std::shared_ptr<const TokenVerifier> keys_ ABSL_GUARDED_BY(mu_);
  mutable Clock::time_point checked_ ABSL_GUARDED_BY(mu_);
  // Held by the one caller reading the file; what it read last, and the
  // last error it said.
  mutable absl::Mutex read_mu_;
  mutable std::string text_ ABSL_GUARDED_BY(read_mu_);
  mutable std::string said_ ABSL_GUARDED_BY(read_mu_);
};

}  // namespace evenhand::services::auth

#endif  // EVENHAND_SERVICES_AUTH_JWKS_KEYS_H_
