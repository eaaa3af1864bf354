#include "clients/fairness_client.h"

#include <utility>

#include "base/grpc_status.h"
#include "grpcpp/grpcpp.h"

namespace evenhand::clients {

FairnessClient::FairnessClient(std::shared_ptr<v1::Fairness::StubInterface> stub)
    : stub_(std::move(stub)) {}

std::unique_ptr<FairnessClient> FairnessClient::Connect(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(256 << 20);  // a report over a long period can be large
  auto channel = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
  return std::make_unique<FairnessClient>(v1::Fairness::NewStub(channel));
}

absl::StatusOr<v1::FairnessReport> FairnessClient::GetReport(const v1::ReportRequest& request,
                                                             absl::Duration timeout) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  v1::FairnessReport report;
  grpc::Status status = stub_->GetReport(&context, request, &report);
  if (!status.ok()) return FromGrpcStatus(status);
  return report;
}

absl::StatusOr<v1::ListFindingsResponse> FairnessClient::ListFindings(
    const v1::ListFindingsRequest& request, absl::Duration timeout) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  v1::ListFindingsResponse response;
  grpc::Status status = stub_->ListFindings(&context, request, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

absl::StatusOr<v1::ListObligationsResponse> FairnessClient::ListObligations(
    const v1::ListObligationsRequest& request, absl::Duration timeout) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  v1::ListObligationsResponse response;
  grpc::Status status = stub_->ListObligations(&context, request, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

absl::StatusOr<v1::ListRulesResponse> FairnessClient::ListRules(absl::Duration timeout) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  v1::ListRulesResponse response;
  grpc::Status status = stub_->ListRules(&context, v1::ListRulesRequest(), &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

}  // namespace evenhand::clients
