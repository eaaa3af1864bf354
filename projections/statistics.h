// Exact and rank tests used to tell a real disparity between political
// groups from chance (the access-parity rule).
//
// Pure functions; thread-safe.
#ifndef EVENHAND_PROJECTIONS_STATISTICS_H_
#define EVENHAND_PROJECTIONS_STATISTICS_H_

#include <cstdint>
#include <vector>

namespace evenhand::projections {

// Fisher's exact test on the 2x2 table [[a, b], [c, d]], two-sided: the
// probability, with the margins fixed, of a table at least as unlikely as
// this one. Used on decline counts (declined / granted, this group / others)
// and on late replies (late / in time, this group / others).
double FisherExactTwoSided(uint64_t a, uint64_t b, uint64_t c, uint64_t d);

// The Mann-Whitney U test of whether `xs` and `ys` come from the same
// distribution, two-sided, by the normal approximation with tie and
// continuity corrections. Used on officer minutes per briefing. Returns 1
// when either sample is empty.
double MannWhitneyTwoSided(const std::vector<double>& xs, const std::vector<double>& ys);

// The median (average of the middle two for an even count); 0 if empty.
double Median(std::vector<double> values);

// The p-th quantile (0 <= p <= 1) by linear interpolation; 0 if empty.
double Quantile(std::vector<double> values, double p);

}  // namespace evenhand::projections

#endif  // EVENHAND_PROJECTIONS_STATISTICS_H_
