#include "storage/internal/write_metrics.h"

#include <string>

#include "base/metrics.h"

namespace evenhand::storage::internal {

namespace {

struct WriteMetrics {
  metrics::Histogram& fsync_ok;
  metrics::Histogram& fsync_failed;
  metrics::Histogram& group_events;
  metrics::Counter& events;
  metrics::Counter& bytes;
  metrics::Counter& commits;
  metrics::Counter& keys;
  metrics::Counter& batch;
};

const WriteMetrics& Metrics() {
  metrics::Registry& r = metrics::Registry::Default();
  static const WriteMetrics* m = new WriteMetrics{
      r.GetHistogram(
          "evenhand_fsync_duration_seconds",
          "Time of one group commit's synced RocksDB write (WAL append and fsync), by outcome.",
          metrics::LatencyBuckets(), {{"status", "ok"}}),
      r.GetHistogram("evenhand_fsync_duration_seconds", "", metrics::LatencyBuckets(),
                     {{"status", "error"}}),
      r.GetHistogram("evenhand_group_commit_events",
                     "Events written by one group commit (one fsync).",
                     metrics::PowersOfTwo(16384)),
      r.GetCounter("evenhand_events_appended_total",
                   "Events made durable in the log (access records too)."),
      r.GetCounter("evenhand_event_bytes_appended_total",
                   "Bytes of the events made durable, as stored."),
      r.GetCounter("evenhand_group_commits_total",
                   "Group commits written (one synced write each)."),
      r.GetCounter("evenhand_rocksdb_keys_written_total",
                   "RocksDB keys written by group commits (the events, their indexes, the "
                   "Merkle tree's tiles and leaf runs, chain hashes), all column families."),
      r.GetCounter(
          "evenhand_rocksdb_bytes_written_total",
          "Bytes of the RocksDB write batches of group commits (keys, values and framing)."),
  };
  return *m;
}

// Where RocksDB reported an error to the store (its OnBackgroundError):
// the labels of evenhand_rocksdb_errors_total.
constexpr const char* kErrorPlaces[] = {"write",    "flush",    "compaction",
                                        "memtable", "manifest", "other"};

metrics::Counter& RocksErrors(absl::string_view in) {
  return metrics::Registry::Default().GetCounter(
      "evenhand_rocksdb_errors_total",
      "Errors RocksDB reported to the log, by where: a write (its WAL), a flush, a compaction, a "
      "memtable insert, a MANIFEST write, other.",
      {{"in", std::string(in)}});
}

}  // namespace

void ShowWriteMetrics() {
  Metrics();
  for (const char* in : kErrorPlaces) RocksErrors(in);
}

void CountRocksError(absl::string_view in) { RocksErrors(in).Add(); }

void CountWrite(bool ok, absl::Duration took, size_t records,
                const std::vector<std::shared_ptr<const std::string>>& stored_bytes,
                size_t batch_keys, size_t batch_bytes) {
  const WriteMetrics& m = Metrics();
  (ok ? m.fsync_ok : m.fsync_failed).Observe(absl::ToDoubleSeconds(took));
  if (!ok) return;
  uint64_t stored = 0;
  for (const auto& b : stored_bytes) stored += b->size();
  m.group_events.Observe(static_cast<double>(records));
  m.events.Add(records);
  m.bytes.Add(stored);
  m.commits.Add();
  m.keys.Add(batch_keys);
  m.batch.Add(batch_bytes);
}

}  // namespace evenhand::storage::internal
