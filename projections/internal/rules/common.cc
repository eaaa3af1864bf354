#include "projections/internal/rules/common.h"

#include "absl/strings/str_cat.h"

namespace evenhand::projections::internal {

bool OwnGroupAssistant(const ReportBuilder& b, const std::string& officer_id,
                       const std::string& group_id, absl::Time t) {
  return !group_id.empty() && b.AssistantGroupAt(officer_id, t) == group_id;
}

std::string Plural(int n, const char* word) {
  return absl::StrCat(n, " ", word, n == 1 ? "" : "s");
}

BriefingView ViewBriefing(const ReportBuilder& b, const Case& c) {
  BriefingView v;
  v.c = &c;
  v.request = b.Opening(c);
  if (!v.request) return v;
  const v1::Payload& p = *v.request->payload;
  if (p.has_briefing_requested()) {
    v.group_id = &p.briefing_requested().group_id();
    v.matter_id = &p.briefing_requested().matter_id();
    v.answers_offer = !p.briefing_requested().in_response_to_offer_id().empty();
  } else if (p.has_briefing_offered()) {
    v.group_id = &p.briefing_offered().group_id();
    v.matter_id = &p.briefing_offered().matter_id();
    v.is_offer = true;
  } else {
    v.request.reset();
  }
  return v;
}

}  // namespace evenhand::projections::internal
