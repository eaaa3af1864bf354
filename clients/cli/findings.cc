// evenhand findings: the report's findings, filtered by rule, group and
// severity.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "base/time_util.h"
#include "clients/cli/common.h"
#include "clients/fairness_client.h"

namespace evenhand::cli {
namespace {

struct FindingsFlags {
  PeriodFlags period;
  std::vector<std::string> rules;
  std::vector<std::string> groups;
  std::string min_severity;
  std::string format = "table";
};

int RunFindings(const Context& context, const FindingsFlags& flags) {
  absl::StatusOr<v1::ReportRequest> report = MakeReportRequest(flags.period);
  if (!report.ok()) return FailUsage(report.status());
  v1::ListFindingsRequest request;
  *request.mutable_report() = *report;
  for (const auto& r : flags.rules) request.add_rule_ids(r);
  for (const auto& g : flags.groups) request.add_group_ids(g);
  if (!flags.min_severity.empty()) {
    v1::Severity severity;
    if (!v1::Severity_Parse(absl::AsciiStrToUpper(flags.min_severity), &severity) ||
        severity == v1::SEVERITY_UNSPECIFIED) {
      return FailUsage(absl::InvalidArgumentError("--min-severity: use INFO, LOW, MEDIUM or HIGH"));
    }
    request.set_min_severity(severity);
  }
  auto channel = context.Channel();
  if (!channel.ok()) return FailLocal(channel.status());
  clients::FairnessClient client(v1::Fairness::NewStub(*channel));
  absl::StatusOr<v1::ListFindingsResponse> response = client.ListFindings(request);
  if (!response.ok()) {
    return FailServer(WithAsOfHint(response.status(), flags.period.as_of), context);
  }
  if (flags.format != "json") {
    std::printf("%-10s  %-8s %-26s %-14s %-28s %s\n", "day (UK)", "severity", "rule", "group",
                "case", "what happened");
  }
  for (const auto& f : response->findings()) {
    if (flags.format == "json") {
      std::printf("%s\n", ToJsonLine(f).c_str());
    } else {
      // The UK day it occurred, by which --from and --to select it, as the
      // page, the CSV and the JSON date it: a deadline missed at the
      // midnight that ends a day is the next day's (its explanation names
      // the day it was due).
      const std::string day =
          absl::FormatTime("%Y-%m-%d", FromProtoTime(f.occurred_at()), UkTimeZone());
      std::printf("%-10s  %-8s %-26s %-14s %-28s %s\n", day.c_str(),
                  v1::Severity_Name(f.severity()).c_str(), Printable(f.rule_id()).c_str(),
                  f.group_id().empty() ? "-" : Printable(f.group_id()).c_str(),
                  f.case_id().empty() ? "-" : Printable(f.case_id()).c_str(),
                  Printable(f.explanation()).c_str());
    }
  }
  // Which moment this answers, as due and report say theirs (on stderr, so
  // that JSON lines stay JSON lines): asked again as of this position, it
  // is the same answer.
  // A period that begins later (the server answers one within the day
  // ahead) has no finding yet: said, not left to read as "none broken"
  // (outside probe).
  const bool not_begun = flags.period.as_of.empty() && report->has_from() &&
                         FromProtoTime(report->from()) > absl::Now();
  std::fprintf(
      stderr, "evenhand: %d finding(s) as of position %llu%s\n", response->findings_size(),
      static_cast<unsigned long long>(response->as_of_position()),
      not_begun ? " (the period asked for has not begun: nothing in it has happened yet)" : "");
  return kOk;
}

}  // namespace

void AddFindings(Registry& r) {
  auto flags = std::make_shared<FindingsFlags>();
  CLI::App* cmd = r.Add("findings", "list findings, filtered",
                        [flags](const Context& c) { return RunFindings(c, *flags); });
  AddPeriodFlags(cmd, &flags->period);
  cmd->add_option("--rule", flags->rules, "only these rule ids (comma-separated or repeated)")
      ->delimiter(',');
  cmd->add_option("--group", flags->groups, "only these group ids (comma-separated or repeated)")
      ->delimiter(',');
  cmd->add_option("--min-severity", flags->min_severity, "info, low, medium or high (any case)");
  AddFormatOption(cmd, &flags->format, {"table", "json"});
}

}  // namespace evenhand::cli
