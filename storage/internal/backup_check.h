// What a backup folder's descriptions (meta/<id>, RocksDB's list of each
// backup's files with their checksums) say is wrong, found before RocksDB's
// BackupEngine reads them. Internal to storage/ (backup.cc).
//
// RocksDB checks a backup's files when it copies or restores them, not when
// it lists them: a table file cut short, or a small file of the backup's own
// (its MANIFEST, CURRENT, OPTIONS) whose bytes changed, lists as a good
// backup until a restore fails. Worse, two descriptions that record
// different checksums for one shared file stop Debian's RocksDB (built with
// assertions) on an assert(false) as it opens the folder: one damaged line
// would abort the server at every backup into the folder.
//
// So each description is read here first, and:
//   - a shared table file whose size is not the one its name records (the
//     size is part of its name) damages every backup that lists it;
//   - a backup's own files (private/<id>/) are read whole and checked
//     against their recorded checksums (they are small: the table files are
//     shared);
//   - a shared file for which descriptions disagree is read whole, and each
//     backup whose description does not match it is damaged and hidden
//     from RocksDB (which then lists it as corrupted), so RocksDB never
//     sees the disagreement.
//   - a shared file a new backup's read-back found damaged is remembered
//     (RememberDamagedSharedFile), and read again at each check: while it
//     is not the checksum the descriptions record, every backup that lists
//     it is damaged (a listing would otherwise call them complete, though
//     the failed backup had named the file).
// Shared table files are otherwise not read: that is a restore's work, and
// a new backup's (CreateBackup reads back all of its files).
#ifndef EVENHAND_STORAGE_INTERNAL_BACKUP_CHECK_H_
#define EVENHAND_STORAGE_INTERNAL_BACKUP_CHECK_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "rocksdb/file_system.h"

namespace evenhand::storage::internal {

struct BackupCheck {
  // Backup id -> what is wrong with it (the first thing found).
  absl::flat_hash_map<uint32_t, std::string> damage;
  // Backups whose description RocksDB must not read (see above).
  absl::flat_hash_set<uint32_t> hidden;
  // What a description, or a file one lists, is that is not a regular file
  // (a folder, or a link to a device: a read of /dev/zero never ends), if
  // any: no backup is taken into such a folder (RocksDB would write
  // through it and read it back).
  std::string irregular;
};

// Where the shared files found damaged are remembered: `dir`/<this>, one
// path (relative to `dir`) a line.
inline constexpr char kDamagedSharedFiles[] = "damaged-shared-files";

// What `dir`/meta/<id> says of its backup before its files: when it was
// taken and the caller's metadata (hex-decoded), as far as they can be read
// (RocksDB lists nothing of a backup it counts corrupted). False if the
// description cannot be read.
bool ReadDescriptionHeader(const std::string& dir, uint32_t id, int64_t* created_unix_seconds,
                           std::string* metadata);

// Remembers that the shared file `dir`/`relative_path` was found damaged
// (once; a path outside shared_checksum/ and shared/ is not remembered).
// False if it could not be written.
bool RememberDamagedSharedFile(const std::string& dir, const std::string& relative_path);

// Reads the descriptions in `dir`/meta and the files they name as above.
// A folder without meta/ has nothing to check.
BackupCheck CheckBackupFolder(const std::string& dir);

// `base`, except that the descriptions of `check.hidden` in `dir` cannot be
// read (Corruption), so RocksDB counts those backups corrupted.
std::shared_ptr<rocksdb::FileSystem> HidingDescriptions(std::shared_ptr<rocksdb::FileSystem> base,
                                                        const std::string& dir,
                                                        const BackupCheck& check);

// The CRC-32C of the bytes of the file at `path`, as RocksDB's backup
// descriptions record it. False if it cannot be read.
bool FileCrc32c(const std::string& path, uint32_t* crc);

}  // namespace evenhand::storage::internal

#endif  // EVENHAND_STORAGE_INTERNAL_BACKUP_CHECK_H_
