// A small filesystem of a test's own (a tmpfs it mounts), to fill for real:
// the disk-full tests of the store and of the server. Needs root (or
// CAP_SYS_ADMIN); without it, ok() is false and reason() says why, for
// GTEST_SKIP.
#ifndef EVENHAND_TESTS_TESTING_SMALL_DISK_H_
#define EVENHAND_TESTS_TESTING_SMALL_DISK_H_

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "storage/disk_space.h"

namespace evenhand::testing {

class SmallDisk {
 public:
  SmallDisk(const std::string& path, int mib) : path_(path) {
    std::filesystem::create_directories(path);
    if (::mount("tmpfs", path.c_str(), "tmpfs", 0, absl::StrCat("size=", mib, "m").c_str()) != 0) {
      reason_ = absl::StrCat("cannot mount a ", mib, " MiB tmpfs at ", path, " (", strerror(errno),
                             "); this test needs root or CAP_SYS_ADMIN");
    }
  }
  ~SmallDisk() {
    if (reason_.empty()) ::umount2(path_.c_str(), MNT_DETACH);
  }
  bool ok() const { return reason_.empty(); }
  const std::string& reason() const { return reason_; }
  uint64_t Free() const { return *storage::FilesystemFreeBytes(path_); }
  // Fills the disk until `leave` bytes are free (a file of the test's).
  void FillLeaving(uint64_t leave) {
    const uint64_t free = Free();
    const std::string filler = path_ + "/filler-" + std::to_string(fillers_++);
    if (free <= leave) return;
    int fd = ::open(filler.c_str(), O_CREAT | O_WRONLY, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::posix_fallocate(fd, 0, static_cast<off_t>(free - leave)), 0);
    ::close(fd);
  }
  void RemoveFillers() {
    for (int i = 0; i < fillers_; ++i) ::unlink((path_ + "/filler-" + std::to_string(i)).c_str());
    fillers_ = 0;
  }

 private:
  const std::string path_;
  std::string reason_;
  int fillers_ = 0;
};

}  // namespace evenhand::testing

#endif  // EVENHAND_TESTS_TESTING_SMALL_DISK_H_
