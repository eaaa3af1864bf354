// evenhand replay: recorded events for an investigation, each with its
// leaf and chain hashes.
#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "clients/audit_client.h"
#include "clients/cli/common.h"

namespace evenhand::cli {
namespace {

struct ReplayFlags {
  FilterFlags filter;
  std::string format = "json";
  std::string progress = "auto";
};

int RunReplay(const Context& context, const ReplayFlags& flags) {
  absl::StatusOr<v1::ReplayFilter> filter = MakeFilter(flags.filter);
  if (!filter.ok()) return FailUsage(filter.status());
  v1::ReplayRequest request;
  *request.mutable_filter() = *filter;
  auto channel = context.Channel();
  if (!channel.ok()) return FailLocal(channel.status());
  clients::AuditClient client(v1::Audit::NewStub(*channel));
  ProgressBar bar("replaying", flags.progress);
  uint64_t matched = 0;
  if (flags.format == "table") PrintEventHeader(/*chain=*/true);
  absl::Status status = client.Replay(
      request,
      [&](const v1::AuditedEvent& e) {
        ++matched;
        if (flags.format == "table") {
          PrintEvent(e.event(), flags.format, &e.chain_hash());
        } else {
          std::printf("%s\n", ToJsonLine(e).c_str());
        }
        return true;
      },
      [&](uint64_t scanned, uint64_t last) { bar.Update(scanned, last, matched); });
  bar.Done();
  std::fflush(stdout);
  return status.ok() ? kOk : FailServer(status, context);
}

}  // namespace

void AddReplay(Registry& r) {
  auto flags = std::make_shared<ReplayFlags>();
  CLI::App* cmd =
      r.Add("replay", "replay recorded events for an investigation, each with its hashes",
            [flags](const Context& c) { return RunReplay(c, *flags); });
  AddFilterFlags(cmd, &flags->filter);
  AddFormatOption(cmd, &flags->format, {"json", "table"});
  AddProgressOption(cmd, &flags->progress);
}

}  // namespace evenhand::cli
