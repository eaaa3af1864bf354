// Ed25519 signing keys and signed checkpoints (OpenSSL's Ed25519).
//
// A checkpoint commits to (log id, tree size, Merkle root, chain head,
// stream-map root, time). What is signed is its text form, so anyone can
// check a signature with a generic tool (docs/INTEGRITY.md), every line
// ending in one LF, hashes in standard padded base64:
//
//   evenhand checkpoint v2
//   log <log id>
//   size <tree size>
//   root <Merkle root>
//   chain <chain head>
//   streams <stream-map root>
//   time <unix nanoseconds>
//
// (Version 1, signed before chain heads and the map, had only log, size,
// root and time; it is still verified where old journals hold it.)
//
// Keys and functions are thread-safe (signing does not mutate the key).
#ifndef EVENHAND_INTEGRITY_SIGNING_H_
#define EVENHAND_INTEGRITY_SIGNING_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "evenhand/v1/audit.pb.h"

namespace evenhand::integrity {

class SigningKey {
 public:
  // Reads a PEM (PKCS #8) Ed25519 private key; if the file does not exist,
  // creates one (mode 0600) and writes its public key beside it (".pub").
  // `created` reports which happened.
  static absl::StatusOr<SigningKey> LoadOrCreate(const std::string& path, bool* created);
  // The key a PEM (PKCS #8) Ed25519 private key holds; `name` says where it
  // came from in an error.
  static absl::StatusOr<SigningKey> FromPem(absl::string_view pem, absl::string_view name);
  // A fresh key in memory (tests).
  static absl::StatusOr<SigningKey> Generate();
  // The key with this 32-byte raw private key (RFC 8032), e.g. a published
  // test vector's.
  static absl::StatusOr<SigningKey> FromRawPrivateKey(absl::string_view raw);

  SigningKey(SigningKey&&) noexcept;
  SigningKey& operator=(SigningKey&&) noexcept;
  ~SigningKey();

  absl::StatusOr<std::string> Sign(absl::string_view message) const;
  const v1::PublicKey& public_key() const { return public_key_; }

 private:
  SigningKey() = default;
  struct Key;
  std::unique_ptr<Key> key_;
  v1::PublicKey public_key_;
};

// The first 16 hex digits of SHA-256 of a raw public key.
std::string KeyId(absl::string_view raw_public_key);

// The one PEM form of a raw Ed25519 public key that bundles carry:
// "-----BEGIN PUBLIC KEY-----\n", base64 of the 44-byte DER
// SubjectPublicKeyInfo (302a300506032b6570032100 || key), "\n-----END
// PUBLIC KEY-----\n". The same bytes OpenSSL writes.
std::string PublicKeyPem(absl::string_view raw_public_key);

// A PublicKey from a PEM file's contents (SubjectPublicKeyInfo).
absl::StatusOr<v1::PublicKey> PublicKeyFromPem(absl::string_view pem);

// Checks an Ed25519 signature with a raw 32-byte public key.
absl::Status VerifySignature(absl::string_view raw_public_key, absl::string_view message,
                             absl::string_view signature);

// The text form of a checkpoint: the bytes that are signed (version 2 when
// the chain head or map root is set, else version 1).
std::string CheckpointBody(const v1::Checkpoint& checkpoint);

// The reverse of CheckpointBody: the checkpoint a text form states.
// Refuses text that is not exactly what CheckpointBody writes for it.
absl::StatusOr<v1::Checkpoint> ParseCheckpointBody(absl::string_view body);

absl::StatusOr<v1::SignedCheckpoint> SignCheckpoint(const SigningKey& key,
                                                    const v1::Checkpoint& checkpoint);

// Checks the signature over signed_body, that the body says what the
// structured fields say, and that the key id matches. The message names
// which check failed.
absl::Status VerifyCheckpoint(const v1::SignedCheckpoint& signed_checkpoint,
                              const v1::PublicKey& key);

}  // namespace evenhand::integrity

#endif  // EVENHAND_INTEGRITY_SIGNING_H_
