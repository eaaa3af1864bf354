// `--list --check` of evenhand backup and evenhand restore: whether a
// backup folder is one a cron job can rely on, as an exit code, so that a
// nightly check need not parse the listing.
#ifndef EVENHAND_CLIENTS_CLI_BACKUP_FOLDER_CHECK_H_
#define EVENHAND_CLIENTS_CLI_BACKUP_FOLDER_CHECK_H_

#include <string>

#include "evenhand/v1/operations.pb.h"

namespace evenhand::cli {

// Why the folder listed is not one to rely on, "" if it is: it holds no
// backup, something in it is not what a backup makes there, its newest
// backup is not complete (incomplete, damaged, or its manifest unsigned,
// which a restore refuses without a flag), or an older one is damaged
// (retention deletes nothing while it is there).
std::string BackupFolderProblem(const v1::ListBackupsResponse& listed);

// What is wrong with the folder as a whole (its folder_problem), if
// anything, said on stderr after a listing, with or without --check.
void WarnOfFolderProblem(const v1::ListBackupsResponse& listed);

// After a listing with --check: kOk, or the problem said on stderr as a
// failed verification (exit code 1).
int CheckBackupFolder(const v1::ListBackupsResponse& listed);

}  // namespace evenhand::cli

#endif  // EVENHAND_CLIENTS_CLI_BACKUP_FOLDER_CHECK_H_
