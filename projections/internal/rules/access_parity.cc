// access-parity (Harrow 4.1; Barnet 9.2; mayoral §9; Harlow 15.9): equivalent
// access for every group. Its check needs the per-group tallies, so it
// runs with them in metrics.cc (AddGroupMetrics); this file is its entry
// in the catalogue.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/time_util.h"
#include "projections/internal/report_builder.h"
#include "projections/internal/rules/common.h"
#include "projections/internal/rules/rule.h"

namespace evenhand::projections::internal {

namespace {

std::string Describe(const FairnessSettings& s) {
  return absl::StrFormat(
      "Each group's access to officers is compared with the other groups' together. A "
      "disparity is a finding only when it is both large and unlikely to be chance: a decline "
      "rate at least %.0f points higher (Fisher's exact test, p < %.2f; declines the protocols "
      "require, in a pre-election period or of party-political business, are not counted); a "
      "share of written "
      "queries answered late at least %.0f points higher (Fisher's exact test, p < %.2f); "
      "officer minutes per briefing below %.0f%% of the others' median (Mann-Whitney U test, "
      "p < %.2f). Each comparison needs at least %d cases on each side.",
      s.decline_rate_gap * 100, s.parity_alpha, s.late_reply_gap * 100, s.parity_alpha,
      s.officer_time_ratio * 100, s.parity_alpha, s.parity_min_cases);
}

}  // namespace

RuleDef AccessParityRule() {
  return {"access-parity",
          "Equivalent access to officers for every group",
          "Harrow 4.1; Barnet 9.2; mayoral §9; Harlow 15.9",
          v1::MEDIUM,
          &Describe,
          nullptr};
}

}  // namespace evenhand::projections::internal
