// A fresh folder under $TMPDIR (or /tmp), removed with everything in it when
// the object goes away.
#ifndef EVENHAND_TESTS_TESTING_TEMP_DIR_H_
#define EVENHAND_TESTS_TESTING_TEMP_DIR_H_

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace evenhand::testing {

class TempDir {
 public:
  TempDir() : TempDir(std::getenv("TMPDIR") != nullptr ? std::getenv("TMPDIR") : "/tmp") {}
  // Under `base` instead (e.g. "/dev/shm", where an fsync costs nothing).
  explicit TempDir(const std::string& base) {
    std::string pattern = base + "/evenhand-test-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace evenhand::testing

#endif  // EVENHAND_TESTS_TESTING_TEMP_DIR_H_
