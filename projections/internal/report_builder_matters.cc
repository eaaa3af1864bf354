// ReportBuilder, the briefings on a matter: the briefing case of an id and
// its opening (BriefingOf), the matter's cases (OnMatter), whose briefing
// each is and the offers withdrawn there (kept between the index's
// decisions for a busy matter: KeepMattersBetweenDecisions), the advice
// given there, and the attendances linking a briefing. The reads each
// records are those report_builder.h describes.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "projections/internal/report_builder.h"

namespace evenhand::projections::internal {

const FairnessProjection::Indexes::CasesOnMatter* ReportBuilder::OnMatter(
    const std::string& matter) const {
  ReadMatterName(matter);
  auto it = indexes_.by_matter.find(matter);
  return it == indexes_.by_matter.end() ? nullptr : &it->second;
}

const Case* ReportBuilder::Briefing(const std::string& briefing_id) const {
  ReadCase(absl::StrCat("briefing-", briefing_id));
  auto it = indexes_.briefing_by_id.find(briefing_id);
  return it == indexes_.briefing_by_id.end() ? nullptr : it->second;
}

const BriefingView& ReportBuilder::BriefingOf(const Case& c) const {
  ReadCase(c.stream_id());
  auto it = briefing_views_.find(&c);
  if (it == briefing_views_.end()) it = briefing_views_.emplace(&c, ViewBriefing(*this, c)).first;
  return it->second;
}

template <typename Value, typename Visit>
const Value& ReportBuilder::ByGroupOnMatter(const std::string& matter,
                                            absl::node_hash_map<std::string, Value>& cache,
                                            const Visit& visit) const {
  const FairnessProjection::Indexes::CasesOnMatter* on_matter = OnMatter(matter);
  auto [it, fresh] = cache.try_emplace(matter);
  if (fresh && on_matter != nullptr) {
    unrecorded_ = true;  // read as the matter (see the header)
    for (const Case* c : *on_matter) {
      if (c->kind == CaseKind::kBriefing) visit(*c, it->second);
    }
    unrecorded_ = false;
  }
  return it->second;
}

const ReportBuilder::ByGroup& ReportBuilder::BriefingsOnMatterByGroup(
    const std::string& matter) const {
  auto gather = [&](const Case& c, ByGroup& out) {
    const BriefingView& v = BriefingOf(c);
    if (v.request && v.matter() == matter) out[v.group()].push_back(&c);
  };
  if (!keep_matters_) return ByGroupOnMatter(matter, briefings_by_group_, gather);
  if (KeptByGroup* kept = Kept(matter)) {
    OnMatter(matter);  // read as the matter, as ever
    return kept->by_group;
  }
  const ByGroup& fresh = ByGroupOnMatter(matter, briefings_by_group_, gather);
  // Kept only if nothing folded after this decision's position has changed
  // it (a decision behind the fold, as a seeding's, keeps nothing).
  auto on_matter = indexes_.by_matter.find(matter);
  if (query_.as_of_position >= matters_changed_at_ && on_matter != indexes_.by_matter.end() &&
      on_matter->second.size() > kKeptMatterCases && kept_by_group_.size() < kKeptMatters) {
    kept_by_group_[matter] = {fresh, query_.as_of_position, std::nullopt};
  }
  return fresh;
}

ReportBuilder::KeptByGroup* ReportBuilder::Kept(const std::string& matter) const {
  auto kept = kept_by_group_.find(matter);
  if (kept == kept_by_group_.end() || kept->second.built_at > query_.as_of_position) return nullptr;
  return &kept->second;
}

const ReportBuilder::SeenByGroup& ReportBuilder::WithdrawnOffersOnMatter(
    const std::string& matter) const {
  KeptByGroup* kept = keep_matters_ ? Kept(matter) : nullptr;
  auto gather = [&](const Case& c, SeenByGroup& out) {
    bool any = false;
    for (const Seen& w : Withdrawn(c, v1::Payload::kBriefingOffered)) {
      const auto& offer = w.payload->briefing_offered();
      if (offer.matter_id() == matter) {
        out[offer.group_id()].push_back(w);
        any = true;
      }
    }
    if (any && kept != nullptr) kept->offers_withdrawn->push_back(&c);
  };
  if (kept == nullptr || !kept->offers_withdrawn) {
    // Learnt for what is kept only by going through every case now.
    if (withdrawn_offers_.contains(matter)) kept = nullptr;
    if (kept != nullptr) kept->offers_withdrawn.emplace();
    return ByGroupOnMatter(matter, withdrawn_offers_, gather);
  }
  // Only the briefings found with one when it was kept.
  OnMatter(matter);
  auto [it, fresh] = withdrawn_offers_.try_emplace(matter);
  if (fresh) {
    const std::vector<const Case*> cases = *kept->offers_withdrawn;
    kept = nullptr;  // (gather adds nothing to what is kept)
    unrecorded_ = true;
    for (const Case* c : cases) gather(*c, it->second);
    unrecorded_ = false;
  }
  return it->second;
}

const ReportBuilder::AdviceByOfficer& ReportBuilder::AdviceOnMatter(
    const std::string& matter) const {
  const FairnessProjection::Indexes::CasesOnMatter* on_matter = OnMatter(matter);
  auto [it, fresh] = advice_.try_emplace(matter);
  if (fresh && on_matter != nullptr) {
    unrecorded_ = true;  // read as the matter (see the header)
    for (const Case* c : *on_matter) {
      if (c->kind == CaseKind::kBriefing) {
        const BriefingView& v = BriefingOf(*c);
        if (!v.request || v.matter() != matter) continue;
        for (const Seen& d : Facts(*c, v1::Payload::kBriefingDelivered)) {
          for (const std::string& officer : d.payload->briefing_delivered().officer_ids()) {
            it->second[officer].push_back({d, c, &v.group()});
          }
        }
      } else if (c->kind == CaseKind::kMeeting) {
        for (const Seen& m : Facts(*c, v1::Payload::kOfficerAttendedGroupMeeting)) {
          const auto& a = m.payload->officer_attended_group_meeting();
          if (a.matter_id() == matter) it->second[a.officer_id()].push_back({m, c, &a.group_id()});
        }
      }
    }
    unrecorded_ = false;
  }
  return it->second;
}

std::vector<Seen> ReportBuilder::AttendancesLinking(const std::string& matter,
                                                    const std::string& group,
                                                    const std::string& briefing_id) const {
  MatterAttendances& a = attendances_[matter];
  if (!a.worked_out) {
    a.worked_out = true;
    auto on = indexes_.by_matter.find(matter);
    unrecorded_ = true;  // each call records what it returns, below
    for (size_t i = 0; on != indexes_.by_matter.end() && i < on->second.size(); ++i) {
      const Case& c = *on->second[i];
      if (c.kind != CaseKind::kMeeting) continue;
      for (const Seen& m : Facts(c, v1::Payload::kOfficerAttendedGroupMeeting)) {
        const auto& attended = m.payload->officer_attended_group_meeting();
        if (attended.matter_id() == matter) {
          a.by_briefing[attended.briefing_id()].emplace_back(m, &c);
        }
      }
    }
    unrecorded_ = false;
  }
  // A new attendance linking it names all three, and a correction names
  // them in each version. (Its own briefing: see the header.)
  const bool own =
      subject_ != nullptr && subject_->kind == CaseKind::kBriefing && subject_->id() == briefing_id;
  if (reads_ != nullptr && !own) {
    const std::string key = AttendanceLinkKey(matter, group, briefing_id);
    if (bounded_reads_) {
      section_matters_.push_back(key);
    } else {
      reads_->matters.insert(key);
    }
  }
  std::vector<Seen> out;
  auto it = a.by_briefing.find(briefing_id);
  if (it == a.by_briefing.end()) return out;
  for (const auto& [m, meeting] : it->second) {
    if (m.payload->officer_attended_group_meeting().group_id() != group) continue;
    ReadCase(meeting->stream_id());
    out.push_back(m);
  }
  return out;
}

}  // namespace evenhand::projections::internal
