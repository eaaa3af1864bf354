// The publisher's outbox (clients/publisher.h) when its process is killed
// and when its files or disk fail: what a killed publisher handed over is
// delivered once by the next; damage is refused (DATA_LOSS) with the folder
// left as it was, never opened with events dropped; one outbox, one
// publisher; a nearly full disk refuses events instead of aborting the
// process; events the server would refuse as mistakes are refused at once.
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "clients/publisher.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/clients/publisher_fixture.h"
#include "tests/testing/child_server.h"
#include "tests/testing/temp_dir.h"

namespace evenhand {
namespace {

using testing::FreePort;
using testing::Officer;
using testing::PublisherTest;
using testing::Reported;
using testing::TestOptions;

// Run by the next test in a process of its own, which it kills.
TEST_F(PublisherTest, DISABLED_HandOverThenDie) {
  const char* outbox = std::getenv("EVENHAND_TEST_OUTBOX");
  ASSERT_NE(outbox, nullptr);
  clients::PublisherOptions o;
  o.connection.address = absl::StrCat("127.0.0.1:", FreePort());  // nobody there
  o.outbox_dir = outbox;
  o.source_system = "publisher-test";
  auto p = clients::Publisher::Start(o, nullptr);
  ASSERT_TRUE(p.ok());
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(
        (*p)->Publish(absl::StrCat("officer-o-dead-", i), Officer(absl::StrCat("o-dead-", i)))
            .ok());
  }
  // A killed process runs no destructor: the fixture's empty folder (the
  // outbox is the other test's) is removed before.
  std::error_code ignored;
  std::filesystem::remove_all(dir_.path(), ignored);
  ::kill(::getpid(), SIGKILL);
}

TEST_F(PublisherTest, TheOutboxSurvivesThePublishersKill) {
  ASSERT_NO_FATAL_FAILURE(HandOverFiftyAndDie(dir_.Sub("outbox")));
  // The next publisher on that outbox delivers what the dead one took.
  DeliversTheFiftyOnce();
}

// The largest file of `dir` whose name ends in `suffix` ("" if none).
std::string LargestFile(const std::string& dir, const std::string& suffix) {
  std::string largest;
  uintmax_t size = 0;
  for (const auto& f : std::filesystem::directory_iterator(dir)) {
    const std::string name = f.path().string();
    if (absl::EndsWith(name, suffix) && f.file_size() > size) {
      size = f.file_size();
      largest = name;
    }
  }
  return largest;
}

// Each file of `dir` and its bytes.
std::map<std::string, std::string> Files(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& f : std::filesystem::directory_iterator(dir)) {
    if (f.path().filename().string().rfind("LOG", 0) == 0) continue;  // RocksDB's own log
    std::ifstream in(f.path(), std::ios::binary);
    files[f.path().filename()] =
        std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return files;
}

// Flips the byte at `offset` of `path`.
void FlipByte(const std::string& path, std::streamoff offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(offset);
  char c = 0;
  f.get(c);
  f.seekp(offset);
  f.put(static_cast<char>(c ^ 0x5a));
}

// A byte flipped in the write-ahead log a killed publisher left: RocksDB's
// default recovery would stop at the damage and drop every event after it
// without a word. The outbox is refused, DATA_LOSS, saying what to do; put
// right, every event is still there and delivered once.
TEST_F(PublisherTest, ADamagedOutboxIsRefusedNotOpenedWithoutItsEvents) {
  const std::string outbox = dir_.Sub("outbox");
  ASSERT_NO_FATAL_FAILURE(HandOverFiftyAndDie(outbox));
  const std::string wal = LargestFile(outbox, ".log");
  ASSERT_FALSE(wal.empty());
  const std::streamoff middle = static_cast<std::streamoff>(std::filesystem::file_size(wal) / 2);
  FlipByte(wal, middle);
  const std::map<std::string, std::string> before = Files(outbox);
  clients::PublisherOptions o = TestOptions(address_);
  o.outbox_dir = outbox;
  auto refused = clients::Publisher::Start(o, nullptr);
  EXPECT_TRUE(Files(outbox) == before) << "a refused outbox was changed";
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kDataLoss) << refused.status();
  EXPECT_THAT(refused.status().message(), ::testing::HasSubstr("is damaged"));
  EXPECT_THAT(refused.status().message(), ::testing::HasSubstr("Move the folder aside"));

  FlipByte(wal, middle);  // put right
  DeliversTheFiftyOnce();
}

// The physical records of a RocksDB write-ahead log (32 KiB blocks of
// records: a 4-byte checksum, a 2-byte little-endian length, a type): the
// offset of each record's header.
std::vector<size_t> WalRecords(const std::string& bytes) {
  constexpr size_t kBlock = 32768, kHeader = 7;
  std::vector<size_t> records;
  size_t off = 0;
  while (off + kHeader <= bytes.size()) {
    if (const size_t left = kBlock - off % kBlock; left < kHeader) {
      off += left;  // the block's trailer
      continue;
    }
    const size_t length = static_cast<uint8_t>(bytes[off + 4]) |
                          static_cast<size_t>(static_cast<uint8_t>(bytes[off + 5])) << 8;
    if (length == 0 && bytes[off + 6] == 0) break;  // zeros past the end
    records.push_back(off);
    off += kHeader + length;
  }
  return records;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void WriteAll(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// What RocksDB's recovery takes for a crash's torn last write, and drops
// without a word with every record after it: a record whose length runs
// past the end of the log, whether the log was cut short, a length damaged
// in its last block, or the log deleted. Each is refused, from the number
// of the last event taken kept beside (EVENHAND-TAKEN), the folder left as
// it was. A real torn last write (an event whose Publish never returned)
// is not refused, and the fifty are delivered once.
TEST_F(PublisherTest, AWriteAheadLogThatEndsBeforeTheLastEventTakenIsRefused) {
  const std::string outbox = dir_.Sub("outbox");
  ASSERT_NO_FATAL_FAILURE(HandOverFiftyAndDie(outbox));
  const std::string wal = LargestFile(outbox, ".log");
  ASSERT_FALSE(wal.empty());
  const std::string name = std::filesystem::path(wal).filename();
  const std::string bytes = ReadAll(wal);
  const std::vector<size_t> records = WalRecords(bytes);
  ASSERT_GE(records.size(), 50u);
  EXPECT_EQ(ReadAll(outbox + "/EVENHAND-TAKEN"), "00000000000000000050\n");

  std::string length_damaged = bytes;  // the 25th event's length: 65535
  length_damaged[records[24] + 4] = '\xff';
  length_damaged[records[24] + 5] = '\xff';
  const struct {
    std::string what;
    std::function<void(const std::string& copy)> damage;
    std::string says;
  } kCases[] = {
      {"cut short",
       [&](const std::string& copy) {
         std::filesystem::resize_file(copy + "/" + name, records[30] + 20);
       },
       "its files end at number 30"},
      {"a length damaged",
       [&](const std::string& copy) { WriteAll(copy + "/" + name, length_damaged); },
       "its files end at number 24"},
      {"deleted", [&](const std::string& copy) { std::filesystem::remove(copy + "/" + name); },
       "its files end at number 0"},
      {"its record of the last event taken deleted",
       [&](const std::string& copy) { std::filesystem::remove(copy + "/EVENHAND-TAKEN"); },
       "EVENHAND-TAKEN, is missing"},
      {"its record of the last event taken garbled",
       [&](const std::string& copy) { WriteAll(copy + "/EVENHAND-TAKEN", "5O\n"); },
       "does not hold a number"},
      {"its RocksDB gone",
       [&](const std::string& copy) { std::filesystem::remove(copy + "/CURRENT"); },
       "there is no CURRENT"},
  };
  for (const auto& c : kCases) {
    SCOPED_TRACE(c.what);
    const std::string copy = dir_.Sub("copy");
    std::filesystem::remove_all(copy);
    std::filesystem::copy(outbox, copy, std::filesystem::copy_options::recursive);
    c.damage(copy);
    const std::map<std::string, std::string> before = Files(copy);
    clients::PublisherOptions o = TestOptions(address_);
    o.outbox_dir = copy;
    auto refused = clients::Publisher::Start(o, nullptr);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kDataLoss) << refused.status();
    EXPECT_THAT(refused.status().message(), ::testing::HasSubstr(c.says));
    EXPECT_THAT(refused.status().message(), ::testing::HasSubstr("Move the folder aside"));
    EXPECT_TRUE(Files(copy) == before) << "a refused outbox was changed";
  }

  // A torn last write: the header of a record whose bytes never all came.
  std::string torn = bytes.substr(0, records.back());
  const size_t last_length = static_cast<uint8_t>(bytes[records.back() + 4]) |
                             static_cast<size_t>(static_cast<uint8_t>(bytes[records.back() + 5]))
                                 << 8;
  torn += bytes.substr(records.back(), 7 + last_length);
  torn += std::string("\x12\x34\x56\x78\xc8\x00\x01", 7) + std::string(50, 'x');
  WriteAll(wal, torn);
  DeliversTheFiftyOnce();
  // Numbers go on from the highest taken, every event delivered: a new one
  // is the 51st, recorded so.
  {
    Reported reported;
    auto publisher = NewPublisher(&reported);
    ASSERT_TRUE(publisher->Publish("officer-o-next", Officer("o-next")).ok());
  }
  EXPECT_EQ(ReadAll(outbox + "/EVENHAND-TAKEN"), "00000000000000000051\n");
}

// A publisher closed with events waiting writes them into a table file,
// whose size is on record: one cut short is refused, not read as fewer
// events. The folder is owner-only: it holds whole events.
TEST_F(PublisherTest, AClosedOutboxCutShortIsRefusedAndTheFolderIsOwnerOnly) {
  {
    Reported reported;
    auto publisher = NewPublisher(&reported);  // nobody listens
    for (int i = 0; i < 100; ++i) {
      ASSERT_TRUE(
          publisher->Publish(absl::StrCat("officer-o-", i), Officer(absl::StrCat("o-", i))).ok());
    }
    publisher->Close();
  }
  const std::string outbox = dir_.Sub("outbox");
  EXPECT_EQ(std::filesystem::status(outbox).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_all);
  // Its MANIFEST cut short: read as is, it lists no table, and opening it
  // to write would delete the table that holds the events. Refused, from
  // the count the clean close left beside it; nothing deleted.
  const std::string copy = dir_.Sub("outbox-copy");
  std::filesystem::copy(outbox, copy, std::filesystem::copy_options::recursive);
  std::string manifest_path;
  for (const auto& f : std::filesystem::directory_iterator(copy)) {
    if (absl::StartsWith(f.path().filename().string(), "MANIFEST-")) manifest_path = f.path();
  }
  ASSERT_FALSE(manifest_path.empty());
  std::filesystem::resize_file(manifest_path, std::filesystem::file_size(manifest_path) - 20);
  const std::string copied_table = LargestFile(copy, ".sst");
  clients::PublisherOptions o = TestOptions(address_);
  o.outbox_dir = copy;
  auto refused = clients::Publisher::Start(o, nullptr);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kDataLoss) << refused.status();
  EXPECT_THAT(
      std::string(refused.status().message()),
      ::testing::HasSubstr("it held 100 events when it was last closed, and its files hold 0"));
  EXPECT_TRUE(std::filesystem::exists(copied_table)) << "the events' table was deleted";
  // Nor with its state file emptied (as a crash mid-write leaves one) or
  // deleted beside it.
  for (const bool deleted : {false, true}) {
    const std::string state = copy + "/EVENHAND-STATE";
    if (deleted) {
      std::filesystem::remove(state);
    } else {
      std::ofstream(state, std::ios::trunc).flush();
    }
    refused = clients::Publisher::Start(o, nullptr);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kDataLoss) << refused.status();
    EXPECT_THAT(std::string(refused.status().message()), ::testing::HasSubstr("state file"));
    EXPECT_TRUE(std::filesystem::exists(copied_table)) << "the events' table was deleted";
  }

  // A table cut short: refused too.
  const std::string table = LargestFile(outbox, ".sst");
  ASSERT_FALSE(table.empty()) << "the events were not written into a table at close";
  std::filesystem::resize_file(table, std::filesystem::file_size(table) / 2);
  o.outbox_dir = outbox;
  refused = clients::Publisher::Start(o, nullptr);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kDataLoss) << refused.status();
}

// One outbox, one publisher: a second is refused (FAILED_PRECONDITION)
// without touching the first's files, and may start once the first is gone.
TEST_F(PublisherTest, ASecondPublisherOnAnOutboxIsRefusedUntilTheFirstIsGone) {
  Reported reported;
  auto first = NewPublisher(&reported);
  ASSERT_TRUE(first->Publish("officer-o-one", Officer("o-one")).ok());
  clients::PublisherOptions o = TestOptions(address_);
  o.outbox_dir = dir_.Sub("outbox");
  auto second = clients::Publisher::Start(o, nullptr);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition) << second.status();
  EXPECT_THAT(std::string(second.status().message()),
              ::testing::HasSubstr("is open in another publisher"));
  first.reset();
  auto third = clients::Publisher::Start(o, nullptr);
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_EQ((*third)->pending(), 1u);
}

// A nearly full disk under the outbox refuses new events (RocksDB writing
// to a full disk can abort the process, taking the council system with
// it); what the outbox holds is kept and delivered. Events the server would
// refuse as a mistake are refused at once, not taken.
TEST_F(PublisherTest, ANearlyFullDiskAndWrongEventsAreRefusedAtPublish) {
  std::atomic<uint64_t> free_bytes{1 << 20};
  clients::PublisherOptions o = TestOptions(address_);
  o.outbox_dir = dir_.Sub("outbox");
  o.outbox_free_bytes = [&]() -> absl::StatusOr<uint64_t> { return free_bytes.load(); };
  Reported reported;
  auto on_outcome = [&reported](const clients::Outcome& out) { reported.Add(out); };
  auto refused = clients::Publisher::Start(o, on_outcome);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted) << refused.status();
  EXPECT_THAT(refused.status().message(), ::testing::HasSubstr("outbox_min_free_bytes"));

  free_bytes = uint64_t{1} << 40;
  auto publisher = clients::Publisher::Start(o, on_outcome);
  ASSERT_TRUE(publisher.ok()) << publisher.status();
  std::vector<std::string> taken;
  for (int i = 0; i < 10; ++i) {
    auto id = (*publisher)->Publish(absl::StrCat("officer-o-", i), Officer(absl::StrCat("o-", i)));
    ASSERT_TRUE(id.ok()) << id.status();
    taken.push_back(*id);
  }
  free_bytes = 1 << 20;
  auto full = (*publisher)->Publish("officer-o-full", Officer("o-full"));
  EXPECT_EQ(full.status().code(), absl::StatusCode::kResourceExhausted) << full.status();
  EXPECT_THAT(full.status().message(), ::testing::HasSubstr("was not taken"));
  free_bytes = uint64_t{1} << 40;

  v1::Event undated = Officer("o-undated");
  undated.clear_occurred_at();
  auto no_time = (*publisher)->Publish("officer-o-undated", undated);
  EXPECT_EQ(no_time.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(no_time.status().message(), ::testing::HasSubstr("has no occurred_at"));
  v1::Event elsewhere = Officer("o-elsewhere");
  elsewhere.set_stream_id("officer-o-other");
  auto other_stream = (*publisher)->Publish("officer-o-elsewhere", elsewhere);
  EXPECT_EQ(other_stream.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(other_stream.status().message(),
              ::testing::HasSubstr("names stream officer-o-other"));
  EXPECT_EQ((*publisher)->pending(), 10u);

  auto server = Server(0);
  ASSERT_TRUE((*publisher)->Flush(absl::Seconds(30)));
  auto log = InTheLog(*server);
  for (const std::string& id : taken) EXPECT_EQ(log[id], 1) << id;
  absl::MutexLock lock(&reported.mu);
  EXPECT_EQ(reported.times.size(), 10u);
}

}  // namespace
}  // namespace evenhand
