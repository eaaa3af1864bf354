// evenhand backup: an online backup by the server, while appends continue,
// into a folder on the server's machine (Operations.Backup); `--list` shows
// the backups a folder holds. See docs/OPERATIONS.md.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/grpc_status.h"
#include "clients/cli/backup_folder_check.h"
#include "clients/cli/common.h"
#include "evenhand/v1/operations.grpc.pb.h"

namespace evenhand::cli {
namespace {

struct BackupFlags {
  std::string to;
  bool list = false;
  bool check = false;
  bool exclude_signing_key = false;
  std::string format = "table";
};

std::string Mib(uint64_t bytes) {
  return absl::StrCat(absl::StrFormat("%.1f", static_cast<double>(bytes) / (1 << 20)), " MiB");
}

// One line per backup; its state last, since a damaged or incomplete
// one's says why at whatever length.
void PrintBackup(const v1::BackupInfo& b) {
  const v1::BackupManifest& m = b.manifest();
  std::printf("%-6u %-22s %12s %12s  %-16s %s\n", b.backup_id(),
              m.has_started_at() ? FormatTimestamp(m.started_at()).c_str() : "?",
              absl::StrCat(m.checkpoint().checkpoint().tree_size()).c_str(),
              Mib(b.size_bytes()).c_str(),
              // A damaged backup's manifest may be unknown: nothing said.
              !b.has_manifest()          ? "-"
              : m.signing_key_included() ? "included"
                                         : "not included",
              !b.damage().empty() ? absl::StrCat("DAMAGED: ", b.damage()).c_str()
              : b.manifest_unsigned() && b.complete() ? "complete, manifest unsigned"
              : b.complete()                          ? "complete"
                             : absl::StrCat("INCOMPLETE: ", b.incomplete()).c_str());
}

int RunBackup(const Context& context, const BackupFlags& flags) {
  auto channel = context.Channel();
  if (!channel.ok()) return FailLocal(channel.status());
  auto stub = v1::Operations::NewStub(*channel);
  // The folder is on the server's machine; a relative one is taken from here
  // (the usual case: the CLI on the server's machine, local mode).
  std::string dir = flags.to;
  if (!dir.empty() && !std::filesystem::path(dir).is_absolute()) {
    dir = std::filesystem::absolute(dir).lexically_normal().string();
  }
  if (flags.check && !flags.list) {
    return FailUsage(absl::InvalidArgumentError("backup: --check goes with --list"));
  }
  // Refused, not ignored (outside probe): a listing copies nothing.
  if (flags.list && flags.exclude_signing_key) {
    return FailUsage(absl::InvalidArgumentError(
        "backup: --exclude-signing-key is for making a backup, not with --list"));
  }
  grpc::ClientContext rpc;
  if (flags.list) {
    v1::ListBackupsRequest request;
    request.set_dir(dir);
    v1::ListBackupsResponse response;
    grpc::Status s = stub->ListBackups(&rpc, request, &response);
    if (flags.check && s.error_code() == grpc::StatusCode::NOT_FOUND) {
      return VerificationFailed(s.error_message());  // nothing to rely on
    }
    if (!s.ok()) return FailServer(FromGrpcStatus(s), context);
    if (flags.format == "json") {
      for (const v1::BackupInfo& b : response.backups()) std::printf("%s\n", ToJsonLine(b).c_str());
    } else {
      std::printf("backups in %s\n%-6s %-22s %12s %12s  %-16s %s\n",
                  Printable(response.dir()).c_str(), "ID", "TAKEN", "CHECKPOINT", "SIZE",
                  "SIGNING KEY", "STATE");
      for (const v1::BackupInfo& b : response.backups()) PrintBackup(b);
    }
    std::fflush(stdout);
    WarnOfFolderProblem(response);
    return flags.check ? CheckBackupFolder(response) : kOk;
  }
  v1::BackupRequest request;
  request.set_to(dir);
  request.set_exclude_signing_key(flags.exclude_signing_key);
  v1::BackupInfo info;
  grpc::Status s = stub->Backup(&rpc, request, &info);
  const bool never_connected =
      absl::StrContains(s.error_message(), "failed to connect to all addresses");
  if (!never_connected && (s.error_code() == grpc::StatusCode::UNAVAILABLE ||
                           s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ||
                           s.error_code() == grpc::StatusCode::CANCELLED)) {
    // The call was sent: whether the server took the backup before it went
    // (or the wait ended) is not known here (found from outside: "Socket
    // closed" for a backup that was complete).
    return FailServer(
        absl::Status(FromGrpcStatus(s).code(),
                     absl::StrCat(s.error_message(),
                                  ". The backup was asked for, and whether it was taken is not "
                                  "known: list the folder to see (evenhand backup --list --to=",
                                  dir, ", or evenhand restore --from=", dir,
                                  " --list --check on the server's machine)")),
        context);
  }
  if (!s.ok()) return FailServer(FromGrpcStatus(s), context);
  if (flags.format == "json") {
    std::printf("%s\n", ToJsonLine(info).c_str());
    return kOk;
  }
  const v1::BackupManifest& m = info.manifest();
  std::printf(
      "backup %u taken in %s in %.1f s\n"
      "  checkpoint   %s\n"
      "               (every event acknowledged before the backup began is under it)\n"
      "  log          %s, %llu events when the copy began\n"
      "  size         %s (%s new; the rest shared with earlier backups in the folder)\n"
      "  signing key  %s\n"
      "%s"
      "restore it with: evenhand restore --from=%s --backup=%u --to=NEW_DATA_DIR\n",
      info.backup_id(), Printable(info.dir()).c_str(), info.duration_ms() / 1000.0,
      DescribeCheckpoint(m.checkpoint()).c_str(), Printable(m.log_id()).c_str(),
      static_cast<unsigned long long>(m.last_position()), Mib(info.size_bytes()).c_str(),
      Mib(info.copied_bytes()).c_str(),
      m.signing_key_included() ? "included (owner-only): keep the backup as safe as the data folder"
                               : "not included: restore it from where you keep it",
      info.purged_backup_ids().empty()
          ? ""
          : absl::StrCat("  deleted      ",
                         info.purged_backup_ids_size() == 1 ? "backup " : "backups ",
                         absl::StrJoin(info.purged_backup_ids(), ", "),
                         ": beyond the newest complete ones backup.keep keeps, or incomplete\n")
                .c_str(),
      Printable(info.dir()).c_str(), info.backup_id());
  if (!info.not_pruned().empty()) {
    // On stderr, where a cron job's mail finds it: taken, but the folder
    // now only grows.
    std::fprintf(stderr,
                 "evenhand: warning: no older backup was deleted, whatever backup.keep says: %s\n",
                 Printable(info.not_pruned()).c_str());
  }
  return kOk;
}

}  // namespace

void AddBackup(Registry& r) {
  auto flags = std::make_shared<BackupFlags>();
  CLI::App* cmd =
      r.Add("backup",
            "take an online backup (the server copies the log into a folder on its machine while "
            "appends continue, with the signed checkpoint it covers), or --list a folder's backups",
            [flags](const Context& c) { return RunBackup(c, *flags); });
  cmd->add_option("--to", flags->to,
                  "the backup folder on the server's machine (default: the server's backup.dir)");
  cmd->add_flag("--list", flags->list, "list the backups in the folder instead");
  cmd->add_flag("--check", flags->check,
                "with --list: exit 1 unless the newest backup is complete and signed and none "
                "is damaged (for a nightly check)");
  cmd->add_flag("--exclude-signing-key", flags->exclude_signing_key,
                "leave the signing key out (you keep it elsewhere)");
  AddFormatOption(cmd, &flags->format, {"table", "json"});
}

}  // namespace evenhand::cli
