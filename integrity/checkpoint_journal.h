// CheckpointJournal: the log's memory of itself. Every checkpoint the server
// signs is appended to this file and fsynced before it is served, outside
// RocksDB, so that losing or damaging the database (its WAL, a rolled-back
// copy of its files) cannot take the checkpoints with it. On start the log
// is compared against the newest one (IntegrityLog::Open).
//
// Format: one line per checkpoint, in signing order, each a SignedCheckpoint
// in protobuf's JSON mapping (bytes in base64), e.g.
//   {"checkpoint":{"logId":"…","treeSize":"120","rootHash":"…","timestamp":…},
//    "signedBody":"…","signature":"…","keyId":"…"}
// Tree sizes never decrease along the file. A final line without its newline
// is a write torn by a crash before it was acknowledged: it is ignored with
// a warning, unless it is a whole signed checkpoint of this log (its newline
// lost or changed), which is kept and its newline put back. Any other line
// that does not parse, does not verify with the log's key, names another
// log, or goes backwards refuses to open: the journal is evidence, and
// damaged evidence is reported, not skipped. (A journal whose first line
// names another log is another log's journal; a later line naming another
// log is damage.)
//
// The default path is "<data_dir>.checkpoints.jsonl", beside the data folder
// rather than in it, so a restored or rolled-back copy of the folder cannot
// roll the journal back too.
//
// Thread-safe.
#ifndef EVENHAND_INTEGRITY_CHECKPOINT_JOURNAL_H_
#define EVENHAND_INTEGRITY_CHECKPOINT_JOURNAL_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "evenhand/v1/audit.pb.h"

namespace evenhand::integrity {

class CheckpointJournal {
 public:
  // Reads and checks every line of `path` (created, owner-only, if missing)
  // against `key` and `log_id`.
  static absl::StatusOr<std::unique_ptr<CheckpointJournal>> Open(const std::string& path,
                                                                 const v1::PublicKey& key,
                                                                 const std::string& log_id);
  ~CheckpointJournal();

  // Appends `checkpoint` (larger than the last) and fsyncs it.
  absl::Status Append(const v1::SignedCheckpoint& checkpoint);

  // The newest checkpoint; nullopt if none was ever signed.
  std::optional<v1::SignedCheckpoint> Latest() const;
  // Every checkpoint, oldest first.
  absl::StatusOr<std::vector<v1::SignedCheckpoint>> All() const;
  // The checkpoint of exactly `tree_size`, or NotFound.
  absl::StatusOr<v1::SignedCheckpoint> Find(uint64_t tree_size) const;
  // The newest checkpoint of at most `tree_size`, or nullopt.
  absl::StatusOr<std::optional<v1::SignedCheckpoint>> LatestAtMost(uint64_t tree_size) const;
  // The tree sizes of every checkpoint, oldest first.
  std::vector<uint64_t> TreeSizes() const;
  size_t size() const;
  const std::string& path() const { return path_; }
  // True if the file did not exist before Open.
  bool created() const { return created_; }

  // Moves the file aside (to "<path>.superseded-<unix time>") and starts an
  // empty one: for an operator who knowingly continues a log that no longer
  // extends what was signed. Returns the name the old journal now has.
  absl::StatusOr<std::string> Supersede();

  // The newest checkpoint in the journal at `path`, read without checking
  // it (for messages about a log that cannot be opened); nullopt if none.
  static std::optional<v1::SignedCheckpoint> PeekLatest(const std::string& path);

  // One line of the journal for `checkpoint`.
  static std::string Line(const v1::SignedCheckpoint& checkpoint);

 private:
  CheckpointJournal(std::string path, int fd, bool created);

  // The line at `offset`, parsed.
  absl::StatusOr<v1::SignedCheckpoint> ReadAt(uint64_t offset) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);

  struct Entry {
    uint64_t tree_size;
    uint64_t offset;  // of its line in the file
  };

  // OK if path_ still names the file fd_ writes. If it names none, or
  // another, FailedPrecondition saying how to put it back; a file put back with the
  // same bytes is taken up again (fd_ then writes it).
  absl::Status CheckStillThere() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string path_;
  const bool created_;
  mutable absl::Mutex mu_;
  int fd_ ABSL_GUARDED_BY(mu_);
  uint64_t file_size_ ABSL_GUARDED_BY(mu_) = 0;
  // One small entry per checkpoint (the checkpoints themselves stay on
  // disk), and the newest in full.
  std::vector<Entry> index_ ABSL_GUARDED_BY(mu_);
  std::optional<v1::SignedCheckpoint> latest_ ABSL_GUARDED_BY(mu_);
};

}  // namespace evenhand::integrity

#endif  // EVENHAND_INTEGRITY_CHECKPOINT_JOURNAL_H_
