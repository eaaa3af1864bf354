// The report's "who read the log" section (the server's access records,
// AccessRecorded, summed per principal and method over the period), as
// running totals. Internal to projections/.
//
// Every read is on the record (issue 10), so the access records grow with
// every report asked for and every stream read: a report that walked them
// all would cost more each day. The findings index keeps them summed per day
// (UTC), principal and method, and a report as the log stands adds up the
// whole days of its period and reads the records of its two partial days
// one by one, from the cases that hold that day's records (the projection
// keeps a principal's records as one case per day, which leave memory like
// any other case). The derived report (access.cc) adds the same records one
// by one with the same code (AccessTotals::Add), so the two cannot differ.
//
// What it does not know: the records as of an earlier position (a report as
// of one derives the section from the cases). It holds no record: only
// totals, and which cases hold each day's records (the projection's, which
// outlive it).
//
// Thread-safety: the fold alone calls Add() and Rebuild(); reports call
// Sum() concurrently, under the projection's shared lock.
#ifndef EVENHAND_PROJECTIONS_INTERNAL_ACCESS_FIGURES_H_
#define EVENHAND_PROJECTIONS_INTERNAL_ACCESS_FIGURES_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "evenhand/v1/events.pb.h"
#include "evenhand/v1/fairness.pb.h"
#include "google/protobuf/repeated_field.h"
#include "projections/internal/report_builder.h"

namespace evenhand::projections::internal {

// What the access records of one principal and method add up to.
struct AccessTotals {
  uint32_t reads = 0;
  uint32_t denied = 0;
  uint64_t events_returned = 0;
  // The earliest and latest record by position, and the latest's roles.
  uint64_t first_position = UINT64_MAX;
  int64_t first_at = 0;
  uint64_t last_position = 0;
  int64_t last_at = 0;
  bool any = false;
  google::protobuf::RepeatedPtrField<std::string> last_roles;

  void Add(const v1::AccessRecorded& a, int64_t at_nanos, uint64_t position);
  void Merge(const AccessTotals& o);
  v1::AccessSummary Summary(const std::string& principal, const std::string& method) const;
};

// By (principal, method): sorted, so reports list them in one order.
using AccessRows = std::map<std::pair<std::string, std::string>, AccessTotals>;

class AccessFigures {
 public:
  // Every access record of `access` (the access cases) as `b` sees them,
  // reading one case at a time (`b` lets go of each case's body after it).
  void Rebuild(const ReportBuilder& b, const std::vector<const Case*>& access);
  // A record of case `c` folded, as `seen` (its fact as it stands; not a
  // correction).
  void Add(const Case& c, const Seen& seen);

  // Adds to `rows` the records that happened in [from, end): whole days
  // from the totals, the two partial days' records read through `b` (a
  // report as of the last position).
  void Sum(const ReportBuilder& b, int64_t from, int64_t end, AccessRows* rows) const;

 private:
  struct Day {
    // (principal, method) -> totals.
    AccessRows totals;
    // The cases holding the day's records (one per principal, mostly).
    std::vector<const Case*> cases;
    // When its first and last records happened: a partial day that holds
    // them all (today, up to now) is summed from the totals too.
    int64_t earliest = INT64_MAX;
    int64_t latest = INT64_MIN;
  };
  // By UTC day.
  absl::btree_map<int64_t, Day> days_;
};

}  // namespace evenhand::projections::internal

#endif  // EVENHAND_PROJECTIONS_INTERNAL_ACCESS_FIGURES_H_
