// CallGuard: the one seam every gRPC call passes through (a server
// interceptor), before and after its service sees it.
//
// Today it makes a request that cannot be parsed an INVALID_ARGUMENT that
// says so. gRPC itself answers such a request with UNIMPLEMENTED and no
// message (callback methods) or INTERNAL and no message (sync methods),
// which sends a client looking for a missing method or a server bug; the
// guard sees the failed parse (no message arrives at POST_RECV_MESSAGE) and
// rewrites the status the call ends with.
//
// Thread-safe: one interceptor per call.
#ifndef EVENHAND_SERVICES_CALL_GUARD_H_
#define EVENHAND_SERVICES_CALL_GUARD_H_

#include <memory>
#include <vector>

#include "grpcpp/support/server_interceptor.h"

namespace evenhand::services {

class CallGuardFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;
};

// The interceptor creators to install on a ServerBuilder.
std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
CallGuardCreators();

}  // namespace evenhand::services

#endif  // EVENHAND_SERVICES_CALL_GUARD_H_
