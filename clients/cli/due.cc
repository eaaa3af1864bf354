// evenhand due: the obligations open now (or as the log stood at --as-of),
// soonest due first: offers owed to other groups after a briefing, replies
// owed to councillors' written queries, replies promised by a date. What a
// monitoring officer chases before it becomes a finding.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/time_util.h"
#include "clients/cli/common.h"
#include "clients/fairness_client.h"

namespace evenhand::cli {
namespace {

struct DueFlags {
  std::string as_of;
  std::vector<std::string> groups;
  std::vector<std::string> officers;
  int within = 0;
  std::string format = "table";
};

int Run(const Context& context, const DueFlags& flags) {
  if (flags.within < 0) {
    return FailUsage(absl::InvalidArgumentError("--within: a number of working days, 0 or more"));
  }
  PeriodFlags period;
  period.as_of = flags.as_of;
  absl::StatusOr<v1::ReportRequest> report = MakeReportRequest(period);
  if (!report.ok()) return FailUsage(report.status());
  v1::ListObligationsRequest request;
  *request.mutable_report() = *report;
  for (const auto& g : flags.groups) request.add_group_ids(g);
  for (const auto& o : flags.officers) request.add_officer_ids(o);
  request.set_within_working_days(static_cast<uint32_t>(flags.within));
  auto channel = context.Channel();
  if (!channel.ok()) return FailUsage(channel.status());
  clients::FairnessClient client(v1::Fairness::NewStub(*channel));
  absl::StatusOr<v1::ListObligationsResponse> response = client.ListObligations(request);
  if (!response.ok()) return FailServer(response.status(), context);
  if (flags.format == "json") {
    for (const auto& o : response->obligations()) std::printf("%s\n", ToJsonLine(o).c_str());
    return kOk;
  }
  std::printf("%-10s  %-9s %-20s %-14s %-20s %-28s %s\n", "due (UK)", "days left", "rule", "group",
              "owed by", "case", "what is owed");
  for (const auto& o : response->obligations()) {
    // The day it is due by: a deadline at the midnight that ends a day is
    // that day's, in UK time.
    const std::string day = absl::FormatTime(
        "%Y-%m-%d", FromProtoTime(o.due_at()) - absl::Nanoseconds(1), UkTimeZone());
    std::printf("%-10s  %-9u %-20s %-14s %-20s %-28s %s\n", day.c_str(), o.working_days_left(),
                o.rule_id().c_str(), o.group_id().empty() ? "-" : o.group_id().c_str(),
                o.officer_id().empty() ? "-" : o.officer_id().c_str(), o.case_id().c_str(),
                o.description().c_str());
  }
  std::fprintf(stderr, "evenhand: %d open obligation(s) as of position %llu\n",
               response->obligations_size(),
               static_cast<unsigned long long>(response->as_of_position()));
  return kOk;
}

}  // namespace

void AddDue(Registry& r) {
  auto flags = std::make_shared<DueFlags>();
  CLI::App* cmd =
      r.Add("due", "obligations not yet late, soonest first: offers owed, replies owed or promised",
            [flags](const Context& c) { return Run(c, *flags); });
  cmd->add_option("--as-of", flags->as_of,
                  "as the log stood at this position, day or time (default: now)");
  cmd->add_option("--group", flags->groups, "only those owed to these groups (comma-separated)")
      ->delimiter(',');
  cmd->add_option("--officer", flags->officers, "only those these officers owe (comma-separated)")
      ->delimiter(',');
  cmd->add_option("--within", flags->within, "only those due within N working days (0: all)")
      ->capture_default_str();
  AddFormatOption(cmd, &flags->format, {"table", "json"});
}

}  // namespace evenhand::cli
