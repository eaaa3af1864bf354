#include "services/operations_service.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/grpc_status.h"
#include "base/logging.h"
#include "base/small_file.h"
#include "base/status_macros.h"
#include "base/time_util.h"
#include "integrity/backup_seal.h"
#include "integrity/backups.h"
#include "integrity/checkpoint_journal.h"
#include "storage/backup.h"
#include "storage/rocksdb_support.h"

namespace evenhand::services {
namespace fs = std::filesystem;
namespace {

constexpr char kComponent[] = "operations";
constexpr char kBackup[] = "evenhand.v1.Operations/Backup";
constexpr char kListBackups[] = "evenhand.v1.Operations/ListBackups";

absl::Status Errno(const std::string& what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

// Makes a file's bytes, or a folder's names, durable: a backup answered OK
// must survive a power cut that follows it.
absl::Status SyncPath(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno(absl::StrCat("cannot open ", path, " to sync it"));
  const int r = ::fsync(fd);
  const int saved = errno;
  ::close(fd);
  errno = saved;
  return r == 0 ? absl::OkStatus() : Errno(absl::StrCat("cannot sync ", path));
}

absl::Status WriteOwnerOnly(const std::string& path, const std::string& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Errno(absl::StrCat("cannot write ", path));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const absl::Status error = Errno(absl::StrCat("cannot write ", path));
      ::close(fd);
      return error;
    }
    done += static_cast<size_t>(n);
  }
  if (::fchmod(fd, 0600) != 0 || ::fsync(fd) != 0) {
    const absl::Status error = Errno(absl::StrCat("cannot write ", path));
    ::close(fd);
    return error;
  }
  if (::close(fd) != 0) return Errno(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

bool Within(const fs::path& inner, const fs::path& outer) {
  auto o = outer.begin(), i = inner.begin();
  for (; o != outer.end(); ++o, ++i) {
    if (i == inner.end() || *o != *i) return false;
  }
  return true;
}

}  // namespace

OperationsService::OperationsService(storage::EventStore* store, integrity::IntegrityLog* integrity,
                                     OperationsOptions options)
    : store_(store), integrity_(integrity), options_(std::move(options)) {}

absl::StatusOr<std::string> OperationsService::Folder(const std::string& asked) const {
  const std::string dir = asked.empty() ? options_.backup_dir : asked;
  if (!fs::path(dir).is_absolute()) {
    return absl::InvalidArgumentError(
        absl::StrCat("backup folder \"", dir,
                     "\" is not an absolute path: it names a folder on the "
                     "server's machine, so give it in full (e.g. /var/lib/evenhand/backups)"));
  }
  // A path that cannot be resolved (a parent folder the server may not
  // read, a stale mount) is refused: unresolved, it would compare as empty,
  // and an empty root holds every folder.
  std::error_code ec;
  auto resolve = [&ec](const std::string& path, const char* what) -> absl::StatusOr<fs::path> {
    fs::path resolved = fs::weakly_canonical(path, ec);
    if (ec || resolved.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot resolve ", what, " ", path, ": ", ec ? ec.message() : std::string("empty path"),
          "; check that the server may read every folder on its way"));
    }
    return resolved;
  };
  EH_ASSIGN_OR_RETURN(const fs::path normal, resolve(dir, "the backup folder"));
  EH_ASSIGN_OR_RETURN(const fs::path data, resolve(options_.data_dir, "the data folder"));
  fs::path root;
  if (options_.confine_to_backup_dir) {
    EH_ASSIGN_OR_RETURN(root,
                        resolve(options_.backup_dir, "the server's backup folder (backup.dir)"));
  }
  if (options_.confine_to_backup_dir && !Within(normal, root)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "backup folder ", dir, " is outside the server's backup folder ", root.string(),
        " (backup.dir): with TLS, backups are written and listed only there. Name a folder "
        "inside it, or change backup.dir in the server's config"));
  }
  // The Even Hand part of the folder must be a folder of its own, not a
  // link elsewhere.
  if (fs::is_symlink(normal / "evenhand", ec)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "backup folder ", dir, " holds a symbolic link \"evenhand\": refusing to follow it"));
  }
  if (Within(normal, data) || Within(data, normal)) {
    return absl::InvalidArgumentError(
        absl::StrCat("backup folder ", dir, " is inside the data folder ", options_.data_dir,
                     " (or holds it): a backup must live apart from what it backs up, ideally on "
                     "another disk"));
  }
  // Nor inside another backup folder's parts (found from outside: a backup
  // into evenhand/1/y of backup.dir was deleted with backup 1 by
  // retention, one into shared_checksum/ refused every later backup there)
  // or another data folder.
  EH_RETURN_IF_ERROR(storage::CheckNotInsideAStoresFolder(dir, "backup folder"));
  if (fs::exists(normal, ec) && !fs::is_directory(normal, ec)) {
    return absl::FailedPreconditionError(absl::StrCat("the backup folder ", dir,
                                                      " is a file, not a folder: name a folder "
                                                      "(backup.dir in the config, or --to)"));
  }
  return normal.string();
}

absl::Status OperationsService::RefusedFolder(const auth::Grant& grant, absl::string_view method,
                                              const google::protobuf::Message& request,
                                              absl::Status why) const {
  // A folder outside backup.dir is the policy's refusal (docs/SECURITY.md):
  // on the record, as the Authorizer's are. A path that is wrong is not.
  if (absl::IsPermissionDenied(why)) options_.gate->Refused(grant, method, request, why);
  return why;
}

grpc::Status OperationsService::Backup(grpc::ServerContext* context,
                                       const v1::BackupRequest* request, v1::BackupInfo* response) {
  absl::StatusOr<auth::Grant> grant = options_.gate->Admit(*context, kBackup, *request);
  if (!grant.ok()) return ToGrpcStatus(grant.status());
  absl::StatusOr<std::string> dir = Folder(request->to());
  if (!dir.ok()) return ToGrpcStatus(RefusedFolder(*grant, kBackup, *request, dir.status()));
  // A backup copies every event: it is a read of the whole log, and goes on
  // the record like one.
  if (absl::Status s = options_.gate->Record(*grant, kBackup, *request, store_->LastPosition(),
                                             absl::StrCat("backup to ", *dir));
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::MutexLock lock(&backup_mu_);
  absl::Status s = TakeBackup(
      *dir, request->exclude_signing_key() || options_.exclude_signing_key, response);
  if (!s.ok()) {
    logging::Error(kComponent, absl::StrCat("backup to ", *dir, " failed: ", s.ToString()));
    return ToGrpcStatus(s);
  }
  return grpc::Status::OK;
}

absl::Status OperationsService::TakeBackup(const std::string& dir, bool exclude_key,
                                           v1::BackupInfo* info) {
  // Held until the backup is taken, moved into place and pruned.
  EH_ASSIGN_OR_RETURN(storage::BackupFolderLock folder_lock, storage::BackupFolderLock::Take(dir));
  // A folder holds one log's backups: retention must never delete another
  // log's, and restore's "the newest" must be of this log.
  if (absl::StatusOr<v1::ListBackupsResponse> existing = integrity::ReadBackupFolder(dir);
      existing.ok()) {
    for (const v1::BackupInfo& b : existing->backups()) {
      // A backup whose description's manifest is damaged or gone is still
      // its log's: its Even Hand part names it (re-probe).
      const std::string log_id =
          b.has_manifest() ? b.manifest().log_id() : integrity::LogIdOfExtras(dir, b.backup_id());
      if (!log_id.empty() && log_id != store_->log_id()) {
        return absl::FailedPreconditionError(
            absl::StrCat("backup folder ", dir, " holds backups of another log (", log_id,
                         ", backup ", b.backup_id(), "); this log is ", store_->log_id(),
                         ": give each log a backup folder of its own"));
      }
    }
  }
  // RocksDB numbers a new backup one past its highest description: a
  // backup that lost its description above that would have its id taken,
  // and what is left of it written over.
  if (const std::vector<uint32_t> lost = integrity::BackupsWithoutDescription(dir); !lost.empty()) {
    std::error_code ec;
    uint32_t highest = 0;
    for (const auto& entry : fs::directory_iterator(fs::path(dir) / "meta", ec)) {
      const std::string name = entry.path().filename().string();
      uint32_t id = 0;
      if (absl::SimpleAtoi(name, &id) && name == std::to_string(id))
        highest = std::max(highest, id);
    }
    if (lost.back() > highest) {
      return absl::FailedPreconditionError(absl::StrCat(
          "no backup taken: backup ", lost.back(), " in ", dir, " has lost its description (meta/",
          lost.back(), ") though its Even Hand part (evenhand/", lost.back(),
          ") is there, and the next backup would take its id and write over what is left of it. "
          "Move ",
          dir, "/evenhand/", lost.back(), " and ", dir, "/private/", lost.back(),
          " aside (or back up into another folder), then back up again"));
    }
  }
  // The folder's id is made once, by its first backup, and never again
  // while seals name one: a new id would leave every earlier backup
  // DAMAGED, and another folder's id would let its backups pass for these.
  // Read once: the seal names the id as it was here, whatever happens to
  // the file while the backup runs.
  EH_ASSIGN_OR_RETURN(const std::string folder_id, integrity::FolderIdForBackup(dir));
  // A backup copies the log's files as they are: one damaged on disk would
  // be copied into a backup that no restore accepts, reported taken (and
  // counted by retention against the good ones). Damage already found
  // refuses at once; the rest is looked for by reading every table file.
  if (const std::vector<std::string> found = store_->damage_found(); !found.empty()) {
    return absl::DataLossError(absl::StrCat(
        "no backup taken: the log is damaged (", found.front(),
        found.size() > 1 ? absl::StrCat("; and ", found.size() - 1, " more") : std::string(),
        "), so a backup of it could not be restored. Keep the backups you have (none was "
        "deleted), and restore the log from the newest complete one (evenhand restore --list)"));
  }
  if (absl::Status files = store_->VerifyFiles(); !files.ok()) {
    return absl::Status(
        files.code(),
        absl::StrCat("no backup taken: ", files.message(),
                     absl::IsDataLoss(files) ? "; the backups you have are kept" : ""));
  }
  const absl::Time started = options_.clock();
  const absl::Time wall_started = absl::Now();
  v1::BackupManifest manifest;
  manifest.set_format_version(integrity::kBackupFormatVersion);
  manifest.set_log_id(store_->log_id());
  manifest.set_server_version(options_.server_version);
  *manifest.mutable_started_at() = ToProtoTime(started);
  // Everything acknowledged so far is under this checkpoint, and so in the
  // copy, which begins after it.
  EH_ASSIGN_OR_RETURN(v1::SignedCheckpoint checkpoint, integrity_->CheckpointNow());
  const absl::Duration signing = absl::Now() - wall_started;
  manifest.set_last_position(store_->LastPosition());
  *manifest.mutable_checkpoint() = checkpoint;
  *manifest.mutable_public_key() = integrity_->public_key();
  manifest.set_signing_key_included(!exclude_key);

  // The Even Hand part, written first into "pending".
  const std::string pending = integrity::BackupExtrasDir(dir, 0);
  std::error_code ec;
  fs::remove_all(pending, ec);
  // evenhand/ too (create_directories made it with the umask's mode).
  EH_RETURN_IF_ERROR(storage::MakeOwnerOnlyDir(fs::path(pending).parent_path().string()));
  EH_RETURN_IF_ERROR(storage::MakeOwnerOnlyDir(pending));
  EH_ASSIGN_OR_RETURN(std::vector<v1::SignedCheckpoint> signed_so_far, integrity_->Checkpoints());
  std::string journal;
  uint64_t journal_checkpoints = 0;
  for (const v1::SignedCheckpoint& c : signed_so_far) {
    if (c.checkpoint().tree_size() > checkpoint.checkpoint().tree_size()) break;
    journal += integrity::CheckpointJournal::Line(c);
    ++journal_checkpoints;
  }
  manifest.set_journal_checkpoints(journal_checkpoints);
  manifest.set_journal_sha256(integrity::JournalDigest(journal));
  EH_ASSIGN_OR_RETURN(std::string signature,
                      integrity_->SignBackupStatement(integrity::BackupStatement(manifest)));
  manifest.set_signature(std::move(signature));
  EH_RETURN_IF_ERROR(WriteOwnerOnly(pending + "/checkpoints.jsonl", journal));
  if (!exclude_key) {
    fs::copy_file(options_.signing_key_file, pending + "/signing-key.pem",
                  fs::copy_options::overwrite_existing, ec);
    if (ec) {
      return absl::InternalError(absl::StrCat("cannot copy the signing key ",
                                              options_.signing_key_file,
                                              " into the backup: ", ec.message()));
    }
    ::chmod((pending + "/signing-key.pem").c_str(), 0600);
    EH_RETURN_IF_ERROR(SyncPath(pending + "/signing-key.pem"));
  }
  const std::string manifest_json = integrity::ManifestJson(manifest);
  EH_RETURN_IF_ERROR(WriteOwnerOnly(pending + "/manifest.json", manifest_json));
  EH_RETURN_IF_ERROR(SyncPath(pending));

  absl::StatusOr<storage::CreatedBackup> taken = storage::CreateBackup(
      store_->db(), dir, manifest_json, /*flush=*/!store_->write_state().read_only);
  if (!taken.ok()) {
    // Not left until the next backup (it holds a copy of the signing key).
    fs::remove_all(pending, ec);
    return taken.status();
  }
  const storage::CreatedBackup& created = *taken;
  // The seal ties the signed manifest to this backup's id and description,
  // which RocksDB has only now given it (integrity/backups.h).
  std::string description;
  if (!ReadSmallRegularFile(absl::StrCat(dir, "/meta/", created.backup.id), 64 << 20,
                            &description)) {
    return absl::InternalError(
        absl::StrCat("backup ", created.backup.id, " was copied but its description (", dir,
                     "/meta/", created.backup.id,
                     ") cannot be read back to seal it; it is incomplete and will not be "
                     "restored"));
  }
  const std::string seal =
      integrity::BackupSealStatement(store_->log_id(), folder_id, created.backup.id, description);
  EH_ASSIGN_OR_RETURN(std::string seal_signature, integrity_->SignBackupStatement(seal));
  EH_RETURN_IF_ERROR(
      WriteOwnerOnly(pending + "/seal", integrity::BackupSealFile(seal, seal_signature)));
  EH_RETURN_IF_ERROR(SyncPath(pending));
  const std::string extras = integrity::BackupExtrasDir(dir, created.backup.id);
  fs::remove_all(extras, ec);
  fs::rename(pending, extras, ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("backup ", created.backup.id,
                                            " was copied but its Even Hand part cannot be moved "
                                            "into place (",
                                            pending, " -> ", extras, "): ", ec.message(),
                                            "; it is incomplete and will not be restored"));
  }
  // The move is durable before the backup is called complete.
  EH_RETURN_IF_ERROR(SyncPath(dir + "/evenhand"));
  std::string not_pruned;
  const std::vector<uint32_t> purged = Prune(dir, created.backup.id, &not_pruned);

  info->set_dir(dir);
  info->set_backup_id(created.backup.id);
  *info->mutable_manifest() = manifest;
  info->set_size_bytes(created.backup.size_bytes);
  info->set_copied_bytes(created.copied_bytes);
  info->set_files(created.backup.files);
  for (uint32_t id : purged) info->add_purged_backup_ids(id);
  info->set_not_pruned(not_pruned);
  info->set_duration_ms(absl::ToInt64Milliseconds(absl::Now() - wall_started));
  info->set_complete(true);
  logging::Info(
      kComponent,
      absl::StrCat("backup ", created.backup.id, " taken in ", dir, ": checkpoint of tree size ",
                   checkpoint.checkpoint().tree_size(), ", ", created.backup.size_bytes, " bytes (",
                   created.copied_bytes, " new) in ", info->duration_ms(),
                   " ms (signing the checkpoint: ", absl::ToInt64Milliseconds(signing), " ms)",
                   purged.empty()
                       ? std::string()
                       : absl::StrCat("; deleted ", purged.size() == 1 ? "backup " : "backups ",
                                      absl::StrJoin(purged, ", "),
                                      " (beyond the newest complete ones backup.keep=",
                                      options_.keep_backups, " keeps, or incomplete)")));
  return absl::OkStatus();
}

std::vector<uint32_t> OperationsService::Prune(const std::string& dir, uint32_t just_taken,
                                               std::string* not_pruned) {
  std::vector<uint32_t> purged;
  if (options_.keep_backups == 0) return purged;
  absl::StatusOr<v1::ListBackupsResponse> listed = integrity::ReadBackupFolder(dir);
  if (!listed.ok()) {
    logging::Error(kComponent,
                   absl::StrCat("backups in ", dir, " not pruned: ", listed.status().ToString()));
    return purged;
  }
  // Nothing is deleted while the folder holds a damaged backup: the older
  // ones may be what is left to restore (and RocksDB's delete would take
  // what is left of a damaged one's files with it).
  for (const v1::BackupInfo& b : listed->backups()) {
    if (b.damage().empty()) continue;
    *not_pruned = absl::StrCat("backup ", b.backup_id(), " in the folder is damaged (", b.damage(),
                               "): look at it (evenhand restore --list), then move it aside");
    logging::Error(kComponent, absl::StrCat("backups in ", dir, " not pruned (backup.keep=",
                                            options_.keep_backups, "): ", *not_pruned));
    return purged;
  }
  // The newest `keep` complete backups stay. Older ones go, and so does
  // every incomplete one (its Even Hand part never arrived: it can never be
  // restored). Counted among those kept, failed backups night after night
  // would delete every good one.
  // Only what is known for sure: a backup whose manifest does not parse
  // (a newer format, say) or whose Even Hand part cannot be looked at (a
  // share that failed to answer) is left alone, and so is the new one.
  uint32_t kept = 0;
  std::vector<uint32_t> doomed;
  for (int i = listed->backups_size() - 1; i >= 0; --i) {  // newest first
    const v1::BackupInfo& b = listed->backups(i);
    if (b.backup_id() == just_taken) {
      ++kept;
      continue;
    }
    if (!b.has_manifest() || b.manifest().log_id() != store_->log_id()) continue;
    if (b.complete()) {
      if (kept < options_.keep_backups) {
        ++kept;
        continue;
      }
    } else {
      std::error_code ec;
      const bool absent =
          !fs::exists(integrity::BackupExtrasDir(dir, b.backup_id()) + "/checkpoints.jsonl", ec);
      if (ec || !absent) continue;
    }
    doomed.push_back(b.backup_id());
  }
  std::sort(doomed.begin(), doomed.end());
  for (uint32_t id : doomed) {
    // The Even Hand part first: stopped between the two, what is left is an
    // incomplete backup (deleted next time), never an Even Hand part whose
    // RocksDB backup is gone (listed damaged).
    std::error_code ec;
    fs::remove_all(integrity::BackupExtrasDir(dir, id), ec);
    if (absl::Status s = storage::DeleteBackup(dir, id); !s.ok()) {
      // The new backup is taken and complete; the next one prunes again.
      logging::Error(kComponent,
                     absl::StrCat("backup ", id, " in ", dir, " not deleted: ", s.ToString()));
      continue;
    }
    purged.push_back(id);
  }
  return purged;
}

grpc::Status OperationsService::ListBackups(grpc::ServerContext* context,
                                            const v1::ListBackupsRequest* request,
                                            v1::ListBackupsResponse* response) {
  absl::StatusOr<auth::Grant> grant = options_.gate->Admit(*context, kListBackups, *request);
  if (!grant.ok()) return ToGrpcStatus(grant.status());
  absl::StatusOr<std::string> dir = Folder(request->dir());
  if (!dir.ok()) return ToGrpcStatus(RefusedFolder(*grant, kListBackups, *request, dir.status()));
  absl::StatusOr<v1::ListBackupsResponse> listed = integrity::ReadBackupFolder(*dir);
  if (!listed.ok()) return ToGrpcStatus(listed.status());
  *response = *std::move(listed);
  return grpc::Status::OK;
}

}  // namespace evenhand::services
