// ProjectionRunner: keeps the fairness projection up to date with the log.
//
// On start it restores the projection from its checkpoint in the store's
// "projections" column family (or starts from position 1 if there is none,
// or if it was written by another state version), then follows the log
// through a storage subscription, folding events as they commit. Every
// `checkpoint_every_events` events or `checkpoint_every` (and on Stop) it
// writes the cases changed since the last checkpoint, together with the
// position they reflect, in one atomic RocksDB batch. A crash loses at most
// the work since the last checkpoint, which is refolded on restart.
//
// Thread-safe: one thread folds; Read() gives readers a consistent view.
#ifndef EVENHAND_PROJECTIONS_PROJECTION_RUNNER_H_
#define EVENHAND_PROJECTIONS_PROJECTION_RUNNER_H_

#include <functional>
#include <memory>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "projections/fairness_projection.h"
#include "storage/event_store.h"

namespace evenhand::projections {

struct RunnerOptions {
  size_t checkpoint_every_events = 50000;
  absl::Duration checkpoint_every = absl::Seconds(60);
  // Discard any checkpoint and fold the whole log again.
  bool rebuild = false;
};

class ProjectionRunner {
 public:
  // The column family the runner keeps its checkpoint in; the store must be
  // opened with it in StoreOptions::extra_column_families.
  static constexpr char kColumnFamily[] = "projections";

  // `store` must outlive the runner.
  static absl::StatusOr<std::unique_ptr<ProjectionRunner>> Start(storage::EventStore* store,
                                                                 RunnerOptions options);
  ~ProjectionRunner();

  // Stops following the log and writes a final checkpoint. Call before the
  // store is closed. Idempotent.
  void Stop();

  // Waits until the projection has folded `position`; false on timeout.
  bool WaitForPosition(uint64_t position, absl::Time deadline) const;
  uint64_t position() const;

  // Runs `read` on the projection, which does not change meanwhile.
  void Read(const std::function<void(const FairnessProjection&)>& read) const;

  // Writes a checkpoint now (tests); normally the fold thread does this.
  absl::Status CheckpointForTest();

 private:
  ProjectionRunner(storage::EventStore* store, RunnerOptions options);
  absl::Status Restore();
  absl::Status Checkpoint() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Follow();

  storage::EventStore* const store_;
  const RunnerOptions options_;

  mutable absl::Mutex mu_;
  FairnessProjection projection_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t checkpointed_position_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time checkpointed_at_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace evenhand::projections

#endif  // EVENHAND_PROJECTIONS_PROJECTION_RUNNER_H_
