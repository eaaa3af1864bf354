// FaultFs: a RocksDB file system (a FileSystemWrapper over the real one)
// that counts the operations RocksDB makes and makes one of them fail, the
// way disks fail:
//
//   kNoSpace     the n-th write (Append) fails with ENOSPC; nothing written
//   kWriteError  the n-th write fails with EIO; nothing written
//   kSyncError   the n-th sync (file Sync/Fsync, directory Fsync) fails
//                with EIO
//   kTornWrite   the n-th write is cut short half way by a power cut
//   kPowerCut    the machine loses power before the n-th operation
//
// After a power cut every later write or sync fails ("power lost") and, once
// the store is closed, DropUnsyncedData() does what the power cut did to the
// disk: every file loses whatever was written to it since its last sync (a
// file never synced loses everything). The page cache a killed process
// leaves behind is exactly what this takes away, so `sync=true` is tested,
// not assumed.
//
// Thread-safe. Test-only.
#ifndef EVENHAND_TESTS_TESTING_FAULT_FS_H_
#define EVENHAND_TESTS_TESTING_FAULT_FS_H_

#include <unistd.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "rocksdb/file_system.h"

namespace evenhand::testing {

enum class FaultKind { kNone, kNoSpace, kWriteError, kSyncError, kTornWrite, kPowerCut };

inline const char* FaultName(FaultKind kind) {
  switch (kind) {
    case FaultKind::kNone: return "none";
    case FaultKind::kNoSpace: return "ENOSPC on write";
    case FaultKind::kWriteError: return "EIO on write";
    case FaultKind::kSyncError: return "EIO on fsync";
    case FaultKind::kTornWrite: return "torn write";
    case FaultKind::kPowerCut: return "power cut";
  }
  return "?";
}

class FaultFs final : public rocksdb::FileSystemWrapper {
 public:
  FaultFs() : rocksdb::FileSystemWrapper(rocksdb::FileSystem::Default()) {}
  const char* Name() const override { return "FaultFs"; }

  // Counting starts (at 0) and the fault is armed: it hits the `at`-th
  // operation of its kind (writes, syncs, or any operation for a power cut).
  void Arm(FaultKind kind, uint64_t at) {
    absl::MutexLock lock(&mu_);
    kind_ = kind;
    at_ = at;
    writes_ = syncs_ = ops_ = 0;
    fired_ = false;
    fired_on_.clear();
  }
  // Operations counted since Arm.
  uint64_t writes() const { absl::MutexLock lock(&mu_); return writes_; }
  uint64_t syncs() const { absl::MutexLock lock(&mu_); return syncs_; }
  uint64_t ops() const { absl::MutexLock lock(&mu_); return ops_; }
  // Whether the fault happened, and to which file.
  bool fired() const { absl::MutexLock lock(&mu_); return fired_; }
  std::string fired_on() const { absl::MutexLock lock(&mu_); return fired_on_; }
  bool power_lost() const { absl::MutexLock lock(&mu_); return power_lost_; }

  // After a power cut (or torn write), with every file closed: each file
  // keeps only what was synced.
  void DropUnsyncedData() {
    absl::MutexLock lock(&mu_);
    for (const auto& [name, state] : files_) {
      if (state.size > state.synced) (void)!::truncate(name.c_str(), static_cast<off_t>(state.synced));
    }
    files_.clear();
    power_lost_ = false;
    kind_ = FaultKind::kNone;
  }

  // --- file system ---------------------------------------------------------

  rocksdb::IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r,
                                    rocksdb::IODebugContext* d) override {
    if (auto s = Op(f); !s.ok()) return s;
    auto s = target()->NewWritableFile(f, o, r, d);
    if (s.ok()) Track(f, 0, r);
    return s;
  }
  rocksdb::IOStatus ReopenWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                       std::unique_ptr<rocksdb::FSWritableFile>* r,
                                       rocksdb::IODebugContext* d) override {
    if (auto s = Op(f); !s.ok()) return s;
    auto s = target()->ReopenWritableFile(f, o, r, d);
    if (s.ok()) {
      uint64_t size = 0;
      target()->GetFileSize(f, rocksdb::IOOptions(), &size, nullptr).PermitUncheckedError();
      Track(f, size, r);
    }
    return s;
  }
  rocksdb::IOStatus ReuseWritableFile(const std::string& f, const std::string& old,
                                      const rocksdb::FileOptions& o,
                                      std::unique_ptr<rocksdb::FSWritableFile>* r,
                                      rocksdb::IODebugContext* d) override {
    if (auto s = Op(f); !s.ok()) return s;
    auto s = target()->ReuseWritableFile(f, old, o, r, d);
    if (s.ok()) Track(f, 0, r);
    return s;
  }
  rocksdb::IOStatus RenameFile(const std::string& from, const std::string& to,
                               const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
    if (auto s = Op(to); !s.ok()) return s;
    auto s = target()->RenameFile(from, to, o, d);
    if (s.ok()) {
      absl::MutexLock lock(&mu_);
      auto it = files_.find(from);
      if (it != files_.end()) {
        files_[to] = it->second;
        files_.erase(it);
      } else {
        files_.erase(to);
      }
    }
    return s;
  }
  rocksdb::IOStatus DeleteFile(const std::string& f, const rocksdb::IOOptions& o,
                               rocksdb::IODebugContext* d) override {
    if (auto s = Op(f); !s.ok()) return s;
    auto s = target()->DeleteFile(f, o, d);
    if (s.ok()) {
      absl::MutexLock lock(&mu_);
      files_.erase(f);
    }
    return s;
  }
  rocksdb::IOStatus NewDirectory(const std::string& name, const rocksdb::IOOptions& o,
                                 std::unique_ptr<rocksdb::FSDirectory>* r,
                                 rocksdb::IODebugContext* d) override {
    auto s = target()->NewDirectory(name, o, r, d);
    if (s.ok()) *r = std::make_unique<Directory>(this, name, std::move(*r));
    return s;
  }

 private:
  struct FileState {
    uint64_t size = 0;    // bytes written
    uint64_t synced = 0;  // bytes durable
  };

  class File final : public rocksdb::FSWritableFileOwnerWrapper {
   public:
    File(FaultFs* fs, std::string name, std::unique_ptr<rocksdb::FSWritableFile> f)
        : rocksdb::FSWritableFileOwnerWrapper(std::move(f)), fs_(fs), name_(std::move(name)) {}
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                             rocksdb::IODebugContext* d) override {
      return fs_->Write(name_, data, [&](const rocksdb::Slice& part) {
        return target()->Append(part, o, d);
      });
    }
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                             const rocksdb::DataVerificationInfo&,
                             rocksdb::IODebugContext* d) override {
      return Append(data, o, d);
    }
    rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset,
                                       const rocksdb::IOOptions& o,
                                       rocksdb::IODebugContext* d) override {
      return fs_->Write(name_, data, [&](const rocksdb::Slice& part) {
        return target()->PositionedAppend(part, offset, o, d);
      });
    }
    rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset,
                                       const rocksdb::IOOptions& o,
                                       const rocksdb::DataVerificationInfo&,
                                       rocksdb::IODebugContext* d) override {
      return PositionedAppend(data, offset, o, d);
    }
    rocksdb::IOStatus Truncate(uint64_t size, const rocksdb::IOOptions& o,
                               rocksdb::IODebugContext* d) override {
      if (auto s = fs_->Op(name_); !s.ok()) return s;
      auto s = target()->Truncate(size, o, d);
      if (s.ok()) fs_->Truncated(name_, size);
      return s;
    }
    rocksdb::IOStatus Sync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
      return fs_->SyncOp(name_, [&] { return target()->Sync(o, d); });
    }
    rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
      return fs_->SyncOp(name_, [&] { return target()->Fsync(o, d); });
    }
    rocksdb::IOStatus Close(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
      // A file is closed even after a power cut: the process still frees it.
      return target()->Close(o, d);
    }

   private:
    FaultFs* const fs_;
    const std::string name_;
  };

  class Directory final : public rocksdb::FSDirectory {
   public:
    Directory(FaultFs* fs, std::string name, std::unique_ptr<rocksdb::FSDirectory> d)
        : fs_(fs), name_(std::move(name)), target_(std::move(d)) {}
    rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
      return fs_->SyncOp(name_, [&] { return target_->Fsync(o, d); }, /*file=*/false);
    }
    rocksdb::IOStatus FsyncWithDirOptions(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d,
                                          const rocksdb::DirFsyncOptions&) override {
      return Fsync(o, d);
    }
    rocksdb::IOStatus Close(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
      return target_->Close(o, d);
    }
    size_t GetUniqueId(char* id, size_t max) const override {
      return target_->GetUniqueId(id, max);
    }

   private:
    FaultFs* const fs_;
    const std::string name_;
    std::unique_ptr<rocksdb::FSDirectory> target_;
  };

  void Track(const std::string& name, uint64_t size, std::unique_ptr<rocksdb::FSWritableFile>* r) {
    {
      absl::MutexLock lock(&mu_);
      files_[name] = FileState{size, size};
    }
    *r = std::make_unique<File>(this, name, std::move(*r));
  }

  void Truncated(const std::string& name, uint64_t size) {
    absl::MutexLock lock(&mu_);
    FileState& f = files_[name];
    f.size = size;
    f.synced = std::min(f.synced, size);
  }

  static rocksdb::IOStatus PowerLost() {
    return rocksdb::IOStatus::IOError("FaultFs: the machine lost power");
  }

  // Any other operation: only a power cut can hit it.
  rocksdb::IOStatus Op(const std::string& name) {
    absl::MutexLock lock(&mu_);
    if (power_lost_) return PowerLost();
    if (kind_ == FaultKind::kPowerCut && ops_++ == at_) {
      Fire(name);
      power_lost_ = true;
      return PowerLost();
    }
    return rocksdb::IOStatus::OK();
  }

  template <typename Do>
  rocksdb::IOStatus Write(const std::string& name, const rocksdb::Slice& data, Do write) {
    bool torn = false;
    {
      absl::MutexLock lock(&mu_);
      if (power_lost_) return PowerLost();
      const uint64_t op = ops_++;
      const uint64_t n = writes_++;
      if (kind_ == FaultKind::kPowerCut && op == at_) {
        Fire(name);
        power_lost_ = true;
        return PowerLost();
      }
      if (n == at_ && (kind_ == FaultKind::kNoSpace || kind_ == FaultKind::kWriteError)) {
        Fire(name);
        return kind_ == FaultKind::kNoSpace
                   ? rocksdb::IOStatus::NoSpace("FaultFs: injected ENOSPC", name)
                   : rocksdb::IOStatus::IOError("FaultFs: injected EIO on write", name);
      }
      torn = n == at_ && kind_ == FaultKind::kTornWrite;
    }
    if (torn) {
      // Half of it reaches the file; then the power goes.
      rocksdb::Slice half(data.data(), data.size() / 2);
      rocksdb::IOStatus s = write(half);
      absl::MutexLock lock(&mu_);
      if (s.ok()) files_[name].size += half.size();
      Fire(name);
      power_lost_ = true;
      return PowerLost();
    }
    rocksdb::IOStatus s = write(data);
    if (s.ok()) {
      absl::MutexLock lock(&mu_);
      files_[name].size += data.size();
    }
    return s;
  }

  template <typename Do>
  rocksdb::IOStatus SyncOp(const std::string& name, Do sync, bool file = true) {
    {
      absl::MutexLock lock(&mu_);
      if (power_lost_) return PowerLost();
      const uint64_t op = ops_++;
      const uint64_t n = syncs_++;
      if (kind_ == FaultKind::kPowerCut && op == at_) {
        Fire(name);
        power_lost_ = true;
        return PowerLost();
      }
      if (kind_ == FaultKind::kSyncError && n == at_) {
        Fire(name);
        return rocksdb::IOStatus::IOError("FaultFs: injected EIO on fsync", name);
      }
    }
    rocksdb::IOStatus s = sync();
    if (s.ok() && file) {
      absl::MutexLock lock(&mu_);
      FileState& f = files_[name];
      f.synced = f.size;
    }
    return s;
  }

  void Fire(const std::string& name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    fired_ = true;
    fired_on_ = name;
  }

  mutable absl::Mutex mu_;
  FaultKind kind_ ABSL_GUARDED_BY(mu_) = FaultKind::kNone;
  uint64_t at_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t writes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t syncs_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t ops_ ABSL_GUARDED_BY(mu_) = 0;
  bool fired_ ABSL_GUARDED_BY(mu_) = false;
  bool power_lost_ ABSL_GUARDED_BY(mu_) = false;
  std::string fired_on_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, FileState> files_ ABSL_GUARDED_BY(mu_);
};

}  // namespace evenhand::testing

#endif  // EVENHAND_TESTS_TESTING_FAULT_FS_H_
