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
  std::string format = "jsonl";
  std::string progress = "auto";
};

int Run(const Context& context, const ReplayFlags& flags) {
  absl::StatusOr<v1::ReplayFilter> filter = MakeFilter(flags.filter);
  if (!filter.ok()) return FailUsage(filter.status());
  v1::ReplayRequest request;
  *request.mutable_filter() = *filter;
  auto channel = context.Channel();
  if (!channel.ok()) return FailUsage(channel.status());
  clients::AuditClient client(v1::Audit::NewStub(*channel));
  ProgressBar bar("replaying", flags.progress);
  uint64_t matched = 0;
  absl::Status status = client.Replay(
      request,
      [&](const v1::AuditedEvent& e) {
        ++matched;
        if (flags.format == "table") {
          std::printf("%10llu  %-30s  %-30s  %s  %s\n",
                      static_cast<unsigned long long>(e.event().position()),
                      absl::StrCat(e.event().event().stream_id(), "@", e.event().stream_revision())
                          .c_str(),
                      e.event().event().type().c_str(),
                      FormatTimestamp(e.event().event().occurred_at()).c_str(),
                      Hex(e.chain_hash()).substr(0, 16).c_str());
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
            [flags](const Context& c) { return Run(c, *flags); });
  AddFilterFlags(cmd, &flags->filter);
  cmd->add_option("--format", flags->format, "jsonl or table")
      ->check(CLI::IsMember({"jsonl", "table"}))
      ->capture_default_str();
  cmd->add_option("--progress", flags->progress,
                  "auto (when stderr is a terminal), always or never")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->capture_default_str();
}

}  // namespace evenhand::cli
