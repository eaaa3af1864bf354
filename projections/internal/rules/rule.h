// One fairness rule: its catalogue entry (id, title, the protocol paragraphs
// it enforces, severity, a description with the settings in force) and its
// check, which adds findings to a report. Each rule lives in a file of its
// own in this folder (as clang-tidy keeps one check per file), defining
// `RuleDef <Name>Rule()`, and is declared and listed once, in registry.cc,
// in the order reports show the catalogue: a new rule is its file, two
// lines of registry.cc, its tests and the docs' table.
#ifndef EVENHAND_PROJECTIONS_INTERNAL_RULES_RULE_H_
#define EVENHAND_PROJECTIONS_INTERNAL_RULES_RULE_H_

#include <string>
#include <vector>

#include "evenhand/v1/fairness.pb.h"
#include "projections/fairness_projection.h"

namespace evenhand::projections::internal {

class ReportBuilder;

struct RuleDef {
  const char* id;
  const char* title;
  const char* citation;
  v1::Severity severity;
  // What the rule checks, with its settings.
  std::string (*describe)(const FairnessSettings&);
  // Adds the rule's findings about single cases to the report being built:
  // each read through the builder, so the findings index can decide them case
  // by case as events arrive (ReportBuilder::Decide). nullptr for a rule
  // judged elsewhere (access-parity, with the group tallies in metrics.cc).
  void (*check)(ReportBuilder&);
  // Adds the findings that depend on the period as a whole (a group's size
  // over it), decided afresh for every report; usually nullptr.
  void (*check_period)(ReportBuilder&) = nullptr;
  // Whether `check` adds obligations (AddObligation) as well as findings.
  bool obligations = false;
};

// Every rule, in catalogue order (registry.cc).
const std::vector<RuleDef>& Rules();
// The rule with this id; aborts for an id no rule has (a bug).
const RuleDef& Rule(const std::string& id);
std::vector<v1::RuleInfo> RuleCatalogue(const FairnessSettings& settings);

}  // namespace evenhand::projections::internal

#endif  // EVENHAND_PROJECTIONS_INTERNAL_RULES_RULE_H_
