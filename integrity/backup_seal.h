// A backup folder's id and each backup's seal: what ties a backup's signed
// manifest to this backup of this folder (integrity/backups.h has the
// folder's layout). This module knows the seal's text, how the folder's id
// is made and read, and how a seal is checked; it does not list backups or
// restore them (backups.h), nor take them (services/operations_service).
#ifndef EVENHAND_INTEGRITY_BACKUP_SEAL_H_
#define EVENHAND_INTEGRITY_BACKUP_SEAL_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "evenhand/v1/operations.pb.h"

namespace evenhand::integrity {

// A backup's seal, `dir`/evenhand/<id>/seal, written once RocksDB has
// given the backup its id and description: it ties the signed manifest to
// this backup of this folder, so that another backup's manifest and
// journal (each signed, each genuine), or another folder's backup of the
// same id, cannot be put in its place. Five lines, each ending in LF, then
// the signature (Ed25519, with the log's key, base64) on a sixth:
//   evenhand backup seal v1
//   log <log id>
//   folder <the folder's id: BackupFolderId>
//   backup <id, decimal>
//   description <SHA-256 of `dir`/meta/<id> as written, lowercase hex>
//   signature <base64>
// The description holds the manifest (with its signature) and every file
// of the backup with its checksum.
std::string BackupSealStatement(absl::string_view log_id, absl::string_view folder_id, uint32_t id,
                                absl::string_view description);

// The id of the backup folder `dir` (`dir`/evenhand/folder: a UUID in
// lowercase, as its first backup made it), "" if it has none or it cannot
// be read (it is never read through a link, nor waited on).
std::string BackupFolderId(const std::string& dir);
// For the one taking a backup, holding the folder: the id its seal is to
// name, read once (a file changed while the backup runs changes nothing of
// it), and made (owner-only, never through a link) if the folder has none
// and no backup in it is sealed. FailedPrecondition, saying why and what
// to do, while BackupFolderIdProblem says something.
absl::StatusOr<std::string> FolderIdForBackup(const std::string& dir);
// The seal file: the statement, then "signature <base64>\n".
std::string BackupSealFile(absl::string_view statement, absl::string_view signature);
// OK if `dir`/evenhand/<id>/seal is this backup's: its statement names the
// manifest's log, `folder_id`, `id` and the description as it is now,
// and its signature verifies with the manifest's key. DataLoss saying what differs otherwise
// (or that it is missing or not a seal).
// `folder_id` is BackupFolderId(dir), read once by the caller for the whole
// folder.
absl::Status VerifyBackupSeal(const std::string& dir, absl::string_view folder_id, uint32_t id,
                              const v1::BackupManifest& manifest);

// For a backup whose manifest cannot be read (none in its description, or
// one of a later format): DataLoss if it has a seal whose description line
// is not the description there now (a sealed backup's description was
// changed: its manifest removed or replaced), or a seal that is not one.
// OK if it has none (a backup not taken by evenhand backup, or by an older
// one) or the seal's description is the one there: the signature is not
// checked (the key is in the manifest).
absl::Status CheckSealedDescription(const std::string& dir, uint32_t id);

// What is wrong with the folder's id, "" if nothing: evenhand/folder is
// there but not an id (not a regular file, a link, more than a UUID and
// LF), or it is missing though backups are sealed naming one, or the seals
// name an id other than it (it was replaced, by another folder's say, or
// another folder's backups were put here). Each seal's folder line is
// read, not verified (a listing verifies each backup's seal). A backup is
// never taken while this says something: a new id would leave every
// earlier backup DAMAGED for good, and a new seal under another folder's
// id would make that folder's backups pass for this one's.
// `id`, if given, is set to the folder's id as read for this (as
// BackupFolderId says).
std::string BackupFolderIdProblem(const std::string& dir, std::string* id = nullptr);

}  // namespace evenhand::integrity

#endif  // EVENHAND_INTEGRITY_BACKUP_SEAL_H_
