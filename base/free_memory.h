// Hands memory the process has freed back to the operating system.
//
// glibc's malloc keeps freed chunks in the middle of its heaps for reuse
// and returns only the top of each heap, so a process that freed much (the
// fairness projection reading its checkpoint, or letting cases' facts go
// from its cache) keeps a resident size well above what it uses. Measured
// at 1M events: 1,554 MiB resident, 1,066 MiB after this. Best effort.
#ifndef EVENHAND_BASE_FREE_MEMORY_H_
#define EVENHAND_BASE_FREE_MEMORY_H_

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace evenhand {

// Walks every malloc arena: milliseconds per GiB of heap. Call from a
// background thread holding no lock.
inline void ReturnFreedMemory() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

}  // namespace evenhand

#endif  // EVENHAND_BASE_FREE_MEMORY_H_
