// Metrics: counters and histograms that code anywhere can bump cheaply, and
// the families a scrape collects from them (rendered by prometheus_text.h).
//
//   static metrics::Counter& appended = metrics::Registry::Default().GetCounter(
//       "evenhand_events_appended_total", "Events written to the log.");
//   appended.Add(n);
//
// A metric is identified by its name and labels; asking again returns the
// same object, which lives as long as the process (so a static reference
// is safe). Names and label names are program constants in Prometheus'
// alphabet ([a-zA-Z_:][a-zA-Z0-9_:]*); an invalid one is a programming
// error and aborts. Values read by a scrape (a queue's length, free disk)
// are not kept here: the scraper adds them as gauge families of its own.
//
// Thread-safe; Add and Observe are a few atomic operations.
#ifndef EVENHAND_BASE_METRICS_H_
#define EVENHAND_BASE_METRICS_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace evenhand::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

enum class Type { kCounter, kGauge, kHistogram };

// One line of the exposition: name + suffix ("", "_bucket", "_sum",
// "_count"), labels and value.
struct Sample {
  std::string suffix;
  Labels labels;
  double value = 0;
};

struct Family {
  std::string name;
  std::string help;
  Type type = Type::kGauge;
  std::vector<Sample> samples;
};

class Counter {
 public:
  void Add(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Histogram {
 public:
  // `bounds`: the buckets' upper bounds, increasing (+Inf is implied).
  explicit Histogram(std::vector<double> bounds);
  void Observe(double value);

  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;  // one per bound, then +Inf
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot Read() const;

 private:
  const std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds_.size() + 1
  std::atomic<double> sum_{0};
};

// Buckets for latencies in seconds: 100 µs to 10 s.
std::vector<double> LatencyBuckets();
// Buckets for counts: 1, 2, 4, ... `max`.
std::vector<double> PowersOfTwo(double max);

class Registry {
 public:
  static Registry& Default();

  Counter& GetCounter(absl::string_view name, absl::string_view help, const Labels& labels = {});
  Histogram& GetHistogram(absl::string_view name, absl::string_view help,
                          const std::vector<double>& bounds, const Labels& labels = {});

  // Every metric, one family per name, in name order.
  std::vector<Family> Collect() const;

 private:
  struct Entry {
    std::string help;
    Type type;
    std::map<Labels, std::unique_ptr<Counter>> counters;
    std::map<Labels, std::unique_ptr<Histogram>> histograms;
  };
  Entry& Find(absl::string_view name, absl::string_view help, Type type)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::map<std::string, Entry, std::less<>> entries_ ABSL_GUARDED_BY(mu_);
};

// Whether `name` is a valid metric name / label name.
bool ValidMetricName(absl::string_view name);
bool ValidLabelName(absl::string_view name);

}  // namespace evenhand::metrics

#endif  // EVENHAND_BASE_METRICS_H_
