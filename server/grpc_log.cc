#include "server/grpc_log.h"

#include <grpc/support/log.h>

#include <mutex>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/log_repeats.h"
#include "base/logging.h"

namespace evenhand::server {
namespace {

void Write(gpr_log_func_args* args) {
  const logging::Severity severity = args->severity == GPR_LOG_SEVERITY_ERROR
                                         ? logging::Severity::kError
                                         : logging::Severity::kInfo;
  const char* file = args->file != nullptr ? args->file : "?";
  // The file as gRPC names it from its source tree, without the build's path.
  std::string where = file;
  if (const size_t src = where.rfind("/src/"); src != std::string::npos) {
    where = where.substr(src + 1);
  }
  absl::StrAppend(&where, ":", args->line);
  logging::Repeated(severity, "grpc", where,
                    absl::StrCat(args->message != nullptr ? args->message : "", " (", where, ")"));
}

}  // namespace

void RouteGrpcLogs() {
  static std::once_flag once;
  std::call_once(once, [] { gpr_set_log_function(&Write); });
}

}  // namespace evenhand::server
