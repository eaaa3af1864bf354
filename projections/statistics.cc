#include "projections/statistics.h"

#include <algorithm>
#include <cmath>

namespace evenhand::projections {
namespace {

double LogChoose(uint64_t n, uint64_t k) {
  return std::lgamma(static_cast<double>(n) + 1) - std::lgamma(static_cast<double>(k) + 1) -
         std::lgamma(static_cast<double>(n - k) + 1);
}

}  // namespace

double FisherExactTwoSided(uint64_t a, uint64_t b, uint64_t c, uint64_t d) {
  const uint64_t row1 = a + b, col1 = a + c, n = a + b + c + d;
  if (n == 0) return 1.0;
  // Hypergeometric probability of the table with top-left cell x.
  auto log_p = [&](uint64_t x) {
    return LogChoose(col1, x) + LogChoose(n - col1, row1 - x) - LogChoose(n, row1);
  };
  const uint64_t lo = row1 > n - col1 ? row1 - (n - col1) : 0;
  const uint64_t hi = std::min(row1, col1);
  const double observed = log_p(a);
  // Tables no more likely than the observed one, with a relative tolerance
  // for floating-point ties (as R's fisher.test does).
  double p = 0;
  for (uint64_t x = lo; x <= hi; ++x) {
    double lp = log_p(x);
    if (lp <= observed + 1e-7) p += std::exp(lp);
  }
  return std::min(1.0, p);
}

double MannWhitneyTwoSided(const std::vector<double>& xs, const std::vector<double>& ys) {
  const size_t n1 = xs.size(), n2 = ys.size();
  if (n1 == 0 || n2 == 0) return 1.0;
  std::vector<std::pair<double, int>> all;
  for (double x : xs) all.emplace_back(x, 0);
  for (double y : ys) all.emplace_back(y, 1);
  std::sort(all.begin(), all.end());
  // Average ranks over ties; collect the tie correction term.
  double rank_sum_x = 0, tie_term = 0;
  for (size_t i = 0; i < all.size();) {
    size_t j = i;
    while (j < all.size() && all[j].first == all[i].first) ++j;
    const double t = static_cast<double>(j - i);
    const double avg_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2.0;
    for (size_t k = i; k < j; ++k) {
      if (all[k].second == 0) rank_sum_x += avg_rank;
    }
    tie_term += t * t * t - t;
    i = j;
  }
  const double dn1 = static_cast<double>(n1), dn2 = static_cast<double>(n2);
  const double u = rank_sum_x - dn1 * (dn1 + 1) / 2.0;
  const double mean = dn1 * dn2 / 2.0;
  const double n = dn1 + dn2;
  const double variance = dn1 * dn2 / 12.0 * ((n + 1) - tie_term / (n * (n - 1)));
  if (variance <= 0) return 1.0;
  const double z = (std::fabs(u - mean) - 0.5) / std::sqrt(variance);
  if (z <= 0) return 1.0;
  return std::min(1.0, std::erfc(z / std::sqrt(2.0)));
}

double Median(std::vector<double> values) { return Quantile(std::move(values), 0.5); }

double Quantile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const double index = p * static_cast<double>(values.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(index));
  const size_t hi = std::min(values.size() - 1, lo + 1);
  const double frac = index - static_cast<double>(lo);
  return values[lo] + (values[hi] - values[lo]) * frac;
}

}  // namespace evenhand::projections
