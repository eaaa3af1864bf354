#include "base/data_files.h"

#include <filesystem>
#include <system_error>

namespace evenhand {

std::string FindDataFile(const std::string& name, const std::string& build_path) {
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const std::filesystem::path installed =
        exe.parent_path().parent_path() / "share" / "evenhand" / name;
    if (std::filesystem::exists(installed, ec)) return installed.string();
  }
  return build_path;
}

}  // namespace evenhand
