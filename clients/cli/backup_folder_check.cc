#include "clients/cli/backup_folder_check.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "clients/cli/common.h"

namespace evenhand::cli {

std::string BackupFolderProblem(const v1::ListBackupsResponse& listed) {
  if (listed.backups().empty()) return absl::StrCat(listed.dir(), " holds no backup");
  if (!listed.folder_problem().empty()) return listed.folder_problem();
  const v1::BackupInfo& newest = listed.backups(listed.backups_size() - 1);
  if (!newest.damage().empty()) {
    return absl::StrCat("the newest backup, ", newest.backup_id(), ", is damaged: ",
                        newest.damage());
  }
  if (!newest.complete()) {
    return absl::StrCat("the newest backup, ", newest.backup_id(), ", is incomplete (",
                        newest.incomplete().empty() ? "interrupted part way" : newest.incomplete(),
                        "): it cannot be restored");
  }
  if (newest.manifest_unsigned()) {
    return absl::StrCat("the newest backup, ", newest.backup_id(),
                        ", has an unsigned manifest: a restore needs --allow-unsigned-manifest");
  }
  for (const v1::BackupInfo& b : listed.backups()) {
    if (!b.damage().empty()) {
      return absl::StrCat("backup ", b.backup_id(), " is damaged (", b.damage(),
                          "): no older backup is deleted while it is there");
    }
    // evenhand backup always writes a manifest: a backup without one in
    // its folder was made some other way, or had it stripped (with its
    // Even Hand part removed, nothing else tells: re-probe), and retention
    // never deletes it.
    if (!b.complete() && !b.has_manifest()) {
      return absl::StrCat("backup ", b.backup_id(), " is incomplete (",
                          b.incomplete().empty() ? "it has no Even Hand manifest" : b.incomplete(),
                          "): every backup evenhand takes has one; look at it, then move its "
                          "meta/",
                          b.backup_id(), " and private/", b.backup_id(), " aside");
    }
  }
  return "";
}

void WarnOfFolderProblem(const v1::ListBackupsResponse& listed) {
  if (listed.folder_problem().empty()) return;
  std::fprintf(stderr, "evenhand: warning: %s\n", Printable(listed.folder_problem(), true).c_str());
}

int CheckBackupFolder(const v1::ListBackupsResponse& listed) {
  const std::string problem = BackupFolderProblem(listed);
  return problem.empty() ? kOk : VerificationFailed(absl::StrCat("backups in ", listed.dir(),
                                                                  ": ", problem));
}

}  // namespace evenhand::cli
