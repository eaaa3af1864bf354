// The streams an event names besides its own: the councillors, groups,
// officers and briefings (offers are briefings' streams) it refers to. The
// server refuses an event naming a stream with no events yet
// (UNKNOWN_REFERENCE, services/domain_validation.cc); a program loading a
// history (evenhand import) sends what is named first.
//
// Found by the fields' names, anywhere in the payload (a correction's
// replacement, a complaint's party included), so a new event type's
// references are found too: a string field, or a list of them, whose name
// ends in member_id, group_id, officer_id, briefing_id or offer_id (and
// `_ids`). What it does not know: whether the streams exist.
#ifndef EVENHAND_PROJECTIONS_STREAM_REFERENCES_H_
#define EVENHAND_PROJECTIONS_STREAM_REFERENCES_H_

#include <string>
#include <vector>

#include "evenhand/v1/events.pb.h"

namespace evenhand::projections {

// The streams `payload` names ("member-M-1", "briefing-O-7"), each once, in
// the order its fields give them; its own stream (CanonicalStream) is left
// out.
std::vector<std::string> NamedStreams(const v1::Payload& payload);

}  // namespace evenhand::projections

#endif  // EVENHAND_PROJECTIONS_STREAM_REFERENCES_H_
