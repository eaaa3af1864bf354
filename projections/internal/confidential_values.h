// DropConfidential: clears from an event's payload every value its proto
// marks (confidential) (events.proto: a group's briefing topics and notes,
// what it disclosed, complaint texts, the nature of a relationship), at any
// depth. Internal to projections/.
//
// Why: no rule, figure or report reads them. The committee's reports never
// quote a confidential value (Harlow 15.8, 15.20), and the rules decide on
// identifiers, times and enums. Kept in the projection's facts they were
// its largest part for a council that writes notes (each up to
// maxTextBytes, 64 KB), held in memory and rewritten whole with their case
// at every checkpoint: ten batches of a thousand 60 KB disclosures took the
// server past 1.4 GB. They stay in the log, which is the record, and are
// read from it (withheld from readers not entitled to them) as before.
//
// A field marked (confidential) later is dropped too: the fields are found
// from the descriptors, once, not listed here. Thread-safe.
#ifndef EVENHAND_PROJECTIONS_INTERNAL_CONFIDENTIAL_VALUES_H_
#define EVENHAND_PROJECTIONS_INTERNAL_CONFIDENTIAL_VALUES_H_

#include "evenhand/v1/events.pb.h"

namespace evenhand::projections::internal {

void DropConfidential(v1::Payload* payload);

}  // namespace evenhand::projections::internal

#endif  // EVENHAND_PROJECTIONS_INTERNAL_CONFIDENTIAL_VALUES_H_
