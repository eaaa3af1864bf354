// OperationsService: online backups (proto/evenhand/v1/operations.proto).
//
// A backup is taken in three steps, one backup at a time:
//   1. a checkpoint of the tree as it stands is signed (so it covers every
//      event acknowledged before the call), and the journal up to it and
//      the signing key are written to "<dir>/evenhand/pending";
//   2. RocksDB's BackupEngine copies the log's files while appends go on
//      (storage/backup.h), with the manifest (the checkpoint, the public
//      key) as the backup's metadata;
//   3. "pending" becomes "<dir>/evenhand/<backup id>", and backups beyond
//      backup.keep are deleted with their Even Hand part.
// A backup without its "<dir>/evenhand/<id>" folder (a crash between 2 and
// 3) is listed as incomplete and refused by `evenhand restore`. The folder's
// layout is integrity/backups.h's.
//
// Sync API (a backup is a long, rare call). Thread-safe; `store` and
// `integrity` must outlive the service.
#ifndef EVENHAND_SERVICES_OPERATIONS_SERVICE_H_
#define EVENHAND_SERVICES_OPERATIONS_SERVICE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "evenhand/v1/operations.grpc.pb.h"
#include "integrity/integrity_log.h"
#include "services/auth/call_gate.h"
#include "storage/event_store.h"

namespace evenhand::services {

struct OperationsOptions {
  std::string data_dir;
  // Where the signing key is (copied into backups unless excluded).
  std::string signing_key_file;
  // backup.dir and backup.keep (ServerConfig).
  std::string backup_dir;
  uint32_t keep_backups = 7;
  // backup.excludeSigningKey.
  bool exclude_signing_key = false;
  // Folders a client names must lie within backup_dir (off only in local
  // mode, where every caller is on this machine already).
  bool confine_to_backup_dir = true;
  std::string server_version;
  auth::CallGate* gate = nullptr;
  std::function<absl::Time()> clock = [] { return absl::Now(); };
};

class OperationsService final : public v1::Operations::Service {
 public:
  OperationsService(storage::EventStore* store, integrity::IntegrityLog* integrity,
                    OperationsOptions options);

  grpc::Status Backup(grpc::ServerContext* context, const v1::BackupRequest* request,
                      v1::BackupInfo* response) override;
  grpc::Status ListBackups(grpc::ServerContext* context, const v1::ListBackupsRequest* request,
                           v1::ListBackupsResponse* response) override;

 private:
  absl::StatusOr<std::string> Folder(const std::string& asked) const;
  // `why` Folder() refused, recorded and counted if it is the policy's
  // (PERMISSION_DENIED: outside backup.dir); returned as it is.
  absl::Status RefusedFolder(const auth::Grant& grant, absl::string_view method,
                             const google::protobuf::Message& request, absl::Status why) const;
  // After backup `just_taken` is complete: deletes what backup.keep no
  // longer keeps (see the .cc); the ids deleted. Failures are logged, not
  // returned; `not_pruned` says why nothing was deleted when a damaged
  // backup holds retention back.
  std::vector<uint32_t> Prune(const std::string& dir, uint32_t just_taken, std::string* not_pruned);
  absl::Status TakeBackup(const std::string& dir, bool exclude_key, v1::BackupInfo* info)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(backup_mu_);

  storage::EventStore* const store_;
  integrity::IntegrityLog* const integrity_;
  const OperationsOptions options_;
  absl::Mutex backup_mu_;
};

}  // namespace evenhand::services

#endif  // EVENHAND_SERVICES_OPERATIONS_SERVICE_H_
