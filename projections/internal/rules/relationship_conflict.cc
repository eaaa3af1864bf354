// relationship-conflict (Harlow 6.4: "Where a personal relationship has
// been disclosed ... a Councillor should not sit on a body or participate in
// any decision that directly affects the Officer on a personal basis";
// Harlow 8.3: not take part in an appointment of a close friend or relative;
// 8.4: nor sit on their appeal; Harrow 6.3: relationships are declared). Barnet 11.2-11.3 said the
// same, but the marked-up revision we hold strikes them through, so they are not cited.
#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/time_util.h"
#include "projections/internal/report_builder.h"
#include "projections/internal/rules/common.h"
#include "projections/internal/rules/rule.h"

namespace evenhand::projections::internal {

namespace {

std::string Describe(const FairnessSettings&) {
  return "A councillor who has declared a relationship with an officer takes no part in a "
         "decision that directly affects that officer.";
}

// What a finding cites: Harlow 6.4 (any decision), with 8.3 where the
// decision was an appointment and 8.4 an appeal, as its body or description
// says (MemberParticipatedInDecision has no field for the kind). Harrow 6.3
// only asks that the relationship be declared: the declaration is the
// finding's evidence, not a paragraph it breaks.
const char* CitationFor(const v1::MemberParticipatedInDecision& d) {
  // By whole words ("Appointments", "appeal", "appellant"; not
  // "Disappointments").
  bool appointment = false, appeal = false;
  for (absl::string_view word :
       absl::StrSplit(absl::AsciiStrToLower(absl::StrCat(d.body(), " ", d.description())),
                      absl::ByAnyChar(" \t\n,.;:()/-'\""), absl::SkipEmpty())) {
    appointment = appointment || absl::StartsWith(word, "appoint");
    appeal = appeal || absl::StartsWith(word, "appeal") || absl::StartsWith(word, "appell");
  }
  if (appointment && appeal) return "Harlow 6.4, 8.3, 8.4";
  if (appointment) return "Harlow 6.4, 8.3";
  if (appeal) return "Harlow 6.4, 8.4";
  return "Harlow 6.4";
}

void Check(ReportBuilder& b) {
  for (const Case* m : b.Members()) {
    std::vector<Seen> declared = b.Facts(*m, v1::Payload::kRelationshipDeclared);
    if (declared.empty()) continue;
    for (const Seen& d : b.Facts(*m, v1::Payload::kMemberParticipatedInDecision)) {
      const auto& decision = d.payload->member_participated_in_decision();
      for (const Seen& r : declared) {
        const auto& rel = r.payload->relationship_declared();
        if (r.at > d.at) continue;
        const auto& affected = decision.affected_officer_ids();
        if (std::find(affected.begin(), affected.end(), rel.officer_id()) == affected.end()) {
          continue;
        }
        b.AddFinding(
            "relationship-conflict", b.MemberGroupAt(std::string(m->id()), d.at), m->stream_id(),
            d.at,
            absl::StrCat(b.MemberName(std::string(m->id())), " took part in ", decision.body(),
                         " decision ", decision.decision_id(), " on ", b.Date(d.at),
                         ", which directly affected ", b.OfficerName(rel.officer_id()),
                         ", with whom they had declared a relationship on ", b.Date(r.at), "."),
            {r, d}, CitationFor(decision));
        break;
      }
    }
  }
}

}  // namespace

RuleDef RelationshipConflictRule() {
  return {"relationship-conflict",
          "No decision affecting an officer one has a relationship with",
          "Harlow 6.4, 8.3, 8.4; Harrow 6.3",
          v1::HIGH,
          &Describe,
          &Check};
}

}  // namespace evenhand::projections::internal
