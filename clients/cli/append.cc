// evenhand append: events from JSON (stdin, a file) or one from --type and
// --payload, appended to one stream.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "base/error_details.h"
#include "base/time_util.h"
#include "base/uuid.h"
#include "clients/cli/common.h"
#include "clients/event_log_client.h"
#include "google/protobuf/descriptor.h"

namespace evenhand::cli {
namespace {

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
      absl::Status s =
          ParseJson(absl::StrCat("{\"", f->json_name(), "\":", json, "}"), &payload, "--payload");
      if (!s.ok()) return s;
      return payload;
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--type: unknown event type \"", type,
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
  if (!e->has_occurred_at() && flags.occurred_at.empty() &&
      (!flags.event_id.empty() || !e->event_id().empty())) {
    // "Now" differs at every run: the same id with another time is refused
    // as a different event, so a retry would never be recorded once.
    return absl::InvalidArgumentError(absl::StrCat(
        "event ", e->event_id().empty() ? flags.event_id : e->event_id(),
        " has its id but no occurredAt: give --occurred-at (or "
        "occurredAt in the JSON) too, so that running the command again sends the same event "
        "and it is recorded once"));
  }
  if (e->event_id().empty()) e->set_event_id(flags.event_id.empty() ? NewUuid() : flags.event_id);
  if (!e->has_occurred_at()) {
    absl::Time at = absl::Now();
    if (!flags.occurred_at.empty()) {
      std::string error;
      if (!ParseRfc3339(flags.occurred_at, &at, &error)) {
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

// Whether a refused append may still have been recorded: an outcome unknown
// (the connection went mid-call, the deadline passed, the server failed while
// writing), after which only the same ids make a retry safe. Not when the
// call never reached a server (no connection was made), nor when the server
// refused it before writing anything: read-only, stopped after an earlier
// failure, or shutting down (storage/event_store_write.cc).
bool MayHaveBeenRecorded(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kCancelled:
      break;
    default:
      return false;  // an answer of the server's that refused the request
  }
  if (absl::IsUnavailable(status)) {
    if (std::optional<google::rpc::ErrorInfo> info = GetErrorInfo(status); info.has_value()) {
      const std::string& reason = info->reason();
      if (reason == "READ_ONLY" || reason == "APPENDS_STOPPED" || reason == "SHUTTING_DOWN") {
        return false;
      }
    }
    if (NeverConnected(status)) return false;
  }
  return true;
}

int RunAppend(const Context& context, const AppendFlags& flags) {
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
      return FailUsage(absl::InvalidArgumentError(
          "--expected: use any, no_stream, exists or a revision number"));
    }
    request.set_exact_revision(revision);
  }
  // Flags that would otherwise be ignored, answering another question.
  if (!flags.type.empty() && !flags.file.empty()) {
    return FailUsage(absl::InvalidArgumentError(
        "--type makes one event from the flags, --file reads events from a file: give one"));
  }
  if (flags.type.empty() && !flags.payload.empty()) {
    return FailUsage(absl::InvalidArgumentError("--payload goes with --type (the event's type)"));
  }
  std::vector<v1::Event> events;
  if (!flags.type.empty()) {
    absl::StatusOr<v1::Payload> payload =
        PayloadFromFlags(flags.type, flags.payload.empty() ? "{}" : flags.payload);
    if (!payload.ok()) return FailUsage(payload.status());
    v1::Event e;
    *e.mutable_payload() = *payload;
    events.push_back(std::move(e));
  } else {
    std::stringstream text;
    if (flags.file.empty() || flags.file == "-") {
      text << std::cin.rdbuf();
    } else {
      if (absl::Status s = CheckReadableFile("--file", flags.file); !s.ok()) return FailIo(s);
      std::ifstream in(flags.file);
      if (!in) return FailIo(absl::NotFoundError(absl::StrCat("--file: cannot open ", flags.file)));
      text << in.rdbuf();
    }
    absl::StatusOr<std::vector<v1::Event>> parsed = EventsFromJson(text.str());
    if (!parsed.ok()) return FailUsage(parsed.status());
    events = std::move(*parsed);
    if (events.size() > 1 && !flags.event_id.empty()) {
      return FailUsage(absl::InvalidArgumentError(absl::StrCat(
          "--event-id names one event, and the input holds ", events.size(),
          ": give each its own eventId in the JSON")));
    }
  }
  // What this command made up (ids, times), for a retry that must send the
  // same events: as flags for an event made from flags, else the events
  // themselves, as JSON lines to give it again.
  std::vector<std::string> made_up;
  for (v1::Event& e : events) {
    const bool had_id = !e.event_id().empty() || !flags.event_id.empty();
    if (absl::Status s = FillDefaults(flags, &e); !s.ok()) return FailUsage(s);
    if (!had_id) {
      made_up.push_back(
          !flags.type.empty()
              ? absl::StrCat("--event-id=", e.event_id(), " --occurred-at=",
                             absl::FormatTime(absl::RFC3339_full, FromProtoTime(e.occurred_at()),
                                              absl::UTCTimeZone()))
              : ToJsonLine(e));
    }
    *request.add_events() = std::move(e);
  }
  auto channel = context.Channel();
  if (!channel.ok()) return FailLocal(channel.status());
  clients::EventLogClient client(v1::EventLog::NewStub(*channel));
  absl::StatusOr<v1::AppendResponse> response = client.Append(request);
  if (!response.ok()) {
    if (MayHaveBeenRecorded(response.status())) {
      if (!made_up.empty()) {
        std::fprintf(stderr,
                     "evenhand: the events may or may not have been recorded; to retry without "
                     "recording any twice, send them again with the ids and times this command "
                     "gave them (%s):\n",
                     flags.type.empty() ? "these events, as input" : "these flags");
        for (const std::string& m : made_up) std::fprintf(stderr, "  %s\n", m.c_str());
      } else {
        // Every id was given: said all the same (an outside probe saw only
        // "CANCELLED: CANCELLED" from a server stopping).
        std::fprintf(stderr,
                     "evenhand: the events may or may not have been recorded; to retry without "
                     "recording any twice, send them again with the same ids\n");
      }
    } else if (absl::IsUnavailable(response.status())) {
      // Said, since UNAVAILABLE is also what a lost answer looks like.
      std::fprintf(stderr,
                   "evenhand: this request recorded none of these events (%s); any sent before "
                   "with the same ids may be recorded already\n",
                   NeverConnected(response.status()) ? "it never reached a server"
                                                     : "the server refused it before writing");
    }
    return FailServer(response.status(), context);
  }
  std::printf("%s\n", ToJsonLine(*response).c_str());
  return kOk;
}

}  // namespace

void AddAppend(Registry& r) {
  auto flags = std::make_shared<AppendFlags>();
  CLI::App* cmd =
      r.Add("append",
            "append events to a stream: JSON events on stdin (one object, an array or one per "
            "line), or one event from --type and --payload",
            [flags](const Context& c) { return RunAppend(c, *flags); });
  cmd->add_option("--stream", flags->stream, "stream id, e.g. briefing-B-1001")->required();
  cmd->add_option("--expected", flags->expected,
                  "expected revision: any, no_stream, exists (any case) or a number")
      ->transform(AnyCase())
      ->capture_default_str();
  cmd->add_option("--file", flags->file, "read events from this file instead of stdin");
  cmd->add_option("--type", flags->type, "event type, e.g. BriefingRequested");
  cmd->add_option("--payload", flags->payload, "the event's fields as JSON, with --type");
  cmd->add_option("--source", flags->source, "source_system of the events")->capture_default_str();
  cmd->add_option("--actor", flags->actor, "actor (default $USER)");
  cmd->add_option("--occurred-at", flags->occurred_at,
                  "RFC 3339 time (default now; required with --event-id)");
  cmd->add_option("--event-id", flags->event_id,
                  "UUID (default a new one); with --occurred-at, running the command again "
                  "records the event once");
  cmd->add_option("--correlation-id", flags->correlation_id, "correlation id");
  cmd->add_option("--causation-id", flags->causation_id, "causation id");
}

}  // namespace evenhand::cli
