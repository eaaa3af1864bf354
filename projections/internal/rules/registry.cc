// The rule catalogue: every rule once, in the order reports list them.
#include <cstdlib>

#include "projections/internal/rules/rule.h"

namespace evenhand::projections::internal {

// Each defined in the file of its name.
RuleDef EqualOfferRule();
RuleDef ApprovalRequiredRule();
RuleDef PreElectionAttendanceRule();
RuleDef SameMatterDeclineRule();
RuleDef WrittenQueryReplyRule();
RuleDef PartyPoliticalBusinessRule();
RuleDef NonMembersPresentRule();
RuleDef ComplaintRoutingRule();
RuleDef RelationshipConflictRule();
RuleDef ConfidentialityRelayRule();
RuleDef AccessParityRule();
RuleDef DataQualityRule();

const std::vector<RuleDef>& Rules() {
  static const std::vector<RuleDef> rules = {
      EqualOfferRule(),           ApprovalRequiredRule(),  PreElectionAttendanceRule(),
      SameMatterDeclineRule(),    WrittenQueryReplyRule(), PartyPoliticalBusinessRule(),
      NonMembersPresentRule(),    ComplaintRoutingRule(),  RelationshipConflictRule(),
      ConfidentialityRelayRule(), AccessParityRule(),      DataQualityRule(),
  };
  return rules;
}

const RuleDef& Rule(const std::string& id) {
  for (const RuleDef& r : Rules()) {
    if (id == r.id) return r;
  }
  std::abort();  // a rule id in code that is not in the catalogue
}

std::vector<v1::RuleInfo> RuleCatalogue(const FairnessSettings& settings) {
  std::vector<v1::RuleInfo> out;
  for (const RuleDef& r : Rules()) {
    v1::RuleInfo info;
    info.set_rule_id(r.id);
    info.set_title(r.title);
    info.set_citation(r.citation);
    info.set_severity(r.severity);
    info.set_description(r.describe(settings));
    out.push_back(std::move(info));
  }
  return out;
}
}  // namespace evenhand::projections::internal
