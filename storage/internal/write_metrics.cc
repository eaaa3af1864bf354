#include "storage/internal/write_metrics.h"

#include "base/metrics.h"

namespace evenhand::storage::internal {

void CountWrite(bool ok, absl::Duration took, size_t records,
                const std::vector<std::shared_ptr<const std::string>>& stored_bytes,
                size_t batch_keys, size_t batch_bytes) {
  metrics::Registry& r = metrics::Registry::Default();
  static metrics::Histogram& fsync_ok = r.GetHistogram(
      "evenhand_fsync_duration_seconds",
      "Time of one group commit's synced RocksDB write (WAL append and fsync), by outcome.",
      metrics::LatencyBuckets(), {{"status", "ok"}});
  static metrics::Histogram& fsync_failed = r.GetHistogram(
      "evenhand_fsync_duration_seconds", "", metrics::LatencyBuckets(), {{"status", "error"}});
  static metrics::Histogram& group_events = r.GetHistogram(
      "evenhand_group_commit_events", "Events written by one group commit (one fsync).",
      metrics::PowersOfTwo(16384));
  static metrics::Counter& events = r.GetCounter(
      "evenhand_events_appended_total", "Events made durable in the log (access records too).");
  static metrics::Counter& bytes = r.GetCounter("evenhand_event_bytes_appended_total",
                                                "Bytes of the events made durable, as stored.");
  static metrics::Counter& commits = r.GetCounter("evenhand_group_commits_total",
                                                  "Group commits written (one synced write each).");
  static metrics::Counter& keys = r.GetCounter(
      "evenhand_rocksdb_keys_written_total",
      "RocksDB keys written by group commits (the events, their indexes, the Merkle tree's "
      "tiles and leaf runs, chain hashes), all column families.");
  static metrics::Counter& batch = r.GetCounter(
      "evenhand_rocksdb_bytes_written_total",
      "Bytes of the RocksDB write batches of group commits (keys, values and framing).");
  (ok ? fsync_ok : fsync_failed).Observe(absl::ToDoubleSeconds(took));
  if (!ok) return;
  uint64_t stored = 0;
  for (const auto& b : stored_bytes) stored += b->size();
  group_events.Observe(static_cast<double>(records));
  events.Add(records);
  bytes.Add(stored);
  commits.Add();
  keys.Add(batch_keys);
  batch.Add(batch_bytes);
}

}  // namespace evenhand::storage::internal
