#include "clients/fairness_client.h"

#include <utility>

#include "base/grpc_deadline.h"
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

namespace {

// One unary call with a deadline, its status as an absl::Status.
template <typename Response, typename Request, typename Method>
absl::StatusOr<Response> Call(v1::Fairness::StubInterface* stub, Method method,
                              const Request& request, absl::Duration timeout) {
  grpc::ClientContext context;
  context.set_deadline(DeadlineAfter(timeout));
  Response response;
  grpc::Status status = (stub->*method)(&context, request, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

}  // namespace

absl::StatusOr<v1::FairnessReport> FairnessClient::GetReport(const v1::ReportRequest& request,
                                                             absl::Duration timeout) {
  return Call<v1::FairnessReport>(stub_.get(), &v1::Fairness::StubInterface::GetReport, request,
                                  timeout);
}

absl::StatusOr<v1::ReportDocument> FairnessClient::GetReportDocument(
    const v1::ReportDocumentRequest& request, absl::Duration timeout) {
  return Call<v1::ReportDocument>(stub_.get(), &v1::Fairness::StubInterface::GetReportDocument,
                                  request, timeout);
}

absl::StatusOr<v1::ListFindingsResponse> FairnessClient::ListFindings(
    const v1::ListFindingsRequest& request, absl::Duration timeout) {
  return Call<v1::ListFindingsResponse>(stub_.get(), &v1::Fairness::StubInterface::ListFindings,
                                        request, timeout);
}

absl::StatusOr<v1::ListObligationsResponse> FairnessClient::ListObligations(
    const v1::ListObligationsRequest& request, absl::Duration timeout) {
  return Call<v1::ListObligationsResponse>(
      stub_.get(), &v1::Fairness::StubInterface::ListObligations, request, timeout);
}

absl::StatusOr<v1::ListRulesResponse> FairnessClient::ListRules(absl::Duration timeout) {
  return Call<v1::ListRulesResponse>(stub_.get(), &v1::Fairness::StubInterface::ListRules,
                                     v1::ListRulesRequest(), timeout);
}

}  // namespace evenhand::clients
