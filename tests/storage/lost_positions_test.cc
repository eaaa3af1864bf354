// A log that lost acknowledged positions below its last one (a write-ahead
// log file deleted or cut short between two others, or a table file's events
// gone): refused at open when the loss is in what the write-ahead logs give
// back, and never read past without a word when a read meets it. Real
// RocksDB folders, copied while a store runs (a crash image).
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "storage/event_store.h"
#include "tests/testing/events.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace evenhand::storage {
namespace {

using ::evenhand::testing::SomeEvents;
using ::evenhand::testing::StatusIs;
using ::evenhand::testing::TempDir;
using ::testing::AllOf;
using ::testing::HasSubstr;

namespace fs = std::filesystem;

// The folder as it is while a store runs on it: what a SIGKILL leaves.
void CrashImage(const std::string& from, const std::string& to) {
  fs::copy(from, to, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
}

// The write-ahead log files of `dir` holding something, by number.
std::vector<uint64_t> Wals(const std::string& dir) {
  std::vector<uint64_t> out;
  for (const auto& f : fs::directory_iterator(dir)) {
    uint64_t n = 0;
    if (f.path().extension() == ".log" && fs::file_size(f.path()) > 0 &&
        absl::SimpleAtoi(f.path().stem().string(), &n)) {
      out.push_back(n);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string WalPath(const std::string& dir, uint64_t number) {
  char name[32];
  std::snprintf(name, sizeof name, "%06llu.log", static_cast<unsigned long long>(number));
  return dir + "/" + name;
}

std::unique_ptr<EventStore> OpenStore(const std::string& dir) {
  StoreOptions options;
  options.data_dir = dir;
  auto opened = EventStore::Open(options);
  EXPECT_TRUE(opened.ok()) << opened.status();
  return opened.ok() ? std::move(*opened) : nullptr;
}

// Three runs on `dir`, each killed (a crash image taken while it runs):
// 1..30, then 31..50, then `third` appends of `per_append` events, each run's
// events in a write-ahead log of its own (nothing flushed). Returns the last
// image's folder and, in `second_wal`, the number of the second run's WAL.
std::string ThreeKilledRuns(const TempDir& dir, int third, int per_append, uint64_t* second_wal) {
  const std::string run1 = dir.Sub("run1"), run2 = dir.Sub("run2"), run3 = dir.Sub("run3");
  std::vector<uint64_t> before_second_run, second_run;
  {
    auto store = OpenStore(dir.Sub("live"));
    if (store == nullptr) return "";
    EXPECT_OK(store->Append("a", ExpectedRevision::Any(), SomeEvents(30)));
    CrashImage(dir.Sub("live"), run1);
  }
  {
    auto store = OpenStore(run1);
    if (store == nullptr) return "";
    before_second_run = Wals(run1);
    EXPECT_OK(store->Append("b", ExpectedRevision::Any(), SomeEvents(20)));
    CrashImage(run1, run2);
  }
  {
    auto store = OpenStore(run2);
    if (store == nullptr) return "";
    for (uint64_t n : Wals(run2)) {
      if (!std::binary_search(before_second_run.begin(), before_second_run.end(), n)) {
        second_run.push_back(n);
      }
    }
    for (int i = 0; i < third; ++i) {
      EXPECT_OK(store->Append("c", ExpectedRevision::Any(), SomeEvents(per_append)));
    }
    CrashImage(run2, run3);
  }
  EXPECT_EQ(second_run.size(), 1u) << "the second run's events should be in one WAL of its own";
  *second_wal = second_run.empty() ? 0 : second_run[0];
  return run3;
}

// Three runs, each killed: 1..30, then 31..50, then 51..80, each run's
// events in a write-ahead log of its own (nothing is flushed). The second
// run's WAL deleted, the log still ends at 80 and begins at 1: a hole that
// RocksDB's own WAL tracking does not see. Refused, naming it.
TEST(LostPositionsTest, AWriteAheadLogDeletedBetweenTwoOthersIsRefusedAtOpenNamingTheHole) {
  TempDir dir;
  uint64_t second_wal = 0;
  const std::string run3 = ThreeKilledRuns(dir, 1, 30, &second_wal);
  if (HasFailure()) return;
  // Unharmed, the image opens with all 80.
  {
    TempDir copy;
    CrashImage(run3, copy.Sub("d"));
    auto store = OpenStore(copy.Sub("d"));
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->LastPosition(), 80u);
  }
  ASSERT_TRUE(fs::remove(WalPath(run3, second_wal)));
  StoreOptions options;
  options.data_dir = run3;
  auto damaged = EventStore::Open(options);
  ASSERT_FALSE(damaged.ok());
  EXPECT_THAT(damaged.status(),
              StatusIs(absl::StatusCode::kDataLoss,
                       AllOf(HasSubstr("will not be opened: 20 positions are missing (31..50)"),
                             HasSubstr("although it goes on to position 80"),
                             HasSubstr("write-ahead log file"),
                             HasSubstr("Restore the data folder from a backup"))));
  // And again: nothing was changed by the refusal.
  EXPECT_THAT(EventStore::Open(options).status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("(31..50)")));
}

// The same hole, opened with a memtable far smaller than what the WALs give
// back: a read-write open would flush them into the table files on the way
// (and delete the WALs), leaving nothing for any check at a later open. The
// store looks first with a read-only open, which never flushes: refused,
// and again, the folder unchanged.
TEST(LostPositionsTest, AHoleIsRefusedEvenWhereTheRecoveryWouldFlushIt) {
  TempDir dir;
  uint64_t second_wal = 0;
  const std::string run3 = ThreeKilledRuns(dir, 20, 50, &second_wal);
  if (HasFailure()) return;
  ASSERT_TRUE(fs::remove(WalPath(run3, second_wal)));
  const auto wals_before = Wals(run3);
  StoreOptions options;
  options.data_dir = run3;
  options.memtable_bytes = 64 << 10;
  for (int attempt = 0; attempt < 2; ++attempt) {
    EXPECT_THAT(EventStore::Open(options).status(),
                StatusIs(absl::StatusCode::kDataLoss,
                         HasSubstr("20 positions are missing (31..50) although it goes on to "
                                   "position 1050")))
        << "attempt " << attempt;
  }
  EXPECT_EQ(Wals(run3), wals_before) << "a refused open changed the write-ahead logs";
}

// The first run's WAL deleted instead (nothing below the second run's
// events is left): positions 1..30 are missing.
TEST(LostPositionsTest, TheOldestWriteAheadLogDeletedIsRefusedFromPositionOne) {
  TempDir dir;
  const std::string run1 = dir.Sub("run1"), run2 = dir.Sub("run2");
  std::vector<uint64_t> first_run;
  {
    auto store = OpenStore(dir.Sub("live"));
    ASSERT_NE(store, nullptr);
    ASSERT_OK(store->Append("a", ExpectedRevision::Any(), SomeEvents(30)));
    CrashImage(dir.Sub("live"), run1);
    first_run = Wals(run1);
  }
  {
    auto store = OpenStore(run1);
    ASSERT_NE(store, nullptr);
    ASSERT_OK(store->Append("b", ExpectedRevision::Any(), SomeEvents(20)));
    CrashImage(run1, run2);
  }
  ASSERT_EQ(first_run.size(), 1u);
  ASSERT_TRUE(fs::remove(WalPath(run2, first_run[0])));
  StoreOptions options;
  options.data_dir = run2;
  EXPECT_THAT(EventStore::Open(options).status(),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("30 positions are missing (1..30) although it goes on to "
                                 "position 50")));
}

// Events gone from the table files (made here by deleting their keys behind
// the store's back): the open does not see it, but a read that meets the
// hole fails with DATA_LOSS naming it, in either direction, instead of
// skipping it; the finding is listed, and kept for the next start.
TEST(LostPositionsTest, AReadThatMeetsAHoleFailsNamingItAndTheFindingIsKept) {
  TempDir dir;
  {
    auto store = OpenStore(dir.path());
    ASSERT_NE(store, nullptr);
    ASSERT_OK(store->Append("a", ExpectedRevision::Any(), SomeEvents(40)));
    ASSERT_OK(store->Close());
  }
  {
    std::vector<std::string> names;
    ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir.path(), &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    for (const std::string& n : names) descriptors.emplace_back(n, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(
        rocksdb::DB::Open(rocksdb::DBOptions(), dir.path(), descriptors, &handles, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    rocksdb::ColumnFamilyHandle* events = nullptr;
    for (auto* h : handles) {
      if (h->GetName() == "events") events = h;
    }
    ASSERT_NE(events, nullptr) << "the events column family";
    for (uint64_t p = 11; p <= 13; ++p) {
      std::string key(8, '\0');
      for (int i = 0; i < 8; ++i) key[i] = static_cast<char>(p >> (56 - 8 * i));
      ASSERT_TRUE(db->Delete(rocksdb::WriteOptions(), events, key).ok());
    }
    ASSERT_TRUE(db->Flush(rocksdb::FlushOptions(), handles).ok());
    for (auto* h : handles) ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
    ASSERT_TRUE(db->Close().ok());
  }
  auto store = OpenStore(dir.path());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->LastPosition(), 40u);
  std::vector<uint64_t> read;
  auto visit = [&](const EventPtr& e) {
    read.push_back(e->position());
    return true;
  };
  EXPECT_THAT(store->ReadAll(std::nullopt, Direction::kForwards, 0, ReadFilter(), visit),
              StatusIs(absl::StatusCode::kDataLoss,
                       AllOf(HasSubstr("positions 11..13 are missing from the log"),
                             HasSubstr("goes on to position 40"),
                             HasSubstr("Restore the data folder from a backup"))));
  EXPECT_EQ(read.size(), 10u);  // 1..10, then the hole: never past it
  read.clear();
  EXPECT_THAT(store->ReadAll(std::nullopt, Direction::kBackwards, 0, ReadFilter(), visit),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("positions 11..13 are missing")));
  EXPECT_EQ(read.size(), 27u);  // 40..14
  // A read that begins inside it names the whole hole, once.
  EXPECT_THAT(store->ReadAll(12, Direction::kForwards, 0, ReadFilter(), visit),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("positions 11..13 are missing")));
  EXPECT_THAT(store->ReadAll(12, Direction::kBackwards, 0, ReadFilter(), visit),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("positions 11..13 are missing")));
  // Past it, the rest of the log reads.
  read.clear();
  EXPECT_OK(store->ReadAll(14, Direction::kForwards, 0, ReadFilter(), visit));
  EXPECT_EQ(read.size(), 27u);
  ASSERT_EQ(store->damage_found().size(), 1u);
  EXPECT_THAT(store->damage_found()[0], HasSubstr("positions 11..13 are missing"));
  ASSERT_OK(store->Close());
  store = OpenStore(dir.path());
  ASSERT_NE(store, nullptr);
  ASSERT_EQ(store->damage_found().size(), 1u);
  EXPECT_THAT(store->damage_found()[0],
              AllOf(HasSubstr("positions 11..13 are missing"), HasSubstr("before this start")));
}

}  // namespace
}  // namespace evenhand::storage
