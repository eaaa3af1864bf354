// What a log's data folder holds before RocksDB opens it, told by file
// names and sizes alone: no file is opened. The start's three checks that
// must look before RocksDB touches the folder (a mark with no log left, a
// folder without CURRENT, write-ahead logs to look through read-only) read
// one listing, taken once.
#ifndef EVENHAND_STORAGE_INTERNAL_FOLDER_CONTENTS_H_
#define EVENHAND_STORAGE_INTERNAL_FOLDER_CONTENTS_H_

#include <cstddef>
#include <string>
#include <vector>

namespace evenhand::storage::internal {

struct FolderContents {
  // False if the folder could not be listed (missing, not a folder, not
  // readable): the checks then leave it to RocksDB's open to say why.
  bool listed = false;
  bool has_current = false;
  size_t tables = 0;                   // *.sst, and *.ldb (RocksDB's older name)
  size_t wals = 0;                     // *.log, of any size
  size_t wals_holding = 0;             // *.log holding something (a clean stop leaves them empty)
  std::vector<std::string> manifests;  // MANIFEST-*, sorted
};

FolderContents ListFolder(const std::string& dir);

}  // namespace evenhand::storage::internal

#endif  // EVENHAND_STORAGE_INTERNAL_FOLDER_CONTENTS_H_
