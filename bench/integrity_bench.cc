// integrity_bench: the Merkle tree, proofs and bundles at scale.
//
//   build/bench/integrity_bench [--events=1000000] [--bundle_events=10000]
//
// Writes --events events into a fresh log with the integrity hook attached
// (durable group commit, as the server does), then measures inclusion- and
// consistency-proof latency at that size, bundle size per event, offline
// bundle verification throughput, and a full replay-and-recompute of the
// chain and root (what `evenhand verify --server` does, without the network).
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "base/logging.h"
#include "base/uuid.h"
#include "bench/bench_support.h"
#include "integrity/bundle.h"
#include "integrity/canonical.h"
#include "integrity/integrity_log.h"
#include "integrity/merkle.h"
#include "storage/event_store.h"

ABSL_FLAG(uint64_t, events, 1000000, "events in the log");
ABSL_FLAG(uint64_t, bundle_events, 10000, "events in the large bundle");
ABSL_FLAG(int, proofs, 2000, "proofs to time");
ABSL_FLAG(uint64_t, events_per_stream, 10,
          "events per stream (1: each event opens a stream, as the append bench's do)");

namespace evenhand::bench {
namespace {

struct Percentiles {
  double p50 = 0, p99 = 0;
};
Percentiles Of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  if (v.empty()) return {};
  return {v[v.size() / 2], v[std::min(v.size() - 1, v.size() * 99 / 100)]};
}

v1::Event AnEvent(uint64_t i) {
  v1::Event e;
  e.set_event_id(NewUuid());
  e.set_type("WrittenQueryAnswered");
  e.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(absl::Now()));
  e.set_source_system("bench");
  e.mutable_payload()->mutable_written_query_answered()->set_query_id(absl::StrCat("Q-", i));
  e.mutable_payload()->mutable_written_query_answered()->set_officer_id("o-bench");
  return e;
}

int Main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  logging::SetMinimumSeverity(logging::Severity::kWarning);
  const uint64_t n = absl::GetFlag(FLAGS_events);
  const uint64_t per_stream = std::max<uint64_t>(1, absl::GetFlag(FLAGS_events_per_stream));
  const uint64_t streams = (n + per_stream - 1) / per_stream;
  const char* tmp = std::getenv("TMPDIR");
  const std::string dir =
      absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/evenhand-integrity-bench-", NewUuid());
  storage::StoreOptions so;
  so.data_dir = dir + "/data";
  so.extra_column_families = {integrity::IntegrityLog::kColumnFamily};
  std::filesystem::create_directories(dir);
  auto store = storage::EventStore::Open(so);
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
    return 1;
  }
  integrity::IntegrityOptions io;
  io.signing_key_file = dir + "/key.pem";
  io.journal_file = dir + "/checkpoints.jsonl";
  // As the server keeps it: the stream-head map in a RocksDB of its own.
  io.stream_map_dir = dir + "/stream-map";
  auto log = integrity::IntegrityLog::Open(store->get(), io);
  if (!log.ok()) {
    std::fprintf(stderr, "%s\n", log.status().ToString().c_str());
    return 1;
  }

  // ---- write ----------------------------------------------------------------
  absl::Time t0 = absl::Now();
  {
    BoundedAppender appender(store->get(), 2000);
    for (uint64_t i = 0; i < n; i += per_stream) {
      std::vector<v1::Event> batch;
      for (uint64_t k = i; k < std::min(n, i + per_stream); ++k) batch.push_back(AnEvent(k));
      appender.Append(absl::StrCat("query-", i / per_stream), std::move(batch));
    }
    appender.Drain();
  }
  const double write_s = absl::ToDoubleSeconds(absl::Now() - t0);
  std::printf("log: %llu events written with the tree and chain in %.1f s (%.0f events/s)\n",
              static_cast<unsigned long long>((*log)->size()), write_s, n / write_s);

  // ---- checkpoints and the stream-head map ----------------------------------------
  {
    auto all = (*log)->Checkpoints();
    uint64_t previous = 0, gap = 0, multiples = 0;
    if (all.ok()) {
      for (const auto& c : *all) {
        gap = std::max(gap, c.checkpoint().tree_size() - previous);
        previous = c.checkpoint().tree_size();
        if (previous % io.checkpoint_every_events == 0) ++multiples;
      }
      std::printf("checkpoints while writing: %zu, %llu at exact multiples of %llu, largest gap "
                  "%llu events\n",
                  all->size(), static_cast<unsigned long long>(multiples),
                  static_cast<unsigned long long>(io.checkpoint_every_events),
                  static_cast<unsigned long long>(gap));
    }
    const integrity::IntegrityLog::MapStats map = (*log)->map_stats();
    std::printf("stream-head map (%llu streams): %llu updates wrote %llu heads in %.2f s of the "
                "checkpoint thread's CPU: %.1f us per event appended, %.1f us per head\n",
                static_cast<unsigned long long>(streams),
                static_cast<unsigned long long>(map.updates),
                static_cast<unsigned long long>(map.entries), absl::ToDoubleSeconds(map.time),
                absl::ToDoubleMicroseconds(map.time) / std::max<uint64_t>(1, n),
                absl::ToDoubleMicroseconds(map.time) / std::max<uint64_t>(1, map.entries));
  }

  // ---- proofs -----------------------------------------------------------------
  std::mt19937_64 rng(1);
  const uint64_t size = (*log)->size();
  std::vector<double> inclusion_us, consistency_us;
  for (int i = 0; i < absl::GetFlag(FLAGS_proofs); ++i) {
    const uint64_t p = std::uniform_int_distribution<uint64_t>(1, size)(rng);
    absl::Time s = absl::Now();
    auto proof = (*log)->InclusionProof(p, size);
    inclusion_us.push_back(absl::ToDoubleMicroseconds(absl::Now() - s));
    if (!proof.ok()) return 1;
    const uint64_t m = std::uniform_int_distribution<uint64_t>(1, size - 1)(rng);
    s = absl::Now();
    auto c = (*log)->ConsistencyProof(m, size);
    consistency_us.push_back(absl::ToDoubleMicroseconds(absl::Now() - s));
    if (!c.ok()) return 1;
  }
  std::vector<double> head_us;
  if (auto c = CheckpointOnceMapBuilt(log->get()); !c.ok()) return 1;
  for (int i = 0; i < absl::GetFlag(FLAGS_proofs); ++i) {
    const uint64_t q = std::uniform_int_distribution<uint64_t>(0, streams - 1)(rng);
    absl::Time s = absl::Now();
    auto head = (*log)->ProveStreamHead(absl::StrCat("query-", q));
    head_us.push_back(absl::ToDoubleMicroseconds(absl::Now() - s));
    if (!head.ok()) {
      std::fprintf(stderr, "%s\n", head.status().ToString().c_str());
      return 1;
    }
  }
  Percentiles heads = Of(head_us);
  Percentiles inc = Of(inclusion_us), con = Of(consistency_us);
  std::printf("stream-head proof at %llu streams: p50 %.0f us, p99 %.0f us\n",
              static_cast<unsigned long long>(streams), heads.p50, heads.p99);
  std::printf("inclusion proof at %llu events: p50 %.0f us, p99 %.0f us\n",
              static_cast<unsigned long long>(size), inc.p50, inc.p99);
  std::printf("consistency proof at %llu events: p50 %.0f us, p99 %.0f us\n",
              static_cast<unsigned long long>(size), con.p50, con.p99);

  // ---- bundles -------------------------------------------------------------------
  for (uint64_t want : {uint64_t{100}, absl::GetFlag(FLAGS_bundle_events)}) {
    std::vector<storage::EventPtr> events;
    const uint64_t from = std::uniform_int_distribution<uint64_t>(1, size - want)(rng);
    (void)(*store)->ReadAll(from, storage::Direction::kForwards, want, {},
                            [&](const storage::EventPtr& e) {
                              events.push_back(e);
                              return true;
                            });
    t0 = absl::Now();
    auto bundle = (*log)->ExportBundle(events, "bench", "a range");
    const double export_s = absl::ToDoubleSeconds(absl::Now() - t0);
    if (!bundle.ok()) return 1;
    t0 = absl::Now();
    auto report = integrity::VerifyBundle(*bundle, &(*log)->public_key());
    const double verify_s = absl::ToDoubleSeconds(absl::Now() - t0);
    if (!report.ok()) {
      std::fprintf(stderr, "%s\n", report.status().ToString().c_str());
      return 1;
    }
    std::printf("bundle of %zu events: %zu bytes (%.0f bytes/event), exported in %.2f s, "
                "verified offline in %.2f s (%.0f events/s)\n",
                events.size(), bundle->size(), static_cast<double>(bundle->size()) / events.size(),
                export_s, verify_s, events.size() / verify_s);
  }

  // ---- full recompute ---------------------------------------------------------------
  t0 = absl::Now();
  integrity::CompactRange range;
  std::string chain = integrity::GenesisChainHash();
  (void)(*store)->ReadAll(std::nullopt, storage::Direction::kForwards, 0, {},
                          [&](const storage::EventPtr& e) {
                            std::string c = *integrity::CanonicalRecord(*e);
                            range.Append(integrity::LeafHash(c),
                                         [](int, uint64_t, const std::string&) {});
                            chain = integrity::ChainHash(chain, c);
                            return true;
                          });
  const double recompute_s = absl::ToDoubleSeconds(absl::Now() - t0);
  const bool same = range.Root() == *(*log)->Root(size) && chain == *(*log)->ChainHashAt(size);
  std::printf("replay and recompute chain and root of %llu events: %.1f s (%.0f events/s), %s\n",
              static_cast<unsigned long long>(size), recompute_s, size / recompute_s,
              same ? "root and chain match" : "MISMATCH");
  (*store)->BeginShutdown();
  (*log)->Stop();
  (void)(*store)->Close();
  log->reset();
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  return same ? 0 : 1;
}

}  // namespace
}  // namespace evenhand::bench

int main(int argc, char** argv) { return evenhand::bench::Main(argc, argv); }
