#include "integrity/signing.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "base/quoted.h"
#include "base/status_macros.h"
#include "base/trusted_file.h"
#include "base/uuid.h"
#include "integrity/merkle.h"

namespace evenhand::integrity {
namespace {

struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
using Bio = std::unique_ptr<BIO, BioDeleter>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

std::string OpenSslError() {
  unsigned long e = ERR_get_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  return buf;
}

std::string BioString(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

absl::StatusOr<v1::PublicKey> DescribePublic(EVP_PKEY* key) {
  v1::PublicKey out;
  out.set_algorithm("Ed25519");
  size_t len = 32;
  std::string raw(len, '\0');
  if (EVP_PKEY_get_raw_public_key(key, reinterpret_cast<unsigned char*>(raw.data()), &len) != 1) {
    return absl::InternalError(absl::StrCat("cannot read the public key: ", OpenSslError()));
  }
  raw.resize(len);
  Bio bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PUBKEY(bio.get(), key) != 1) {
    return absl::InternalError(absl::StrCat("cannot encode the public key: ", OpenSslError()));
  }
  out.set_pem(BioString(bio.get()));
  out.set_key_id(KeyId(raw));
  out.set_raw(std::move(raw));
  return out;
}

}  // namespace

struct SigningKey::Key {
  Pkey pkey;
};

SigningKey::SigningKey(SigningKey&&) noexcept = default;
SigningKey& SigningKey::operator=(SigningKey&&) noexcept = default;
SigningKey::~SigningKey() = default;

absl::StatusOr<SigningKey> SigningKey::Generate() {
  EVP_PKEY* raw = nullptr;
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
      EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr), &EVP_PKEY_CTX_free);
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 || EVP_PKEY_keygen(ctx.get(), &raw) != 1) {
    return absl::InternalError(absl::StrCat("cannot generate an Ed25519 key: ", OpenSslError()));
  }
  SigningKey k;
  k.key_ = std::make_unique<Key>();
  k.key_->pkey.reset(raw);
  EH_ASSIGN_OR_RETURN(k.public_key_, DescribePublic(raw));
  return k;
}

absl::StatusOr<SigningKey> SigningKey::FromRawPrivateKey(absl::string_view raw_key) {
  EVP_PKEY* raw = EVP_PKEY_new_raw_private_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(raw_key.data()),
      raw_key.size());
  if (raw == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("not a 32-byte Ed25519 private key: ",
                                                   OpenSslError()));
  }
  SigningKey k;
  k.key_ = std::make_unique<Key>();
  k.key_->pkey.reset(raw);
  EH_ASSIGN_OR_RETURN(k.public_key_, DescribePublic(raw));
  return k;
}

absl::StatusOr<SigningKey> SigningKey::LoadOrCreate(const std::string& path, bool* created) {
  *created = false;
  if (!std::filesystem::exists(path)) {
    // Made only where nobody else could replace it, or plant a link beside
    // it (outside probe: a key was made in a folder of `nobody`'s).
    const std::string folder = std::filesystem::path(path).parent_path().string();
    if (absl::Status s = CheckTrustedFolder(folder, "audit.signingKeyFile"); !s.ok()) {
      return absl::PermissionDeniedError(s.message());
    }
    EH_ASSIGN_OR_RETURN(SigningKey k, Generate());
    Bio bio(BIO_new(BIO_s_mem()));
    if (PEM_write_bio_PrivateKey(bio.get(), k.key_->pkey.get(), nullptr, nullptr, 0, nullptr,
                                 nullptr) != 1) {
      return absl::InternalError(absl::StrCat("cannot encode the key: ", OpenSslError()));
    }
    const std::string pem = BioString(bio.get());
    // Created owner-only, and never overwritten.
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0 || ::write(fd, pem.data(), pem.size()) != static_cast<ssize_t>(pem.size()) ||
        ::fsync(fd) != 0) {
      const int e = errno;
      if (fd >= 0) ::close(fd);
      std::error_code ec;
      return absl::PermissionDeniedError(absl::StrCat(
          "cannot write the signing key to ", path, " (",
          std::filesystem::is_symlink(path, ec)
              ? "a symbolic link to a file that does not exist: a key is never made through a "
                "link; put the key itself there, or remove the link to have one made"
              : std::strerror(e),
          ")"));
    }
    ::close(fd);
    // The public key beside it, for operators to hand to auditors.
    const std::string pub = path + ".pub";
    // A new file of the server's: whatever was there goes first, and it is
    // never written through a link, into a file another user made, or to a
    // FIFO (outside probes: each was planted there, overwriting a file of
    // root's, keeping the public key in nobody's file, or hanging the start).
    ::unlink(pub.c_str());
    const int pub_fd =
        ::open(pub.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK, 0600);
    if (pub_fd >= 0) {
      const std::string& text = k.public_key_.pem();
      if (::write(pub_fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
        ::close(pub_fd);
        return absl::PermissionDeniedError(absl::StrCat("cannot write the public key to ", pub));
      }
      ::close(pub_fd);
    }
    *created = true;
    return k;
  }
  // Whoever can read the key can sign checkpoints in this log's name: a key
  // others can read is refused, not warned about.
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0077) != 0) {
    if ((st.st_mode & 0044) == 0) {
      return absl::PermissionDeniedError(absl::StrFormat(
          "signing key %s can be changed by its group or others (mode %04o): anyone who could "
          "write it can put their own key in its place. Make it owner-only (chmod 600 %s)",
          path, st.st_mode & 07777, path));
    }
    return absl::PermissionDeniedError(absl::StrFormat(
        "signing key %s can be read by its group or others (mode %04o): anyone who could read "
        "it can sign checkpoints in this log's name. Make it owner-only (chmod 600 %s), and if "
        "others may have read it, replace the key and tell the log's auditors",
        path, st.st_mode & 07777, path));
  }
  // A regular file (a FIFO would hang the start), owned by root or the
  // server's user, in a folder nobody else can replace it in.
  absl::StatusOr<std::string> text =
      ReadTrustedFile(path, "audit.signingKeyFile", FileSecrecy::kSecret, 1 << 20);
  if (!text.ok()) return absl::PermissionDeniedError(text.status().message());
  return FromPem(*text, path);
}

absl::StatusOr<SigningKey> SigningKey::FromPem(absl::string_view pem, absl::string_view name) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  // No passphrase: OpenSSL's default would ask for one on the terminal, so
  // an encrypted key (one put in a backup folder, say) would hang a
  // listing run by hand.
  pem_password_cb* no_passphrase = [](char*, int, int, void*) { return 0; };
  EVP_PKEY* raw = PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr);
  if (raw == nullptr) {
    if (absl::StrContains(pem, "ENCRYPTED")) {
      return absl::InvalidArgumentError(absl::StrCat(
          "signing key ", name,
          " is encrypted with a passphrase; evenhandd reads it unencrypted (PKCS #8 PEM, "
          "owner-only): decrypt it (openssl pkey -in KEY -out KEY.plain) and keep it so"));
    }
    return absl::InvalidArgumentError(
        absl::StrCat("signing key ", name, " is not a PEM private key: ", OpenSslError()));
  }
  SigningKey k;
  k.key_ = std::make_unique<Key>();
  k.key_->pkey.reset(raw);
  if (EVP_PKEY_id(raw) != EVP_PKEY_ED25519) {
    return absl::InvalidArgumentError(absl::StrCat("signing key ", name, " is not Ed25519"));
  }
  EH_ASSIGN_OR_RETURN(k.public_key_, DescribePublic(raw));
  return k;
}

absl::StatusOr<std::string> SigningKey::Sign(absl::string_view message) const {
  MdCtx ctx(EVP_MD_CTX_new());
  size_t len = 64;
  std::string sig(len, '\0');
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_->pkey.get()) != 1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1) {
    return absl::InternalError(absl::StrCat("cannot sign: ", OpenSslError()));
  }
  sig.resize(len);
  return sig;
}

std::string PublicKeyPem(absl::string_view raw_public_key) {
  // SubjectPublicKeyInfo for Ed25519 (RFC 8410): a fixed 12-byte DER header,
  // then the key. 44 bytes, one base64 line.
  static constexpr char kSpkiHeader[] = "\x30\x2a\x30\x05\x06\x03\x2b\x65\x70\x03\x21\x00";
  const std::string der = absl::StrCat(absl::string_view(kSpkiHeader, 12), raw_public_key);
  return absl::StrCat("-----BEGIN PUBLIC KEY-----\n", absl::Base64Escape(der),
                      "\n-----END PUBLIC KEY-----\n");
}

std::string KeyId(absl::string_view raw_public_key) {
  return absl::BytesToHexString(Sha256(raw_public_key)).substr(0, 16);
}

absl::StatusOr<v1::PublicKey> PublicKeyFromPem(absl::string_view pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Pkey key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!key || EVP_PKEY_id(key.get()) != EVP_PKEY_ED25519) {
    return absl::InvalidArgumentError("not a PEM Ed25519 public key");
  }
  return DescribePublic(key.get());
}

absl::Status VerifySignature(absl::string_view raw_public_key, absl::string_view message,
                             absl::string_view signature) {
  Pkey key(EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(raw_public_key.data()),
      raw_public_key.size()));
  if (!key) return absl::InvalidArgumentError("the public key is not a 32-byte Ed25519 key");
  MdCtx ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1) {
    return absl::InternalError(absl::StrCat("cannot verify: ", OpenSslError()));
  }
  if (EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                       signature.size(), reinterpret_cast<const unsigned char*>(message.data()),
                       message.size()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError("the signature does not verify with the public key");
  }
  return absl::OkStatus();
}

std::string CheckpointBody(const v1::Checkpoint& c) {
  // Unix nanoseconds fit in 64 bits from 1677 to 2262. A time outside that
  // (only a damaged or forged checkpoint has one) is written so that it
  // matches no signed body, rather than overflowing.
  const int64_t seconds = c.timestamp().seconds();
  const int32_t sub = c.timestamp().nanos();
  constexpr int64_t kMaxSeconds = INT64_MAX / 1000000000LL - 1;
  const std::string nanos = seconds < 0 || seconds > kMaxSeconds || sub < 0 || sub > 999999999
                                ? std::string("out-of-range")
                                : absl::StrCat(seconds * 1000000000LL + sub);
  if (c.chain_head().empty() && c.stream_map_root().empty()) {
    // Version 1, signed before checkpoints committed to the chain and map.
    return absl::StrCat("evenhand checkpoint v1\nlog ", c.log_id(), "\nsize ", c.tree_size(),
                        "\nroot ", absl::Base64Escape(c.root_hash()), "\ntime ", nanos, "\n");
  }
  return absl::StrCat("evenhand checkpoint v2\nlog ", c.log_id(), "\nsize ", c.tree_size(),
                      "\nroot ", absl::Base64Escape(c.root_hash()), "\nchain ",
                      absl::Base64Escape(c.chain_head()), "\nstreams ",
                      absl::Base64Escape(c.stream_map_root()), "\ntime ", nanos, "\n");
}

absl::StatusOr<v1::Checkpoint> ParseCheckpointBody(absl::string_view body) {
  auto bad = [](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("checkpoint text: ", why));
  };
  if (!absl::EndsWith(body, "\n")) return bad("does not end with a line feed");
  std::vector<absl::string_view> lines =
      absl::StrSplit(body.substr(0, body.size() - 1), '\n');
  const bool v2 = !lines.empty() && lines[0] == "evenhand checkpoint v2";
  if (lines.empty() || (!v2 && lines[0] != "evenhand checkpoint v1")) {
    return bad("does not start with \"evenhand checkpoint v1\" or \"v2\"");
  }
  const std::vector<absl::string_view> names =
      v2 ? std::vector<absl::string_view>{"log", "size", "root", "chain", "streams", "time"}
         : std::vector<absl::string_view>{"log", "size", "root", "time"};
  if (lines.size() != names.size() + 1) return bad("has the wrong number of lines");
  std::map<absl::string_view, absl::string_view> values;
  for (size_t i = 0; i < names.size(); ++i) {
    const absl::string_view line = lines[i + 1];
    if (!absl::StartsWith(line, names[i]) || line.size() <= names[i].size() ||
        line[names[i].size()] != ' ') {
      return bad(absl::StrCat("line ", i + 2, " should start with \"", names[i], " \""));
    }
    values[names[i]] = line.substr(names[i].size() + 1);
  }
  v1::Checkpoint c;
  const absl::string_view log = values["log"];
  if (!IsLowerCaseUuid(std::string_view(log.data(), log.size()))) {
    return bad("log is not a lower-case UUID");
  }
  c.set_log_id(std::string(values["log"]));
  uint64_t size = 0;
  int64_t nanos = 0;
  if (!absl::SimpleAtoi(values["size"], &size)) return bad("size is not a number");
  if (!absl::SimpleAtoi(values["time"], &nanos) || nanos < 0) return bad("time is not a number");
  c.set_tree_size(size);
  c.mutable_timestamp()->set_seconds(nanos / 1000000000);
  c.mutable_timestamp()->set_nanos(static_cast<int32_t>(nanos % 1000000000));
  std::string hash;
  if (!absl::Base64Unescape(values["root"], &hash)) return bad("root is not base64");
  c.set_root_hash(hash);
  if (v2) {
    if (!absl::Base64Unescape(values["chain"], &hash)) return bad("chain is not base64");
    c.set_chain_head(hash);
    if (!absl::Base64Unescape(values["streams"], &hash)) return bad("streams is not base64");
    c.set_stream_map_root(hash);
  }
  if (CheckpointBody(c) != body) return bad("is not in its one canonical form");
  return c;
}

absl::StatusOr<v1::SignedCheckpoint> SignCheckpoint(const SigningKey& key,
                                                    const v1::Checkpoint& checkpoint) {
  v1::SignedCheckpoint out;
  *out.mutable_checkpoint() = checkpoint;
  out.set_signed_body(CheckpointBody(checkpoint));
  EH_ASSIGN_OR_RETURN(std::string sig, key.Sign(out.signed_body()));
  out.set_signature(std::move(sig));
  out.set_key_id(key.public_key().key_id());
  return out;
}

absl::Status VerifyCheckpoint(const v1::SignedCheckpoint& s, const v1::PublicKey& key) {
  if (absl::Status v = VerifySignature(key.raw(), s.signed_body(), s.signature()); !v.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("checkpoint: ", v.message()));
  }
  if (!IsLowerCaseUuid(s.checkpoint().log_id())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "checkpoint: its log id ", Quoted(s.checkpoint().log_id()),
        " is not a lower-case UUID, the only form a log's id takes (docs/INTEGRITY.md)"));
  }
  if (s.signed_body() != CheckpointBody(s.checkpoint())) {
    return absl::InvalidArgumentError(
        "checkpoint: its fields do not say what its signed body says");
  }
  if (s.key_id() != KeyId(key.raw())) {
    return absl::InvalidArgumentError("checkpoint: it names a different key id");
  }
  return absl::OkStatus();
}

}  // namespace evenhand::integrity
