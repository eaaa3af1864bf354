#include "storage/internal/folder_contents.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "absl/strings/match.h"

namespace evenhand::storage::internal {

FolderContents ListFolder(const std::string& dir) {
  FolderContents contents;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    const std::string ext = entry.path().extension().string();
    if (name == "CURRENT") {
      contents.has_current = true;
    } else if (ext == ".sst" || ext == ".ldb") {
      ++contents.tables;
    } else if (ext == ".log") {
      ++contents.wals;
      std::error_code size_ec;
      const auto size = std::filesystem::file_size(entry.path(), size_ec);
      if (!size_ec && size > 0) ++contents.wals_holding;
    } else if (absl::StartsWith(name, "MANIFEST-")) {
      contents.manifests.push_back(name);
    }
  }
  if (ec) return FolderContents();
  contents.listed = true;
  std::sort(contents.manifests.begin(), contents.manifests.end());
  return contents;
}

}  // namespace evenhand::storage::internal
