// FairnessClient: a small C++ client for the Fairness service. Safe for
// concurrent use.
#ifndef EVENHAND_CLIENTS_FAIRNESS_CLIENT_H_
#define EVENHAND_CLIENTS_FAIRNESS_CLIENT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "evenhand/v1/fairness.grpc.pb.h"

namespace evenhand::clients {

class FairnessClient {
 public:
  explicit FairnessClient(std::shared_ptr<v1::Fairness::StubInterface> stub);
  static std::unique_ptr<FairnessClient> Connect(const std::string& address);

  absl::StatusOr<v1::FairnessReport> GetReport(const v1::ReportRequest& request,
                                               absl::Duration timeout = absl::Seconds(60));
  // The report as a signed file (HTML, JSON or CSV) to save unchanged.
  absl::StatusOr<v1::ReportDocument> GetReportDocument(const v1::ReportDocumentRequest& request,
                                                       absl::Duration timeout = absl::Seconds(60));
  absl::StatusOr<v1::ListFindingsResponse> ListFindings(const v1::ListFindingsRequest& request,
                                                        absl::Duration timeout = absl::Seconds(60));
  absl::StatusOr<v1::ListRulesResponse> ListRules(absl::Duration timeout = absl::Seconds(10));
  absl::StatusOr<v1::ListObligationsResponse> ListObligations(
      const v1::ListObligationsRequest& request, absl::Duration timeout = absl::Seconds(60));

 private:
  std::shared_ptr<v1::Fairness::StubInterface> stub_;
};

}  // namespace evenhand::clients

#endif  // EVENHAND_CLIENTS_FAIRNESS_CLIENT_H_
