// CouncilGenerator: a plausible council's life as events, for the demo, the
// tests and the benchmarks.
//
// Four political groups of different sizes, a dozen officers, and day by day
// the ordinary business of member-officer relations: groups ask for
// briefings, the Head of Paid Service (or a delegate) agrees or declines,
// officers brief, the other groups are offered the same; councillors send
// written queries and officers reply; now and then a complaint. Each May
// brings local elections, with a pre-election period from late March.
//
// The background is well-behaved: it follows the protocols, so every
// finding in a report comes from a planted breach (see PlantBreaches),
// which the demo lists in its README. Every event passes the server's domain
// validation, and the same options always give the same events (ids too).
#ifndef EVENHAND_DEMO_COUNCIL_GENERATOR_H_
#define EVENHAND_DEMO_COUNCIL_GENERATOR_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "demo/demo_council.h"

namespace evenhand::demo {

struct GeneratorOptions {
  uint64_t seed = 1;
  // The first day of business (registrations happen just before).
  absl::Time start;
  int days = 365;
  // Events after this are not emitted (they have not happened yet). Default:
  // the end of the window; generating a long history a year at a time, set
  // it to now so the last year's business finishes in the next.
  absl::Time cutoff = absl::InfiniteFuture();
  // Multiplies the daily rates of briefings, queries and complaints; 1 is a
  // busy district council (a few thousand events a year).
  double intensity = 1.0;
  // Add the demo's planted breaches (one or more per rule).
  bool plant_breaches = false;
  // Case ids (briefings, queries, complaints, meetings, matters) get this
  // prefix; generating years in turn with different prefixes and
  // register_council only for the first gives one council's long history.
  std::string id_prefix;
  // Registry ids (groups, councillors, officers) get this prefix, so several
  // councils can share a log.
  std::string council_prefix;
  // Register the groups, councillors and officers (false: they exist already).
  bool register_council = true;
};

std::vector<StreamAppend> GenerateCouncil(const GeneratorOptions& options);

}  // namespace evenhand::demo

#endif  // EVENHAND_DEMO_COUNCIL_GENERATOR_H_
