// Names the calling thread (as `top -H`, `perf` and gdb show it), so an
// operator can tell the store's sequencer from gRPC's threads; and lowers
// the priority of background threads.
#ifndef EVENHAND_BASE_THREAD_NAME_H_
#define EVENHAND_BASE_THREAD_NAME_H_

#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace evenhand {

// Linux keeps 15 characters; longer names are cut.
inline void SetThreadName(const char* name) {
  char buf[16];
  int i = 0;
  for (; i < 15 && name[i] != '\0'; ++i) buf[i] = name[i];
  buf[i] = '\0';
  pthread_setname_np(pthread_self(), buf);
}

// Makes the calling thread yield the CPU to others under contention (a
// higher nice value for this thread only, as Linux allows). For work whose
// delay nobody waits on, such as folding projections, so that it does not
// add latency to appends on a machine with few cores. Best effort.
inline void LowerThreadPriority(int nice_increment) {
  const pid_t tid = static_cast<pid_t>(syscall(SYS_gettid));
  const int current = getpriority(PRIO_PROCESS, static_cast<id_t>(tid));
  (void)setpriority(PRIO_PROCESS, static_cast<id_t>(tid), current + nice_increment);
}

}  // namespace evenhand

#endif  // EVENHAND_BASE_THREAD_NAME_H_
