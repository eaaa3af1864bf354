// evenhand tail: follow the log live.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_replace.h"
#include "clients/cli/common.h"
#include "clients/event_log_client.h"

namespace evenhand::cli {
namespace {

struct TailFlags {
  int64_t from = -1;
  std::vector<std::string> types;
  std::vector<std::string> prefixes;
  std::string format = "json";
  uint64_t count = 0;
};

int RunTail(const Context& context, const TailFlags& flags) {
  auto channel = context.Channel();
  if (!channel.ok()) return FailLocal(channel.status());
  clients::EventLogClient client(v1::EventLog::NewStub(*channel));
  v1::SubscribeRequest request;
  if (flags.from >= 0) {
    request.set_from_position(static_cast<uint64_t>(flags.from));
  } else {
    request.set_from_end(true);
  }
  for (const auto& t : flags.types) request.mutable_filter()->add_event_types(t);
  for (const auto& p : flags.prefixes) request.mutable_filter()->add_stream_prefixes(p);
  uint64_t seen = 0;
  if (flags.format == "table") PrintEventHeader();
  absl::Status status = client.Subscribe(request, [&](const v1::SubscribeResponse& m) {
    switch (m.content_case()) {
      case v1::SubscribeResponse::kEvents:
        for (const auto& e : m.events().events()) {
          PrintEvent(e, flags.format);
          if (flags.count != 0 && ++seen >= flags.count) {
            std::fflush(stdout);
            return false;
          }
        }
        std::fflush(stdout);
        break;
      case v1::SubscribeResponse::kCaughtUp:
        std::fprintf(stderr, "evenhand: caught up at position %llu; following live events\n",
                     static_cast<unsigned long long>(m.caught_up().position()));
        break;
      case v1::SubscribeResponse::kFellBehind:
        std::fprintf(stderr, "evenhand: fell behind; catching up from position %llu\n",
                     static_cast<unsigned long long>(m.fell_behind().next_position()));
        break;
      default:
        break;
    }
    return true;
  });
  if (absl::IsOutOfRange(status) && flags.from >= 0 &&
      absl::StrContains(status.message(), "use from_end")) {
    // The server's advice names its API's field; here it is a flag left out.
    status = absl::OutOfRangeError(absl::StrReplaceAll(
        status.message(),
        {{"from_position: ", "--from="},
         {"use from_end to follow new events", "leave --from out to follow only new events"}}));
  }
  return status.ok() ? kOk : FailServer(status, context);
}

}  // namespace

void AddTail(Registry& r) {
  auto flags = std::make_shared<TailFlags>();
  CLI::App* cmd = r.Add("tail", "follow the log live (from the end, or from --from)",
                        [flags](const Context& c) { return RunTail(c, *flags); });
  cmd->add_option("--from", flags->from, "first position (default: only new events)")
      ->transform(Decimal());
  cmd->add_option("--type", flags->types, "only these event types (comma-separated)")
      ->delimiter(',');
  cmd->add_option("--prefix", flags->prefixes,
                  "only streams starting with these (comma-separated)")
      ->delimiter(',');
  cmd->add_option("--count", flags->count, "stop after this many events (0: never)")
      ->transform(Decimal());
  AddFormatOption(cmd, &flags->format, {"json", "table"});
}

}  // namespace evenhand::cli
