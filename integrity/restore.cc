// evenhand restore (RestoreBackup, declared in backups.h): a backup copied
// into a new data folder and journal beside each other, verified against its
// signed checkpoints before either is moved into place, so that a refused
// restore leaves nothing behind. Apart from the folder's reading and
// checking (backups.cc), which it uses.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "base/small_file.h"
#include "base/status_macros.h"
#include "integrity/backup_seal.h"
#include "integrity/backups.h"
#include "integrity/checkpoint_journal.h"
#include "integrity/integrity_log.h"
#include "integrity/log_verifier.h"
#include "integrity/restore_staging.h"
#include "integrity/signing.h"
#include "storage/acknowledged_mark.h"
#include "storage/backup.h"
#include "storage/event_store.h"

namespace evenhand::integrity {
namespace fs = std::filesystem;
namespace {

// `to` must be new: a restore never writes over a data folder or journal.
absl::Status CheckNew(const std::string& path, bool may_be_empty_dir, const char* what) {
  std::error_code ec;
  // A link to nothing: refused before the backup is read, not at the end
  // (a data folder) or written through (a journal) (outside probe).
  if (fs::is_symlink(fs::symlink_status(path, ec)) && !fs::exists(path, ec)) {
    return absl::FailedPreconditionError(absl::StrCat(
        what, " ", path, " is a symbolic link to ", fs::read_symlink(path, ec).string(),
        ", which does not exist: restore writes a new ", what,
        " and never through a link; remove the link, or give the path it names with ",
        may_be_empty_dir ? "--to" : "--journal"));
  }
  if (!fs::exists(path, ec)) return absl::OkStatus();
  if (may_be_empty_dir && fs::is_directory(path, ec) && fs::is_empty(path, ec)) {
    return absl::OkStatus();
  }
  return absl::AlreadyExistsError(
      absl::StrCat(what, " ", path, " already exists: restore writes only into a new ", what,
                   ", never over one (move it aside, or choose another with ",
                   may_be_empty_dir ? "--to" : "--journal", ")"));
}

void RemoveQuietly(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
}

// `why` a copy is not what was signed, without the store's advice to
// restore from a backup: that is what the reader is doing.
std::string WhyNotSigned(const absl::Status& why) {
  return absl::StrReplaceAll(why.message(),
                             {{". Restore the data folder from a backup (evenhand restore)", ""}});
}

// Opens the copy of a log in `dir` read-only and verifies it.
absl::StatusOr<LogVerification> VerifyCopy(const std::string& dir,
                                           std::shared_ptr<rocksdb::FileSystem> file_system,
                                           const std::vector<v1::SignedCheckpoint>& checkpoints,
                                           const v1::PublicKey& key,
                                           const std::function<void(const std::string&)>& say) {
  storage::StoreOptions store_options;
  store_options.data_dir = dir;
  store_options.read_only = true;
  store_options.min_free_bytes = 0;
  store_options.reserve_bytes = 0;
  store_options.live_buffer_events = 16;
  store_options.live_buffer_bytes = 1 << 20;
  store_options.extra_column_families = {IntegrityLog::kColumnFamily};
  store_options.file_system = std::move(file_system);
  absl::StatusOr<std::unique_ptr<storage::EventStore>> store =
      storage::EventStore::Open(store_options);
  if (!store.ok()) {
    return absl::DataLossError(
        absl::StrCat("the copy cannot be opened: ", store.status().message()));
  }
  say(absl::StrCat("verifying ", (*store)->LastPosition(),
                   " events, the Merkle tree and the hash chain against the checkpoint of tree "
                   "size ",
                   checkpoints.back().checkpoint().tree_size()));
  absl::StatusOr<LogVerification> verified = VerifyLog(**store, checkpoints, key, [&](uint64_t p) {
    say(absl::StrCat("  verified up to position ", p));
  });
  (void)(*store)->Close();
  return verified;
}

}  // namespace

absl::StatusOr<RestoreResult> RestoreBackup(const RestoreOptions& o) {
  auto say = [&](const std::string& line) {
    if (o.progress) o.progress(line);
  };
  EH_ASSIGN_OR_RETURN(v1::ListBackupsResponse folder, ReadBackupFolder(o.from));
  // A restore reads only a folder whose files are its own: through a link
  // it would read (and vouch for) what lives elsewhere.
  if (!folder.folder_problem().empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("nothing restored: ", folder.folder_problem(),
                     ". Mend the folder as that says (or copy it without links, cp -rL, if you "
                     "trust what they point to), then restore again"));
  }
  const v1::BackupInfo* chosen = nullptr;
  for (const v1::BackupInfo& b : folder.backups()) {
    if (o.backup_id == 0 || b.backup_id() == o.backup_id) chosen = &b;
  }
  if (chosen == nullptr) {
    std::string ids;
    for (const v1::BackupInfo& b : folder.backups())
      absl::StrAppend(&ids, ids.empty() ? "" : ", ", b.backup_id());
    return absl::NotFoundError(absl::StrCat("backup ", o.backup_id, " is not in ", o.from,
                                            " (it holds backups ", ids, ")"));
  }
  const uint32_t id = chosen->backup_id();
  if (!chosen->damage().empty()) {
    // Never an older one in its place without a word: the newest is what
    // "restore the newest" asks for.
    std::string complete;
    for (const v1::BackupInfo& b : folder.backups()) {
      if (b.complete()) absl::StrAppend(&complete, complete.empty() ? "" : ", ", b.backup_id());
    }
    return absl::DataLossError(absl::StrCat(
        o.backup_id == 0 ? "the newest backup, " : "backup ", id, ", in ", o.from,
        " is damaged: ", chosen->damage(), "; it cannot be restored. ",
        complete.empty() ? std::string("No backup in the folder is complete")
                         : absl::StrCat("Complete backups: ", complete,
                                        "; restore one with --backup=ID if it will do")));
  }
  if (!chosen->complete()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "backup ", id, " in ", o.from, " is incomplete: ",
        chosen->incomplete().empty() ? "it has no Even Hand manifest" : chosen->incomplete(),
        ". Restore another with --backup=ID (evenhand restore --from=", o.from, " --list)"));
  }
  RestoreResult result;
  result.backup_id = id;
  result.manifest = chosen->manifest();
  const v1::BackupManifest& manifest = result.manifest;
  const v1::PublicKey key = o.expected_key ? *o.expected_key : manifest.public_key();
  if (o.expected_key && o.expected_key->key_id() != manifest.public_key().key_id()) {
    // Not what the key's holder signed: a verdict (DataLoss), as a
    // signature that does not verify is.
    return absl::DataLossError(
        absl::StrCat("backup ", id, " was signed with key ", manifest.public_key().key_id(),
                     ", not with the key you gave (", o.expected_key->key_id(),
                     "): it is not a backup of your log, or your log's key was changed"));
  }
  if (absl::Status s = VerifyCheckpoint(manifest.checkpoint(), key); !s.ok()) {
    return absl::DataLossError(absl::StrCat("backup ", id,
                                            ": its checkpoint does not verify with "
                                            "key ",
                                            key.key_id(), ": ", s.message()));
  }
  if (chosen->manifest_unsigned() && !o.allow_unsigned_manifest) {
    return absl::FailedPreconditionError(absl::StrCat(
        "backup ", id, " in ", o.from,
        ": its manifest is not signed (backups taken by an older evenhand are not), so what it "
        "says of its journal and key is not proven: anyone who could write the folder could "
        "have cut its journal and rewritten its count. Its events are still verified against "
        "its signed checkpoint. Restore it with --allow-unsigned-manifest if only you could "
        "write the folder, or restore a newer backup"));
  }

  fs::path to_path = fs::path(o.to).lexically_normal();
  if (!to_path.has_filename()) to_path = to_path.parent_path();  // "dir/"
  const std::string to = to_path.string();
  const std::string journal_file = o.journal_file.empty() ? DefaultJournalPath(to) : o.journal_file;
  if (absl::Status fresh = CheckNew(to, /*may_be_empty_dir=*/true, "data folder"); !fresh.ok()) {
    std::error_code ec;
    // A folder without the journal beside it may be what a restore stopped
    // after its copy was in place left (found from outside: the next
    // restore said only "already exists").
    if (absl::IsAlreadyExists(fresh) && fs::is_directory(to, ec) && !fs::exists(journal_file, ec)) {
      return absl::AlreadyExistsError(absl::StrCat(
          fresh.message(), ". It has no journal beside it (", journal_file,
          "): if a restore into it was stopped part way, it is that restore's unfinished copy; "
          "delete it and restore again"));
    }
    return fresh;
  }
  EH_RETURN_IF_ERROR(CheckNew(journal_file, /*may_be_empty_dir=*/false, "journal"));
  {
    // The journal beside the data folder, never in it (found from outside:
    // refused only after the whole verification, when it could not be
    // moved into place).
    // As given and as links resolve (found from outside: a journal through
    // a link to the folder was refused only when it could not be moved).
    std::error_code ec;
    auto within = [](const fs::path& folder, const fs::path& path) {
      return std::mismatch(folder.begin(), folder.end(), path.begin(), path.end()).first ==
             folder.end();
    };
    const fs::path folder = fs::absolute(to, ec).lexically_normal();
    const fs::path journal = fs::absolute(journal_file, ec).lexically_normal();
    std::error_code resolved_ec;
    const fs::path real_folder = fs::weakly_canonical(folder, resolved_ec);
    const fs::path real_journal = fs::weakly_canonical(journal, resolved_ec);
    if (within(folder, journal) ||
        (!resolved_ec && !real_folder.empty() && within(real_folder, real_journal))) {
      return absl::InvalidArgumentError(absl::StrCat(
          "journal ", journal_file, " lies inside the data folder ", to,
          " being restored: a journal lives outside the data folder it signs (the default, ",
          DefaultJournalPath(to), ", is beside it)"));
    }
  }
  // Not inside a backup folder (this one, say: found from outside, a
  // journal restored into its meta/ was then listed as a damaged backup,
  // which stopped retention) nor inside another data folder.
  EH_RETURN_IF_ERROR(storage::CheckNotInsideAStoresFolder(to, "data folder"));
  EH_RETURN_IF_ERROR(storage::CheckNotInsideAStoresFolder(journal_file, "journal"));
  // What a restore stopped part way left beside them goes first.
  for (const std::string& left : RemoveStaleStaging(to)) {
    say(absl::StrCat("removed ", left, ", left by a restore that was stopped part way"));
  }
  for (const std::string& left : RemoveStaleStaging(journal_file)) {
    say(absl::StrCat("removed ", left, ", left by a restore that was stopped part way"));
  }
  // An empty folder (a new disk's mount point, say) is restored into as it
  // is; otherwise a folder of our own beside it is renamed into place once
  // verified. Either way a refused restore leaves nothing behind.
  std::error_code ec;
  const bool into_existing = fs::exists(to, ec);
  std::optional<StagedPath> staged_folder;
  std::string staging = to;
  if (!into_existing) {
    absl::StatusOr<StagedPath> made = StagedPath::Create(to, /*folder=*/true);
    if (!made.ok()) return made.status();
    staged_folder.emplace(*std::move(made));
    staging = staged_folder->path();
  }
  absl::StatusOr<StagedPath> staged_journal = StagedPath::Create(journal_file, /*folder=*/false);
  if (!staged_journal.ok()) {
    if (!into_existing) RemoveQuietly(staging);
    return staged_journal.status();
  }
  std::string staging_journal = staged_journal->path();
  auto discard = [&] {
    if (into_existing) {
      std::error_code ignored;
      for (const auto& entry : fs::directory_iterator(to, ignored)) RemoveQuietly(entry.path());
    } else {
      RemoveQuietly(staging);
    }
    RemoveQuietly(staging_journal);
  };

  // The journal first: its checkpoints are what the copy is checked against.
  const std::string extras = BackupExtrasDir(o.from, id);
  // (A file of the backup folder, which anyone who can write it may have
  // replaced: never read through a link or from a FIFO.)
  std::string journal_text;
  if (!ReadSmallRegularFile(extras + "/checkpoints.jsonl", size_t{1} << 30, &journal_text)) {
    discard();
    return absl::NotFoundError(absl::StrCat("cannot read ", extras,
                                            "/checkpoints.jsonl (missing, not a regular file, or "
                                            "over 1 GiB)"));
  }
  {
    std::ofstream out(staging_journal, std::ios::binary | std::ios::trunc);
    out << journal_text;
    out.close();
    if (!out) {
      discard();
      return absl::InternalError(absl::StrCat("cannot write ", staging_journal));
    }
    ::chmod(staging_journal.c_str(), 0600);
  }
  std::vector<v1::SignedCheckpoint> checkpoints;
  {
    absl::StatusOr<std::unique_ptr<CheckpointJournal>> journal =
        CheckpointJournal::Open(staging_journal, key, manifest.log_id());
    absl::StatusOr<std::vector<v1::SignedCheckpoint>> all =
        journal.ok() ? (*journal)->All() : journal.status();
    if (!all.ok()) {
      discard();
      // Said of the backup's journal, not of the copy being restored (gone
      // by the time it is read), and without the advice meant for a live
      // server's journal.
      std::string why = absl::StrReplaceAll(all.status().message(),
                                            {{staging_journal, extras + "/checkpoints.jsonl"}});
      if (const size_t advice = why.find(". It is the record of every checkpoint");
          advice != std::string::npos) {
        why.resize(advice);
      }
      return absl::DataLossError(absl::StrCat("backup ", id, ": its checkpoint journal (", extras,
                                              "/checkpoints.jsonl) is damaged: ", why,
                                              ". Nothing was restored; restore another backup "
                                              "with --backup=ID"));
    }
    checkpoints = *std::move(all);
  }
  if (checkpoints.size() != manifest.journal_checkpoints()) {
    // Each a signed statement of the log's state: one gone is evidence
    // lost, and a restore must not say it kept what it did not.
    discard();
    return absl::DataLossError(absl::StrCat(
        "backup ", id, ": its checkpoint journal (", extras, "/checkpoints.jsonl) holds ",
        checkpoints.size(), " signed checkpoints, not the ", manifest.journal_checkpoints(),
        " it was taken with: lines were removed or added since. Nothing was restored; restore "
        "another backup with --backup=ID"));
  }
  if (checkpoints.empty() ||
      checkpoints.back().signed_body() != manifest.checkpoint().signed_body()) {
    discard();
    return absl::DataLossError(
        absl::StrCat("backup ", id,
                     ": its journal does not end with the checkpoint its manifest names (tree "
                     "size ",
                     manifest.checkpoint().checkpoint().tree_size(), ")"));
  }
  if (!manifest.journal_sha256().empty() &&
      JournalDigest(journal_text) != manifest.journal_sha256()) {
    // The bytes restored are read again after the listing that found the
    // backup sound: changed since, they are not restored either.
    discard();
    return absl::DataLossError(absl::StrCat(
        "backup ", id, ": its checkpoint journal (", extras,
        "/checkpoints.jsonl) is not the one it was taken with (its SHA-256 is not the manifest's), "
        "though each of its checkpoints verifies. Nothing was restored; restore another backup "
        "with --backup=ID"));
  }

  say(absl::StrCat("restoring backup ", id, " of ", o.from, " into ", to));
  if (absl::Status s = storage::RestoreBackup(o.from, id, staging); !s.ok()) {
    discard();
    if (!absl::IsDataLoss(s)) return s;
    // A file's bytes changed. Say which, and read the backup where it lies
    // to say which events that damages.
    absl::Status files = storage::VerifyBackupFiles(o.from, id);
    say("a file of the backup is damaged; reading the backup in place to find which events");
    absl::StatusOr<storage::BackupView> view = storage::ViewBackup(o.from, id);
    absl::StatusOr<LogVerification> where =
        view.ok() ? VerifyCopy(view->db_dir, view->file_system, checkpoints, key, say)
                  : absl::StatusOr<LogVerification>(view.status());
    return absl::DataLossError(absl::StrCat(
        files.ok() ? std::string(s.message()) : std::string(files.message()),
        where.ok() ? ". Its events, tree and chain still verify (the damage is elsewhere in its "
                     "files), but it cannot be restored as it is"
                   : absl::StrCat(". Read in place: ", WhyNotSigned(where.status())),
        ". Nothing was restored; the backup is unchanged"));
  }
  {
    absl::StatusOr<LogVerification> verified = VerifyCopy(staging, nullptr, checkpoints, key, say);
    if (!verified.ok()) {
      discard();
      // A verdict on the backup, never a usage error: a journal that is
      // not in order is refused as InvalidArgument by the verifier (exit 2,
      // "a flag is wrong"), and is damage here.
      const absl::StatusCode code = absl::IsInvalidArgument(verified.status())
                                        ? absl::StatusCode::kDataLoss
                                        : verified.status().code();
      return absl::Status(code,
                          absl::StrCat("backup ", id, " of ", o.from,
                                       " is not what was signed: ", WhyNotSigned(verified.status()),
                                       ". Nothing was restored; the backup is unchanged"));
    }
    result.verification = *std::move(verified);
  }
  // Backups hold RocksDB's files only: the restored folder's record of its
  // last acknowledged position is written here, from what was just
  // verified, so that its first start checks the log's end as every later
  // one does (docs/RELIABILITY.md).
  {
    storage::AcknowledgedMark mark(staging);
    absl::Status recorded = mark.OpenForWriting(manifest.log_id());
    if (recorded.ok()) recorded = mark.Record(result.verification.events);
    if (!recorded.ok()) {
      discard();
      return absl::InternalError(absl::StrCat("backup ", id, " verified, but ", recorded.message(),
                                              "; nothing was restored"));
    }
  }

  if (manifest.signing_key_included()) {
    const std::string key_file = staging + "/signing-key.pem";
    fs::copy_file(extras + "/signing-key.pem", key_file, ec);
    if (ec) {
      discard();
      return absl::DataLossError(
          absl::StrCat("backup ", id, ": its signing key (", extras,
                       "/signing-key.pem) cannot be copied: ", ec.message()));
    }
    ::chmod(key_file.c_str(), 0600);
    // The key the restored server will sign with must be the one that
    // signed what it restores: a key swapped in the backup would only show
    // when the server refused its own journal at start.
    bool created = false;
    absl::StatusOr<SigningKey> restored_key = SigningKey::LoadOrCreate(key_file, &created);
    if (!restored_key.ok() || created || restored_key->public_key().raw() != key.raw()) {
      discard();
      return absl::DataLossError(absl::StrCat(
          "backup ", id, ": its signing key (", extras, "/signing-key.pem) ",
          !restored_key.ok()
              ? absl::StrCat("cannot be read: ", restored_key.status().message())
              : absl::StrCat("is key ", KeyId(restored_key->public_key().raw()), ", not key ",
                             key.key_id(), " that signed its checkpoints"),
          ". Nothing was restored: put this log's own key (from another backup of it, or its "
          "offline copy) in place of that file, or restore another backup"));
    }
    result.signing_key_file = to + "/signing-key.pem";
  }
  // Into place: the data folder, then its journal; if the journal cannot
  // follow, the data folder goes back, so no half of a restore is left.
  if (!into_existing) {
    fs::rename(staging, to, ec);
    if (ec) {
      const std::string why = ec.message();
      discard();
      return absl::InternalError(
          absl::StrCat("the restore was verified but cannot be moved into "
                       "place (",
                       staging, " -> ", to, "): ", why, "; nothing was restored"));
    }
    staging = to;
  }
  fs::rename(staging_journal, journal_file, ec);
  if (ec) {
    const std::string why = ec.message();
    if (into_existing) {
      discard();
    } else {
      RemoveQuietly(to);
      RemoveQuietly(staging_journal);
    }
    return absl::InternalError(
        absl::StrCat("the restore was verified but its journal cannot be "
                     "moved into place (",
                     journal_file, "): ", why, "; nothing was restored"));
  }
  result.journal_file = journal_file;
  return result;
}

}  // namespace evenhand::integrity
