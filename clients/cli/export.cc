// evenhand export: an investigation bundle (events, inclusion proofs,
// signed checkpoint, key), checked before it is written.
#include <cstdio>
#include <memory>
#include <string>

#include "clients/audit_client.h"
#include "clients/cli/common.h"
#include "integrity/bundle.h"

namespace evenhand::cli {
namespace {

struct ExportFlags {
  FilterFlags filter;
  std::string description;
  std::string output;
  bool allow_empty = false;
  std::string progress = "auto";
};

int RunExport(const Context& context, const ExportFlags& flags) {
  absl::StatusOr<v1::ReplayFilter> filter = MakeFilter(flags.filter);
  if (!filter.ok()) return FailUsage(filter.status());
  v1::ExportRequest request;
  *request.mutable_filter() = *filter;
  request.set_description(flags.description);
  auto channel = context.Channel();
  if (!channel.ok()) return FailLocal(channel.status());
  clients::AuditClient client(v1::Audit::NewStub(*channel));
  ProgressBar bar("exporting", flags.progress);
  absl::StatusOr<std::string> bundle =
      client.Export(request, [&](uint64_t scanned, uint64_t last) { bar.Update(scanned, last); });
  bar.Done();
  if (!bundle.ok()) return FailServer(bundle.status(), context);
  // Check it before handing it over: an auditor should never carry away a
  // bundle that does not verify.
  absl::StatusOr<integrity::BundleReport> report = integrity::VerifyBundle(*bundle, nullptr);
  if (!report.ok()) {
    return VerificationFailed(
        absl::StrCat("the server's bundle does not verify: ", report.status().message()));
  }
  if (report->events.empty() && !flags.allow_empty) {
    return FailUsage(absl::NotFoundError(absl::StrCat(
        "the filter (", report->selection,
        ") selects no event: nothing was written. Check the filter, or pass --allow-empty to "
        "write a bundle that proves only the log's state")));
  }
  absl::Status written = WriteOutput(flags.output, *bundle);
  if (!written.ok()) return FailIo(written);
  size_t complete = 0;
  for (const auto& st : report->streams) complete += st.complete() ? 1 : 0;
  // With -o - the bundle is stdout: the summary must not follow it there.
  std::fprintf(
      flags.output == "-" ? stderr : stdout,
      "exported %zu events of %zu case(s), %zu of them whole (%s), proven against the "
      "checkpoint of tree size %llu, "
      "%zu bytes (%.0f bytes per event)\n",
      report->events.size(), report->streams.size(), complete,
      Printable(report->selection).c_str(),
      static_cast<unsigned long long>(report->tree_size), bundle->size(),
      report->events.empty() ? 0.0 : static_cast<double>(bundle->size()) / report->events.size());
  return kOk;
}

}  // namespace

void AddExport(Registry& r) {
  auto flags = std::make_shared<ExportFlags>();
  CLI::App* cmd = r.Add(
      "export", "write an investigation bundle: events, inclusion proofs, signed checkpoint, key",
      [flags](const Context& c) { return RunExport(c, *flags); });
  AddFilterFlags(cmd, &flags->filter);
  cmd->add_option("--description", flags->description, "what the bundle is for");
  cmd->add_option("--output,-o", flags->output, "the bundle file")
      ->required()
      ->check(OutputFileName());
  cmd->add_flag("--allow-empty", flags->allow_empty,
                "write the bundle even if the filter selects no event");
  AddProgressOption(cmd, &flags->progress);
}

}  // namespace evenhand::cli
