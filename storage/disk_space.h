// DiskSpace: the free-space floor under a data folder, and the reserve file
// that can be given back when the disk fills.
//
// RocksDB cannot be trusted to survive running out of space on its write
// path (Debian's 7.8.3 keeps its assertions, and a WAL or LOG file that once
// failed a write aborts the process on the next one; upstream PR #12448).
// So evenhandd never lets it get there: a group commit that would leave less
// than the floor free is refused before RocksDB sees it, and the reserve (a
// preallocated file of the data folder's) is deleted when the server starts
// on a disk already below the floor, so the database can open read-write and
// serve reads while appends wait for space.
//
// Thread-safe.
#ifndef EVENHAND_STORAGE_DISK_SPACE_H_
#define EVENHAND_STORAGE_DISK_SPACE_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/free_disk.h"

namespace evenhand::storage {

struct DiskSpaceOptions {
  // The folder whose filesystem is watched; the reserve file lives in it.
  std::string dir;
  // Appends are refused while fewer bytes than this would be free after
  // them. 0 turns the check off.
  uint64_t floor_bytes = 256ull << 20;
  // Size of the reserve file ("reserved-space" in `dir`). 0: none.
  uint64_t reserve_bytes = 64ull << 20;
  // Free bytes on the filesystem; tests inject one. Default: statvfs(2).
  std::function<absl::StatusOr<uint64_t>()> free_bytes;
  // What the floor is called in the configuration, for messages.
  std::string floor_setting = "minFreeDiskMib";
};

class DiskSpace {
 public:
  explicit DiskSpace(DiskSpaceOptions options);

  // Free bytes now.
  absl::StatusOr<uint64_t> FreeBytes() const;

  // OK if writing `bytes` more leaves at least the floor free; otherwise
  // ResourceExhausted saying how much is free and the floor (callers add
  // what it means for them).
  absl::Status CheckRoom(uint64_t bytes) const;

  // Creates the reserve file if it is missing and the disk has room for it,
  // and as much again, above the floor. Errors are returned, never fatal.
  absl::Status EnsureReserve() const;
  // Deletes the reserve file; true if there was one.
  bool ReleaseReserve() const;
  bool HasReserve() const;

  uint64_t floor_bytes() const { return options_.floor_bytes; }
  const std::string& dir() const { return options_.dir; }

 private:
  std::string ReservePath() const;
  const DiskSpaceOptions options_;
};

// Free bytes for an unprivileged writer on the filesystem holding `path`.
using ::evenhand::FilesystemFreeBytes;

// "12.3 MiB".
std::string FormatBytes(uint64_t bytes);

}  // namespace evenhand::storage

#endif  // EVENHAND_STORAGE_DISK_SPACE_H_
