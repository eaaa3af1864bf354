// IntegrityLog: the hash chain, the Merkle tree and the signed checkpoints
// of the event log, kept in step with it.
//
// It is the store's commit hook: every group commit adds, in the same
// RocksDB batch as the events, each event's chain hash and the tree nodes
// its leaf completes, so the log and its tree can never disagree, not even
// after a crash. The right edge of the tree (a few dozen hashes) is kept in
// memory; on start it is read back from the stored nodes, never recomputed
// from the events. (A log written before the tree existed is hashed once, on
// the first start that finds it behind.)
//
// A background thread signs a checkpoint of the tree when it has grown and
// `checkpoint_every` has passed, or `checkpoint_every_events` were added.
//
// Column family "integrity":
//   "n" u8(level) BE64(index) -> node hash (level 0: leaf hashes)
//   "c" BE64(position)        -> chain hash after that event
//   "s"                       -> BE64(tree size)
//   "k" BE64(tree size)       -> SignedCheckpoint
//
// Thread-safe. Must outlive its use by the store (until the store is closed).
#ifndef EVENHAND_INTEGRITY_INTEGRITY_LOG_H_
#define EVENHAND_INTEGRITY_INTEGRITY_LOG_H_

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "evenhand/v1/audit.pb.h"
#include "integrity/merkle.h"
#include "integrity/signing.h"
#include "storage/event_store.h"

namespace evenhand::integrity {

struct IntegrityOptions {
  std::string signing_key_file;
  absl::Duration checkpoint_every = absl::Seconds(60);
  uint64_t checkpoint_every_events = 10000;
  std::string server_version;
  std::function<absl::Time()> clock = [] { return absl::Now(); };
};

class IntegrityLog final : public storage::CommitHook {
 public:
  static constexpr char kColumnFamily[] = "integrity";

  // Loads (or creates) the signing key, restores the tree's right edge,
  // hashes any events the tree has not seen yet, installs itself as the
  // store's commit hook and starts signing checkpoints. The store must have
  // been opened with kColumnFamily and `*store` must outlive this.
  static absl::StatusOr<std::unique_ptr<IntegrityLog>> Open(storage::EventStore* store,
                                                            IntegrityOptions options);
  ~IntegrityLog() override;

  // Stops the checkpoint thread after signing the tree as it stands.
  void Stop();

  // storage::CommitHook: Prepare on the store's sequencer thread, the others
  // on its writer thread.
  absl::Status Prepare(const std::vector<storage::EventPtr>& events,
                       rocksdb::WriteBatch* batch) override;
  void Committed() override;
  void Aborted() override;

  // The number of events in the tree (equal to the log's last position).
  uint64_t size() const;
  // The root of the tree of `tree_size` (<= size(); 0 is the empty tree).
  absl::StatusOr<std::string> Root(uint64_t tree_size) const;
  absl::StatusOr<std::string> LeafHash(uint64_t position) const;
  // The chain hash after `position` (0: the genesis value).
  absl::StatusOr<std::string> ChainHashAt(uint64_t position) const;

  // tree_size 0 means the current tree.
  absl::StatusOr<v1::InclusionProof> InclusionProof(uint64_t position, uint64_t tree_size) const;
  absl::StatusOr<v1::ConsistencyProof> ConsistencyProof(uint64_t from_size, uint64_t to_size) const;

  // The checkpoint of exactly `tree_size`, or the latest for 0. NotFound if
  // none.
  absl::StatusOr<v1::SignedCheckpoint> Checkpoint(uint64_t tree_size) const;
  absl::StatusOr<std::vector<v1::SignedCheckpoint>> Checkpoints() const;
  // Signs the tree as it stands now (if no checkpoint covers it yet) and
  // returns the latest checkpoint.
  absl::StatusOr<v1::SignedCheckpoint> CheckpointNow();

  // An investigation bundle of `events` (position order), proven against a
  // checkpoint signed now.
  absl::StatusOr<std::string> ExportBundle(const std::vector<storage::EventPtr>& events,
                                           const std::string& description,
                                           const std::string& selection);

  const v1::PublicKey& public_key() const { return key_.public_key(); }
  bool key_created() const { return key_created_; }

 private:
  IntegrityLog(storage::EventStore* store, IntegrityOptions options, SigningKey key);
  absl::Status Restore();
  absl::Status CatchUp();
  absl::StatusOr<std::string> ReadNode(int level, uint64_t index) const;
  absl::StatusOr<v1::SignedCheckpoint> SignAndStore(uint64_t tree_size, std::string root)
      ABSL_LOCKS_EXCLUDED(mu_);
  void RunCheckpointer();

  storage::EventStore* const store_;
  const IntegrityOptions options_;
  const SigningKey key_;
  bool key_created_ = false;

  mutable absl::Mutex mu_;
  CompactRange range_ ABSL_GUARDED_BY(mu_);
  std::string chain_head_ ABSL_GUARDED_BY(mu_);
  uint64_t signed_size_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time signed_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  bool stop_ ABSL_GUARDED_BY(mu_) = false;

  // Groups prepared but not yet committed, oldest first: each the tree and
  // chain head as they will be once it is durable.
  std::deque<std::pair<CompactRange, std::string>> prepared_ ABSL_GUARDED_BY(mu_);
  // The tree and chain head after the last prepared group: the sequencer
  // thread's (and Open()'s before the hook is installed).
  CompactRange tail_range_;
  std::string tail_chain_;

  std::thread checkpointer_;
};

}  // namespace evenhand::integrity

#endif  // EVENHAND_INTEGRITY_INTEGRITY_LOG_H_
