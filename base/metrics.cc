#include "base/metrics.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace evenhand::metrics {
namespace {

[[noreturn]] void Invalid(absl::string_view what) {
  std::fprintf(stderr, "metrics: %s\n", std::string(what).c_str());
  std::abort();
}

}  // namespace

bool ValidMetricName(absl::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
                    (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

bool ValidLabelName(absl::string_view name) {
  if (name.empty() || name == "le" || absl::StartsWith(name, "__")) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                    (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  if (!std::is_sorted(bounds_.begin(), bounds_.end()) ||
      std::adjacent_find(bounds_.begin(), bounds_.end()) != bounds_.end()) {
    Invalid("histogram bounds must increase");
  }
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double value) {
  const size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot s;
  s.bounds = bounds_;
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  s.count = running;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::vector<double> LatencyBuckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
}

std::vector<double> PowersOfTwo(double max) {
  std::vector<double> b;
  for (double v = 1; v <= max; v *= 2) b.push_back(v);
  return b;
}

Registry& Registry::Default() {
  static Registry* registry = new Registry();
  return *registry;
}

Registry::Entry& Registry::Find(absl::string_view name, absl::string_view help, Type type) {
  if (!ValidMetricName(name)) Invalid(absl::StrCat("invalid metric name \"", name, "\""));
  auto it = entries_.find(name);
  if (it == entries_.end()) {
    it = entries_.emplace(std::string(name), Entry{std::string(help), type, {}, {}}).first;
  } else if (it->second.type != type) {
    Invalid(absl::StrCat("metric ", name, " registered with two types"));
  }
  return it->second;
}

Counter& Registry::GetCounter(absl::string_view name, absl::string_view help,
                              const Labels& labels) {
  for (const auto& [k, v] : labels) {
    if (!ValidLabelName(k)) Invalid(absl::StrCat("invalid label name \"", k, "\""));
  }
  absl::MutexLock lock(&mu_);
  Entry& e = Find(name, help, Type::kCounter);
  std::unique_ptr<Counter>& c = e.counters[labels];
  if (c == nullptr) c = std::make_unique<Counter>();
  return *c;
}

Histogram& Registry::GetHistogram(absl::string_view name, absl::string_view help,
                                  const std::vector<double>& bounds, const Labels& labels) {
  for (const auto& [k, v] : labels) {
    if (!ValidLabelName(k)) Invalid(absl::StrCat("invalid label name \"", k, "\""));
  }
  absl::MutexLock lock(&mu_);
  Entry& e = Find(name, help, Type::kHistogram);
  std::unique_ptr<Histogram>& h = e.histograms[labels];
  if (h == nullptr) h = std::make_unique<Histogram>(bounds);
  return *h;
}

std::vector<Family> Registry::Collect() const {
  std::vector<Family> out;
  absl::MutexLock lock(&mu_);
  for (const auto& [name, e] : entries_) {
    Family f;
    f.name = name;
    f.help = e.help;
    f.type = e.type;
    for (const auto& [labels, c] : e.counters) {
      f.samples.push_back({"", labels, static_cast<double>(c->value())});
    }
    for (const auto& [labels, h] : e.histograms) {
      const Histogram::Snapshot s = h->Read();
      for (size_t i = 0; i <= s.bounds.size(); ++i) {
        Labels with_le = labels;
        with_le.emplace_back("le", i < s.bounds.size() ? absl::StrCat(s.bounds[i]) : "+Inf");
        f.samples.push_back({"_bucket", std::move(with_le), static_cast<double>(s.cumulative[i])});
      }
      f.samples.push_back({"_sum", labels, s.sum});
      f.samples.push_back({"_count", labels, static_cast<double>(s.count)});
    }
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace evenhand::metrics
