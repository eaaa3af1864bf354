// Fairness.WatchObligations: tells each watcher when an open obligation
// comes within N working days of its deadline, and when one is met or
// missed, on gRPC's callback API.
//
// One thread serves every watcher: while anyone watches, it asks `source`
// for the open obligations when the projection has moved or time has passed
// a boundary (the next local midnight, when working days left change, or the
// earliest due moment, when one is missed), at most once per `poll`, and
// gives each watcher what changed for it. A watcher is a reactor with a
// queue: an idle one costs its queue, never a thread; one that falls
// `max_queued` updates behind loses them and is ended with
// RESOURCE_EXHAUSTED once its write in flight completes (a reader that never
// reads again holds that one update until it goes away or the server
// stops), so a slow reader cannot hold the server's memory. At most
// `max_watchers` are served at once: a call takes its place (Reserve)
// before it goes on the record, and a watch over it is refused
// RESOURCE_EXHAUSTED (TOO_MANY_WATCHES).
//
// What a watcher is told (ObligationUpdate, fairness.proto): first DUE_SOON
// for every matching obligation already within its window, then CAUGHT_UP;
// after that DUE_SOON when one enters its window, MET when one it has seen
// open is no longer open before its due moment, MISSED when it is no longer
// open at or after it (it is a finding now), or before it but as a finding
// (a correction moved its deadline into the past: `closed_as_findings`).
// The last update of each reading is a resume point (`resume_point`): a
// watch given one (Resume) takes what was open then as told, and its first
// updates are what changed since, each closed one classed by
// `closed_as_findings` (a deadline passed while it was away may have been
// met before it).
//
// Thread-safe.
#ifndef EVENHAND_SERVICES_OBLIGATION_WATCH_H_
#define EVENHAND_SERVICES_OBLIGATION_WATCH_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "evenhand/v1/fairness.pb.h"
#include "grpcpp/grpcpp.h"
#include "services/auth/standing_grants.h"

namespace evenhand::services {

struct ObligationWatchOptions {
  // The open obligations now (all of them; the watch filters), with the
  // position and time they were read at.
  std::function<absl::StatusOr<v1::ListObligationsResponse>()> source;
  // Of obligations open at position `before` and no longer open at `after`
  // (reading positions), each told to a watcher, which closed as a finding:
  // its case has a breach of its rule for its group dated by `at` and by
  // its due moment that it did not have at `before` dated by
  // `known_through` (a correction moved the deadline into the past; or,
  // for a resumed watch, the deadline passed unmet while it was away), one
  // answer each. A live watch asks of those closed before their due moment
  // (known_through: InfiniteFuture); an error (the projection behind the
  // reading, or a case it could not read back) tells them MET, and is
  // logged; unset: all MET. A resumed watch asks of all it takes as told
  // that closed, known_through its resume time; an error ends it
  // UNAVAILABLE (RESUME_UNDECIDED: resume again from the same point), and
  // is logged; unset: MISSED if their due moment has passed, else MET.
  std::function<absl::StatusOr<std::vector<bool>>(const std::vector<v1::Obligation>& closed,
                                                  uint64_t before, absl::Time known_through,
                                                  uint64_t after, absl::Time at)>
      closed_as_findings;
  // The projection's position: when it moves, obligations are read again.
  std::function<uint64_t()> position;
  std::function<absl::Time()> clock = [] { return absl::Now(); };
  absl::Duration poll = absl::Seconds(1);
  size_t max_queued = 10000;
  // Watches served at once, at most; more are refused RESOURCE_EXHAUSTED
  // (TOO_MANY_WATCHES). Each watcher is given every change, so the cost of
  // a change grows with them.
  size_t max_watchers = 1024;
};

class ObligationWatch {
 public:
  explicit ObligationWatch(ObligationWatchOptions options);
  ~ObligationWatch();
  ObligationWatch(const ObligationWatch&) = delete;
  ObligationWatch& operator=(const ObligationWatch&) = delete;

  // A place among the watchers, taken before a call goes on the record so
  // that it is not refused after: given back when dropped, unless a watch
  // took it. It must not outlive its ObligationWatch.
  class Place {
   public:
    Place(Place&& other) noexcept : owner_(std::exchange(other.owner_, nullptr)) {}
    Place& operator=(Place&&) = delete;
    ~Place();

   private:
    friend class ObligationWatch;
    explicit Place(ObligationWatch* owner) : owner_(owner) {}
    ObligationWatch* owner_;
  };
  // RESOURCE_EXHAUSTED (TOO_MANY_WATCHES) once max_watchers are served or
  // placed; UNAVAILABLE once stopped.
  absl::StatusOr<Place> Reserve();

  // Starts serving one call (its filters already checked) in `place`.
  // `standing` (if set) is the call's standing grant
  // (services/auth/standing_grants.h): once it is withdrawn the call is
  // told nothing more and ends with its status.
  grpc::ServerWriteReactor<v1::ObligationUpdate>* Watch(
      const v1::WatchObligationsRequest& request, Place place,
      std::shared_ptr<auth::StandingGrants::Hold> standing = nullptr);
  // The same, resuming a watch that left off where `open_then` was read
  // (every obligation open then, at its as_of_position and as_of_time, as
  // `source` reads them now): those matching the request are taken as told
  // (DUE_SOON if within its window then), and the first updates are what
  // changed since.
  grpc::ServerWriteReactor<v1::ObligationUpdate>* Resume(
      const v1::WatchObligationsRequest& request, v1::ListObligationsResponse open_then,
      Place place, std::shared_ptr<auth::StandingGrants::Hold> standing = nullptr);

  // A call refused before it starts.
  static grpc::ServerWriteReactor<v1::ObligationUpdate>* Refuse(const grpc::Status& status);

  // Ends every watch with UNAVAILABLE (SHUTTING_DOWN) and refuses new ones.
  void Stop();

  size_t watchers() const;

  class Sink;  // one watcher's side, shared with its reactor

 private:
  void Run();
  // Gives each watcher (or each new one) what changed at `last_`; of what
  // closed, `missed` closed as findings.
  void Refresh(bool new_watchers_only, const absl::flat_hash_set<std::string>& missed = {})
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Of what `last_` had open and `reading` has not, before its due moment,
  // and some watcher was told of, the keys of those that closed as findings
  // (closed_as_findings).
  absl::flat_hash_set<std::string> ClosedAsFindings(const v1::ListObligationsResponse& reading)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // For each resumed watcher not yet caught up: which of what it takes as
  // told and `last_` has not open closed as findings (closed_as_findings).
  void DecideResumed() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  grpc::ServerWriteReactor<v1::ObligationUpdate>* Start(
      std::shared_ptr<Sink> sink, Place place, std::shared_ptr<auth::StandingGrants::Hold> standing)
      ABSL_LOCKS_EXCLUDED(mu_);

  const ObligationWatchOptions options_;
  mutable absl::Mutex mu_;
  std::vector<std::shared_ptr<Sink>> sinks_ ABSL_GUARDED_BY(mu_);
  size_t placed_ ABSL_GUARDED_BY(mu_) = 0;  // places reserved, not yet watching
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool wake_ ABSL_GUARDED_BY(mu_) = false;
  // The last reading, and when to read again regardless of the position.
  v1::ListObligationsResponse last_ ABSL_GUARDED_BY(mu_);
  bool have_last_ ABSL_GUARDED_BY(mu_) = false;
  // Readings begun, and the number of the one in last_.
  uint64_t readings_begun_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t last_reading_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t last_position_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time next_boundary_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Time last_read_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();  // real time
  std::thread thread_;
};

}  // namespace evenhand::services

#endif  // EVENHAND_SERVICES_OBLIGATION_WATCH_H_
