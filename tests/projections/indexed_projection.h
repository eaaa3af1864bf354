// IndexedProjection: a projection indexing its findings, folded over a
// council's events with the default settings and the checkout's bank
// holidays, whose reports served from the index are checked against those
// derived in full (the reference). For the findings index's tests.
#ifndef EVENHAND_TESTS_PROJECTIONS_INDEXED_PROJECTION_H_
#define EVENHAND_TESTS_PROJECTIONS_INDEXED_PROJECTION_H_

#include <memory>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "projections/fairness_projection.h"
#include "projections/working_day_calendar.h"

namespace evenhand::projections {

// A projection indexing findings, folded over `events` with the default
// settings and the checkout's bank holidays (null, a failure added, if they
// cannot be read).
struct IndexedProjection {
  WorkingDayCalendar calendar;
  FairnessSettings settings;
  FairnessProjection projection;

  // The report served from the index, expected the same as the derived one.
  v1::FairnessReport Served(const ReportQuery& q) const {
    v1::FairnessReport served = projection.Report(q, settings, calendar);
    EXPECT_EQ(served.SerializeAsString(),
              projection.DerivedReport(q, settings, calendar).SerializeAsString())
        << "as of position " << q.as_of_position;
    return served;
  }
};
inline std::unique_ptr<IndexedProjection> FoldIndexed(
    const std::vector<v1::RecordedEvent>& events) {
  absl::StatusOr<WorkingDayCalendar> calendar =
      WorkingDayCalendar::LoadFile(EVENHAND_BANK_HOLIDAYS);
  EXPECT_TRUE(calendar.ok()) << calendar.status();
  if (!calendar.ok()) return nullptr;
  auto out = std::unique_ptr<IndexedProjection>(
      new IndexedProjection{*std::move(calendar), FairnessSettings(), {}});
  out->projection.IndexFindings(out->settings, out->calendar);
  for (const v1::RecordedEvent& e : events) out->projection.Apply(e);
  return out;
}

}  // namespace evenhand::projections

#endif  // EVENHAND_TESTS_PROJECTIONS_INDEXED_PROJECTION_H_
