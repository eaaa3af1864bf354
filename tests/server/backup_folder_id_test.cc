// A backup folder's id (evenhand/folder) is made once, by its first backup,
// and every seal names it (integrity/backup_seal.h). Removed, it was made
// anew by the next backup, and every earlier backup read DAMAGED for good;
// replaced with another folder's, the next backup was sealed under that
// folder's id (re-probe). Now neither is taken, the listing names the file
// (not only each backup), and putting it back as the refusal says mends the
// folder.
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "integrity/backup_seal.h"
#include "integrity/backups.h"
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

class BackupFolderIdTest : public BackupTest {
 protected:
  // A server with five events and two backup folders: `backups_` with
  // backups 1 and 2, and `other_` with its backup 1, taken between them
  // (after five events more, if `append_between`).
  void TwoFolders(bool append_between) {
    StartServer();
    backups_ = dir_.Sub("backups");
    other_ = dir_.Sub("other");
    AppendSome("a-", 5);
    ASSERT_TRUE(Backup(backups_).complete());
    ASSERT_TRUE(Backup(other_).complete());
    if (append_between) AppendSome("b-", 5);
    ASSERT_TRUE(Backup(backups_).complete());
  }

  std::string backups_;
  std::string other_;
};

TEST_F(BackupFolderIdTest, AFolderIdRemovedOrReplacedRefusesTheNextBackupAndIsNamed) {
  ASSERT_NO_FATAL_FAILURE(TwoFolders(/*append_between=*/true));
  const std::string& backups = backups_;
  const std::string& other = other_;
  const std::string id_file = backups + "/evenhand/folder";
  const std::string id = integrity::BackupFolderId(backups);
  const std::string other_id = integrity::BackupFolderId(other);
  ASSERT_EQ(id.size(), 36u);
  ASSERT_NE(id, other_id);
  EXPECT_EQ(integrity::BackupFolderIdProblem(backups), "");

  // Removed: refused, saying what it was and how to put it back; no id
  // made, no backup 3.
  fs::remove(id_file);
  v1::BackupInfo info;
  grpc::Status refused = TryBackup(backups, &info);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(refused.error_message(),
              AllOf(HasSubstr("no backup taken"), HasSubstr(id_file), HasSubstr("is missing"),
                    HasSubstr("backups 1, 2"), HasSubstr("printf '" + id + "\\n'")))
      << refused.error_message();
  EXPECT_FALSE(fs::exists(id_file));
  EXPECT_FALSE(fs::exists(backups + "/meta/3"));
  CliResult listed = RunCli({"restore", "--from=" + backups, "--list"});
  EXPECT_THAT(listed.output, AllOf(HasSubstr("warning: " + id_file), HasSubstr("is missing")))
      << listed.output;
  EXPECT_EQ(RunCli({"restore", "--from=" + backups, "--list", "--check"}).exit_code, 1);
  const CliResult restored =
      RunCli({"restore", "--from=" + backups, "--backup=1", "--to=" + dir_.Sub("restored")});
  EXPECT_EQ(restored.exit_code, 4) << restored.output;
  EXPECT_THAT(restored.output, AllOf(HasSubstr("nothing restored: " + id_file),
                                     HasSubstr("is missing"), Not(HasSubstr("RESTORED"))))
      << restored.output;
  EXPECT_FALSE(fs::exists(dir_.Sub("restored")));

  // Put back as the refusal says: every backup complete again, and the
  // next one taken.
  WriteFile(id_file, id + "\n");
  listed = RunCli({"restore", "--from=" + backups, "--list", "--check"});
  EXPECT_EQ(listed.exit_code, 0) << listed.output;
  EXPECT_THAT(listed.output, Not(HasSubstr("warning"))) << listed.output;
  ASSERT_TRUE(Backup(backups).complete());

  // Replaced with another folder's id (a copy, or a second name of its
  // file): refused, naming both ids; no backup 4.
  fs::remove(id_file);
  fs::create_hard_link(other + "/evenhand/folder", id_file);
  refused = TryBackup(backups, &info);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(refused.error_message(),
              AllOf(HasSubstr("names folder " + other_id), HasSubstr("backups 1, 2, 3"),
                    HasSubstr("sealed naming folder " + id)))
      << refused.error_message();
  EXPECT_FALSE(fs::exists(backups + "/meta/4"));
  listed = RunCli({"restore", "--from=" + backups, "--list"});
  EXPECT_THAT(listed.output, HasSubstr("names folder " + other_id)) << listed.output;
  // The other folder is untouched by all this, and still takes backups.
  EXPECT_EQ(ReadFile(other + "/evenhand/folder"), other_id + "\n");
  ASSERT_TRUE(Backup(other).complete());

  // Not an id at all: refused, and named.
  fs::remove(id_file);
  WriteFile(id_file, "not a folder id\n");
  refused = TryBackup(backups, &info);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(refused.error_message(), AllOf(HasSubstr("is not what a backup makes there"),
                                             HasSubstr("are sealed naming folder " + id +
                                                       ": put it back with (umask 077; printf '" +
                                                       id + "\\n' > " + id_file + ")")))
      << refused.error_message();
  EXPECT_EQ(ReadFile(id_file), "not a folder id\n");
  EXPECT_FALSE(fs::exists(backups + "/meta/4"));
}

// Another folder's backup put in with this folder's id left as it was: the
// next backup is refused, naming the backup that is not this folder's.
TEST_F(BackupFolderIdTest, AnotherFoldersSealPutInRefusesTheNextBackup) {
  ASSERT_NO_FATAL_FAILURE(TwoFolders(/*append_between=*/false));
  const std::string& backups = backups_;
  const std::string& other = other_;
  fs::copy_file(other + "/evenhand/1/seal", backups + "/evenhand/2/seal",
                fs::copy_options::overwrite_existing);
  v1::BackupInfo info;
  const grpc::Status refused = TryBackup(backups, &info);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(refused.error_message(), AllOf(HasSubstr("backup 2 in it is sealed naming folder " +
                                                       integrity::BackupFolderId(other)),
                                             HasSubstr("moved aside")))
      << refused.error_message();
  EXPECT_FALSE(fs::exists(backups + "/meta/3"));
  // Moved aside, the folder takes backups again.
  fs::remove_all(backups + "/evenhand/2");
  fs::remove_all(backups + "/private/2");
  fs::remove(backups + "/meta/2");
  EXPECT_TRUE(Backup(backups).complete());
}

// The Even Hand parts read through a link (re-probe: listed complete while
// every backup was refused, with nothing said of why).
TEST_F(BackupFolderIdTest, EvenHandPartsThroughALinkAreNamedAndRefused) {
  StartServer();
  const std::string backups = dir_.Sub("backups");
  AppendSome("a-", 5);
  ASSERT_TRUE(Backup(backups).complete());
  const std::string elsewhere = dir_.Sub("elsewhere");
  MoveAndLinkBack(backups + "/evenhand", elsewhere);
  v1::BackupInfo info;
  const grpc::Status refused = TryBackup(backups, &info);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(refused.error_message(), HasSubstr("symbolic link \"evenhand\""))
      << refused.error_message();
  EXPECT_FALSE(fs::exists(backups + "/meta/2"));
  const CliResult listed = RunCli({"restore", "--from=" + backups, "--list", "--check"});
  EXPECT_EQ(listed.exit_code, 1) << listed.output;
  EXPECT_THAT(listed.output, HasSubstr("warning: " + backups + "/evenhand (every backup"))
      << listed.output;
  const CliResult restored =
      RunCli({"restore", "--from=" + backups, "--to=" + dir_.Sub("restored")});
  EXPECT_EQ(restored.exit_code, 4) << restored.output;
  EXPECT_THAT(restored.output, HasSubstr("nothing restored: " + backups + "/evenhand (every"))
      << restored.output;

  // One backup's part a link to a copy elsewhere: that backup is damaged.
  fs::remove(backups + "/evenhand");
  fs::create_directory(backups + "/evenhand");
  fs::copy(elsewhere + "/folder", backups + "/evenhand/folder");
  fs::create_directory_symlink(elsewhere + "/1", backups + "/evenhand/1");
  const CliResult one = RunCli({"restore", "--from=" + backups, "--list"});
  EXPECT_THAT(one.output, HasSubstr("DAMAGED (not restorable): " + backups +
                                    "/evenhand/1 is not a folder of its own"))
      << one.output;
}

// A sealed backup's manifest removed from its description, or given a later
// format's version, read INCOMPLETE (as a backup not taken by this
// evenhand), so "the newest" became the one before it with nothing said
// (re-probe). Its seal names the description it was taken with.
TEST_F(BackupFolderIdTest, ASealedBackupsManifestRemovedOrOfALaterFormatIsDamage) {
  StartServer();
  const std::string backups = dir_.Sub("backups");
  AppendSome("a-", 5);
  ASSERT_TRUE(Backup(backups).complete());
  AppendSome("b-", 5);
  ASSERT_TRUE(Backup(backups).complete());
  ASSERT_TRUE(Backup(backups).complete());
  // Backup 2: its manifest's line removed; backup 3: its version raised.
  auto edit = [](const std::string& meta, bool remove) {
    std::vector<std::string> lines = absl::StrSplit(ReadFile(meta), '\n');
    std::vector<std::string> kept;
    for (std::string& line : lines) {
      if (absl::StartsWith(line, "metadata ")) {
        if (remove) continue;
        absl::StatusOr<v1::BackupManifest> manifest =
            integrity::ParseManifest(absl::HexStringToBytes(line.substr(9)));
        EXPECT_TRUE(manifest.ok()) << manifest.status();
        manifest->set_format_version(integrity::kBackupFormatVersion + 1);
        line = "metadata " + absl::BytesToHexString(integrity::ManifestJson(*manifest));
      }
      kept.push_back(line);
    }
    WriteFile(meta, absl::StrJoin(kept, "\n"));
  };
  edit(backups + "/meta/2", /*remove=*/true);
  edit(backups + "/meta/3", /*remove=*/false);
  const CliResult listed = RunCli({"restore", "--from=" + backups, "--list"});
  EXPECT_THAT(listed.output,
              HasSubstr("(" + backups + "/meta/2) is not the one it was sealed with"))
      << listed.output;
  EXPECT_THAT(listed.output,
              HasSubstr("(" + backups + "/meta/3) is not the one it was sealed with"))
      << listed.output;
  EXPECT_EQ(RunCli({"restore", "--from=" + backups, "--list", "--check"}).exit_code, 1);
  // "The newest" is not quietly backup 1: a restore is refused.
  const CliResult restored =
      RunCli({"restore", "--from=" + backups, "--to=" + dir_.Sub("restored")});
  EXPECT_NE(restored.exit_code, 0) << restored.output;
  EXPECT_THAT(restored.output, Not(HasSubstr("RESTORED"))) << restored.output;
  // Their seals removed too: what their Even Hand parts hold still says so
  // (a part is moved in only after the description has its manifest; its
  // copy of the manifest is of this format).
  fs::remove(backups + "/evenhand/2/seal");
  fs::remove(backups + "/evenhand/3/seal");
  CliResult unsealed = RunCli({"restore", "--from=" + backups, "--list"});
  EXPECT_THAT(unsealed.output,
              AllOf(HasSubstr("its description (" + backups +
                              "/meta/2) holds no Even Hand manifest, though its Even Hand part"),
                    HasSubstr("its description's manifest (" + backups +
                              "/meta/3) is of a later format than its Even Hand part's copy")))
      << unsealed.output;
  // With no Even Hand part either, backup 2 is one evenhand did not take:
  // incomplete, and said why.
  fs::remove_all(backups + "/evenhand/2");
  unsealed = RunCli({"restore", "--from=" + backups, "--list"});
  EXPECT_THAT(unsealed.output, HasSubstr("INCOMPLETE (not restorable): its description holds no "
                                         "Even Hand manifest: it was not taken by evenhand backup"))
      << unsealed.output;
  // The server's listing says so too, the reason last on its line.
  const CliResult online =
      RunCli({"--server=" + server_->address(), "backup", "--to=" + backups, "--list"});
  EXPECT_THAT(online.output,
              AllOf(HasSubstr("SIGNING KEY      STATE\n"),
                    HasSubstr("  -                INCOMPLETE: its description holds no Even Hand "
                              "manifest: it was not taken by evenhand backup\n")))
      << online.output;
  const CliResult two =
      RunCli({"restore", "--from=" + backups, "--backup=2", "--to=" + dir_.Sub("two")});
  EXPECT_EQ(two.exit_code, 4) << two.output;
  EXPECT_THAT(two.output, HasSubstr("backup 2 in " + backups +
                                    " is incomplete: its description "
                                    "holds no Even Hand manifest"))
      << two.output;
  // Backup 1, untouched, is restored when asked for.
  EXPECT_EQ(
      RunCli({"restore", "--from=" + backups, "--backup=1", "--to=" + dir_.Sub("one")}).exit_code,
      0);
  // Backup 2 fails a check even with a newer backup complete: evenhand
  // writes a manifest into every backup, and retention never deletes one
  // without (re-probe: with its Even Hand part gone, nothing else told).
  fs::remove_all(backups + "/evenhand/3");
  fs::remove_all(backups + "/private/3");
  fs::remove(backups + "/meta/3");
  ASSERT_TRUE(Backup(backups).complete());
  const CliResult check = RunCli({"restore", "--from=" + backups, "--list", "--check"});
  EXPECT_EQ(check.exit_code, 1) << check.output;
  EXPECT_THAT(check.output, HasSubstr("backup 2 is incomplete (its description holds no Even "
                                      "Hand manifest"))
      << check.output;
}

// The id as a backup writes it: in lowercase (an uppercase one read as
// "another folder's", with advice to move genuine backups aside: re-probe).
// And missing while seals name two folders, no one id is offered to put
// back (the most sealed, or the first, may be the intruder's).
TEST_F(BackupFolderIdTest, AnIdNotAsWrittenOrSealsNamingTwoFoldersAreSaidAsSuch) {
  ASSERT_NO_FATAL_FAILURE(TwoFolders(/*append_between=*/false));
  const std::string& backups = backups_;
  const std::string& other = other_;
  const std::string id_file = backups + "/evenhand/folder";
  const std::string id = integrity::BackupFolderId(backups);
  fs::remove(id_file);
  WriteFile(id_file, absl::AsciiStrToUpper(id) + "\n");
  v1::BackupInfo info;
  grpc::Status refused = TryBackup(backups, &info);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(refused.error_message(),
              AllOf(HasSubstr("is not what a backup makes there (a UUID in lowercase"),
                    HasSubstr("printf '" + id + "\\n'"), Not(HasSubstr("another folder"))))
      << refused.error_message();

  fs::remove(id_file);
  fs::copy_file(other + "/evenhand/1/seal", backups + "/evenhand/2/seal",
                fs::copy_options::overwrite_existing);
  refused = TryBackup(backups, &info);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(
      refused.error_message(),
      AllOf(HasSubstr("backup 1 is sealed naming folder " + id),
            HasSubstr("backup 2 is sealed naming folder " + integrity::BackupFolderId(other)),
            HasSubstr("cannot be told here"), Not(HasSubstr("printf"))))
      << refused.error_message();
  EXPECT_FALSE(fs::exists(id_file));
  EXPECT_FALSE(fs::exists(backups + "/meta/3"));
}

}  // namespace
}  // namespace evenhand
