// evenhand_bench: the benchmark suite, in one go, printing one table.
//
//   scripts/bench                       # what the README documents
//   build/bench/evenhand_bench [--clients=1,16,64] [--seconds=5] [--events=1000000]
//                              [--parts=appends,scale] [--postgres=auto|off]
//                              [--scale_years=N] [--keep_scale_log=DIR]
//
// Durable appends, the same records at the same concurrency, three ways:
//   raw-rocksdb  the records written straight to RocksDB (WriteBatch,
//                sync=true) by N threads: RocksDB's own group commit, no
//                network, no validation, no hashing: the physical ceiling;
//   postgres     one INSERT transaction per append into an append-only
//                events table (position, unique event id, unique stream and
//                revision) in a real PostgreSQL started here on a temporary
//                data folder and a loopback port, synchronous_commit=on;
//   evenhand     evenhandd (a child process) over gRPC on loopback, each
//                append a new written-query case, validated as in production.
// Then evenhand at half of its best rate, offered open loop once it has
// caught up with the runs above, with its own view of that run (/metrics:
// Append p99, the synced writes' p99) and raw RocksDB offered the same rate
// (the disk's floor for the latency).
// Then, on a log of --events events (a generated council history):
//   replay (ReadAll over gRPC), projection rebuild, the fairness report for
//   the current quarter, inclusion proofs over gRPC, and the server's RSS.
//   build/bench/evenhand_bench --parts=reports --server=host:port
// times 200 reports of the current quarter and of the year against a
// running server (a kept scale log, without the whole scale part).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "base/logging.h"
#include "base/time_util.h"
#include "base/uuid.h"
#include "bench/baselines.h"
#include "bench/append_driver.h"
#include "bench/bench_process.h"
#include "bench/bench_support.h"
#include "bench/scale_part.h"
#include "bench/stream_appends.h"
#include "bench/checkpoint_cadence.h"
#include "demo/council_generator.h"
#include "evenhand/v1/audit.grpc.pb.h"
#include "evenhand/v1/fairness.grpc.pb.h"
#include "evenhand/v1/log.grpc.pb.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "integrity/integrity_log.h"
#include "libpq-fe.h"
#include "projections/projection_runner.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"
#include "services/event_validation.h"
#include "storage/event_store.h"
#include "tests/testing/jwt.h"

#ifndef EVENHANDD_PATH
#error "EVENHANDD_PATH must name the evenhandd binary"
#endif

ABSL_FLAG(std::string, clients, "1,16,64", "concurrent clients for the append runs");
ABSL_FLAG(int, seconds, 5, "measured seconds per append run (after 1 s of warm-up)");
ABSL_FLAG(uint64_t, events, 1000000, "size of the log for the replay/rebuild/report/proof runs");
ABSL_FLAG(std::string, parts, "appends,subscribers,security,scale", "which parts to run");
ABSL_FLAG(int, idle_subscribers, 1000,
          "subscribers that never read, for the subscribers part (appends with and without them)");
ABSL_FLAG(std::string, postgres, "auto", "auto: run PostgreSQL if installed; off");
ABSL_FLAG(std::string, evenhandd, "",
          "the evenhandd binary to start (default: the one built with this benchmark), to "
          "compare another build in the same conditions");
ABSL_FLAG(std::string, server, "",
          "append to this running evenhandd (host:port) instead of starting one (for "
          "profiling it); with --parts=reports, time its current quarter's and year's reports");
ABSL_FLAG(int, scale_years, 0,
          "years of history in the scale part's log (0: as many as the events take at 200,000 "
          "a year, at least 5; 5 gives a denser council at 10M)");
ABSL_FLAG(std::string, keep_scale_log, "",
          "write the scale part's log into this folder and keep it (for profiling evenhandd "
          "on it afterwards); default: a temporary folder, removed");

namespace evenhand::bench {
namespace {

namespace fs = std::filesystem;

// ---- evenhandd as a child ------------------------------------------------------------

// evenhandd's appends through gRPC's callback API, as an integrating system
// would send them: no thread per call, so the load generator, which shares
// this machine's two cores with the server, takes as little CPU as it can.
//   rate == 0: closed loop, `clients` appends always in flight;
//   rate > 0:  open loop, an append started every 1/rate s whatever the
//              answers, its latency counted from when it was due (so a
//              server falling behind cannot hide its queue).
class AsyncAppends {
 public:
  AsyncAppends(std::vector<std::shared_ptr<v1::EventLog::Stub>> stubs, std::string run)
      : stubs_(std::move(stubs)), run_(std::move(run)) {}

  Row Drive(const std::string& system, int clients, double rate, absl::Duration measure) {
    const absl::Time warm_up_end = absl::Now() + absl::Seconds(1);
    {
      absl::MutexLock lock(&mu_);
      measure_from_ = warm_up_end;
      measure_to_ = warm_up_end + measure;
    }
    const absl::Time end = warm_up_end + measure;
    double pacer_p99_ms = 0;
    if (rate <= 0) {
      for (int c = 0; c < clients; ++c) Start(absl::Now(), /*closed_loop=*/true);
      absl::SleepFor(end - absl::Now());
    } else {
      const absl::Time t0 = absl::Now();
      std::vector<double> pacer_late_ms;
      for (uint64_t i = 0;; ++i) {
        const absl::Time due = t0 + absl::Seconds(static_cast<double>(i) / rate);
        if (due >= end) break;
        absl::SleepFor(due - absl::Now());
        const double late_ms = absl::ToDoubleMilliseconds(absl::Now() - due);
        if (due >= warm_up_end) pacer_late_ms.push_back(late_ms);
        Start(due, /*closed_loop=*/false);
      }
      std::sort(pacer_late_ms.begin(), pacer_late_ms.end());
      pacer_p99_ms = Percentile(pacer_late_ms, 0.99);
    }
    absl::MutexLock lock(&mu_);
    stop_ = true;
    auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return outstanding_ == 0; };
    mu_.Await(absl::Condition(&idle));
    std::sort(ms_.begin(), ms_.end());
    Row row;
    row.system = system;
    row.clients = clients;
    row.errors = errors_;
    row.note = first_error_;
    row.events_per_s = ms_.size() / absl::ToDoubleSeconds(measure);
    row.p50_ms = Percentile(ms_, 0.5);
    row.p99_ms = Percentile(ms_, 0.99);
    row.pacer_p99_ms = pacer_p99_ms;
    return row;
  }

 private:
  struct Call {
    grpc::ClientContext context;
    v1::AppendRequest request;
    v1::AppendResponse response;
    absl::Time due;
    bool closed_loop;
  };

  void Start(absl::Time due, bool closed_loop) {
    auto* call = new Call;
    call->due = due;
    call->closed_loop = closed_loop;
    uint64_t n;
    {
      absl::MutexLock lock(&mu_);
      n = next_++;
      ++outstanding_;
    }
    const std::string id = absl::StrCat(run_, "-", n);
    call->request.set_stream_id(absl::StrCat("query-", id));
    *call->request.add_events() = QueryEvent(id);
    v1::EventLog::Stub* stub = stubs_[n % stubs_.size()].get();
    stub->async()->Append(&call->context, &call->request, &call->response,
                          [this, call](grpc::Status s) { Done(call, s); });
  }

  void Done(Call* call, const grpc::Status& s) {
    const absl::Time now = absl::Now();
    bool again;
    {
      absl::MutexLock lock(&mu_);
      // Counted if it was due within the measured window and answered by
      // its end (throughput), timed from when it was due (latency).
      if (call->due >= measure_from_ && now <= measure_to_) {
        if (s.ok()) {
          ms_.push_back(absl::ToDoubleMilliseconds(now - call->due));
        } else if (errors_++ == 0) {
          first_error_ = absl::StrCat(s.error_code(), ": ", s.error_message());
        }
      }
      --outstanding_;
      again = call->closed_loop && !stop_ && now < measure_to_;
    }
    delete call;
    // Closed loop: the next append of this "client" starts now.
    if (again) Start(now, /*closed_loop=*/true);
  }

  const std::vector<std::shared_ptr<v1::EventLog::Stub>> stubs_;
  const std::string run_;
  absl::Mutex mu_;
  uint64_t next_ ABSL_GUARDED_BY(mu_) = 0;
  int outstanding_ ABSL_GUARDED_BY(mu_) = 0;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time measure_from_ ABSL_GUARDED_BY(mu_), measure_to_ ABSL_GUARDED_BY(mu_);
  std::vector<double> ms_ ABSL_GUARDED_BY(mu_);
  uint64_t errors_ ABSL_GUARDED_BY(mu_) = 0;
  std::string first_error_ ABSL_GUARDED_BY(mu_);
};

bool RegisterCast(v1::EventLog::Stub& stub) {
  for (int i = 0; i < 2; ++i) {
    v1::AppendRequest r;
    v1::Event* e = r.add_events();
    e->set_event_id(NewUuid());
    *e->mutable_occurred_at() = ToProtoTime(absl::Now());
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
    if (!s.ok() && s.error_code() != grpc::StatusCode::FAILED_PRECONDITION) return false;
  }
  return true;
}

// ---- appends with subscribers that never read -----------------------------------

// A subscription that is opened and never read.
class IdleSubscriber final : public grpc::ClientReadReactor<v1::SubscribeResponse> {
 public:
  IdleSubscriber(v1::EventLog::Stub* stub, bool from_start) {
    if (from_start) {
      request_.set_from_position(1);
    } else {
      request_.set_from_end(true);
    }
    stub->async()->Subscribe(&context_, &request_, this);
    StartCall();
  }
  void Cancel() { context_.TryCancel(); }
  void OnDone(const grpc::Status&) override { done_.Notify(); }
  void WaitDone() { done_.WaitForNotification(); }

 private:
  grpc::ClientContext context_;
  v1::SubscribeRequest request_;
  absl::Notification done_;
};

struct SubscriberFigures {
  int subscribers = 0;
  double without = 0, with = 0, after = 0;  // events/s at 16 clients
  size_t rss_without_mib = 0, rss_with_mib = 0, rss_after_mib = 0;
};

// Appends at 16 clients without idle subscribers, with them, and after they
// have gone, in one run against one server.
SubscriberFigures IdleSubscribers(int count, absl::Duration seconds) {
  SubscriberFigures f;
  f.subscribers = count;
  const std::string dir = TempDir("subscribers");
  {
    Child child(dir + "/data");
    const std::string address = child.address();
    {
      auto stub = v1::EventLog::NewStub(Channel(address));
      RegisterCast(*stub);
    }
    std::vector<std::shared_ptr<v1::EventLog::Stub>> stubs;
    for (int i = 0; i < 8; ++i) stubs.push_back(v1::EventLog::NewStub(Channel(address, i)));
    f.without = AsyncAppends(stubs, NewUuid().substr(0, 6)).Drive("evenhand", 16, 0, seconds).events_per_s;
    f.rss_without_mib = RssMib(child.pid());
    std::vector<std::unique_ptr<v1::EventLog::Stub>> sub_stubs;
    for (int i = 0; i < 10; ++i) {
      grpc::ChannelArguments args;
      args.SetInt("evenhand.bench.channel", 100 + i);
      sub_stubs.push_back(v1::EventLog::NewStub(
          grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args)));
    }
    std::vector<std::unique_ptr<IdleSubscriber>> subscribers;
    for (int i = 0; i < count; ++i) {
      subscribers.push_back(std::make_unique<IdleSubscriber>(sub_stubs[i % 10].get(), i % 2 == 0));
    }
    absl::SleepFor(absl::Seconds(1));
    f.with = AsyncAppends(stubs, NewUuid().substr(0, 6)).Drive("evenhand", 16, 0, seconds).events_per_s;
    f.rss_with_mib = RssMib(child.pid());
    for (auto& s : subscribers) s->Cancel();
    for (auto& s : subscribers) s->WaitDone();
    absl::SleepFor(absl::Seconds(2));
    f.after = AsyncAppends(stubs, NewUuid().substr(0, 6)).Drive("evenhand", 16, 0, seconds).events_per_s;
    f.rss_after_mib = RssMib(child.pid());
  }
  std::error_code ignored;
  fs::remove_all(dir, ignored);
  return f;
}

// ---- the trust boundary's cost ---------------------------------------------------------------

// Appends (16 clients) and reads (one client, one after another: each is
// recorded in the log before it answers) against one fresh server per mode:
// plain text with reads not recorded, local mode (plain text, reads
// recorded), mTLS with a client certificate, and TLS with a bearer token
// (an RS256 JWT verified on every call).
struct SecurityRow {
  std::string mode;
  Row appends;
  double reads_per_s = 0, read_p50_ms = 0, read_p99_ms = 0;
  std::string note;
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<SecurityRow> TrustBoundaryCost(absl::Duration seconds) {
  std::vector<SecurityRow> rows;
  const std::string dir = TempDir("security");
  const std::string certs = dir + "/certs";
  if (std::system(absl::StrCat(MAKE_CERTS_PATH, " ", certs, " > /dev/null").c_str()) != 0) {
    std::fprintf(stderr, "evenhand: scripts/make-certs failed; skipping the TLS figures\n");
    return rows;
  }
  const std::string plain_unrecorded = dir + "/plain-unrecorded.json";
  std::ofstream(plain_unrecorded) << R"({"security": {"local": {"doNotRecordReads": true}}})";
  const std::string tls = dir + "/tls.json";
  std::ofstream(tls) << absl::StrCat(
      R"({"security": {"tls": {"certFile": ")", certs, R"(/server.pem", "keyFile": ")", certs,
      R"(/server.key", "clientCaFile": ")", certs, R"(/ca.pem"},
       "oidc": {"issuer": "https://login.demo.council", "audiences": ["evenhand"],
                "jwksFile": ")", certs, R"(/jwks.json"},
       "principals": [{"name": "bench", "certificateNames": ["case-system.demo.council"],
                       "tokenSubjects": ["bench-person"], "roles": ["publisher:bench", "auditor"]}],
       "publishers": [{"system": "bench", "eventTypes": ["*"], "streamKinds": ["*"]}],
       "limits": {"requestsPerSecond": 1000000, "burst": 1000000}}})");
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  const std::string token = testing::SignJwt(
      certs + "/idp-rsa.key", "RS256", "idp-rsa",
      absl::StrCat(R"({"iss":"https://login.demo.council","aud":"evenhand","sub":"bench-person",)",
                   R"("iat":)", now, R"(,"exp":)", now + 7200, "}"));
  grpc::SslCredentialsOptions mtls;
  mtls.pem_root_certs = ReadAll(certs + "/ca.pem");
  mtls.pem_cert_chain = ReadAll(certs + "/case-system.pem");
  mtls.pem_private_key = ReadAll(certs + "/case-system.key");
  grpc::SslCredentialsOptions server_only;
  server_only.pem_root_certs = mtls.pem_root_certs;
  struct Mode {
    std::string name, config;
    std::shared_ptr<grpc::ChannelCredentials> credentials;
  };
  const std::vector<Mode> modes = {
      {"plain, reads not recorded", plain_unrecorded, grpc::InsecureChannelCredentials()},
      {"plain (local mode)", "", grpc::InsecureChannelCredentials()},
      {"mTLS (certificate)", tls, grpc::SslCredentials(mtls)},
      {"TLS + token (RS256)", tls,
       grpc::CompositeChannelCredentials(grpc::SslCredentials(server_only),
                                         grpc::AccessTokenCredentials(token))},
  };
  for (size_t m = 0; m < modes.size(); ++m) {
    const Mode& mode = modes[m];
    SecurityRow row;
    row.mode = mode.name;
    const std::string data = absl::StrCat(dir, "/data-", m);
    std::vector<std::string> extra;
    if (!mode.config.empty()) extra.push_back("--config=" + mode.config);
    Child child(data, extra);
    const std::string address = child.address();
    {
      auto stub = v1::EventLog::NewStub(Channel(address, 0, mode.credentials));
      if (!RegisterCast(*stub)) row.note = "cannot register the cast";
    }
    std::vector<std::shared_ptr<v1::EventLog::Stub>> stubs;
    for (int i = 0; i < 8; ++i) stubs.push_back(v1::EventLog::NewStub(Channel(address, i, mode.credentials)));
    const std::string run = NewUuid().substr(0, 6);
    row.appends = AsyncAppends(stubs, run).Drive(mode.name, 16, 0, seconds);
    // Reads of one small stream, one after another.
    v1::ReadStreamRequest read;
    read.set_stream_id(absl::StrCat("query-", run, "-0"));
    std::vector<double> ms;
    const absl::Time end = absl::Now() + seconds;
    while (absl::Now() < end) {
      grpc::ClientContext context;
      const absl::Time t0 = absl::Now();
      auto reader = stubs[0]->ReadStream(&context, read);
      v1::ReadResponse chunk;
      while (reader->Read(&chunk)) {
      }
      grpc::Status s = reader->Finish();
      if (!s.ok()) {
        row.note = absl::StrCat("read: ", s.error_code(), ": ", s.error_message());
        break;
      }
      ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
    }
    std::sort(ms.begin(), ms.end());
    row.reads_per_s = ms.size() / absl::ToDoubleSeconds(seconds);
    row.read_p50_ms = Percentile(ms, 0.5);
    row.read_p99_ms = Percentile(ms, 0.99);
    rows.push_back(row);
    std::printf(".");
    std::fflush(stdout);
  }
  std::error_code ignored;
  fs::remove_all(dir, ignored);
  return rows;
}

// ---- scale ---------------------------------------------------------------------------------

std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown CPU";
}

int Main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  SetEvenhanddPath(absl::GetFlag(FLAGS_evenhandd));
  logging::SetMinimumSeverity(logging::Severity::kWarning);
  std::vector<int> counts;
  for (absl::string_view part : absl::StrSplit(absl::GetFlag(FLAGS_clients), ',')) {
    int n;
    if (absl::SimpleAtoi(part, &n) && n > 0) counts.push_back(n);
  }
  const std::string parts = absl::GetFlag(FLAGS_parts);
  const absl::Duration seconds = absl::Seconds(absl::GetFlag(FLAGS_seconds));
  std::printf("Even Hand benchmark: %u cores (%s), %s\n", std::thread::hardware_concurrency(),
              CpuModel().c_str(), absl::FormatTime("%Y-%m-%d %H:%M UTC", absl::Now(),
                                                   absl::UTCTimeZone()).c_str());
  std::fflush(stdout);

  std::vector<Row> rows;
  CheckpointCadence cadence;
  Row half_peak, half_peak_raw;
  absl::Duration half_peak_wait;
  double half_rate = 0;
  if (parts.find("appends") != std::string::npos) {
    const bool pg = absl::GetFlag(FLAGS_postgres) != "off" && Postgres::Installed();
    std::unique_ptr<Postgres> postgres;
    if (pg) postgres = std::make_unique<Postgres>();
    const std::string dir = TempDir("evenhand");
    std::unique_ptr<Child> child;
    std::string address = absl::GetFlag(FLAGS_server);
    std::string metrics;
    if (address.empty()) {
      child = std::make_unique<Child>(dir + "/data");
      address = child->address();
      metrics = child->metrics_address();
    }
    {
      auto stub = v1::EventLog::NewStub(Channel(address));
      if (!RegisterCast(*stub)) std::fprintf(stderr, "evenhand: cannot register the cast\n");
    }
    double peak = 0;  // evenhand's best closed-loop events/s
    std::vector<std::shared_ptr<v1::EventLog::Stub>> peak_stubs;
    for (int clients : counts) {
      RawRocks raw;
      rows.push_back(Settled([&] {
        return Drive("raw-rocksdb", clients, seconds, [&](int c) -> Append {
          return [&raw, c](uint64_t n) { return raw.Append(c, n); };
        });
      }));
      const std::string run = NewUuid().substr(0, 6);
      if (postgres && postgres->ok()) {
        rows.push_back(Settled([&] {
          return Drive("postgres", clients, seconds, [&, run](int c) -> Append {
            PGconn* conn = postgres->Connect();
            if (conn == nullptr || !Postgres::Prepare(conn)) {
              return [](uint64_t) { return std::string("cannot connect or prepare"); };
            }
            auto shared = std::shared_ptr<PGconn>(conn, PQfinish);
            return [shared, run, c](uint64_t n) {
              return Postgres::Insert(shared.get(), run, c, n);
            };
          });
        }));
      }
      std::vector<std::shared_ptr<v1::EventLog::Stub>> stubs;
      for (int i = 0; i < std::min(clients, 8); ++i) {
        stubs.push_back(v1::EventLog::NewStub(Channel(address, i)));
      }
      rows.push_back(Settled([&] {
        return WithWrites(metrics, [&] {
          return AsyncAppends(stubs, run).Drive("evenhand", clients, 0, seconds);
        });
      }));
      if (rows.back().events_per_s > peak) {
        peak = rows.back().events_per_s;
        peak_stubs = stubs;
      }
      // The same appends over AppendStream: one call per publisher, each
      // with up to 32 requests unanswered.
      if (absl::GetFlag(FLAGS_server).empty()) {
        auto as_row = [clients](const char* system, const StreamFigures& figures) {
          Row r;
          r.system = system;
          r.clients = clients;
          r.events_per_s = figures.events_per_s;
          r.p50_ms = figures.p50_ms;
          r.p99_ms = figures.p99_ms;
          r.errors = figures.errors;
          r.note = figures.note;
          return r;
        };
        rows.push_back(Settled([&] {
          return WithWrites(metrics, [&] {
            return as_row("stream", StreamAppends(address, clients, 32, seconds));
          });
        }));
        // And through the publisher library, which sends over AppendStream.
        rows.push_back(Settled([&] {
          return WithWrites(metrics, [&] {
            return as_row("publisher", PublisherAppends(address, clients, 32, seconds));
          });
        }));
      }
      std::printf(".");
      std::fflush(stdout);
    }
    // Latency at half of that peak, offered open loop.
    if (peak > 0) {
      // From a server that has caught up with the runs above (its fold, the
      // fold's checkpoint, written once the log is quiet, and its
      // checkpoints' stream-head map, which trail a closed loop by
      // seconds): the latency of this rate, not of their backlog.
      if (!metrics.empty()) {
        const absl::Time waited_from = absl::Now();
        for (int i = 0; i < 1200; ++i) {
          std::map<std::string, double> m = ScrapeMetrics(metrics);
          if (m["evenhand_projection_lag_events"] == 0 &&
              m["evenhand_projection_unsaved_events"] == 0 &&
              m["evenhand_unsigned_events"] < 10000) {
            break;
          }
          absl::SleepFor(absl::Milliseconds(100));
        }
        half_peak_wait = absl::Now() - waited_from;
      }
      half_peak = Settled([&] {
        return WithWrites(metrics, [&] {
          return AsyncAppends(peak_stubs, NewUuid().substr(0, 6))
              .Drive("evenhand", 0, peak / 2, seconds);
        });
      });
      half_rate = peak / 2;
    }
    // The checkpoints signed through all of it (the server's default
    // cadence, 10,000 events).
    if (child) cadence = MeasureCheckpointCadence(Channel(address), 10000);
    if (child && !metrics.empty()) {
      // The stream-head map's cost: the checkpoint thread's CPU for it,
      // per event the server holds (every append above opened a stream).
      std::map<std::string, double> m = ScrapeMetrics(metrics);
      cadence.map_cpu_s = m["evenhand_stream_map_cpu_seconds_total"];
      cadence.map_heads = static_cast<uint64_t>(m["evenhand_stream_map_heads_written_total"]);
      cadence.events = static_cast<uint64_t>(m["evenhand_log_last_position"]);
    }
    if (half_rate > 0) {
      // The floor under it: raw RocksDB's synced writes offered the same
      // rate from as many threads as evenhand's largest run had clients
      // (the disk's fsync tail, which no server on it beats), once the
      // server has stopped.
      child.reset();
      RawRocks raw;
      const int threads = *std::max_element(counts.begin(), counts.end());
      half_peak_raw = Settled([&] {
        return Drive(
            "raw-rocksdb", threads, seconds,
            [&](int c) -> Append { return [&raw, c](uint64_t n) { return raw.Append(c, n); }; },
            half_rate);
      });
    }
    std::printf("\n");
    postgres.reset();
    std::error_code ignored;
    fs::remove_all(dir, ignored);
  }
  SubscriberFigures subscribers;
  if (parts.find("subscribers") != std::string::npos) {
    subscribers = IdleSubscribers(absl::GetFlag(FLAGS_idle_subscribers), seconds);
  }
  std::vector<SecurityRow> security;
  if (parts.find("security") != std::string::npos) security = TrustBoundaryCost(seconds);
  ScaleFigures scale;
  if (parts.find("reports") != std::string::npos) {
    if (absl::GetFlag(FLAGS_server).empty()) {
      std::fprintf(stderr, "--parts=reports times a running server's reports: give --server\n");
      return 2;
    }
    ReportsOnServer(absl::GetFlag(FLAGS_server), 200);
  }
  if (parts.find("scale") != std::string::npos) {
    scale = Scale(absl::GetFlag(FLAGS_events), absl::GetFlag(FLAGS_keep_scale_log),
                  absl::GetFlag(FLAGS_scale_years));
  }

  // ---- the table ------------------------------------------------------------------------
  if (!rows.empty()) {
    std::printf("\ndurable appends, one event per append, %s each after 1 s warm-up\n",
                absl::FormatDuration(seconds).c_str());
    std::printf("%-12s %8s %11s %8s %8s %7s %9s %12s %8s %9s\n", "system", "clients", "events/s",
                "p50 ms", "p99 ms", "errors", "vs raw", "vs postgres", "keys/ev", "bytes/ev");
    for (const Row& r : rows) {
      double raw = 0, pg = 0;
      for (const Row& o : rows) {
        if (o.clients != r.clients) continue;
        if (o.system == "raw-rocksdb") raw = o.events_per_s;
        if (o.system == "postgres") pg = o.events_per_s;
      }
      const bool ours = r.system == "evenhand" || r.system == "stream" || r.system == "publisher";
      std::string vs_raw = ours && raw > 0
                               ? absl::StrFormat("%.2fx", r.events_per_s / raw) : "";
      std::string vs_pg = ours && pg > 0
                              ? absl::StrFormat("%.2fx", r.events_per_s / pg) : "";
      std::string keys = r.keys_per_event > 0 ? absl::StrFormat("%.2f", r.keys_per_event) : "";
      std::string bytes = r.bytes_per_event > 0 ? absl::StrFormat("%.0f", r.bytes_per_event) : "";
      if (r.system == "raw-rocksdb") keys = "3.00";  // its three puts, by construction
      std::printf("%-12s %8d %11.0f %8.2f %8.2f %7llu %9s %12s %8s %9s\n", r.system.c_str(),
                  r.clients, r.events_per_s, r.p50_ms, r.p99_ms,
                  static_cast<unsigned long long>(r.errors), vs_raw.c_str(), vs_pg.c_str(),
                  keys.c_str(), bytes.c_str());
    }
    if (half_peak.events_per_s > 0) {
      std::printf("evenhand at half of its peak, offered open loop at %.0f events/s: %.0f events/s, "
                  "p50 %.2f ms, p99 %.2f ms, %llu errors (generator's own lateness p99 %.2f ms), "
                  "%.2f RocksDB keys and %.0f bytes written per event\n",
                  half_rate, half_peak.events_per_s, half_peak.p50_ms,
                  half_peak.p99_ms, static_cast<unsigned long long>(half_peak.errors),
                  half_peak.pacer_p99_ms, half_peak.keys_per_event, half_peak.bytes_per_event);
      if (half_peak.server_p99_ms >= 0) {
        // Where the time went: inside evenhandd (arrival to answer) and in
        // its synced writes, as its own histograms bucket them.
        std::printf("  evenhandd's own view of that run (/metrics buckets): Append p99 <= %g ms, "
                    "group commit's synced write p99 <= %g ms; started %.1f s after the runs "
                    "above, once it had folded and mapped them\n",
                    half_peak.server_p99_ms, half_peak.fsync_p99_ms,
                    absl::ToDoubleSeconds(half_peak_wait));
      }
      if (half_peak_raw.events_per_s > 0) {
        std::printf("  raw RocksDB offered the same rate from %d threads: %.0f events/s, p50 %.2f "
                    "ms, p99 %.2f ms (the disk's floor)\n",
                    half_peak_raw.clients, half_peak_raw.events_per_s, half_peak_raw.p50_ms,
                    half_peak_raw.p99_ms);
      }
    }
    if (!half_peak.note.empty()) {
      std::printf("  evenhand at half of its peak, first error: %s\n", half_peak.note.c_str());
    }
    for (const Row& r : rows) {
      if (!r.note.empty()) {
        std::printf("  %s at %d clients, first error: %s\n", r.system.c_str(), r.clients,
                    r.note.c_str());
      }
    }
  }
  if (cadence.checkpoints > 0) {
    std::printf("\ncheckpoints signed through the append runs (every 10,000 events): %llu over "
                "%llu events, %llu at exact multiples; largest gap %llu events; signed %.1f ms "
                "(p50), %.1f ms (max) after the event completing a multiple was recorded\n",
                static_cast<unsigned long long>(cadence.checkpoints),
                static_cast<unsigned long long>(cadence.tree_size),
                static_cast<unsigned long long>(cadence.at_multiples),
                static_cast<unsigned long long>(cadence.largest_gap), cadence.lag_p50_ms,
                cadence.lag_max_ms);
    if (cadence.events > 0 && cadence.map_heads > 0) {
      std::printf("stream-head map: %.2f s of the checkpoint thread's CPU for %llu events "
                  "(%llu heads written): %.1f us per event appended, %.1f us per head\n",
                  cadence.map_cpu_s, static_cast<unsigned long long>(cadence.events),
                  static_cast<unsigned long long>(cadence.map_heads),
                  cadence.map_cpu_s * 1e6 / static_cast<double>(cadence.events),
                  cadence.map_cpu_s * 1e6 / static_cast<double>(cadence.map_heads));
    }
  } else if (!cadence.error.empty()) {
    std::printf("\ncheckpoints: %s\n", cadence.error.c_str());
  }
  if (subscribers.subscribers > 0) {
    const double before_after = (subscribers.without + subscribers.after) / 2;
    std::printf("\nappends at 16 clients with %d subscribers that never read (one server, one run)\n",
                subscribers.subscribers);
    std::printf("%-28s %11s %10s\n", "", "events/s", "RSS MiB");
    std::printf("%-28s %11.0f %10zu\n", "without them", subscribers.without,
                subscribers.rss_without_mib);
    std::printf("%-28s %11.0f %10zu   (%.2fx of without, before and after)\n", "with them",
                subscribers.with, subscribers.rss_with_mib,
                before_after > 0 ? subscribers.with / before_after : 0.0);
    std::printf("%-28s %11.0f %10zu\n", "after they cancelled", subscribers.after,
                subscribers.rss_after_mib);
  }
  if (!security.empty()) {
    std::printf("\nthe trust boundary's cost: appends at 16 clients; reads of a 1-event stream one "
                "after another (each recorded in the log first, unless not recorded); one fresh "
                "server per mode, in turn\n");
    std::printf("%-28s %11s %8s %8s %10s %8s %8s %9s\n", "mode", "appends/s", "p50 ms", "p99 ms",
                "reads/s", "p50 ms", "p99 ms", "vs plain");
    const double plain = security.front().appends.events_per_s;
    for (const SecurityRow& r : security) {
      std::printf("%-28s %11.0f %8.2f %8.2f %10.0f %8.2f %8.2f %8.2fx\n", r.mode.c_str(),
                  r.appends.events_per_s, r.appends.p50_ms, r.appends.p99_ms, r.reads_per_s,
                  r.read_p50_ms, r.read_p99_ms, plain > 0 ? r.appends.events_per_s / plain : 0.0);
      if (!r.note.empty()) std::printf("  %s: %s\n", r.mode.c_str(), r.note.c_str());
      if (!r.appends.note.empty()) {
        std::printf("  %s: first append error: %s\n", r.mode.c_str(), r.appends.note.c_str());
      }
    }
  }
  PrintScale(scale);
  return 0;
}

}  // namespace
}  // namespace evenhand::bench

int main(int argc, char** argv) { return evenhand::bench::Main(argc, argv); }
