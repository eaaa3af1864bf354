// A log that lost acknowledged positions below its last one (a write-ahead
// log file deleted or cut short between two others, or a table file's events
// gone): refused at open when the loss is in what the write-ahead logs give
// back, and never read past without a word when a read meets it. Real
// RocksDB folders, copied while a store runs (a crash image).
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "storage/acknowledged_mark.h"
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
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

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

// The newest write-ahead log cut short, its cut through acknowledged
// events: RocksDB's recovery cannot tell that from a write torn by a crash
// and gives back the log without them (outside probe: the server started
// healthy and gave their positions to new events). The last acknowledged
// position, recorded beside the log after each synced write, says they
// were acknowledged: refused, naming it and what to do, and again.
TEST(LostPositionsTest, AWriteAheadLogCutShortAtItsEndIsRefusedNamingWhatWasAcknowledged) {
  TempDir dir;
  const std::string image = dir.Sub("image");
  {
    auto store = OpenStore(dir.Sub("live"));
    ASSERT_NE(store, nullptr);
    for (int i = 0; i < 30; ++i) {
      ASSERT_OK(store->Append("a", ExpectedRevision::Any(), SomeEvents(1)));
    }
    CrashImage(dir.Sub("live"), image);
  }
  {
    TempDir copy;  // unharmed, the image opens with all 30
    CrashImage(image, copy.Sub("d"));
    auto store = OpenStore(copy.Sub("d"));
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->LastPosition(), 30u);
  }
  const std::vector<uint64_t> wals = Wals(image);
  ASSERT_FALSE(wals.empty());
  const std::string newest = WalPath(image, wals.back());
  fs::resize_file(newest, fs::file_size(newest) - 1000);
  StoreOptions options;
  options.data_dir = image;
  for (int attempt = 0; attempt < 2; ++attempt) {
    EXPECT_THAT(EventStore::Open(options).status(),
                StatusIs(absl::StatusCode::kDataLoss,
                         AllOf(HasSubstr("will not be opened: it ends at position "),
                               HasSubstr("but position 30 was acknowledged as durable"),
                               HasSubstr("acknowledged.txt"), HasSubstr("write-ahead log"),
                               HasSubstr("Restore the data folder from a backup"))))
        << "attempt " << attempt;
  }
  // The operator who accepts the loss deletes the record, as it says.
  ASSERT_TRUE(fs::remove(image + "/acknowledged.txt"));
  auto store = OpenStore(image);
  ASSERT_NE(store, nullptr);
  EXPECT_LT(store->LastPosition(), 30u);
  EXPECT_GT(store->LastPosition(), 0u);
}

// What a crash leaves: the final write cut short before it was synced, so
// never acknowledged. The same cut log is no loss then: it opens, ending
// at the last acknowledged event; the recorded position is what tells the
// two apart.
TEST(LostPositionsTest, AWriteTornByACrashBeforeItWasAcknowledgedIsNoLoss) {
  TempDir dir;
  const std::string before = dir.Sub("before"), after = dir.Sub("after");
  {
    auto store = OpenStore(dir.Sub("live"));
    ASSERT_NE(store, nullptr);
    ASSERT_OK(store->Append("a", ExpectedRevision::Any(), SomeEvents(10)));
    CrashImage(dir.Sub("live"), before);
    ASSERT_OK(store->Append("a", ExpectedRevision::Any(), SomeEvents(5)));
    CrashImage(dir.Sub("live"), after);
  }
  const std::vector<uint64_t> wals = Wals(after);
  ASSERT_EQ(Wals(before), wals);
  const std::string wal = WalPath(after, wals.back());
  const uintmax_t synced = fs::file_size(WalPath(before, wals.back()));
  // The second write torn half way, and the record from before it.
  fs::resize_file(wal, synced + (fs::file_size(wal) - synced) / 2);
  fs::copy_file(before + "/acknowledged.txt", after + "/acknowledged.txt",
                fs::copy_options::overwrite_existing);
  {
    TempDir copy;  // the record of the second write's acknowledgement: refused
    CrashImage(after, copy.Sub("d"));
    fs::copy_file(dir.Sub("live") + "/acknowledged.txt", copy.Sub("d") + "/acknowledged.txt",
                  fs::copy_options::overwrite_existing);
    EXPECT_THAT(EventStore::Open(StoreOptions{.data_dir = copy.Sub("d")}).status(),
                StatusIs(absl::StatusCode::kDataLoss,
                         HasSubstr("it ends at position 10, but position 15 was acknowledged")));
  }
  auto store = OpenStore(after);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->LastPosition(), 10u);
}

// A small log's only write-ahead log removed (nothing was flushed to a
// table file): RocksDB would open an empty log and the store would make a
// new one there, under a new id (the probe then saw "the journal belongs
// to another log", and the files put back no longer opened). Refused
// before RocksDB touches the folder.
TEST(LostPositionsTest, TheOnlyWriteAheadLogRemovedIsRefusedBeforeANewLogIsMade) {
  TempDir dir;
  const std::string image = dir.Sub("image");
  {
    auto store = OpenStore(dir.Sub("live"));
    ASSERT_NE(store, nullptr);
    ASSERT_OK(store->Append("a", ExpectedRevision::Any(), SomeEvents(5)));
    CrashImage(dir.Sub("live"), image);
  }
  for (uint64_t n : Wals(image)) ASSERT_TRUE(fs::remove(WalPath(image, n)));
  auto listing = [&] {
    std::vector<std::string> names;
    for (const auto& f : fs::directory_iterator(image)) names.push_back(f.path().filename());
    std::sort(names.begin(), names.end());
    return names;
  };
  const std::vector<std::string> files = listing();
  StoreOptions options;
  options.data_dir = image;
  EXPECT_THAT(EventStore::Open(options).status(),
              StatusIs(absl::StatusCode::kDataLoss,
                       AllOf(HasSubstr("its files hold no event, but position 5 was "
                                       "acknowledged"),
                             HasSubstr("Restore the data folder from a backup"))));
  EXPECT_EQ(listing(), files) << "the refused open changed the folder";
}

// The record itself cut short (a power cut while it was rewritten; it is
// not synced): not a loss, said in a warning, and written afresh.
TEST(LostPositionsTest, ARecordOfTheLastAcknowledgedPositionCutShortIsPassedOver) {
  TempDir dir;
  {
    auto store = OpenStore(dir.path());
    ASSERT_NE(store, nullptr);
    ASSERT_OK(store->Append("a", ExpectedRevision::Any(), SomeEvents(3)));
  }
  const std::string record = dir.path() + "/acknowledged.txt";
  fs::resize_file(record, 30);
  auto store = OpenStore(dir.path());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->LastPosition(), 3u);
  // Said in the status until the next start, not only on the log.
  EXPECT_THAT(store->warnings(),
              ElementsAre(HasSubstr("the end of the log is not checked against it this time")));
  ASSERT_OK(store->Append("a", ExpectedRevision::Any(), SomeEvents(1)));
  std::string problem;
  absl::StatusOr<std::optional<AcknowledgedMark::Mark>> mark =
      AcknowledgedMark(dir.path()).Read(&problem);
  ASSERT_OK(mark.status());
  ASSERT_TRUE(mark->has_value()) << problem;
  EXPECT_EQ((*mark)->position, 4u);
  EXPECT_EQ((*mark)->log_id, store->log_id());
}

// A whole line that is wrong is damage, not what a power cut leaves (an
// empty file, or a line without its end): refused, saying what to do
// (outside probe: a byte changed in it was taken for a power cut, and the
// check skipped let 3,264 acknowledged events lost from the end go
// unseen). Deleted, as it says, the log opens, and says the end went
// unchecked until the next start.
TEST(LostPositionsTest, ARecordOfTheLastAcknowledgedPositionThatIsWholeButWrongIsRefused) {
  TempDir dir;
  {
    auto store = OpenStore(dir.path());
    ASSERT_NE(store, nullptr);
    ASSERT_OK(store->Append("a", ExpectedRevision::Any(), SomeEvents(3)));
  }
  const std::string record = dir.path() + "/acknowledged.txt";
  std::string line;
  {
    std::ifstream in(record);
    std::getline(in, line);
  }
  ASSERT_FALSE(line.empty());
  std::string digit = line;  // a digit of the position
  digit[line.size() - 25] = line[line.size() - 25] == '9' ? '8' : '9';
  StoreOptions options;
  options.data_dir = dir.path();
  // Whole, with a changed digit; or whole but its line end changed (outside
  // re-probe: taken for a line cut short).
  for (const std::string& damaged : {digit + "\n", line + "x"}) {
    std::ofstream(record, std::ios::trunc) << damaged;
    EXPECT_THAT(EventStore::Open(options).status(),
                StatusIs(absl::StatusCode::kDataLoss,
                         AllOf(HasSubstr("acknowledged.txt, the record of the last acknowledged "
                                         "append, is damaged: it "),
                               HasSubstr("delete"))))
        << damaged;
  }
  ASSERT_TRUE(fs::remove(record));
  auto store = OpenStore(dir.path());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->LastPosition(), 3u);
  EXPECT_THAT(store->warnings(), ElementsAre(HasSubstr("acknowledged.txt is missing")));
}

// Files RocksDB's list names, gone or cut short while the server was
// stopped: refused naming the file RocksDB could not use, not "the
// MANIFEST" that lists it (outside probe), with what to do.
TEST(LostPositionsTest, AFileTheLogsListNamesThatIsGoneOrCutShortIsNamed) {
  TempDir dir;
  uint64_t second_wal = 0;
  const std::string run3 = ThreeKilledRuns(dir, 1, 30, &second_wal);
  if (HasFailure()) return;
  auto refused = [](const std::string& folder) {
    StoreOptions options;
    options.data_dir = folder;
    return EventStore::Open(options).status();
  };
  {  // a closed write-ahead log cut short
    TempDir copy;
    CrashImage(run3, copy.Sub("d"));
    const std::string wal = WalPath(copy.Sub("d"), second_wal);
    fs::resize_file(wal, fs::file_size(wal) - 100);
    // (Here the look before the open finds the hole first; where the open
    // itself meets RocksDB's "Size mismatch: WAL (log number: N)", it names
    // that log, NNNNNN.log.)
    const absl::Status s = refused(copy.Sub("d"));
    EXPECT_THAT(s, StatusIs(absl::StatusCode::kDataLoss,
                            AllOf(HasSubstr("write-ahead log"),
                                  HasSubstr("Restore the data folder from a backup"))));
    EXPECT_THAT(s.message(), Not(HasSubstr("The damage is in the MANIFEST")));
  }
  {  // a table file removed (the log flushed by a clean stop first)
    TempDir copy;
    CrashImage(run3, copy.Sub("d"));
    {
      auto store = OpenStore(copy.Sub("d"));
      ASSERT_NE(store, nullptr);
      ASSERT_OK(store->Close());
    }
    std::string table;
    for (const auto& f : fs::directory_iterator(copy.Sub("d"))) {
      if (f.path().extension() == ".sst") table = f.path().filename();
    }
    ASSERT_FALSE(table.empty());
    ASSERT_TRUE(fs::remove(copy.Sub("d") + "/" + table));
    EXPECT_THAT(refused(copy.Sub("d")),
                StatusIs(absl::StatusCode::kDataLoss,
                         AllOf(HasSubstr(absl::StrCat("The damage is in a table file (", table,
                                                      "), which is missing")),
                               HasSubstr("Restore the data folder from a backup"))));
    // CURRENT naming a MANIFEST that is not there (it said INTERNAL).
    {
      std::ofstream current(copy.Sub("d") + "/CURRENT", std::ios::trunc);
      current << "MANIFEST-999999\n";
    }
    EXPECT_THAT(refused(copy.Sub("d")),
                StatusIs(absl::StatusCode::kDataLoss,
                         AllOf(HasSubstr("which the CURRENT file names and which is missing"),
                               HasSubstr("Restore the data folder from a backup"))));
  }
}

// The record of damage found made a folder (by hand, or a tool): read as
// empty it said nothing (outside probe). It is a finding itself: listed,
// so health says the folder needs looking at.
TEST(LostPositionsTest, ARecordOfDamageThatIsAFolderIsAFindingNotNothing) {
  TempDir dir;
  {
    auto store = OpenStore(dir.path());
    ASSERT_NE(store, nullptr);
    ASSERT_OK(store->Append("a", ExpectedRevision::Any(), SomeEvents(2)));
  }
  ASSERT_TRUE(fs::create_directory(dir.path() + "/damage-found.txt"));
  auto store = OpenStore(dir.path());
  ASSERT_NE(store, nullptr);
  ASSERT_EQ(store->damage_found().size(), 1u);
  EXPECT_THAT(store->damage_found()[0], HasSubstr("damage-found.txt is a folder"));
}

// CURRENT removed (by hand, a tool, a disk): RocksDB took the folder for a
// new log, and its next start deleted every table file as obsolete (outside
// probe: systemd's Restart= made the second start). Refused before RocksDB
// touches anything, again and again, naming the newest MANIFEST to put back;
// with CURRENT written back as it says, the log opens whole.
TEST(LostPositionsTest, AFolderWithoutCurrentIsRefusedNotTakenForANewLog) {
  TempDir dir;
  {
    auto store = OpenStore(dir.path());
    ASSERT_NE(store, nullptr);
    ASSERT_OK(store->Append("a", ExpectedRevision::Any(), SomeEvents(20)));
    ASSERT_OK(store->Close());  // flushed: the events are in table files
  }
  ASSERT_TRUE(fs::remove(dir.path() + "/CURRENT"));
  auto listing = [&] {
    std::vector<std::string> names;
    for (const auto& f : fs::directory_iterator(dir.path())) names.push_back(f.path().filename());
    std::sort(names.begin(), names.end());
    return names;
  };
  const std::vector<std::string> files = listing();
  std::string manifest;
  for (const std::string& name : files) {
    if (name.rfind("MANIFEST-", 0) == 0) manifest = std::max(manifest, name);
  }
  ASSERT_FALSE(manifest.empty());
  StoreOptions options;
  options.data_dir = dir.path();
  for (int attempt = 0; attempt < 2; ++attempt) {
    EXPECT_THAT(EventStore::Open(options).status(),
                StatusIs(absl::StatusCode::kDataLoss,
                         AllOf(HasSubstr("its CURRENT file"), HasSubstr("table file(s)"),
                               HasSubstr("would start a new, empty log here and delete them"),
                               HasSubstr(absl::StrCat("echo ", manifest)))))
        << "attempt " << attempt;
    EXPECT_EQ(listing(), files) << "a refused open changed the folder";
  }
  {
    std::ofstream current(dir.path() + "/CURRENT");
    current << manifest << "\n";
  }
  auto store = OpenStore(dir.path());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->LastPosition(), 20u);
}

// The record of the last acknowledged position is a file of the folder: a
// symbolic link there is not followed (outside probe: one to a path that
// did not exist made a file outside the folder). Refused, saying so.
TEST(LostPositionsTest, ARecordOfTheLastAcknowledgedPositionThatIsALinkIsNotFollowed) {
  TempDir dir;
  {
    auto store = OpenStore(dir.Sub("d"));
    ASSERT_NE(store, nullptr);
  }
  const std::string record = dir.Sub("d") + "/acknowledged.txt";
  const std::string elsewhere = dir.Sub("elsewhere.txt");
  ASSERT_TRUE(fs::remove(record));
  fs::create_symlink(elsewhere, record);
  StoreOptions options;
  options.data_dir = dir.Sub("d");
  EXPECT_THAT(EventStore::Open(options).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("a symbolic link, which is not followed")));
  EXPECT_FALSE(fs::exists(elsewhere));
}

// chattr's immutable flag on `path`: a write refused even to root (the
// tests' user), through a descriptor opened before as well. False where the
// file system has no such flag.
bool SetImmutable(const std::string& path, bool on) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  int flags = 0;
  bool done = ::ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0;
  if (done) {
    flags = on ? (flags | FS_IMMUTABLE_FL) : (flags & ~FS_IMMUTABLE_FL);
    done = ::ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0;
  }
  ::close(fd);
  return done;
}

TEST(LostPositionsTest, ARecordOfTheLastAcknowledgedPositionThatCannotBeWrittenIsAWarning) {
  TempDir dir;
  const std::string record = dir.Sub("d") + "/acknowledged.txt";
  struct Writable {  // whatever happens, the folder can be removed
    std::string path;
    ~Writable() { SetImmutable(path, false); }
  } writable{record};
  {
    auto store = OpenStore(dir.Sub("d"));
    ASSERT_NE(store, nullptr);
    ASSERT_OK(store->Append("a", ExpectedRevision::Any(), SomeEvents(2)));
    EXPECT_THAT(store->warnings(), ::testing::IsEmpty());
    if (!SetImmutable(record, true)) GTEST_SKIP() << "no immutable flag on this file system";
    // The write fails: said, while appends go on.
    ASSERT_OK(store->Append("a", ExpectedRevision::Any(), SomeEvents(2)));
    ASSERT_OK(store->Append("a", ExpectedRevision::Any(), SomeEvents(2)));
    ASSERT_THAT(store->warnings(), ::testing::SizeIs(1));
    EXPECT_THAT(store->warnings()[0], AllOf(HasSubstr(record), HasSubstr("Operation not permitted"),
                                            HasSubstr("will not be checked at the next start")));
    // Written again: no longer said.
    ASSERT_TRUE(SetImmutable(record, false));
    ASSERT_OK(store->Append("a", ExpectedRevision::Any(), SomeEvents(2)));
    EXPECT_THAT(store->warnings(), ::testing::IsEmpty());
  }
  // A start that cannot open it for writing: said, and the log serves.
  ASSERT_TRUE(SetImmutable(record, true));
  auto store = OpenStore(dir.Sub("d"));
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->LastPosition(), 8u);
  ASSERT_THAT(store->warnings(), ::testing::SizeIs(1));
  EXPECT_THAT(store->warnings()[0],
              AllOf(HasSubstr("cannot open " + record), HasSubstr("Make the file writable")));
  EXPECT_OK(store->Append("a", ExpectedRevision::Any(), SomeEvents(1)));
}

}  // namespace
}  // namespace evenhand::storage
