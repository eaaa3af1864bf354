// A gRPC call's deadline, `timeout` from now on the kernel's monotonic clock.
//
// Why not absl::ToChronoTime(absl::Now() + timeout): absl::Now() is
// interpolated from the CPU's cycle counter between samples of the kernel's
// clock, and after the machine (or the VM under it) was paused it lags the
// kernel's wall clock by the pause until its next sample. gRPC turns a wall
// clock deadline into a monotonic one against the kernel's wall clock, so a
// deadline taken from a lagging absl::Now() can already have passed when the
// call starts: DEADLINE_EXCEEDED at once (abseil/abseil-cpp#1460,
// grpc/grpc#33037). The wall clock may also be stepped (NTP) under a call. A
// monotonic deadline means what it says whatever the wall clock does.
#ifndef EVENHAND_BASE_GRPC_DEADLINE_H_
#define EVENHAND_BASE_GRPC_DEADLINE_H_

#include "absl/time/time.h"
#include "grpc/support/time.h"

namespace evenhand {

// For grpc::ClientContext::set_deadline.
inline gpr_timespec DeadlineAfter(absl::Duration timeout) {
  return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                      gpr_time_from_millis(absl::ToInt64Milliseconds(timeout), GPR_TIMESPAN));
}

}  // namespace evenhand

#endif  // EVENHAND_BASE_GRPC_DEADLINE_H_
