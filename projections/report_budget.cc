#include "projections/report_budget.h"

namespace evenhand::projections {

void ReportBudget::Poll() {
  absl::Status why = abandoned_();
  if (why.ok()) return;
  abandoned_status_ = std::move(why);
  given_up_ = true;
}

}  // namespace evenhand::projections
