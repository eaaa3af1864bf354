// A backup folder's parts are its own, and a data folder's too (outside
// probe): a backup into evenhand/<id>/ of a backup folder was deleted with
// that backup by retention, one into its shared_checksum/ refused every
// later backup there, and a journal restored into its meta/ was listed as a
// damaged backup, which stopped retention; a restore into a running
// server's data folder was taken. Each is refused, naming the folder, and
// nothing is written.
#include <filesystem>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/backup_fixture.h"

namespace evenhand {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;

using BackupFolderNestingTest = BackupTest;

TEST_F(BackupFolderNestingTest, ABackupIsNotTakenInsideAnotherBackupFolder) {
  StartServer();
  const std::string backups = dir_.Sub("backups");
  AppendSome("a-", 5);
  const uint32_t first = Backup(backups).backup_id();
  for (const std::string& to :
       {absl::StrCat(backups, "/evenhand/", first, "/y"), backups + "/shared_checksum/x",
        backups + "/meta/new", backups + "/private/z"}) {
    v1::BackupInfo info;
    const grpc::Status s = TryBackup(to, &info);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << to;
    EXPECT_THAT(s.error_message(), HasSubstr(absl::StrCat("backup folder ", to, " lies inside ")))
        << to;
    EXPECT_FALSE(fs::exists(to)) << to;
  }
  // The folder itself, one beside it, and one inside it beside its parts
  // (OPERATIONS.md's backups/weekly: refused by the first version of this
  // check, and only once the outer folder held a backup) are where backups
  // go, in either order.
  EXPECT_TRUE(Backup(backups).complete());
  EXPECT_TRUE(Backup(dir_.Sub("backups-2")).complete());
  EXPECT_TRUE(Backup(backups + "/weekly").complete());
  EXPECT_TRUE(Backup(backups).complete());
  EXPECT_TRUE(Backup(backups + "/weekly").complete());
  for (const std::string& folder : {backups, backups + "/weekly"}) {
    const CliResult checked = RunCli({"restore", "--from=" + folder, "--list", "--check"});
    EXPECT_EQ(checked.exit_code, 0) << checked.output;
  }
}

TEST_F(BackupFolderNestingTest, ARestoreIsNotWrittenInsideABackupFolderOrADataFolder) {
  StartServer();
  const std::string backups = dir_.Sub("backups");
  AppendSome("a-", 5);
  ASSERT_TRUE(Backup(backups).complete());
  struct Case {
    std::string to, journal, says;
  };
  const std::vector<Case> cases = {
      {backups + "/shared_checksum/x", "",
       "data folder " + backups + "/shared_checksum/x lies inside the backup folder " + backups +
           "'s shared_checksum/"},
      {dir_.Sub("r1"), backups + "/meta/9",
       "journal " + backups + "/meta/9 lies inside the backup folder " + backups + "'s meta/"},
      // The running server's.
      {dir_.Sub("data/restored"), "", "lies inside the database folder " + dir_.Sub("data")},
      // Its journal inside the data folder being restored (found from
      // outside: refused only after the whole verification).
      {dir_.Sub("r2"), dir_.Sub("r2/j.jsonl"),
       "journal " + dir_.Sub("r2/j.jsonl") + " lies inside the data folder " + dir_.Sub("r2")},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {"restore", "--from=" + backups, "--to=" + c.to};
    if (!c.journal.empty()) args.push_back("--journal=" + c.journal);
    const CliResult r = RunCli(args);
    EXPECT_NE(r.exit_code, 0) << c.to;
    EXPECT_THAT(r.output, HasSubstr(c.says)) << c.to;
    EXPECT_FALSE(fs::exists(c.to)) << c.to;
    if (!c.journal.empty()) EXPECT_FALSE(fs::exists(c.journal)) << c.journal;
  }
  // Inside a data folder just restored, not yet started (no IDENTITY
  // until RocksDB opens it: found from outside, it was taken), and a
  // journal reached through a link to the folder being restored (refused
  // only after the verification, before).
  ASSERT_EQ(RunCli({"restore", "--from=" + backups, "--to=" + dir_.Sub("fresh")}).exit_code, 0);
  ASSERT_FALSE(fs::exists(dir_.Sub("fresh/IDENTITY")));
  const CliResult into_fresh =
      RunCli({"restore", "--from=" + backups, "--to=" + dir_.Sub("fresh/sub")});
  EXPECT_NE(into_fresh.exit_code, 0) << into_fresh.output;
  EXPECT_THAT(into_fresh.output, HasSubstr("lies inside the database folder " + dir_.Sub("fresh")));
  EXPECT_FALSE(fs::exists(dir_.Sub("fresh/sub")));
  fs::create_directories(dir_.Sub("r7"));
  fs::create_directory_symlink(dir_.Sub("r7"), dir_.Sub("r7link"));
  const CliResult linked = RunCli({"restore", "--from=" + backups, "--to=" + dir_.Sub("r7"),
                                   "--journal=" + dir_.Sub("r7link/j.jsonl")});
  EXPECT_EQ(linked.exit_code, 2) << linked.output;
  EXPECT_THAT(linked.output, HasSubstr("lies inside the data folder " + dir_.Sub("r7")));
  EXPECT_TRUE(fs::is_empty(dir_.Sub("r7")));
  // The folder's listing is as it was.
  const CliResult checked = RunCli({"restore", "--from=" + backups, "--list", "--check"});
  EXPECT_EQ(checked.exit_code, 0) << checked.output;
}

}  // namespace
}  // namespace evenhand
