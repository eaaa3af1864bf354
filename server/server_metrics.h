// What /metrics shows: the process-wide counters and histograms
// (base/metrics.h: appends, fsyncs, group commits, access denials) and the
// gauges read from the server's parts at scrape time (log position,
// projection lag, subscribers, checkpoint age, RocksDB's stall, compaction
// and space figures, free disk), as Prometheus text.
#ifndef EVENHAND_SERVER_SERVER_METRICS_H_
#define EVENHAND_SERVER_SERVER_METRICS_H_

#include <functional>
#include <string>

#include "absl/time/time.h"
#include "integrity/integrity_log.h"
#include "projections/projection_runner.h"
#include "services/event_log_service.h"
#include "storage/event_store.h"

namespace evenhand::server {

struct MetricSources {
  const storage::EventStore* store = nullptr;
  const integrity::IntegrityLog* integrity = nullptr;
  const projections::ProjectionRunner* runner = nullptr;
  const services::EventLogService* event_log = nullptr;
  std::function<bool()> healthy;
  std::string version;
  absl::Time started;
};

std::string RenderServerMetrics(const MetricSources& sources);

}  // namespace evenhand::server

#endif  // EVENHAND_SERVER_SERVER_METRICS_H_
