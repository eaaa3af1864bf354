// evenhand read: one stream, or the whole log with --all.
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/quoted.h"
#include "base/status_macros.h"
#include "clients/cli/common.h"
#include "clients/event_log_client.h"

namespace evenhand::cli {
namespace {

struct ReadFlags {
  std::string stream;
  bool all = false;
  uint64_t from = 0;
  CLI::Option* from_given = nullptr;  // --from, if given
  bool backwards = false;
  uint64_t max = 0;
  std::vector<std::string> types;
  std::vector<std::string> prefixes;
  std::string format = "json";
};

bool From(const ReadFlags& flags) {
  return flags.from_given != nullptr && flags.from_given->count() > 0;
}

// A stream exists once an event is appended to it: a misspelt id must not
// read as an empty case (as replay --case, which refuses it).
absl::Status NoSuchStream(const std::string& stream) {
  return absl::NotFoundError(absl::StrCat(
      "no stream ", Quoted(stream),
      " in the log (a stream exists once its first event is appended); check the id, or "
      "list streams with: evenhand read --all --prefix=<start of the id> --format=table"));
}

// The last position of the log (--all), or revision of the stream; nullopt
// if it has none.
absl::StatusOr<std::optional<uint64_t>> LastOfRead(clients::EventLogClient& client,
                                                   const ReadFlags& flags) {
  std::optional<uint64_t> last;
  auto take = [&](const v1::RecordedEvent& e) {
    last = flags.all ? e.position() : e.stream_revision();
    return false;
  };
  if (flags.all) {
    v1::ReadAllRequest request;
    request.set_direction(v1::BACKWARDS);
    request.set_max_count(1);
    EH_RETURN_IF_ERROR(client.ReadAll(request, take));
  } else {
    v1::ReadStreamRequest request;
    request.set_stream_id(flags.stream);
    request.set_direction(v1::BACKWARDS);
    request.set_max_count(1);
    EH_RETURN_IF_ERROR(client.ReadStream(request, take));
  }
  return last;
}

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
  // A read from a place after the end answers from (or at) the end: said,
  // so that nothing read is not taken for nothing there, nor the end for the
  // place asked.
  uint64_t first_shown = 0;
  auto print_first = [&](const v1::RecordedEvent& e) {
    if (printed == 0) first_shown = flags.all ? e.position() : e.stream_revision();
    return print(e);
  };
  absl::Status status;
  if (flags.all) {
    v1::ReadAllRequest request;
    if (From(flags)) request.set_from_position(flags.from);
    request.set_direction(flags.backwards ? v1::BACKWARDS : v1::FORWARDS);
    request.set_max_count(flags.max);
    for (const auto& t : flags.types) request.mutable_filter()->add_event_types(t);
    for (const auto& p : flags.prefixes) request.mutable_filter()->add_stream_prefixes(p);
    status = client.ReadAll(request, print_first);
    // Nothing printed is otherwise an empty log (outside probe: a prefix
    // that matched nothing said nothing).
    if (status.ok() && printed == 0 && !From(flags) &&
        (!flags.types.empty() || !flags.prefixes.empty())) {
      std::fprintf(
          stderr, "evenhand: no event in the log matched%s%s%s%s\n",
          flags.types.empty() ? "" : " --type=", absl::StrJoin(flags.types, ",").c_str(),
          flags.prefixes.empty() ? "" : " --prefix=", absl::StrJoin(flags.prefixes, ",").c_str());
    }
  } else {
    v1::ReadStreamRequest request;
    request.set_stream_id(flags.stream);
    if (From(flags)) request.set_from_revision(flags.from);
    request.set_direction(flags.backwards ? v1::BACKWARDS : v1::FORWARDS);
    request.set_max_count(flags.max);
    status = client.ReadStream(request, print_first);
    if (status.ok() && printed == 0 && !From(flags)) status = NoSuchStream(flags.stream);
  }
  std::fflush(stdout);
  if (status.ok() && From(flags)) {
    const uint64_t from = flags.from;
    absl::StatusOr<std::optional<uint64_t>> end = LastOfRead(client, flags);
    if (!end.ok()) return FailServer(end.status(), context);
    const std::optional<uint64_t>& last = *end;
    const char* place = flags.all ? "position" : "revision";
    const std::string of =
        flags.all ? "the log's" : absl::StrCat("stream ", Quoted(flags.stream), "'s");
    if (!last.has_value() && !flags.all) {
      status = NoSuchStream(flags.stream);
    } else if (last.has_value() && from > *last && !flags.backwards && printed == 0) {
      std::fprintf(stderr, "evenhand: nothing at or after %s %llu: %s last %s is %llu\n", place,
                   static_cast<unsigned long long>(from), of.c_str(), place,
                   static_cast<unsigned long long>(*last));
    } else if (flags.backwards && printed == 0) {
      std::fprintf(stderr, "evenhand: nothing at or before %s %llu%s\n", place,
                   static_cast<unsigned long long>(from),
                   flags.all && from == 0 ? " (positions start at 1)" : "");
    } else if (last.has_value() && from > *last && flags.backwards && printed > 0 &&
               first_shown < from) {
      std::fprintf(stderr, "evenhand: %s %llu is after %s last %s: read back from %llu\n", place,
                   static_cast<unsigned long long>(from), of.c_str(), place,
                   static_cast<unsigned long long>(first_shown));
    }
  }
  return status.ok() ? kOk : FailServer(status, context);
}

}  // namespace

void AddRead(Registry& r) {
  auto flags = std::make_shared<ReadFlags>();
  CLI::App* cmd = r.Add("read", "read a stream, or the whole log with --all",
                        [flags](const Context& c) { return RunRead(c, *flags); });
  cmd->add_option("--stream", flags->stream, "stream id");
  cmd->add_flag("--all", flags->all, "read the whole log in position order");
  flags->from_given =
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
