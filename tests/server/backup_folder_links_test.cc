// A backup folder others can write to is not a way to make the server
// write, delete or wait elsewhere (outside probe): a link or a FIFO at the
// marker of damaged shared files, or a link in place of RocksDB's folders,
// refuses the backup and touches nothing through it; and two servers
// backing up into one folder at once take turns (one is refused while the
// other holds the folder) instead of sharing one backup id; and another
// log's backup keeps this log out even with its manifest damaged.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/backup_fixture.h"
#include "tests/testing/log_files.h"

namespace evenhand {
namespace {

namespace fs = std::filesystem;
using ::evenhand::testing::ReadFile;
using ::evenhand::testing::WriteFile;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

using BackupFolderLinksTest = BackupTest;

TEST_F(BackupFolderLinksTest, AMarkerThatIsALinkOrAFifoIsNeverWrittenThrough) {
  StartServer();
  const std::string backups = dir_.Sub("backups");
  AppendSome("a-", 5);
  ASSERT_TRUE(Backup(backups).complete());
  const std::string marker = backups + "/damaged-shared-files";
  // What it remembers cannot be read: a listing says so, and fails a check
  // (re-probe: it said "complete" and nothing else).
  auto expect_listing_warns = [&](bool warns) {
    const CliResult listed = RunCli({"restore", "--from=" + backups, "--list"});
    EXPECT_EQ(listed.exit_code, 0) << listed.output;
    const CliResult checked = RunCli({"restore", "--from=" + backups, "--list", "--check"});
    if (warns) {
      EXPECT_THAT(listed.output,
                  HasSubstr("evenhand: warning: " + marker + " is not what a backup makes there"));
      EXPECT_EQ(checked.exit_code, 1) << checked.output;
      EXPECT_THAT(checked.output, HasSubstr("VERIFICATION FAILED: backups in " + backups + ": " +
                                            marker + " is not what a backup makes there"));
    } else {
      EXPECT_THAT(listed.output, Not(HasSubstr("warning")));
      EXPECT_EQ(checked.exit_code, 0) << checked.output;
    }
  };
  // A link to a file of the server's own (its journal, in the probe).
  WriteFile(dir_.Sub("precious"), "not the server's to write\n");
  fs::create_symlink(dir_.Sub("precious"), marker);
  AppendSome("b-", 5);
  v1::BackupInfo info;
  grpc::Status refused = TryBackup(backups, &info);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << refused.error_message();
  EXPECT_THAT(refused.error_message(),
              AllOf(HasSubstr(marker), HasSubstr("is not what a backup makes there")));
  EXPECT_EQ(ReadFile(dir_.Sub("precious")), "not the server's to write\n");
  expect_listing_warns(true);
  // A hard link to it: the same (re-probe: written through).
  fs::remove(marker);
  fs::create_hard_link(dir_.Sub("precious"), marker);
  refused = TryBackup(backups, &info);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << refused.error_message();
  EXPECT_EQ(ReadFile(dir_.Sub("precious")), "not the server's to write\n");
  expect_listing_warns(true);
  // A FIFO: refused at once, not waited on (it hung every backup, and the
  // server's stop).
  fs::remove(marker);
  ASSERT_EQ(::mkfifo(marker.c_str(), 0600), 0);
  refused = TryBackup(backups, &info);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << refused.error_message();
  expect_listing_warns(true);
  // Put right (removed), backups go on.
  fs::remove(marker);
  expect_listing_warns(false);
  EXPECT_TRUE(Backup(backups).complete());
}

// RocksDB writes a new backup's description as meta/.<id>.tmp (and its
// files as <name>.tmp): a FIFO there hung the backup, every backup after
// it, into any folder, and the server's stop (outside probe). Anything in
// RocksDB's folders that is not what RocksDB keeps there refuses backups,
// and listings say so.
TEST_F(BackupFolderLinksTest, AFifoWhereRocksDbWritesRefusesTheBackupAndHangsNothing) {
  StartServer();
  const std::string backups = dir_.Sub("backups");
  AppendSome("a-", 5);
  ASSERT_TRUE(Backup(backups).complete());
  for (const std::string& fifo :
       {backups + "/meta/.2.tmp", backups + "/shared_checksum/000001_1_1.sst.tmp",
        backups + "/private/2.tmp", backups + "/private/1/CURRENT.tmp"}) {
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0) << fifo;
    v1::BackupInfo info;
    const grpc::Status refused = TryBackup(backups, &info);
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
        << fifo << ": " << refused.error_message();
    EXPECT_THAT(refused.error_message(),
                AllOf(HasSubstr(fifo), HasSubstr("is not what a backup makes there")));
    const CliResult checked = RunCli({"restore", "--from=" + backups, "--list", "--check"});
    EXPECT_EQ(checked.exit_code, 1) << checked.output;
    EXPECT_THAT(checked.output, HasSubstr("warning: " + fifo)) << checked.output;
    fs::remove(fifo);
  }
  // Another folder is backed up meanwhile, and once put right, this one.
  EXPECT_TRUE(Backup(dir_.Sub("other")).complete());
  EXPECT_TRUE(Backup(backups).complete());
}

TEST_F(BackupFolderLinksTest, RocksDbsFoldersAsLinksAreRefusedAndNothingIsDeletedThroughThem) {
  StartServer();
  const std::string backups = dir_.Sub("backups");
  AppendSome("a-", 5);
  ASSERT_TRUE(Backup(backups).complete());
  // shared_checksum/ moved elsewhere and linked back, beside a file of
  // someone else's that retention would have deleted.
  const std::string elsewhere = dir_.Sub("elsewhere");
  MoveAndLinkBack(backups + "/shared_checksum", elsewhere);
  WriteFile(elsewhere + "/precious.txt", "keep me");
  AppendSome("b-", 5);
  v1::BackupInfo info;
  grpc::Status refused = TryBackup(backups, &info);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << refused.error_message();
  EXPECT_THAT(refused.error_message(), HasSubstr(backups + "/shared_checksum"));
  EXPECT_EQ(ReadFile(elsewhere + "/precious.txt"), "keep me");
  for (const char* name : {"meta", "private"}) {
    const std::string moved = dir_.Sub(std::string("moved-") + name);
    fs::remove(backups + "/shared_checksum");
    fs::rename(elsewhere, backups + "/shared_checksum");
    MoveAndLinkBack(backups + "/" + name, moved);
    refused = TryBackup(backups, &info);
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << name;
    fs::remove(backups + "/" + name);
    fs::rename(moved, backups + "/" + name);
    MoveAndLinkBack(backups + "/shared_checksum", elsewhere);
  }
}

TEST_F(BackupFolderLinksTest, ABackupIntoAFolderAnotherProcessHoldsIsRefusedNotShared) {
  StartServer();
  const std::string backups = dir_.Sub("backups");
  AppendSome("a-", 5);
  ASSERT_TRUE(Backup(backups).complete());
  // Held as another server's backup holds it.
  const int fd = ::open(backups.c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  v1::BackupInfo info;
  const grpc::Status refused = TryBackup(backups, &info);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::ABORTED) << refused.error_message();
  EXPECT_THAT(refused.error_message(),
              HasSubstr("another backup into " + backups + " is being taken"));
  ::close(fd);
  const v1::BackupInfo second = Backup(backups);
  EXPECT_TRUE(second.complete());
  EXPECT_EQ(second.backup_id(), 2u);
}

// A backup of another log whose manifest in meta/<id> no longer parses is
// still that log's (its Even Hand part names it): a second log was let into
// the folder (re-probe).
TEST_F(BackupFolderLinksTest, AnotherLogsBackupWithADamagedManifestStillKeepsThisLogOut) {
  StartServer();
  const std::string backups = dir_.Sub("backups");
  AppendSome("a-", 5);
  ASSERT_TRUE(Backup(backups).complete());
  StopServer();
  const std::string meta = backups + "/meta/1";
  std::string text = ReadFile(meta);
  const size_t at = text.find("\nmetadata ");
  ASSERT_NE(at, std::string::npos);
  const size_t end = text.find('\n', at + 1);
  text.replace(at + 10, end - (at + 10), "7B226E6F74206A736F6E");  // {"not json
  WriteFile(meta, text);
  data_subdir_ = "another-log";
  StartServer();
  AppendSome("b-", 5);
  v1::BackupInfo info;
  const grpc::Status refused = TryBackup(backups, &info);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << refused.error_message();
  EXPECT_THAT(refused.error_message(), HasSubstr("holds backups of another log"));
}

}  // namespace
}  // namespace evenhand
