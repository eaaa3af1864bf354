// What a verified client certificate says of its holder: the names a
// principal is told apart by, and when it stops being valid. Read from the
// certificate itself, for gRPC calls (the PEM gRPC hands each call,
// GRPC_X509_PEM_CERT_PROPERTY_NAME) and for /metrics (the peer of its own
// TLS connection) alike, so that one certificate is one principal on both.
//
// Names (RFC 6125 6.4.4): the subject alternative names of kinds a
// principal can list (DNS, e-mail, URI, IP address, as text); the subject's
// common name only when the certificate has no subject alternative name
// extension (a certificate whose SANs name one system is not another by its
// CN). Other kinds of SAN (otherName, directoryName) name nothing, nor does
// a value holding a NUL byte ("a.council\0.evil" is neither name).
//
// Dates: the TLS handshake checks them once, when a connection opens or a
// session is first made; an HTTP/2 connection lives for hours, and a TLS
// 1.3 session resumed later presents no certificate at all, so the
// authoriser checks notAfter again on every call
// (services/auth/authorizer.h).
//
// What it does not know: whether the chain verifies (the handshake did
// that), or which principal lists a name.
//
// Thread-safe.
#ifndef EVENHAND_SERVICES_AUTH_CLIENT_CERTIFICATE_H_
#define EVENHAND_SERVICES_AUTH_CLIENT_CERTIFICATE_H_

#include <openssl/x509.h>

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace evenhand::services::auth {

struct ClientCertificate {
  std::vector<std::string> names;
  // absl::InfinitePast() if it cannot be read (a call is then refused as
  // expired, never let through).
  absl::Time not_after = absl::InfinitePast();
};

ClientCertificate ClientCertificateOf(const X509* certificate);

// The same from a PEM; no names and a notAfter in the infinite past if
// `pem` holds no certificate that parses. Parsed certificates are
// remembered (a few thousand at most), so a connection's calls parse it
// once.
ClientCertificate ClientCertificateFromPem(absl::string_view pem);

}  // namespace evenhand::services::auth

#endif  // EVENHAND_SERVICES_AUTH_CLIENT_CERTIFICATE_H_
