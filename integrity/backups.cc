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
#include "absl/strings/strip.h"
#include "base/quoted.h"
#include "base/small_file.h"
#include "base/status_macros.h"
#include "base/time_util.h"
#include "google/protobuf/util/json_util.h"
#include "integrity/backup_seal.h"
#include "integrity/merkle.h"
#include "integrity/signing.h"
#include "storage/backup.h"

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

}  // namespace evenhand::integrity
