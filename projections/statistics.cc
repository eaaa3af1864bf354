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

double MannWhitneyTwoSided(const Distribution& xs, const Distribution& ys) {
  const uint64_t n1 = xs.size(), n2 = ys.size();
  if (n1 == 0 || n2 == 0) return 1.0;
  // Both samples pooled in value order; each value's tie group takes the
  // average of the ranks it spans. (Ranks are multiples of 1/2, so their
  // sums are exact whichever way they are added up.)
  double rank_sum_x = 0, tie_term = 0;
  uint64_t before = 0;  // values ranked below the current one
  auto x = xs.counts().begin(), y = ys.counts().begin();
  while (x != xs.counts().end() || y != ys.counts().end()) {
    uint64_t in_x = 0, in_y = 0;
    if (y == ys.counts().end() || (x != xs.counts().end() && x->first < y->first)) {
      in_x = (x++)->second;
    } else if (x == xs.counts().end() || y->first < x->first) {
      in_y = (y++)->second;
    } else {
      in_x = (x++)->second;
      in_y = (y++)->second;
    }
    const uint64_t ties = in_x + in_y;
    const double t = static_cast<double>(ties);
    const double avg_rank =
        (static_cast<double>(before + 1) + static_cast<double>(before + ties)) / 2.0;
    rank_sum_x += avg_rank * static_cast<double>(in_x);
    tie_term += t * t * t - t;
    before += ties;
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

double MannWhitneyTwoSided(const std::vector<double>& xs, const std::vector<double>& ys) {
  return MannWhitneyTwoSided(Distribution(xs), Distribution(ys));
}

double Median(const Distribution& values) { return Quantile(values, 0.5); }
double Median(const std::vector<double>& values) { return Quantile(Distribution(values), 0.5); }

double Quantile(const Distribution& values, double p) {
  if (values.size() == 0) return 0;
  const double index = p * static_cast<double>(values.size() - 1);
  const uint64_t lo = static_cast<uint64_t>(std::floor(index));
  const uint64_t hi = std::min(values.size() - 1, lo + 1);
  const double frac = index - static_cast<double>(lo);
  // The values ranked lo and hi (from 0) in order.
  double at_lo = 0, at_hi = 0;
  uint64_t seen = 0;
  for (const auto& [value, times] : values.counts()) {
    if (seen <= lo && lo < seen + times) at_lo = value;
    if (seen <= hi && hi < seen + times) {
      at_hi = value;
      break;
    }
    seen += times;
  }
  return at_lo + (at_hi - at_lo) * frac;
}

double Quantile(const std::vector<double>& values, double p) {
  return Quantile(Distribution(values), p);
}

}  // namespace evenhand::projections
