// Even Hand's backups: the folder layout, and restore with verification.
//
// A backup folder is a RocksDB BackupEngine folder (storage/backup.h) plus
// one folder per backup with what RocksDB does not hold:
//   <dir>/meta, private, shared_checksum   RocksDB's backups
//   <dir>/evenhand/<id>/manifest.json      the BackupManifest (also the
//                                          backup's RocksDB metadata)
//   <dir>/evenhand/<id>/checkpoints.jsonl  the checkpoint journal up to the
//                                          manifest's checkpoint
//   <dir>/evenhand/<id>/signing-key.pem    the signing key (0600), unless
//                                          the backup was taken without it
//   <dir>/evenhand/<id>/seal               ties the signed manifest to this
//                                          backup's folder, id and
//                                          description
//   <dir>/evenhand/folder                  the folder's id (a UUID; the seal and
//                                          the id: integrity/backup_seal.h)
// The stream-head map and the fairness projection are not backed up: a
// server rebuilds both from the log on its first start.
//
// Restore copies a backup into a new data folder and, before it reports
// success, verifies every event, the tree and the chain against the
// manifest's signed checkpoint (log_verifier.h). Nothing of a refused
// restore is left behind, and the backup is never changed.
#ifndef EVENHAND_INTEGRITY_BACKUPS_H_
#define EVENHAND_INTEGRITY_BACKUPS_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "evenhand/v1/operations.pb.h"
#include "integrity/log_verifier.h"

namespace evenhand::integrity {

inline constexpr uint32_t kBackupFormatVersion = 1;

// "<dir>/evenhand/<id>" (or "<dir>/evenhand/pending" for id 0).
std::string BackupExtrasDir(const std::string& dir, uint32_t id);

std::string ManifestJson(const v1::BackupManifest& manifest);
absl::StatusOr<v1::BackupManifest> ParseManifest(const std::string& json);
// A checkpoint journal's bytes as a manifest records them (journal_sha256).
std::string JournalDigest(absl::string_view journal);

// The text a manifest's `signature` is over, with the log's key: seven
// lines, each ending in LF (docs/OPERATIONS.md):
//   evenhand backup v1
//   log <log id>
//   checkpoint <SHA-256 of the checkpoint's signed body, lowercase hex>
//   last <last position, decimal>
//   started <started_at in unix nanoseconds, decimal>
//   journal <journal checkpoints, decimal> <journal SHA-256, lowercase hex>
//   key <included|excluded>
// Its first line tells it from a checkpoint, a bundle manifest or a report
// statement, which the same key signs. The public key and the server's
// version are not in it: the key is the one that verifies it (and the
// checkpoint), and the version is a label.
std::string BackupStatement(const v1::BackupManifest& manifest);
// OK if the manifest's signature verifies over its statement with its
// public key; NotFound if it has none (taken before manifests were
// signed); DataLoss, saying so, if it does not verify.
absl::Status VerifyManifestSignature(const v1::BackupManifest& manifest);

// Every backup in `dir`, oldest first, with its manifest; `complete` is
// false for one whose Even Hand part is missing. Damaged (`damage`; the
// manifest kept only where it is itself sound) is one RocksDB cannot read whole or whose files are
// not those recorded (storage::ListBackups), one whose manifest does not parse or whose signed
// checkpoint does not verify, one missing the signing key its manifest says it holds or holding
// another key, one whose journal is not the one it was taken with (its digest; in older backups,
// its number of lines), and one whose Even Hand part is there but whose RocksDB description is
// gone (BackupsWithoutDescription). A listing verifies no journal line's signature and reads no
// table file whole: a restore does both. NotFound if none.
absl::StatusOr<v1::ListBackupsResponse> ReadBackupFolder(const std::string& dir);

// The log whose backup `id` of `dir` is, as its Even Hand part's copy of
// the manifest (evenhand/<id>/manifest.json) says: for a backup whose
// description's manifest is gone or does not parse. "" if that cannot be
// read (it is never read through a link, nor waited on).
std::string LogIdOfExtras(const std::string& dir, uint32_t id);

// The ids of `dir`/evenhand/<id> with no RocksDB description (meta/<id>),
// ascending: backups that lost theirs. RocksDB would give the next backup
// such an id if it is above every description's.
std::vector<uint32_t> BackupsWithoutDescription(const std::string& dir);

struct RestoreOptions {
  std::string from;          // the backup folder
  uint32_t backup_id = 0;    // 0: the newest
  std::string to;            // the new data folder: must not exist, or be empty
  std::string journal_file;  // default: DefaultJournalPath(to); must not exist
  // The key the operator holds (e.g. from `evenhand pubkey` or a published
  // copy): the backup must have been signed by it. Unset: the backup's own
  // key is used and its id reported, for the operator to compare.
  std::optional<v1::PublicKey> expected_key;
  // Restore a backup whose manifest carries no signature (taken by an
  // older evenhand). Its events are still verified against its signed
  // checkpoint; what its manifest says of its journal and key is not.
  bool allow_unsigned_manifest = false;
  std::function<void(const std::string&)> progress;
};

struct RestoreResult {
  uint32_t backup_id = 0;
  v1::BackupManifest manifest;
  LogVerification verification;
  std::string journal_file;
  std::string signing_key_file;  // empty if the backup had none
};

// Restores and verifies. DataLoss names the first bad position (or the
// damaged file) when the backup is not what was signed.
absl::StatusOr<RestoreResult> RestoreBackup(const RestoreOptions& options);

}  // namespace evenhand::integrity

#endif  // EVENHAND_INTEGRITY_BACKUPS_H_
