// How closely a server's checkpoints keep their cadence: after the append
// runs, the signed checkpoints are listed and, for each one at a multiple of
// the event count, how long after the event that completed it was recorded
// it was signed. Knows only the public Audit and EventLog APIs.
#ifndef EVENHAND_BENCH_CHECKPOINT_CADENCE_H_
#define EVENHAND_BENCH_CHECKPOINT_CADENCE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "grpcpp/grpcpp.h"

namespace evenhand::bench {

struct CheckpointCadence {
  uint64_t checkpoints = 0;
  uint64_t at_multiples = 0;  // of `every`
  uint64_t largest_gap = 0;   // events between consecutive checkpoints
  uint64_t tree_size = 0;
  double lag_p50_ms = 0;      // signed after the completing event was recorded
  double lag_max_ms = 0;
  // The stream-head map's work over the same run (from /metrics; the
  // caller fills these).
  double map_cpu_s = 0;
  uint64_t map_heads = 0;
  uint64_t events = 0;
  std::string error;
};

CheckpointCadence MeasureCheckpointCadence(const std::shared_ptr<grpc::Channel>& channel,
                                           uint64_t every);

}  // namespace evenhand::bench

#endif  // EVENHAND_BENCH_CHECKPOINT_CADENCE_H_
