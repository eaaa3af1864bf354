// Reading a small file that someone else may have replaced: without
// following a link, without waiting (a FIFO there would hang the reader),
// and only if it is a regular file no larger than asked. Backups read their
// folder's own files this way (a backup folder is written by RocksDB, by
// evenhand, and possibly by anyone who can write it).
#ifndef EVENHAND_BASE_SMALL_FILE_H_
#define EVENHAND_BASE_SMALL_FILE_H_

#include <cstddef>
#include <string>

namespace evenhand {

// The bytes of the regular file `path` if it is at most `max_bytes` long;
// false if it is a link, a FIFO, a folder, larger, or cannot be read.
bool ReadSmallRegularFile(const std::string& path, size_t max_bytes, std::string* text);

}  // namespace evenhand

#endif  // EVENHAND_BASE_SMALL_FILE_H_
