#include "clients/outbox_mark.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "base/big_endian.h"
#include "rocksdb/slice.h"

namespace evenhand::clients {
namespace {

class MaxSeqMergeOperator : public rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const rocksdb::Slice& /*key*/, const rocksdb::Slice* existing_value,
             const rocksdb::Slice& value, std::string* new_value,
             rocksdb::Logger* /*logger*/) const override {
    if (value.size() != 8 || (existing_value != nullptr && existing_value->size() != 8)) {
      return false;  // RocksDB reports a corruption
    }
    uint64_t highest = ReadBigEndian64(value.ToStringView());
    if (existing_value != nullptr) {
      highest = std::max(highest, ReadBigEndian64(existing_value->ToStringView()));
    }
    *new_value = BigEndian64(highest);
    return true;
  }
  const char* Name() const override { return "evenhand.MaxSeq"; }
};

// The file's text: decimal digits and a line end (written zero-padded to
// 20 digits, so each write is the same 21 bytes over the last).
std::string Text(uint64_t seq) { return absl::StrFormat("%020u\n", seq); }

}  // namespace

std::shared_ptr<rocksdb::MergeOperator> MaxSeqMerge() {
  return std::make_shared<MaxSeqMergeOperator>();
}

absl::StatusOr<std::unique_ptr<OutboxMark>> OutboxMark::Open(const std::string& folder,
                                                             bool create) {
  const std::string path = absl::StrCat(folder, "/", kTakenFile);
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0 && errno == ENOENT && create) {
    fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    const std::string zero = Text(0);
    if (fd >= 0 &&
        (::pwrite(fd, zero.data(), zero.size(), 0) != static_cast<ssize_t>(zero.size()) ||
         ::fsync(fd) != 0)) {
      const int err = errno;
      ::close(fd);
      ::unlink(path.c_str());
      return absl::UnavailableError(
          absl::StrCat("publisher: cannot write ", path, ": ", std::strerror(err)));
    }
    if (fd >= 0) {
      if (const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dir >= 0) {
        ::fsync(dir);
        ::close(dir);
      }
      return std::unique_ptr<OutboxMark>(new OutboxMark(fd, 0));
    }
  }
  if (fd < 0 && errno == ENOENT) {
    return absl::DataLossError(absl::StrCat(
        "its record of the last event it took, ", kTakenFile,
        ", is missing (an outbox of an evenhand before 2026-12-06 has none: if so, write 0 and "
        "a line end into it and start again)"));
  }
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("publisher: cannot open ", path, ": ", std::strerror(errno)));
  }
  char buf[64];
  const ssize_t n = ::pread(fd, buf, sizeof buf, 0);
  absl::string_view text(buf, n > 0 ? static_cast<size_t>(n) : 0);
  uint64_t taken = 0;
  if (!absl::ConsumeSuffix(&text, "\n") || text.empty() || text.size() > 20 ||
      !std::all_of(text.begin(), text.end(), absl::ascii_isdigit) ||
      !absl::SimpleAtoi(text, &taken)) {
    ::close(fd);
    return absl::DataLossError(absl::StrCat("its record of the last event it took, ", kTakenFile,
                                            ", does not hold a number and a line end"));
  }
  return std::unique_ptr<OutboxMark>(new OutboxMark(fd, taken));
}

OutboxMark::~OutboxMark() { ::close(fd_); }

uint64_t OutboxMark::taken() const {
  absl::MutexLock lock(&mu_);
  return taken_;
}

bool OutboxMark::Take(uint64_t seq) {
  absl::MutexLock lock(&mu_);
  if (seq <= taken_) return true;
  const std::string text = Text(seq);
  if (::pwrite(fd_, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
    return false;
  }
  taken_ = seq;
  return true;
}

void OutboxMark::Sync() { ::fsync(fd_); }

}  // namespace evenhand::clients
