// Exact and rank tests used to tell a real disparity between political
// groups from chance (the access-parity rule).
//
// Pure functions; thread-safe.
#ifndef EVENHAND_PROJECTIONS_STATISTICS_H_
#define EVENHAND_PROJECTIONS_STATISTICS_H_

#include <algorithm>
#include <cstdint>
#include <map>
#include <vector>

namespace evenhand::projections {

// A sample kept as how many times each value occurs: what a report sums
// over days instead of listing every value. The functions below give the
// same results, bit for bit, for a sample as a list or as a Distribution.
class Distribution {
 public:
  Distribution() = default;
  explicit Distribution(const std::vector<double>& values) {
    for (double v : values) Add(v);
  }
  void Add(double value, uint64_t times = 1) {
    if (times == 0) return;
    counts_[value] += times;
    size_ += times;
  }
  // Takes back `times` of `value` added before.
  void Remove(double value, uint64_t times = 1) {
    auto it = counts_.find(value);
    if (it == counts_.end() || times == 0) return;
    times = std::min(times, it->second);
    it->second -= times;
    size_ -= times;
    if (it->second == 0) counts_.erase(it);
  }
  void Merge(const Distribution& other) {
    for (const auto& [value, times] : other.counts_) Add(value, times);
  }
  uint64_t size() const { return size_; }
  // Value -> how many times, by value.
  const std::map<double, uint64_t>& counts() const { return counts_; }

 private:
  std::map<double, uint64_t> counts_;
  uint64_t size_ = 0;
};

// Fisher's exact test on the 2x2 table [[a, b], [c, d]], two-sided: the
// probability, with the margins fixed, of a table at least as unlikely as
// this one. Used on decline counts (declined / granted, this group / others)
// and on late replies (late / in time, this group / others).
double FisherExactTwoSided(uint64_t a, uint64_t b, uint64_t c, uint64_t d);

// The Mann-Whitney U test of whether `xs` and `ys` come from the same
// distribution, two-sided, by the normal approximation with tie and
// continuity corrections. Used on officer minutes per briefing. Returns 1
// when either sample is empty.
double MannWhitneyTwoSided(const Distribution& xs, const Distribution& ys);
double MannWhitneyTwoSided(const std::vector<double>& xs, const std::vector<double>& ys);

// The median (average of the middle two for an even count); 0 if empty.
double Median(const Distribution& values);
double Median(const std::vector<double>& values);

// The p-th quantile (0 <= p <= 1) by linear interpolation; 0 if empty.
double Quantile(const Distribution& values, double p);
double Quantile(const std::vector<double>& values, double p);

}  // namespace evenhand::projections

#endif  // EVENHAND_PROJECTIONS_STATISTICS_H_
