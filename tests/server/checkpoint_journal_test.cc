// The log never forks and never forgets what it signed, seen as an operator
// meets it: a child evenhandd started on a data folder whose log is not the
// one its checkpoint journal signed (a fork the same length as the newest
// checkpoint, and one longer), on a log whose journal was deleted, and on a
// journal whose last line a crash tore.
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "clients/audit_client.h"
#include "clients/event_log_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/child_server.h"
#include "tests/testing/events.h"
#include "tests/testing/log_files.h"
#include "tests/testing/run_program.h"
#include "tests/testing/small_disk.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace evenhand {
namespace {

namespace fs = std::filesystem;

using ::evenhand::testing::AppendRequestOf;
using ::evenhand::testing::ChildServer;
using ::evenhand::testing::LogOnlyConfig;
using ::evenhand::testing::ReadFile;
using ::evenhand::testing::SmallDisk;
using ::evenhand::testing::SomeEvents;
using ::evenhand::testing::TempDir;
using ::evenhand::testing::WriteFile;
using ::testing::AllOf;
using ::testing::HasSubstr;

// Starts evenhandd on dir's data folder (with `args`), appends `n` new
// events one at a time and stops it cleanly, which signs a checkpoint over
// the whole log. Returns the root of its tree of `size` events.
std::string AppendAndStopWith(const TempDir& dir, int generation,
                              const std::vector<std::string>& args, int n, uint64_t size) {
  ChildServer child(dir, generation, args);
  child.Start();
  if (::testing::Test::HasFatalFailure()) return "";
  for (int i = 0; i < n; ++i) EXPECT_OK(child.client().Append(AppendRequestOf("s", SomeEvents(1))));
  absl::StatusOr<v1::TreeHead> head = child.audit().GetTreeHead(size);
  EXPECT_OK(head);
  child.Signal(SIGTERM);
  const int status = child.Wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << child.Log();
  return head.ok() ? head->root_hash() : "";
}

std::string AppendAndStop(const TempDir& dir, int generation, const std::string& config, int n,
                          uint64_t size) {
  return AppendAndStopWith(dir, generation, {config}, n, size);
}

TEST(LogForkTest, ALogThatIsNotTheOneSignedIsRefusedAtStartNamingWhereItDiffers) {
  TempDir dir;
  const std::string config = LogOnlyConfig(dir);
  const std::string journal = dir.Sub("data.checkpoints.jsonl");
  // Twenty events, signed at the clean stop; a copy of the folder and of its
  // journal taken then.
  AppendAndStop(dir, 0, config, 20, 20);
  if (HasFatalFailure()) return;
  fs::copy(dir.Sub("data"), dir.Sub("copy"), fs::copy_options::recursive);
  fs::copy_file(journal, dir.Sub("copy.checkpoints.jsonl"));
  // The original goes on to thirty, signed.
  const std::string signed_30 = AppendAndStop(dir, 1, config, 10, 30);
  if (HasFatalFailure()) return;
  const std::string signed_journal = ReadFile(journal);
  fs::rename(dir.Sub("data"), dir.Sub("original"));
  fs::rename(journal, dir.Sub("original.checkpoints.jsonl"));
  // The copy, with the journal it was taken with, goes on to thirty other
  // events: a fork that shares positions 1..20 and signs its own 30.
  fs::rename(dir.Sub("copy"), dir.Sub("data"));
  fs::rename(dir.Sub("copy.checkpoints.jsonl"), journal);
  const std::string fork_30 = AppendAndStop(dir, 2, config, 10, 30);
  if (HasFatalFailure()) return;
  ASSERT_FALSE(signed_30.empty());
  ASSERT_FALSE(fork_30.empty());
  ASSERT_NE(fork_30, signed_30);
  fs::rename(journal, dir.Sub("fork.checkpoints.jsonl"));

  // The fork with the original's journal: refused, naming the positions
  // that differ, both roots, where they still agree and what to do.
  auto expect_refused = [&](int generation) {
    fs::copy_file(dir.Sub("original.checkpoints.jsonl"), journal,
                  fs::copy_options::overwrite_existing);
    ChildServer child(dir, generation, {config});
    const int status = child.StartExpectingFailure();
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0) << child.Log();
    EXPECT_THAT(child.Log(),
                AllOf(HasSubstr("the log in this data folder is not the one that was signed"),
                      HasSubstr("the events at positions 21..30 are not the ones the checkpoint "
                                "of tree size 30"),
                      HasSubstr("its root is " + absl::BytesToHexString(signed_30)),
                      HasSubstr("the log's tree of that size has root " +
                                absl::BytesToHexString(fork_30)),
                      HasSubstr("the log agrees with what was signed up to position 20"),
                      HasSubstr("restore the data folder from a backup"),
                      HasSubstr("--start_new_checkpoint_journal")));
    // Nothing was signed over the fork.
    EXPECT_EQ(ReadFile(journal), signed_journal);
  };
  // The same length as the newest checkpoint...
  expect_refused(3);
  // ...and longer: the fork, with its own journal, goes on to 35 first.
  fs::copy_file(dir.Sub("fork.checkpoints.jsonl"), journal, fs::copy_options::overwrite_existing);
  AppendAndStop(dir, 4, config, 5, 35);
  if (HasFatalFailure()) return;
  expect_refused(5);

  // The original folder with the same journal starts: the refusals were the
  // fork's.
  fs::remove_all(dir.Sub("data"));
  fs::rename(dir.Sub("original"), dir.Sub("data"));
  ChildServer original(dir, 6, {config});
  original.Start();
  if (HasFatalFailure()) return;
  auto r = original.client().Append(AppendRequestOf("s", SomeEvents(1)));
  ASSERT_OK(r);
  EXPECT_EQ(r->positions(0), 31u);
}

TEST(CheckpointJournalTest, ADeletedJournalIsRefusedAtEveryStartUntilTheOperatorDecides) {
  TempDir dir;
  const std::string config = LogOnlyConfig(dir);
  const std::string journal = dir.Sub("data.checkpoints.jsonl");
  AppendAndStop(dir, 0, config, 5, 5);
  if (HasFatalFailure()) return;
  ASSERT_FALSE(ReadFile(journal).empty());
  fs::remove(journal);
  // Refused, and refused again: a refused start leaves behind no journal
  // that the next one would take for this log's.
  for (int generation = 1; generation <= 2; ++generation) {
    ChildServer child(dir, generation, {config});
    const int status = child.StartExpectingFailure();
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0) << child.Log();
    EXPECT_THAT(child.Log(),
                AllOf(HasSubstr("the checkpoint journal " + journal +
                                " is missing, but this log has kept one"),
                      HasSubstr("the journal was deleted or moved"),
                      HasSubstr("Restore the journal from a backup"),
                      HasSubstr("--start_new_checkpoint_journal")));
    EXPECT_FALSE(fs::exists(journal)) << "a refused start left a journal behind";
  }
  // The operator knowingly starts a new journal: the log goes on from 5.
  ChildServer continued(dir, 3, {config, "--start_new_checkpoint_journal"});
  continued.Start();
  if (HasFatalFailure()) return;
  EXPECT_THAT(continued.Log(), HasSubstr("Starting a new journal, as asked"));
  auto r = continued.client().Append(AppendRequestOf("s", SomeEvents(1)));
  ASSERT_OK(r);
  EXPECT_EQ(r->positions(0), 6u);
}

// Emptied rather than deleted (its file left, what it held gone): refused
// the same way, at every start, until the operator decides.
TEST(CheckpointJournalTest, AnEmptiedJournalIsRefusedAsADeletedOneIs) {
  TempDir dir;
  const std::string config = LogOnlyConfig(dir);
  const std::string journal = dir.Sub("data.checkpoints.jsonl");
  AppendAndStop(dir, 0, config, 5, 5);
  if (HasFatalFailure()) return;
  ASSERT_FALSE(ReadFile(journal).empty());
  WriteFile(journal, "");
  for (int generation = 1; generation <= 2; ++generation) {
    ChildServer child(dir, generation, {config});
    const int status = child.StartExpectingFailure();
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0) << child.Log();
    EXPECT_THAT(child.Log(),
                AllOf(HasSubstr("the checkpoint journal " + journal + " holds no checkpoint"),
                      HasSubstr("it was emptied"), HasSubstr("Restore the journal from a backup"),
                      HasSubstr("--start_new_checkpoint_journal")));
  }
  // The operator knowingly starts a new journal: the log goes on from 5,
  // and later starts take the new journal for this log's.
  AppendAndStopWith(dir, 3, {config, "--start_new_checkpoint_journal"}, 1, 6);
  if (HasFatalFailure()) return;
  ChildServer again(dir, 4, {config});
  again.Start();
  if (HasFatalFailure()) return;
  auto r = again.client().Append(AppendRequestOf("s", SomeEvents(1)));
  ASSERT_OK(r);
  EXPECT_EQ(r->positions(0), 7u);
}

TEST(CheckpointJournalTest, ATornLastLineIsDroppedWithAWarningAndTheServerStarts) {
  TempDir dir;
  const std::string config = LogOnlyConfig(dir);
  const std::string journal = dir.Sub("data.checkpoints.jsonl");
  AppendAndStop(dir, 0, config, 5, 5);
  if (HasFatalFailure()) return;
  const std::string before = ReadFile(journal);
  ASSERT_FALSE(before.empty());
  ASSERT_EQ(before.back(), '\n');
  // A crash while the next line was written: half of one, no newline.
  const size_t newline = before.rfind('\n', before.size() - 2);
  const std::string last = before.substr(newline == std::string::npos ? 0 : newline + 1);
  const std::string torn = last.substr(0, last.size() / 2);
  std::ofstream(journal, std::ios::app) << torn;
  ASSERT_EQ(ReadFile(journal), before + torn);

  ChildServer child(dir, 1, {config});
  child.Start();
  if (HasFatalFailure()) return;
  EXPECT_THAT(child.Log(), AllOf(HasSubstr(absl::StrCat("the checkpoint journal ", journal,
                                                        " ends in a torn line (", torn.size(),
                                                        " bytes without a newline")),
                                 HasSubstr("dropping it")));
  EXPECT_EQ(ReadFile(journal), before);
  EXPECT_OK(child.audit().GetCheckpoint(5));
  auto r = child.client().Append(AppendRequestOf("s", SomeEvents(1)));
  ASSERT_OK(r);
  EXPECT_EQ(r->positions(0), 6u);
}

// The newline after the last line lost (or changed) while the line is
// whole: a signed checkpoint, served once, so it is evidence and is kept,
// the newline put back (it was dropped as if torn: outside probe).
TEST(CheckpointJournalTest, AWholeLastLineWithoutItsNewlineIsKept) {
  TempDir dir;
  const std::string config = LogOnlyConfig(dir);
  const std::string journal = dir.Sub("data.checkpoints.jsonl");
  AppendAndStop(dir, 0, config, 5, 5);
  if (HasFatalFailure()) return;
  const std::string before = ReadFile(journal);
  ASSERT_EQ(before.back(), '\n');
  const size_t lines = std::count(before.begin(), before.end(), '\n');
  int generation = 0;
  for (const std::string& end : {std::string(""), std::string(" "), std::string(1, '\0'),
                                 std::string(100, '\0'), std::string("x")}) {
    SCOPED_TRACE(absl::StrCat("the newline replaced by ", end.size(), " byte(s) ",
                              absl::CHexEscape(end.substr(0, 1))));
    WriteFile(journal, before.substr(0, before.size() - 1) + end);
    ChildServer child(dir, ++generation, {config});
    child.Start();
    if (HasFatalFailure()) return;
    EXPECT_THAT(child.Log(), AllOf(HasSubstr("ends in a whole signed checkpoint without its "
                                             "newline"),
                                   ::testing::Not(HasSubstr("dropping it"))));
    // What it held, each line as written (what followed the last dropped),
    // then what this start signed.
    const std::string after = ReadFile(journal);
    EXPECT_EQ(after.substr(0, before.size()), before);
    EXPECT_OK(child.audit().GetCheckpoint(5));
    child.Signal(SIGTERM);
    child.Wait();
    WriteFile(journal, before);
  }
  EXPECT_EQ(static_cast<size_t>(std::count(before.begin(), before.end(), '\n')), lines);
}

// A line of another log's journal put among this log's lines: damage, at
// that line (it was called a swapped journal: outside probe).
TEST(CheckpointJournalTest, AnotherLogsLineAmongThisLogsIsDamageNotASwap) {
  TempDir ours, theirs;
  const std::string config = LogOnlyConfig(ours);
  AppendAndStop(ours, 0, config, 3, 3);
  AppendAndStop(theirs, 0, LogOnlyConfig(theirs), 3, 3);
  if (HasFatalFailure()) return;
  const std::string journal = ours.Sub("data.checkpoints.jsonl");
  const std::string mine = ReadFile(journal);
  const std::string other = ReadFile(theirs.Sub("data.checkpoints.jsonl"));
  const size_t lines = std::count(mine.begin(), mine.end(), '\n');
  ASSERT_GE(lines, 1u);
  WriteFile(journal, mine + other.substr(0, other.find('\n') + 1));
  ChildServer child(ours, 1, {config});
  const int status = child.StartExpectingFailure();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0) << child.Log();
  EXPECT_THAT(child.Log(), AllOf(HasSubstr(absl::StrCat("is damaged at line ", lines + 1)),
                                 HasSubstr("while the lines before it name this log"),
                                 HasSubstr("lines of another log's journal were put into it"),
                                 ::testing::Not(HasSubstr("was swapped"))));
  // The same without its newline: not a torn write (it parses), damage.
  WriteFile(journal, mine + other.substr(0, other.find('\n')));
  ChildServer again(ours, 2, {config});
  const int second = again.StartExpectingFailure();
  EXPECT_TRUE(WIFEXITED(second) && WEXITSTATUS(second) != 0) << again.Log();
  EXPECT_THAT(again.Log(), AllOf(HasSubstr(absl::StrCat("is damaged at line ", lines + 1)),
                                 ::testing::Not(HasSubstr("torn line"))));
  EXPECT_EQ(ReadFile(journal), mine + other.substr(0, other.find('\n')));
}

// Another log's signing key copied over this one's: the journal is sound,
// and the start says the key is the wrong one, not that the journal is
// damaged (which would send the operator to restore the wrong file).
TEST(CheckpointJournalTest, AnotherLogsSigningKeyIsNamedAsSuchNotAsADamagedJournal) {
  TempDir ours, theirs;
  const std::string config = LogOnlyConfig(ours);
  AppendAndStop(ours, 0, config, 3, 3);
  AppendAndStop(theirs, 0, LogOnlyConfig(theirs), 3, 3);
  if (HasFatalFailure()) return;
  const std::string key = ours.Sub("data/signing-key.pem");
  ASSERT_TRUE(fs::exists(key));
  WriteFile(key, ReadFile(theirs.Sub("data/signing-key.pem")));
  ChildServer child(ours, 1, {config});
  const int status = child.StartExpectingFailure();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0) << child.Log();
  EXPECT_THAT(child.Log(), AllOf(HasSubstr("but the data folder's signing key is"),
                                 HasSubstr("is not this log's key"),
                                 ::testing::Not(HasSubstr("is damaged at line"))));
}

// The journal's disk full: no checkpoint can be signed, and the log says so
// with what to do once per checkpoint interval, not in a loop however many
// events wait (an outside test saw thousands of ERROR lines a second, and a
// core kept busy). Appends go on; with room again, checkpoints are signed.
TEST(CheckpointJournalTest, AFullJournalDiskIsToldOncePerIntervalNotInALoop) {
  TempDir dir;
  SmallDisk disk(dir.Sub("journal-disk"), 1);
  if (!disk.ok()) GTEST_SKIP() << disk.reason();
  const std::string config = LogOnlyConfig(
      dir, absl::StrCat(", \"audit\": {\"checkpointJournal\": \"", dir.Sub("journal-disk/j.jsonl"),
                        "\", \"checkpointEverySeconds\": 60, \"checkpointEveryEvents\": 5}"));
  ChildServer child(dir, 0, {config});
  child.Start();
  if (HasFatalFailure()) return;
  for (int i = 0; i < 5; ++i) ASSERT_OK(child.client().Append(AppendRequestOf("s", SomeEvents(1))));
  // Signed (now, if the checkpointer has not yet come to it).
  absl::StatusOr<v1::SignedCheckpoint> first = child.audit().GetCheckpoint();
  ASSERT_OK(first);
  ASSERT_EQ(first->checkpoint().tree_size(), 5u);
  disk.FillLeaving(0);
  // Forty times the count that asks for a checkpoint.
  for (int i = 0; i < 200; ++i) {
    ASSERT_OK(child.client().Append(AppendRequestOf("s", SomeEvents(1))));
  }
  absl::SleepFor(absl::Seconds(3));
  const std::string log = child.Log();
  size_t told = 0;
  for (size_t at = log.find("Free space on the disk holding the checkpoint journal");
       at != std::string::npos;
       at = log.find("Free space on the disk holding the checkpoint journal", at + 1)) {
    ++told;
  }
  EXPECT_GE(told, 1u) << log;
  EXPECT_LE(told, 2u) << "the same failure, again and again:\n" << log.substr(0, 4000);
  EXPECT_THAT(log, HasSubstr("No space left on device"));
  // Status says so (nothing served is wrong: not a problem, health unmoved).
  absl::StatusOr<v1::GetStatusResponse> status = child.client().GetStatus();
  ASSERT_OK(status);
  EXPECT_THAT(status->checkpoints_stalled(),
              AllOf(HasSubstr("signing checkpoints has failed since"),
                    HasSubstr("Free space on the disk holding the checkpoint journal"),
                    HasSubstr("signed by the first signing that succeeds")));
  EXPECT_EQ(status->problems_size(), 0);
  EXPECT_TRUE(status->accepting_appends());
  testing::ProgramResult cli =
      testing::RunProgram(EVENHAND_CLI_PATH, {"--server=" + child.address(), "status"});
  EXPECT_EQ(cli.exit_code, 0) << cli.output;
  EXPECT_THAT(cli.output, AllOf(HasSubstr("checkpoints     NOT BEING SIGNED: signing checkpoints "
                                          "has failed since"),
                                HasSubstr("no problems known")));
  disk.RemoveFillers();
  absl::StatusOr<v1::SignedCheckpoint> signed_now = child.audit().GetCheckpoint();
  ASSERT_OK(signed_now);
  EXPECT_EQ(signed_now->checkpoint().tree_size(), 205u);
  // Signed again: no longer said.
  status = child.client().GetStatus();
  ASSERT_OK(status);
  EXPECT_EQ(status->checkpoints_stalled(), "");
}

// The journal deleted under a running server: status said "no problems
// known" and checkpoints went on being signed into the deleted file, until
// the next start refused for want of it (outside probe). Signing stops and
// status says how to put it back; put back, signing resumes.
TEST(CheckpointJournalTest, AJournalDeletedWhileTheServerRunsIsToldAndCanBePutBack) {
  TempDir dir;
  const std::string journal = dir.Sub("j.jsonl");
  const std::string config = LogOnlyConfig(
      dir, absl::StrCat(", \"audit\": {\"checkpointJournal\": \"", journal,
                        "\", \"checkpointEverySeconds\": 60, \"checkpointEveryEvents\": 5}"));
  ChildServer child(dir, 0, {config});
  child.Start();
  if (HasFatalFailure()) return;
  for (int i = 0; i < 5; ++i) ASSERT_OK(child.client().Append(AppendRequestOf("s", SomeEvents(1))));
  ASSERT_OK(child.audit().GetCheckpoint());
  ASSERT_TRUE(std::filesystem::remove(journal));
  for (int i = 0; i < 10; ++i) {
    ASSERT_OK(child.client().Append(AppendRequestOf("s", SomeEvents(1))));
  }
  absl::SleepFor(absl::Milliseconds(1100));  // GetCheckpoint signs at most once a second
  absl::StatusOr<v1::SignedCheckpoint> refused = child.audit().GetCheckpoint();
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition) << refused.status();
  absl::StatusOr<v1::GetStatusResponse> status = child.client().GetStatus();
  ASSERT_OK(status);
  EXPECT_THAT(status->checkpoints_stalled(),
              AllOf(HasSubstr(journal + " is gone (deleted or moved while the server ran)"),
                    HasSubstr("copy it back with `cp /proc/")));
  EXPECT_FALSE(std::filesystem::exists(journal)) << "not made again, empty, in its place";
  // Put back as it says.
  const std::string& said = status->checkpoints_stalled();
  const size_t from = said.find("`cp ") + 1;
  const std::string command = said.substr(from, said.find('`', from) - from);
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  absl::StatusOr<v1::SignedCheckpoint> signed_now = child.audit().GetCheckpoint();
  ASSERT_OK(signed_now);
  EXPECT_EQ(signed_now->checkpoint().tree_size(), 15u);
  std::ifstream in(journal);
  std::string line, last;
  while (std::getline(in, line)) last = line;
  EXPECT_THAT(last, HasSubstr("\"treeSize\":\"15\"")) << "signed into the journal put back";
  status = child.client().GetStatus();
  ASSERT_OK(status);
  EXPECT_EQ(status->checkpoints_stalled(), "");
}

}  // namespace
}  // namespace evenhand
