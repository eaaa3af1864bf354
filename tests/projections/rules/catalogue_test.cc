// The catalogue of rules: ids, citations, settings.
#include "tests/projections/rules/rule_test_util.h"

namespace evenhand::projections::rule_tests {
namespace {

TEST(RuleCatalogueTest, EveryRuleHasACitationASeverityAndItsSettings) {
  FairnessSettings settings;
  settings.offer_deadline_working_days = 7;
  std::vector<v1::RuleInfo> rules = FairnessProjection::Rules(settings);
  EXPECT_THAT(rules, SizeIs(12));
  for (const auto& r : rules) {
    EXPECT_FALSE(r.citation().empty()) << r.rule_id();
    EXPECT_NE(r.severity(), v1::SEVERITY_UNSPECIFIED) << r.rule_id();
    EXPECT_FALSE(r.description().empty()) << r.rule_id();
  }
  EXPECT_THAT(rules[0].description(), HasSubstr("within 7 working days"));
}

}  // namespace
}  // namespace evenhand::projections::rule_tests
