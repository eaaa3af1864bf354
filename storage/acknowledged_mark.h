// AcknowledgedMark: the last position the log acknowledged, kept in a small
// file beside its RocksDB files (<data_dir>/acknowledged.txt) and rewritten
// after every group commit's synced write, before its appenders are
// answered. A start compares it with the end of the log RocksDB gives back:
// an end before it means acknowledged events were lost from the end of the
// log (the newest write-ahead log cut short or removed), which RocksDB's
// recovery cannot tell from a write torn by a crash and drops without a
// word (outside probe: 1 to 2,145 acknowledged events lost, the server
// healthy, their positions given to new events).
//
// Why it never accuses a sound log: the mark is written only after the
// write it names is synced, so it is never ahead of what the disk holds. It
// is not synced itself: after a power cut it may be behind (or torn: empty,
// or without its line end; then passed over with a warning), which only
// makes the check see less. A whole line that is wrong is damage: refused. A torn
// final write of the log after a crash was never acknowledged, so never
// marked.
//
// One line, rewritten in place (one pwrite, no sync: a few microseconds):
//   evenhand-acknowledged v1 <log id> <position, 20 digits> <FNV-1a 64, hex>
// Knows nothing of RocksDB: a log id and positions. Not copied by backups
// (RocksDB's files only), so a restored folder starts without one.
// Thread-compatible: one writer (the store's).
#ifndef EVENHAND_STORAGE_ACKNOWLEDGED_MARK_H_
#define EVENHAND_STORAGE_ACKNOWLEDGED_MARK_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace evenhand::storage {

class AcknowledgedMark {
 public:
  struct Mark {
    std::string log_id;
    uint64_t position = 0;
  };

  // The mark of the log in `data_dir`.
  explicit AcknowledgedMark(std::string data_dir);
  ~AcknowledgedMark();
  AcknowledgedMark(const AcknowledgedMark&) = delete;
  AcknowledgedMark& operator=(const AcknowledgedMark&) = delete;

  const std::string& path() const { return path_; }

  // What the file says; nullopt if there is none, or if a write torn by a
  // power cut left it empty, zeros or without its line end (`*problem` says
  // so, to be logged). DATA_LOSS if it holds a whole line that does not
  // parse or fails its checksum: damage, which must not pass for a tear.
  // An error if it exists and cannot be read.
  absl::StatusOr<std::optional<Mark>> Read(std::string* problem) const;

  // Opens (creating, 0600) the file for Record().
  absl::Status OpenForWriting(const std::string& log_id);
  // Rewrites the mark: `position` was acknowledged. Not synced. An error
  // (the log goes on: the mark is a witness, not the record) is returned
  // to be logged.
  absl::Status Record(uint64_t position);

  // The line for `mark`, as the file holds it.
  static std::string Line(const Mark& mark);

 private:
  const std::string path_;
  std::string log_id_;
  int fd_ = -1;
};

}  // namespace evenhand::storage

#endif  // EVENHAND_STORAGE_ACKNOWLEDGED_MARK_H_
