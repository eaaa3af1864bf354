#include "storage/disk_space.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace evenhand::storage {

std::string FormatBytes(uint64_t bytes) {
  if (bytes >= (1ull << 30)) return absl::StrFormat("%.1f GiB", bytes / double(1ull << 30));
  if (bytes >= (1ull << 20)) return absl::StrFormat("%.1f MiB", bytes / double(1ull << 20));
  if (bytes >= (1ull << 10)) return absl::StrFormat("%.1f KiB", bytes / double(1ull << 10));
  return absl::StrCat(bytes, " bytes");
}

DiskSpace::DiskSpace(DiskSpaceOptions options) : options_(std::move(options)) {}

absl::StatusOr<uint64_t> DiskSpace::FreeBytes() const {
  if (options_.free_bytes) return options_.free_bytes();
  return FilesystemFreeBytes(options_.dir);
}

absl::Status DiskSpace::CheckRoom(uint64_t bytes) const {
  if (options_.floor_bytes == 0) return absl::OkStatus();
  absl::StatusOr<uint64_t> free = FreeBytes();
  if (!free.ok()) return free.status();
  if (*free >= bytes && *free - bytes >= options_.floor_bytes) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrCat(
      "the disk holding ", options_.dir, " has ", FormatBytes(*free), " free",
      bytes > 0 && *free >= options_.floor_bytes
          ? absl::StrCat("; writing ", FormatBytes(bytes), " more would leave less than")
          : ", below",
      " the floor of ", FormatBytes(options_.floor_bytes), " (", options_.floor_setting, ")"));
}

std::string DiskSpace::ReservePath() const { return options_.dir + "/reserved-space"; }

bool DiskSpace::HasReserve() const {
  struct stat st;
  return options_.reserve_bytes > 0 && ::stat(ReservePath().c_str(), &st) == 0;
}

absl::Status DiskSpace::EnsureReserve() const {
  if (options_.reserve_bytes == 0 || HasReserve()) return absl::OkStatus();
  absl::StatusOr<uint64_t> free = FreeBytes();
  if (!free.ok()) return free.status();
  // Room for it and as much again above the floor: made with less, the
  // server's own files (WALs, memtables flushed, the projection's
  // checkpoint) can take the rest, and appends are then refused for a floor
  // the server itself took the room under (found from outside: a 96 MiB
  // disk, a 64 MiB reserve, 1 MiB left).
  if (*free < options_.floor_bytes + 2 * options_.reserve_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat("no room for the reserve file (",
                                                     FormatBytes(options_.reserve_bytes),
                                                     ") and as much again above the floor"));
  }
  const std::string tmp = ReservePath() + ".tmp";
  int fd = ::open(tmp.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) return absl::InternalError(absl::StrCat("cannot create ", tmp, ": ", strerror(errno)));
  // Real blocks, not a sparse file: posix_fallocate allocates them.
  int err = ::posix_fallocate(fd, 0, static_cast<off_t>(options_.reserve_bytes));
  if (err == 0 && ::fsync(fd) != 0) err = errno;
  ::close(fd);
  if (err != 0) {
    ::unlink(tmp.c_str());
    return absl::InternalError(absl::StrCat("cannot allocate ", tmp, ": ", strerror(err)));
  }
  if (::rename(tmp.c_str(), ReservePath().c_str()) != 0) {
    ::unlink(tmp.c_str());
    return absl::InternalError(absl::StrCat("cannot rename ", tmp, ": ", strerror(errno)));
  }
  return absl::OkStatus();
}

bool DiskSpace::ReleaseReserve() const {
  return options_.reserve_bytes > 0 && ::unlink(ReservePath().c_str()) == 0;
}

}  // namespace evenhand::storage
