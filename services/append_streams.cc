#include "services/append_streams.h"

#include <vector>

#include "services/append_stream.h"

namespace evenhand::services {
namespace {

// Set on the thread in EndAll(): a call finished by it whose OnDone ran on
// the same thread (gRPC does not, but nothing forbids it) must not lock
// again.
thread_local bool in_end_all = false;

}  // namespace

bool AppendStreams::Add(AppendStreamReactor* call) {
  absl::MutexLock lock(&mu_);
  open_.insert(call);
  return ending_;
}

void AppendStreams::Remove(AppendStreamReactor* call) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  if (in_end_all) {
    open_.erase(call);  // EndAll() holds mu_ on this thread
    return;
  }
  absl::MutexLock lock(&mu_);
  open_.erase(call);
}

void AppendStreams::EndAll() {
  // Under the lock: no call can be deleted meanwhile (its OnDone waits in
  // Remove()).
  absl::MutexLock lock(&mu_);
  ending_ = true;
  const std::vector<AppendStreamReactor*> calls(open_.begin(), open_.end());
  in_end_all = true;
  for (AppendStreamReactor* call : calls) {
    if (open_.contains(call)) call->EndForShutdown();
  }
  in_end_all = false;
}

}  // namespace evenhand::services
