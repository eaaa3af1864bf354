#include "bench/append_driver.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "bench/bench_process.h"

namespace evenhand::bench {

// The upper bound, in ms, of the histogram bucket holding quantile `q` of
// what `family`{`labels`...} observed between two scrapes; -1 if nothing.
double BucketQuantileMs(const std::map<std::string, double>& before,
                        const std::map<std::string, double>& after, const std::string& family,
                        const std::string& labels, double q) {
  const std::string prefix = absl::StrCat(family, "_bucket{", labels);
  std::vector<std::pair<double, double>> buckets;  // (le, cumulative count in the run)
  for (auto it = after.lower_bound(prefix); it != after.end(); ++it) {
    if (it->first.rfind(prefix, 0) != 0) break;
    const size_t le = it->first.find("le=\"");
    if (le == std::string::npos) continue;
    const std::string bound = it->first.substr(le + 4, it->first.find('"', le + 4) - le - 4);
    auto b = before.find(it->first);
    buckets.emplace_back(bound == "+Inf" ? INFINITY : std::strtod(bound.c_str(), nullptr),
                         it->second - (b == before.end() ? 0 : b->second));
  }
  std::sort(buckets.begin(), buckets.end());
  if (buckets.empty() || buckets.back().second <= 0) return -1;
  const double wanted = q * buckets.back().second;
  for (const auto& [le, count] : buckets) {
    if (count >= wanted) return le * 1000;
  }
  return -1;
}

// Runs `run` and adds the RocksDB keys and bytes the server wrote per event
// meanwhile (nothing if its metrics cannot be read).
Row WithWrites(const std::string& metrics, const std::function<Row()>& run) {
  std::map<std::string, double> before;
  if (!metrics.empty()) before = ScrapeMetrics(metrics);
  Row r = run();
  if (before.empty()) return r;
  std::map<std::string, double> after = ScrapeMetrics(metrics);
  const double events =
      after["evenhand_events_appended_total"] - before["evenhand_events_appended_total"];
  if (events <= 0) return r;
  r.keys_per_event = (after["evenhand_rocksdb_keys_written_total"] -
                      before["evenhand_rocksdb_keys_written_total"]) /
                     events;
  r.bytes_per_event = (after["evenhand_rocksdb_bytes_written_total"] -
                       before["evenhand_rocksdb_bytes_written_total"]) /
                      events;
  r.server_p99_ms =
      BucketQuantileMs(before, after, "evenhand_append_duration_seconds", "code=\"OK\"", 0.99);
  r.fsync_p99_ms =
      BucketQuantileMs(before, after, "evenhand_fsync_duration_seconds", "status=\"ok\"", 0.99);
  return r;
}

Row Settled(const std::function<Row()>& run) {
  ::sync();
  return run();
}

// `clients` threads appending through `make_client`'s functions.
//   rate == 0: closed loop, each thread's next append as soon as the last
//              is answered;
//   rate > 0:  paced, an append due every 1/rate s, taken by the next free
//              thread and timed from when it was due (as AsyncAppends does
//              for evenhandd, with at most `clients` at once).
Row Drive(const std::string& system, int clients, absl::Duration measure,
          const std::function<Append(int client)>& make_client, double rate) {
  std::atomic<bool> measuring{false}, stop{false};
  std::atomic<uint64_t> next_due{0};
  absl::Time t0 = absl::InfiniteFuture();  // set before `measuring`, read after
  std::vector<std::vector<double>> latencies(clients);
  std::atomic<uint64_t> errors{0};
  std::vector<std::thread> threads;
  absl::Mutex mu;
  std::string first_error;
  int ready = 0;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      Append append = make_client(c);
      {
        absl::MutexLock lock(&mu);
        ++ready;
      }
      for (uint64_t n = 0; !stop.load(std::memory_order_relaxed); ++n) {
        absl::Time start = absl::Now();
        bool counted = measuring.load(std::memory_order_acquire);
        if (rate > 0) {
          if (!counted) {  // paced only while measured
            absl::SleepFor(absl::Milliseconds(1));
            continue;
          }
          start = t0 + absl::Seconds(static_cast<double>(next_due.fetch_add(1)) / rate);
          absl::SleepFor(start - absl::Now());
        }
        const std::string error = append(n);
        const double ms = absl::ToDoubleMilliseconds(absl::Now() - start);
        if (!measuring.load(std::memory_order_relaxed) || !counted) continue;
        if (!error.empty()) {
          if (errors++ == 0) {
            absl::MutexLock lock(&mu);
            first_error = error;
          }
          continue;
        }
        latencies[c].push_back(ms);
      }
    });
  }
  {
    absl::MutexLock lock(&mu);
    auto all_ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return ready == clients; };
    mu.Await(absl::Condition(&all_ready));
  }
  absl::SleepFor(absl::Seconds(1));  // warm-up
  const absl::Time start = absl::Now();
  t0 = start;
  measuring.store(true, std::memory_order_release);
  absl::SleepFor(measure);
  measuring = false;
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  stop = true;
  for (auto& t : threads) t.join();
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  Row row;
  row.system = system;
  row.clients = clients;
  row.errors = errors;
  {
    absl::MutexLock lock(&mu);
    row.note = first_error;
  }
  row.events_per_s = all.size() / seconds;
  row.p50_ms = Percentile(all, 0.5);
  row.p99_ms = Percentile(all, 0.99);
  return row;
}

}  // namespace evenhand::bench
