#include "services/call_guard.h"

#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/grpc_status.h"
#include "base/logging.h"
#include "google/protobuf/descriptor.h"
#include "services/auth/call_gate.h"
#include "services/internal/raw_messages.h"

namespace evenhand::services {
namespace {

using grpc::experimental::InterceptionHookPoints;

// "/evenhand.v1.EventLog/Append" -> "evenhand.v1.AppendRequest".
std::string RequestType(const char* method) {
  std::string name = method == nullptr ? "" : method;
  if (!name.empty() && name[0] == '/') name.erase(0, 1);
  if (size_t slash = name.find('/'); slash != std::string::npos) name[slash] = '.';
  const google::protobuf::MethodDescriptor* m =
      google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(name);
  return m == nullptr ? "the method's request message" : m->input_type()->full_name();
}

class CallGuard final : public grpc::experimental::Interceptor {
 public:
  CallGuard(grpc::experimental::ServerRpcInfo* info, auth::CallGate* gate)
      : info_(info), gate_(gate) {
    ours_ = info->method() != nullptr && absl::StartsWith(info->method(), "/evenhand.v1.");
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    // A unary or server-streaming call gets exactly one request; no message
    // after it is read means it did not parse. (On client and bidi streams
    // no message is just the end of the stream.)
    const auto type = info_->type();
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE) &&
        methods->GetRecvMessage() == nullptr &&
        (type == grpc::experimental::ServerRpcInfo::Type::UNARY ||
         type == grpc::experimental::ServerRpcInfo::Type::SERVER_STREAMING)) {
      unparseable_ = true;
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      const bool admitted = ours_ && gate_->TakeAdmitted(info_->server_context());
      if (unparseable_) {
        methods->ModifySendStatus(
            ToGrpcStatus(internal::UnparseableRequest(RequestType(info_->method()))));
      } else if (ours_ && !admitted && methods->GetSendStatus().ok()) {
        logging::Error("auth", absl::StrCat(info_->method(),
                                            " answered without asking the authoriser; the call "
                                            "was turned into PERMISSION_DENIED"));
        methods->ModifySendStatus(ToGrpcStatus(absl::PermissionDeniedError(
            "this call was not authorised (the server's method did not ask the authoriser)")));
      }
      // The call is answered: this thread's lines no longer belong to it.
      logging::SetThreadRequestId("");
    }
    methods->Proceed();
  }

 private:
  grpc::experimental::ServerRpcInfo* const info_;
  auth::CallGate* const gate_;
  bool ours_ = false;
  bool unparseable_ = false;
};

}  // namespace

grpc::experimental::Interceptor* CallGuardFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  return new CallGuard(info, gate_);
}

std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
CallGuardCreators(auth::CallGate* gate) {
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
  creators.push_back(std::make_unique<CallGuardFactory>(gate));
  return creators;
}

}  // namespace evenhand::services
