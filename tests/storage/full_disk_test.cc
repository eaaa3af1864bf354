// The store on a disk that fills for real (a small tmpfs), with no floor of
// its own: RocksDB itself meets the end of the disk, and writes resume once
// space is freed. The server's floor, which refuses appends before RocksDB
// gets there, is tested in tests/server/reliability_test.cc.
#include <string>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/metrics.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "storage/disk_space.h"
#include "storage/event_store.h"
#include "tests/testing/events.h"
#include "tests/testing/small_disk.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace evenhand::storage {
namespace {

using ::evenhand::testing::AnEvent;
using ::evenhand::testing::SmallDisk;
using ::evenhand::testing::StatusIs;
using ::evenhand::testing::TempDir;
using ::testing::HasSubstr;

// Letters and digits at random: table files are compressed, and this does
// not shrink.
std::string Incompressible(size_t n) {
  static constexpr char kAlphabet[] =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  absl::BitGen random;
  std::string out(n, ' ');
  for (char& c : out) c = kAlphabet[absl::Uniform<size_t>(random, 0, sizeof(kAlphabet) - 1)];
  return out;
}

TEST(FullDiskTest, AfterRocksDbMeetsTheEndOfTheDiskWritesResumeOnceAMemtablesRoomIsFree) {
  TempDir dir;
  // Smaller than RocksDB's default memtable (64 MiB), whose room it keeps
  // free to resume: with that reserve, writes could never resume here.
  SmallDisk disk(dir.Sub("disk"), 32);
  if (!disk.ok()) GTEST_SKIP() << disk.reason();
  StoreOptions options;
  options.data_dir = dir.Sub("disk") + "/data";
  options.memtable_bytes = 4 << 20;
  options.min_free_bytes = 0;  // no floor: RocksDB meets the end itself
  options.reserve_bytes = 0;
  auto opened = EventStore::Open(options);
  ASSERT_OK(opened);
  std::unique_ptr<EventStore> store = std::move(*opened);
  ASSERT_OK(store->Append("s", ExpectedRevision::Any(), {AnEvent()}));

  // Three MiB in the memtables (below the 3.5 MiB at which RocksDB switches
  // a 4 MiB memtable: not flushed yet), then a disk with less than a
  // memtable's room: the write-ahead log takes the last events, and the flush
  // of the full memtable cannot be written.
  uint64_t acknowledged = 1;
  uint64_t in_memtables = 0;
  for (int i = 0; i < 200 && in_memtables < (3u << 20); ++i) {
    ASSERT_OK(store->Append("s", ExpectedRevision::Any(), {AnEvent(Incompressible(60000))}));
    ++acknowledged;
    ASSERT_TRUE(
        store->db()->GetAggregatedIntProperty("rocksdb.cur-size-all-mem-tables", &in_memtables));
  }
  ASSERT_GE(in_memtables, 3u << 20);
  // The flush is held until the append that switched the memtable has
  // written its write-ahead log: otherwise, on a loaded machine, the flush
  // can take the last free bytes first and the log's own write meets the
  // end of the disk (a write whose outcome is unknown, which stops appends
  // until a restart: tested in tests/storage/event_store_test.cc).
  ASSERT_TRUE(store->db()->PauseBackgroundWork().ok());
  disk.FillLeaving(1536 << 10);
  uint64_t immutable = 0;
  for (int i = 0; i < 100 && immutable == 0; ++i) {
    ASSERT_OK(store->Append("s", ExpectedRevision::Any(), {AnEvent(Incompressible(60000))}));
    ++acknowledged;
    ASSERT_TRUE(
        store->db()->GetAggregatedIntProperty("rocksdb.num-immutable-mem-table", &immutable));
  }
  ASSERT_GE(immutable, 1u) << "the memtable never switched";
  ASSERT_TRUE(store->db()->ContinueBackgroundWork().ok());
  uint64_t background_errors = 0;
  for (int i = 0; i < 600 && background_errors == 0; ++i) {
    absl::SleepFor(absl::Milliseconds(100));
    ASSERT_TRUE(
        store->db()->GetAggregatedIntProperty("rocksdb.background-errors", &background_errors));
  }
  ASSERT_GE(background_errors, 1u) << "the flush never failed";
  absl::Status refused;
  for (int i = 0; i < 100 && refused.ok(); ++i) {
    auto r = store->Append("s", ExpectedRevision::Any(), {AnEvent(Incompressible(60000))});
    if (r.ok()) {
      ++acknowledged;
    } else {
      refused = r.status();
    }
  }
  ASSERT_FALSE(refused.ok()) << "the disk never filled";
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted) << refused;
  // On /metrics, by where it happened.
  EXPECT_GE(metrics::Registry::Default()
                .GetCounter("evenhand_rocksdb_errors_total", "", {{"in", "flush"}})
                .value(),
            1u);

  // Space is freed: well above a memtable's room, well below 64 MiB.
  disk.RemoveFillers();
  ASSERT_GT(disk.Free(), 16ull << 20);
  bool resumed = false;
  absl::Status last;
  // RocksDB retries its recovery every few seconds (its SstFileManager
  // polls the free space): a loaded machine (a parallel ctest) can take
  // several rounds, so up to a minute.
  for (int i = 0; i < 600 && !resumed; ++i) {
    auto r = store->Append("after", ExpectedRevision::Any(), {AnEvent()});
    resumed = r.ok();
    if (!resumed) {
      last = r.status();
      absl::SleepFor(absl::Milliseconds(100));
    }
  }
  EXPECT_TRUE(resumed) << "refused first with " << refused << "; still refused with "
                       << last;
  // What was acknowledged is there, and the refused append is not.
  EXPECT_EQ(store->LastPosition(), acknowledged + (resumed ? 1 : 0));
}

// The reserve file is made only with room for it and as much again above
// the floor (free space injected; the file is real).
TEST(DiskSpaceTest, TheReserveIsMadeOnlyWithRoomForItAndAsMuchAgain) {
  TempDir dir;
  uint64_t free = 0;
  DiskSpaceOptions options;
  options.dir = dir.path();
  options.floor_bytes = 1 << 20;
  options.reserve_bytes = 1 << 20;
  options.free_bytes = [&]() -> absl::StatusOr<uint64_t> { return free; };
  DiskSpace space(options);
  free = (5u << 20) / 2;  // floor + reserve + a half: not enough
  EXPECT_THAT(space.EnsureReserve(), StatusIs(absl::StatusCode::kResourceExhausted,
                                              HasSubstr("and as much again above the floor")));
  EXPECT_FALSE(space.HasReserve());
  free = 3u << 20;  // floor + twice the reserve
  EXPECT_OK(space.EnsureReserve());
  EXPECT_TRUE(space.HasReserve());
}

}  // namespace
}  // namespace evenhand::storage
