// Withholding confidential values from a reader not entitled to them.
//
// Which payload fields are confidential is in the contract itself: the
// `(evenhand.v1.confidential)` field option in events.proto. A value is
// withheld from a reader unless the reader sees everything (an auditor), or
// the value is the reader's own political group's (its case's, or for what
// a group said, the group that said it). A
// withheld value is cleared from the payload and listed in Event.withheld
// with its path and why, so the reader knows something was there.
//
// Pure functions; thread-safe.
#ifndef EVENHAND_SERVICES_AUTH_WITHHOLDING_H_
#define EVENHAND_SERVICES_AUTH_WITHHOLDING_H_

#include <string>

#include "evenhand/v1/events.pb.h"
#include "services/auth/authorizer.h"

namespace evenhand::services::auth {

// Applies `grant` to `event`, whose case belongs to `case_owner` (a group id,
// or "" for a case of no group). Its values are the case owner's, except a
// disclosure's (GroupInformationDisclosed, also as an EventCorrected's
// replacement): those are its originating group's (from_group_id),
// whichever case it was recorded in. A reader not shown every value gets
// no event id at all (its own, correlation, causation, a correction's
// corrected_event_id), in its own group's cases too: see withholding.cc.
// Returns how many values were withheld (ids not counted).
int Withhold(const Grant& grant, const std::string& case_owner, v1::Event* event);

// Whether a payload holds any confidential value (for tests and reports).
bool HasConfidentialValue(const v1::Payload& payload);

// The group a case belongs to, from its first event: a "group-<id>" stream
// is that group's; otherwise the first `group_id` (or `from_group_id`) its
// payload names. "" if none.
std::string CaseOwner(const std::string& stream_id, const v1::Event& first_event);

}  // namespace evenhand::services::auth

#endif  // EVENHAND_SERVICES_AUTH_WITHHOLDING_H_
