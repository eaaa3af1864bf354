#include "server/server_metrics.h"

#include <cmath>
#include <map>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "base/metrics.h"
#include "base/prometheus_text.h"
#include "base/time_util.h"
#include "rocksdb/db.h"

namespace evenhand::server {
namespace {

using metrics::Family;
using metrics::Type;

Family Gauge(std::string name, std::string help, double value, metrics::Labels labels = {}) {
  Family f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = Type::kGauge;
  f.samples.push_back({"", std::move(labels), value});
  return f;
}

Family Counter(std::string name, std::string help, double value) {
  Family f = Gauge(std::move(name), std::move(help), value);
  f.type = Type::kCounter;
  return f;
}

// RocksDB's figures: write stalls, compactions, space.
void AddRocksDb(const storage::EventStore& store, std::vector<Family>* out) {
  rocksdb::DB* db = store.db();
  auto db_int = [&](const std::string& property) {
    uint64_t v = 0;
    db->GetIntProperty(property, &v);
    return static_cast<double>(v);
  };
  auto all_cfs = [&](const std::string& property) {
    uint64_t v = 0;
    db->GetAggregatedIntProperty(property, &v);
    return static_cast<double>(v);
  };
  out->push_back(Gauge("evenhand_rocksdb_write_stopped",
                       "1 while RocksDB has stopped writes (too many memtables or L0 files).",
                       db_int("rocksdb.is-write-stopped")));
  out->push_back(Gauge("evenhand_rocksdb_delayed_write_rate_bytes_per_second",
                       "RocksDB's write rate limit while it slows writes down (0: not slowed).",
                       db_int("rocksdb.actual-delayed-write-rate")));
  out->push_back(Gauge("evenhand_rocksdb_running_compactions", "Compactions running now.",
                       db_int("rocksdb.num-running-compactions")));
  out->push_back(Gauge("evenhand_rocksdb_running_flushes", "Memtable flushes running now.",
                       db_int("rocksdb.num-running-flushes")));
  out->push_back(Gauge("evenhand_rocksdb_pending_compaction_bytes",
                       "Bytes RocksDB estimates compaction must rewrite.",
                       all_cfs("rocksdb.estimate-pending-compaction-bytes")));
  out->push_back(Gauge("evenhand_rocksdb_sst_bytes", "Bytes of all table files (the log on disk).",
                       all_cfs("rocksdb.total-sst-files-size")));
  out->push_back(Gauge("evenhand_rocksdb_live_sst_bytes", "Bytes of the current table files.",
                       all_cfs("rocksdb.live-sst-files-size")));
  out->push_back(Gauge("evenhand_rocksdb_memtable_bytes", "Bytes in all memtables.",
                       all_cfs("rocksdb.cur-size-all-mem-tables")));
  out->push_back(Counter("evenhand_rocksdb_background_errors_total",
                         "Background errors RocksDB has had (a failed flush or compaction).",
                         db_int("rocksdb.background-errors")));
  // Write stalls since start, summed over the column families.
  double stops = 0, slowdowns = 0;
  for (const char* name : {"default", "events", "streams", "event_ids", "meta", "integrity"}) {
    rocksdb::ColumnFamilyHandle* cf = store.ColumnFamily(name);
    if (cf == nullptr) continue;
    std::map<std::string, std::string> stats;
    if (!db->GetMapProperty(cf, rocksdb::DB::Properties::kCFStats, &stats)) continue;
    double v = 0;
    if (auto it = stats.find("io_stalls.total_stop");
        it != stats.end() && absl::SimpleAtod(it->second, &v)) {
      stops += v;
    }
    if (auto it = stats.find("io_stalls.total_slowdown");
        it != stats.end() && absl::SimpleAtod(it->second, &v)) {
      slowdowns += v;
    }
  }
  out->push_back(Counter("evenhand_rocksdb_write_stops_total",
                         "Times RocksDB stopped writes since the server started.", stops));
  out->push_back(Counter("evenhand_rocksdb_write_slowdowns_total",
                         "Times RocksDB slowed writes since the server started.", slowdowns));
}

}  // namespace

std::string RenderServerMetrics(const MetricSources& s) {
  std::vector<Family> families = metrics::Registry::Default().Collect();
  const uint64_t last = s.store->LastPosition();
  families.push_back(Gauge("evenhand_build_info", "The server's version (value always 1).", 1,
                           {{"version", s.version}}));
  families.push_back(Gauge("evenhand_start_time_seconds", "When the server started (Unix time).",
                           absl::ToDoubleSeconds(s.started - absl::UnixEpoch())));
  families.push_back(Gauge("evenhand_healthy",
                           "1 while gRPC health is SERVING (the integrity checks know of no "
                           "problem), else 0; /healthz says why.",
                           s.healthy() ? 1 : 0));
  const storage::WriteState state = s.store->write_state();
  families.push_back(Gauge("evenhand_appends_accepted",
                           "1 while the log takes appends; 0 when they are refused (disk below "
                           "the floor, read-only, stopped after a failed write).",
                           state.accepting ? 1 : 0));
  families.push_back(
      Gauge("evenhand_log_last_position", "The log's last position (events in it).", last));
  const uint64_t folded = s.runner->position();
  const uint64_t checkpointed = s.runner->checkpointed_position();
  families.push_back(Gauge("evenhand_projection_loading",
                           "1 while the fairness projection reads its checkpoint after a start "
                           "(reports wait; appends and proofs are served); 0 once it has.",
                           s.runner->loading().has_value() ? 1 : 0));
  const std::optional<projections::ProjectionRunner::Loaded> loaded = s.runner->loaded();
  families.push_back(Gauge("evenhand_projection_checkpoint_read_seconds",
                           "How long the last start took to read the fairness projection's "
                           "checkpoint (its cases and findings index) before serving reports.",
                           loaded ? absl::ToDoubleSeconds(loaded->took) : 0));
  families.push_back(Gauge("evenhand_projection_cases_read_whole",
                           "Cases whose facts the last start read whole from the checkpoint: 0 "
                           "when it filed each by its skeleton (facts read back when needed); "
                           "every case once, over a checkpoint written before skeletons were.",
                           loaded ? static_cast<double>(loaded->cases_read_whole) : 0));
  const projections::ProjectionRunner::Written written = s.runner->written();
  families.push_back(Counter("evenhand_projection_checkpoints_total",
                             "Checkpoints of the fairness projection written since the start.",
                             static_cast<double>(written.checkpoints)));
  families.push_back(Counter("evenhand_projection_checkpoint_bytes_total",
                             "Bytes those checkpoints wrote (before RocksDB's compression).",
                             static_cast<double>(written.bytes)));
  families.push_back(Counter("evenhand_projection_checkpoint_seconds_total",
                             "Wall-clock time the fold thread spent building and writing them "
                             "(the fold waits meanwhile; reports do not).",
                             absl::ToDoubleSeconds(written.took)));
  families.push_back(
      Gauge("evenhand_projection_position", "Events the fairness projection has folded.", folded));
  families.push_back(Gauge("evenhand_projection_unsaved_events",
                           "Events the fairness projection has folded since its last checkpoint "
                           "(refolded after a crash; checkpointed every fairness."
                           "checkpointEveryEvents or checkpointEverySeconds, and after a second "
                           "with no event).",
                           folded > checkpointed ? folded - checkpointed : 0));
  families.push_back(Gauge("evenhand_projection_lag_events",
                           "Events in the log the fairness projection has not folded yet.",
                           last > folded ? last - folded : 0));
  bool indexed = false;
  uint64_t index_from = 0;
  size_t index_entries = 0;
  uint64_t figures_from = 0;
  size_t figure_changes_held = 0;
  size_t subjects_held = 0;
  size_t case_bytes = 0;
  size_t case_bytes_unsaved = 0;
  bool healthy = s.runner->health().ok();
  // Not while the checkpoint is read: the index is restored part way.
  if (!s.runner->loading()) {
    s.runner->Read([&](const projections::FairnessProjection& p) {
      indexed = p.findings_indexed();
      index_from = p.findings_complete_from();
      index_entries = p.indexed_entries();
      figures_from = p.figures_known_from();
      figure_changes_held = p.figure_changes_kept();
      subjects_held = p.findings_subjects_held();
      case_bytes = p.case_bytes_held();
      case_bytes_unsaved = p.case_bytes_unsaved();
    });
  }
  families.push_back(Gauge("evenhand_findings_index_ready",
                           "1 when reports are served from the findings index; 0 while it is "
                           "decided afresh after a restart (reports are then derived in full).",
                           indexed ? 1 : 0));
  families.push_back(Gauge("evenhand_findings_index_complete_from",
                           "The first as-of position the findings index answers for (earlier "
                           "ones are derived in full); 0 when it is not ready.",
                           indexed ? index_from : 0));
  families.push_back(Gauge("evenhand_findings_index_entries",
                           "Findings and obligations in the findings index, alive or withdrawn.",
                           index_entries));
  families.push_back(Gauge("evenhand_findings_index_figures_from",
                           "The first as-of position whose group table is summed from the "
                           "running totals (earlier ones derive it); 0 when it is not ready.",
                           indexed ? figures_from : 0));
  families.push_back(Gauge("evenhand_findings_index_figure_changes_held",
                           "Changes to the group totals held in memory until the next "
                           "checkpoint stores them.",
                           figure_changes_held));
  families.push_back(Gauge("evenhand_findings_index_subjects_held",
                           "Subjects (briefings, meetings, queries, complaints, councillors) whose "
                           "findings state the index holds in memory: those decided since the "
                           "last checkpoint, and those read back since; the rest are read back "
                           "from the checkpoint when an event decides them again.",
                           subjects_held));
  families.push_back(Gauge("evenhand_projection_case_bytes",
                           "Bytes of memory (estimated) the cases' facts the fairness projection "
                           "holds take; kept to about fairness.case_cache_mib, plus the registry's "
                           "cases and those changed since the last checkpoint.",
                           case_bytes));
  families.push_back(Gauge("evenhand_projection_case_bytes_unsaved",
                           "Of those, the bytes changed since the last checkpoint.",
                           case_bytes_unsaved));
  families.push_back(Gauge("evenhand_projection_healthy",
                           "1; 0 once a case's facts could not be read back from the "
                           "projection's checkpoint: it has stopped and reports are refused "
                           "until a restart.",
                           healthy ? 1 : 0));
  families.push_back(Gauge("evenhand_append_bytes_in_flight",
                           "Bytes of append requests taken and not yet answered, across calls; "
                           "a request that would take it past maxAppendMibInFlight waits in "
                           "line for room.",
                           s.event_log->append_bytes_in_flight()));
  families.push_back(Gauge("evenhand_subscribers", "Open EventLog.Subscribe calls.",
                           s.event_log->subscriptions()));
  absl::StatusOr<v1::SignedCheckpoint> latest = s.integrity->Checkpoint(0);
  families.push_back(Gauge("evenhand_checkpoint_tree_size",
                           "Tree size of the newest signed checkpoint (0: none yet).",
                           latest.ok() ? latest->checkpoint().tree_size() : 0));
  families.push_back(Gauge(
      "evenhand_checkpoint_age_seconds",
      "Seconds since the newest checkpoint was signed (NaN before the first).",
      latest.ok()
          ? absl::ToDoubleSeconds(absl::Now() - FromProtoTime(latest->checkpoint().timestamp()))
          : std::nan("")));
  const integrity::IntegrityLog::MapStats map = s.integrity->map_stats();
  families.push_back(Counter("evenhand_stream_map_cpu_seconds_total",
                             "CPU time the checkpoint thread spent bringing the stream-head map "
                             "up to each checkpoint since start.",
                             absl::ToDoubleSeconds(map.time)));
  families.push_back(Counter("evenhand_stream_map_heads_written_total",
                             "Stream heads the map wrote since start (one per stream changed "
                             "between checkpoints).",
                             static_cast<double>(map.entries)));
  families.push_back(Gauge("evenhand_stream_map_building_behind_events",
                           "While the stream-head map is built in steps (after a restore or "
                           "its loss): the events it still has to take in; new signed "
                           "checkpoints, exports and stream-head proofs wait for 0.",
                           static_cast<double>(map.building_behind)));
  families.push_back(Gauge("evenhand_unsigned_events",
                           "Events not yet covered by a signed checkpoint.",
                           latest.ok() && last > latest->checkpoint().tree_size()
                               ? last - latest->checkpoint().tree_size()
                               : (latest.ok() ? 0 : last)));
  absl::StatusOr<uint64_t> free = s.store->free_disk_bytes();
  if (free.ok()) {
    families.push_back(
        Gauge("evenhand_disk_free_bytes", "Free bytes on the data folder's disk.", *free));
  }
  families.push_back(Gauge("evenhand_disk_floor_bytes",
                           "Appends are refused below this many free bytes (minFreeDiskMib).",
                           s.store->min_free_disk_bytes()));
  AddRocksDb(*s.store, &families);
  return metrics::RenderText(families);
}

}  // namespace evenhand::server
