// Names the calling thread (as `top -H`, `perf` and gdb show it), so an
// operator can tell the store's sequencer from gRPC's threads.
#ifndef EVENHAND_BASE_THREAD_NAME_H_
#define EVENHAND_BASE_THREAD_NAME_H_

#include <pthread.h>

namespace evenhand {

// Linux keeps 15 characters; longer names are cut.
inline void SetThreadName(const char* name) {
  char buf[16];
  int i = 0;
  for (; i < 15 && name[i] != '\0'; ++i) buf[i] = name[i];
  buf[i] = '\0';
  pthread_setname_np(pthread_self(), buf);
}

}  // namespace evenhand

#endif  // EVENHAND_BASE_THREAD_NAME_H_
