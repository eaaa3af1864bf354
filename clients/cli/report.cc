// evenhand report: the fairness report for the standards committee, as a
// page (HTML), JSON or CSV.
#include <memory>
#include <string>

#include "clients/cli/common.h"
#include "clients/fairness_client.h"
#include "clients/report_render.h"

namespace evenhand::cli {
namespace {

struct ReportFlags {
  PeriodFlags period;
  std::string format = "html";
  std::string table = "groups";
  std::string output;
};

int Run(const Context& context, const ReportFlags& flags) {
  absl::StatusOr<v1::ReportRequest> request = MakeReportRequest(flags.period);
  if (!request.ok()) return FailUsage(request.status());
  auto channel = context.Channel();
  if (!channel.ok()) return FailUsage(channel.status());
  clients::FairnessClient client(v1::Fairness::NewStub(*channel));
  absl::StatusOr<v1::FairnessReport> report = client.GetReport(*request);
  if (!report.ok()) return FailServer(report.status(), context);
  std::string text;
  if (flags.format == "html") {
    text = clients::RenderReportHtml(*report);
  } else if (flags.format == "json") {
    text = clients::RenderReportJson(*report);
  } else if (flags.table == "findings") {
    text = clients::RenderFindingsCsv(*report);
  } else if (flags.table == "access") {
    text = clients::RenderAccessCsv(*report);
  } else {
    text = clients::RenderGroupsCsv(*report);
  }
  absl::Status written = WriteOutput(flags.output, text);
  return written.ok() ? kOk : FailIo(written);
}

}  // namespace

void AddReport(Registry& r) {
  auto flags = std::make_shared<ReportFlags>();
  CLI::App* cmd =
      r.Add("report", "the fairness report for the standards committee (HTML page, JSON or CSV)",
            [flags](const Context& c) { return Run(c, *flags); });
  AddPeriodFlags(cmd, &flags->period);
  AddFormatOption(cmd, &flags->format, {"html", "json", "csv"});
  cmd->add_option("--table", flags->table, "with csv: groups, findings or access")
      ->check(CLI::IsMember({"groups", "findings", "access"}))
      ->capture_default_str();
  cmd->add_option("--output,-o", flags->output, "write to this file (default stdout)");
}

}  // namespace evenhand::cli
