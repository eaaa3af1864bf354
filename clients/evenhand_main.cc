// evenhand: the command-line client.
//
//   evenhand [--server=HOST:PORT] append|read|tail|status ...
//   evenhand <command> --help
//
// Events are read and printed in protobuf's JSON mapping, one per line, so
// the output of `read` can be fed to other tools (and back to `append`).
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/uuid.h"
#include "clients/event_log_client.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/json_util.h"

namespace evenhand::cli {
namespace {

std::string DefaultServer() {
  const char* env = std::getenv("EVENHAND_SERVER");
  return env != nullptr ? env : "127.0.0.1:50051";
}

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "evenhand: %s: %s\n", absl::StatusCodeToString(status.code()).c_str(),
               std::string(status.message()).c_str());
  return 1;
}

std::string ToJsonLine(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = false;
  // Printing a well-formed message to JSON cannot fail.
  (void)google::protobuf::util::MessageToJsonString(m, &out, options);
  return out;
}

absl::Status ParseJson(const std::string& json, google::protobuf::Message* m,
                       const std::string& what) {
  auto status = google::protobuf::util::JsonStringToMessage(json, m);
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", status.message().as_string()));
  }
  return absl::OkStatus();
}

std::string FormatTimestamp(const google::protobuf::Timestamp& ts) {
  absl::Time t = absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

void PrintEvent(const v1::RecordedEvent& e, const std::string& format) {
  if (format == "table") {
    std::printf("%10llu  %-32s  %-34s  %s\n", static_cast<unsigned long long>(e.position()),
                absl::StrCat(e.event().stream_id(), "@", e.stream_revision()).c_str(),
                e.event().type().c_str(), FormatTimestamp(e.event().recorded_at()).c_str());
  } else {
    std::printf("%s\n", ToJsonLine(e).c_str());
  }
}

// ---- append ---------------------------------------------------------------

struct AppendFlags {
  std::string stream;
  std::string expected = "any";
  std::string file;
  std::string type;
  std::string payload;
  std::string source = "evenhand-cli";
  std::string actor;
  std::string occurred_at;
  std::string event_id;
  std::string correlation_id;
  std::string causation_id;
};

// The payload from `--type BriefingRequested --payload '{...}'`.
absl::StatusOr<v1::Payload> PayloadFromFlags(const std::string& type, const std::string& json) {
  const google::protobuf::OneofDescriptor* kind =
      v1::Payload::descriptor()->FindOneofByName("kind");
  for (int i = 0; i < kind->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* f = kind->field(i);
    if (f->message_type()->name() == type) {
      v1::Payload payload;
      absl::Status s = ParseJson(absl::StrCat("{\"", f->json_name(), "\":", json, "}"), &payload,
                                 "--payload");
      if (!s.ok()) return s;
      return payload;
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "--type: unknown event type \"", type,
      "\"; see proto/evenhand/v1/events.proto (e.g. BriefingRequested)"));
}

// Events from JSON text: one Event object, a JSON array of them, or one
// object per line.
absl::StatusOr<std::vector<v1::Event>> EventsFromJson(const std::string& text) {
  std::string trimmed(absl::StripAsciiWhitespace(text));
  if (trimmed.empty()) return absl::InvalidArgumentError("no events on input");
  v1::AppendRequest wrapper;
  if (trimmed.front() == '[') {
    absl::Status s = ParseJson(absl::StrCat("{\"events\":", trimmed, "}"), &wrapper, "input");
    if (!s.ok()) return s;
    return std::vector<v1::Event>(wrapper.events().begin(), wrapper.events().end());
  }
  v1::Event single;
  if (ParseJson(trimmed, &single, "input").ok()) return std::vector<v1::Event>{single};
  std::vector<v1::Event> events;
  std::istringstream lines(trimmed);
  std::string line;
  int number = 0;
  while (std::getline(lines, line)) {
    ++number;
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    v1::Event e;
    absl::Status s = ParseJson(line, &e, absl::StrCat("input line ", number));
    if (!s.ok()) return s;
    events.push_back(std::move(e));
  }
  return events;
}

absl::Status FillDefaults(const AppendFlags& flags, v1::Event* e) {
  if (e->event_id().empty()) e->set_event_id(flags.event_id.empty() ? NewUuid() : flags.event_id);
  if (!e->has_occurred_at()) {
    absl::Time at = absl::Now();
    if (!flags.occurred_at.empty()) {
      std::string error;
      if (!absl::ParseTime(absl::RFC3339_full, flags.occurred_at, &at, &error)) {
        return absl::InvalidArgumentError(
            absl::StrCat("--occurred-at: not an RFC 3339 time (", error, ")"));
      }
    }
    int64_t nanos = absl::ToUnixNanos(at);
    e->mutable_occurred_at()->set_seconds(nanos / 1000000000);
    e->mutable_occurred_at()->set_nanos(static_cast<int32_t>(nanos % 1000000000));
  }
  if (e->source_system().empty()) e->set_source_system(flags.source);
  if (e->actor().empty()) {
    if (!flags.actor.empty()) {
      e->set_actor(flags.actor);
    } else if (const char* user = std::getenv("USER"); user != nullptr) {
      e->set_actor(user);
    }
  }
  if (e->correlation_id().empty()) e->set_correlation_id(flags.correlation_id);
  if (e->causation_id().empty()) e->set_causation_id(flags.causation_id);
  return absl::OkStatus();
}

int RunAppend(const std::string& server, const AppendFlags& flags) {
  v1::AppendRequest request;
  request.set_stream_id(flags.stream);
  if (flags.expected == "any") {
    request.set_expected_state(v1::ANY);
  } else if (flags.expected == "no_stream") {
    request.set_expected_state(v1::NO_STREAM);
  } else if (flags.expected == "exists") {
    request.set_expected_state(v1::STREAM_EXISTS);
  } else {
    uint64_t revision;
    if (!absl::SimpleAtoi(flags.expected, &revision)) {
      return Fail(absl::InvalidArgumentError(
          "--expected: use any, no_stream, exists or a revision number"));
    }
    request.set_exact_revision(revision);
  }
  std::vector<v1::Event> events;
  if (!flags.type.empty()) {
    absl::StatusOr<v1::Payload> payload =
        PayloadFromFlags(flags.type, flags.payload.empty() ? "{}" : flags.payload);
    if (!payload.ok()) return Fail(payload.status());
    v1::Event e;
    *e.mutable_payload() = *payload;
    events.push_back(std::move(e));
  } else {
    std::stringstream text;
    if (flags.file.empty() || flags.file == "-") {
      text << std::cin.rdbuf();
    } else {
      std::ifstream in(flags.file);
      if (!in) return Fail(absl::NotFoundError(absl::StrCat("--file: cannot open ", flags.file)));
      text << in.rdbuf();
    }
    absl::StatusOr<std::vector<v1::Event>> parsed = EventsFromJson(text.str());
    if (!parsed.ok()) return Fail(parsed.status());
    events = std::move(*parsed);
  }
  for (v1::Event& e : events) {
    if (absl::Status s = FillDefaults(flags, &e); !s.ok()) return Fail(s);
    *request.add_events() = std::move(e);
  }
  auto client = clients::EventLogClient::Connect(server);
  absl::StatusOr<v1::AppendResponse> response = client->Append(request);
  if (!response.ok()) return Fail(response.status());
  std::printf("%s\n", ToJsonLine(*response).c_str());
  return 0;
}

// ---- read / tail ------------------------------------------------------------

struct ReadFlags {
  std::string stream;
  bool all = false;
  int64_t from = -1;
  bool backwards = false;
  uint64_t max = 0;
  std::vector<std::string> types;
  std::vector<std::string> prefixes;
  std::string format = "json";
  uint64_t count = 0;
};

void FillFilter(const ReadFlags& flags, v1::Filter* filter) {
  for (const auto& t : flags.types) filter->add_event_types(t);
  for (const auto& p : flags.prefixes) filter->add_stream_prefixes(p);
}

int RunRead(const std::string& server, const ReadFlags& flags) {
  auto client = clients::EventLogClient::Connect(server);
  auto print = [&](const v1::RecordedEvent& e) {
    PrintEvent(e, flags.format);
    return true;
  };
  absl::Status status;
  if (flags.all) {
    v1::ReadAllRequest request;
    if (flags.from >= 0) request.set_from_position(static_cast<uint64_t>(flags.from));
    request.set_direction(flags.backwards ? v1::BACKWARDS : v1::FORWARDS);
    request.set_max_count(flags.max);
    FillFilter(flags, request.mutable_filter());
    status = client->ReadAll(request, print);
  } else {
    if (flags.stream.empty()) {
      return Fail(absl::InvalidArgumentError("give --stream=ID or --all"));
    }
    v1::ReadStreamRequest request;
    request.set_stream_id(flags.stream);
    if (flags.from >= 0) request.set_from_revision(static_cast<uint64_t>(flags.from));
    request.set_direction(flags.backwards ? v1::BACKWARDS : v1::FORWARDS);
    request.set_max_count(flags.max);
    status = client->ReadStream(request, print);
  }
  std::fflush(stdout);
  return status.ok() ? 0 : Fail(status);
}

int RunTail(const std::string& server, const ReadFlags& flags) {
  auto client = clients::EventLogClient::Connect(server);
  v1::SubscribeRequest request;
  if (flags.from >= 0) {
    request.set_from_position(static_cast<uint64_t>(flags.from));
  } else {
    request.set_from_end(true);
  }
  FillFilter(flags, request.mutable_filter());
  uint64_t seen = 0;
  absl::Status status = client->Subscribe(request, [&](const v1::SubscribeResponse& m) {
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
  return status.ok() ? 0 : Fail(status);
}

int RunStatus(const std::string& server) {
  auto client = clients::EventLogClient::Connect(server);
  absl::StatusOr<v1::GetStatusResponse> status = client->GetStatus();
  if (!status.ok()) return Fail(status.status());
  std::printf("server          %s\nversion         %s\nlog id          %s\nlast position   %llu\n"
              "max event size  %llu bytes\nmax batch       %u events\n",
              server.c_str(), status->server_version().c_str(), status->log_id().c_str(),
              static_cast<unsigned long long>(status->last_position()),
              static_cast<unsigned long long>(status->max_event_bytes()),
              status->max_batch_events());
  return 0;
}

}  // namespace

int Main(int argc, char** argv) {
  CLI::App app{"evenhand: the Even Hand command-line client"};
  app.require_subcommand(1);
  std::string server = DefaultServer();
  app.add_option("--server", server, "server address host:port (env EVENHAND_SERVER)")
      ->capture_default_str();

  AppendFlags append;
  CLI::App* append_cmd = app.add_subcommand(
      "append",
      "append events to a stream: JSON events on stdin (one object, an array or one per "
      "line), or one event from --type and --payload");
  append_cmd->add_option("--stream", append.stream, "stream id, e.g. briefing-B-1001")
      ->required();
  append_cmd->add_option("--expected", append.expected,
                         "expected revision: any, no_stream, exists or a number")
      ->capture_default_str();
  append_cmd->add_option("--file", append.file, "read events from this file instead of stdin");
  append_cmd->add_option("--type", append.type, "event type, e.g. BriefingRequested");
  append_cmd->add_option("--payload", append.payload, "the event's fields as JSON, with --type");
  append_cmd->add_option("--source", append.source, "source_system of the events")
      ->capture_default_str();
  append_cmd->add_option("--actor", append.actor, "actor (default $USER)");
  append_cmd->add_option("--occurred-at", append.occurred_at, "RFC 3339 time (default now)");
  append_cmd->add_option("--event-id", append.event_id, "UUID (default a new one)");
  append_cmd->add_option("--correlation-id", append.correlation_id, "correlation id");
  append_cmd->add_option("--causation-id", append.causation_id, "causation id");

  ReadFlags read;
  CLI::App* read_cmd = app.add_subcommand("read", "read a stream, or the whole log with --all");
  read_cmd->add_option("--stream", read.stream, "stream id");
  read_cmd->add_flag("--all", read.all, "read the whole log in position order");
  read_cmd->add_option("--from", read.from, "first revision (stream) or position (--all)");
  read_cmd->add_flag("--backwards", read.backwards, "newest first");
  read_cmd->add_option("--max", read.max, "at most this many events (0: all)");
  read_cmd->add_option("--type", read.types, "only these event types (--all)");
  read_cmd->add_option("--prefix", read.prefixes, "only streams starting with these (--all)");
  read_cmd->add_option("--format", read.format, "json or table")
      ->check(CLI::IsMember({"json", "table"}))
      ->capture_default_str();

  ReadFlags tail;
  CLI::App* tail_cmd =
      app.add_subcommand("tail", "follow the log live (from the end, or from --from)");
  tail_cmd->add_option("--from", tail.from, "first position (default: only new events)");
  tail_cmd->add_option("--type", tail.types, "only these event types");
  tail_cmd->add_option("--prefix", tail.prefixes, "only streams starting with these");
  tail_cmd->add_option("--count", tail.count, "stop after this many events (0: never)");
  tail_cmd->add_option("--format", tail.format, "json or table")
      ->check(CLI::IsMember({"json", "table"}))
      ->capture_default_str();

  CLI::App* status_cmd = app.add_subcommand("status", "show the server's log status");

  CLI11_PARSE(app, argc, argv);
  if (append_cmd->parsed()) return RunAppend(server, append);
  if (read_cmd->parsed()) return RunRead(server, read);
  if (tail_cmd->parsed()) return RunTail(server, tail);
  if (status_cmd->parsed()) return RunStatus(server);
  return 2;
}

}  // namespace evenhand::cli

int main(int argc, char** argv) { return evenhand::cli::Main(argc, argv); }
