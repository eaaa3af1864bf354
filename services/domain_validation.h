// DomainValidator: checks published domain events against the protocol
// model and against what the log already holds, before they are appended.
//
// Decision: an event that references an unknown group, councillor, officer or
// case is *rejected* with INVALID_ARGUMENT naming the field and the missing
// id, rather than accepted and reported later. The log is evidence for a
// standards committee; a briefing "for group X" that no system ever
// recognised cannot be judged, and the publisher is best placed to fix it at
// once. The order this imposes (recognise a group before briefing it,
// register an officer before they approve anything) is the order things
// happen in a council.
//
// The model the checks enforce:
//   - each payload has a canonical stream ("briefing-<briefing_id>",
//     "query-<query_id>", ...), so a stream is exactly one case;
//   - an opening event (BriefingRequested, WrittenQueryReceived, ...) is the
//     first event of its stream: an append starting with one is made with
//     NO_STREAM unless the publisher asked for a stricter expectation, so two
//     systems opening the same case race safely;
//   - any other event needs its case to exist, and every id it names to be
//     known;
//   - required fields are present, and a political group has two or more
//     councillors (Harlow 2.3).
//
// Thread-safe; `store` must outlive the validator.
#ifndef EVENHAND_SERVICES_DOMAIN_VALIDATION_H_
#define EVENHAND_SERVICES_DOMAIN_VALIDATION_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "evenhand/v1/events.pb.h"
#include "services/event_validation.h"
#include "storage/event_store.h"

namespace evenhand::services {

class DomainValidator {
 public:
  explicit DomainValidator(const storage::EventStore* store) : store_(store) {}

  // Checks `events` about to be appended to `stream_id`, fills the fields the
  // server owns (EventCorrected.corrected_position), and tightens `expected`
  // to NO_STREAM when the batch opens a case.
  absl::Status Validate(const std::string& stream_id, std::vector<v1::Event>* events,
                        storage::ExpectedRevision* expected) const;

 private:
  const storage::EventStore* store_;
};

// Everything an append goes through before the store, on every path into the
// log (the Append RPC, the demo loader): the envelope checks and filling of
// PrepareEvents, then, with a validator, the domain checks.
absl::Status PrepareAppend(const AppendLimits& limits, const DomainValidator* validator,
                           absl::Time now, const std::string& stream_id,
                           std::vector<v1::Event>* events, storage::ExpectedRevision* expected);

}  // namespace evenhand::services

#endif  // EVENHAND_SERVICES_DOMAIN_VALIDATION_H_
