#include "integrity/backup_seal.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/small_file.h"
#include "base/status_macros.h"
#include "base/uuid.h"
#include "integrity/backups.h"
#include "integrity/merkle.h"
#include "integrity/signing.h"
#include "storage/rocksdb_support.h"

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
  if (!absl::ConsumeSuffix(&id, "\n")) return "";
  // As a backup writes it: lowercase, hyphenated.
  absl::StatusOr<UuidBytes> parsed = ParseUuid(std::string_view(id.data(), id.size()));
  if (!parsed.ok() || FormatUuid(*parsed) != id) return "";
  return std::string(id);
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

// How to put `id` back as the folder's, owner-only as a backup makes it.
std::string PutBack(const std::string& path, const std::string& id) {
  return absl::StrCat("(umask 077; printf '", id, "\\n' > ", path, ")");
}

// The folder's id as read once, and what is wrong with it ("" if nothing).
struct FolderIdState {
  std::string id;
  bool there = false;  // something is at evenhand/folder
  std::string problem;
};

FolderIdState InspectFolderId(const std::string& dir) {
  FolderIdState out;
  const std::string path = dir + "/evenhand/folder";
  std::error_code ec;
  // Everything under it is read through it: a link there is another
  // folder's Even Hand parts (the backups are refused at their first step).
  if (const fs::file_status st = fs::symlink_status(dir + "/evenhand", ec);
      fs::exists(st) && !fs::is_directory(st)) {
    out.problem = absl::StrCat(
        dir,
        "/evenhand (every backup's Even Hand part) is not a folder of its own (a link, or a "
        "file): no backup is taken into this folder until it is moved aside, and this listing "
        "rests on what could be read through it");
    return out;
  }
  out.there = fs::exists(fs::symlink_status(path, ec));
  out.id = BackupFolderId(dir);
  // Backups sealed naming each id.
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
  // What the seals name, to put back: one id, or each with its backups
  // (which of them is this folder's cannot be told here).
  std::string named_by_seals;
  for (const auto& [named, backups] : sealed) {
    absl::StrAppend(&named_by_seals, named_by_seals.empty() ? "" : "; ", IdList(backups),
                    backups.size() == 1 ? " is" : " are", " sealed naming folder ", named);
  }
  const std::string fix =
      sealed.size() == 1 ? absl::StrCat(": put it back with ", PutBack(path, sealed.begin()->first))
      : sealed.empty()   ? std::string()
                         : ": which of these is this folder's cannot be told here; put back "
                           "the one your records of this folder name, and move aside the "
                           "backups sealed naming the others";
  if (out.there && out.id.empty()) {
    out.problem = absl::StrCat(
        path,
        " (the backup folder's id) is not what a backup makes there (a UUID in lowercase and a "
        "line end, in a file of its own, not a link): every backup sealed in this folder names "
        "that id, so none reads as complete until it is moved aside and put back as it was",
        named_by_seals.empty() ? "" : absl::StrCat(" (", named_by_seals, fix, ")"),
        ". No backup is taken into this folder until then");
    return out;
  }
  if (sealed.empty()) return out;
  if (out.id.empty()) {
    out.problem = absl::StrCat(
        path, " (the backup folder's id) is missing, though ", named_by_seals, fix,
        ". Until then none reads as complete, and no backup is taken into this folder (a new id "
        "would leave every earlier backup DAMAGED for good)");
    return out;
  }
  std::vector<uint32_t> foreign;
  std::string named_instead;
  for (const auto& [named, backups] : sealed) {
    if (named == out.id) continue;
    if (named_instead.empty()) named_instead = named;
    foreign.insert(foreign.end(), backups.begin(), backups.end());
  }
  if (foreign.empty()) return out;
  std::sort(foreign.begin(), foreign.end());
  out.problem = absl::StrCat(
      path, " names folder ", out.id, ", but ", IdList(foreign), " in it ",
      foreign.size() == 1 ? "is" : "are", " sealed naming folder ", named_instead,
      ": either that file was replaced (with another folder's, say) or those backups were put "
      "here from another folder. No backup is taken into this folder until what is not its own "
      "is moved aside (or take backups into a new folder): a new seal under the wrong id would "
      "make the other folder's backups pass for this one's, or leave this one's DAMAGED");
  return out;
}

}  // namespace

std::string BackupFolderIdProblem(const std::string& dir, std::string* id) {
  FolderIdState state = InspectFolderId(dir);
  if (id != nullptr) *id = std::move(state.id);
  return state.problem;
}

absl::StatusOr<std::string> FolderIdForBackup(const std::string& dir) {
  const FolderIdState state = InspectFolderId(dir);
  if (!state.problem.empty()) {
    return absl::FailedPreconditionError(absl::StrCat("no backup taken: ", state.problem));
  }
  if (!state.id.empty()) return state.id;
  // None yet, and no backup sealed: the folder's first sealed backup.
  EH_RETURN_IF_ERROR(storage::MakeOwnerOnlyDir(dir + "/evenhand"));
  const std::string path = dir + "/evenhand/folder";
  const std::string id = NewUuid();
  const std::string text = id + "\n";
  // Never through a link, never over a file (one made since it was looked
  // at is not this backup's to decide on): O_EXCL.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no backup taken: cannot make ", path, " (the backup folder's id): ", std::strerror(errno),
        errno == EEXIST ? " (it appeared while the backup looked at the folder: look at it, then "
                          "back up again)"
                        : ""));
  }
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                       ::fsync(fd) == 0;
  ::close(fd);
  if (!written) {
    return absl::InternalError(absl::StrCat("no backup taken: cannot write ", path));
  }
  return id;
}

}  // namespace evenhand::integrity
