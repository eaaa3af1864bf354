// Shared by the rule suites in this folder: one scenario per rule that
// breaks it (a finding citing the right events) and a near miss that does
// not, on tests/testing/council_scenario.h's council. Dates are UK local;
// Easter 2026 (Good Friday 3 April, Easter Monday 6 April) makes the
// working-day cases.
#ifndef EVENHAND_TESTS_PROJECTIONS_RULES_RULE_TEST_UTIL_H_
#define EVENHAND_TESTS_PROJECTIONS_RULES_RULE_TEST_UTIL_H_

#include <algorithm>
#include <string>
#include <vector>

#include "base/time_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/council_scenario.h"

namespace evenhand::projections::rule_tests {

using ::evenhand::testing::At;
using ::evenhand::testing::CouncilScenario;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

// A finding's evidence positions, in order.
inline std::vector<uint64_t> Evidence(const v1::Finding& f) {
  return {f.evidence_positions().begin(), f.evidence_positions().end()};
}

// The groups the findings concern, sorted.
inline std::vector<std::string> Groups(const std::vector<v1::Finding>& findings) {
  std::vector<std::string> out;
  for (const auto& f : findings) out.push_back(f.group_id());
  std::sort(out.begin(), out.end());
  return out;
}

// The obligations of one rule open in the report at `now`.
inline std::vector<v1::Obligation> Obligations(const CouncilScenario& s, absl::Time now,
                                               const std::string& rule) {
  std::vector<v1::Obligation> out;
  const v1::FairnessReport report = s.Report(now);
  for (const auto& o : report.obligations()) {
    if (o.rule_id() == rule) out.push_back(o);
  }
  return out;
}

}  // namespace evenhand::projections::rule_tests

#endif  // EVENHAND_TESTS_PROJECTIONS_RULES_RULE_TEST_UTIL_H_
