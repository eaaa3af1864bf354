// evenhand restore: a backup (evenhand backup) into a new data folder,
// offline, verified before it reports success: every event is re-hashed and
// the Merkle tree and hash chain are checked against the backup's signed
// checkpoint (integrity/backups.h). A backup that is not what was signed is
// refused with the first bad position named, and nothing is left behind.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "clients/cli/backup_folder_check.h"
#include "clients/cli/common.h"
#include "integrity/backups.h"
#include "integrity/signing.h"

namespace evenhand::cli {
namespace {

struct RestoreFlags {
  std::string from;
  std::string to;
  uint32_t backup_id = 0;
  std::string journal;
  std::string pubkey;
  bool list = false;
  bool check = false;
  bool allow_unsigned_manifest = false;
  std::string format = "table";
};

int List(const RestoreFlags& flags) {
  absl::StatusOr<v1::ListBackupsResponse> listed = integrity::ReadBackupFolder(flags.from);
  if (!listed.ok()) {
    // Nothing to rely on is a failed check, not a reading error.
    if (flags.check && absl::IsNotFound(listed.status())) {
      return VerificationFailed(std::string(listed.status().message()));
    }
    return FailIo(listed.status());
  }
  if (flags.format == "json") {
    for (const v1::BackupInfo& b : listed->backups()) std::printf("%s\n", ToJsonLine(b).c_str());
    std::fflush(stdout);
    WarnOfFolderProblem(*listed);
    return flags.check ? CheckBackupFolder(*listed) : kOk;
  }
  // CHECKPOINT: the events the backup's signed checkpoint covers; AT START:
  // the log's end when the copy began. A restore brings back at least that,
  // and the events appended while the copy ran (outside probe: "EVENTS" read
  // as what a restore gives, which is often more).
  std::printf("%-6s %-22s %12s %12s  %s\n", "ID", "TAKEN", "CHECKPOINT", "AT START", "STATE");
  for (const v1::BackupInfo& b : listed->backups()) {
    const v1::BackupManifest& m = b.manifest();
    std::printf("%-6u %-22s %12llu %12llu  %s\n", b.backup_id(),
                m.has_started_at() ? FormatTimestamp(m.started_at()).c_str() : "?",
                static_cast<unsigned long long>(m.checkpoint().checkpoint().tree_size()),
                static_cast<unsigned long long>(m.last_position()),
                !b.damage().empty() ? absl::StrCat("DAMAGED (not restorable): ", b.damage()).c_str()
                : b.manifest_unsigned() && b.complete()
                    ? "complete, manifest unsigned (taken by an older evenhand: restore it with "
                      "--allow-unsigned-manifest)"
                : b.complete()
                    ? "complete"
                    : absl::StrCat("INCOMPLETE (not restorable): ", b.incomplete()).c_str());
  }
  std::fflush(stdout);
  WarnOfFolderProblem(*listed);
  return flags.check ? CheckBackupFolder(*listed) : kOk;
}

int RunRestore(const RestoreFlags& flags) {
  if (flags.from.empty())
    return FailUsage(absl::InvalidArgumentError("restore: --from is required"));
  if (flags.check && !flags.list) {
    return FailUsage(absl::InvalidArgumentError("restore: --check goes with --list"));
  }
  if (flags.list) {
    // Refused, not ignored (outside probe): a listing restores nothing and
    // checks no signature.
    std::vector<std::string> extra;
    if (!flags.to.empty()) extra.push_back("--to");
    if (flags.backup_id != 0) extra.push_back("--backup");
    if (!flags.journal.empty()) extra.push_back("--journal");
    if (!flags.pubkey.empty()) extra.push_back("--pubkey");
    if (flags.allow_unsigned_manifest) extra.push_back("--allow-unsigned-manifest");
    if (!extra.empty()) {
      return FailUsage(absl::InvalidArgumentError(
          absl::StrCat("restore: ", absl::StrJoin(extra, ", "),
                       " are for restoring, not with --list (which lists and, with --check, "
                       "checks the folder)")));
    }
    return List(flags);
  }
  if (flags.to.empty()) {
    return FailUsage(absl::InvalidArgumentError(
        "restore: --to=NEW_DATA_DIR is required (a new folder: restore never writes over one)"));
  }
  integrity::RestoreOptions options;
  options.from = flags.from;
  options.to = flags.to;
  options.backup_id = flags.backup_id;
  options.journal_file = flags.journal;
  options.allow_unsigned_manifest = flags.allow_unsigned_manifest;
  if (!flags.pubkey.empty()) {
    absl::StatusOr<v1::PublicKey> key = ReadPublicKey(flags.pubkey);
    if (!key.ok()) return FailLocal(key.status());
    options.expected_key = *key;
  }
  options.progress = [](const std::string& line) {
    std::fprintf(stderr, "evenhand: %s\n", Printable(line, true).c_str());
  };
  absl::StatusOr<integrity::RestoreResult> r = integrity::RestoreBackup(options);
  if (!r.ok()) {
    if (absl::IsDataLoss(r.status())) return VerificationFailed(std::string(r.status().message()));
    if (absl::IsAlreadyExists(r.status()) || absl::IsInvalidArgument(r.status())) {
      return FailUsage(r.status());
    }
    return FailIo(r.status());
  }
  const v1::BackupManifest& m = r->manifest;
  // What a signature covers, and what only the chain does: events appended
  // while the copy was taken follow the backup's checkpoint.
  const uint64_t events = r->verification.events;
  const uint64_t signed_size = r->verification.signed_size;
  const std::string coverage =
      signed_size >= events
          ? std::string("  signed       every event, by the checkpoint below\n")
          : absl::StrCat(
                "  signed       positions 1..", signed_size, " by the checkpoint below\n",
                "  unsigned     positions ", signed_size + 1, "..", events, " (",
                events - signed_size,
                " events appended while the backup was copied): they follow the signed tree and "
                "chain, but no signature covers them; the restored server signs them at its first "
                "checkpoint. If anyone else could write to the backup store, treat them as "
                "unproven\n");
  std::printf(
      "RESTORED and VERIFIED backup %u of %s into %s\n"
      "  events       %llu, every one re-hashed; %llu tree nodes and every chain hash match\n"
      "%s"
      "  checkpoint   %s\n"
      "  root         %s (the whole restored log)\n"
      "  journal      %s (%llu checkpoints)\n"
      "  signing key  %s\n"
      "%s%s"
      "start it with: evenhandd --data_dir=%s%s\n"
      "  in place of the log it was taken from, never beside it: both would sign under the "
      "same log id and key, and two histories that part after the backup would both look "
      "genuine (a drill: start it on a loopback address, without the council's clients, and "
      "delete it after)\n",
      r->backup_id, flags.from.c_str(), flags.to.c_str(),
      static_cast<unsigned long long>(r->verification.events),
      static_cast<unsigned long long>(r->verification.nodes_checked), coverage.c_str(),
      DescribeCheckpoint(m.checkpoint()).c_str(), Hex(r->verification.root).c_str(),
      r->journal_file.c_str(), static_cast<unsigned long long>(m.journal_checkpoints()),
      r->signing_key_file.empty() ? "not in the backup: put the log's key in place before starting"
                                  : r->signing_key_file.c_str(),
      flags.pubkey.empty()
          ? absl::StrCat("  note         verified with the key the backup names (",
                         Printable(integrity::KeyId(m.public_key().raw())),
                         "): compare it with the key id you hold, or pass --pubkey\n")
                .c_str()
          : "",
      m.signature().empty()
          ? "  manifest     NOT SIGNED (--allow-unsigned-manifest): the journal's count and "
            "whether the key was included are as it says, unproven; the events are verified\n"
          : "",
      flags.to.c_str(),
      flags.journal.empty()
          ? ""
          : absl::StrCat(" (with audit.checkpointJournal=", flags.journal, ")").c_str());
  return kOk;
}

}  // namespace

void AddRestore(Registry& r) {
  auto flags = std::make_shared<RestoreFlags>();
  CLI::App* cmd = r.Add(
      "restore",
      "restore a backup into a new data folder, offline, verifying every event, the tree and the "
      "chain against the backup's signed checkpoint before reporting success",
      [flags](const Context&) { return RunRestore(*flags); });
  cmd->add_option("--from", flags->from, "the backup folder")->required();
  cmd->add_option("--to", flags->to, "the new data folder (must not exist, or be empty)");
  cmd->add_option("--backup", flags->backup_id, "which backup (default: the newest)")
      ->transform(Decimal())
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            // (0 is how "the newest" is kept: asked for, it is no backup.)
            return text == "0" ? "is not a backup: their ids start at 1 (leave --backup out for "
                                 "the newest)"
                               : "";
          },
          "ID"));
  cmd->add_option("--journal", flags->journal,
                  "where the restored checkpoint journal goes (default: <to>.checkpoints.jsonl, "
                  "where evenhandd looks for it)");
  cmd->add_option("--pubkey", flags->pubkey,
                  "the log's public key (PEM) you hold: the backup must be signed by it");
  cmd->add_flag("--allow-unsigned-manifest", flags->allow_unsigned_manifest,
                "restore a backup whose manifest is not signed (taken by an older evenhand): its "
                "events are verified, what its manifest says of its journal and key is not");
  cmd->add_flag("--list", flags->list, "list the folder's backups instead");
  cmd->add_flag("--check", flags->check,
                "with --list: exit 1 unless the newest backup is complete and signed and none "
                "is damaged (for a nightly check)");
  AddFormatOption(cmd, &flags->format, {"table", "json"});
}

}  // namespace evenhand::cli
