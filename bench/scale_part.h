// The scale part of evenhand_bench: a council history of a given size
// loaded into a log, then, against a child evenhandd on it, the projection
// rebuild, replay, report and proof latency, memory, and an online backup
// and verified restore of the whole log.
#ifndef EVENHAND_BENCH_SCALE_PART_H_
#define EVENHAND_BENCH_SCALE_PART_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "evenhand/v1/fairness.grpc.pb.h"

namespace evenhand::bench {

// The scale part's pace when its history's length is not given: the
// history grows longer, not denser, with the log (at least five years), so a
// current report returns about as much at 10M events as at 1M and what grows
// is the history behind it. A denser council (a shorter history, given with
// --scale_years) returns more in each period.
inline constexpr uint64_t kScaleEventsPerYear = 200000;

// The years of history for `target` events: `years` if given (> 0), else
// the target at kScaleEventsPerYear, at least five.
int ScaleYears(uint64_t target, int years);

struct ScaleFigures {
  uint64_t events = 0;
  int years = 0;
  double load_events_per_s = 0;
  double load_map_s = 0;  // the stream-head map of the loaded history, built once
  double rebuild_events_per_s = 0;
  double ready_s = 0;  // server start until it serves (before the projection catches up)
  // Server start until reports read the findings index (it decides every
  // case once after the fold; reports are derived in full until then).
  double index_ready_s = 0;
  double replay_events_per_s = 0;
  double replay_raw_events_per_s = 0;
  double report_p50_ms = 0, report_p99_ms = 0;
  size_t quarter_findings = 0, quarter_obligations = 0, quarter_evidence = 0;
  double year_report_p50_ms = 0;
  double as_of_p50_ms = 0, as_of_p99_ms = 0;
  // A quarter over by then (the last of the year before), as of other
  // random past positions after the first year (0 with a history of one).
  double as_of_done_p50_ms = 0, as_of_done_p99_ms = 0;
  double proof_p50_ms = 0, proof_p99_ms = 0;
  size_t rss_mib = 0;
  // A restart (SIGTERM, then a new server on the same folder): until it
  // serves (an append answered), and until its first report (the
  // projection's checkpoint read).
  double restart_append_s = 0, restart_report_s = 0;
  double restart_report_p50_ms = 0, restart_report_p99_ms = 0;
  size_t restart_rss_mib = 0;
  // evenhand backup of the whole log (a first, full backup) and evenhand
  // restore of it (copy and verification of every event).
  double first_checkpoint_s = 0, backup_s = 0, restore_s = 0;
  uint64_t backup_bytes = 0, data_bytes = 0;
  double incremental_backup_s = 0;
  uint64_t incremental_backup_bytes = 0;
  std::string backup_note;
};

// A council's history of about `target` events, written with its Merkle
// tree into `dir` (as the server would, without gRPC).

// `keep`: a folder to write the log into and keep; empty: a temporary one.
// `years`: of history (0: ScaleYears's default).
ScaleFigures Scale(uint64_t target, const std::string& keep, int years);

// The figures as a table on stdout (nothing if the run failed).
void PrintScale(const ScaleFigures& scale);

// Reports' latency over gRPC, in milliseconds, and how many were refused.
struct ReportLatency {
  double p50_ms = 0, p99_ms = 0, max_ms = 0;
  int errors = 0;
};
// `n` reports, `request(i)` the i-th, timed one after another.
ReportLatency TimeReports(v1::Fairness::Stub* fairness,
                          const std::function<v1::ReportRequest(int)>& request, int n);

// The current quarter's and year's reports timed against a running server
// (`evenhand_bench --parts=reports --server=host:port`), `n` of each: a
// quick look at a kept log (--keep_scale_log) without the whole scale part.
void ReportsOnServer(const std::string& address, int n);

}  // namespace evenhand::bench

#endif  // EVENHAND_BENCH_SCALE_PART_H_
