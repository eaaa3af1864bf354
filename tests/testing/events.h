// Events for tests: a valid envelope around any payload.
#ifndef EVENHAND_TESTS_TESTING_EVENTS_H_
#define EVENHAND_TESTS_TESTING_EVENTS_H_

#include <string>
#include <vector>

#include "base/time_util.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/uuid.h"
#include "evenhand/v1/events.pb.h"

namespace evenhand::testing {

using ::evenhand::ToProtoTime;

// A small valid event: a written query answered, with a fresh id. A long
// `note` (to make a big event) goes in free text instead: an officer's
// name, as identifiers are at most 128 bytes.
inline v1::Event AnEvent(const std::string& note = "q") {
  v1::Event e;
  e.set_event_id(NewUuid());
  *e.mutable_occurred_at() = ToProtoTime(absl::Now());
  e.set_source_system("test");
  if (note.size() > 64) {
    e.set_type("OfficerRegistered");
    auto* o = e.mutable_payload()->mutable_officer_registered();
    o->set_officer_id("o-big");
    o->set_name(note);
    o->set_role(v1::OFFICER);
    return e;
  }
  e.set_type("WrittenQueryAnswered");
  e.mutable_payload()->mutable_written_query_answered()->set_query_id(note);
  return e;
}

inline std::vector<v1::Event> SomeEvents(int n, const std::string& note = "q") {
  std::vector<v1::Event> events;
  for (int i = 0; i < n; ++i) events.push_back(AnEvent(absl::StrCat(note, i)));
  return events;
}

}  // namespace evenhand::testing

#endif  // EVENHAND_TESTS_TESTING_EVENTS_H_
