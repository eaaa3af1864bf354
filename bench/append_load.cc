// append_load: N concurrent gRPC clients appending durable events.
//
//   build/bench/append_load [--clients=1,16,64] [--seconds=5] [--events_per_append=1]
//                           [--server=HOST:PORT]
//
// Without --server it starts evenhandd's server in-process on 127.0.0.1 with
// a fresh RocksDB folder under $TMPDIR (removed afterwards). Every append is
// acknowledged only after its fsync, so the figures are durable throughput;
// each is a new written-query case, validated as in production.
// Prints one row per client count: appends/s, events/s, p50/p99 latency.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "base/logging.h"
#include "base/uuid.h"
#include "evenhand/v1/log.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "server/server.h"

ABSL_FLAG(std::string, clients, "1,16,64", "comma-separated concurrent client counts");
ABSL_FLAG(int, seconds, 5, "measured seconds per client count (after 1 s warm-up)");
ABSL_FLAG(int, events_per_append, 1, "events in each Append");
ABSL_FLAG(int, payload_bytes, 200, "approximate size of each event's payload text");
ABSL_FLAG(std::string, server, "", "target an existing server instead of an in-process one");

namespace evenhand::bench {
namespace {

struct Row {
  int clients = 0;
  double appends_per_s = 0, events_per_s = 0, p50_ms = 0, p99_ms = 0;
  uint64_t errors = 0;
};

// A councillor's written query arriving (and, for more events per append,
// answered): a new case each time, so the server's domain validation and
// its NO_STREAM check for opening a case run as in production.
v1::AppendRequest MakeRequest(const std::string& run, int client, uint64_t n, int events,
                              int payload_bytes) {
  const std::string id = absl::StrCat(run, "-", client, "-", n);
  v1::AppendRequest r;
  r.set_stream_id(absl::StrCat("query-", id));
  const int64_t now_s = absl::ToUnixSeconds(absl::Now());
  for (int i = 0; i < events; ++i) {
    v1::Event* e = r.add_events();
    e->set_event_id(NewUuid());
    e->mutable_occurred_at()->set_seconds(now_s);
    e->set_source_system("bench");
    if (i == 0) {
      auto* q = e->mutable_payload()->mutable_written_query_received();
      q->set_query_id(id);
      q->set_member_id("m-bench");
      q->set_addressed_to_officer_id("o-bench");
      q->set_subject(std::string(static_cast<size_t>(payload_bytes), 's'));
    } else {
      auto* a = e->mutable_payload()->mutable_written_query_answered();
      a->set_query_id(id);
      a->set_officer_id("o-bench");
    }
  }
  return r;
}

// The councillor and officer the queries name.
bool RegisterCast(v1::EventLog::Stub& stub) {
  for (int i = 0; i < 2; ++i) {
    v1::AppendRequest r;
    v1::Event* e = r.add_events();
    e->set_event_id(NewUuid());
    e->mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(absl::Now()));
    e->set_source_system("bench");
    if (i == 0) {
      r.set_stream_id("member-m-bench");
      e->mutable_payload()->mutable_member_registered()->set_member_id("m-bench");
      e->mutable_payload()->mutable_member_registered()->set_name("Cllr Bench");
    } else {
      r.set_stream_id("officer-o-bench");
      e->mutable_payload()->mutable_officer_registered()->set_officer_id("o-bench");
      e->mutable_payload()->mutable_officer_registered()->set_name("Officer Bench");
      e->mutable_payload()->mutable_officer_registered()->set_role(v1::HEAD_OF_SERVICE);
    }
    grpc::ClientContext context;
    v1::AppendResponse response;
    grpc::Status s = stub.Append(&context, r, &response);
    // An existing server may have them already.
    if (!s.ok() && s.error_code() != grpc::StatusCode::FAILED_PRECONDITION) {
      std::fprintf(stderr, "cannot register the bench councillor: %s\n", s.error_message().c_str());
      return false;
    }
  }
  return true;
}

Row Measure(const std::string& address, int clients, absl::Duration duration, int events,
            int payload_bytes) {
  const std::string run = NewUuid().substr(0, 8);
  // A few connections shared by the clients, as a real integration would.
  const int channel_count = std::min(clients, 8);
  std::vector<std::unique_ptr<v1::EventLog::Stub>> stubs;
  for (int c = 0; c < channel_count; ++c) {
    grpc::ChannelArguments args;
    args.SetInt("evenhand.bench.channel", c);  // distinct args: distinct connections
    stubs.push_back(v1::EventLog::NewStub(
        grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args)));
  }
  std::atomic<bool> measuring{false}, stop{false};
  std::vector<std::vector<double>> latencies(clients);
  std::atomic<uint64_t> errors{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      v1::EventLog::Stub& stub = *stubs[c % channel_count];
      for (uint64_t n = 0; !stop.load(std::memory_order_relaxed); ++n) {
        v1::AppendRequest request = MakeRequest(run, c, n, events, payload_bytes);
        grpc::ClientContext context;
        context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
        v1::AppendResponse response;
        absl::Time start = absl::Now();
        grpc::Status status = stub.Append(&context, request, &response);
        double ms = absl::ToDoubleMilliseconds(absl::Now() - start);
        if (!measuring.load(std::memory_order_relaxed)) continue;
        if (!status.ok()) {
          if (errors++ == 0) {
            std::fprintf(stderr, "append failed: %s\n", status.error_message().c_str());
          }
          continue;
        }
        latencies[c].push_back(ms);
      }
    });
  }
  absl::SleepFor(absl::Seconds(1));  // warm-up: connections, caches, memtables
  measuring = true;
  absl::Time start = absl::Now();
  absl::SleepFor(duration);
  measuring = false;
  absl::Duration elapsed = absl::Now() - start;
  stop = true;
  for (auto& t : threads) t.join();

  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  Row row;
  row.clients = clients;
  row.errors = errors;
  double seconds = absl::ToDoubleSeconds(elapsed);
  row.appends_per_s = all.size() / seconds;
  row.events_per_s = row.appends_per_s * events;
  if (!all.empty()) {
    row.p50_ms = all[all.size() / 2];
    row.p99_ms = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  }
  return row;
}

int Main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  logging::SetMinimumSeverity(logging::Severity::kWarning);
  std::vector<int> counts;
  for (absl::string_view part : absl::StrSplit(absl::GetFlag(FLAGS_clients), ',')) {
    int n;
    if (!absl::SimpleAtoi(part, &n) || n <= 0) {
      std::fprintf(stderr, "--clients: not a positive number: %s\n", std::string(part).c_str());
      return 2;
    }
    counts.push_back(n);
  }
  std::string address = absl::GetFlag(FLAGS_server);
  std::unique_ptr<server::EvenHandServer> server;
  std::string data_dir;
  if (address.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    data_dir = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/evenhand-bench-", NewUuid());
    server::ServerOptions options;
    options.config.set_listen("127.0.0.1:0");
    options.config.set_data_dir(data_dir);
    auto started = server::EvenHandServer::Start(options);
    if (!started.ok()) {
      std::fprintf(stderr, "cannot start the server: %s\n", started.status().ToString().c_str());
      return 1;
    }
    server = std::move(*started);
    address = server->address();
  }
  const int events = absl::GetFlag(FLAGS_events_per_append);
  {
    auto stub = v1::EventLog::NewStub(
        grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
    if (!RegisterCast(*stub)) return 1;
  }
  std::printf("durable appends over gRPC to %s (%s), %d event(s) per append, %d s per row\n",
              address.c_str(), server ? "in-process server, fresh RocksDB" : "external server",
              events, absl::GetFlag(FLAGS_seconds));
  std::printf("%8s %12s %12s %9s %9s %7s\n", "clients", "appends/s", "events/s", "p50 ms",
              "p99 ms", "errors");
  for (int clients : counts) {
    Row r = Measure(address, clients, absl::Seconds(absl::GetFlag(FLAGS_seconds)), events,
                    absl::GetFlag(FLAGS_payload_bytes));
    std::printf("%8d %12.0f %12.0f %9.2f %9.2f %7llu\n", r.clients, r.appends_per_s,
                r.events_per_s, r.p50_ms, r.p99_ms, static_cast<unsigned long long>(r.errors));
    std::fflush(stdout);
  }
  if (server) {
    server->Shutdown(absl::Seconds(5));
    server.reset();
    std::error_code ignored;
    std::filesystem::remove_all(data_dir, ignored);
  }
  return 0;
}

}  // namespace
}  // namespace evenhand::bench

int main(int argc, char** argv) { return evenhand::bench::Main(argc, argv); }
