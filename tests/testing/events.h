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

// A small valid event: a written query answered, with a fresh id.
inline v1::Event AnEvent(const std::string& note = "q") {
  v1::Event e;
  e.set_event_id(NewUuid());
  *e.mutable_occurred_at() = ToProtoTime(absl::Now());
  e.set_source_system("test");
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
