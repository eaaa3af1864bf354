#include "integrity/checkpoint_journal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/error_details.h"
#include "base/logging.h"
#include "base/status_macros.h"
#include "google/protobuf/util/json_util.h"
#include "integrity/signing.h"

namespace evenhand::integrity {
namespace {

constexpr char kComponent[] = "integrity";

absl::Status Errno(const std::string& what) {
  if (errno == ENOSPC || errno == EDQUOT) {
    return absl::ResourceExhaustedError(absl::StrCat(
        what, ": ", strerror(errno), ". Free space on the disk holding the checkpoint journal"));
  }
  if (errno == ELOOP) {
    return absl::FailedPreconditionError(absl::StrCat(
        what,
        ": it is a symbolic link, which is never followed (whoever could write the folder "
        "could point it at any file, and the server would append to it): put the journal "
        "itself there"));
  }
  return absl::InternalError(absl::StrCat(what, ": ", strerror(errno)));
}

// The journal is the anchor a rollback is caught against: only a regular
// file of root's or the server's user will do (outside probe: one made in
// advance by `nobody` in a sticky folder was taken, and stayed theirs to
// rewrite; a FIFO in its place hung the start).
absl::Status CheckOwnFile(int fd, const std::string& path) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return Errno(absl::StrCat("cannot read ", path));
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the checkpoint journal ", path,
        " is not a regular file (a FIFO, a device or a folder): put the journal itself there"));
  }
  if (st.st_uid != 0 && st.st_uid != ::geteuid()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the checkpoint journal ", path, " belongs to user ", st.st_uid,
        ", not to the user evenhandd runs as (", ::geteuid(),
        "), who could rewrite it: if it is this log's, chown it to the server's user"));
  }
  return absl::OkStatus();
}

absl::Status FsyncDir(const std::string& file) {
  const std::string parent = std::filesystem::path(file).parent_path().string();
  const std::string dir = parent.empty() ? std::string(".") : parent;
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno(absl::StrCat("cannot open ", dir));
  int r = ::fsync(fd);
  ::close(fd);
  return r == 0 ? absl::OkStatus() : Errno(absl::StrCat("cannot sync ", dir));
}

absl::StatusOr<v1::SignedCheckpoint> ParseLine(std::string_view line) {
  v1::SignedCheckpoint c;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto s = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(line.data(), line.size()), &c, options);
  if (!s.ok()) return absl::InvalidArgumentError(std::string(s.message()));
  return c;
}

}  // namespace

std::string CheckpointJournal::Line(const v1::SignedCheckpoint& checkpoint) {
  std::string line;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = false;
  (void)google::protobuf::util::MessageToJsonString(checkpoint, &line, options);
  line.push_back('\n');
  return line;
}

std::optional<v1::SignedCheckpoint> CheckpointJournal::PeekLatest(const std::string& path) {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line)) {
    if (!line.empty()) last = line;
  }
  absl::StatusOr<v1::SignedCheckpoint> c = ParseLine(last);
  if (last.empty() || !c.ok()) return std::nullopt;
  return *std::move(c);
}

namespace {

// Whether `line` is a signed checkpoint of `log_id`, verified with `key`,
// of at least `last_size` leaves: one that a newline would make a line.
bool WholeCheckpoint(std::string_view line, const v1::PublicKey& key, const std::string& log_id,
                     uint64_t last_size) {
  absl::StatusOr<v1::SignedCheckpoint> c = ParseLine(line);
  return c.ok() && c->checkpoint().log_id() == log_id && VerifyCheckpoint(*c, key).ok() &&
         c->checkpoint().tree_size() >= last_size;
}

}  // namespace

CheckpointJournal::CheckpointJournal(std::string path, int fd, bool created)
    : path_(std::move(path)), created_(created), fd_(fd) {}

CheckpointJournal::~CheckpointJournal() {
  absl::MutexLock lock(&mu_);
  if (fd_ >= 0) ::close(fd_);
}

absl::StatusOr<std::unique_ptr<CheckpointJournal>> CheckpointJournal::Open(
    const std::string& path, const v1::PublicKey& key, const std::string& log_id) {
  struct stat st;
  const bool created = ::stat(path.c_str(), &st) != 0;
  // Never through a link (outside probe: one planted beside the data folder
  // made the server append to a file of root's).
  int fd =
      ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
  if (fd < 0) return Errno(absl::StrCat("cannot open the checkpoint journal ", path));
  if (absl::Status own = CheckOwnFile(fd, path); !own.ok()) {
    ::close(fd);
    return own;
  }
  std::unique_ptr<CheckpointJournal> journal(new CheckpointJournal(path, fd, created));
  if (created) {
    EH_RETURN_IF_ERROR(FsyncDir(path));
  } else if ((st.st_mode & 0077) != 0 && ::fchmod(fd, 0600) != 0) {
    return Errno(absl::StrCat("cannot make ", path, " owner-only"));
  }

  // Read it all, line by line.
  std::string contents;
  {
    char buffer[1 << 16];
    for (;;) {
      ssize_t n = ::pread(fd, buffer, sizeof(buffer), static_cast<off_t>(contents.size()));
      if (n < 0) return Errno(absl::StrCat("cannot read ", path));
      if (n == 0) break;
      contents.append(buffer, static_cast<size_t>(n));
    }
  }
  absl::MutexLock lock(&journal->mu_);
  size_t at = 0;
  size_t line_number = 0;
  while (at < contents.size()) {
    size_t end = contents.find('\n', at);
    ++line_number;
    if (end == std::string::npos) {
      // The last line has no newline. A whole signed checkpoint of this log
      // (its newline lost, changed, or followed by a crash's zero fill) is
      // evidence: kept, the newline put back and what followed it dropped.
      // One that parses but is not this log's, or goes back, is damage.
      const std::string_view rest = std::string_view(contents).substr(at);
      const uint64_t last = journal->latest_ ? journal->latest_->checkpoint().tree_size() : 0;
      std::optional<size_t> whole;
      bool parses = false;
      for (std::string_view candidate :
           {rest, rest.substr(0, rest.empty() ? 0 : rest.size() - 1)}) {
        while (!candidate.empty() && (candidate.back() == '\0' || candidate.back() == ' ' ||
                                      candidate.back() == '\t' || candidate.back() == '\r')) {
          candidate.remove_suffix(1);
        }
        if (candidate.empty() || whole) continue;
        parses |= ParseLine(candidate).ok();
        if (WholeCheckpoint(candidate, key, log_id, last)) whole = candidate.size();
      }
      if (whole) {
        logging::Warning(
            kComponent,
            absl::StrCat("the checkpoint journal ", path,
                         " ends in a whole signed checkpoint without its newline (line ",
                         line_number,
                         rest.size() > *whole ? absl::StrCat(", followed by ", rest.size() - *whole,
                                                             " byte(s) that are dropped")
                                              : std::string(),
                         "); it is kept and the newline put back"));
        if (::ftruncate(fd, static_cast<off_t>(at + *whole)) != 0 || ::write(fd, "\n", 1) != 1 ||
            ::fsync(fd) != 0) {
          return Errno(absl::StrCat("cannot put back the newline at the end of ", path));
        }
        contents.resize(at + *whole);
        contents.push_back('\n');
        end = contents.size() - 1;
      } else if (parses) {
        end = contents.size();  // judged as any line, below: refused, the file left as it is
      }
    }
    if (end == std::string::npos) {
      // A write torn by a crash: never acknowledged, so it is dropped.
      logging::Warning(kComponent,
                       absl::StrCat("the checkpoint journal ", path, " ends in a torn line (",
                                    contents.size() - at,
                                    " bytes without a newline, a write cut short by a crash "
                                    "before it was acknowledged); dropping it"));
      if (::ftruncate(fd, static_cast<off_t>(at)) != 0 || ::fsync(fd) != 0) {
        return Errno(absl::StrCat("cannot drop the torn end of ", path));
      }
      contents.resize(at);
      break;
    }
    const std::string_view line(contents.data() + at, end - at);
    auto damaged = [&](absl::string_view problem) {
      return absl::DataLossError(absl::StrCat(
          "the checkpoint journal ", path, " is damaged at line ", line_number, ": ", problem,
          ". It is the record of every checkpoint this server signed; restore it from a "
          "backup (it is never rewritten, so any older copy is a prefix of it)"));
    };
    absl::StatusOr<v1::SignedCheckpoint> c = ParseLine(line);
    if (!c.ok())
      return damaged(absl::StrCat("not a signed checkpoint (", c.status().message(), ")"));
    if (c->checkpoint().log_id() != log_id && journal->latest_) {
      // The lines before are this log's: not a swapped journal, but lines
      // of another put into this one.
      return damaged(absl::StrCat("it names log ", c->checkpoint().log_id(),
                                  ", while the lines before it name this log (", log_id,
                                  "): lines of another log's journal were put into it"));
    }
    if (c->checkpoint().log_id() != log_id) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the checkpoint journal ", path, " belongs to log ", c->checkpoint().log_id(),
          ", not to the log in the data folder (", log_id,
          "): the data folder or the journal was swapped. Point audit.checkpointJournal at this "
          "log's journal"));
    }
    if (absl::Status v = VerifyCheckpoint(*c, key); !v.ok()) {
      if (!c->key_id().empty() && c->key_id() != key.key_id()) {
        // Signed by another key than the data folder's: the key file (or
        // the journal) is not this log's, not a damaged line.
        return absl::FailedPreconditionError(absl::StrCat(
            "the checkpoint journal ", path, " was signed with key ", c->key_id(),
            ", but the data folder's signing key is ", key.key_id(),
            ": the signing key (signing-key.pem) is not this log's key, or the journal is not "
            "this log's. Put back this log's signing-key.pem from its backup (its public key "
            "is the one the council published), or point audit.checkpointJournal at this log's "
            "journal; if the key was changed on purpose, start with "
            "--start_new_checkpoint_journal (docs/SECURITY.md)"));
      }
      return damaged(absl::StrCat(v.message(), " (with the log's key ", key.key_id(), ")"));
    }
    if (journal->latest_ &&
        c->checkpoint().tree_size() < journal->latest_->checkpoint().tree_size()) {
      return damaged(absl::StrCat("tree size ", c->checkpoint().tree_size(), " follows ",
                                  journal->latest_->checkpoint().tree_size()));
    }
    journal->index_.push_back({c->checkpoint().tree_size(), at});
    journal->latest_ = *std::move(c);
    at = end + 1;
  }
  journal->file_size_ = contents.size();
  return journal;
}

absl::Status CheckpointJournal::CheckStillThere() {
  struct stat open_file {};
  struct stat at_path {};
  if (::fstat(fd_, &open_file) != 0) return Errno(absl::StrCat("cannot look at ", path_));
  const bool there = ::stat(path_.c_str(), &at_path) == 0;
  if (there && at_path.st_dev == open_file.st_dev && at_path.st_ino == open_file.st_ino) {
    return absl::OkStatus();
  }
  if (there) {
    // Put back (a copy of what this process holds open): taken up again.
    std::ifstream in(path_, std::ios::binary);
    std::string put_back((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::string held(file_size_, '\0');
    const ssize_t n = ::pread(fd_, held.data(), held.size(), 0);
    if (in && n == static_cast<ssize_t>(held.size()) && put_back == held) {
      const int fd = ::open(path_.c_str(), O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
      if (fd >= 0 && !CheckOwnFile(fd, path_).ok()) {
        ::close(fd);
      } else if (fd >= 0) {
        ::close(fd_);
        fd_ = fd;
        logging::Info(kComponent, absl::StrCat("the checkpoint journal ", path_,
                                               " was put back: checkpoints are signed into it "
                                               "again"));
        return absl::OkStatus();
      }
    }
  }
  // Not DataLoss (a problem for good): the signer's stall, shown by status
  // until it is put right.
  return absl::FailedPreconditionError(absl::StrCat(
      "the checkpoint journal ", path_,
      there ? " was replaced by another file while the server ran"
            : " is gone (deleted or moved while the server ran)",
      ": no checkpoint is signed into a file nobody would read, and the next start would refuse "
      "without it. This process still holds the journal open: copy it back with `cp /proc/",
      ::getpid(), "/fd/", fd_, " ", path_,
      "` (as the server's user, while it runs), and signing "
      "resumes by itself"));
}

absl::Status CheckpointJournal::Append(const v1::SignedCheckpoint& checkpoint) {
  const std::string line = Line(checkpoint);
  absl::MutexLock lock(&mu_);
  // A journal deleted or moved aside while the server runs would take every
  // checkpoint signed since with it, unnoticed until the next start refused
  // for want of it (an outside probe).
  EH_RETURN_IF_ERROR(CheckStillThere());
  if (latest_ && checkpoint.checkpoint().tree_size() < latest_->checkpoint().tree_size()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the checkpoint journal already holds tree size ", latest_->checkpoint().tree_size(),
        "; a checkpoint of ", checkpoint.checkpoint().tree_size(), " would go backwards"));
  }
  ssize_t n = ::write(fd_, line.data(), line.size());
  if (n >= 0 && n < static_cast<ssize_t>(line.size())) {
    // Short: the rest, once, so that a full disk says so (ENOSPC).
    const ssize_t more = ::write(fd_, line.data() + n, line.size() - static_cast<size_t>(n));
    n = more < 0 ? -1 : n + more;
  }
  if (n != static_cast<ssize_t>(line.size())) {
    absl::Status error = n < 0 ? Errno(absl::StrCat("cannot write to ", path_))
                               : absl::InternalError(absl::StrCat("short write to ", path_));
    if (absl::IsResourceExhausted(error)) {
      error = absl::ResourceExhaustedError(
          absl::StrCat(error.message(),
                       ": no checkpoint is signed until then (appends go on), and the signer "
                       "tries again at the next one"));
    }
    // Leave no partial line behind for the next append to follow.
    if (::ftruncate(fd_, static_cast<off_t>(file_size_)) != 0) {
      logging::Error(kComponent,
                     absl::StrCat("cannot undo a partial write to ", path_, ": ", strerror(errno)));
    }
    return error;
  }
  if (::fdatasync(fd_) != 0) {
    const absl::Status error = Errno(absl::StrCat("cannot sync ", path_));
    // The line may or may not reach the disk: take it back, so that the
    // file ends where the index says and the next append (the signer tries
    // again) is read at the offset it is indexed at.
    if (::ftruncate(fd_, static_cast<off_t>(file_size_)) != 0) {
      logging::Error(kComponent, absl::StrCat("cannot undo an unsynced write to ", path_, ": ",
                                              strerror(errno)));
    }
    return error;
  }
  index_.push_back({checkpoint.checkpoint().tree_size(), file_size_});
  file_size_ += line.size();
  latest_ = checkpoint;
  return absl::OkStatus();
}

absl::StatusOr<v1::SignedCheckpoint> CheckpointJournal::ReadAt(uint64_t offset) const {
  std::string line;
  char buffer[1024];
  for (;;) {
    ssize_t n = ::pread(fd_, buffer, sizeof(buffer), static_cast<off_t>(offset + line.size()));
    if (n < 0) return Errno(absl::StrCat("cannot read ", path_));
    if (n == 0) break;
    std::string_view chunk(buffer, static_cast<size_t>(n));
    size_t newline = chunk.find('\n');
    if (newline != std::string_view::npos) {
      line.append(chunk.substr(0, newline));
      break;
    }
    line.append(chunk);
  }
  absl::StatusOr<v1::SignedCheckpoint> c = ParseLine(line);
  if (!c.ok()) {
    return absl::DataLossError(absl::StrCat("the checkpoint journal ", path_,
                                            " changed under the server at offset ", offset));
  }
  return c;
}

std::optional<v1::SignedCheckpoint> CheckpointJournal::Latest() const {
  absl::MutexLock lock(&mu_);
  return latest_;
}

absl::StatusOr<std::vector<v1::SignedCheckpoint>> CheckpointJournal::All() const {
  absl::MutexLock lock(&mu_);
  std::vector<v1::SignedCheckpoint> out;
  out.reserve(index_.size());
  for (const Entry& e : index_) {
    EH_ASSIGN_OR_RETURN(v1::SignedCheckpoint c, ReadAt(e.offset));
    out.push_back(std::move(c));
  }
  return out;
}

absl::StatusOr<v1::SignedCheckpoint> CheckpointJournal::Find(uint64_t tree_size) const {
  absl::MutexLock lock(&mu_);
  auto it = std::lower_bound(index_.begin(), index_.end(), tree_size,
                             [](const Entry& e, uint64_t size) { return e.tree_size < size; });
  if (it == index_.end() || it->tree_size != tree_size) {
    return WithErrorInfo(
        absl::NotFoundError(absl::StrCat(
            "tree_size: no checkpoint was signed at tree size ", tree_size,
            "; ListCheckpoints lists those that were (at every audit.checkpointEveryEvents "
            "events and every audit.checkpointEverySeconds while the log grows: by default "
            "10,000 and 60)")),
        "NO_SUCH_CHECKPOINT", {{"field", "tree_size"}});
  }
  return ReadAt(it->offset);
}

absl::StatusOr<std::optional<v1::SignedCheckpoint>> CheckpointJournal::LatestAtMost(
    uint64_t tree_size) const {
  absl::MutexLock lock(&mu_);
  auto it = std::upper_bound(index_.begin(), index_.end(), tree_size,
                             [](uint64_t size, const Entry& e) { return size < e.tree_size; });
  if (it == index_.begin()) return std::optional<v1::SignedCheckpoint>();
  --it;
  EH_ASSIGN_OR_RETURN(v1::SignedCheckpoint c, ReadAt(it->offset));
  return std::optional<v1::SignedCheckpoint>(std::move(c));
}

std::vector<uint64_t> CheckpointJournal::TreeSizes() const {
  absl::MutexLock lock(&mu_);
  std::vector<uint64_t> out;
  out.reserve(index_.size());
  for (const Entry& e : index_) out.push_back(e.tree_size);
  return out;
}

size_t CheckpointJournal::size() const {
  absl::MutexLock lock(&mu_);
  return index_.size();
}

absl::StatusOr<std::string> CheckpointJournal::Supersede() {
  absl::MutexLock lock(&mu_);
  const std::string aside = absl::StrCat(path_, ".superseded-", absl::ToUnixSeconds(absl::Now()));
  if (::rename(path_.c_str(), aside.c_str()) != 0) {
    return Errno(absl::StrCat("cannot move ", path_, " aside"));
  }
  int fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return Errno(absl::StrCat("cannot create ", path_));
  ::close(fd_);
  fd_ = fd;
  EH_RETURN_IF_ERROR(FsyncDir(path_));
  index_.clear();
  latest_.reset();
  file_size_ = 0;
  return aside;
}

}  // namespace evenhand::integrity
