// LoadDemo: the demo council (demo/demo_council.h) appended to an empty log,
// as `evenhandd --demo` does before it serves.
//
// Each append goes through what the Append RPC's does (PrepareAppend: the
// envelope checks, then the domain checks against what the log holds), and
// many are in flight at once, so that group commit syncs them together. One
// at a time, the 2,258 appends of the demo took 5.5 s, nearly all of it in
// fsyncs; every test and `scripts/run` starting a demo server paid it.
//
// The log ends up as a one-at-a-time load leaves it: the appends are
// sequenced in order. What the domain checks read of the log only grows
// (streams and event ids are never removed), so an append they pass while
// earlier ones are in flight passes once those are written too; one they
// refuse (it names a case still in flight) is checked again once every
// earlier append is written, and only a second refusal is an error.
//
// What it does not know: the demo's contents, or whether the log is empty
// (the caller checks).
#ifndef EVENHAND_SERVER_DEMO_LOADER_H_
#define EVENHAND_SERVER_DEMO_LOADER_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/domain_validation.h"
#include "services/event_validation.h"
#include "storage/event_store.h"

namespace evenhand::server {

// The demo council as of `now`: the events appended, or the first error
// (an append refused, or a write that failed), once nothing is in flight;
// after a write fails, no more appends are sent.
// `validator` may be null (the server's domain checks are off).
absl::StatusOr<size_t> LoadDemo(storage::EventStore* store, const services::AppendLimits& limits,
                                const services::DomainValidator* validator, absl::Time now);

// LoadDemo's error as `evenhandd --demo` says it: the demo's, not an
// integrator's append ("it is safe to retry" of an append nobody sent),
// with whether the log is still empty (`written`, its last position now)
// and what to do.
absl::Status DemoNotLoaded(const absl::Status& why, uint64_t written);

}  // namespace evenhand::server

#endif  // EVENHAND_SERVER_DEMO_LOADER_H_
