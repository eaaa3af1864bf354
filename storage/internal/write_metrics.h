// The write path's figures for /metrics (base/metrics.h): fsync time by
// outcome, group commit sizes, events and bytes made durable, and the
// RocksDB keys and bytes written for them.
#ifndef EVENHAND_STORAGE_INTERNAL_WRITE_METRICS_H_
#define EVENHAND_STORAGE_INTERNAL_WRITE_METRICS_H_

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace evenhand::storage::internal {

// One group commit's synced write: `ok`, how long it took, its records and
// their stored bytes, and the RocksDB batch's keys (every put, delete and
// range delete, all column families) and bytes.
void CountWrite(bool ok, absl::Duration took, size_t records,
                const std::vector<std::shared_ptr<const std::string>>& stored_bytes,
                size_t batch_keys, size_t batch_bytes);

// Puts these figures on /metrics at 0 before the first write, so that a
// rate or a quantile can be taken from the start.
void ShowWriteMetrics();

// An error RocksDB reported, `in` one of "write", "flush", "compaction",
// "memtable", "manifest", "other" (RocksDB's own background-errors
// property counts flushes and compactions only: a failed WAL write, on a
// disk turned read-only say, is counted here).
void CountRocksError(absl::string_view in);

}  // namespace evenhand::storage::internal

#endif  // EVENHAND_STORAGE_INTERNAL_WRITE_METRICS_H_
