// RocksDB plumbing shared by the modules that keep a RocksDB database: the
// log itself and the fairness projection's checkpoint.
//
//  - RocksDB's own log lines go through evenhand's logger, never to a LOG
//    file: in Debian's RocksDB 7.8.3 a LOG file that once failed to write (a
//    full disk) aborts the process on its next line. Warnings and errors are
//    logged (at ERROR while a database opens, so whatever recovery drops or
//    repairs is never silent); informational lines are dropped.
//  - Files and folders are created for the owner only (0600 and 0700),
//    whatever the process umask: the log holds confidential and personal
//    data.
//
// Thread-safe.
#ifndef EVENHAND_STORAGE_ROCKSDB_SUPPORT_H_
#define EVENHAND_STORAGE_ROCKSDB_SUPPORT_H_

#include <atomic>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "rocksdb/env.h"
#include "rocksdb/options.h"
#include "rocksdb/file_system.h"
#include "rocksdb/status.h"

namespace evenhand::storage {

// Forwards RocksDB's log lines to evenhand's logger under `component`.
class RocksLogger final : public rocksdb::Logger {
 public:
  explicit RocksLogger(std::string component);
  using rocksdb::Logger::Logv;
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override;
  // While set, warnings are logged as errors (recovery on open).
  void SetOpening(bool opening) { opening_.store(opening); }

 private:
  const std::string component_;
  std::atomic<bool> opening_{false};
  // Repeated warnings (write stalls come in bursts) are logged at most once
  // per kRepeatEvery per kind, with a count of those held back.
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::pair<absl::Time, uint64_t>> recent_ ABSL_GUARDED_BY(mu_);
};

// `base` (default: the platform's) creating files 0600 and folders 0700.
std::shared_ptr<rocksdb::FileSystem> OwnerOnlyFileSystem(
    std::shared_ptr<rocksdb::FileSystem> base = nullptr);

// An Env whose file system is `fs` (and whose clock and threads are the
// default Env's). The Env keeps `fs` alive.
std::unique_ptr<rocksdb::Env> EnvOver(std::shared_ptr<rocksdb::FileSystem> fs);

// For a RocksDB of derived state beside the log (the projection's, the
// stream-head map's) on the same disk: its flushes and compactions write in
// 256 KiB synced steps, at most kAuxiliaryWriteBytesPerSecond together,
// released every kRateLimitRefillMicros, so that they never queue more than
// a fraction of a millisecond of writes ahead of the WAL fsyncs that appends
// wait for; its WAL goes to the disk in 256 KiB steps as it is written, not
// in one burst when the kernel's writeback gets to it half a minute later.
// (With RocksDB's default refill of 100 ms, each refill let up to 3.2 MB
// through at once: a trace of the write pipeline at half its peak showed the
// log's fsyncs stalled for 10-14 ms every 100 ms.)
inline constexpr int64_t kAuxiliaryWriteBytesPerSecond = 32 << 20;
inline constexpr int64_t kRateLimitRefillMicros = 5000;
void ShareTheDiskWithTheLog(rocksdb::Options* options);

// Creates `dir` (and missing parents) and makes it 0700.
absl::Status MakeOwnerOnlyDir(const std::string& dir);

// A RocksDB status as an absl one: `code` unless it is NoSpace (then
// ResourceExhausted) or Corruption (then DataLoss). `what` prefixes it.
absl::Status FromRocksStatus(const rocksdb::Status& s, const std::string& what,
                             absl::StatusCode code = absl::StatusCode::kInternal);

}  // namespace evenhand::storage

#endif  // EVENHAND_STORAGE_ROCKSDB_SUPPORT_H_
