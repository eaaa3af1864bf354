// AppendStreams: the EventLog.AppendStream calls open, so that a stop can
// end them (AppendStreamReactor::EndForShutdown, services/append_stream.h):
// gRPC's own shutdown would otherwise wait its whole grace for a publisher
// that keeps its call open and sends nothing. Knows nothing of what a call
// does. Thread-safe.
#ifndef EVENHAND_SERVICES_APPEND_STREAMS_H_
#define EVENHAND_SERVICES_APPEND_STREAMS_H_

#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"

namespace evenhand::services {

class AppendStreamReactor;

class AppendStreams {
 public:
  // True if calls are being ended (the call then ends as soon as it is
  // idle).
  bool Add(AppendStreamReactor* call);
  // From the call's OnDone.
  void Remove(AppendStreamReactor* call);
  // Ends every call open now, and every one opened from now on, once what
  // it has read is answered.
  void EndAll();

 private:
  absl::Mutex mu_;
  absl::flat_hash_set<AppendStreamReactor*> open_ ABSL_GUARDED_BY(mu_);
  bool ending_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace evenhand::services

#endif  // EVENHAND_SERVICES_APPEND_STREAMS_H_
