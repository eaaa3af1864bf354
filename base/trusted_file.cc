#include "base/trusted_file.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace evenhand {
namespace {

std::string Mode(mode_t mode) { return absl::StrFormat("%04o", mode & 07777); }

// Whether `gid` is `uid`'s own group, of which it is the only member (a
// user private group: Ubuntu's umask 002 makes files group-writable by it,
// which gives nobody else anything).
bool OwnersPrivateGroup(uid_t uid, gid_t gid) {
  // Not root's: root uses no umask 002, and users whose primary group is
  // root's are not listed as its members.
  if (uid == 0) return false;
  struct passwd pw, *pw_found = nullptr;
  struct group gr, *gr_found = nullptr;
  char pw_buffer[4096], gr_buffer[16384];
  if (::getpwuid_r(uid, &pw, pw_buffer, sizeof pw_buffer, &pw_found) != 0 || pw_found == nullptr ||
      pw.pw_gid != gid) {
    return false;
  }
  if (::getgrgid_r(gid, &gr, gr_buffer, sizeof gr_buffer, &gr_found) != 0 || gr_found == nullptr) {
    return false;
  }
  // Named after its user, as user private groups are, and no one else's.
  if (std::strcmp(gr.gr_name, pw.pw_name) != 0) return false;
  for (char** member = gr.gr_mem; *member != nullptr; ++member) {
    if (std::strcmp(*member, pw.pw_name) != 0) return false;
  }
  // Nor another user's primary group: such users are in it without being
  // listed as its members (outside probe: `useradd -g svc svc2` wrote to
  // svc's files). The users of /etc/passwd, read with a stream of its own.
  FILE* users = std::fopen("/etc/passwd", "re");
  if (users == nullptr) return false;
  bool alone = true;
  struct passwd other, *found = nullptr;
  char buffer[4096];
  while (::fgetpwent_r(users, &other, buffer, sizeof buffer, &found) == 0 && found != nullptr) {
    if (other.pw_gid == gid && other.pw_uid != uid) alone = false;
  }
  std::fclose(users);
  return alone;
}

// Whether a POSIX ACL is on what `path` names (or `fd`, if not negative).
bool HasAcl(const std::string& path, int fd) {
  return (fd >= 0 ? ::fgetxattr(fd, "system.posix_acl_access", nullptr, 0)
                  : ::lgetxattr(path.c_str(), "system.posix_acl_access", nullptr, 0)) > 0;
}

// Whether someone other than the owner may write what `st` describes (at
// `path`, or open as `fd` if not negative). With a POSIX ACL the mode's
// group bits are the ACL's mask, the most any named user or group gets,
// so group write then means someone may write (`setfacl -m u:nobody:rwx`
// shows only as that bit).
bool OthersMayWrite(const std::string& path, int fd, const struct stat& st) {
  if ((st.st_mode & S_IWOTH) != 0) return true;
  if ((st.st_mode & S_IWGRP) == 0) return false;
  if (HasAcl(path, fd)) return true;
  return !OwnersPrivateGroup(st.st_uid, st.st_gid);
}

// What is wrong with the folder `dir` (lstat'ed as `st`) on the way to a
// trusted file, or "": someone else who can write it can put another file,
// folder or link in place of what the path goes through.
std::string FolderWrong(const std::string& dir, const struct stat& st) {
  if (st.st_uid != 0 && st.st_uid != ::geteuid()) {
    return absl::StrFormat(
        "is reached through %s, owned by user id %u (neither root nor the server's user), who "
        "could replace what is in it: chown root %s",
        dir, st.st_uid, dir);
  }
  if ((st.st_mode & S_ISVTX) == 0 && OthersMayWrite(dir, -1, st)) {
    return absl::StrFormat(
        "is reached through %s, which its group or others can write (mode %s), so they could "
        "replace what is in it: chmod go-w %s",
        dir, Mode(st.st_mode), dir);
  }
  return "";
}

// Walks `path` from the root as the kernel resolves it, following each
// link: every folder passed through, and every link, must be changeable by
// root or the server's user alone (a link in a sticky folder is its
// owner's to replace). What is wrong, or "" (also when the path does not
// resolve: opening it says why). Outside probe: a link in a 0777 folder
// was re-pointed by `nobody` at the system's CA bundle, and served.
std::string PathWrong(std::string path, int links_left = 40) {
  if (path.empty() || path[0] != '/') {
    char cwd[PATH_MAX];
    if (::getcwd(cwd, sizeof cwd) == nullptr) return "";
    path = absl::StrCat(cwd, "/", path);
  }
  const std::vector<std::string> parts = absl::StrSplit(path, '/', absl::SkipEmpty());
  std::string at = "/";
  struct stat st;
  if (::lstat("/", &st) == 0) {
    if (std::string wrong = FolderWrong("/", st); !wrong.empty()) return wrong;
  }
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i] == ".") continue;
    if (parts[i] == "..") {  // `at` holds no link, so its parent is lexical
      at = at.substr(0, at.find_last_of('/'));
      if (at.empty()) at = "/";
      continue;
    }
    const std::string next = at == "/" ? "/" + parts[i] : absl::StrCat(at, "/", parts[i]);
    if (::lstat(next.c_str(), &st) != 0) return "";
    if (S_ISLNK(st.st_mode)) {
      if (st.st_uid != 0 && st.st_uid != ::geteuid()) {
        return absl::StrFormat(
            "is reached through the link %s, owned by user id %u (neither root nor the "
            "server's user), who could point it elsewhere: replace it with one of root's",
            next, st.st_uid);
      }
      if (--links_left < 0) return "is reached through too many links";
      char target[PATH_MAX];
      const ssize_t n = ::readlink(next.c_str(), target, sizeof target - 1);
      if (n <= 0) return "";
      std::string resolved(target, static_cast<size_t>(n));
      if (resolved[0] != '/') resolved = absl::StrCat(at, "/", resolved);
      for (size_t j = i + 1; j < parts.size(); ++j) absl::StrAppend(&resolved, "/", parts[j]);
      return PathWrong(resolved, links_left);
    }
    if (i + 1 == parts.size()) break;  // the file itself: checked as opened
    if (!S_ISDIR(st.st_mode)) return "";
    if (std::string wrong = FolderWrong(next, st); !wrong.empty()) return wrong;
    at = next;
  }
  return "";
}

// What is wrong with the file `st` describes (opened as `path`), or "".
std::string WhatIsWrong(const std::string& path, int fd, const struct stat& st,
                        FileSecrecy secrecy) {
  if (!S_ISREG(st.st_mode)) {
    return "is not a regular file (a FIFO, a device or a folder): put the file itself there";
  }
  if (st.st_uid != 0 && st.st_uid != ::geteuid()) {
    return absl::StrFormat(
        "is owned by user id %u, neither root nor the server's own user (%u), so that user can "
        "change it: chown root %s (or the server's user)",
        st.st_uid, ::geteuid(), path);
  }
  if (OthersMayWrite(path, fd, st)) {
    return absl::StrFormat(
        "can be changed by its group or others (mode %s), who could then make themselves "
        "anyone the server trusts: chmod go-w %s",
        Mode(st.st_mode), path);
  }
  // (With an ACL, group read is the mask: someone it names may read.)
  if (secrecy == FileSecrecy::kSecret &&
      ((st.st_mode & S_IRWXO) != 0 || ((st.st_mode & S_IRGRP) != 0 && HasAcl(path, fd)))) {
    return absl::StrFormat(
        "is a private key others can read (mode %s): whoever read it can pose as its owner. "
        "chmod 600 %s (or 640 for a group such as ssl-cert), and if others may have read it, "
        "replace the key",
        Mode(st.st_mode), path);
  }
  return PathWrong(path);
}

absl::StatusOr<int> OpenChecked(const std::string& path, absl::string_view setting,
                                FileSecrecy secrecy) {
  if (path.empty()) return absl::InvalidArgumentError(absl::StrCat(setting, ": required"));
  // Never waits: a FIFO put there would hang the start (outside probe).
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    return absl::NotFoundError(
        absl::StrCat(setting, ": cannot read ", path, " (", std::strerror(e), ")"));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return absl::NotFoundError(absl::StrCat(setting, ": cannot read ", path));
  }
  if (std::string wrong = WhatIsWrong(path, fd, st, secrecy); !wrong.empty()) {
    ::close(fd);
    return absl::FailedPreconditionError(absl::StrCat(setting, ": ", path, " ", wrong));
  }
  return fd;
}

}  // namespace

absl::StatusOr<std::string> ReadTrustedFile(const std::string& path, absl::string_view setting,
                                            FileSecrecy secrecy, size_t max_bytes) {
  absl::StatusOr<int> fd = OpenChecked(path, setting, secrecy);
  if (!fd.ok()) return fd.status();
  std::string text;
  char buffer[65536];
  for (;;) {
    const ssize_t n = ::read(*fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int e = errno;
      ::close(*fd);
      return absl::NotFoundError(
          absl::StrCat(setting, ": cannot read ", path, " (", std::strerror(e), ")"));
    }
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
    if (text.size() > max_bytes) {
      ::close(*fd);
      return absl::FailedPreconditionError(
          absl::StrCat(setting, ": ", path, " is larger than ", max_bytes, " bytes"));
    }
  }
  ::close(*fd);
  return text;
}

absl::Status CheckTrustedFile(const std::string& path, absl::string_view setting,
                              FileSecrecy secrecy) {
  absl::StatusOr<int> fd = OpenChecked(path, setting, secrecy);
  if (!fd.ok()) return fd.status();
  ::close(*fd);
  return absl::OkStatus();
}

absl::Status CheckTrustedFolder(const std::string& dir, absl::string_view setting) {
  // "/." makes the folder itself one the walk passes through.
  if (std::string wrong = PathWrong(absl::StrCat(dir.empty() ? "." : dir, "/.")); !wrong.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(setting, ": ", dir, "/ ", wrong));
  }
  return absl::OkStatus();
}

}  // namespace evenhand
