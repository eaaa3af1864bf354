#include "storage/damage_record.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace evenhand::storage {
namespace {

constexpr size_t kMaxLineBytes = 64 << 10;

std::string Escaped(const std::string& text) {
  return absl::CEscape(text.size() > kMaxLineBytes / 4 ? text.substr(0, kMaxLineBytes / 4) : text);
}

}  // namespace

DamageRecord::DamageRecord(std::string data_dir)
    : path_(std::move(data_dir) + "/damage-found.txt") {}

absl::StatusOr<std::vector<DamageFinding>> DamageRecord::Load() const {
  std::vector<DamageFinding> out;
  std::error_code missing;
  if (!std::filesystem::exists(path_, missing) && !missing) return out;
  std::ifstream in(path_, std::ios::binary);
  if (!in) return absl::InternalError(absl::StrCat("cannot read ", path_));
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    const std::vector<std::string> fields = absl::StrSplit(line, '\t');
    DamageFinding f;
    std::string error;
    bool ok = fields.size() == 4 &&
              absl::ParseTime(absl::RFC3339_full, fields[1], &f.found_at, &error);
    if (ok && fields[0] == "event") {
      f.kind = DamageFinding::Kind::kEvent;
      ok = absl::SimpleAtoi(fields[2], &f.position) && absl::CUnescape(fields[3], &f.problem);
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
  const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("cannot open ", path_, ": ", strerror(errno)));
  }
  absl::Status status;
  if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size()) ||
      ::fdatasync(fd) != 0) {
    status = absl::InternalError(absl::StrCat("cannot write ", path_, ": ", strerror(errno)));
  }
  ::close(fd);
  return status;
}

}  // namespace evenhand::storage
