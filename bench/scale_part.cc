#include "bench/scale_part.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/time_util.h"
#include "base/uuid.h"
#include "bench/bench_process.h"
#include "bench/bench_support.h"
#include "evenhand/v1/audit.grpc.pb.h"
#include "evenhand/v1/fairness.grpc.pb.h"
#include "evenhand/v1/log.grpc.pb.h"
#include "evenhand/v1/operations.grpc.pb.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "integrity/backups.h"
#include "integrity/integrity_log.h"
#include "storage/event_store.h"

namespace evenhand::bench {
namespace {

namespace fs = std::filesystem;

uint64_t FolderBytes(const std::string& dir) {
  uint64_t bytes = 0;
  std::error_code ec;
  for (const auto& f : fs::recursive_directory_iterator(dir, ec)) {
    if (f.is_regular_file(ec)) bytes += f.file_size(ec);
  }
  return bytes;
}

// `*map_s`: the time to build the stream-head map of the whole history
// once it is written (a live server builds it as it goes; a stop would
// leave it to the server's start, which would then build it while the
// projection folds, and the figures below would measure both).
absl::StatusOr<History> Load(const std::string& dir, uint64_t target, int years, double* map_s) {
  storage::StoreOptions so;
  so.data_dir = dir;
  so.extra_column_families = {integrity::IntegrityLog::kColumnFamily};
  auto store = storage::EventStore::Open(so);
  if (!store.ok()) return store.status();
  integrity::IntegrityOptions io;
  io.signing_key_file = dir + "/signing-key.pem";
  io.journal_file = integrity::DefaultJournalPath(dir);
  // Where evenhandd keeps it (server.cc): else the server would build the
  // stream-head map of the whole history again at its first checkpoint.
  io.stream_map_dir = dir + "/stream-map";
  auto log = integrity::IntegrityLog::Open(store->get(), io);
  if (!log.ok()) return log.status();
  const History history = WriteCouncilHistory(store->get(), target, nullptr, years);
  const absl::Time t0 = absl::Now();
  absl::StatusOr<v1::SignedCheckpoint> signed_checkpoint = CheckpointOnceMapBuilt(log->get());
  if (!signed_checkpoint.ok()) return signed_checkpoint.status();
  *map_s = absl::ToDoubleSeconds(absl::Now() - t0);
  (*store)->BeginShutdown();
  (*log)->Stop();
  (void)(*store)->Close();
  return history;
}

// The time to receive the whole log through ReadAll without parsing it (a
// generic call: the messages stay bytes), i.e. what the server and the
// network deliver, apart from the client's protobuf parsing.
absl::Duration ReadAllUnparsed(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  grpc::ClientContext context;
  const absl::Time t0 = absl::Now();
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call =
      stub.PrepareCall(&context, "/evenhand.v1.EventLog/ReadAll", &cq);
  void* tag;
  bool ok;
  call->StartCall(nullptr);
  cq.Next(&tag, &ok);
  grpc::Slice slice(v1::ReadAllRequest().SerializeAsString());
  grpc::ByteBuffer request(&slice, 1);
  call->Write(request, nullptr);
  cq.Next(&tag, &ok);
  call->WritesDone(nullptr);
  cq.Next(&tag, &ok);
  grpc::ByteBuffer chunk;
  for (;;) {
    call->Read(&chunk, nullptr);
    if (!cq.Next(&tag, &ok) || !ok) break;
  }
  grpc::Status status;
  call->Finish(&status, nullptr);
  cq.Next(&tag, &ok);
  const absl::Duration elapsed = absl::Now() - t0;
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  return elapsed;
}

// Operations.Backup of the whole log, then `evenhand restore`'s library
// call on it, timed (the server keeps running: restore reads only the
// backup).
void BackUpAndRestore(const std::string& address, const std::string& dir, ScaleFigures* f) {
  f->data_bytes = FolderBytes(dir + "/data");
  // The first checkpoint after a bulk load builds the stream-head map of
  // every stream: timed apart, as a server signs it within a minute of
  // start anyway, not at backup time.
  {
    auto audit = v1::Audit::NewStub(Channel(address));
    grpc::ClientContext c;
    v1::SignedCheckpoint checkpoint;
    const absl::Time t0 = absl::Now();
    (void)audit->GetCheckpoint(&c, v1::GetCheckpointRequest(), &checkpoint);
    f->first_checkpoint_s = absl::ToDoubleSeconds(absl::Now() - t0);
  }
  auto operations = v1::Operations::NewStub(Channel(address));
  grpc::ClientContext c;
  v1::BackupRequest request;
  request.set_to(dir + "/backups");
  v1::BackupInfo info;
  const absl::Time t0 = absl::Now();
  grpc::Status s = operations->Backup(&c, request, &info);
  if (!s.ok()) {
    f->backup_note = absl::StrCat("backup: ", s.error_message());
    return;
  }
  f->backup_s = absl::ToDoubleSeconds(absl::Now() - t0);
  f->backup_bytes = info.size_bytes();
  // A second backup into the same folder: what a nightly one costs.
  {
    grpc::ClientContext c2;
    v1::BackupInfo again;
    const absl::Time t2 = absl::Now();
    if (operations->Backup(&c2, request, &again).ok()) {
      f->incremental_backup_s = absl::ToDoubleSeconds(absl::Now() - t2);
      f->incremental_backup_bytes = again.copied_bytes();
    }
  }
  integrity::RestoreOptions restore;
  restore.from = dir + "/backups";
  restore.to = dir + "/restored";
  const absl::Time t1 = absl::Now();
  absl::StatusOr<integrity::RestoreResult> restored = integrity::RestoreBackup(restore);
  if (!restored.ok()) {
    f->backup_note = absl::StrCat("restore: ", restored.status().ToString());
    return;
  }
  f->restore_s = absl::ToDoubleSeconds(absl::Now() - t1);
}

}  // namespace

int ScaleYears(uint64_t target, int years) {
  if (years > 0) return years;
  const uint64_t whole = (target + kScaleEventsPerYear - 1) / kScaleEventsPerYear;
  return static_cast<int>(std::max<uint64_t>(5, whole));
}

ReportLatency TimeReports(v1::Fairness::Stub* fairness,
                          const std::function<v1::ReportRequest(int)>& request, int n) {
  std::vector<double> ms;
  ReportLatency latency;
  for (int i = 0; i < n; ++i) {
    grpc::ClientContext c;
    const v1::ReportRequest r = request(i);
    v1::FairnessReport report;
    const absl::Time t0 = absl::Now();
    grpc::Status s = fairness->GetReport(&c, r, &report);
    ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
    if (!s.ok()) {
      ++latency.errors;
      std::fprintf(stderr, "report: %s\n", s.error_message().c_str());
    }
  }
  std::sort(ms.begin(), ms.end());
  latency.p50_ms = Percentile(ms, 0.5);
  latency.p99_ms = Percentile(ms, 0.99);
  latency.max_ms = ms.empty() ? 0 : ms.back();
  return latency;
}

void ReportsOnServer(const std::string& address, int n) {
  auto fairness = v1::Fairness::NewStub(Channel(address));
  auto since = [](absl::Time from) {
    return [from](int) {
      v1::ReportRequest r;
      *r.mutable_from() = ToProtoTime(from);
      return r;
    };
  };
  const struct {
    const char* name;
    absl::Duration back;
  } periods[] = {{"current quarter", absl::Hours(24 * 91)},
                 {"current year", absl::Hours(24 * 365)}};
  std::printf("\nreports over gRPC from %s, %d of each\n", address.c_str(), n);
  for (const auto& period : periods) {
    const ReportLatency l = TimeReports(fairness.get(), since(absl::Now() - period.back), n);
    std::printf("%-44s %8.1f ms p50, %.1f ms p99, %.1f ms max, %d refused\n", period.name,
                l.p50_ms, l.p99_ms, l.max_ms, l.errors);
  }
}

ScaleFigures Scale(uint64_t target, const std::string& keep, int years) {
  ScaleFigures f;
  f.years = ScaleYears(target, years);
  const std::string dir = keep.empty() ? TempDir("scale") : keep;
  const std::string data = dir + "/data";
  fs::create_directories(dir);
  absl::StatusOr<History> load = Load(data, target, f.years, &f.load_map_s);
  if (!load.ok()) {
    std::fprintf(stderr, "load: %s\n", load.status().ToString().c_str());
    return f;
  }
  const History& history = *load;
  f.load_events_per_s = history.seconds > 0 ? history.year_end_positions.back() / history.seconds
                                            : 0;
  // The server starts with no projection checkpoint: it folds the whole log.
  const absl::Time started = absl::Now();
  auto child = std::make_unique<Child>(data);
  f.ready_s = absl::ToDoubleSeconds(absl::Now() - started);
  auto channel = Channel(child->address());
  auto fairness = v1::Fairness::NewStub(channel);
  auto log = v1::EventLog::NewStub(channel);
  auto audit = v1::Audit::NewStub(channel);
  {
    grpc::ClientContext c;
    v1::GetStatusResponse status;
    (void)log->GetStatus(&c, v1::GetStatusRequest(), &status);
    f.events = status.last_position();
  }
  const absl::Time quarter_ago = absl::Now() - absl::Hours(24 * 91);
  // The first report of the current quarter, retried while the projection
  // catches up (UNAVAILABLE); false on any other error.
  auto first_report = [&](v1::Fairness::Stub* stub) {
    for (;;) {
      grpc::ClientContext c;
      v1::ReportRequest r;
      *r.mutable_from() = ToProtoTime(quarter_ago);
      v1::FairnessReport report;
      grpc::Status s = stub->GetReport(&c, r, &report);
      if (s.ok()) return true;
      if (s.error_code() != grpc::StatusCode::UNAVAILABLE) {
        std::fprintf(stderr, "report: %s\n", s.error_message().c_str());
        return false;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
  };
  if (!first_report(fairness.get())) return f;
  f.rebuild_events_per_s = f.events / absl::ToDoubleSeconds(absl::Now() - started);
  // The reports below are timed on the findings index, as a server that
  // has run for a while serves them, not derived in full meanwhile.
  for (int i = 0; i < 6000; ++i) {
    if (ScrapeMetrics(child->metrics_address())["evenhand_findings_index_ready"] == 1) {
      f.index_ready_s = absl::ToDoubleSeconds(absl::Now() - started);
      break;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }

  // The server checkpoints the projection once caught up, and RocksDB
  // flushes and compacts after it: let that settle, so the figures below
  // are those of a steady server.
  absl::SleepFor(absl::Seconds(2));
  // Replay: the whole log through ReadAll, parsed by the client.
  {
    const absl::Time t0 = absl::Now();
    grpc::ClientContext c;
    auto reader = log->ReadAll(&c, v1::ReadAllRequest());
    v1::ReadResponse chunk;
    uint64_t n = 0;
    while (reader->Read(&chunk)) n += chunk.events_size();
    (void)reader->Finish();
    f.replay_events_per_s = n / absl::ToDoubleSeconds(absl::Now() - t0);
    f.replay_raw_events_per_s = n / absl::ToDoubleSeconds(ReadAllUnparsed(channel));
  }
  // Reports, after catch-up: 20 of each, `request(i)` the i-th.
  auto time_reports = [&](v1::Fairness::Stub* fairness,
                          const std::function<v1::ReportRequest(int)>& request, double* p50,
                          double* p99) {
    const ReportLatency latency = TimeReports(fairness, request, 20);
    *p50 = latency.p50_ms;
    if (p99 != nullptr) *p99 = latency.p99_ms;
  };
  auto since = [](absl::Time from) {
    return [from](int) {
      v1::ReportRequest r;
      *r.mutable_from() = ToProtoTime(from);
      return r;
    };
  };
  time_reports(fairness.get(), since(quarter_ago), &f.report_p50_ms, &f.report_p99_ms);
  {
    // What the quarter returns: a report costs what it returns.
    grpc::ClientContext c;
    v1::FairnessReport report;
    if (fairness->GetReport(&c, since(quarter_ago)(0), &report).ok()) {
      f.quarter_findings = report.findings_size();
      f.quarter_obligations = report.obligations_size();
      f.quarter_evidence = report.evidence_size();
    }
  }
  time_reports(fairness.get(), since(absl::Now() - absl::Hours(24 * 365)),
               &f.year_report_p50_ms, nullptr);
  // As of a random past position: the last quarter of the year being
  // written at that position, as the log stood then (the question a
  // committee asks of a past year, and of what was on the record when).
  {
    std::mt19937_64 rng(2);
    std::vector<uint64_t> positions(20);
    for (uint64_t& p : positions) {
      p = std::uniform_int_distribution<uint64_t>(1, history.year_end_positions.back())(rng);
    }
    // The last quarter of the year `back` years before the one being
    // written at position p, as the log stood at p.
    auto quarter_as_of = [&](uint64_t p, int back) {
      const size_t y = std::lower_bound(history.year_end_positions.begin(),
                                        history.year_end_positions.end(), p) -
                       history.year_end_positions.begin();
      const absl::Time year_end =
          history.end -
          absl::Hours(24 * 365 * (history.years - static_cast<int>(y) - 1 + back));
      v1::ReportRequest r;
      *r.mutable_from() = ToProtoTime(year_end - absl::Hours(24 * 91));
      *r.mutable_to() = ToProtoTime(year_end - absl::Seconds(1));
      r.set_as_of_position(p);
      return r;
    };
    time_reports(
        fairness.get(), [&](int i) { return quarter_as_of(positions[i], 0); }, &f.as_of_p50_ms,
        &f.as_of_p99_ms);
    // Other past positions (after the first year's end) asked of a quarter
    // that was over by then, the last of the year before. The year being
    // written holds few of its cases as of the position (the log is written
    // case by case); a finished quarter holds all of them, as a committee's
    // question of a past period, as the record stood later, does.
    std::vector<uint64_t> later(positions.size());
    if (history.years >= 2) {
      for (uint64_t& p : later) {
        p = std::uniform_int_distribution<uint64_t>(history.year_end_positions.front() + 1,
                                                    history.year_end_positions.back())(rng);
      }
      time_reports(
          fairness.get(), [&](int i) { return quarter_as_of(later[i], 1); },
          &f.as_of_done_p50_ms, &f.as_of_done_p99_ms);
    }
  }
  // Inclusion proofs over gRPC.
  {
    std::mt19937_64 rng(1);
    std::vector<double> ms;
    for (int i = 0; i < 500; ++i) {
      grpc::ClientContext c;
      v1::GetInclusionProofRequest r;
      r.set_position(std::uniform_int_distribution<uint64_t>(1, f.events)(rng));
      v1::InclusionProof proof;
      const absl::Time t0 = absl::Now();
      (void)audit->GetInclusionProof(&c, r, &proof);
      ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
    }
    std::sort(ms.begin(), ms.end());
    f.proof_p50_ms = Percentile(ms, 0.5);
    f.proof_p99_ms = Percentile(ms, 0.99);
  }
  f.rss_mib = child->RssMiB();
  // A restart: the projection checkpoints on the way out, and the new
  // server reads that checkpoint after it starts serving.
  {
    child.reset();
    const absl::Time t0 = absl::Now();
    child = std::make_unique<Child>(data);
    auto restarted = Channel(child->address(), 1);
    auto restarted_log = v1::EventLog::NewStub(restarted);
    grpc::ClientContext c;
    v1::AppendRequest append;
    v1::Event* e = append.add_events();
    e->set_event_id(NewUuid());
    e->set_type("MemberRegistered");
    *e->mutable_occurred_at() = ToProtoTime(absl::Now());
    e->set_source_system("bench");
    e->mutable_payload()->mutable_member_registered()->set_member_id("after-restart");
    e->mutable_payload()->mutable_member_registered()->set_name("Cllr After Restart");
    append.set_stream_id("member-after-restart");
    v1::AppendResponse appended;
    grpc::Status s = restarted_log->Append(&c, append, &appended);
    if (!s.ok()) std::fprintf(stderr, "append after restart: %s\n", s.error_message().c_str());
    f.restart_append_s = absl::ToDoubleSeconds(absl::Now() - t0);
    auto restarted_fairness = v1::Fairness::NewStub(restarted);
    if (first_report(restarted_fairness.get())) {
      f.restart_report_s = absl::ToDoubleSeconds(absl::Now() - t0);
      // The restarted server as a clerk then finds it: the quarter again,
      // and its memory, which no longer holds what a rebuild went through.
      time_reports(restarted_fairness.get(), since(quarter_ago), &f.restart_report_p50_ms,
                   &f.restart_report_p99_ms);
      f.restart_rss_mib = child->RssMiB();
    }
  }
  BackUpAndRestore(child->address(), dir, &f);
  if (keep.empty()) {
    std::error_code ignored;
    fs::remove_all(dir, ignored);
  }
  return f;
}

void PrintScale(const ScaleFigures& scale) {
  if (scale.events > 0) {
    std::printf("\nat %llu events (a council history of %d years, loaded at %.0f events/s)\n",
                static_cast<unsigned long long>(scale.events), scale.years,
                scale.load_events_per_s);
    std::printf("%-44s %14s\n", "measure", "value");
    std::printf("%-44s %11.1f s\n", "stream-head map built after the load", scale.load_map_s);
    std::printf("%-44s %11.0f /s\n", "replay: ReadAll over gRPC, client-parsed",
                scale.replay_events_per_s);
    std::printf("%-44s %11.0f /s\n", "replay: ReadAll over gRPC, received as bytes",
                scale.replay_raw_events_per_s);
    std::printf("%-44s %11.0f /s\n", "projection rebuild (server start to report)",
                scale.rebuild_events_per_s);
    std::printf("%-44s %11.2f s\n", "  of which: server start until serving", scale.ready_s);
    std::printf("%-44s %11.2f s\n", "findings index ready (server start to)",
                scale.index_ready_s);
    std::printf("%-44s %8.1f ms p50, %.1f ms p99\n", "fairness report, current quarter",
                scale.report_p50_ms, scale.report_p99_ms);
    std::printf("%-44s %8zu findings, %zu obligations, %zu events\n", "  which returns",
                scale.quarter_findings, scale.quarter_obligations, scale.quarter_evidence);
    std::printf("%-44s %8.1f ms p50\n", "fairness report, current year", scale.year_report_p50_ms);
    std::printf("%-44s %8.1f ms p50, %.1f ms p99\n", "as of a random past position (a quarter)",
                scale.as_of_p50_ms, scale.as_of_p99_ms);
    std::printf("%-44s %8.1f ms p50, %.1f ms p99\n", "  a quarter over by then, as of a later one",
                scale.as_of_done_p50_ms, scale.as_of_done_p99_ms);
    std::printf("%-44s %8.2f ms p50, %.2f ms p99\n", "inclusion proof over gRPC",
                scale.proof_p50_ms, scale.proof_p99_ms);
    std::printf("%-44s %11zu MiB\n", "server RSS", scale.rss_mib);
    std::printf("%-44s %8.2f s, first report %.2f s\n", "restart: first append answered",
                scale.restart_append_s, scale.restart_report_s);
    std::printf("%-44s %8.1f ms p50, %.1f ms p99\n", "  then the current quarter",
                scale.restart_report_p50_ms, scale.restart_report_p99_ms);
    std::printf("%-44s %11zu MiB\n", "  then the server's RSS", scale.restart_rss_mib);
    if (!scale.backup_note.empty()) {
      std::printf("%-44s %s\n", "backup and restore", scale.backup_note.c_str());
    } else {
      std::printf("%-44s %8.1f s\n", "first checkpoint after the load (stream map)",
                  scale.first_checkpoint_s);
      std::printf("%-44s %8.1f s, %.0f MiB (data folder %.0f MiB)\n",
                  "backup (online, first: everything copied)", scale.backup_s,
                  scale.backup_bytes / 1048576.0, scale.data_bytes / 1048576.0);
      std::printf("%-44s %8.1f s, %.1f MiB copied\n", "backup (online, the next one: incremental)",
                  scale.incremental_backup_s, scale.incremental_backup_bytes / 1048576.0);
      std::printf("%-44s %8.1f s (%.0f events/s)\n", "restore (copy, verify every event)",
                  scale.restore_s, scale.restore_s > 0 ? scale.events / scale.restore_s : 0.0);
    }
  }
}

}  // namespace evenhand::bench
