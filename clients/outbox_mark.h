// The outbox's record of the last event it took, kept two ways so that a
// write-ahead log cut short or damaged shows (clients/publisher.h):
//  - in the outbox's RocksDB, under kHighestSeqKey, merged by MaxSeqMerge
//    in the same write as each event (so deleting a delivered event does
//    not lower it, and concurrent writes in any order leave the highest);
//  - in a file beside it (EVENHAND-TAKEN), written after each event's write
//    is synced, not itself synced: it may lag after a power cut, never lead.
// On opening, a RocksDB that holds a lower seq than the file lost events the
// publisher had taken: RocksDB's recovery of the write-ahead log stops
// without a word at a record whose length runs past the file's end, which
// is also what a crash's torn last write looks like.
// Knows nothing of events, batches or the server.
#ifndef EVENHAND_CLIENTS_OUTBOX_MARK_H_
#define EVENHAND_CLIENTS_OUTBOX_MARK_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "rocksdb/merge_operator.h"

namespace evenhand::clients {

// The key of the highest seq written; not 8 bytes long, as event keys are.
inline constexpr char kHighestSeqKey[] = "~highest-seq";
inline constexpr char kTakenFile[] = "EVENHAND-TAKEN";

// Keeps the larger of two big-endian 64-bit values.
std::shared_ptr<rocksdb::MergeOperator> MaxSeqMerge();

class OutboxMark {
 public:
  // Opens `folder`/EVENHAND-TAKEN, made (holding 0) if `create`, else it
  // must exist. DATA_LOSS if it is missing or does not hold a number;
  // UNAVAILABLE if it cannot be opened or made.
  static absl::StatusOr<std::unique_ptr<OutboxMark>> Open(const std::string& folder, bool create);
  ~OutboxMark();

  // The highest seq recorded.
  uint64_t taken() const;
  // Records `seq` if higher. False if the file cannot be written (the
  // check at the next start is then weaker, never wrong).
  bool Take(uint64_t seq);
  // Syncs the file (at a clean close).
  void Sync();

 private:
  OutboxMark(int fd, uint64_t taken) : fd_(fd), taken_(taken) {}
  const int fd_;
  mutable absl::Mutex mu_;
  uint64_t taken_ ABSL_GUARDED_BY(mu_);
};

}  // namespace evenhand::clients

#endif  // EVENHAND_CLIENTS_OUTBOX_MARK_H_
