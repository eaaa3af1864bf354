// evenhand import: a history from another system, many streams at once.
//
// The file holds one event per line (JSON Lines), each an Event in
// protobuf's JSON mapping with its `streamId` and its `eventId`. Events of
// one stream keep the file's order and go in batches; streams go in
// parallel, councillors' and pre-election periods' first, then groups',
// then officers' (a political assistant names a group), then the cases',
// so that few events name what is not recorded yet. One that does (a briefing's group, an offer it
// answers; UNKNOWN_REFERENCE) waits until the rest has moved on, and is tried again. An interrupted
// import is resumed by running it again: every event id already recorded is answered as a replay,
// so nothing is added twice.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <deque>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "base/error_details.h"
#include "base/status_macros.h"
#include "clients/cli/common.h"
#include "clients/event_log_client.h"

namespace evenhand::cli {
namespace {

struct ImportFlags {
  std::string file;
  int batch = 200;
  int parallel = 4;
  std::string progress = "auto";
};

struct Stream {
  std::string id;
  std::vector<v1::Event> events;  // file order
  size_t done = 0;                // events recorded (or replayed) so far
  std::string blocked_on;         // why it last stopped, if it did
};

absl::StatusOr<std::vector<Stream>> ReadImportFile(const std::string& path, size_t* total) {
  EH_RETURN_IF_ERROR(CheckReadableFile("import", path));
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::map<std::string, size_t> index;
  // Each event id's first line, and where its event is kept.
  struct Seen {
    int line;
    size_t stream;
    size_t index;
  };
  absl::flat_hash_map<std::string, Seen> ids;
  std::vector<Stream> streams;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    v1::Event e;
    if (absl::Status s = ParseJson(line, &e, absl::StrCat(path, ":", number)); !s.ok()) {
      if (absl::StrContains(line, "\"position\"") && absl::StrContains(line, "\"event\"")) {
        return absl::InvalidArgumentError(absl::StrCat(
            s.message(),
            " (this looks like the output of evenhand read, a position and an event per line: "
            "import takes the events themselves, one per line, e.g. jq -c .event)"));
      }
      return s;
    }
    if (e.stream_id().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ":", number, ": streamId is required (the stream each event goes in)"));
    }
    if (e.event_id().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ":", number,
          ": eventId is required, so that running the import again adds nothing twice"));
    }
    // The same event twice (a file concatenated with itself) goes once;
    // an id reused for other content is the file's mistake, said here
    // rather than as whatever the server makes of the second.
    auto [it, inserted] = index.try_emplace(e.stream_id(), streams.size());
    if (inserted) streams.push_back({e.stream_id(), {}, 0, ""});
    Stream& stream = streams[it->second];
    auto [seen, first] =
        ids.try_emplace(e.event_id(), Seen{number, it->second, stream.events.size()});
    if (!first) {
      const v1::Event& before = streams[seen->second.stream].events[seen->second.index];
      if (before.SerializeAsString() == e.SerializeAsString()) continue;
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", number, ": eventId ", e.event_id(), " is line ",
                       seen->second.line, "'s with other content: an event id names one event"));
    }
    stream.events.push_back(std::move(e));
    ++*total;
  }
  return streams;
}

// Appends `events` to `stream`; a batch partly recorded before (an earlier
// run with other batch sizes) goes one event at a time.
// Appends `events`; OK with how many were new (not answered as replays of
// an earlier run's).
absl::StatusOr<size_t> AppendBatch(clients::EventLogClient& client, const std::string& stream,
                                   const std::vector<v1::Event>& events) {
  v1::AppendRequest request;
  request.set_stream_id(stream);
  for (const v1::Event& e : events) *request.add_events() = e;
  absl::StatusOr<v1::AppendResponse> r = client.Append(request, absl::Seconds(60));
  if (r.ok()) return r->idempotent_replay() ? 0 : events.size();
  if (ReasonOf(r.status()) != "BATCH_PARTLY_RECORDED" || events.size() == 1) return r.status();
  size_t added = 0;
  for (const v1::Event& e : events) {
    absl::StatusOr<size_t> one = AppendBatch(client, stream, {e});
    if (!one.ok()) return one.status();
    added += *one;
  }
  return added;
}

int RunImport(const Context& context, const ImportFlags& flags) {
  if (flags.batch < 1 || flags.parallel < 1) {
    return FailUsage(absl::InvalidArgumentError("--batch and --parallel must be at least 1"));
  }
  size_t total = 0;
  absl::StatusOr<std::vector<Stream>> read = ReadImportFile(flags.file, &total);
  if (!read.ok()) {
    return read.status().code() == absl::StatusCode::kNotFound ? FailIo(read.status())
                                                               : FailUsage(read.status());
  }
  std::vector<Stream>& streams = *read;
  auto channel = context.Channel();
  if (!channel.ok()) return FailLocal(channel.status());

  ProgressBar bar("importing", flags.progress);
  std::atomic<uint64_t> recorded{0};
  std::atomic<uint64_t> added{0};  // of `recorded`, not answered as replays
  absl::Mutex mu;
  absl::Status failure;  // the server's own status, with its details
  std::string failed_at;
  // Waves: every stream with events left runs until done or blocked on a
  // reference; blocked streams go again while a wave makes progress.
  std::vector<Stream*> pending;
  for (Stream& s : streams) pending.push_back(&s);
  // Within a wave, what others name goes first: councillors and
  // pre-election periods, then groups (which name councillors), then
  // officers (a political assistant names a group), then the cases (which
  // name all of them). Each stage's streams run in parallel;
  // a case's event is not tried, and refused UNKNOWN_REFERENCE, before the
  // registrations it names were given their turn (a server's refusals
  // would otherwise count thousands of a clean import's events as
  // refused appends, which a monitoring alert reads as a faulty system).
  auto stage_of = [](const Stream& s) {
    if (absl::StartsWith(s.id, "member-") || absl::StartsWith(s.id, "election-")) return 0;
    if (absl::StartsWith(s.id, "group-")) return 1;
    return absl::StartsWith(s.id, "officer-") ? 2 : 3;
  };
  while (!pending.empty()) {
    const uint64_t before = recorded.load();
    for (int stage = 0; stage < 4 && failure.ok(); ++stage) {
      std::deque<Stream*> queue;
      for (Stream* s : pending) {
        if (stage_of(*s) == stage) queue.push_back(s);
      }
      std::vector<std::thread> workers;
      for (int w = 0; w < std::min<int>(flags.parallel, static_cast<int>(queue.size())); ++w) {
        workers.emplace_back([&] {
          clients::EventLogClient client(v1::EventLog::NewStub(*channel));
          for (;;) {
            Stream* s;
            {
              absl::MutexLock lock(&mu);
              if (queue.empty() || !failure.ok()) return;
              s = queue.front();
              queue.pop_front();
            }
            s->blocked_on.clear();
            // Batches of the stream's next events; after a refused reference,
            // one event at a time, so that what precedes it still goes in.
            size_t batch = static_cast<size_t>(flags.batch);
            int retries = 0;
            while (s->done < s->events.size()) {
              {
                absl::MutexLock lock(&mu);
                if (!failure.ok()) return;
              }
              const size_t n = std::min(s->events.size() - s->done, batch);
              std::vector<v1::Event> events(s->events.begin() + s->done,
                                            s->events.begin() + s->done + n);
              absl::StatusOr<size_t> appended = AppendBatch(client, s->id, events);
              const absl::Status st = appended.status();
              if (ReasonOf(st) == "UNKNOWN_REFERENCE") {
                if (n > 1) {
                  batch = 1;
                  continue;
                }
                s->blocked_on = std::string(st.message());
                break;
              }
              // Worth waiting for (a rate limit, a restart, a concurrent
              // failure): as long as the server says, a few times.
              if (std::optional<google::rpc::RetryInfo> retry = GetRetryInfo(st);
                  retry.has_value() && retries < 10) {
                ++retries;
                absl::SleepFor(absl::Seconds(retry->retry_delay().seconds()) +
                               absl::Nanoseconds(retry->retry_delay().nanos()));
                continue;
              }
              if (!st.ok()) {
                absl::MutexLock lock(&mu);
                if (failure.ok()) {
                  failure = st;
                  failed_at = absl::StrCat("stream ", s->id, ", its event ", s->done + 1);
                }
                return;
              }
              retries = 0;
              s->done += n;
              recorded += n;
              added += *appended;
              absl::MutexLock lock(&mu);
              bar.Update(recorded.load(), total);
            }
          }
        });
      }
      for (std::thread& t : workers) t.join();
    }
    if (!failure.ok()) break;
    std::vector<Stream*> still;
    for (Stream* s : pending) {
      if (s->done < s->events.size()) still.push_back(s);
    }
    if (!still.empty() && recorded.load() == before) {
      bar.Done();
      return FailServer(absl::FailedPreconditionError(absl::StrCat(
                            still.size(), " stream(s) name what the file never records, e.g. ",
                            still.front()->id, ": ", still.front()->blocked_on)),
                        context);
    }
    pending = std::move(still);
  }
  bar.Done();
  if (!failure.ok()) {
    // The server gone or stopping is nothing to fix in the file.
    const bool server_away = failure.code() == absl::StatusCode::kUnavailable ||
                             failure.code() == absl::StatusCode::kDeadlineExceeded;
    std::fprintf(stderr,
                 "evenhand: import stopped at %s; this run had recorded %llu of the file's %zu "
                 "events before it (a batch is recorded whole or not at all, and events an "
                 "earlier run recorded are not counted); %s run the same import again "
                 "(recorded events are not added twice)\n",
                 Printable(failed_at).c_str(), static_cast<unsigned long long>(recorded.load()),
                 total, server_away ? "once the server is back," : "fix it and");
    return FailServer(failure, context);
  }
  const size_t new_events = added.load();
  std::printf(
      "imported %zu events in %zu streams: %zu new, %zu already recorded (by an earlier "
      "run or another system)\n",
      total, streams.size(), new_events, total - new_events);
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
