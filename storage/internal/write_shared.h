// What the write pipeline's files share (event_store_write.cc: the queue
// and threads; event_store_sequencer.cc: deciding groups;
// event_store_writer.cc: writing and answering them). Not for use elsewhere.
#ifndef EVENHAND_STORAGE_INTERNAL_WRITE_SHARED_H_
#define EVENHAND_STORAGE_INTERNAL_WRITE_SHARED_H_

#include <string>

#include "absl/status/status.h"

namespace evenhand::storage::internal {

inline constexpr char kWriteComponent[] = "storage";

// Set on the writer thread while a RocksDB write of its own reported a
// background error: the write itself failed on its way to the WAL, so its
// outcome is unknown (as opposed to a write refused because RocksDB had
// already stopped).
extern thread_local bool t_own_write_failed;
extern thread_local bool t_in_own_write;

// UNAVAILABLE (APPENDS_STOPPED): the store stopped after a write of unknown
// outcome, `failure`.
absl::Status StoppedAfterFailure(const std::string& failure);

}  // namespace evenhand::storage::internal

#endif  // EVENHAND_STORAGE_INTERNAL_WRITE_SHARED_H_
