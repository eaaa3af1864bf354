#include "bench/checkpoint_cadence.h"

#include <algorithm>
#include <vector>

#include "absl/time/time.h"
#include "base/time_util.h"
#include "evenhand/v1/audit.grpc.pb.h"
#include "evenhand/v1/log.grpc.pb.h"

namespace evenhand::bench {

CheckpointCadence MeasureCheckpointCadence(const std::shared_ptr<grpc::Channel>& channel,
                                           uint64_t every) {
  CheckpointCadence out;
  auto audit = v1::Audit::NewStub(channel);
  auto log = v1::EventLog::NewStub(channel);
  v1::ListCheckpointsResponse list;
  {
    grpc::ClientContext context;
    grpc::Status s = audit->ListCheckpoints(&context, v1::ListCheckpointsRequest(), &list);
    if (!s.ok()) {
      out.error = s.error_message();
      return out;
    }
  }
  std::vector<double> lags;
  uint64_t previous = 0;
  for (const v1::SignedCheckpoint& c : list.checkpoints()) {
    const uint64_t size = c.checkpoint().tree_size();
    ++out.checkpoints;
    out.largest_gap = std::max(out.largest_gap, size - previous);
    previous = size;
    out.tree_size = size;
    if (size == 0 || size % every != 0) continue;
    ++out.at_multiples;
    v1::ReadAllRequest request;
    request.set_from_position(size);
    request.set_max_count(1);
    grpc::ClientContext context;
    auto reader = log->ReadAll(&context, request);
    v1::ReadResponse response;
    while (reader->Read(&response)) {
      for (const v1::RecordedEvent& e : response.events()) {
        lags.push_back(absl::ToDoubleMilliseconds(FromProtoTime(c.checkpoint().timestamp()) -
                                                  FromProtoTime(e.event().recorded_at())));
      }
    }
    (void)reader->Finish();
  }
  std::sort(lags.begin(), lags.end());
  if (!lags.empty()) {
    out.lag_p50_ms = lags[lags.size() / 2];
    out.lag_max_ms = lags.back();
  }
  return out;
}

}  // namespace evenhand::bench
