// The council's registry as a report reads it (its groups, which group each
// councillor was in when, its officers' roles and delegations, its
// pre-election periods), and the one a projection keeps for its reports.
// Internal to projections/.
//
// ReportBuilder::LoadRegistry() reads a CouncilRegistry from the registry's
// cases as of a position; the findings index keeps one up to date as it
// folds, re-reading only the case an event changed (UpdateRegistry: a
// councillor's registration costs what that councillor's case holds, not
// what the council does). It is the same for every position from the last
// fact folded into one of those cases on (a group, councillor, officer or
// pre-election period's, or a correction of one), so a projection builds it
// once for all reports as of those positions (CouncilRegistryCache) rather
// than once per report: it was about a twelfth of a current quarter's
// report.
//
// What it does not know: the cases' other facts, or the rules.
//
// CouncilRegistry is immutable once built; CouncilRegistryCache is
// thread-safe (reports build and read it under the projection's shared
// lock). Changed() must come before the fold changes a registry case's body
// (under the projection's exclusive lock): a kept registry points into
// those bodies, which the fold changes in place.
#ifndef EVENHAND_PROJECTIONS_INTERNAL_COUNCIL_REGISTRY_H_
#define EVENHAND_PROJECTIONS_INTERNAL_COUNCIL_REGISTRY_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "evenhand/state/fairness_state.pb.h"
#include "projections/working_day_calendar.h"

namespace evenhand::projections::internal {

// A fact as it stood at the as-of position.
struct Seen {
  const state::FactRecord* fact = nullptr;
  // The payload in force: the original or its latest visible correction.
  const v1::Payload* payload = nullptr;
  absl::Time at;
  // The original event's position, and the correction's if one applies.
  uint64_t position = 0;
  uint64_t correction_position = 0;
};

struct CouncilRegistry {
  struct Change {
    absl::Time at;
    uint64_t position;
    std::string value;  // a group id ("" for none), or a role name
  };
  struct GroupInfo {
    std::optional<Seen> recognised;
    absl::Time dissolved = absl::InfiniteFuture();
    std::string name;
    // The councillors its recognition names (who join it then).
    std::vector<std::string> founders;
  };
  struct OfficerInfo {
    std::string name;
    std::string director;  // director_officer_id, as registered
    // In order; a political assistant's group in Change::value.
    std::vector<std::pair<Change, v1::OfficerRole>> roles;
    std::vector<std::pair<Change, bool>> delegations;  // true: delegated
  };

  absl::flat_hash_map<std::string, GroupInfo> groups;
  // Each councillor's group over time, in (time, position) order: the
  // changes its own case says (`joined`) and its groups' recognitions say
  // (`founded`), merged.
  absl::flat_hash_map<std::string, std::vector<Change>> memberships;
  absl::flat_hash_map<std::string, std::vector<Change>> joined;
  absl::flat_hash_map<std::string, std::vector<Change>> founded;
  // Each councillor's registered name, in its case's body (`bodies`): a
  // council's registry may be large, its names are not copied.
  absl::flat_hash_map<std::string, absl::string_view> member_names;
  absl::flat_hash_map<std::string, OfficerInfo> officers;
  // Each declared pre-election period ([start, end of election day)) and its
  // declaration, in position order.
  std::vector<std::pair<std::pair<absl::Time, absl::Time>, Seen>> elections;
  // The bodies of the registry's cases (by stream id), which the Seen above
  // point into: held as long as the registry is.
  absl::flat_hash_map<std::string, std::shared_ptr<const state::CaseRecord>> bodies;
};

class CouncilRegistryCache {
 public:
  // The registry a report as of `position`, with `calendar` (which dates
  // the ends of pre-election periods), would read, if one is kept: built as
  // of a position at or after the last change, as `position` is.
  std::shared_ptr<const CouncilRegistry> Get(uint64_t position,
                                             const WorkingDayCalendar& calendar) const;
  // Keeps `registry`, built as of `position` with `calendar`, if it serves
  // every report from the last change on.
  void Put(std::shared_ptr<const CouncilRegistry> registry, uint64_t position,
           const WorkingDayCalendar& calendar);
  // A fact at `position` changed a registry case (or, restoring, the
  // projection holds facts up to `position` it has not seen folded):
  // what is kept no longer serves.
  void Changed(uint64_t position);

 private:
  mutable absl::Mutex mu_;
  uint64_t changed_at_ ABSL_GUARDED_BY(mu_) = 0;
  std::shared_ptr<const CouncilRegistry> registry_ ABSL_GUARDED_BY(mu_);
  std::optional<WorkingDayCalendar> calendar_ ABSL_GUARDED_BY(mu_);
};

}  // namespace evenhand::projections::internal

#endif  // EVENHAND_PROJECTIONS_INTERNAL_COUNCIL_REGISTRY_H_
