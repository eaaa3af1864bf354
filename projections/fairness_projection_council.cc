// FairnessProjection: the council's registry (who was in which group when)
// asked from outside the reports.
#include <map>
#include <set>
#include <utility>

#include "projections/fairness_projection.h"
#include "projections/internal/report_builder.h"

namespace evenhand::projections {

std::vector<MembershipSpell> FairnessProjection::GroupMemberships(
    const std::string& group_id, const FairnessSettings& settings,
    const WorkingDayCalendar& calendar) const {
  internal::ReportBuilder builder(*this, settings, calendar, internal::ReportBuilder::ForIndex());
  builder.ReloadRegistry(position_);
  // Between two changes of the council, its groups' members stay as they are.
  const std::vector<absl::Time> changes =
      builder.CouncilChangesIn(absl::InfinitePast(), absl::InfiniteFuture());
  std::vector<MembershipSpell> out;
  std::map<std::string, absl::Time> in;  // the members now, since when
  for (size_t i = 0; i < changes.size(); ++i) {
    const absl::Time at = changes[i];
    const std::vector<std::string> members = builder.GroupMembersAt(group_id, at);
    const std::set<std::string> now(members.begin(), members.end());
    for (auto it = in.begin(); it != in.end();) {
      if (now.count(it->first) != 0) {
        ++it;
        continue;
      }
      out.push_back({it->first, it->second, at});
      it = in.erase(it);
    }
    for (const std::string& m : members) in.try_emplace(m, at);
  }
  for (const auto& [member, from] : in) out.push_back({member, from, absl::InfiniteFuture()});
  return out;
}

}  // namespace evenhand::projections
