#include "server/demo_loader.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "base/uuid.h"
#include "demo/demo_council.h"

namespace evenhand::server {
namespace {

// Enough to fill a group commit; bounds what is queued.
constexpr size_t kMaxInFlight = 256;

// The appends in flight, and the first that failed.
class InFlight {
 public:
  // Once one has failed, none is added: the error.
  absl::Status Add() {
    absl::MutexLock lock(&mu_);
    auto room = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return count_ < kMaxInFlight; };
    mu_.Await(absl::Condition(&room));
    if (!error_.ok()) return error_;
    ++count_;
    return absl::OkStatus();
  }
  void Done(const absl::Status& status) {
    absl::MutexLock lock(&mu_);
    if (!status.ok() && error_.ok()) error_ = status;
    --count_;
  }
  // Waits until none is in flight: the first error, if any.
  absl::Status Drain() {
    absl::MutexLock lock(&mu_);
    auto none = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return count_ == 0; };
    mu_.Await(absl::Condition(&none));
    return error_;
  }

 private:
  absl::Mutex mu_;
  size_t count_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::StatusOr<size_t> LoadDemo(storage::EventStore* store, const services::AppendLimits& limits,
                                const services::DomainValidator* validator, absl::Time now) {
  // Nothing returns while an append is in flight: its callback uses this.
  InFlight in_flight;
  size_t events = 0;
  for (demo::StreamAppend& append : demo::DemoCouncil(now)) {
    // Random ids, as a council's systems give theirs (docs/INTEGRATING.md):
    // the generator's are derived from its public seed, and a reader of
    // reports who knows a cited event's id can check guesses at a value
    // withheld from it against the log's hashes (outside probe).
    for (v1::Event& e : append.events) e.set_event_id(NewUuid());
    storage::ExpectedRevision expected = storage::ExpectedRevision::Any();
    std::vector<v1::Event> prepared = append.events;
    absl::Status s = services::PrepareAppend(limits, validator, now, append.stream_id, &prepared,
                                             &expected);
    if (!s.ok()) {
      // Perhaps it names what is still in flight: checked again once every
      // earlier append is written.
      if (absl::Status earlier = in_flight.Drain(); !earlier.ok()) return earlier;
      expected = storage::ExpectedRevision::Any();
      prepared = std::move(append.events);
      s = services::PrepareAppend(limits, validator, now, append.stream_id, &prepared, &expected);
      if (!s.ok()) {  // (nothing in flight now)
        return absl::Status(s.code(),
                            absl::StrCat("demo append to ", append.stream_id, ": ", s.message()));
      }
    }
    events += prepared.size();
    if (absl::Status failed = in_flight.Add(); !failed.ok()) {
      (void)in_flight.Drain();
      return failed;
    }
    store->AppendAsync(append.stream_id, expected, std::move(prepared),
                       [&in_flight](absl::StatusOr<storage::AppendResult> r) {
                         in_flight.Done(r.status());
                       });
  }
  if (absl::Status s = in_flight.Drain(); !s.ok()) return s;
  return events;
}

absl::Status DemoNotLoaded(const absl::Status& why, uint64_t written) {
  return absl::Status(
      why.code(),
      absl::StrCat(
          "--demo: the demo council could not be loaded into the empty log: ", why.message(),
          written == 0 ? " The log is still empty; start again with --demo once that is put right."
                       : absl::StrCat(" ", written,
                                      " of its events were written before that, and a start "
                                      "with --demo loads nothing into a log that is not empty: "
                                      "start on a new data folder for the whole demo.")));
}

}  // namespace evenhand::server
