#include "services/auth/header_gate.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "base/log_repeats.h"
#include "base/logging.h"
#include "base/metrics.h"

namespace evenhand::services::auth {

grpc::Status HeaderGate::Process(const InputMetadata& auth_metadata, grpc::AuthContext* context,
                                 OutputMetadata* /*consumed_auth_metadata*/,
                                 OutputMetadata* /*response_metadata*/) {
  std::string path;
  if (auto it = auth_metadata.find(":path"); it != auth_metadata.end()) {
    path.assign(it->second.data(), it->second.size());
  }
  const bool certified = context != nullptr && context->IsPeerAuthenticated();
  // Health and reflection too: gRPC reads their requests as it reads ours
  // (found by reading: 60 MiB health checks took the server to 0.66 GB once
  // the other methods were closed to such callers).
  absl::StatusOr<Identity> identity =
      authorizer_->Authenticate(Caller::FromConnection(context, auth_metadata));
  if (!identity.ok()) {
    // The handshake proved the certificate: the CallGate says what is
    // wrong with it, with the details this cannot give.
    if (certified) return grpc::Status::OK;
    metrics::Registry::Default()
        .GetCounter("evenhand_access_denials_total",
                    "Calls refused by authentication or authorisation, by gRPC status.",
                    {{"code", absl::StatusCodeToString(identity.status().code())}})
        .Add();
    logging::Repeated(logging::Severity::kWarning, "auth", "unauthenticated headers",
                      absl::StrCat("refused ", path.empty() ? std::string("a call") : path,
                                   " on its headers, before its request was read: ",
                                   identity.status().message()));
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        std::string(identity.status().message()));
  }
  // Our methods only: gRPC's own (health, reflection) are any
  // authenticated caller's, and one not in the table is gRPC's to answer.
  const absl::string_view method = absl::StripPrefix(path, "/");
  if (!absl::StartsWith(method, "evenhand.") || !Authorizer::HasRuleFor(method)) {
    return grpc::Status::OK;
  }
  absl::Status allowed = authorizer_->MethodAllowed(*identity, method);
  if (allowed.ok()) return grpc::Status::OK;
  if (on_refused_) on_refused_(*identity, method, allowed);
  return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, std::string(allowed.message()));
}

}  // namespace evenhand::services::auth
