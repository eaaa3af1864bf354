// CallGuard: the one seam every gRPC call passes through (a server
// interceptor), before and after its service sees it.
//
// It makes a request that cannot be parsed an INVALID_ARGUMENT that says
// so. gRPC itself answers such a request with UNIMPLEMENTED and no message
// (callback methods) or INTERNAL and no message (sync methods), which sends a
// client looking for a missing method or a server bug; the guard sees the
// failed parse (no message arrives at POST_RECV_MESSAGE) and rewrites the
// status the call ends with.
//
// And it fails closed: a call to one of Even Hand's services that ends OK
// without having been admitted by the CallGate (services/auth/call_gate.h)
// ends PERMISSION_DENIED instead, and the lapse is logged at ERROR. A server
// interceptor cannot refuse a call before its method runs (gRPC 1.51), so
// the decision itself is the authoriser's, asked by every method first.
//
// Thread-safe: one interceptor per call.
#ifndef EVENHAND_SERVICES_CALL_GUARD_H_
#define EVENHAND_SERVICES_CALL_GUARD_H_

#include <memory>
#include <vector>

#include "grpcpp/support/server_interceptor.h"

namespace evenhand::services {

namespace auth {
class CallGate;
}  // namespace auth

class CallGuardFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  // `*gate` must outlive the server.
  explicit CallGuardFactory(auth::CallGate* gate) : gate_(gate) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  auth::CallGate* const gate_;
};

// The interceptor creators to install on a ServerBuilder.
std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
CallGuardCreators(auth::CallGate* gate);

}  // namespace evenhand::services

#endif  // EVENHAND_SERVICES_CALL_GUARD_H_
