// The damage a running log has found in its own files, kept on disk beside
// them so that a restart does not forget it: an event whose bytes no longer
// match its leaf hash (reads of it fail until the folder is restored), and
// a block RocksDB's checksum refused on a read. A backup never copies this
// file and a restore starts without it: restoring is the repair. An
// operator who has established otherwise that the damage is gone deletes
// it (docs/RELIABILITY.md).
//
// One line per finding, appended and synced:
//   event <TAB> found-at (RFC 3339) <TAB> position <TAB> problem (C-escaped)
//   read  <TAB> found-at <TAB> RocksDB's status (C-escaped) <TAB> the read's error (C-escaped)
// Knows nothing of RocksDB or of the log: strings and positions only.
#ifndef EVENHAND_STORAGE_DAMAGE_RECORD_H_
#define EVENHAND_STORAGE_DAMAGE_RECORD_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace evenhand::storage {

struct DamageFinding {
  enum class Kind { kEvent, kRead };
  Kind kind = Kind::kRead;
  absl::Time found_at;
  uint64_t position = 0;  // kEvent
  std::string problem;    // kEvent: what is wrong with it
  std::string source;     // kRead: RocksDB's status (file, offset): one finding per block
  std::string error;      // kRead: the error the read failed with
};

class DamageRecord {
 public:
  // The record of the log in `data_dir`: <data_dir>/damage-found.txt.
  explicit DamageRecord(std::string data_dir);

  const std::string& path() const { return path_; }

  // What earlier runs found, in order. A line that does not parse is a
  // finding too (kRead, its error saying so), never skipped: the record is
  // evidence of damage, and a damaged record is no evidence of none. No
  // file: nothing found.
  absl::StatusOr<std::vector<DamageFinding>> Load() const;

  // Appends `finding` and syncs it.
  absl::Status Append(const DamageFinding& finding) const;

 private:
  std::string path_;
};

}  // namespace evenhand::storage

#endif  // EVENHAND_STORAGE_DAMAGE_RECORD_H_
