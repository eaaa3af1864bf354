// EvidenceEnvelopes: the envelopes (stream, type, id, times, source) of the
// events reports cite, kept for the next report, so that a report asked
// again (a committee's page refreshed, the same quarter every few minutes)
// does not read and parse the same thousand events from the log again: that
// was about a sixth of a current quarter's report.
//
// Events never change once in the log, so an envelope kept is never stale;
// but an event the integrity checks find damaged later must not be cited
// from what was kept: each kept envelope passes `check` (the log's
// EventStore::CheckNotDamaged) before it is used. Memory is bounded by
// `capacity` envelopes (without their payloads): the least recently cited
// beyond it are let go, in two generations (an envelope cited in the last
// `capacity / 2` is always kept). A report citing more than that (the whole
// log's) reads them all from the log and keeps none, so it does not push
// out what the period reports use.
//
// What it does not know: the reports, or the log beyond what `read` gives.
//
// Thread-safe.
#ifndef EVENHAND_SERVICES_EVIDENCE_ENVELOPES_H_
#define EVENHAND_SERVICES_EVIDENCE_ENVELOPES_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "evenhand/v1/events.pb.h"
#include "reporting/provenance.h"

namespace evenhand::services {

class EvidenceEnvelopes {
 public:
  // `check(position)`: OK if the event there may still be cited, else why
  // not (the error a read of it would give).
  EvidenceEnvelopes(size_t capacity, std::function<absl::Status(uint64_t)> check)
      : half_(std::max<size_t>(capacity / 2, 1)), check_(std::move(check)) {}
  EvidenceEnvelopes(const EvidenceEnvelopes&) = delete;
  EvidenceEnvelopes& operator=(const EvidenceEnvelopes&) = delete;

  // As reporting::ReadEvents: visits the events at `positions` (ascending)
  // in order, those not kept read through `read` all at once, or fails as
  // `read` or `check` does (visiting none). The events visited carry all
  // but their payload.
  absl::Status Read(const std::vector<uint64_t>& positions, const reporting::ReadEvents& read,
                    const std::function<void(const v1::RecordedEvent&)>& visit);

  size_t size() const;

 private:
  using Envelope = std::shared_ptr<const v1::RecordedEvent>;
  // Moves the previous generation's envelope at `position`, if any, to
  // the current one.
  Envelope Find(uint64_t position) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Keep(uint64_t position, Envelope envelope) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t half_;
  const std::function<absl::Status(uint64_t)> check_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<uint64_t, Envelope> current_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, Envelope> previous_ ABSL_GUARDED_BY(mu_);
};

}  // namespace evenhand::services

#endif  // EVENHAND_SERVICES_EVIDENCE_ENVELOPES_H_
