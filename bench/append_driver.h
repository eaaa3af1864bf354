// The append runs' driver for scripts/bench: a row of figures, threads
// appending closed loop or paced, and what evenhandd's /metrics say about a
// run (its RocksDB writes per event, its own latency quantiles).
#ifndef EVENHAND_BENCH_APPEND_DRIVER_H_
#define EVENHAND_BENCH_APPEND_DRIVER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "absl/time/time.h"

namespace evenhand::bench {

// One row of the append table.
struct Row {
  std::string system;
  int clients = 0;
  double events_per_s = 0, p50_ms = 0, p99_ms = 0;
  uint64_t errors = 0;
  std::string note;
  // Open loop: how late the generator itself started appends (p99), to
  // tell its own delays from the server's.
  double pacer_p99_ms = 0;
  // evenhandd's RocksDB writes per event appended in the run (its
  // /metrics), or 0 when not known.
  double keys_per_event = 0, bytes_per_event = 0;
  // evenhandd's own view of the same run (its /metrics histograms, so an
  // upper bound of the bucket holding the quantile): Append calls from
  // arrival to answer, and the group commits' synced writes; negative when
  // not known.
  double server_p99_ms = -1, fsync_p99_ms = -1;
};

// The upper bound, in ms, of the histogram bucket holding quantile `q` of
// what `family`{`labels`...} observed between two scrapes; -1 if nothing.
double BucketQuantileMs(const std::map<std::string, double>& before,
                        const std::map<std::string, double>& after, const std::string& family,
                        const std::string& labels, double q);

// Runs `run` and adds the RocksDB keys and bytes the server wrote per event
// meanwhile, and its own Append and synced-write p99 (nothing if its metrics
// at `metrics` cannot be read).
Row WithWrites(const std::string& metrics, const std::function<Row()>& run);

// Runs `run` once everything written before it is on the disk (sync(2)):
// otherwise the kernel writes an earlier run's files back inside a later
// run (30 s after they were written, by default) and its fsyncs queue behind
// that (seen: an 87 ms fdatasync of evenhandd's behind 40 MB of write-back
// in the run at half the peak).
Row Settled(const std::function<Row()>& run);

// One client's durable append: empty when acknowledged, else the error.
using Append = std::function<std::string(uint64_t n)>;

// `clients` threads appending through `make_client`'s functions.
//   rate == 0: closed loop, each thread's next append as soon as the last
//              is answered;
//   rate > 0:  paced, an append due every 1/rate s, taken by the next free
//              thread and timed from when it was due (as AsyncAppends does
//              for evenhandd, with at most `clients` at once).
Row Drive(const std::string& system, int clients, absl::Duration measure,
          const std::function<Append(int client)>& make_client, double rate = 0);

}  // namespace evenhand::bench

#endif  // EVENHAND_BENCH_APPEND_DRIVER_H_
