#include "storage/rocksdb_support.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "base/logging.h"
#include "rocksdb/rate_limiter.h"
#include "storage/rate_limiter.h"

namespace evenhand::storage {

RocksLogger::RocksLogger(std::string component)
    : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL), component_(std::move(component)) {}

void RocksLogger::Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) {
  if (level < rocksdb::InfoLogLevel::WARN_LEVEL || level == rocksdb::InfoLogLevel::HEADER_LEVEL) {
    return;
  }
  char buffer[1024];
  va_list copy;
  va_copy(copy, ap);
  vsnprintf(buffer, sizeof(buffer), format, copy);
  va_end(copy);
  absl::string_view line = absl::StripTrailingAsciiWhitespace(buffer);
  // A backup's nested disabling of file deletions (BackupEngine's and the
  // live-file listing's own) makes RocksDB warn as the inner one ends:
  // expected, not a problem.
  if (absl::StrContains(line, "File Deletions Enable, but not really enabled") ||
      absl::StrContains(line, "File Deletions Disabled, but already disabled")) {
    return;
  }
  std::string message = absl::StrCat("RocksDB: ", line);
  if (level < rocksdb::InfoLogLevel::ERROR_LEVEL && !opening_.load()) {
    // Its kind: the text up to the first digit after the source location.
    std::string kind(line.substr(0, 48));
    kind.erase(std::find_if(kind.begin() + std::min<size_t>(kind.size(), kind.find(']') + 1),
                            kind.end(), [](char c) { return c >= '0' && c <= '9'; }),
               kind.end());
    constexpr absl::Duration kRepeatEvery = absl::Seconds(30);
    const absl::Time now = absl::Now();
    absl::MutexLock lock(&mu_);
    if (recent_.size() > 1000) recent_.clear();
    auto& [last, held_back] = recent_[kind];
    if (now - last < kRepeatEvery) {
      ++held_back;
      return;
    }
    if (held_back > 0) absl::StrAppend(&message, " (and ", held_back, " more like it)");
    last = now;
    held_back = 0;
  }
  if (level >= rocksdb::InfoLogLevel::ERROR_LEVEL || opening_.load()) {
    logging::Error(component_, message);
  } else {
    logging::Warning(component_, message);
  }
}

namespace {

// Makes every file and folder RocksDB creates owner-only.
class OwnerOnlyFs final : public rocksdb::FileSystemWrapper {
 public:
  explicit OwnerOnlyFs(std::shared_ptr<rocksdb::FileSystem> base)
      : rocksdb::FileSystemWrapper(std::move(base)) {}
  const char* Name() const override { return "EvenhandOwnerOnly"; }

  rocksdb::IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r,
                                    rocksdb::IODebugContext* d) override {
    return Restrict(f, target()->NewWritableFile(f, o, r, d));
  }
  rocksdb::IOStatus ReopenWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                       std::unique_ptr<rocksdb::FSWritableFile>* r,
                                       rocksdb::IODebugContext* d) override {
    return Restrict(f, target()->ReopenWritableFile(f, o, r, d));
  }
  rocksdb::IOStatus ReuseWritableFile(const std::string& f, const std::string& old,
                                      const rocksdb::FileOptions& o,
                                      std::unique_ptr<rocksdb::FSWritableFile>* r,
                                      rocksdb::IODebugContext* d) override {
    return Restrict(f, target()->ReuseWritableFile(f, old, o, r, d));
  }
  rocksdb::IOStatus NewRandomRWFile(const std::string& f, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSRandomRWFile>* r,
                                    rocksdb::IODebugContext* d) override {
    return Restrict(f, target()->NewRandomRWFile(f, o, r, d));
  }
  rocksdb::IOStatus LockFile(const std::string& f, const rocksdb::IOOptions& o,
                             rocksdb::FileLock** l, rocksdb::IODebugContext* d) override {
    return Restrict(f, target()->LockFile(f, o, l, d));
  }
  rocksdb::IOStatus CreateDir(const std::string& d, const rocksdb::IOOptions& o,
                              rocksdb::IODebugContext* dbg) override {
    return RestrictDir(d, target()->CreateDir(d, o, dbg));
  }
  rocksdb::IOStatus CreateDirIfMissing(const std::string& d, const rocksdb::IOOptions& o,
                                       rocksdb::IODebugContext* dbg) override {
    return RestrictDir(d, target()->CreateDirIfMissing(d, o, dbg));
  }

 private:
  static rocksdb::IOStatus Restrict(const std::string& file, rocksdb::IOStatus s) {
    if (s.ok() && ::chmod(file.c_str(), 0600) != 0) {
      return rocksdb::IOStatus::IOError(absl::StrCat("cannot make ", file, " owner-only: ",
                                                     strerror(errno)));
    }
    return s;
  }
  static rocksdb::IOStatus RestrictDir(const std::string& dir, rocksdb::IOStatus s) {
    if (s.ok() && ::chmod(dir.c_str(), 0700) != 0) {
      return rocksdb::IOStatus::IOError(absl::StrCat("cannot make ", dir, " owner-only: ",
                                                     strerror(errno)));
    }
    return s;
  }
};

}  // namespace

std::shared_ptr<rocksdb::FileSystem> OwnerOnlyFileSystem(
    std::shared_ptr<rocksdb::FileSystem> base) {
  if (base == nullptr) base = rocksdb::FileSystem::Default();
  return std::make_shared<OwnerOnlyFs>(std::move(base));
}

std::unique_ptr<rocksdb::Env> EnvOver(std::shared_ptr<rocksdb::FileSystem> fs) {
  return rocksdb::NewCompositeEnv(std::move(fs));
}

void ShareTheDiskWithTheLog(rocksdb::Options* options) {
  // One limiter for every such database in the process.
  // Not rocksdb::NewGenericRateLimiter: RocksDB 7.8's can stop granting
  // for good (see rate_limiter.h).
  static const std::shared_ptr<rocksdb::RateLimiter> limiter =
      std::make_shared<TokenBucketRateLimiter>(kAuxiliaryWriteBytesPerSecond,
                                               kRateLimitRefillMicros);
  options->rate_limiter = limiter;
  options->bytes_per_sync = 256 << 10;
  options->wal_bytes_per_sync = 256 << 10;
}


absl::Status MakeOwnerOnlyDir(const std::string& dir) {
  std::error_code ec;
  struct stat before;
  const bool existed = ::stat(dir.c_str(), &before) == 0;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", dir, ": ", ec.message()));
  // A folder others could write until now: what is in it (the log, the
  // signing key) may have been replaced before this start, which nothing
  // here can tell; said, not only mended (outside probe).
  if (existed && (before.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    logging::Warning("storage",
                     absl::StrFormat("%s was writable by its group or others (mode %04o) until "
                                     "now; it is made owner-only, but whoever could write it "
                                     "could have replaced what it holds (a data folder: the log "
                                     "and its signing key). If that may have happened, check "
                                     "the log with evenhand verify and the key's id with "
                                     "evenhand pubkey",
                                     dir, before.st_mode & 07777));
  }
  // Another user's folder stays theirs to change whatever its mode (outside
  // probe: a data folder of `nobody`'s was made 0700 and used, with the
  // signing key in it). Root's is the usual one to refuse below (EPERM).
  struct stat now;
  if (::stat(dir.c_str(), &now) == 0 && now.st_uid != 0 && now.st_uid != ::geteuid()) {
    return absl::FailedPreconditionError(absl::StrCat(
        dir, " belongs to user ", now.st_uid, ", not to the user evenhandd runs as (", ::geteuid(),
        "), who could change what it holds whatever its mode: chown -R it to the user the "
        "server runs as"));
  }
  if (::chmod(dir.c_str(), 0700) != 0) {
    const int error = errno;
    struct stat st;
    std::string whose;
    if (error == EPERM && ::stat(dir.c_str(), &st) == 0 && st.st_uid != ::geteuid()) {
      // The usual cause: a folder made by root (a restore, a copy) for a
      // server that runs as its own user.
      whose = absl::StrCat(" (it belongs to user ", st.st_uid, ", and evenhandd runs as user ",
                           ::geteuid(), ": chown -R it to the user the server runs as)");
    }
    return absl::InternalError(
        absl::StrCat("cannot make ", dir, " owner-only: ", strerror(error), whose));
  }
  return absl::OkStatus();
}

absl::Status FromRocksStatus(const rocksdb::Status& s, const std::string& what,
                             absl::StatusCode code) {
  if (s.ok()) return absl::OkStatus();
  if (s.IsNoSpace()) code = absl::StatusCode::kResourceExhausted;
  if (s.IsCorruption()) code = absl::StatusCode::kDataLoss;
  return absl::Status(code, absl::StrCat(what, ": ", s.ToString()));
}

}  // namespace evenhand::storage
