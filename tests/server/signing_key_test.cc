// The log's signing key: a start on a signed log without it is refused
// before any key is made, whatever else is missing; a new key is made only
// when asked (--start_new_checkpoint_journal), and an auditor's saved
// checkpoint is then told apart from a forged one.
#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/server.h"
#include "tests/server/backup_fixture.h"
#include "tests/testing/log_files.h"
#include "tests/testing/status_matchers.h"

namespace evenhand {
namespace {

using ::testing::HasSubstr;

using SigningKeyTest = BackupTest;

// A log whose checkpoints were signed, started without its key (a restore
// of a backup taken with --exclude-signing-key, before the key is put
// back): refused, naming the key, and no new key is made.
TEST_F(SigningKeyTest, AStartWithoutTheKeyOfASignedLogIsRefusedAndMakesNoKey) {
  StartServer();
  AppendSome("k-", 3);
  Backup(dir_.Sub("key-backups"));  // signs a checkpoint first
  // A checkpoint an auditor saved then.
  const CliResult saved = RunCli({"--server=" + server_->address(), "checkpoint"});
  ASSERT_EQ(saved.exit_code, 0) << saved.output;
  const std::string checkpoint = dir_.Sub("saved-checkpoint.json");
  testing::WriteFile(checkpoint, saved.output);
  StopServer();
  const std::string key = dir_.Sub("data/signing-key.pem");
  ASSERT_TRUE(std::filesystem::remove(key));
  server::ServerOptions options;
  options.config.set_listen("127.0.0.1:0");
  options.config.set_data_dir(dir_.Sub("data"));
  options.config.set_skip_domain_validation(true);
  EXPECT_THAT(server::EvenHandServer::Start(options),
              testing::StatusIs(
                  absl::StatusCode::kFailedPrecondition,
                  ::testing::AllOf(HasSubstr(absl::StrCat("the signing key ", key, " is missing")),
                                   HasSubstr("put the log's key back"))));
  EXPECT_FALSE(std::filesystem::exists(key));
  // Its journal not where the configuration says either (restored
  // elsewhere): the key is still what is said missing, and none is made
  // (found from outside: the start, refused for the journal, had made a
  // new key, which the start the refusal suggested then signed with).
  const std::string journal = dir_.Sub("data.checkpoints.jsonl");
  ASSERT_TRUE(std::filesystem::exists(journal));
  std::filesystem::rename(journal, dir_.Sub("journal-elsewhere.jsonl"));
  EXPECT_THAT(
      server::EvenHandServer::Start(options),
      testing::StatusIs(absl::StatusCode::kFailedPrecondition,
                        ::testing::AllOf(HasSubstr(absl::StrCat("the signing key ", key,
                                                                " is missing, but this log's "
                                                                "checkpoints were signed by it")),
                                         HasSubstr("is not there either"))));
  EXPECT_FALSE(std::filesystem::exists(key));
  // The key lost for good: a new journal, asked for, makes a new key.
  options.start_new_checkpoint_journal = true;
  absl::StatusOr<std::unique_ptr<server::EvenHandServer>> started =
      server::EvenHandServer::Start(options);
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_TRUE(std::filesystem::exists(key));
  // The auditor's saved checkpoint is genuine: verify says the key changed,
  // not that the checkpoint does not verify (found from outside).
  const CliResult verified =
      RunCli({"verify", "--server=" + (*started)->address(), "--checkpoint=" + checkpoint});
  EXPECT_NE(verified.exit_code, 0) << verified.output;
  EXPECT_THAT(verified.output,
              ::testing::AllOf(HasSubstr("your saved checkpoint names signing key "),
                               HasSubstr("and the server now signs with "),
                               HasSubstr("the log's key was replaced since")));
  (*started)->Shutdown(absl::Seconds(5));
}

}  // namespace
}  // namespace evenhand
