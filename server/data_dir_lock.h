// DataDirLock: one evenhandd per data folder, and a clear answer to the
// second one.
//
// The lock is an flock(2) on "<data_dir>/evenhandd.pid", a file that also
// says who holds it (pid, listening address, start time), so a second
// server started on the same folder is told which server has it, rather
// than RocksDB's "lock file: Resource temporarily unavailable". The kernel
// releases the lock when the process dies, however it dies.
//
// Also: the probe that refuses, before anything is opened, to start on a
// listening address another process already uses.
//
// Thread-compatible.
#ifndef EVENHAND_SERVER_DATA_DIR_LOCK_H_
#define EVENHAND_SERVER_DATA_DIR_LOCK_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace evenhand::server {

class DataDirLock {
 public:
  // Creates the folder (owner-only) if missing and takes the lock, or
  // FailedPrecondition naming the server that holds it.
  static absl::StatusOr<std::unique_ptr<DataDirLock>> Acquire(const std::string& data_dir);
  ~DataDirLock();

  // Records the address the server listens on, for a second server to name.
  void SetListening(const std::string& address);
  // The server has stopped and closed everything in the folder, and holds
  // the lock only until the process ends (seconds, for a long log's memory):
  // the file says so, and a second server is told to try again shortly.
  void SetStopped();

 private:
  DataDirLock(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  // "pid N, <state> since <time>".
  void Write(absl::string_view state);

  const std::string path_;
  const int fd_;
};

// FailedPrecondition if `host:port` (port not 0) is already bound by another
// process; OK if it is free or cannot be probed (the real bind then decides).
absl::Status CheckAddressFree(const std::string& listen);

}  // namespace evenhand::server

#endif  // EVENHAND_SERVER_DATA_DIR_LOCK_H_
