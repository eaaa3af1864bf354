// The free space of a file system, as an unprivileged writer sees it
// (statvfs's f_bavail): the server's log keeps a floor of it, and the
// publisher's outbox too.
#ifndef EVENHAND_BASE_FREE_DISK_H_
#define EVENHAND_BASE_FREE_DISK_H_

#include <sys/statvfs.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace evenhand {

// Free bytes for an unprivileged writer on the filesystem holding `path`.
inline absl::StatusOr<uint64_t> FilesystemFreeBytes(const std::string& path) {
  struct statvfs st;
  if (::statvfs(path.c_str(), &st) != 0) {
    return absl::InternalError(
        absl::StrCat("cannot read the free space under ", path, ": ", std::strerror(errno)));
  }
  return static_cast<uint64_t>(st.f_bavail) * static_cast<uint64_t>(st.f_frsize);
}

}  // namespace evenhand

#endif  // EVENHAND_BASE_FREE_DISK_H_
