// ReportBuilder, reading the council's registry (council_registry.h): whole
// for a report (LoadRegistry), or case by case for the findings index as it
// folds (UpdateRegistry). Both read each case with the same code, so what a
// change leaves is what a whole read would: a group's recognition, a
// councillor's registration and group changes, an officer's roles and
// delegations, and the pre-election periods.
#include <algorithm>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "base/time_util.h"
#include "projections/internal/report_builder.h"

namespace evenhand::projections::internal {

void ReportBuilder::ReloadRegistry(uint64_t position) {
  ReleaseBodies();
  query_.as_of_position = position;
  registry_.reset();
  group_sizes_.clear();
  Reads* reads = std::exchange(reads_, nullptr);
  LoadRegistry();
  reads_ = reads;
}

void ReportBuilder::UpdateRegistry(const Case& changed, uint64_t position) {
  const bool registry_case =
      changed.kind == CaseKind::kGroup || changed.kind == CaseKind::kMember ||
      changed.kind == CaseKind::kOfficer || changed.kind == CaseKind::kElection;
  // A registry fact recorded in another kind of case (possible only without
  // domain validation) is one the registry does not read: nothing changes.
  if (!registry_case) return;
  if (registry_ == nullptr || !registry_whole_) {
    ReloadRegistry(position);
    return;
  }
  ReleaseBodies();
  query_.as_of_position = position;
  Reads* reads = std::exchange(reads_, nullptr);
  // Held by no one else (a report takes its own), but copied rather than
  // changed under a holder if one ever is.
  if (registry_.use_count() != 1) registry_ = std::make_shared<CouncilRegistry>(*registry_);
  // Made non-const (by LoadRegistry, or the copy above) and held here only.
  auto& r = const_cast<CouncilRegistry&>(*registry_);
  group_sizes_.clear();
  std::vector<std::string> touched;
  switch (changed.kind) {
    case CaseKind::kGroup:
      ReadGroupInto(changed, &r, &touched);
      break;
    case CaseKind::kMember:
      ReadMemberInto(changed, &r);
      touched.push_back(std::string(changed.id()));
      break;
    case CaseKind::kOfficer:
      ReadOfficerInto(changed, &r);
      break;
    default:
      ReadElectionsInto(&r);
      break;
  }
  std::sort(touched.begin(), touched.end());
  touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
  for (const std::string& m : touched) MergeMemberships(m, &r);
  reads_ = reads;
}

void ReportBuilder::LoadRegistry() {
  auto registry = std::make_shared<CouncilRegistry>();
  CouncilRegistry& r = *registry;
  // Sized for the councillors at once rather than grown one by one.
  r.memberships.reserve(indexes_.members.size());
  r.joined.reserve(indexes_.members.size());
  r.member_names.reserve(indexes_.members.size());
  std::vector<std::string> touched;
  for (const Case* g : indexes_.groups) ReadGroupInto(*g, &r, &touched);
  for (const Case* m : indexes_.members) {
    ReadMemberInto(*m, &r);
    touched.push_back(std::string(m->id()));
  }
  std::sort(touched.begin(), touched.end());
  touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
  for (const std::string& m : touched) MergeMemberships(m, &r);
  for (const auto& [id, c] : indexes_.officer_by_id) ReadOfficerInto(*c, &r);
  ReadElectionsInto(&r);
  registry_ = std::move(registry);
  group_sizes_.clear();
  registry_whole_ = true;
}

void ReportBuilder::ReadGroupInto(const Case& g, CouncilRegistry* r,
                                  std::vector<std::string>* touched) const {
  CouncilRegistry::GroupInfo& info = r->groups[g.id()];
  // What its recognition said before no longer holds.
  for (const std::string& m : info.founders) {
    touched->push_back(m);
    auto it = r->founded.find(m);
    if (it == r->founded.end()) continue;
    std::vector<Change>& changes = it->second;
    changes.erase(std::remove_if(changes.begin(), changes.end(),
                                 [&](const Change& c) { return c.value == g.id(); }),
                  changes.end());
    if (changes.empty()) r->founded.erase(it);
  }
  info = CouncilRegistry::GroupInfo();
  for (const Seen& s : View(g)) {
    if (s.payload->has_political_group_recognised() && !info.recognised) {
      info.recognised = s;
      info.name = s.payload->political_group_recognised().name();
      // Founding members join when the group is recognised.
      for (const std::string& m : s.payload->political_group_recognised().member_ids()) {
        r->founded[m].push_back({s.at, s.position, std::string(g.id())});
        info.founders.push_back(m);
        touched->push_back(m);
      }
    } else if (s.payload->has_political_group_dissolved()) {
      info.dissolved = std::min(info.dissolved, s.at);
    }
  }
  // The Seen kept point into the case's body: the registry holds it.
  r->bodies[g.stream_id()] = bodies_.at(&g);
}

void ReportBuilder::ReadMemberInto(const Case& m, CouncilRegistry* r) const {
  r->member_names.erase(m.id());
  r->joined.erase(m.id());
  for (const Seen& s : View(m)) {
    if (s.payload->has_member_registered()) {
      r->member_names.try_emplace(m.id(), s.payload->member_registered().name());
    } else if (s.payload->has_member_joined_group()) {
      r->joined[m.id()].push_back({s.at, s.position, s.payload->member_joined_group().group_id()});
    } else if (s.payload->has_member_left_group()) {
      r->joined[m.id()].push_back({s.at, s.position, ""});
    }
  }
  r->bodies[m.stream_id()] = bodies_.at(&m);
}

void ReportBuilder::MergeMemberships(const std::string& member, CouncilRegistry* r) {
  std::vector<Change> changes;
  for (const auto* from : {&r->founded, &r->joined}) {
    auto it = from->find(member);
    if (it != from->end()) changes.insert(changes.end(), it->second.begin(), it->second.end());
  }
  if (changes.empty()) {
    r->memberships.erase(member);
    return;
  }
  // Ties (equal time and position) are one fact naming the councillor twice:
  // equal changes, so any order of them is the same.
  std::sort(changes.begin(), changes.end(), [](const Change& a, const Change& b) {
    return std::tie(a.at, a.position) < std::tie(b.at, b.position);
  });
  r->memberships[member] = std::move(changes);
}

void ReportBuilder::ReadOfficerInto(const Case& c, CouncilRegistry* r) const {
  CouncilRegistry::OfficerInfo& info = r->officers[c.id()];
  info = CouncilRegistry::OfficerInfo();
  for (const Seen& s : View(c)) {
    const Change when{s.at, s.position, ""};
    if (s.payload->has_officer_registered()) {
      const auto& p = s.payload->officer_registered();
      if (info.name.empty()) info.name = p.name();
      info.director = p.director_officer_id();
      info.roles.push_back({{s.at, s.position, p.group_id()}, p.role()});
    } else if (s.payload->has_officer_role_changed()) {
      const auto& p = s.payload->officer_role_changed();
      info.roles.push_back({{s.at, s.position, p.group_id()}, p.role()});
    } else if (s.payload->has_officer_left()) {
      info.roles.push_back({when, v1::OFFICER_ROLE_UNSPECIFIED});
    } else if (s.payload->has_approval_delegated()) {
      Change d = when;
      d.value = s.payload->approval_delegated().delegated_by_officer_id();
      info.delegations.push_back({d, true});
    } else if (s.payload->has_approval_delegation_revoked()) {
      info.delegations.push_back({when, false});
    }
  }
  r->bodies[c.stream_id()] = bodies_.at(&c);
  auto by_time = [](const auto& a, const auto& b) {
    return std::tie(a.first.at, a.first.position) < std::tie(b.first.at, b.first.position);
  };
  std::sort(info.roles.begin(), info.roles.end(), by_time);
  std::sort(info.delegations.begin(), info.delegations.end(), by_time);
}

void ReportBuilder::ReadElectionsInto(CouncilRegistry* r) const {
  r->elections.clear();
  for (const Case* e : indexes_.elections) {
    std::optional<Seen> d = First(*e, v1::Payload::kPreElectionPeriodDeclared);
    r->bodies[e->stream_id()] = bodies_.at(e);
    if (!d) continue;
    const auto& p = d->payload->pre_election_period_declared();
    // The period runs to the end of election day, UK time.
    r->elections.push_back({{FromProtoTime(p.starts_at()),
                             calendar_.EndOfWorkingDay(FromProtoTime(p.election_day()), 0)},
                            *d});
  }
  std::sort(r->elections.begin(), r->elections.end(),
            [](const auto& a, const auto& b) { return a.second.position < b.second.position; });
}

}  // namespace evenhand::projections::internal
