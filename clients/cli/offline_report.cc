#include "clients/cli/offline_report.h"

#include <fstream>
#include <optional>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/data_files.h"
#include "base/time_util.h"
#include "clients/cli/common.h"
#include "evenhand/v1/config.pb.h"
#include "google/protobuf/util/json_util.h"
#include "reporting/provenance.h"
#include "reporting/rule_set.h"

namespace evenhand::cli {
namespace {

}  // namespace

absl::StatusOr<OfflineLog> LoadOfflineLog(const std::string& bundle_path,
                                          const std::string& pubkey_path,
                                          const std::string& config_path) {
  v1::FairnessConfig fairness;
  if (!config_path.empty()) {
    absl::StatusOr<std::string> text =
        ReadLocalFile("--config", config_path, kMaxSmallFileBytes, "configuration");
    if (!text.ok()) return text.status();
    v1::ServerConfig config;
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = false;
    if (auto s = google::protobuf::util::JsonStringToMessage(*text, &config, options); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--config: ", config_path, " is not a valid evenhandd configuration: ", s.ToString()));
    }
    fairness = config.fairness();
  }
  const std::string holidays = fairness.bank_holidays_file().empty()
                                   ? FindDataFile("bank-holidays.json", EVENHAND_DEFAULT_BANK_HOLIDAYS)
                                   : fairness.bank_holidays_file();
  absl::StatusOr<projections::WorkingDayCalendar> calendar =
      projections::WorkingDayCalendar::LoadFile(holidays);
  if (!calendar.ok()) return calendar.status();

  absl::StatusOr<std::string> bytes =
      ReadLocalFile("--offline", bundle_path, kMaxDocumentBytes, "bundle");
  // Empty, or larger than a bundle can be: not one (VERIFICATION FAILED).
  if (absl::IsInvalidArgument(bytes.status())) return absl::DataLossError(bytes.status().message());
  if (!bytes.ok()) return bytes.status();
  std::optional<v1::PublicKey> pinned;
  if (!pubkey_path.empty()) {
    absl::StatusOr<v1::PublicKey> key = ReadPublicKey(pubkey_path);
    if (!key.ok()) return key.status();
    pinned = *key;
  }
  absl::StatusOr<integrity::BundleReport> bundle =
      integrity::VerifyBundle(*bytes, pinned ? &*pinned : nullptr);
  if (!bundle.ok()) {
    // DataLoss: what the bundle holds is not what was signed (exit code 1,
    // VERIFICATION FAILED, as `evenhand verify` says of it).
    return absl::DataLossError(
        absl::StrCat("the bundle ", bundle_path, " does not verify: ", bundle.status().message()));
  }
  if (!bundle->whole_log) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the bundle ", bundle_path, " holds ", bundle->events.size(), " of the log's ",
        bundle->tree_size, " events (", bundle->selection,
        "): a report reads every event up to its position, so export the whole log "
        "(`evenhand export -o FILE` with no filter)"));
  }
  OfflineLog log{*std::move(bundle), projections::FairnessSettings::FromConfig(fairness),
                 *std::move(calendar)};
  return log;
}

absl::StatusOr<std::string> RecomputeContent(const OfflineLog& log,
                                             const reporting::ReportStatement& statement) {
  const std::string rules = reporting::RuleSetVersion(log.settings, log.calendar);
  if (rules != statement.rule_set_version) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the report was computed with rule set ", statement.rule_set_version,
        "; recomputed here it would be ", rules,
        ": the rule set is the server's fairness settings and bank holiday file (pass its "
        "configuration with --config) and the rules of the evenhand build that made the report "
        "(recompute with that version if it differs from this one)"));
  }
  if (statement.log_id != log.bundle.log_id) {
    return absl::FailedPreconditionError(absl::StrCat("the report is about log ",
                                                      statement.log_id, ", the bundle holds log ",
                                                      log.bundle.log_id));
  }
  if (statement.tree_size > log.bundle.events.size()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the report read ", statement.tree_size, " events; the bundle holds only ",
        log.bundle.events.size(), ": export the log again"));
  }
  projections::ReportQuery query;
  query.from = statement.from;
  query.to = statement.to;
  query.as_of_position = statement.tree_size;
  query.as_of_time = statement.as_of_time;
  absl::StatusOr<v1::FairnessReport> report = reporting::ReportFromEvents(
      log.bundle.events, query, log.settings, log.calendar, log.bundle.log_id, log.bundle.key_id);
  if (!report.ok()) return report.status();
  return reporting::RenderContent(*report, statement.format);
}

}  // namespace evenhand::cli
