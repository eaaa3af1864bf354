// IntegrityLog's checkpoints: signing them (with the chain head and the
// stream-head map brought to their size), the thread that signs them on
// cadence, and investigation bundles proven against them. The tree, the
// chain and the start-up checks are in integrity_log.cc.
#include <algorithm>
#include <ctime>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/error_details.h"
#include "base/logging.h"
#include "base/status_macros.h"
#include "base/thread_name.h"
#include "base/time_util.h"
#include "integrity/bundle_writer.h"
#include "integrity/canonical.h"
#include "integrity/integrity_log.h"
#include "integrity/integrity_log_internal.h"
#include "integrity/stream_map.h"
#include "integrity/tree_keys.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace evenhand::integrity {

using log_internal::Describe;
using log_internal::kComponent;

absl::StatusOr<v1::SignedCheckpoint> IntegrityLog::Checkpoint(uint64_t tree_size) const {
  if (tree_size == 0) {
    std::optional<v1::SignedCheckpoint> latest = journal_->Latest();
    if (!latest) return absl::NotFoundError("no checkpoint has been signed yet");
    return *std::move(latest);
  }
  return journal_->Find(tree_size);
}

absl::StatusOr<std::vector<v1::SignedCheckpoint>> IntegrityLog::Checkpoints() const {
  return journal_->All();
}

absl::StatusOr<uint64_t> IntegrityLog::ResetStreamMapIfAhead(uint64_t tree_size) {
  EH_ASSIGN_OR_RETURN(uint64_t map_size, stream_map_->Size());
  if (map_size <= tree_size) return map_size;
  // The log was knowingly continued from an earlier position (a new
  // journal): the map is rebuilt from the first event.
  logging::Warning(kComponent, absl::StrCat("the stream-head map is at position ", map_size,
                                            ", beyond the log's ", tree_size,
                                            ": rebuilding it from the first event"));
  EH_RETURN_IF_ERROR(stream_map_->Reset());
  return 0;
}

absl::Status IntegrityLog::CancelIfStopping(uint64_t map_size, uint64_t tree_size) const {
  absl::MutexLock lock(&mu_);
  if (!stop_) return absl::OkStatus();
  return absl::CancelledError(absl::StrCat(
      "stopping with the stream-head map at position ", map_size, " of ", tree_size,
      ": the checkpoint of ", tree_size, " events is signed after the next start"));
}

absl::Status IntegrityLog::BuildStreamMapInSteps(uint64_t tree_size) {
  for (bool first = true;; first = false) {
    if (!first && options_.TEST_after_map_step) options_.TEST_after_map_step();
    absl::MutexLock sign_lock(&sign_mu_);
    // (At or beyond `tree_size`: a caller signed a larger tree meanwhile.)
    EH_ASSIGN_OR_RETURN(const uint64_t map_size, stream_map_->Size());
    if (map_size >= tree_size) return absl::OkStatus();
    const uint64_t behind = tree_size - map_size;
    // A stop waits for one step at most.
    if (!first) EH_RETURN_IF_ERROR(CancelIfStopping(map_size, tree_size));
    {
      absl::MutexLock stats(&stats_mu_);
      // The last step is the signing's, under the same hold of the lock.
      if (behind <= MapStep() || (!map_build_ && behind <= options_.map_build_in_steps_over)) {
        return absl::OkStatus();
      }
      map_build_ = MapBuild{map_size, tree_size};
    }
    if (first) {
      logging::Info(kComponent,
                    absl::StrCat("building the stream-head map from position ", map_size, " to ",
                                 tree_size, " in steps; checkpoints, exports and stream-head "
                                 "proofs are refused until the checkpoint of ", tree_size,
                                 " is signed"));
    }
    EH_RETURN_IF_ERROR(UpdateStreamMap(map_size + MapStep()).status());
  }
}

absl::Status IntegrityLog::RefuseWhileMapBuilds() const {
  absl::MutexLock stats(&stats_mu_);
  if (!map_build_) return absl::OkStatus();
  return WithErrorInfo(
      absl::UnavailableError(absl::StrCat(
          "the stream-head map is being built (at position ", map_build_->at, " of ",
          map_build_->to, "), after a restore or the loss of the map; signed checkpoints, "
          "exports and stream-head proofs resume once it is done; try again later")),
      "STREAM_MAP_BUILDING",
      {{"map_position", absl::StrCat(map_build_->at)},
       {"building_to", absl::StrCat(map_build_->to)}});
}

bool IntegrityLog::MapFarBehind(uint64_t tree_size) {
  if (store_->write_state().read_only) return false;  // MapAtCheckpoint says why
  absl::StatusOr<uint64_t> map_size = stream_map_->Size();
  if (!map_size.ok() || *map_size >= tree_size ||
      tree_size - *map_size <= std::max(MapStep(), options_.map_build_in_steps_over)) {
    return false;  // (an error is UpdateStreamMap's to return)
  }
  {
    absl::MutexLock stats(&stats_mu_);
    if (!map_build_) map_build_ = MapBuild{*map_size, tree_size};
  }
  absl::MutexLock lock(&mu_);
  map_build_requested_ = true;
  return true;
}

absl::Status IntegrityLog::MapAtCheckpoint(const v1::Checkpoint& c) {
  EH_ASSIGN_OR_RETURN(const uint64_t map_size, stream_map_->Size());
  if (map_size > c.tree_size()) {
    return absl::UnavailableError(absl::StrCat(
        "the stream-head map is at position ", map_size, ", beyond the latest checkpoint (",
        c.tree_size(), "); the next checkpoint covers it; try again shortly"));
  }
  if (map_size < c.tree_size() && store_->write_state().read_only) {
    return WithErrorInfo(
        absl::UnavailableError(absl::StrCat(
            "the stream-head map is at position ", map_size, ", behind the latest checkpoint (",
            c.tree_size(), "), and the log is open read-only (a disk too full to write): "
            "stream-head proofs resume once the server can write again")),
        "READ_ONLY");
  }
  // Behind it: its newest steps were lost in a crash (it is written without
  // a WAL), or the map was lost. Built again from the events, and whatever
  // its size, it must give the root that was signed.
  absl::StatusOr<std::string> root =
      map_size < c.tree_size() ? UpdateStreamMap(c.tree_size()) : stream_map_->Root();
  if (!root.ok()) return root.status();
  if (*root != c.stream_map_root()) {
    const std::string problem =
        absl::StrCat("the stream-head map ", map_size < c.tree_size() ? "built again " : "",
                     "from the log does not give the root signed in the checkpoint of ",
                     c.tree_size(), " events");
    AddProblem(problem);
    return absl::DataLossError(problem);
  }
  absl::MutexLock stats(&stats_mu_);
  if (map_build_ && c.tree_size() >= map_build_->to) map_build_.reset();
  return absl::OkStatus();
}

absl::StatusOr<std::string> IntegrityLog::UpdateStreamMap(uint64_t tree_size) {
  EH_ASSIGN_OR_RETURN(uint64_t map_size, ResetStreamMapIfAhead(tree_size));
  if (map_size == tree_size) return stream_map_->Root();
  // The heads of the streams that changed since the map's size, some
  // thousands of events at a time: each step is one RocksDB batch (its own
  // consistent map, with the size it reflects). In the log's own RocksDB a
  // step is kept small, so that the group commits, which share its write
  // queue, never wait long behind it; in the map's own RocksDB (the
  // server's) a step covers a checkpoint's events, so the top of the tree,
  // which every head's path shares, is rewritten once per checkpoint.
  const uint64_t kStep = MapStep();
  std::string root;
  // This thread's CPU time, not the wall clock: on a busy machine the
  // checkpoint thread waits for a core, which costs appends nothing.
  auto cpu_now = [] {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return absl::DurationFromTimespec(ts);
  };
  const absl::Duration started = cpu_now();
  while (map_size < tree_size) {
    // A stop waits for one step at most, never for the whole log's map (at
    // 10M events, built from nothing, a quarter of an hour): every step
    // done is kept, and the next start goes on from there.
    if (tree_size - map_size > kStep) EH_RETURN_IF_ERROR(CancelIfStopping(map_size, tree_size));
    const uint64_t to = std::min(tree_size, map_size + kStep);
    std::map<std::string, StreamHeadValue> heads;
    uint64_t expected = map_size + 1;
    auto take = [&](const storage::EventPtr& e) {
      if (e->position() > to || e->position() != expected) return false;
      ++expected;
      heads[StreamKey(e->event().stream_id())] = {e->stream_revision(), e->position()};
      return true;
    };
    // The events the commits handed over, if they are exactly these: moved
    // out under the lock (the writer thread takes it for every commit, and
    // this thread runs at a lower priority), hashed outside it.
    std::vector<storage::EventPtr> handed;
    {
      absl::MutexLock lock(&mu_);
      while (!unmapped_.empty() && unmapped_.front()->position() <= map_size) {
        unmapped_.pop_front();
      }
      if (!unmapped_.empty() && unmapped_.front()->position() == expected &&
          unmapped_.back()->position() >= to) {
        handed.reserve(to - map_size);
        while (!unmapped_.empty() && unmapped_.front()->position() <= to) {
          handed.push_back(std::move(unmapped_.front()));
          unmapped_.pop_front();
        }
      }
    }
    for (const storage::EventPtr& e : handed) take(e);
    if (expected == map_size + 1) {
      // Otherwise (after a restart, or too many at once) from the store,
      // which shows a commit a moment after the tree learns of it.
      EH_RETURN_IF_ERROR(WaitForStore(to));
      EH_RETURN_IF_ERROR(store_->ReadAll(map_size + 1, storage::Direction::kForwards, to - map_size,
                                         storage::ReadFilter(), take));
    }
    // Never a map that misses an event: it would prove a case complete
    // without it.
    if (expected != to + 1) {
      return absl::InternalError(absl::StrCat("integrity: reading positions ", map_size + 1, "..",
                                              to, " for the stream-head map stopped at ",
                                              expected));
    }
    // Without a WAL (in the log's own RocksDB, the log's synced group
    // commits never carry it; in its own, it takes no disk until flushed):
    // a batch is applied to the memtable whole, so a crash loses the map's
    // newest steps together with the size they set, and the next checkpoint
    // redoes them from the events. Stop() flushes it.
    rocksdb::WriteOptions unsynced;
    unsynced.disableWAL = true;
    EH_ASSIGN_OR_RETURN(root, stream_map_->Update(heads, to, unsynced));
    {
      absl::MutexLock stats(&stats_mu_);
      map_updates_ += 1;
      map_entries_updated_ += heads.size();
      map_size = to;
      if (map_build_) map_build_->at = to;
    }
    if (map_size < tree_size && options_.TEST_after_map_step) options_.TEST_after_map_step();
  }
  absl::MutexLock stats(&stats_mu_);
  map_time_ += cpu_now() - started;
  return root;
}

absl::StatusOr<v1::SignedCheckpoint> IntegrityLog::SignAndStore(uint64_t tree_size) {
  absl::MutexLock sign_lock(&sign_mu_);
  return SignAndStoreLocked(tree_size);
}

absl::StatusOr<v1::SignedCheckpoint> IntegrityLog::SignAndStoreLocked(uint64_t tree_size) {
  // A map already beyond `tree_size` (a signing that failed after moving
  // it, or one a caller did meanwhile) is signed as it is, not started
  // again from the first event.
  if (absl::StatusOr<uint64_t> map_size = stream_map_->Size();
      map_size.ok() && *map_size > tree_size && *map_size <= size()) {
    tree_size = *map_size;
  }
  // Signing and the synced append happen outside mu_, so appends (which take
  // mu_ to publish each group) never wait for this fsync.
  std::optional<v1::SignedCheckpoint> last = journal_->Latest();
  if (last) {
    const uint64_t last_size = last->checkpoint().tree_size();
    if (tree_size < last_size) {
      // A larger tree was signed meanwhile (an export or CheckpointNow while
      // this thread was behind on the multiples): it covers this size, and
      // the journal only grows.
      return *std::move(last);
    }
    // Never sign a tree that does not extend the last one signed: the log
    // would then contradict evidence already handed out.
    absl::StatusOr<std::string> then =
        last_size <= size() ? Root(last_size) : absl::StatusOr<std::string>(std::string());
    if (tree_size < last_size || !then.ok() || *then != last->checkpoint().root_hash()) {
      const std::string problem = absl::StrCat(
          "refusing to sign the tree of size ", tree_size, ": it does not extend ", Describe(*last),
          then.ok() ? "" : absl::StrCat(" (", then.status().message(), ")"));
      AddProblem(problem);
      return absl::DataLossError(problem);
    }
    // (A version 1 checkpoint of the same size is signed again as version 2.)
    if (tree_size == last_size && !last->checkpoint().stream_map_root().empty()) {
      EH_RETURN_IF_ERROR(MapAtCheckpoint(last->checkpoint()));
      return *std::move(last);
    }
  }
  v1::Checkpoint c;
  c.set_log_id(store_->log_id());
  c.set_tree_size(tree_size);
  EH_ASSIGN_OR_RETURN(std::string root, Root(tree_size));
  c.set_root_hash(std::move(root));
  EH_ASSIGN_OR_RETURN(std::string chain, ChainHashAt(tree_size));
  c.set_chain_head(std::move(chain));
  absl::StatusOr<std::string> map_root = UpdateStreamMap(tree_size);
  if (absl::IsDataLoss(map_root.status())) {
    // Damage, to the log or to the map: listed, whoever asked (status,
    // health), as well as answered.
    AddProblem(absl::StrCat("no checkpoint can be signed: ", map_root.status().message()));
  }
  EH_RETURN_IF_ERROR(map_root.status());
  c.set_stream_map_root(*std::move(map_root));
  const absl::Time now = options_.clock();
  *c.mutable_timestamp() = ToProtoTime(now);
  EH_ASSIGN_OR_RETURN(v1::SignedCheckpoint signed_checkpoint, SignCheckpoint(key_, c));
  // Auditors keep checkpoints; the log must too, before anyone sees one.
  EH_RETURN_IF_ERROR(journal_->Append(signed_checkpoint));
  if (!journal_signed_recorded_ && !store_->write_state().read_only) {
    // The log remembers that its journal holds a checkpoint: one found
    // empty at a later start was emptied (OpenJournal). Unsynced: lost in a
    // crash, it is written again at the next checkpoint.
    rocksdb::Status s =
        store_->db()->Put(rocksdb::WriteOptions(), store_->ColumnFamily(kColumnFamily),
                          tree_keys::kJournalSignedKey, "1");
    if (s.ok()) journal_signed_recorded_ = true;
  }
  {
    absl::MutexLock stats(&stats_mu_);
    if (map_build_ && tree_size >= map_build_->to) map_build_.reset();
  }
  {
    absl::MutexLock lock(&mu_);
    if (tree_size >= signed_size_) {
      signed_size_ = tree_size;
      signed_at_ = now;
    }
    retry_at_ = absl::InfinitePast();  // signed: the count is heeded again
    signing_failed_ = false;
  }
  DropReplacedRuns();
  return signed_checkpoint;
}

void IntegrityLog::DropReplacedRuns() {
  if (store_->write_state().read_only) return;
  uint64_t covered;
  {
    absl::MutexLock lock(&mu_);
    covered = edge_.Partial(0).index * kTileWidth;  // in full, stored tiles
  }
  if (covered <= dropped_runs_below_) return;
  // One range delete per checkpoint, not one per tile on the append path.
  // Unsynced: if it is lost, the next checkpoint deletes them again.
  rocksdb::WriteBatch batch;
  batch.DeleteRange(store_->ColumnFamily(kColumnFamily), tree_keys::LeafRunKey(0),
                    tree_keys::LeafRunKey(covered + 1));
  rocksdb::Status s = store_->db()->Write(rocksdb::WriteOptions(), &batch);
  if (!s.ok()) {
    logging::Warning(kComponent, absl::StrCat("cannot delete the runs of leaves that tiles "
                                              "replaced (they are kept): ", s.ToString()));
    return;
  }
  dropped_runs_below_ = covered;
}

absl::StatusOr<v1::SignedCheckpoint> IntegrityLog::CheckpointNow(absl::Duration at_most_every) {
  absl::MutexLock sign_lock(&sign_mu_);
  if (at_most_every > absl::ZeroDuration()) {
    std::optional<v1::SignedCheckpoint> latest = journal_->Latest();
    if (latest && !latest->checkpoint().stream_map_root().empty() &&
        options_.clock() - FromProtoTime(latest->checkpoint().timestamp()) < at_most_every) {
      return *std::move(latest);
    }
  }
  return CheckpointNowLocked();
}

absl::StatusOr<v1::SignedCheckpoint> IntegrityLog::CheckpointNowLocked() {
  uint64_t size;
  {
    absl::MutexLock lock(&mu_);
    size = range_.size();
  }
  std::optional<v1::SignedCheckpoint> latest = journal_->Latest();
  if (latest && latest->checkpoint().tree_size() == size &&
      !latest->checkpoint().stream_map_root().empty()) {
    return *std::move(latest);
  }
  // Never the whole of a far-behind map's build under the signing lock:
  // the checkpoint thread does it in steps.
  if (MapFarBehind(size)) return RefuseWhileMapBuilds();
  EH_RETURN_IF_ERROR(RefuseWhileMapBuilds());
  return SignAndStoreLocked(size);
}

void IntegrityLog::RunCheckpointer() {
  const uint64_t every = options_.checkpoint_every_events;
  for (;;) {
    uint64_t size = 0;
    {
      absl::MutexLock lock(&mu_);
      // A checkpoint at every multiple of `every` events, exactly, signed as
      // soon as the commit that reaches it is durable; and one of the tree
      // as it stands when `checkpoint_every` has passed since the last.
      auto next_due = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return every == 0 ? UINT64_MAX : (signed_size_ / every + 1) * every;
      };
      // After a failure, the count waits for the retry time: it would
      // otherwise be reached again at once, and the same failure logged in a
      // loop (an outside test saw thousands of ERROR lines a second, and a
      // core kept busy, while the journal's disk was full).
      auto count_due = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return range_.size() >= next_due() && options_.clock() >= retry_at_;
      };
      auto count_reached = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stop_ || map_build_requested_ || count_due();
      };
      const absl::Duration wait =
          range_.size() > signed_size_
              ? std::max(absl::ZeroDuration(),
                         options_.checkpoint_every - (options_.clock() - signed_at_))
              : options_.checkpoint_every;
      mu_.AwaitWithTimeout(absl::Condition(&count_reached), std::min(wait, absl::Seconds(1)));
      if (stop_) return;
      if (map_build_requested_) {  // a map behind, found by a caller or at Open
        map_build_requested_ = false;
        size = std::min(range_.size(), next_due());  // never past a multiple
      } else if (count_due()) {
        size = next_due();
      } else if (range_.size() > signed_size_ &&
                 options_.clock() - signed_at_ >= options_.checkpoint_every) {
        size = range_.size();
      } else {
        continue;
      }
    }
    absl::Status built = BuildStreamMapInSteps(size);
    if (auto s = built.ok() ? SignAndStore(size) : built; !s.ok()) {
      if (absl::IsCancelled(s.status())) return;  // stopping (Stop() says so)
      logging::Error(kComponent, s.status().ToString());
      // Damage (to the log, or to the stream-head map, which has no other
      // reader): listed, so status says so and health is NOT_SERVING, not
      // only a line in the log once a minute.
      if (absl::IsDataLoss(s.status())) {
        AddProblem(absl::StrCat("no checkpoint can be signed: ", s.status().message()));
      }
      {
        // Not refused on its account any more: the next caller that needs
        // the map asks for the build again (MapFarBehind).
        absl::MutexLock stats(&stats_mu_);
        map_build_.reset();
      }
      absl::MutexLock lock(&mu_);
      // Not again at once: wait for the time to come round, whatever the
      // count.
      if (!signing_failed_) signing_failed_since_ = options_.clock();
      signing_failed_ = true;
      signing_failure_ = s.status().ToString();
      signed_at_ = options_.clock();
      retry_at_ = signed_at_ + std::max(options_.checkpoint_every, absl::Seconds(1));
    } else {
      // Signed, or nothing left to sign (what was waiting was signed by a
      // caller meanwhile): not failing.
      absl::MutexLock lock(&mu_);
      signing_failed_ = false;
    }
  }
}

std::string IntegrityLog::signing_stalled() const {
  absl::MutexLock lock(&mu_);
  if (!signing_failed_) return "";
  return absl::StrCat(
      "signing checkpoints has failed since ",
      absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", signing_failed_since_, absl::UTCTimeZone()),
      " (tried again every ",
      absl::FormatDuration(std::max(options_.checkpoint_every, absl::Seconds(1))),
      "), the last time with ", signing_failure_,
      ". What is appended meanwhile is signed by the first signing that succeeds");
}

IntegrityLog::MapStats IntegrityLog::map_stats() const {
  absl::MutexLock stats(&stats_mu_);
  return {map_updates_, map_entries_updated_, map_time_,
          map_build_ ? map_build_->to - map_build_->at : 0};
}

absl::StatusOr<v1::StreamHead> IntegrityLog::ProveStreamHead(const std::string& stream_id) {
  EH_RETURN_IF_ERROR(RefuseWhileMapBuilds());
  absl::MutexLock sign_lock(&sign_mu_);
  EH_RETURN_IF_ERROR(RefuseWhileMapBuilds());
  // The map must be the one the latest checkpoint signed (ExportBundle
  // makes sure of it the same way before proving its streams).
  std::optional<v1::SignedCheckpoint> latest = journal_->Latest();
  if (!latest) return absl::NotFoundError("no checkpoint has been signed yet");
  if (!latest->checkpoint().stream_map_root().empty()) {
    if (MapFarBehind(latest->checkpoint().tree_size())) return RefuseWhileMapBuilds();
    EH_RETURN_IF_ERROR(MapAtCheckpoint(latest->checkpoint()));
  }
  return ProveStreamHeadLocked(stream_id);
}

absl::StatusOr<v1::StreamHead> IntegrityLog::ProveStreamHeadLocked(
    const std::string& stream_id) const {
  EH_ASSIGN_OR_RETURN(std::optional<StreamMapStore::Proven> proven, stream_map_->Prove(stream_id));
  if (!proven) {
    return absl::NotFoundError(
        absl::StrCat("stream ", stream_id, " has no event as of the latest checkpoint"));
  }
  v1::StreamHead head;
  head.set_stream_id(stream_id);
  head.set_last_revision(proven->value.last_revision);
  head.set_last_position(proven->value.last_position);
  for (std::string& h : proven->siblings) head.add_siblings(std::move(h));
  return head;
}

absl::StatusOr<std::string> IntegrityLog::ExportBundle(const std::vector<storage::EventPtr>& events,
                                                       const std::string& description,
                                                       const std::string& selection) {
  BundleParts parts;
  {
    // The checkpoint and the stream heads together: the map moves on with
    // the next checkpoint.
    EH_RETURN_IF_ERROR(RefuseWhileMapBuilds());
    absl::MutexLock sign_lock(&sign_mu_);
    EH_RETURN_IF_ERROR(RefuseWhileMapBuilds());
    EH_ASSIGN_OR_RETURN(parts.checkpoint, CheckpointNowLocked());
    if (MapFarBehind(parts.checkpoint.checkpoint().tree_size())) return RefuseWhileMapBuilds();
    EH_RETURN_IF_ERROR(MapAtCheckpoint(parts.checkpoint.checkpoint()));
    const uint64_t tree_size = parts.checkpoint.checkpoint().tree_size();
    std::set<std::string> streams;
    for (const storage::EventPtr& e : events) {
      if (e->position() <= tree_size) streams.insert(e->event().stream_id());
    }
    for (const std::string& stream : streams) {
      absl::StatusOr<v1::StreamHead> head = ProveStreamHeadLocked(stream);
      if (!head.ok()) {
        return absl::InternalError(
            absl::StrCat("integrity: the stream-head map disagrees with "
                         "the log: ",
                         head.status().message()));
      }
      parts.stream_heads.push_back(*std::move(head));
    }
  }
  const uint64_t tree_size = parts.checkpoint.checkpoint().tree_size();
  parts.public_key = key_.public_key();
  parts.description = description;
  parts.selection = selection;
  parts.created_at = options_.clock();
  parts.server_version = options_.server_version;
  ReadCache cache;
  for (const storage::EventPtr& e : events) {
    if (e->position() > tree_size) break;  // committed after the checkpoint
    EH_RETURN_IF_ERROR(CheckLeaf(*e, &cache));
    BundleEventPart part;
    part.position = e->position();
    part.stream_id = e->event().stream_id();
    part.stream_revision = e->stream_revision();
    EH_ASSIGN_OR_RETURN(part.canonical, CanonicalRecord(*e));
    EH_ASSIGN_OR_RETURN(v1::InclusionProof proof, InclusionProof(e->position(), tree_size));
    part.inclusion_proof.assign(proof.hashes().begin(), proof.hashes().end());
    parts.events.push_back(std::move(part));
  }
  return WriteBundle(std::move(parts),
                     [this](absl::string_view message) { return key_.Sign(message); });
}

}  // namespace evenhand::integrity
