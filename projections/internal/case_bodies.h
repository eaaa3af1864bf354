// CaseBodies: the facts of the projection's cases (their CaseRecords), held
// in memory up to a budget and read back from the checkpoint when needed.
// Internal to projections/.
//
// A case's skeleton (its kind, id, dates and place in the indexes) is
// always in memory; its body is not. Without a store every body stays in
// memory. With one (the runner's checkpoint), a body is in one of three
// states:
//   - unsaved: changed since the last checkpoint (the fold's MutableBody),
//     held until the checkpoint has written it (Saved);
//   - resident: the registry's cases (groups, councillors, officers,
//     pre-election periods), which every decision reads and whose facts the
//     report builder's registry points into, always held (a council's size,
//     not its history's). (The access records' cases, one per principal and
//     day, are cached like the rest: the access figures hold totals.)
//   - cached: read from the store or saved, held while the cached bodies
//     take less than the budget, least recently used dropped first.
// A body dropped while a reader still holds it (Get's shared pointer) stays
// alive for that reader, and is not dropped from the cache until the reader
// lets go, so a body is never in memory twice.
//
// What it does not know: when a checkpoint is taken, or what a case means.
// Bytes are what the records take in memory, estimated from their
// serialised size by a running ratio: one body in 64 held is measured
// (SpaceUsedLong(), a walk of the message). Parsed, a body takes several
// times its serialised size (about 7 at a million events, measured in RSS):
// a budget of serialised bytes held several times the memory it named.
//
// Thread-safe: readers call Get() concurrently (under the projection's
// shared lock); the fold calls the rest alone.
#ifndef EVENHAND_PROJECTIONS_INTERNAL_CASE_BODIES_H_
#define EVENHAND_PROJECTIONS_INTERNAL_CASE_BODIES_H_

#include <cstddef>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "evenhand/state/fairness_state.pb.h"
#include "projections/fairness_projection.h"

namespace evenhand::projections::internal {

class CaseBodies {
 public:
  // Cached bodies may be dropped and read back from `store` (which must
  // outlive this) while they take more than `budget_bytes` (unsaved and
  // resident ones come on top). nullptr: every body stays in memory. Only
  // with Clear() once bodies were dropped.
  void KeepIn(const StoredCases* store, size_t budget_bytes);

  // A new case's body (empty but for its stream id), unsaved.
  void Create(const Case& c);
  // A body read from the checkpoint: cached (or resident).
  void Restore(const Case& c, state::CaseRecord record);
  // The body, for reading: read back from the store if it was dropped
  // (outside the lock: readers that miss wait for no one). An error names
  // the case; nothing is held then.
  absl::StatusOr<std::shared_ptr<const state::CaseRecord>> Get(const Case& c) const;
  // A body the fold needed could not be read back: status() says `why`
  // from now on.
  void Fail(const absl::Status& why) const;
  // The body, for the fold to change: unsaved from now on.
  state::CaseRecord* MutableBody(const Case& c);
  // The fold added `part` (a fact, or a correction of one) to `c`'s
  // unsaved body. One part in 16 is sized (a walk of the message: a tenth
  // of a rebuild's fold when every fact was); the running mean of those
  // stands in for the rest. The body's size is taken again in full when a
  // checkpoint saves it (Saved), so the estimate lasts until then only.
  void Grew(const Case& c, const google::protobuf::MessageLite& part);
  // The checkpoint has written `c`'s body, serialising it (its size is
  // then the one protobuf cached; a record never serialised is sized
  // again): it may be dropped (by the next Trim(), which the caller makes
  // once it holds no lock readers wait on: a checkpoint after a rebuild
  // saves every case).
  void Saved(const Case& c);
  // Drops what is over budget now that readers may have let go.
  void Trim() const;
  // Forgets every body (and any failure).
  void Clear();

  // OK, or why a body the fold needed could not be read back: the
  // projection is then wrong and must not be reported from, or
  // checkpointed.
  absl::Status status() const;
  // OK, or the first body that could not be read back because it is damaged
  // or missing (DataLoss), by the fold or by a report: the checkpoint must
  // be replaced, which only a start does.
  absl::Status damage() const;
  // The bytes of the bodies held (in memory, estimated): all, and those
  // unsaved.
  size_t bytes() const;
  size_t unsaved_bytes() const;

 private:
  enum class State { kUnsaved, kResident, kCached };
  struct Body {
    std::shared_ptr<state::CaseRecord> record;
    size_t bytes = 0;
    State state = State::kCached;
    std::list<const Case*>::iterator lru;  // kCached only
  };
  static bool Resident(const Case& c);
  // `bytes` parsed; nullptr if they are not a CaseRecord.
  static std::shared_ptr<state::CaseRecord> Parse(const std::string& bytes);
  // Bodies dropped under the lock, destroyed after it is released (a
  // record's destructor frees each of its facts).
  using Dropped = std::vector<std::shared_ptr<state::CaseRecord>>;
  // Holds `record` as `c`'s body in `state`.
  Body& Hold(const Case& c, std::shared_ptr<state::CaseRecord> record, size_t serialised,
             State state) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // What `record`, `serialised` bytes long, takes in memory (estimated;
  // measured for one call in 64).
  size_t MemoryOf(const state::CaseRecord& record, size_t serialised) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Drops least recently used cached bodies no reader holds while over
  // budget (passing over a bounded number: readers may hold many).
  void TrimLocked(Dropped* dropped) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Forget(const Case& c, Body& b, Dropped* dropped) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  const StoredCases* store_ ABSL_GUARDED_BY(mu_) = nullptr;
  size_t budget_ ABSL_GUARDED_BY(mu_) = 0;
  mutable absl::flat_hash_map<const Case*, Body> bodies_ ABSL_GUARDED_BY(mu_);
  // Cached bodies, most recently used first.
  mutable std::list<const Case*> lru_ ABSL_GUARDED_BY(mu_);
  mutable size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  mutable size_t unsaved_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  // What the budget applies to.
  mutable size_t cached_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  // Bytes in memory per serialised byte (the ratio of the decayed sums of
  // the bodies measured, so large bodies weigh as much as they hold), and
  // the calls to MemoryOf().
  mutable double memory_per_byte_ ABSL_GUARDED_BY(mu_) = 4.0;
  mutable double measured_memory_ ABSL_GUARDED_BY(mu_) = 0;
  mutable double measured_serialised_ ABSL_GUARDED_BY(mu_) = 0;
  mutable uint64_t sized_ ABSL_GUARDED_BY(mu_) = 0;
  // Parts the fold added (Grew), and the running mean of those sized.
  uint64_t parts_ ABSL_GUARDED_BY(mu_) = 0;
  double part_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  mutable absl::Status status_ ABSL_GUARDED_BY(mu_);
  mutable absl::Status damage_ ABSL_GUARDED_BY(mu_);
};

}  // namespace evenhand::projections::internal

#endif  // EVENHAND_PROJECTIONS_INTERNAL_CASE_BODIES_H_
