#include "storage/damage_record.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace evenhand::storage {
namespace {

constexpr size_t kMaxLineBytes = 64 << 10;
// The store keeps at most 100 findings; a record far longer is no record
// this server wrote.
constexpr size_t kMaxFindings = 1000;

std::string Escaped(const std::string& text) {
  // At most a quarter of a line once escaped (four bytes for one at worst).
  const size_t keep = kMaxLineBytes / 16;
  return absl::CEscape(text.size() > keep ? text.substr(0, keep) : text);
}

}  // namespace

DamageRecord::DamageRecord(std::string data_dir)
    : path_(std::move(data_dir) + "/damage-found.txt") {}

absl::StatusOr<std::vector<DamageFinding>> DamageRecord::Load() const {
  std::vector<DamageFinding> out;
  std::error_code missing;
  if (!std::filesystem::exists(path_, missing) && !missing) return out;
  std::error_code folder_error;
  if (std::filesystem::is_directory(path_, folder_error)) {
    // Read as an empty record, it said nothing (outside probe): a record
    // that cannot be read is no evidence of no damage.
    DamageFinding unreadable;
    unreadable.source = path_;
    unreadable.error = absl::StrCat(
        path_,
        " is a folder, not the record of damage found: what earlier runs found cannot be "
        "read. Look at what is in it, then remove it (or restore the data folder)");
    out.push_back(std::move(unreadable));
    return out;
  }
  std::ifstream in(path_, std::ios::binary);
  if (!in) return absl::InternalError(absl::StrCat("cannot read ", path_));
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    if (out.size() >= kMaxFindings) {
      DamageFinding more;
      more.source = absl::StrCat(path_, ":", number);
      more.error =
          absl::StrCat(path_, " holds more findings than the ", kMaxFindings, " read from it");
      out.push_back(std::move(more));
      break;
    }
    const std::vector<std::string> fields = absl::StrSplit(line, '\t');
    DamageFinding f;
    std::string error;
    bool ok = line.size() <= kMaxLineBytes && fields.size() == 4 &&
              absl::ParseTime(absl::RFC3339_full, fields[1], &f.found_at, &error);
    if (ok && fields[0] == "event") {
      f.kind = DamageFinding::Kind::kEvent;
      ok = !fields[2].empty() && fields[2].size() <= 20 &&
           std::all_of(fields[2].begin(), fields[2].end(), absl::ascii_isdigit) &&
           absl::SimpleAtoi(fields[2], &f.position) && absl::CUnescape(fields[3], &f.problem);
    } else if (ok && fields[0] == "read") {
      f.kind = DamageFinding::Kind::kRead;
      ok = absl::CUnescape(fields[2], &f.source) && absl::CUnescape(fields[3], &f.error);
    } else {
      ok = false;
    }
    if (!ok) {
      f = DamageFinding();
      f.kind = DamageFinding::Kind::kRead;
      f.source = absl::StrCat(path_, ":", number);
      f.error = absl::StrCat("line ", number, " of ", path_,
                             ", the record of damage found earlier, does not parse: \"",
                             absl::CHexEscape(line.substr(0, 200)), "\"");
    }
    out.push_back(std::move(f));
  }
  return out;
}

absl::Status DamageRecord::Append(const DamageFinding& f) const {
  const std::string when = absl::FormatTime(absl::RFC3339_full, f.found_at, absl::UTCTimeZone());
  const std::string line =
      f.kind == DamageFinding::Kind::kEvent
          ? absl::StrCat("event\t", when, "\t", f.position, "\t", Escaped(f.problem), "\n")
          : absl::StrCat("read\t", when, "\t", Escaped(f.source), "\t", Escaped(f.error), "\n");
  struct stat st;
  const bool created = ::stat(path_.c_str(), &st) != 0;
  const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("cannot open ", path_, ": ", strerror(errno)));
  }
  absl::Status status;
  for (size_t done = 0; done < line.size() && status.ok();) {
    const ssize_t n = ::write(fd, line.data() + done, line.size() - done);
    if (n > 0) {
      done += static_cast<size_t>(n);
    } else if (n < 0 && errno != EINTR) {
      status = absl::InternalError(absl::StrCat("cannot write ", path_, ": ", strerror(errno)));
    }
  }
  if (status.ok() && ::fdatasync(fd) != 0) {
    status = absl::InternalError(absl::StrCat("cannot sync ", path_, ": ", strerror(errno)));
  }
  ::close(fd);
  if (status.ok() && created) {
    // The file's name, in its folder: synced too, or a power cut could
    // lose the first finding.
    const std::string dir = path_.substr(0, path_.rfind('/'));
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || ::fsync(dfd) != 0) {
      status = absl::InternalError(absl::StrCat("cannot sync ", dir, ": ", strerror(errno)));
    }
    if (dfd >= 0) ::close(dfd);
  }
  return status;
}

}  // namespace evenhand::storage
