// A restore's work in progress beside where it restores to:
// "<path>.restoring-XXXXXX", a folder (the data folder, renamed into place
// once verified) or a file (the journal). The restore that makes one holds
// a lock on it (flock) while it runs, so one left behind by a restore that
// was stopped part way (a signal, a power cut) is told from one still in
// use, and the next restore to the same place removes it.
//
// Knows nothing of backups or of what a restore writes into these paths.
#ifndef EVENHAND_INTEGRITY_RESTORE_STAGING_H_
#define EVENHAND_INTEGRITY_RESTORE_STAGING_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace evenhand::integrity {

class StagedPath {
 public:
  // Creates "<beside>.restoring-XXXXXX", a folder if `folder` (owner-only)
  // or else an empty file (0600), locked until this is destroyed.
  static absl::StatusOr<StagedPath> Create(const std::string& beside, bool folder);

  StagedPath(StagedPath&& other) noexcept;
  StagedPath& operator=(StagedPath&&) = delete;
  StagedPath(const StagedPath&) = delete;
  // Releases the lock; removes nothing (the restore moves the path into
  // place, or removes it, itself).
  ~StagedPath();

  const std::string& path() const { return path_; }

 private:
  StagedPath(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  std::string path_;
  int fd_ = -1;
};

// Removes "<beside>.restoring-XXXXXX" folders and files that restores
// stopped part way left: those of this user that no running restore holds
// locked (a link, or another's, is left alone). Returns what it removed.
std::vector<std::string> RemoveStaleStaging(const std::string& beside);

}  // namespace evenhand::integrity

#endif  // EVENHAND_INTEGRITY_RESTORE_STAGING_H_
