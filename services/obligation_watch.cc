#include "services/obligation_watch.h"

#include <algorithm>
#include <deque>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "base/error_details.h"
#include "base/grpc_status.h"
#include "base/logging.h"
#include "base/time_util.h"

namespace evenhand::services {
namespace {

// One obligation: a query owes "a reply or an acknowledgement by day 5",
// then, once acknowledged, "the reply by the promised day": two, the first
// met when the second begins.
std::string Key(const v1::Obligation& o) {
  return absl::StrCat(o.rule_id(), "\n", o.case_id(), "\n", o.group_id(), "\n",
                      o.due_at().seconds(), ".", o.due_at().nanos());
}

// Whether `now` says something other than `before` of the same obligation
// (Key()), besides the working days left, which change with the days.
bool Restated(const v1::Obligation& before, const v1::Obligation& now) {
  return before.officer_id() != now.officer_id() || before.description() != now.description() ||
         before.citation() != now.citation() ||
         !std::equal(before.evidence_positions().begin(), before.evidence_positions().end(),
                     now.evidence_positions().begin(), now.evidence_positions().end());
}

bool Listed(const google::protobuf::RepeatedPtrField<std::string>& wanted,
            const std::string& value) {
  return wanted.empty() || std::find(wanted.begin(), wanted.end(), value) != wanted.end();
}

absl::Status ShuttingDownError() {
  return WithErrorInfo(
      absl::UnavailableError("the server is shutting down; watch again when it is back"),
      "SHUTTING_DOWN");
}

grpc::Status ShuttingDown() { return ToGrpcStatus(ShuttingDownError()); }

}  // namespace

// One watcher: what it has been told (touched only by the watch's thread,
// under the watch's mutex) and its queue of updates to write (under its own
// mutex, shared with the reactor's callbacks).
class ObligationWatch::Sink {
 public:
  Sink(v1::WatchObligationsRequest request, size_t max_queued)
      : request_(std::move(request)), max_queued_(max_queued) {}

  // A watcher resuming where `open_then` was read: what matches its filters
  // is taken as told (DUE_SOON if it was within the window then).
  Sink(v1::WatchObligationsRequest request, size_t max_queued,
       const v1::ListObligationsResponse& open_then)
      : Sink(std::move(request), max_queued) {
    resume_ = ResumePoint{.position = open_then.as_of_position(),
                          .time = FromProtoTime(open_then.as_of_time()),
                          .first_reading = 0,
                          .decided = false,
                          .missed = {}};
    for (const v1::Obligation& o : open_then.obligations()) {
      if (!Matches(o)) continue;
      seen_[Key(o)] = {o, o.working_days_left() <= request_.within_working_days()};
    }
  }

  // Resumed and not yet caught up: what it takes as told that `reading`
  // has not open (to be classed: Decided).
  bool Resuming() const { return resume_.has_value() && !caught_up_ && !resume_->decided; }
  std::vector<v1::Obligation> ClosedSinceResume(const v1::ListObligationsResponse& reading) const {
    absl::flat_hash_set<std::string> open;
    for (const v1::Obligation& o : reading.obligations()) open.insert(Key(o));
    std::vector<v1::Obligation> closed;
    for (const auto& [key, seen] : seen_) {
      if (seen.announced && !open.contains(key)) closed.push_back(seen.obligation);
    }
    return closed;
  }
  // Resumed and waiting for a reading begun after it came (the last one
  // may be from before it left, and whether what closed since was met is
  // decided against the log as it stands), at or after its position. (Not
  // its time: the server's clock may have stepped back since.)
  bool Waits(const v1::ListObligationsResponse& reading, uint64_t reading_number) const {
    return resume_.has_value() && !caught_up_ &&
           (reading_number < resume_->first_reading ||
            resume_->position > reading.as_of_position());
  }
  void set_first_reading(uint64_t n) {
    if (resume_.has_value()) resume_->first_reading = n;
  }
  uint64_t resume_position() const { return resume_->position; }
  absl::Time resume_time() const { return resume_->time; }
  // Of `closed` (ClosedSinceResume), those `as_findings` says closed as
  // findings are told MISSED, the others MET.
  void Decided(const std::vector<v1::Obligation>& closed, const std::vector<bool>& as_findings) {
    resume_->decided = true;
    for (size_t i = 0; i < closed.size(); ++i) {
      if (as_findings[i]) resume_->missed.insert(Key(closed[i]));
    }
  }

  // Tells the watcher what changed since the last reading it saw; of what
  // closed before its due moment, `missed` (by Key()) closed as findings.
  // The last update told is a resume point.
  void Apply(const v1::ListObligationsResponse& reading,
             const absl::flat_hash_set<std::string>& missed) {
    std::vector<v1::ObligationUpdate> told;
    auto update = [&](v1::ObligationUpdate::Kind kind, const v1::Obligation& o) {
      v1::ObligationUpdate& u = told.emplace_back();
      u.set_kind(kind);
      *u.mutable_obligation() = o;
      u.set_as_of_position(reading.as_of_position());
      *u.mutable_as_of_time() = reading.as_of_time();
    };
    absl::flat_hash_map<std::string, const v1::Obligation*> open;
    // Every open one, the watcher's or not: one it was told of that is no
    // longer its own is still open.
    absl::flat_hash_map<std::string, const v1::Obligation*> all;
    for (const v1::Obligation& o : reading.obligations()) {
      if (Matches(o)) open[Key(o)] = &o;
      if (!request_.group_ids().empty() || !request_.officer_ids().empty()) all[Key(o)] = &o;
    }
    // A resumed watcher's first reading: what it takes as told closed at
    // some time since it left, each classed by its case (Decided), or, if
    // that could not be decided, by whether its due moment has passed.
    const bool resuming = resume_.has_value() && !caught_up_;
    // What closed first, then what came into the window: an obligation
    // that changed (acknowledged with a promised day, a corrected time)
    // closes as one and opens as another at the same position, and a
    // watcher applying the updates in order is left with the open one.
    // Only what the watcher was told of closes for it.
    const absl::Time at = FromProtoTime(reading.as_of_time());
    for (auto it = seen_.begin(); it != seen_.end();) {
      if (open.contains(it->first)) {
        ++it;
        continue;
      }
      // Still open, but no longer the watcher's (its officer corrected to
      // one it does not watch): told as it now stands, once, and no more;
      // it was not met (outside probe: it was told MET, still owed).
      if (auto moved = all.find(it->first); moved != all.end()) {
        if (it->second.announced) update(v1::ObligationUpdate::DUE_SOON, *moved->second);
        seen_.erase(it++);
        continue;
      }
      const v1::Obligation& o = it->second.obligation;
      if (it->second.announced) {
        const bool was_missed = resuming && resume_->decided
                                    ? resume_->missed.contains(it->first)
                                    : at >= FromProtoTime(o.due_at()) || missed.contains(it->first);
        update(was_missed ? v1::ObligationUpdate::MISSED : v1::ObligationUpdate::MET, o);
      }
      seen_.erase(it++);
    }
    for (const v1::Obligation& o : reading.obligations()) {
      auto it = open.find(Key(o));
      if (it == open.end() || it->second != &o) continue;
      Seen& seen = seen_[it->first];
      // Told of, and changed without closing (its officer corrected, or
      // what is owed restated: an acknowledgement promising the very day it
      // was due by anyway): told again as it now stands (outside probe: it
      // was not told at all).
      const bool changed = seen.announced && Restated(seen.obligation, o);
      seen.obligation = o;
      if (!seen.announced && o.working_days_left() <= request_.within_working_days()) {
        seen.announced = true;
        update(v1::ObligationUpdate::DUE_SOON, o);
      } else if (changed) {
        update(v1::ObligationUpdate::DUE_SOON, o);
      }
    }
    if (!caught_up_) {
      caught_up_ = true;
      resume_.reset();
      v1::ObligationUpdate& u = told.emplace_back();
      u.set_kind(v1::ObligationUpdate::CAUGHT_UP);
      u.set_as_of_position(reading.as_of_position());
      *u.mutable_as_of_time() = reading.as_of_time();
    }
    if (!told.empty()) told.back().set_resume_point(true);
    for (v1::ObligationUpdate& u : told) Push(std::move(u));
  }

  bool caught_up() const { return caught_up_; }
  // Whether this watcher was told of the obligation of `key` (Key()), open
  // at the last reading it saw. The watch's thread only.
  bool Announced(const std::string& key) const {
    auto it = seen_.find(key);
    return it != seen_.end() && it->second.announced;
  }

  void Push(v1::ObligationUpdate update) {
    absl::MutexLock lock(&mu_);
    if (finished_ || pending_finish_) return;
    if (queue_.size() < max_queued_) {
      queue_.push_back(std::move(update));
      WriteNextLocked();
      return;
    }
    // A reader that stopped reading: what it has not read is let go, and
    // the call ends with this status once its last write completes (or
    // fails when the client goes away or the server stops). Until then it
    // holds one update, as an idle subscriber does.
    while (queue_.size() > (writing_ ? 1u : 0u)) queue_.pop_back();
    EndLocked(ToGrpcStatus(WithErrorInfo(
        absl::ResourceExhaustedError(absl::StrCat(
            "this watcher fell ", max_queued_,
            " updates behind and was ended; read faster, or watch fewer groups")),
        "WATCHER_TOO_SLOW", {{"max_queued", absl::StrCat(max_queued_)}})));
  }

  void End(grpc::Status status) {
    absl::MutexLock lock(&mu_);
    EndLocked(std::move(status));
  }

  bool done() const {
    absl::MutexLock lock(&mu_);
    return finished_ || reactor_ == nullptr;
  }

  // The reactor's side.
  void Attach(grpc::ServerWriteReactor<v1::ObligationUpdate>* reactor) {
    absl::MutexLock lock(&mu_);
    reactor_ = reactor;
  }
  void WriteDone(bool ok) {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!queue_.empty()) queue_.pop_front();
    if (!ok) {
      EndLocked(grpc::Status(grpc::StatusCode::CANCELLED, "the watcher went away"));
    } else if (pending_finish_) {
      FinishLocked();
    } else {
      WriteNextLocked();
    }
  }
  void Detach() {
    absl::MutexLock lock(&mu_);
    reactor_ = nullptr;
    finished_ = true;
  }

 private:
  struct Seen {
    v1::Obligation obligation;
    bool announced = false;
  };
  // Where a resumed watcher left off, until it has caught up.
  struct ResumePoint {  // (no member initialisers: built before the class is complete)
    uint64_t position;
    absl::Time time;
    uint64_t first_reading;  // ObligationWatch::last_reading_
    bool decided;            // `missed` holds what closed as findings
    absl::flat_hash_set<std::string> missed;
  };

  bool Matches(const v1::Obligation& o) const {
    return Listed(request_.group_ids(), o.group_id()) &&
           Listed(request_.officer_ids(), o.officer_id());
  }

  void WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || queue_.empty() || reactor_ == nullptr || finished_) return;
    writing_ = true;
    reactor_->StartWrite(&queue_.front());
  }

  // Finishes once no write is outstanding (gRPC allows one operation of a
  // kind at a time).
  void EndLocked(grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    if (!pending_finish_) {  // the first reason stands
      finish_status_ = std::move(status);
      pending_finish_ = true;
    }
    if (!writing_) FinishLocked();
  }
  void FinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    finished_ = true;
    pending_finish_ = false;
    if (reactor_ != nullptr) reactor_->Finish(finish_status_);
  }

  const v1::WatchObligationsRequest request_;
  const size_t max_queued_;
  // The watch's thread only (or its constructor).
  absl::flat_hash_map<std::string, Seen> seen_;
  bool caught_up_ = false;
  std::optional<ResumePoint> resume_;

  mutable absl::Mutex mu_;
  grpc::ServerWriteReactor<v1::ObligationUpdate>* reactor_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::deque<v1::ObligationUpdate> queue_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool pending_finish_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status finish_status_ ABSL_GUARDED_BY(mu_);
};

namespace {

class WatchReactor final : public grpc::ServerWriteReactor<v1::ObligationUpdate> {
 public:
  WatchReactor(std::shared_ptr<ObligationWatch::Sink> sink,
               std::shared_ptr<auth::StandingGrants::Hold> standing)
      : sink_(std::move(sink)), standing_(std::move(standing)) {
    sink_->Attach(this);
    if (standing_ != nullptr) {
      standing_->OnWithdrawn(
          [sink = std::weak_ptr<ObligationWatch::Sink>(sink_)](const absl::Status& why) {
            if (auto s = sink.lock()) s->End(ToGrpcStatus(why));
          });
    }
  }
  void OnWriteDone(bool ok) override { sink_->WriteDone(ok); }
  void OnCancel() override {
    sink_->End(grpc::Status(grpc::StatusCode::CANCELLED, "the watcher cancelled"));
  }
  void OnDone() override {
    sink_->Detach();
    delete this;
  }

 private:
  std::shared_ptr<ObligationWatch::Sink> sink_;
  // Held until the call is over.
  const std::shared_ptr<auth::StandingGrants::Hold> standing_;
};

class RefusedWatch final : public grpc::ServerWriteReactor<v1::ObligationUpdate> {
 public:
  explicit RefusedWatch(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerWriteReactor<v1::ObligationUpdate>* ObligationWatch::Refuse(
    const grpc::Status& status) {
  return new RefusedWatch(status);
}

ObligationWatch::ObligationWatch(ObligationWatchOptions options) : options_(std::move(options)) {}

ObligationWatch::~ObligationWatch() { Stop(); }

ObligationWatch::Place::~Place() {
  if (owner_ == nullptr) return;
  absl::MutexLock lock(&owner_->mu_);
  --owner_->placed_;
}

absl::StatusOr<ObligationWatch::Place> ObligationWatch::Reserve() {
  absl::MutexLock lock(&mu_);
  if (stop_) return ShuttingDownError();
  const size_t watching = placed_ + std::count_if(sinks_.begin(), sinks_.end(),
                                                  [](const auto& s) { return !s->done(); });
  if (watching >= options_.max_watchers) {
    return WithErrorInfo(
        absl::ResourceExhaustedError(absl::StrCat(
            "the server serves ", watching, " obligation watches, its limit (",
            "maxObligationWatches); try again later, or ask its operator to raise the limit")),
        "TOO_MANY_WATCHES", {{"setting", "maxObligationWatches"}});
  }
  ++placed_;
  return Place(this);
}

grpc::ServerWriteReactor<v1::ObligationUpdate>* ObligationWatch::Watch(
    const v1::WatchObligationsRequest& request, Place place,
    std::shared_ptr<auth::StandingGrants::Hold> standing) {
  return Start(std::make_shared<Sink>(request, options_.max_queued), std::move(place),
               std::move(standing));
}

grpc::ServerWriteReactor<v1::ObligationUpdate>* ObligationWatch::Resume(
    const v1::WatchObligationsRequest& request, v1::ListObligationsResponse open_then, Place place,
    std::shared_ptr<auth::StandingGrants::Hold> standing) {
  return Start(std::make_shared<Sink>(request, options_.max_queued, open_then), std::move(place),
               std::move(standing));
}

grpc::ServerWriteReactor<v1::ObligationUpdate>* ObligationWatch::Start(
    std::shared_ptr<Sink> sink, Place place, std::shared_ptr<auth::StandingGrants::Hold> standing) {
  absl::MutexLock lock(&mu_);
  if (place.owner_ == this) {
    place.owner_ = nullptr;
    --placed_;
  }
  if (stop_) return new RefusedWatch(ShuttingDown());
  sink->set_first_reading(readings_begun_ + 1);
  auto* reactor = new WatchReactor(sink, std::move(standing));
  sinks_.push_back(std::move(sink));
  wake_ = true;
  if (!thread_.joinable()) thread_ = std::thread([this] { Run(); });
  return reactor;
}

void ObligationWatch::Stop() {
  std::thread thread;
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
    for (const auto& sink : sinks_) sink->End(ShuttingDown());
    sinks_.clear();
    thread = std::move(thread_);
  }
  if (thread.joinable()) thread.join();
}

size_t ObligationWatch::watchers() const {
  absl::MutexLock lock(&mu_);
  return std::count_if(sinks_.begin(), sinks_.end(), [](const auto& s) { return !s->done(); });
}

void ObligationWatch::Run() {
  absl::MutexLock lock(&mu_);
  while (true) {
    mu_.AwaitWithTimeout(absl::Condition(
                             +[](ObligationWatch* w) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                               return w->stop_ || w->wake_;
                             },
                             this),
                         options_.poll);
    if (stop_) return;
    const bool newcomers = wake_;
    wake_ = false;
    sinks_.erase(std::remove_if(sinks_.begin(), sinks_.end(),
                                [](const auto& s) { return s->done(); }),
                 sinks_.end());
    if (sinks_.empty()) continue;
    const absl::Time now = options_.clock();
    const uint64_t position = options_.position();
    const bool stale = !have_last_ || position != last_position_ || now >= next_boundary_ ||
                       std::any_of(sinks_.begin(), sinks_.end(), [this](const auto& sink) {
                         return sink->Waits(last_, last_reading_);
                       });
    // Boundaries are the service's time (deadlines); the rate limit is the
    // machine's.
    const absl::Time real = absl::Now();
    if (stale && real - last_read_ >= options_.poll) {
      // Read without the lock (a report can take a while); watchers that
      // arrive meanwhile wait for the next turn.
      last_read_ = real;
      const uint64_t number = ++readings_begun_;
      mu_.Unlock();
      absl::StatusOr<v1::ListObligationsResponse> reading = options_.source();
      mu_.Lock();
      if (stop_) return;
      if (!reading.ok()) continue;  // e.g. the projection catching up: next turn
      const absl::flat_hash_set<std::string> missed = ClosedAsFindings(*reading);
      if (stop_) return;
      last_ = *std::move(reading);
      last_reading_ = number;
      have_last_ = true;
      last_position_ = position;
      DecideResumed();
      if (stop_) return;
      Refresh(false, missed);
    } else if (newcomers && have_last_) {
      DecideResumed();
      if (stop_) return;
      Refresh(true);
    }  // else newcomers are served by the next reading, within a poll
  }
}

void ObligationWatch::Refresh(bool new_watchers_only,
                              const absl::flat_hash_set<std::string>& missed) {
  // Read again at the next local midnight (working days left change) or
  // the earliest due moment (one is missed), whichever comes first.
  const absl::Time now = options_.clock();
  const absl::TimeZone& uk = UkTimeZone();
  absl::Time boundary = absl::FromCivil(absl::ToCivilDay(now, uk) + 1, uk);
  for (const v1::Obligation& o : last_.obligations()) {
    const absl::Time due = FromProtoTime(o.due_at());
    if (due > now) boundary = std::min(boundary, due);
  }
  next_boundary_ = boundary;
  for (const auto& sink : sinks_) {
    if (new_watchers_only && sink->caught_up()) continue;
    if (sink->Waits(last_, last_reading_)) continue;  // the next reading
    sink->Apply(last_, missed);
  }
}

absl::flat_hash_set<std::string> ObligationWatch::ClosedAsFindings(
    const v1::ListObligationsResponse& reading) {
  absl::flat_hash_set<std::string> missed;
  if (!have_last_ || !options_.closed_as_findings) return missed;
  absl::flat_hash_set<std::string> open;
  for (const v1::Obligation& o : reading.obligations()) open.insert(Key(o));
  const absl::Time at = FromProtoTime(reading.as_of_time());
  std::vector<v1::Obligation> closed;
  for (const v1::Obligation& o : last_.obligations()) {
    if (at >= FromProtoTime(o.due_at())) continue;  // MISSED anyway
    const std::string key = Key(o);
    if (open.contains(key)) continue;
    // Only what some watcher was told of (most obligations close met, and
    // deciding them again costs).
    if (std::any_of(sinks_.begin(), sinks_.end(), [&key](const auto& sink) {
          return sink->caught_up() && sink->Announced(key);
        })) {
      closed.push_back(o);
    }
  }
  if (closed.empty()) return missed;
  // Without the lock: it decides each case again. Only this thread
  // changes last_.
  const uint64_t before = last_.as_of_position();
  mu_.Unlock();
  absl::StatusOr<std::vector<bool>> as_findings = options_.closed_as_findings(
      closed, before, absl::InfiniteFuture(), reading.as_of_position(), at);
  mu_.Lock();
  if (as_findings.ok() && as_findings->size() == closed.size()) {
    for (size_t i = 0; i < closed.size(); ++i) {
      if ((*as_findings)[i]) missed.insert(Key(closed[i]));
    }
  } else {
    logging::Warning("fairness",
                     absl::StrCat("the obligations' watch could not tell whether ", closed.size(),
                                  " obligations closed early were met or closed as "
                                  "findings; told as met: ",
                                  as_findings.status().ToString()));
  }
  return missed;
}

void ObligationWatch::DecideResumed() {
  const std::vector<std::shared_ptr<Sink>> sinks = sinks_;  // sinks_ may change unlocked
  const uint64_t after = last_.as_of_position();
  const absl::Time at = FromProtoTime(last_.as_of_time());
  for (const auto& sink : sinks) {
    if (!sink->Resuming() || sink->Waits(last_, last_reading_)) continue;
    const std::vector<v1::Obligation> closed = sink->ClosedSinceResume(last_);
    if (closed.empty()) {
      sink->Decided(closed, {});
      continue;
    }
    if (!options_.closed_as_findings) continue;  // told by their due moments
    // Without the lock, as ClosedAsFindings: only this thread changes last_
    // and a sink's record of what it was told.
    mu_.Unlock();
    absl::StatusOr<std::vector<bool>> as_findings = options_.closed_as_findings(
        closed, sink->resume_position(), sink->resume_time(), after, at);
    mu_.Lock();
    if (stop_) return;
    if (as_findings.ok() && as_findings->size() == closed.size()) {
      sink->Decided(closed, *as_findings);
      continue;
    }
    // A guess by the due moment would tell a reply that came in time, its
    // deadline passed since, as a miss (found in review): the watcher is
    // told to resume again from the same point, which loses nothing.
    const absl::Status why = as_findings.ok()
                                 ? absl::InternalError("an answer for each was not given")
                                 : as_findings.status();
    logging::Warning(
        "fairness",
        absl::StrCat("a resumed obligations' watch could not tell whether ", closed.size(),
                     " obligations closed while it was away were met or missed; "
                     "it is ended, to resume again: ",
                     why.ToString()));
    sink->End(ToGrpcStatus(
        WithErrorInfo(absl::UnavailableError(absl::StrCat(
                          "the watch could not yet tell whether the ", closed.size(),
                          " obligations closed since your resume point were met or missed (",
                          why.message(), "); watch again from the same resume point")),
                      "RESUME_UNDECIDED")));
  }
}

}  // namespace evenhand::services
