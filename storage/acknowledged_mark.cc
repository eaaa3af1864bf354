#include "storage/acknowledged_mark.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace evenhand::storage {
namespace {

constexpr char kMagic[] = "evenhand-acknowledged";
constexpr char kVersion[] = "v1";

uint64_t Fnv1a64(std::string_view text) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::string Body(const AcknowledgedMark::Mark& mark) {
  return absl::StrFormat("%s %s %s %020u", kMagic, kVersion, mark.log_id, mark.position);
}

}  // namespace

AcknowledgedMark::AcknowledgedMark(std::string data_dir)
    : path_(absl::StrCat(data_dir, "/acknowledged.txt")) {}

AcknowledgedMark::~AcknowledgedMark() {
  if (fd_ >= 0) ::close(fd_);
}

std::string AcknowledgedMark::Line(const Mark& mark) {
  const std::string body = Body(mark);
  return absl::StrFormat("%s %016x\n", body, Fnv1a64(body));
}

absl::StatusOr<std::optional<AcknowledgedMark::Mark>> AcknowledgedMark::Read(
    std::string* problem) const {
  // Never through a link: the record is of this folder (outside probe).
  const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot read ", path_, " (",
        errno == ELOOP ? "a symbolic link, which is not followed" : std::strerror(errno),
        "), the record of the last acknowledged append: make it a file of the data folder "
        "readable by evenhandd's user"));
  }
  char buffer[256];
  const ssize_t n = ::read(fd, buffer, sizeof(buffer));
  const int read_errno = errno;
  ::close(fd);
  if (n < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read ", path_, " (", std::strerror(read_errno), ")"));
  }
  const absl::string_view text(buffer, static_cast<size_t>(n));
  // What a power cut can leave of a write that was not synced: the file
  // empty (made, not yet written), zeros, or its line cut short, without
  // its line end. A whole line that is wrong is damage (outside probe: a
  // byte changed in it was taken for a power cut, and the check skipped let
  // 3,264 acknowledged events go unseen).
  // (Zeros after a prefix are a file extended before its data landed.)
  absl::string_view written = text.substr(0, text.find_last_not_of('\0') + 1);
  if (text.find_first_not_of('\0') == absl::string_view::npos) written = {};
  const size_t whole = Line({std::string(36, '0'), 0}).size();  // a log id is a UUID
  const bool torn =
      written.empty() || (written.size() < whole && written.find('\n') == absl::string_view::npos);
  auto wrong = [&](absl::string_view why) -> absl::StatusOr<std::optional<Mark>> {
    if (torn) {
      *problem = absl::StrCat(path_, " ", why,
                              " (a write cut short by a power cut leaves it so): the end of the "
                              "log is not checked against it this time");
      return std::nullopt;
    }
    return absl::DataLossError(absl::StrCat(
        path_, ", the record of the last acknowledged append, is damaged: it ", why,
        ", and is whole (a power cut leaves it empty, or cut short before its line end). The "
        "end of the log cannot be checked against it, so acknowledged events lost from the end "
        "would go unseen. Check the write-ahead logs, or restore the data folder from a backup "
        "(evenhand restore); to open the log as it is, without that check this time, delete ",
        path_));
  };
  const std::vector<std::string> parts =
      absl::StrSplit(absl::StripTrailingAsciiWhitespace(text), ' ');
  Mark mark;
  if (parts.size() != 5 || parts[0] != kMagic || parts[1] != kVersion ||
      !absl::SimpleAtoi(parts[3], &mark.position) || parts[4].size() != 16 ||
      parts[4].find_first_not_of("0123456789abcdef") != std::string::npos) {
    return wrong("does not hold one line in the expected form");
  }
  mark.log_id = parts[2];
  if (std::strtoull(parts[4].c_str(), nullptr, 16) != Fnv1a64(Body(mark))) {
    return wrong("fails its checksum");
  }
  return mark;
}

absl::Status AcknowledgedMark::OpenForWriting(const std::string& log_id) {
  log_id_ = log_id;
  // Emptied: the caller records the log's end at once.
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd_ < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open ", path_, " for writing: ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status AcknowledgedMark::Record(uint64_t position) {
  if (fd_ < 0) return absl::OkStatus();
  const std::string line = Line({log_id_, position});
  // Every line has the same length, so each write replaces the last whole.
  const ssize_t n = ::pwrite(fd_, line.data(), line.size(), 0);
  if (n != static_cast<ssize_t>(line.size())) {
    return absl::InternalError(absl::StrCat("cannot record the last acknowledged position in ",
                                            path_, ": ",
                                            n < 0 ? std::strerror(errno) : "a short write"));
  }
  return absl::OkStatus();
}

}  // namespace evenhand::storage
