#include "integrity/backups.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "base/quoted.h"
#include "base/small_file.h"
#include "base/status_macros.h"
#include "base/time_util.h"
#include "base/uuid.h"
#include "google/protobuf/util/json_util.h"
#include "integrity/backup_seal.h"
#include "integrity/checkpoint_journal.h"
#include "integrity/integrity_log.h"
#include "integrity/merkle.h"
#include "integrity/restore_staging.h"
#include "integrity/signing.h"
#include "storage/acknowledged_mark.h"
#include "storage/backup.h"
#include "storage/event_store.h"

namespace evenhand::integrity {
namespace fs = std::filesystem;
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

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

std::string BackupExtrasDir(const std::string& dir, uint32_t id) {
  return absl::StrCat(dir, "/evenhand/", id == 0 ? std::string("pending") : absl::StrCat(id));
}

std::string ManifestJson(const v1::BackupManifest& manifest) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = false;
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(manifest, &json, options);
  return json;
}

absl::StatusOr<v1::BackupManifest> ParseManifest(const std::string& json) {
  v1::BackupManifest manifest;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;  // written by a later version
  if (!google::protobuf::util::JsonStringToMessage(json, &manifest, options).ok() ||
      manifest.format_version() == 0) {
    return absl::DataLossError(
        "the backup's manifest is not an Even Hand backup manifest (was the backup taken by "
        "evenhand backup?)");
  }
  if (manifest.format_version() > kBackupFormatVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat("the backup's format is version ", manifest.format_version(),
                     "; this evenhand reads up "
                     "to version ",
                     kBackupFormatVersion, ": restore it with the version that took it"));
  }
  return manifest;
}

std::vector<uint32_t> BackupsWithoutDescription(const std::string& dir) {
  std::vector<uint32_t> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(fs::path(dir) / "evenhand", ec)) {
    const std::string name = entry.path().filename().string();
    uint32_t id = 0;
    if (!absl::SimpleAtoi(name, &id) || id == 0 || name != std::to_string(id)) continue;
    if (!fs::exists(fs::path(dir) / "meta" / name, ec)) out.push_back(id);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string LogIdOfExtras(const std::string& dir, uint32_t id) {
  std::string json;
  if (!ReadSmallRegularFile(BackupExtrasDir(dir, id) + "/manifest.json", 1 << 20, &json)) {
    return "";
  }
  absl::StatusOr<v1::BackupManifest> manifest = ParseManifest(json);
  return manifest.ok() ? manifest->log_id() : "";
}

std::string JournalDigest(absl::string_view journal) {
  return absl::BytesToHexString(Sha256(journal));
}

std::string BackupStatement(const v1::BackupManifest& m) {
  const int64_t started = m.started_at().seconds() * int64_t{1000000000} + m.started_at().nanos();
  return absl::StrCat("evenhand backup v1\n",    //
                      "log ", m.log_id(), "\n",  //
                      "checkpoint ", absl::BytesToHexString(Sha256(m.checkpoint().signed_body())),
                      "\n",                                                                //
                      "last ", m.last_position(), "\n",                                    //
                      "started ", started, "\n",                                           //
                      "journal ", m.journal_checkpoints(), " ", m.journal_sha256(), "\n",  //
                      "key ", m.signing_key_included() ? "included" : "excluded", "\n");
}

absl::Status VerifyManifestSignature(const v1::BackupManifest& m) {
  if (m.signature().empty()) {
    return absl::NotFoundError(
        "its manifest is not signed (backups taken by an older evenhand are not): what it says of "
        "its journal and key is not proven");
  }
  if (absl::Status v = VerifySignature(m.public_key().raw(), BackupStatement(m), m.signature());
      !v.ok()) {
    return absl::DataLossError(absl::StrCat(
        "its manifest's signature does not verify with key ", KeyId(m.public_key().raw()), " (",
        v.message(),
        "): a field of it (its journal's digest or count, its checkpoint, its dates, whether "
        "the key is included) was changed since it was taken"));
  }
  return absl::OkStatus();
}

namespace {

// What a listing can tell is wrong with the journal and key copied with a
// backup whose manifest is `m` ("" if nothing): the journal's bytes against
// the digest taken with it (or, in a backup from before digests, its lines
// against the count), and the key against the one that signed. The journal
// is read whole (a restore reads it whole too); no signature is verified.
std::string ExtrasDamage(const std::string& extras, const v1::BackupManifest& m) {
  const std::string journal_file = extras + "/checkpoints.jsonl";
  // Read a block at a time: a year's journal can be hundreds of MB, and a
  // listing reads every backup's.
  std::ifstream in(journal_file, std::ios::binary);
  if (!in) return absl::StrCat(journal_file, ", its checkpoint journal, cannot be read");
  Sha256Stream digest;
  uint64_t lines = 0;  // not empty
  bool in_line = false;
  std::vector<char> block(1 << 20);
  while (in) {
    in.read(block.data(), static_cast<std::streamsize>(block.size()));
    const absl::string_view piece(block.data(), static_cast<size_t>(in.gcount()));
    digest.Update(piece);
    for (char c : piece) {
      if (c == '\n') {
        lines += in_line ? 1 : 0;
        in_line = false;
      } else {
        in_line = true;
      }
    }
  }
  if (in.bad()) return absl::StrCat(journal_file, ", its checkpoint journal, cannot be read");
  lines += in_line ? 1 : 0;
  if (!m.journal_sha256().empty()) {
    if (absl::BytesToHexString(digest.Finish()) != m.journal_sha256()) {
      return absl::StrCat(journal_file,
                          ", its checkpoint journal, is not the one it was taken with (its "
                          "SHA-256 is not the manifest's): lines were changed, removed, added or "
                          "reordered since");
    }
  } else {
    if (lines != m.journal_checkpoints()) {
      return absl::StrCat(journal_file, ", its checkpoint journal, holds ", lines,
                          lines == 1 ? " line" : " lines", ", not the ", m.journal_checkpoints(),
                          " signed checkpoints it was taken with");
    }
  }
  if (!m.signing_key_included()) return "";
  const std::string key_file = extras + "/signing-key.pem";
  std::error_code ec;
  const uintmax_t size = fs::file_size(key_file, ec);
  if (ec || size > (64 << 10)) {
    return absl::StrCat(key_file, ", its copy of the signing key, ",
                        ec ? "cannot be read" : "is too large to be a key");
  }
  absl::StatusOr<std::string> pem = ReadFile(key_file);
  absl::StatusOr<SigningKey> key =
      pem.ok() ? SigningKey::FromPem(*pem, key_file) : absl::StatusOr<SigningKey>(pem.status());
  if (!key.ok()) {
    return absl::StrCat(key_file, ", its copy of the signing key, cannot be read as one (",
                        key.status().message(), ")");
  }
  if (key->public_key().raw() != m.public_key().raw()) {
    return absl::StrCat(key_file, ", its copy of the signing key, is key ",
                        KeyId(key->public_key().raw()), ", not key ", KeyId(m.public_key().raw()),
                        " that signed its checkpoints");
  }
  return "";
}

// For backup `id`, whose description holds no manifest (`none`) or one of
// a later format: why that is a manifest removed or replaced, "" if it is
// not known to be. A backup's Even Hand part is moved in only after RocksDB
// has written the description with the manifest in it, so a part there
// over a description without one lost it; its seal names the description
// it was taken with; and its part's copy of the manifest is of this format.
std::string ManifestRemovedOrReplaced(const std::string& dir, uint32_t id, bool none) {
  if (absl::Status sealed = CheckSealedDescription(dir, id); !sealed.ok()) {
    return std::string(sealed.message());
  }
  const std::string extras = BackupExtrasDir(dir, id);
  std::error_code ec;
  bool part = false;
  for (const char* name : {"/checkpoints.jsonl", "/manifest.json", "/seal"}) {
    part = part || fs::exists(fs::symlink_status(extras + name, ec));
  }
  if (!part) return "";
  if (none) {
    return absl::StrCat("its description (", dir, "/meta/", id,
                        ") holds no Even Hand manifest, though its Even Hand part (", extras,
                        ") is there, which a backup moves in only after the manifest is written: "
                        "its manifest was removed");
  }
  std::string copy;
  if (ReadSmallRegularFile(extras + "/manifest.json", 1 << 20, &copy) && ParseManifest(copy).ok()) {
    return absl::StrCat("its description's manifest (", dir, "/meta/", id,
                        ") is of a later format than its Even Hand part's copy (", extras,
                        "/manifest.json), which this evenhand reads: it was replaced");
  }
  return "";
}

}  // namespace

absl::StatusOr<v1::ListBackupsResponse> ReadBackupFolder(const std::string& dir) {
  std::string irregular;
  absl::StatusOr<std::vector<storage::BackupSummary>> listed =
      storage::ListBackups(dir, &irregular);
  // A backup whose description RocksDB lost is still one: listed, damaged,
  // so that "the newest" is never an older one in its place.
  const std::vector<uint32_t> undescribed = BackupsWithoutDescription(dir);
  if (!listed.ok() && !(absl::IsNotFound(listed.status()) && !undescribed.empty())) {
    return listed.status();
  }
  std::vector<storage::BackupSummary> backups =
      listed.ok() ? *std::move(listed) : std::vector<storage::BackupSummary>();
  for (uint32_t id : undescribed) {
    storage::BackupSummary b;
    b.id = id;
    b.damage = absl::StrCat("its description (meta/", id,
                            ") is missing, though its Even Hand part (evenhand/", id,
                            ") is there: RocksDB no longer knows its files");
    backups.push_back(std::move(b));
  }
  std::sort(
      backups.begin(), backups.end(),
      [](const storage::BackupSummary& a, const storage::BackupSummary& b) { return a.id < b.id; });
  v1::ListBackupsResponse out;
  out.set_dir(dir);
  std::vector<std::string> problems;
  if (!irregular.empty()) {
    problems.push_back(absl::StrCat(
        irregular,
        " is not what a backup makes there (a link, a device or a FIFO, a file of more than one "
        "name, or a folder where a file belongs): no backup is taken into this folder until it "
        "is moved aside, and this listing rests on what could be read through it"));
  }
  // Read once: every seal names it.
  std::string folder_id;
  if (std::string why = BackupFolderIdProblem(dir, &folder_id); !why.empty()) {
    problems.push_back(why);
  }
  if (!problems.empty()) out.set_folder_problem(Printable(absl::StrJoin(problems, "; and ")));
  for (const storage::BackupSummary& b : backups) {
    v1::BackupInfo* info = out.add_backups();
    info->set_dir(dir);
    info->set_backup_id(b.id);
    info->set_size_bytes(b.size_bytes);
    info->set_files(b.files);
    if (!b.damage.empty()) {
      info->set_damage(b.damage);  // not complete
      // What it was (its date, checkpoint and log) is still said where its
      // description's manifest is sound: a damaged backup is told apart
      // from the rest, and is another log's if it is.
      if (absl::StatusOr<v1::BackupManifest> m = ParseManifest(b.metadata);
          m.ok() && !b.metadata.empty() &&
          VerifyCheckpoint(m->checkpoint(), m->public_key()).ok()) {
        *info->mutable_manifest() = *std::move(m);
      }
      continue;
    }
    absl::StatusOr<v1::BackupManifest> manifest = ParseManifest(b.metadata);
    if (manifest.ok()) *info->mutable_manifest() = *std::move(manifest);
    // No manifest, or one of a later format, reads as a backup not taken by
    // this evenhand (incomplete), unless what its Even Hand part holds says
    // its manifest was removed or replaced (re-probe).
    if (b.metadata.empty() || (!manifest.ok() && !absl::IsDataLoss(manifest.status()))) {
      if (std::string why = ManifestRemovedOrReplaced(dir, b.id, b.metadata.empty());
          !why.empty()) {
        info->clear_manifest();
        info->set_damage(std::move(why));
        continue;
      }
      info->set_incomplete(
          b.metadata.empty()
              ? "its description holds no Even Hand manifest: it was not taken by evenhand backup"
              : std::string(manifest.status().message()));
    }
    // A description RocksDB could read whose manifest is not one: damaged
    // (none at all is a backup not taken by evenhand backup: incomplete).
    if (absl::IsDataLoss(manifest.status()) && !b.metadata.empty()) {
      info->set_damage(absl::StrCat("its Even Hand manifest, kept in ", dir, "/meta/", b.id,
                                    ", is damaged: it no longer reads as one"));
      continue;
    }
    // The manifest's checkpoint is signed: one edited no longer verifies
    // (with the key it names; a restore checks the key too).
    if (manifest.ok()) {
      if (absl::Status v =
              VerifyCheckpoint(info->manifest().checkpoint(), info->manifest().public_key());
          !v.ok()) {
        info->clear_manifest();
        info->set_damage(absl::StrCat("its Even Hand manifest, kept in ", dir, "/meta/", b.id,
                                      ", is damaged: its checkpoint does not verify (", v.message(),
                                      ")"));
        continue;
      }
      // Its key said three ways must be one key: the tool checks with the
      // raw key, a person with the PEM (outside probe: a PEM swapped for
      // an attacker's verified the attacker's signature by hand).
      const v1::PublicKey& key = info->manifest().public_key();
      if ((!key.pem().empty() && key.pem() != PublicKeyPem(key.raw())) ||
          (!key.key_id().empty() && key.key_id() != KeyId(key.raw())) ||
          (!key.algorithm().empty() && key.algorithm() != "Ed25519")) {
        info->set_damage(absl::StrCat(
            "its Even Hand manifest, kept in ", dir, "/meta/", b.id,
            ", is damaged: its public key's PEM, id or algorithm is not the key that signed (key ",
            KeyId(key.raw()), ")"));
        continue;
      }
      // The rest of it (the journal's digest and count, whether the key is
      // included) is signed too, since 2026-12-05: one edited to match a
      // journal cut short no longer verifies.
      if (absl::Status v = VerifyManifestSignature(info->manifest()); absl::IsDataLoss(v)) {
        info->set_damage(absl::StrCat("its Even Hand manifest, kept in ", dir, "/meta/", b.id,
                                      ", is damaged: ", v.message()));
        continue;
      } else if (!v.ok()) {
        // Only a backup with a signed manifest has a seal: one there means
        // the signature was removed (re-probe: it read as an old backup).
        std::error_code ec;
        if (fs::exists(fs::symlink_status(BackupExtrasDir(dir, b.id) + "/seal", ec))) {
          info->set_damage(absl::StrCat(
              "its Even Hand manifest, kept in ", dir, "/meta/", b.id,
              ", is damaged: it is not signed, yet the backup has a seal (only a backup whose "
              "manifest is signed has one): its signature was removed"));
          continue;
        }
        info->set_manifest_unsigned(true);
      }
    }
    std::error_code ec;
    const std::string extras = BackupExtrasDir(dir, b.id);
    const bool journal = fs::exists(extras + "/checkpoints.jsonl", ec);
    // Its own folder, not a link to another's Even Hand part (whose files
    // would all read as regular files).
    if (const fs::file_status st = fs::symlink_status(extras, ec);
        fs::exists(st) && !fs::is_directory(st)) {
      info->set_damage(absl::StrCat(extras, " is not a folder of its own (a link, or a file)"));
      continue;
    }
    // Read whole by a restore: a folder or a link to a device (which reads
    // for ever) is damage, never read.
    for (const char* name : {"/checkpoints.jsonl", "/signing-key.pem", "/manifest.json", "/seal"}) {
      const fs::file_status st = fs::symlink_status(extras + name, ec);
      if (fs::exists(st) && !fs::is_regular_file(st)) {
        info->set_damage(absl::StrCat(extras, name, " is not a regular file"));
        break;
      }
    }
    if (!info->damage().empty()) continue;
    // The Even Hand part is moved into place whole, as the backup's last
    // step: there without its journal, a file was lost since, not a backup
    // interrupted.
    if (manifest.ok() && !journal && fs::is_directory(extras, ec)) {
      info->set_damage(absl::StrCat(extras,
                                    "/checkpoints.jsonl, its checkpoint journal, is "
                                    "missing (the rest of its Even Hand part is there)"));
      continue;
    }
    if (manifest.ok() && journal && info->manifest().signing_key_included() &&
        !fs::exists(extras + "/signing-key.pem", ec)) {
      info->set_damage(absl::StrCat(extras,
                                    "/signing-key.pem, its copy of the signing key, is "
                                    "missing (its manifest says it was included)"));
      continue;
    }
    if (manifest.ok() && journal) {
      if (std::string why = ExtrasDamage(extras, info->manifest()); !why.empty()) {
        info->set_damage(std::move(why));
        continue;
      }
      // A signed manifest is this backup's own (not another's, each part
      // genuine, put in its place: outside probe).
      if (!info->manifest_unsigned()) {
        if (absl::Status seal = VerifyBackupSeal(dir, folder_id, b.id, info->manifest());
            !seal.ok()) {
          info->set_damage(std::string(seal.message()));
          continue;
        }
      }
    }
    info->set_complete(manifest.ok() && journal);
    if (manifest.ok() && !journal) {
      info->set_incomplete(absl::StrCat("its Even Hand part (", extras,
                                        ") is missing: a backup interrupted part way"));
    }
  }
  // What is wrong may quote the folder's own file names and lines, which
  // can hold anything: valid UTF-8 (a protobuf string must be, or the reply
  // is not sent at all) and nothing a terminal would act on.
  for (v1::BackupInfo& b : *out.mutable_backups()) {
    if (!b.damage().empty()) b.set_damage(Printable(b.damage()));
    if (!b.incomplete().empty()) b.set_incomplete(Printable(b.incomplete()));
  }
  return out;
}

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
  EH_RETURN_IF_ERROR(CheckNew(to, /*may_be_empty_dir=*/true, "data folder"));
  EH_RETURN_IF_ERROR(CheckNew(journal_file, /*may_be_empty_dir=*/false, "journal"));
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
  absl::StatusOr<std::string> journal_read = ReadFile(extras + "/checkpoints.jsonl");
  if (!journal_read.ok()) {
    discard();
    return journal_read.status();
  }
  const std::string journal_text = *std::move(journal_read);
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
      return absl::InternalError(absl::StrCat("the restore was verified but cannot be moved into "
                                              "place (", staging, " -> ", to, "): ", why,
                                              "; nothing was restored"));
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
    return absl::InternalError(absl::StrCat("the restore was verified but its journal cannot be "
                                            "moved into place (", journal_file, "): ", why,
                                            "; nothing was restored"));
  }
  result.journal_file = journal_file;
  return result;
}

}  // namespace evenhand::integrity
