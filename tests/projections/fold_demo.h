// FoldDemo: the demo council `evenhandd --demo` loads, folded into a
// projection without a server, for tests of what its reports hold.
#ifndef EVENHAND_TESTS_PROJECTIONS_FOLD_DEMO_H_
#define EVENHAND_TESTS_PROJECTIONS_FOLD_DEMO_H_

#include <cstdint>
#include <utility>

#include "absl/time/time.h"
#include "demo/demo_council.h"
#include "projections/fairness_projection.h"
#include "tests/testing/council_scenario.h"

namespace evenhand::projections {

// Folds the demo council `evenhandd --demo` loads at `now` into `p`, every
// event recorded at `now`; returns the last position.
inline uint64_t FoldDemo(absl::Time now, FairnessProjection* p) {
  uint64_t position = 0;
  for (auto& append : demo::DemoCouncil(now)) {
    for (auto& e : append.events) {
      v1::RecordedEvent r;
      r.set_position(++position);
      *r.mutable_event() = std::move(e);
      r.mutable_event()->set_stream_id(append.stream_id);
      *r.mutable_event()->mutable_recorded_at() = testing::Proto(now);
      p->Apply(r);
    }
  }
  return position;
}

}  // namespace evenhand::projections

#endif  // EVENHAND_TESTS_PROJECTIONS_FOLD_DEMO_H_
