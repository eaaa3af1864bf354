// Backups found damaged in their folder, after they were taken: a file
// missing, or the description RocksDB keeps of each (meta/<id>) with its
// Even Hand manifest damaged. Each is listed as damaged, never passed over
// for an older one, and kept for the operator.
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/backup_fixture.h"
#include "tests/testing/log_files.h"

namespace evenhand {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

// A backup one of whose files is missing was left out of the list, and a
// restore of "the newest" restored the one before it with exit 0, dropping
// what came after (outside probe). It is listed as damaged, naming the file,
// and a restore of the newest is refused, naming the complete ones.
TEST_F(BackupTest, ABackupMissingAFileIsListedAsDamagedAndNeverPassedOver) {
  StartServer();
  const std::string backups = dir_.Sub("backups");
  AppendSome("a-", 30);
  const uint32_t first = Backup(backups).backup_id();
  AppendSome("b-", 30);
  const uint32_t second = Backup(backups).backup_id();
  StopServer();
  auto files_of = [&](uint32_t id) {
    std::set<std::string> files;
    std::ifstream meta(fs::path(backups) / "meta" / std::to_string(id));
    std::string line;
    while (std::getline(meta, line)) {
      const std::string path = line.substr(0, line.find(' '));
      if (path.find('/') != std::string::npos) files.insert(path);
    }
    return files;
  };
  const std::set<std::string> earlier = files_of(first);
  std::string only_second;  // one of its own (private/<id>/), which no later backup copies
  for (const std::string& f : files_of(second)) {
    if (!earlier.contains(f) && absl::StartsWith(f, "private/")) only_second = f;
  }
  ASSERT_FALSE(only_second.empty());
  ASSERT_TRUE(fs::remove(fs::path(backups) / only_second));

  CliResult listed = RunCli({"restore", "--from=" + backups, "--list"});
  EXPECT_EQ(listed.exit_code, 0) << listed.output;
  EXPECT_THAT(listed.output, AllOf(HasSubstr("DAMAGED (not restorable)"),
                                   HasSubstr(only_second + ", one of its files, is missing")));
  CliResult newest = RunCli({"restore", "--from=" + backups, "--to=" + dir_.Sub("restored")});
  EXPECT_EQ(newest.exit_code, 1) << newest.output;
  EXPECT_THAT(newest.output,
              AllOf(HasSubstr(absl::StrCat("the newest backup, ", second)), HasSubstr("is damaged"),
                    HasSubstr(absl::StrCat("Complete backups: ", first))));
  EXPECT_FALSE(fs::exists(dir_.Sub("restored")));
  CliResult named = RunCli({"restore", "--from=" + backups, "--backup=" + std::to_string(second),
                            "--to=" + dir_.Sub("restored")});
  EXPECT_EQ(named.exit_code, 1) << named.output;
  EXPECT_THAT(named.output, HasSubstr(absl::StrCat("backup ", second, ", in ")));
  CliResult older = RunCli({"restore", "--from=" + backups, "--backup=" + std::to_string(first),
                            "--to=" + dir_.Sub("restored")});
  EXPECT_EQ(older.exit_code, 0) << older.output;

  // Kept for the operator to look at: RocksDB's first delete in a folder
  // would take what is left of a damaged backup's files, so retention
  // deletes nothing while one is there (reviewed against RocksDB 7.8).
  v1::ServerConfig keep_one;
  keep_one.mutable_backup()->set_keep(1);
  StartServer(keep_one);
  AppendSome("c-", 5);
  const v1::BackupInfo third = Backup(backups);
  EXPECT_TRUE(third.complete());
  EXPECT_EQ(third.purged_backup_ids_size(), 0);
  EXPECT_THAT(third.not_pruned(),
              AllOf(HasSubstr(absl::StrCat("backup ", second, " in the folder is damaged")),
                    HasSubstr(only_second)))
      << "the one taking it is told that the folder now only grows";
  StopServer();
  CliResult after = RunCli({"restore", "--from=" + backups, "--list"});
  EXPECT_THAT(after.output, AllOf(HasSubstr(only_second + ", one of its files, is missing"),
                                  HasSubstr(absl::StrCat("\n", first, " "))))
      << "the damaged backup and the one retention would have deleted are both still there";
}

// A backup whose Even Hand manifest (kept by RocksDB in the backup's
// description, meta/<id>, as hex) was damaged was listed INCOMPLETE, as if
// interrupted (outside probe). It is damaged, and says where.
TEST_F(BackupTest, ABackupWhoseManifestIsDamagedIsListedAsDamaged) {
  StartServer();
  const std::string backups = dir_.Sub("backups");
  AppendSome("a-", 10);
  const uint32_t first = Backup(backups).backup_id();
  AppendSome("b-", 10);
  const uint32_t second = Backup(backups).backup_id();
  StopServer();
  // The manifest's first character, "{" (7B), made an "x" (78): hex still,
  // so RocksDB reads the description, and the manifest is no longer JSON.
  const fs::path meta = fs::path(backups) / "meta" / std::to_string(second);
  std::string text = ::evenhand::testing::ReadFile(meta);
  const size_t at = text.find("metadata 7B");
  ASSERT_NE(at, std::string::npos) << text;
  text[at + 10] = '8';
  ::evenhand::testing::WriteFile(meta, text);

  CliResult listed = RunCli({"restore", "--from=" + backups, "--list"});
  EXPECT_EQ(listed.exit_code, 0) << listed.output;
  EXPECT_THAT(listed.output,
              AllOf(HasSubstr("DAMAGED (not restorable): its Even Hand manifest, kept in " +
                              backups + "/meta/" + std::to_string(second) + ", is damaged"),
                    Not(HasSubstr("INCOMPLETE"))));
  CliResult newest = RunCli({"restore", "--from=" + backups, "--to=" + dir_.Sub("restored")});
  EXPECT_EQ(newest.exit_code, 1) << newest.output;
  EXPECT_THAT(newest.output,
              AllOf(HasSubstr(absl::StrCat("the newest backup, ", second)), HasSubstr("is damaged"),
                    HasSubstr(absl::StrCat("Complete backups: ", first))));
  EXPECT_FALSE(fs::exists(dir_.Sub("restored")));
}

// A bit changed inside a shared table file, its size kept: a listing does
// not read it, a restore does and refuses. That restore remembers it, as a
// backup that finds it does, so the listing and its --check call the
// backups sharing it damaged (an outside probe: they stayed "complete" and
// the nightly check green until the next backup).
TEST_F(BackupTest, ASharedFileARestoreFindsDamagedIsRememberedForListings) {
  StartServer();
  const std::string backups = dir_.Sub("backups");
  AppendSome("a-", 30);
  Backup(backups);
  StopServer();
  std::string table;
  for (const auto& entry : fs::directory_iterator(fs::path(backups) / "shared_checksum")) {
    if (entry.path().extension() == ".sst") table = entry.path().string();
  }
  ASSERT_FALSE(table.empty());
  {
    std::fstream f(table, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    char c = 0;
    f.seekg(100);
    f.get(c);
    f.seekp(100);
    f.put(static_cast<char>(c ^ 0x10));
  }
  ASSERT_EQ(RunCli({"restore", "--from=" + backups, "--list", "--check"}).exit_code, 0)
      << "a listing reads no shared file whole";
  CliResult restored = RunCli({"restore", "--from=" + backups, "--to=" + dir_.Sub("restored")});
  EXPECT_NE(restored.exit_code, 0) << restored.output;
  EXPECT_THAT(restored.output, HasSubstr("is remembered as damaged"));
  EXPECT_FALSE(fs::exists(dir_.Sub("restored")));
  CliResult checked = RunCli({"restore", "--from=" + backups, "--list", "--check"});
  EXPECT_NE(checked.exit_code, 0) << checked.output;
  EXPECT_THAT(checked.output, HasSubstr("DAMAGED"));
  EXPECT_TRUE(fs::exists(fs::path(backups) / "damaged-shared-files"));
}

}  // namespace
}  // namespace evenhand
