#include "base/small_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace evenhand {

bool ReadSmallRegularFile(const std::string& path, size_t max_bytes, std::string* text) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 0 ||
      static_cast<size_t>(st.st_size) > max_bytes) {
    ::close(fd);
    return false;
  }
  text->assign(static_cast<size_t>(st.st_size), '\0');
  const ssize_t n = ::pread(fd, text->data(), text->size(), 0);
  ::close(fd);
  if (n < 0) return false;
  text->resize(static_cast<size_t>(n));
  return true;
}

}  // namespace evenhand
