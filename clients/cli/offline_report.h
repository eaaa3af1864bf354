// Recomputing a report without a server, from an investigation bundle that
// holds the whole log (`evenhand export` with no filter): shared by
// `report --offline` and `verify-report --bundle`.
#ifndef EVENHAND_CLIENTS_CLI_OFFLINE_REPORT_H_
#define EVENHAND_CLIENTS_CLI_OFFLINE_REPORT_H_

#include <string>

#include "absl/status/statusor.h"
#include "integrity/bundle.h"
#include "projections/fairness_projection.h"
#include "projections/working_day_calendar.h"
#include "reporting/report_document.h"

namespace evenhand::cli {

struct OfflineLog {
  integrity::BundleReport bundle;  // verified, whole
  projections::FairnessSettings settings;
  projections::WorkingDayCalendar calendar;
};

// Reads and verifies `bundle_path` (against `pubkey_path` when given), and
// the fairness settings and bank holidays from the server's configuration
// file `config_path` (its "fairness" section; none: the defaults, as
// evenhandd has them). Refuses a bundle that is not the whole log: a report
// needs every event up to its position.
absl::StatusOr<OfflineLog> LoadOfflineLog(const std::string& bundle_path,
                                          const std::string& pubkey_path,
                                          const std::string& config_path);

// The content of the report `statement` describes (its format, period,
// position, as-of time), recomputed from `log`. Refuses a statement whose
// rule set version is not what `log`'s settings give, naming both.
absl::StatusOr<std::string> RecomputeContent(const OfflineLog& log,
                                             const reporting::ReportStatement& statement);

}  // namespace evenhand::cli

#endif  // EVENHAND_CLIENTS_CLI_OFFLINE_REPORT_H_
