// Reading a file that decides whom the server trusts: its config, its TLS
// certificate, key and client CA, the identity provider's keys, its
// signing key. Whoever can change such a file can make themselves anyone
// the server knows (an outside probe did, as `nobody`, through a
// world-writable JWKS file and CA file re-read while the server ran), and
// whoever can read a key can pose as its owner. So such a file is read
// only if it is a regular file (a link is followed, as certbot's live/
// links are, and what it names is checked), owned by root or by the
// server's own user, not writable by its group or others, reached only
// through folders and links nobody else can change (every folder from `/`
// on, each link followed as the kernel does: owned by root or the server's
// user, not writable by others unless sticky, as /tmp is; every link owned
// by root or the server's user), and, for a key, not readable by others.
// Reading never waits on a FIFO. Thread-safe; no state.
#ifndef EVENHAND_BASE_TRUSTED_FILE_H_
#define EVENHAND_BASE_TRUSTED_FILE_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace evenhand {

enum class FileSecrecy {
  kPublic,  // a certificate, a CA, public keys, the config
  kSecret,  // a private key: not readable by others either (its group may
            // read it: Debian's ssl-cert group)
};

// The text of `path` (at most `max_bytes`), or FailedPrecondition naming
// `setting`, the file and what to change (a chmod or chown to run);
// NotFound if it cannot be opened.
absl::StatusOr<std::string> ReadTrustedFile(const std::string& path, absl::string_view setting,
                                            FileSecrecy secrecy, size_t max_bytes = 16 << 20);

// The same checks without reading (for a file another library reads).
absl::Status CheckTrustedFile(const std::string& path, absl::string_view setting,
                              FileSecrecy secrecy);

// The folder checks alone, for a folder a trusted file is about to be made
// in (a new signing key): FailedPrecondition naming `setting` if someone
// else could change what is in it; OK if it does not exist yet.
absl::Status CheckTrustedFolder(const std::string& dir, absl::string_view setting);

}  // namespace evenhand

#endif  // EVENHAND_BASE_TRUSTED_FILE_H_
