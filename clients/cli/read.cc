// evenhand read: one stream, or the whole log with --all.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/quoted.h"
#include "clients/cli/common.h"
#include "clients/event_log_client.h"

namespace evenhand::cli {
namespace {

struct ReadFlags {
  std::string stream;
  bool all = false;
  int64_t from = -1;
  bool backwards = false;
  uint64_t max = 0;
  std::vector<std::string> types;
  std::vector<std::string> prefixes;
  std::string format = "json";
};

int RunRead(const Context& context, const ReadFlags& flags) {
  if (!flags.all && flags.stream.empty()) {
    return FailUsage(absl::InvalidArgumentError("give --stream=ID or --all"));
  }
  if (flags.all && !flags.stream.empty()) {
    return FailUsage(absl::InvalidArgumentError(
        "--stream reads one case, --all the whole log: give one"));
  }
  if (!flags.all && (!flags.types.empty() || !flags.prefixes.empty())) {
    return FailUsage(absl::InvalidArgumentError(
        "--type and --prefix filter the whole log: use them with --all, not --stream"));
  }
  auto channel = context.Channel();
  if (!channel.ok()) return FailLocal(channel.status());
  clients::EventLogClient client(v1::EventLog::NewStub(*channel));
  if (flags.format == "table") PrintEventHeader();
  uint64_t printed = 0;
  auto print = [&](const v1::RecordedEvent& e) {
    PrintEvent(e, flags.format);
    ++printed;
    return true;
  };
  absl::Status status;
  if (flags.all) {
    v1::ReadAllRequest request;
    if (flags.from >= 0) request.set_from_position(static_cast<uint64_t>(flags.from));
    request.set_direction(flags.backwards ? v1::BACKWARDS : v1::FORWARDS);
    request.set_max_count(flags.max);
    for (const auto& t : flags.types) request.mutable_filter()->add_event_types(t);
    for (const auto& p : flags.prefixes) request.mutable_filter()->add_stream_prefixes(p);
    status = client.ReadAll(request, print);
  } else {
    v1::ReadStreamRequest request;
    request.set_stream_id(flags.stream);
    if (flags.from >= 0) request.set_from_revision(static_cast<uint64_t>(flags.from));
    request.set_direction(flags.backwards ? v1::BACKWARDS : v1::FORWARDS);
    request.set_max_count(flags.max);
    status = client.ReadStream(request, print);
    if (status.ok() && printed == 0 && flags.from < 0) {
      // A stream exists once an event is appended to it: a misspelt id must
      // not read as an empty case (as replay --case, which refuses it).
      status = absl::NotFoundError(absl::StrCat(
          "no stream ", Quoted(flags.stream),
          " in the log (a stream exists once its first event is appended); check the id, or "
          "list streams with: evenhand read --all --prefix=<start of the id> --format=table"));
    }
  }
  std::fflush(stdout);
  return status.ok() ? kOk : FailServer(status, context);
}

}  // namespace

void AddRead(Registry& r) {
  auto flags = std::make_shared<ReadFlags>();
  CLI::App* cmd = r.Add("read", "read a stream, or the whole log with --all",
                        [flags](const Context& c) { return RunRead(c, *flags); });
  cmd->add_option("--stream", flags->stream, "stream id");
  cmd->add_flag("--all", flags->all, "read the whole log in position order");
  cmd->add_option("--from", flags->from, "first revision (stream) or position (--all)")
      ->transform(Decimal());
  cmd->add_flag("--backwards", flags->backwards, "newest first");
  cmd->add_option("--max", flags->max, "at most this many events (0: all)")->transform(Decimal());
  cmd->add_option("--type", flags->types, "only these event types (--all; comma-separated)")
      ->delimiter(',');
  cmd->add_option("--prefix", flags->prefixes,
                  "only streams starting with these (--all; comma-separated)")
      ->delimiter(',');
  AddFormatOption(cmd, &flags->format, {"json", "table"});
}

}  // namespace evenhand::cli
