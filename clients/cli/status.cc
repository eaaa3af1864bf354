// evenhand status: the server's log, limits and known problems.
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "clients/cli/common.h"
#include "clients/event_log_client.h"

namespace evenhand::cli {
namespace {

int RunStatus(const Context& context) {
  auto channel = context.Channel();
  if (!channel.ok()) return FailLocal(channel.status());
  clients::EventLogClient client(v1::EventLog::NewStub(*channel));
  absl::StatusOr<v1::GetStatusResponse> status = client.GetStatus();
  if (!status.ok()) return FailServer(status.status(), context);
  std::printf(
      "server          %s (%s)\nversion         %s\nlog id          %s\n"
      "last position   %llu\nmax event size  %llu bytes\nmax batch       %u events\n",
      context.connection.address.c_str(),
      context.connection.tls() ? "TLS" : "plain text, local mode",
      Printable(status->server_version()).c_str(), Printable(status->log_id()).c_str(),
      static_cast<unsigned long long>(status->last_position()),
      static_cast<unsigned long long>(status->max_event_bytes()), status->max_batch_events());
  std::printf("appends         %s\n",
              status->accepting_appends()
                  ? "accepted"
                  : Printable(absl::StrCat("refused: ", status->appends_refused())).c_str());
  if (status->read_only()) std::printf("read-only       yes\n");
  if (status->has_projection_position()) {
    const uint64_t behind = status->last_position() > status->projection_position()
                                ? status->last_position() - status->projection_position()
                                : 0;
    std::string state;
    if (!status->projection_stopped().empty()) {
      state = absl::StrCat(" (STOPPED there, ", behind,
                           " events before the log's end: reports as of a later position are "
                           "refused until the data folder is restored; ",
                           status->projection_stopped(), ")");
    } else if (behind == 0) {
      state = " (up to date)";
    } else {
      state = absl::StrCat(" (the projection is ", behind,
                           " events behind the log; reports wait or are refused until it "
                           "catches up)");
    }
    std::printf("reports         as of position %llu%s\n",
                static_cast<unsigned long long>(status->projection_position()),
                Printable(state).c_str());
  }
  std::printf("disk free       %.1f MiB (floor %.1f MiB)\n",
              static_cast<double>(status->free_disk_bytes()) / (1 << 20),
              static_cast<double>(status->min_free_disk_bytes()) / (1 << 20));
  if (!status->checkpoints_stalled().empty()) {
    std::printf("checkpoints     NOT BEING SIGNED: %s\n",
                Printable(status->checkpoints_stalled()).c_str());
  }
  for (const std::string& w : status->warnings()) {
    std::printf("WARNING         %s\n", Printable(w).c_str());
  }
  if (status->problems().empty()) {
    std::printf("integrity       no problems known\n");
  } else {
    for (const std::string& p : status->problems()) {
      std::printf("PROBLEM         %s\n", Printable(p).c_str());
    }
    // For scripts and monitoring: a problem is not "done, all well".
    return kVerificationFailed;
  }
  return kOk;
}

}  // namespace

void AddStatus(Registry& r) {
  r.Add("status", "show the server's log status", [](const Context& c) { return RunStatus(c); });
}

}  // namespace evenhand::cli
