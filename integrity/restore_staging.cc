// StagedPath and RemoveStaleStaging: see restore_staging.h.
#include "integrity/restore_staging.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace evenhand::integrity {
namespace fs = std::filesystem;
namespace {

constexpr char kInfix[] = ".restoring-";
constexpr size_t kSuffixLength = 6;  // mkdtemp's and mkstemp's XXXXXX

}  // namespace

absl::StatusOr<StagedPath> StagedPath::Create(const std::string& beside, bool folder) {
  std::string path = absl::StrCat(beside, kInfix, std::string(kSuffixLength, 'X'));
  int fd = -1;
  if (folder) {
    if (::mkdtemp(path.data()) != nullptr) fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY);
  } else {
    fd = ::mkstemp(path.data());
    if (fd >= 0) ::fchmod(fd, 0600);
  }
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("cannot create a ", folder ? "folder" : "file",
                                            " beside ", beside, ": ", std::strerror(errno)));
  }
  // Taken at once: nothing else knows the name yet.
  ::flock(fd, LOCK_EX | LOCK_NB);
  return StagedPath(std::move(path), fd);
}

StagedPath::StagedPath(StagedPath&& other) noexcept
    : path_(std::move(other.path_)), fd_(std::exchange(other.fd_, -1)) {}

StagedPath::~StagedPath() {
  if (fd_ >= 0) ::close(fd_);  // the lock goes with it
}

std::vector<std::string> RemoveStaleStaging(const std::string& beside) {
  std::vector<std::string> removed;
  const fs::path target(beside);
  const std::string prefix = absl::StrCat(target.filename().string(), kInfix);
  const fs::path parent = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(parent, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() != prefix.size() + kSuffixLength ||
        name.compare(0, prefix.size(), prefix) != 0) {
      continue;
    }
    bool suffix_ok = true;
    for (size_t i = prefix.size(); i < name.size(); ++i) {
      suffix_ok = suffix_ok && absl::ascii_isalnum(static_cast<unsigned char>(name[i]));
    }
    if (!suffix_ok) continue;
    // Never through a link, and never another user's.
    struct stat st;
    if (::lstat(entry.path().c_str(), &st) != 0 || st.st_uid != ::geteuid() ||
        !(S_ISDIR(st.st_mode) || S_ISREG(st.st_mode))) {
      continue;
    }
    const int fd = ::open(entry.path().c_str(),
                          O_RDONLY | O_NOFOLLOW | (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0));
    if (fd < 0) continue;
    // Held by a restore still running: its own, not ours to remove.
    const bool stale = ::flock(fd, LOCK_EX | LOCK_NB) == 0;
    if (stale) {
      std::error_code remove_ec;
      fs::remove_all(entry.path(), remove_ec);
      if (!remove_ec) removed.push_back(entry.path().string());
    }
    ::close(fd);
  }
  return removed;
}

}  // namespace evenhand::integrity
