#include "server/grpc_log.h"

#include <grpc/support/log.h>

#include <mutex>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/log_repeats.h"
#include "base/logging.h"

namespace evenhand::server {
namespace {

// A TLS handshake a client failed (its certificate did not verify, it
// spoke plain text to the TLS port, it hung up): the client's fault, as an
// unauthenticated call is, not the server's. The server's own files are
// checked before they are served (server/tls_files.h).
bool ClientsHandshake(const char* message) {
  return message != nullptr && absl::StartsWith(message, "Handshake failed");
}

void Write(gpr_log_func_args* args) {
  logging::Severity severity = args->severity == GPR_LOG_SEVERITY_ERROR ? logging::Severity::kError
                                                                        : logging::Severity::kInfo;
  if (severity == logging::Severity::kError && ClientsHandshake(args->message)) {
    severity = logging::Severity::kWarning;
  }
  const char* file = args->file != nullptr ? args->file : "?";
  // The file as gRPC names it from its source tree, without the build's path.
  std::string where = file;
  if (const size_t src = where.rfind("/src/"); src != std::string::npos) {
    where = where.substr(src + 1);
  }
  absl::StrAppend(&where, ":", args->line);
  std::string message = args->message != nullptr ? args->message : "";
  // gRPC names neither the client nor the reason; what an operator can act
  // on (outside probe: "certificate verify failed" alone).
  if (ClientsHandshake(args->message) && absl::StrContains(message, "certificate verify failed")) {
    absl::StrAppend(&message,
                    " [a client's certificate was refused: not issued by security.tls."
                    "clientCaFile's CA, expired or not yet valid, or not for client "
                    "authentication (extendedKeyUsage clientAuth); openssl verify -CAfile <ca> "
                    "-purpose sslclient <cert> says which]");
  }
  logging::Repeated(severity, "grpc", where, absl::StrCat(message, " (", where, ")"));
}

}  // namespace

void RouteGrpcLogs() {
  static std::once_flag once;
  std::call_once(once, [] { gpr_set_log_function(&Write); });
}

}  // namespace evenhand::server
