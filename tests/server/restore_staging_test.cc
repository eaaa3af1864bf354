// A restore stopped part way (a signal, a power cut) left its staging
// folder and journal, "<to>.restoring-XXXXXX", for ever. The next restore to
// the same place removes them and says so; one a running restore holds is
// left alone, as are links and anything not named as a restore names them.
#include "integrity/restore_staging.h"

#include <filesystem>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
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

using RestoreStagingTest = BackupTest;

TEST_F(RestoreStagingTest, WhatAStoppedRestoreLeftIsRemovedByTheNextAndNothingElse) {
  StartServer();
  const std::string backups = dir_.Sub("backups");
  AppendSome("a-", 10);
  ASSERT_TRUE(Backup(backups).complete());
  StopServer();

  const std::string to = dir_.Sub("restored");
  const std::string journal = to + ".checkpoints.jsonl";
  // Left by a restore that was stopped: a folder part written, a journal.
  fs::create_directories(to + ".restoring-Ab12Cd/sub");
  WriteFile(to + ".restoring-Ab12Cd/sub/000001.sst", "part of a table file");
  WriteFile(journal + ".restoring-Zz9Yy8", "{\"half a line");
  // Held by a restore still running (this test holds its lock).
  absl::StatusOr<integrity::StagedPath> running =
      integrity::StagedPath::Create(to, /*folder=*/true);
  ASSERT_TRUE(running.ok()) << running.status();
  WriteFile(running->path() + "/000002.sst", "another restore's");
  // A link by that name, and names a restore does not make.
  fs::create_directories(dir_.Sub("elsewhere"));
  WriteFile(dir_.Sub("elsewhere/keep"), "not the restore's");
  fs::create_directory_symlink(dir_.Sub("elsewhere"), to + ".restoring-Link00");
  fs::create_directories(to + ".restoring-toolong");
  fs::create_directories(to + ".restoring-a.b_cd");

  CliResult restored = RunCli({"restore", "--from=" + backups, "--to=" + to});
  ASSERT_EQ(restored.exit_code, 0) << restored.output;
  EXPECT_THAT(restored.output, AllOf(HasSubstr("removed " + to +
                                               ".restoring-Ab12Cd, left by a restore that was "
                                               "stopped part way"),
                                     HasSubstr("removed " + journal + ".restoring-Zz9Yy8"),
                                     Not(HasSubstr(running->path())), Not(HasSubstr("Link00"))))
      << restored.output;
  EXPECT_FALSE(fs::exists(to + ".restoring-Ab12Cd"));
  EXPECT_FALSE(fs::exists(journal + ".restoring-Zz9Yy8"));
  EXPECT_EQ(ReadFile(running->path() + "/000002.sst"), "another restore's");
  EXPECT_TRUE(fs::is_symlink(to + ".restoring-Link00"));
  EXPECT_EQ(ReadFile(dir_.Sub("elsewhere/keep")), "not the restore's");
  EXPECT_TRUE(fs::exists(to + ".restoring-toolong"));
  EXPECT_TRUE(fs::exists(to + ".restoring-a.b_cd"));
  // The restore itself left nothing of its own beside what it restored.
  std::set<std::string> beside;
  for (const auto& entry : fs::directory_iterator(dir_.path())) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("restored", 0) == 0) beside.insert(name);
  }
  EXPECT_EQ(beside, (std::set<std::string>{
                        "restored", "restored.checkpoints.jsonl",
                        fs::path(running->path()).filename().string(), "restored.restoring-Link00",
                        "restored.restoring-toolong", "restored.restoring-a.b_cd"}));
}

}  // namespace
}  // namespace evenhand
