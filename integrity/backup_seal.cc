#include "integrity/backup_seal.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <system_error>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/small_file.h"
#include "base/uuid.h"
#include "integrity/backups.h"
#include "integrity/merkle.h"
#include "integrity/signing.h"

namespace evenhand::integrity {
namespace fs = std::filesystem;

std::string BackupSealStatement(absl::string_view log_id, absl::string_view folder_id, uint32_t id,
                                absl::string_view description) {
  return absl::StrCat("evenhand backup seal v1\nlog ", log_id, "\nfolder ", folder_id, "\nbackup ",
                      id, "\ndescription ", absl::BytesToHexString(Sha256(description)), "\n");
}

std::string BackupFolderId(const std::string& dir) {
  std::string text;
  if (!ReadSmallRegularFile(dir + "/evenhand/folder", 256, &text)) return "";
  absl::string_view id(text);
  if (!absl::ConsumeSuffix(&id, "\n") || !ParseUuid(std::string_view(id.data(), id.size())).ok()) {
    return "";
  }
  return std::string(id);
}

absl::StatusOr<std::string> MakeBackupFolderId(const std::string& dir) {
  if (std::string id = BackupFolderId(dir); !id.empty()) return id;
  const std::string path = dir + "/evenhand/folder";
  std::error_code ec;
  if (fs::exists(fs::symlink_status(path, ec))) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no backup taken: ", path,
        " (the backup folder's id) is not what a backup makes there: move it aside, or back up "
        "into another folder"));
  }
  const std::string id = NewUuid();
  const std::string text = id + "\n";
  // Never through a link, never over a file: O_EXCL.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::InternalError(
        absl::StrCat("no backup taken: cannot make ", path, ": ", std::strerror(errno)));
  }
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                       ::fsync(fd) == 0;
  ::close(fd);
  if (!written) {
    return absl::InternalError(absl::StrCat("no backup taken: cannot write ", path));
  }
  return id;
}

std::string BackupSealFile(absl::string_view statement, absl::string_view signature) {
  return absl::StrCat(statement, "signature ", absl::Base64Escape(signature), "\n");
}

absl::Status VerifyBackupSeal(const std::string& dir, absl::string_view folder_id, uint32_t id,
                              const v1::BackupManifest& manifest) {
  const std::string seal_file = BackupExtrasDir(dir, id) + "/seal";
  std::string seal;
  if (!ReadSmallRegularFile(seal_file, 64 << 10, &seal)) {
    return absl::DataLossError(absl::StrCat(
        seal_file,
        ", its seal, is missing, not a file, or too large to be one (every backup with a signed "
        "manifest has one)"));
  }
  std::string description;
  if (!ReadSmallRegularFile(absl::StrCat(dir, "/meta/", id), 64 << 20, &description)) {
    return absl::DataLossError(
        absl::StrCat("its description (meta/", id, ") cannot be read to check its seal"));
  }
  const std::string statement = BackupSealStatement(manifest.log_id(), folder_id, id, description);
  std::string signature;
  if (!absl::StartsWith(seal, statement)) {
    return absl::DataLossError(absl::StrCat(
        seal_file,
        ", its seal, is not this backup's: it names another backup, another log, another "
        "folder than this one (evenhand/folder), or a description (meta/",
        id,
        ") other than the one there now. Its manifest, journal or files were replaced since it "
        "was taken (another backup's put in its place, say, or another folder's backup ",
        id, ")"));
  }
  absl::string_view rest(seal);
  rest.remove_prefix(statement.size());
  if (!absl::ConsumePrefix(&rest, "signature ") || !absl::ConsumeSuffix(&rest, "\n") ||
      !absl::Base64Unescape(rest, &signature) ||
      !VerifySignature(manifest.public_key().raw(), statement, signature).ok()) {
    return absl::DataLossError(absl::StrCat(seal_file, ", its seal, does not verify with key ",
                                            KeyId(manifest.public_key().raw())));
  }
  return absl::OkStatus();
}

absl::Status CheckSealedDescription(const std::string& dir, uint32_t id) {
  const std::string seal_file = BackupExtrasDir(dir, id) + "/seal";
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(seal_file, ec))) return absl::OkStatus();
  std::string seal;
  std::string description;
  if (!ReadSmallRegularFile(seal_file, 64 << 10, &seal) ||
      !absl::StartsWith(seal, "evenhand backup seal v1\n")) {
    return absl::DataLossError(
        absl::StrCat(seal_file, ", its seal, is not a file, too large, or not a seal"));
  }
  if (!ReadSmallRegularFile(absl::StrCat(dir, "/meta/", id), 64 << 20, &description)) {
    return absl::DataLossError(
        absl::StrCat("its description (meta/", id, ") cannot be read to check its seal"));
  }
  const std::string line =
      absl::StrCat("\ndescription ", absl::BytesToHexString(Sha256(description)), "\n");
  if (!absl::StrContains(seal, line)) {
    return absl::DataLossError(absl::StrCat(
        "its description (", dir, "/meta/", id, ") is not the one it was sealed with (", seal_file,
        "): its Even Hand manifest was removed or replaced since it was taken"));
  }
  return absl::OkStatus();
}

namespace {

// The folder id a seal names (its third line), "" if it cannot be read.
std::string SealedFolderId(const std::string& seal_file) {
  std::string seal;
  if (!ReadSmallRegularFile(seal_file, 64 << 10, &seal)) return "";
  for (absl::string_view line : absl::StrSplit(seal, '\n')) {
    if (absl::ConsumePrefix(&line, "folder ")) return std::string(line);
  }
  return "";
}

std::string IdList(const std::vector<uint32_t>& ids) {
  constexpr size_t kShown = 5;
  std::vector<uint32_t> shown(ids.begin(), ids.begin() + std::min(ids.size(), kShown));
  return absl::StrCat(
      ids.size() == 1 ? "backup " : "backups ", absl::StrJoin(shown, ", "),
      ids.size() > kShown ? absl::StrCat(" and ", ids.size() - kShown, " more") : std::string());
}

}  // namespace

std::string BackupFolderIdProblem(const std::string& dir) {
  const std::string path = dir + "/evenhand/folder";
  std::error_code ec;
  // Everything under it is read through it: a link there is another
  // folder's Even Hand parts (the backups are refused at their first step).
  if (const fs::file_status st = fs::symlink_status(dir + "/evenhand", ec);
      fs::exists(st) && !fs::is_directory(st)) {
    return absl::StrCat(dir,
                        "/evenhand (every backup's Even Hand part) is not a folder of its own (a "
                        "link, or a file): no backup is taken into this folder until it is moved "
                        "aside, and this listing rests on what could be read through it");
  }
  const bool there = fs::exists(fs::symlink_status(path, ec));
  const std::string id = BackupFolderId(dir);
  // Backups sealed naming each id, the id the folder says first.
  std::map<std::string, std::vector<uint32_t>> sealed;
  for (const auto& entry : fs::directory_iterator(fs::path(dir) / "evenhand", ec)) {
    const std::string name = entry.path().filename().string();
    uint32_t backup = 0;
    if (!absl::SimpleAtoi(name, &backup) || backup == 0 || name != std::to_string(backup)) {
      continue;
    }
    const std::string seal_file = entry.path().string() + "/seal";
    if (!fs::exists(fs::symlink_status(seal_file, ec))) continue;  // an older backup
    sealed[SealedFolderId(seal_file)].push_back(backup);
  }
  sealed.erase("");  // a seal that cannot be read: that backup's damage, said in the listing
  for (auto& [named, backups] : sealed) std::sort(backups.begin(), backups.end());
  if (there && id.empty()) {
    std::string put_back;
    if (!sealed.empty()) {
      const auto& [named, backups] = *sealed.begin();
      put_back = absl::StrCat(" (", IdList(backups), backups.size() == 1 ? " is" : " are",
                              " sealed naming folder ", named, ": move it aside, then printf '",
                              named, "\\n' > ", path, ")");
    }
    return absl::StrCat(
        path,
        " (the backup folder's id) is not what a backup makes there (a UUID and a line end, in a "
        "file of its own, not a link): every backup sealed in this folder names that id, so none "
        "reads as complete until it is put back as it was",
        put_back, "; no backup is taken into this folder until then");
  }
  if (sealed.empty()) return "";
  if (id.empty()) {
    // Missing: say what it was, for it to be put back.
    const auto& [named, backups] = *sealed.begin();
    return absl::StrCat(
        path, " (the backup folder's id) is missing, though ", IdList(backups), " in it ",
        backups.size() == 1 ? "is" : "are", " sealed naming folder ", named,
        sealed.size() > 1 ? " (and others name other folders)" : "",
        ": none reads as complete until it is put back (printf '", named, "\\n' > ", path,
        "), and no backup is taken into this folder until then (a new id would leave every "
        "earlier backup DAMAGED for good)");
  }
  std::vector<uint32_t> foreign;
  std::string named_instead;
  for (const auto& [named, backups] : sealed) {
    if (named == id) continue;
    if (named_instead.empty()) named_instead = named;
    foreign.insert(foreign.end(), backups.begin(), backups.end());
  }
  if (foreign.empty()) return "";
  std::sort(foreign.begin(), foreign.end());
  return absl::StrCat(
      path, " names folder ", id, ", but ", IdList(foreign), " in it ",
      foreign.size() == 1 ? "is" : "are", " sealed naming folder ", named_instead,
      ": either that file was replaced (with another folder's, say) or those backups were put "
      "here from another folder. No backup is taken into this folder until what is not its own "
      "is moved aside (or take backups into a new folder): a new seal under the wrong id would "
      "make the other folder's backups pass for this one's, or leave this one's DAMAGED");
}

}  // namespace evenhand::integrity
