// The fairness projection's checkpoint as a start finds it: folded from
// another log, or on a disk too full to open it (outside probe: the first
// was taken and reports signed from its cases; the second stopped the server
// starting). Real RocksDB, the log's and the checkpoint's, in a temporary
// folder; the runner as the server starts it.
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "projections/projection_runner.h"
#include "rocksdb/db.h"
#include "rocksdb/metadata.h"
#include "storage/event_store.h"
#include "tests/testing/events.h"
#include "tests/testing/fault_fs.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace evenhand::projections {
namespace {

using ::evenhand::testing::FaultFs;
using ::evenhand::testing::FaultKind;
using ::evenhand::testing::SomeEvents;
using ::evenhand::testing::TempDir;
namespace fs = std::filesystem;

std::unique_ptr<storage::EventStore> OpenStore(const std::string& dir) {
  storage::StoreOptions options;
  options.data_dir = dir;
  absl::StatusOr<std::unique_ptr<storage::EventStore>> store = storage::EventStore::Open(options);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? *std::move(store) : nullptr;
}

// Starts a runner on `store` and waits until it has folded the whole log.
std::unique_ptr<ProjectionRunner> Follow(storage::EventStore* store, RunnerOptions options) {
  absl::StatusOr<std::unique_ptr<ProjectionRunner>> runner =
      ProjectionRunner::Start(store, std::move(options));
  EXPECT_TRUE(runner.ok()) << runner.status();
  if (!runner.ok()) return nullptr;
  EXPECT_TRUE((*runner)->WaitForPosition(store->LastPosition(), absl::Now() + absl::Seconds(60)));
  return *std::move(runner);
}

size_t Cases(const ProjectionRunner& runner) {
  size_t n = 0;
  runner.Read([&](const FairnessProjection& p) { n = p.case_count(); });
  return n;
}

// Log A's checkpoint copied over log B's, B the longer log (so the check
// that a checkpoint is not ahead of its log cannot see it): B's start
// moves it aside and folds B again. A's five cases (a stream each) and B's
// one: folded on top of A's checkpoint, B would hold six.
TEST(CheckpointOpenTest, AnotherLogsCheckpointIsMovedAsideAndThisLogFoldedAgain) {
  TempDir dir;
  auto a = OpenStore(dir.Sub("a"));
  auto b = OpenStore(dir.Sub("b"));
  ASSERT_TRUE(a != nullptr && b != nullptr);
  for (int i = 0; i < 5; ++i) {
    ASSERT_OK(a->Append(absl::StrCat("query-a", i), storage::ExpectedRevision::Any(),
                        SomeEvents(1, absl::StrCat("a", i))));
  }
  ASSERT_OK(b->Append("query-b", storage::ExpectedRevision::Any(), SomeEvents(6, "b")));
  RunnerOptions a_options, b_options;
  a_options.checkpoint_dir = dir.Sub("a-projection");
  b_options.checkpoint_dir = dir.Sub("b-projection");
  size_t b_cases = 0;
  for (auto [store, options] : {std::pair{a.get(), &a_options}, std::pair{b.get(), &b_options}}) {
    auto runner = Follow(store, *options);
    ASSERT_NE(runner, nullptr);
    b_cases = Cases(*runner);
    runner->Stop();  // a checkpoint of each
  }
  ASSERT_EQ(b_cases, 1u);
  fs::remove_all(b_options.checkpoint_dir);
  fs::copy(a_options.checkpoint_dir, b_options.checkpoint_dir, fs::copy_options::recursive);

  auto runner = Follow(b.get(), b_options);
  ASSERT_NE(runner, nullptr);
  EXPECT_EQ(Cases(*runner), b_cases) << "another log's cases were taken";
  EXPECT_TRUE(fs::exists(b_options.checkpoint_dir + ".damaged")) << "moved aside, kept";
  // And the checkpoint written since is this log's: taken at the next start.
  runner->Stop();
  runner.reset();
  fs::remove_all(b_options.checkpoint_dir + ".damaged");
  runner = Follow(b.get(), b_options);
  ASSERT_NE(runner, nullptr);
  EXPECT_EQ(runner->checkpointed_position(), b->LastPosition());
  EXPECT_FALSE(fs::exists(b_options.checkpoint_dir + ".damaged"));
  EXPECT_EQ(Cases(*runner), b_cases);
}

// The checkpoint's RocksDB cannot be opened for want of space (its first
// write, the new MANIFEST, fails ENOSPC): the start goes on, folding the
// log in memory, and a later start with room writes a checkpoint again.
TEST(CheckpointOpenTest, ACheckpointThatCannotBeOpenedOnAFullDiskIsFoldedInMemory) {
  TempDir dir;
  auto store = OpenStore(dir.Sub("log"));
  ASSERT_NE(store, nullptr);
  for (int i = 0; i < 4; ++i) {
    ASSERT_OK(store->Append(absl::StrCat("query-full", i), storage::ExpectedRevision::Any(),
                            SomeEvents(1, absl::StrCat("full", i))));
  }
  auto full = std::make_shared<FaultFs>();
  full->Arm(FaultKind::kNoSpace, 0);
  RunnerOptions options;
  options.checkpoint_dir = dir.Sub("projection");
  options.TEST_file_system = full;
  {
    auto runner = Follow(store.get(), options);
    ASSERT_NE(runner, nullptr);
    EXPECT_TRUE(full->fired()) << "the disk was to be full when the checkpoint was opened";
    EXPECT_EQ(Cases(*runner), 4u);
    runner->Stop();
    EXPECT_EQ(runner->checkpointed_position(), 0u) << "nothing written";
  }
  options.TEST_file_system = nullptr;  // room again
  {
    auto runner = Follow(store.get(), options);
    ASSERT_NE(runner, nullptr);
    EXPECT_EQ(Cases(*runner), 4u);
    runner->Stop();
    EXPECT_EQ(runner->checkpointed_position(), store->LastPosition());
  }
}

// The log damaged where the fold must read (a changed byte in the events'
// first table block, found by its checksum): the fold stops there and says
// why, and reports wanting what lies past it are refused with that, not
// told to try again shortly for ever (outside probe).
TEST(CheckpointOpenTest, AFoldThatMeetsDamageInTheLogStopsSayingWhy) {
  TempDir dir;
  std::string table;
  {
    auto store = OpenStore(dir.Sub("log"));
    ASSERT_NE(store, nullptr);
    for (int i = 0; i < 40; ++i) {
      ASSERT_OK(store->Append(absl::StrCat("query-d", i), storage::ExpectedRevision::Any(),
                              SomeEvents(50, absl::StrCat("d", i))));
    }
    ASSERT_OK(store->Close());  // flushed to table files
  }
  {
    auto store = OpenStore(dir.Sub("log"));
    ASSERT_NE(store, nullptr);
    std::vector<rocksdb::LiveFileMetaData> files;
    store->db()->GetLiveFilesMetaData(&files);
    for (const auto& f : files) {
      if (f.column_family_name == "events") table = dir.Sub("log") + f.name;
    }
    ASSERT_OK(store->Close());
  }
  ASSERT_FALSE(table.empty());
  {
    std::fstream f(table, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(100);
    const char c = static_cast<char>(f.get());
    f.seekp(100);
    f.put(static_cast<char>(c ^ 0x5a));
  }
  auto store = OpenStore(dir.Sub("log"));
  ASSERT_NE(store, nullptr);
  RunnerOptions options;
  options.checkpoint_dir = dir.Sub("projection");
  absl::StatusOr<std::unique_ptr<ProjectionRunner>> runner =
      ProjectionRunner::Start(store.get(), options);
  ASSERT_OK(runner.status());
  EXPECT_FALSE((*runner)->WaitForPosition(store->LastPosition(), absl::Now() + absl::Seconds(5)));
  for (int i = 0; i < 200 && (*runner)->fold_stopped().ok(); ++i) {
    absl::SleepFor(absl::Milliseconds(25));
  }
  EXPECT_THAT((*runner)->fold_stopped(),
              testing::StatusIs(absl::StatusCode::kDataLoss,
                                ::testing::HasSubstr("cannot fold the log past position")));
  (*runner)->Stop();
}

}  // namespace
}  // namespace evenhand::projections
