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
  // The table's header with its first row (a refusal prints none).
  absl::Status status = client.Replay(
      request,
      [&](const v1::AuditedEvent& e) {
        if (++matched == 1 && flags.format == "table") PrintEventHeader(/*chain=*/true);
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
  if (!status.ok()) return FailServer(status, context);
  // Nothing printed would read as "nothing happened" (outside probe: a
  // mistyped --prefix said nothing), as `read` says too.
  if (matched == 0) {
    if (flags.format == "table") PrintEventHeader(/*chain=*/true);
    const std::string given = DescribeFilterFlags(flags.filter);
    std::fprintf(stderr, "evenhand: no event in the log matched %s\n",
                 given.empty() ? "(the log is empty)" : given.c_str());
  }
  return kOk;
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
