#include "storage/backup.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "base/trusted_file.h"
#include "rocksdb/utilities/backup_engine.h"
#include "storage/internal/backup_check.h"
#include "storage/rocksdb_support.h"

namespace evenhand::storage {
namespace {

// Backup files are created owner-only, as the data folder's are: a backup
// holds everything the log does. The folder's descriptions are checked
// before RocksDB reads them (internal/backup_check.h), and those it must not
// read are hidden from it.
struct Engine {
  explicit Engine(const std::string& dir)
      : check(internal::CheckBackupFolder(dir)),
        env(EnvOver(internal::HidingDescriptions(OwnerOnlyFileSystem(), dir, check))) {}
  internal::BackupCheck check;
  std::unique_ptr<rocksdb::Env> env;
  std::unique_ptr<rocksdb::BackupEngine> engine;
  std::unique_ptr<rocksdb::BackupEngineReadOnly> read_only;
};

rocksdb::BackupEngineOptions Options(const std::string& dir, rocksdb::Env* env) {
  rocksdb::BackupEngineOptions o(dir, env);
  o.share_table_files = true;
  // Table files named by their checksum and RocksDB session: a file is
  // copied once, whichever backup first needs it (incremental backups).
  o.share_files_with_checksum = true;
  o.sync = true;
  o.max_background_operations = 2;
  o.info_log = nullptr;
  return o;
}

absl::Status Rocks(const rocksdb::Status& s, const std::string& what) {
  return FromRocksStatus(s, what);
}

BackupSummary Summary(const rocksdb::BackupInfo& info) {
  BackupSummary b;
  b.id = info.backup_id;
  b.created = absl::FromUnixSeconds(info.timestamp);
  b.size_bytes = info.size;
  b.files = info.number_files;
  b.metadata = info.app_metadata;
  return b;
}

// " (but it holds ...)" if `dir`, which lists no backup, holds files: what
// a backup begun there and cut short leaves (outside probes: a listing
// after a killed backup said only that the folder held none, with 86 MiB
// of copied tables and a copy of the signing key in it), else "".
std::string CutShortRemains(const std::string& dir) {
  size_t files = 0;
  uintmax_t bytes = 0;
  std::error_code ec;
  for (std::filesystem::recursive_directory_iterator it(dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    std::error_code size_ec;
    if (!it->is_regular_file(size_ec)) continue;
    ++files;
    const uintmax_t size = it->file_size(size_ec);
    if (!size_ec) bytes += size;
  }
  if (files == 0) return "";
  return absl::StrCat(" (but it holds ", files, " file(s), ", bytes,
                      " bytes: what a backup begun there and cut short leaves, tables and "
                      "perhaps a copy of the signing key; the next backup into it removes them, "
                      "or remove them)");
}

// What an operator can put right, said before RocksDB says it as an
// internal error: a file where the folder should be, or (to read backups)
// no folder, or one no backup was ever made in.
absl::Status CheckFolder(const std::string& dir, bool to_read) {
  std::error_code ec;
  const std::filesystem::file_status st = std::filesystem::status(dir, ec);
  if (std::filesystem::exists(st) && !std::filesystem::is_directory(st)) {
    return absl::FailedPreconditionError(absl::StrCat("the backup folder ", dir,
                                                      " is a file, not a folder: name a folder "
                                                      "(backup.dir in the config, or --to)"));
  }
  // A folder a backup is written into holds the log, and may hold its
  // signing key: nobody else may be able to change it or a folder on the
  // way to it (outside probe: a folder of `nobody`'s was written into, and
  // its contents swapped after).
  if (!to_read) return CheckTrustedFolder(dir, "the backup folder");
  if (!std::filesystem::exists(st)) {
    return absl::NotFoundError(absl::StrCat("the backup folder ", dir,
                                            " does not exist: no backup was made there (check "
                                            "backup.dir in the config, or --to)"));
  }
  if (!std::filesystem::is_directory(std::filesystem::path(dir) / "meta", ec)) {
    return absl::NotFoundError(
        absl::StrCat(dir, " holds no backup (no backup was made there)", CutShortRemains(dir)));
  }
  return absl::OkStatus();
}

absl::Status OpenWritable(const std::string& dir, Engine* e) {
  EH_RETURN_IF_ERROR(CheckFolder(dir, /*to_read=*/false));
  rocksdb::BackupEngine* raw = nullptr;
  EH_RETURN_IF_ERROR(
      Rocks(rocksdb::BackupEngine::Open(Options(dir, e->env.get()), e->env.get(), &raw),
            absl::StrCat("cannot open the backup folder ", dir)));
  e->engine.reset(raw);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Engine>> OpenReadOnly(const std::string& dir) {
  EH_RETURN_IF_ERROR(CheckFolder(dir, /*to_read=*/true));
  auto e = std::make_unique<Engine>(dir);
  rocksdb::BackupEngineReadOnly* raw = nullptr;
  rocksdb::BackupEngineOptions o = Options(dir, e->env.get());
  EH_RETURN_IF_ERROR(Rocks(rocksdb::BackupEngineReadOnly::Open(o, e->env.get(), &raw),
                           absl::StrCat("cannot open the backup folder ", dir)));
  e->read_only.reset(raw);
  return e;
}

// What is wrong with backup `id`, which RocksDB could not read whole: the
// first file its description (meta/<id>: a line per file, its path first)
// lists that is missing, or the description itself.
std::string DamageOf(const std::string& dir, uint32_t id) {
  const std::filesystem::path meta = std::filesystem::path(dir) / "meta" / std::to_string(id);
  std::ifstream in(meta);
  if (!in) return absl::StrCat(meta.string(), " (its description) cannot be read");
  std::string line;
  while (std::getline(in, line)) {
    const std::string path = line.substr(0, line.find(' '));
    if (path.find('/') == std::string::npos) continue;  // a count or metadata, not a file
    std::error_code ec;
    if (!std::filesystem::exists(std::filesystem::path(dir) / path, ec)) {
      return absl::StrCat(path, ", one of its files, is missing");
    }
  }
  return absl::StrCat(meta.string(),
                      " (its description) is damaged: RocksDB cannot read it, though every "
                      "file it names is there");
}

// RocksDB's first delete in an engine collects the files no backup it could
// read refers to: those of damaged backups too (backup_engine.h,
// GarbageCollect). Refused while the folder holds any, so that what is left
// of them stays for the operator to look at.
absl::Status DeleteBackupOf(Engine& e, const std::string& dir, uint32_t id) {
  std::vector<rocksdb::BackupID> damaged;
  e.engine->GetCorruptedBackups(&damaged);
  if (!damaged.empty()) {
    std::string ids;
    for (rocksdb::BackupID d : damaged) absl::StrAppend(&ids, ids.empty() ? "" : ", ", d);
    return absl::FailedPreconditionError(absl::StrCat(
        "backup ", id, " of ", dir, " is not deleted: the folder holds damaged backups (", ids,
        "), and deleting would take what is left of their files with it; look at them "
        "(evenhand restore --list), then move them aside (their meta/<id> and private/<id>)"));
  }
  return Rocks(e.engine->DeleteBackup(id), absl::StrCat("cannot delete backup ", id, " in ", dir));
}

// The file, relative to `dir`, that RocksDB's VerifyBackup names in
// `message` ("... mismatch for <dir>/<file>: ..."); "" if none.
std::string DamagedFileIn(const std::string& message, const std::string& dir) {
  static constexpr char kFor[] = " mismatch for ";
  const size_t at = message.find(kFor);
  if (at == std::string::npos) return "";
  const size_t from = at + sizeof(kFor) - 1;
  const size_t end = message.find(": ", from);
  const std::string path =
      message.substr(from, end == std::string::npos ? std::string::npos : end - from);
  std::string prefix = std::filesystem::path(dir).lexically_normal().string();
  while (prefix.size() > 1 && prefix.back() == '/') prefix.pop_back();
  const std::string normal = std::filesystem::path(path).lexically_normal().string();
  if (normal.size() <= prefix.size() + 1 || normal.compare(0, prefix.size(), prefix) != 0 ||
      normal[prefix.size()] != '/') {
    return "";
  }
  return normal.substr(prefix.size() + 1);
}

// A shared file RocksDB's `message` names damaged, remembered as a backup
// that finds it damaged remembers it, so that listings (and their --check)
// call every backup sharing it damaged (found from outside: after a restore
// refused so, the listing still said complete). What to add to the
// message: that it is remembered, or that it could not be (a folder the
// reader may not write); "" for a file that is not shared.
std::string RememberDamage(const std::string& message, const std::string& dir) {
  const std::string named = DamagedFileIn(message, dir);
  if (!absl::StartsWith(named, "shared")) return "";
  if (internal::RememberDamagedSharedFile(dir, named)) {
    return absl::StrCat(" (", named,
                        " is remembered as damaged: listings call every backup sharing it "
                        "damaged until it is put right)");
  }
  return absl::StrCat(" (", named, " could not be remembered as damaged in ", dir,
                      ": listings will not say so)");
}

}  // namespace

absl::StatusOr<BackupFolderLock> BackupFolderLock::Take(const std::string& dir) {
  std::error_code ec;
  EH_RETURN_IF_ERROR(CheckFolder(dir, /*to_read=*/false));
  if (!std::filesystem::exists(dir, ec)) EH_RETURN_IF_ERROR(MakeOwnerOnlyDir(dir));
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open the backup folder ", dir, ": ", std::strerror(errno)));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    ::close(fd);
    if (error == EWOULDBLOCK) {
      return absl::AbortedError(absl::StrCat(
          "no backup taken: another backup into ", dir,
          " is being taken (by another server, or another process, using the same folder). "
          "Back up again when it has finished; give each log a backup folder of its own"));
    }
    return absl::InternalError(
        absl::StrCat("cannot lock the backup folder ", dir, ": ", std::strerror(error)));
  }
  return BackupFolderLock(fd);
}

BackupFolderLock::BackupFolderLock(BackupFolderLock&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)) {}

BackupFolderLock::~BackupFolderLock() {
  if (fd_ >= 0) ::close(fd_);
}

absl::StatusOr<CreatedBackup> CreateBackup(rocksdb::DB* db, const std::string& dir,
                                           const std::string& metadata, bool flush) {
  // A new folder is made owner-only; an existing one is left as its owner
  // set it (the files in it are owner-only either way).
  std::error_code ec;
  EH_RETURN_IF_ERROR(CheckFolder(dir, /*to_read=*/false));
  if (!std::filesystem::exists(dir, ec)) EH_RETURN_IF_ERROR(MakeOwnerOnlyDir(dir));
  Engine e(dir);
  if (!e.check.irregular.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no backup taken: ", e.check.irregular,
        " in the backup folder is not what a backup makes there (a link, a device or a FIFO, "
        "or a folder where a file belongs), and a backup would write, delete or wait through "
        "it. Move it aside, or back up into another folder (backup.dir)"));
  }
  EH_RETURN_IF_ERROR(OpenWritable(dir, &e));
  std::vector<rocksdb::BackupInfo> before;
  e.engine->GetBackupInfo(&before);
  uint64_t copied = 0;
  rocksdb::CreateBackupOptions create;
  // Memtables are flushed first, so the backup is mostly table files (shared
  // with the next backup) and little write-ahead log.
  create.flush_before_backup = flush;
  rocksdb::BackupID id = 0;
  EH_RETURN_IF_ERROR(Rocks(e.engine->CreateNewBackupWithMetadata(create, db, metadata, &id),
                           absl::StrCat("cannot back up into ", dir)));
  // Shared files were not copied, so not read: a damaged one in the folder
  // would go unnoticed until a restore, for this backup and every later one.
  if (rocksdb::IOStatus v = e.engine->VerifyBackup(id, /*verify_with_checksum=*/true); !v.ok()) {
    if (!v.IsCorruption() && !v.IsNotFound()) {
      return Rocks(v, absl::StrCat("backup ", id, " was taken but cannot be read back from ", dir));
    }
    // The file RocksDB names is remembered, so that listings call the
    // earlier backups that share it damaged too (they read no shared file
    // whole).
    const std::string named = DamagedFileIn(v.ToString(), dir);
    if (!named.empty()) internal::RememberDamagedSharedFile(dir, named);
    // Unrestorable: not to be counted as kept. Deleted unless that would
    // take what is left of damaged backups' files with it (DeleteBackupOf);
    // kept, it stays incomplete (its Even Hand part is never moved in).
    const absl::Status deleted = DeleteBackupOf(e, dir, id);
    return absl::DataLossError(absl::StrCat(
        "backup ", id, " was taken but does not read back whole (", v.ToString(), "): a file in ",
        dir, " that it shares with earlier backups is damaged, so they cannot be restored either",
        named.empty()
            ? ". "
            : absl::StrCat(" (they are listed as damaged until ", named, " is put right). "),
        deleted.ok() ? std::string("It was deleted again. ")
                     : absl::StrCat("It is kept, incomplete (", deleted.message(), "). "),
        "Back up into a new folder (backup.dir), and keep this one aside until you have looked "
        "at it"));
  }
  rocksdb::BackupInfo info;
  EH_RETURN_IF_ERROR(Rocks(e.engine->GetBackupInfo(id, &info, /*include_file_details=*/true),
                           "cannot read the new backup's details"));
  // Bytes this backup added to the folder: its files no earlier backup had.
  absl::flat_hash_set<std::string> had;
  for (const rocksdb::BackupInfo& b : before) {
    rocksdb::BackupInfo detailed;
    if (e.engine->GetBackupInfo(b.backup_id, &detailed, true).ok()) {
      for (const auto& f : detailed.file_details) had.insert(f.relative_filename);
    }
  }
  for (const auto& f : info.file_details) {
    if (!had.contains(f.relative_filename)) copied += f.size;
  }
  CreatedBackup created;
  created.backup = Summary(info);
  created.copied_bytes = copied;
  return created;
}

absl::Status DeleteBackup(const std::string& dir, uint32_t id) {
  Engine e(dir);
  EH_RETURN_IF_ERROR(OpenWritable(dir, &e));
  return DeleteBackupOf(e, dir, id);
}

absl::StatusOr<std::vector<BackupSummary>> ListBackups(const std::string& dir,
                                                       std::string* irregular) {
  EH_ASSIGN_OR_RETURN(std::unique_ptr<Engine> e, OpenReadOnly(dir));
  if (irregular != nullptr) *irregular = e->check.irregular;
  std::vector<rocksdb::BackupInfo> infos;
  e->read_only->GetBackupInfo(&infos);
  // RocksDB leaves out of GetBackupInfo a backup it cannot read whole: listed
  // too, so that it is not taken for absent (and an older one restored in
  // its place without a word).
  std::vector<rocksdb::BackupID> corrupted;
  e->read_only->GetCorruptedBackups(&corrupted);
  if (infos.empty() && corrupted.empty()) {
    return absl::NotFoundError(absl::StrCat(dir, " holds no backup", CutShortRemains(dir)));
  }
  std::vector<BackupSummary> out;
  for (const auto& info : infos) {
    out.push_back(Summary(info));
    // RocksDB read its description, but a file it lists is not the one
    // recorded: damaged, though only a restore would have said so.
    if (auto it = e->check.damage.find(info.backup_id); it != e->check.damage.end()) {
      out.back().damage = it->second;
    }
  }
  for (rocksdb::BackupID id : corrupted) {
    BackupSummary b;
    b.id = id;
    // When it was taken, and what the caller stored with it, as its
    // description says: a damaged backup is still told apart from the rest.
    int64_t created = 0;
    if (internal::ReadDescriptionHeader(dir, id, &created, &b.metadata) && created > 0) {
      b.created = absl::FromUnixSeconds(created);
    }
    auto it = e->check.damage.find(id);
    b.damage = it != e->check.damage.end() ? it->second : DamageOf(dir, id);
    out.push_back(std::move(b));
  }
  std::sort(out.begin(), out.end(),
            [](const BackupSummary& a, const BackupSummary& b) { return a.id < b.id; });
  return out;
}

absl::Status VerifyBackupFiles(const std::string& dir, uint32_t id) {
  EH_ASSIGN_OR_RETURN(std::unique_ptr<Engine> e, OpenReadOnly(dir));
  rocksdb::IOStatus s = e->read_only->VerifyBackup(id, /*verify_with_checksum=*/true);
  if (s.ok()) return absl::OkStatus();
  if (s.IsNotFound()) {
    return absl::NotFoundError(absl::StrCat("backup ", id, " is not in ", dir, ": ", s.ToString()));
  }
  return absl::DataLossError(absl::StrCat("backup ", id, " in ", dir,
                                          " is damaged: its files are not those recorded when it "
                                          "was taken: ",
                                          s.ToString(), RememberDamage(s.ToString(), dir)));
}

absl::Status RestoreBackup(const std::string& dir, uint32_t id, const std::string& data_dir) {
  EH_ASSIGN_OR_RETURN(std::unique_ptr<Engine> e, OpenReadOnly(dir));
  EH_RETURN_IF_ERROR(MakeOwnerOnlyDir(data_dir));
  rocksdb::IOStatus s =
      e->read_only->RestoreDBFromBackup(rocksdb::RestoreOptions(), id, data_dir, data_dir);
  if (s.ok()) return absl::OkStatus();
  if (s.IsCorruption()) {
    return absl::DataLossError(absl::StrCat("backup ", id, " in ", dir,
                                            " is damaged (a file's checksum differs from the one "
                                            "recorded when it was taken): ",
                                            s.ToString(), RememberDamage(s.ToString(), dir)));
  }
  return Rocks(s, absl::StrCat("cannot restore backup ", id, " of ", dir, " into ", data_dir));
}

absl::StatusOr<BackupView> ViewBackup(const std::string& dir, uint32_t id) {
  EH_ASSIGN_OR_RETURN(std::unique_ptr<Engine> e, OpenReadOnly(dir));
  rocksdb::BackupInfo info;
  EH_RETURN_IF_ERROR(Rocks(e->read_only->GetBackupInfo(id, &info, /*include_file_details=*/true),
                           absl::StrCat("cannot read backup ", id, " of ", dir)));
  if (info.env_for_open == nullptr || info.name_for_open.empty()) {
    return absl::UnimplementedError("RocksDB cannot open this backup where it lies");
  }
  BackupView view;
  view.db_dir = info.name_for_open;
  view.env = info.env_for_open;
  view.file_system = info.env_for_open->GetFileSystem();
  return view;
}

namespace {

// Whether `dir` holds a RocksDB MANIFEST-* (a database RocksDB has not yet
// opened, such as a data folder just restored, has no IDENTITY).
bool HasManifest(const std::filesystem::path& dir) {
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().filename().string().rfind("MANIFEST-", 0) == 0) return true;
  }
  return false;
}

}  // namespace

absl::Status CheckNotInsideAStoresFolder(const std::string& path, absl::string_view what) {
  namespace fs = std::filesystem;
  std::error_code ec;
  auto is_dir = [&ec](const fs::path& p) { return fs::is_directory(p, ec); };
  auto is_file = [&ec](const fs::path& p) { return fs::is_regular_file(p, ec); };
  // What a backup folder holds of its own; anything else in it (another
  // backup folder beside them, say "weekly/") is the operator's.
  static constexpr const char* kParts[] = {"meta",   "private",  "shared_checksum",
                                           "shared", "evenhand", "damaged-shared-files"};
  std::vector<fs::path> ways = {fs::absolute(path, ec).lexically_normal()};
  if (fs::path resolved = fs::weakly_canonical(path, ec); !ec && resolved != ways.front()) {
    ways.push_back(resolved);
  }
  for (fs::path way : ways) {
    if (!way.has_filename()) way = way.parent_path();  // "dir/"
    for (fs::path below = way, at = way.parent_path(); !at.empty() && below != at;
         below = at, at = at.parent_path()) {
      const bool backup =
          is_dir(at / "meta") && (is_dir(at / "shared_checksum") || is_dir(at / "private"));
      const std::string part = below.filename().string();
      if (backup && std::find(std::begin(kParts), std::end(kParts), part) != std::end(kParts)) {
        return absl::InvalidArgumentError(absl::StrCat(
            what, " ", path, " lies inside the backup folder ", at.string(), "'s ", part,
            "/, which is the backups' own (a backup's retention deletes it whole, and a backup "
            "refuses a folder holding what it did not make there): name that folder itself, or "
            "one beside its parts"));
      }
      if (is_file(at / "CURRENT") && (is_file(at / "IDENTITY") || HasManifest(at))) {
        return absl::InvalidArgumentError(
            absl::StrCat(what, " ", path, " lies inside the database folder ", at.string(),
                         " (a data folder, or a part of one): choose a folder of its own, apart "
                         "from every data folder"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace evenhand::storage
