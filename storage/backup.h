// Backups of the log's RocksDB: online copies taken with RocksDB's
// BackupEngine while appends continue, listed, pruned, checked and restored.
//
// A backup folder holds any number of backups of one log; table files are
// shared between them (named by their checksums), so a backup copies only
// what changed since the last one. Each backup is a crash-consistent copy:
// opening it is as if the server had stopped at some instant after the
// backup began, and it holds every write acknowledged before then.
//
// Knows RocksDB's files, not events or checkpoints: the caller stores what
// it needs with each backup as an opaque `metadata` string.
//
// Thread-safe as RocksDB's BackupEngine is for one process: callers take one
// backup of a folder at a time (the Operations service serialises them, and
// holds BackupFolderLock against other processes).
#ifndef EVENHAND_STORAGE_BACKUP_H_
#define EVENHAND_STORAGE_BACKUP_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "rocksdb/db.h"

namespace evenhand::storage {

struct BackupSummary {
  uint32_t id = 0;
  absl::Time created;
  uint64_t size_bytes = 0;  // all of this backup's files
  uint32_t files = 0;
  std::string metadata;
  // Non-empty for a damaged backup: what is wrong. Either RocksDB cannot
  // read it whole (it lists it as corrupted; only `id` is known then), or a
  // file it lists is not what its description records
  // (internal/backup_check.h).
  std::string damage;
};

struct CreatedBackup {
  BackupSummary backup;
  uint64_t copied_bytes = 0;  // files not already in the folder
};

// Holds `dir` (created, owner-only, if missing) for one backup, whichever
// process takes it: two servers backing up into one folder at once were
// given one id between them, and one said "backup 1 taken" of a folder
// holding nothing of its log it could restore (outside probe). An flock on
// the folder, released when this is destroyed (or the process dies).
class BackupFolderLock {
 public:
  // Aborted, saying so, if another backup holds it.
  static absl::StatusOr<BackupFolderLock> Take(const std::string& dir);
  BackupFolderLock(BackupFolderLock&& other) noexcept;
  BackupFolderLock& operator=(BackupFolderLock&&) = delete;
  ~BackupFolderLock();

 private:
  explicit BackupFolderLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// Copies `db` into the backup folder `dir` (created, owner-only, if
// missing) with `metadata`. With `flush`, memtables are flushed first (a
// database opened read-only cannot). Then reads every file of the new backup
// back against its checksum: files already in the folder are shared, not
// copied again, so one damaged there would make this backup (and every
// later one) unrestorable without a word. If one is, the new backup is
// deleted again and DataLoss says which file. Deletes nothing else: which
// backups are worth keeping is the caller's to say (DeleteBackups), once the
// new one is complete.
absl::StatusOr<CreatedBackup> CreateBackup(rocksdb::DB* db, const std::string& dir,
                                           const std::string& metadata, bool flush);

// Deletes backup `id` of `dir`, and the files no other backup shares.
absl::Status DeleteBackup(const std::string& dir, uint32_t id);

// The backups in `dir`, oldest first, damaged ones too (BackupSummary::
// damage). NotFound if `dir` holds none (or is not a backup folder).
// `irregular`, if given: the first thing in the folder that is not what a
// backup makes there (a link, a device, a FIFO, a file of more than one
// name), which refuses backups into it; "" if none.
absl::StatusOr<std::vector<BackupSummary>> ListBackups(const std::string& dir,
                                                       std::string* irregular = nullptr);

// Checks every file of backup `id` against the size and checksum recorded
// when it was taken. DataLoss naming the first file that differs.
absl::Status VerifyBackupFiles(const std::string& dir, uint32_t id);

// Restores backup `id` of `dir` into `data_dir` (which must not hold a
// database), checking each file's checksum as it is copied.
absl::Status RestoreBackup(const std::string& dir, uint32_t id, const std::string& data_dir);

// Whether `path` (a folder a backup, a restored data folder or a journal is
// to be written in or as) lies inside a part of a folder a store keeps for
// itself: a backup folder's own parts (meta/, private/, shared_checksum/,
// shared/, evenhand/: the backup engine's and ours, deleted whole by
// retention; a folder beside them, another backup folder say, is the
// operator's) or anywhere in a RocksDB database (CURRENT beside IDENTITY or
// a MANIFEST-*: a data folder, a restored one not yet started, the
// projection's, a map's). InvalidArgument naming that
// folder, `what` and `path` if so. Checked for `path` as given and as its
// links resolve.
absl::Status CheckNotInsideAStoresFolder(const std::string& path, absl::string_view what);

// A backup opened where it lies, for reading only (to find where a damaged
// backup is damaged without copying it): open an EventStore read-only on
// `db_dir` with `file_system`. Keep the view alive while the store is.
struct BackupView {
  std::string db_dir;
  std::shared_ptr<rocksdb::FileSystem> file_system;
  std::shared_ptr<rocksdb::Env> env;
};
absl::StatusOr<BackupView> ViewBackup(const std::string& dir, uint32_t id);

}  // namespace evenhand::storage

#endif  // EVENHAND_STORAGE_BACKUP_H_
