#include "server/data_dir_lock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "storage/rocksdb_support.h"

namespace evenhand::server {
namespace {

// What the file says of a server that has stopped (SetStopped).
constexpr absl::string_view kStopped = "stopped and exiting,";

}  // namespace

absl::StatusOr<std::unique_ptr<DataDirLock>> DataDirLock::Acquire(const std::string& data_dir) {
  if (absl::Status s = storage::MakeOwnerOnlyDir(data_dir); !s.ok()) return s;
  const std::string path = data_dir + "/evenhandd.pid";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot open ", path, ": ", strerror(errno)));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char buffer[512] = {};
    ssize_t n = ::pread(fd, buffer, sizeof(buffer) - 1, 0);
    ::close(fd);
    std::string holder = n > 0 ? std::string(absl::StripAsciiWhitespace(buffer)) : "";
    if (absl::StrContains(holder, kStopped)) {
      // It has closed everything in the folder and is handing its memory
      // back to the kernel (seconds, for a long log).
      return absl::FailedPreconditionError(absl::StrCat(
          "the data folder ", data_dir, " is still held by an evenhandd that has stopped and is ",
          "exiting (", holder, "): try again in a few seconds"));
    }
    return absl::FailedPreconditionError(absl::StrCat(
        "the data folder ", data_dir, " is in use by another evenhandd",
        holder.empty() ? "" : absl::StrCat(" (", holder, ")"),
        ": stop that server first, or give this one another --data_dir"));
  }
  std::unique_ptr<DataDirLock> lock(new DataDirLock(path, fd));
  lock->Write("starting,");
  return lock;
}

DataDirLock::~DataDirLock() {
  // The file stays (it is only a lock); unlocking lets the next server in.
  (void)::ftruncate(fd_, 0);
  ::flock(fd_, LOCK_UN);
  ::close(fd_);
}

void DataDirLock::SetListening(const std::string& address) {
  Write(absl::StrCat("listening on ", address, ","));
}

void DataDirLock::SetStopped() { Write(kStopped); }

void DataDirLock::Write(absl::string_view state) {
  std::string text = absl::StrCat(
      "pid ", ::getpid(), ", ", state, " since ",
      absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", absl::Now(), absl::UTCTimeZone()), "\n");
  if (::ftruncate(fd_, 0) == 0) (void)!::pwrite(fd_, text.data(), text.size(), 0);
}

absl::Status CheckAddressFree(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return absl::OkStatus();
  std::string host = listen.substr(0, colon);
  int port = 0;
  if (!absl::SimpleAtoi(listen.substr(colon + 1), &port) || port == 0) return absl::OkStatus();
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints = {};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.empty() ? nullptr : host.c_str(), std::to_string(port).c_str(), &hints,
                    &found) != 0) {
    return absl::OkStatus();
  }
  absl::Status result = absl::OkStatus();
  for (addrinfo* a = found; a != nullptr && result.ok(); a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype, a->ai_protocol);
    if (fd < 0) continue;
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));  // not SO_REUSEPORT
    if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0 && errno == EADDRINUSE) {
      result = absl::FailedPreconditionError(absl::StrCat(
          "cannot listen on ", listen, ": the address is in use (is another evenhandd already "
          "running there? `evenhand --server=", listen, " status` asks it). Stop it, or choose "
          "another address with --listen=HOST:PORT"));
    }
    ::close(fd);
  }
  ::freeaddrinfo(found);
  return result;
}

}  // namespace evenhand::server
