// evenhand import: a history from another system, many streams at once.
//
// The file holds one event per line (JSON Lines), each an Event in
// protobuf's JSON mapping with its `streamId` and its `eventId`. Events of
// one stream keep the file's order and go in batches; streams go in
// parallel, each event once the councillors, groups and officers it names
// that the file records are (import_schedule.h), so that the server refuses
// none for naming what is not recorded yet. An interrupted import is resumed
// by running it again: every event id already recorded is answered as a
// replay, so nothing is added twice.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "base/error_details.h"
#include "base/status_macros.h"
#include "clients/cli/common.h"
#include "clients/cli/import_file.h"
#include "clients/cli/import_schedule.h"
#include "clients/event_log_client.h"

namespace evenhand::cli {
namespace {

// Each stream appended at once is a thread and a call of its own; more
// than this was a crash (threads the system would not start), not speed.
constexpr uint64_t kMaxParallel = 256;
// The server's maxBatchEvents (1,000 by default) is the real bound; this
// one keeps the number in range.
constexpr uint64_t kMaxBatch = 1000000;

struct ImportFlags {
  std::string file;
  uint64_t batch = 200;
  uint64_t parallel = 4;
  std::string progress = "auto";
};

// Which event of a refused batch the server named (its field path begins
// "events[N]"), counting from 0; 0 if it named none.
size_t IndexInBatch(const absl::Status& status) {
  std::optional<google::rpc::ErrorInfo> info = GetErrorInfo(status);
  if (!info.has_value()) return 0;
  auto field = info->metadata().find("field");
  if (field == info->metadata().end()) return 0;
  absl::string_view path = field->second;
  size_t index = 0;
  if (!absl::ConsumePrefix(&path, "events[")) return 0;
  const size_t close = path.find(']');
  if (close == absl::string_view::npos || !absl::SimpleAtoi(path.substr(0, close), &index)) {
    return 0;
  }
  return index;
}

// What appending a batch came to.
struct BatchOutcome {
  absl::Status status;
  size_t added = 0;   // events new to the log (not answered as replays)
  size_t failed = 0;  // the refused event's index in the batch, if refused
};

// Appends `events` to `stream`. A batch partly recorded before (an earlier
// run with other batch sizes) goes one event at a time.
BatchOutcome AppendBatch(clients::EventLogClient& client, const std::string& stream,
                         const std::vector<v1::Event>& events) {
  v1::AppendRequest request;
  request.set_stream_id(stream);
  for (const v1::Event& e : events) *request.add_events() = e;
  absl::StatusOr<v1::AppendResponse> r = client.Append(request, absl::Seconds(60));
  if (r.ok()) return {absl::OkStatus(), r->idempotent_replay() ? 0 : events.size(), 0};
  if (ReasonOf(r.status()) != "BATCH_PARTLY_RECORDED" || events.size() == 1) {
    return {r.status(), 0, IndexInBatch(r.status())};
  }
  BatchOutcome out;
  for (size_t i = 0; i < events.size(); ++i) {
    BatchOutcome one = AppendBatch(client, stream, {events[i]});
    out.added += one.added;
    if (!one.status.ok()) {
      out.status = one.status;
      out.failed = i;
      return out;
    }
  }
  return out;
}

int RunImport(const Context& context, const ImportFlags& flags) {
  if (flags.batch < 1 || flags.parallel < 1) {
    return FailUsage(absl::InvalidArgumentError("--batch and --parallel must be at least 1"));
  }
  if (flags.parallel > kMaxParallel) {
    return FailUsage(absl::InvalidArgumentError(absl::StrCat(
        "--parallel: at most ", kMaxParallel,
        " streams at once (each is a thread and a call of its own); 4 to 16 is plenty")));
  }
  if (flags.batch > kMaxBatch) {
    return FailUsage(absl::InvalidArgumentError(
        absl::StrCat("--batch: at most ", kMaxBatch,
                     " events per append (the server's maxBatchEvents, 1000 by default, is "
                     "the limit that counts)")));
  }
  size_t total = 0;
  size_t repeated = 0;
  absl::StatusOr<std::vector<ImportStream>> read = ReadImportFile(flags.file, &total, &repeated);
  if (!read.ok()) {
    return read.status().code() == absl::StatusCode::kNotFound ? FailIo(read.status())
                                                               : FailUsage(read.status());
  }
  const std::vector<ImportStream>& streams = *read;
  auto channel = context.Channel();
  if (!channel.ok()) return FailLocal(channel.status());

  ProgressBar bar("importing", flags.progress);
  ImportSchedule schedule(streams, static_cast<size_t>(flags.batch));
  std::atomic<uint64_t> added{0};  // not answered as replays of an earlier run's
  absl::Mutex mu;
  absl::Status failure;  // the server's own status, with its details
  std::string failed_at;
  std::vector<std::thread> workers;
  // No more threads than streams: one stream's batches go one at a time.
  const size_t parallel = std::min<size_t>(flags.parallel, std::max<size_t>(streams.size(), 1));
  for (size_t w = 0; w < parallel; ++w) {
    workers.emplace_back([&] {
      clients::EventLogClient client(v1::EventLog::NewStub(*channel));
      while (std::optional<ImportSchedule::Turn> turn = schedule.Next()) {
        const ImportStream& s = streams[turn->stream];
        const std::vector<v1::Event> events(s.events.begin() + turn->first,
                                            s.events.begin() + turn->first + turn->count);
        for (int retries = 0;; ++retries) {
          const BatchOutcome appended = AppendBatch(client, s.id, events);
          const absl::Status& st = appended.status;
          added += appended.added;
          if (st.ok()) {
            schedule.Recorded(*turn);
            absl::MutexLock lock(&mu);
            bar.Update(schedule.recorded(), total);
            break;
          }
          if (std::optional<google::rpc::ErrorInfo> info = GetErrorInfo(st);
              info.has_value() && info->reason() == "UNKNOWN_REFERENCE") {
            auto named = info->metadata().find("stream");
            schedule.Refused(*turn, std::string(st.message()),
                             named == info->metadata().end() ? "" : named->second);
            break;
          }
          // Worth waiting for (a rate limit, a restart): as long as the
          // server says, a few times.
          if (std::optional<google::rpc::RetryInfo> retry = GetRetryInfo(st);
              retry.has_value() && retries < 10) {
            absl::SleepFor(absl::Seconds(retry->retry_delay().seconds()) +
                           absl::Nanoseconds(retry->retry_delay().nanos()));
            continue;
          }
          absl::MutexLock lock(&mu);
          if (failure.ok()) {
            failure = st;
            // The line to look at, for what the server refused.
            const size_t event = turn->first + appended.failed;
            failed_at = absl::StrCat(flags.file, ":", event < s.lines.size() ? s.lines[event] : 0,
                                     " (stream ", s.id, ", its event ", event + 1, ")");
          }
          schedule.Stop();
          return;
        }
      }
    });
  }
  for (std::thread& t : workers) t.join();
  bar.Done();
  if (!failure.ok()) {
    // The server gone or stopping is nothing to fix in the file.
    // (A server stopping cancels the calls in flight.)
    const bool server_away = failure.code() == absl::StatusCode::kUnavailable ||
                             failure.code() == absl::StatusCode::kDeadlineExceeded ||
                             failure.code() == absl::StatusCode::kCancelled;
    const uint64_t recorded = schedule.recorded();
    std::fprintf(stderr,
                 "evenhand: import stopped at %s; by then %s%llu of the file's %zu events were "
                 "recorded (streams go in parallel: some from later lines, not that one), %llu "
                 "of them by this run and %llu already (a batch is recorded whole or not at "
                 "all%s); %s run the same import again (recorded events are not added twice)\n",
                 Printable(failed_at).c_str(), server_away ? "at least " : "",
                 static_cast<unsigned long long>(recorded), total,
                 static_cast<unsigned long long>(added.load()),
                 static_cast<unsigned long long>(recorded - std::min<uint64_t>(recorded, added)),
                 server_away ? ", and batches whose answers were lost with the server may have "
                               "been recorded too"
                             : "",
                 server_away ? "once the server is back," : "fix it and");
    return FailServer(failure, context);
  }
  std::string example;
  if (const size_t unfinished = schedule.Unfinished(&example); unfinished > 0) {
    return FailServer(
        absl::FailedPreconditionError(absl::StrCat(
            unfinished,
            " stream(s) could not be recorded: each names what neither the file nor the server "
            "holds, or streams whose first events name each other; e.g. ",
            example)),
        context);
  }
  const size_t new_events = added.load();
  std::printf(
      "imported %zu events in %zu streams: %zu new, %zu already recorded (by an earlier "
      "run or another system)%s\n",
      total, streams.size(), new_events, total - new_events,
      repeated == 0 ? ""
                    : absl::StrCat("; ", repeated,
                                   " line(s) repeated an earlier line's event (the same "
                                   "eventId and content) and were sent once")
                          .c_str());
  return kOk;
}

}  // namespace

void AddImport(Registry& r) {
  auto flags = std::make_shared<ImportFlags>();
  CLI::App* cmd =
      r.Add("import",
            "load a history: events of many streams from a JSON Lines file (each with streamId and "
            "eventId), in batches and in parallel; run it again to resume",
            [flags](const Context& c) { return RunImport(c, *flags); });
  cmd->add_option("file", flags->file, "the JSON Lines file")->required();
  cmd->add_option("--batch", flags->batch, "events per append (one stream's, in file order)")
      ->capture_default_str()
      ->transform(Decimal());
  cmd->add_option("--parallel", flags->parallel, "streams appended at once")
      ->capture_default_str()
      ->transform(Decimal());
  AddProgressOption(cmd, &flags->progress);
}

}  // namespace evenhand::cli
