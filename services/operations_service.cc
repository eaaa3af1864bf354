#include "services/operations_service.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/grpc_status.h"
#include "base/logging.h"
#include "base/status_macros.h"
#include "base/time_util.h"
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

absl::Status WriteOwnerOnly(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  ::chmod(path.c_str(), 0600);
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
  std::error_code ec;
  const fs::path normal = fs::weakly_canonical(dir, ec);
  const fs::path data = fs::weakly_canonical(options_.data_dir, ec);
  const fs::path root = fs::weakly_canonical(options_.backup_dir, ec);
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
  return normal.string();
}

grpc::Status OperationsService::Backup(grpc::ServerContext* context,
                                       const v1::BackupRequest* request, v1::BackupInfo* response) {
  absl::StatusOr<auth::Grant> grant = options_.gate->Admit(*context, kBackup, *request);
  if (!grant.ok()) return ToGrpcStatus(grant.status());
  absl::StatusOr<std::string> dir = Folder(request->to());
  if (!dir.ok()) return ToGrpcStatus(dir.status());
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
  // A folder holds one log's backups: retention must never delete another
  // log's, and restore's "the newest" must be of this log.
  if (absl::StatusOr<v1::ListBackupsResponse> existing = integrity::ReadBackupFolder(dir);
      existing.ok()) {
    for (const v1::BackupInfo& b : existing->backups()) {
      if (b.has_manifest() && b.manifest().log_id() != store_->log_id()) {
        return absl::FailedPreconditionError(absl::StrCat(
            "backup folder ", dir, " holds backups of another log (", b.manifest().log_id(),
            ", backup ", b.backup_id(), "); this log is ", store_->log_id(),
            ": give each log a backup folder of its own"));
      }
    }
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
  }
  const std::string manifest_json = integrity::ManifestJson(manifest);
  EH_RETURN_IF_ERROR(WriteOwnerOnly(pending + "/manifest.json", manifest_json));

  EH_ASSIGN_OR_RETURN(storage::CreatedBackup created,
                      storage::CreateBackup(store_->db(), dir, manifest_json, options_.keep_backups,
                                            /*flush=*/!store_->write_state().read_only));
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
  for (uint32_t purged : created.purged)
    fs::remove_all(integrity::BackupExtrasDir(dir, purged), ec);

  info->set_dir(dir);
  info->set_backup_id(created.backup.id);
  *info->mutable_manifest() = manifest;
  info->set_size_bytes(created.backup.size_bytes);
  info->set_copied_bytes(created.copied_bytes);
  info->set_files(created.backup.files);
  for (uint32_t purged : created.purged) info->add_purged_backup_ids(purged);
  info->set_duration_ms(absl::ToInt64Milliseconds(absl::Now() - wall_started));
  info->set_complete(true);
  logging::Info(
      kComponent,
      absl::StrCat("backup ", created.backup.id, " taken in ", dir, ": checkpoint of tree size ",
                   checkpoint.checkpoint().tree_size(), ", ", created.backup.size_bytes, " bytes (",
                   created.copied_bytes, " new) in ", info->duration_ms(),
                   " ms (signing the checkpoint: ", absl::ToInt64Milliseconds(signing), " ms)",
                   created.purged.empty()
                       ? std::string()
                       : absl::StrCat("; deleted ", created.purged.size(),
                                      " older backups (backup.keep=", options_.keep_backups, ")")));
  return absl::OkStatus();
}

grpc::Status OperationsService::ListBackups(grpc::ServerContext* context,
                                            const v1::ListBackupsRequest* request,
                                            v1::ListBackupsResponse* response) {
  absl::StatusOr<auth::Grant> grant = options_.gate->Admit(*context, kListBackups, *request);
  if (!grant.ok()) return ToGrpcStatus(grant.status());
  absl::StatusOr<std::string> dir = Folder(request->dir());
  if (!dir.ok()) return ToGrpcStatus(dir.status());
  absl::StatusOr<v1::ListBackupsResponse> listed = integrity::ReadBackupFolder(*dir);
  if (!listed.ok()) return ToGrpcStatus(listed.status());
  *response = *std::move(listed);
  return grpc::Status::OK;
}

}  // namespace evenhand::services
