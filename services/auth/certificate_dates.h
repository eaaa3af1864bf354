// When a client certificate stops being valid, read from the PEM that gRPC
// hands each call (GRPC_X509_PEM_CERT_PROPERTY_NAME). The TLS handshake
// checks a certificate's dates once, when a connection opens or a session
// is first made; an HTTP/2 connection lives for hours, and a TLS 1.3 session
// resumed later presents no certificate at all, so the authoriser checks
// the date again on every call (services/auth/authorizer.h).
//
// What it does not know: who the certificate names, or whether its chain
// verifies (the handshake did that).
//
// Thread-safe.
#ifndef EVENHAND_SERVICES_AUTH_CERTIFICATE_DATES_H_
#define EVENHAND_SERVICES_AUTH_CERTIFICATE_DATES_H_

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace evenhand::services::auth {

// The certificate's notAfter; absl::InfinitePast() if `pem` holds no
// certificate that parses (a call is then refused as expired, never let
// through). Parsed certificates are remembered (a few thousand at most), so
// a connection's calls parse it once.
absl::Time CertificateNotAfter(absl::string_view pem);

}  // namespace evenhand::services::auth

#endif  // EVENHAND_SERVICES_AUTH_CERTIFICATE_DATES_H_
