// TokenBucketRateLimiter: every request is granted, whoever else waits, and
// RocksDBs flush and compact through it to the end. (No timing is asserted:
// a request that is never granted hangs the test until ctest times it out.)
#include "storage/rate_limiter.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "storage/rocksdb_support.h"
#include "tests/testing/temp_dir.h"

namespace evenhand::storage {
namespace {

// Many threads of every priority asking for bursts at once, at a rate that
// keeps them all waiting: each is granted all it asked for.
TEST(TokenBucketRateLimiterTest, EveryRequestIsGrantedUnderContention) {
  TokenBucketRateLimiter limiter(/*bytes_per_second=*/64 << 20, /*refill_micros=*/1000);
  const int64_t burst = limiter.GetSingleBurstBytes();
  ASSERT_EQ(burst, (64 << 20) / 1000);
  constexpr int kThreads = 12;
  constexpr int kRequests = 300;
  const rocksdb::Env::IOPriority priorities[] = {rocksdb::Env::IO_LOW, rocksdb::Env::IO_MID,
                                                 rocksdb::Env::IO_HIGH, rocksdb::Env::IO_USER};
  std::vector<std::thread> threads;
  std::atomic<int64_t> asked{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRequests; ++i) {
        const int64_t bytes = 1 + (i * 7919 + t * 104729) % burst;
        limiter.Request(bytes, priorities[t % 4], nullptr);
        asked += bytes;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(limiter.GetTotalBytesThrough(rocksdb::Env::IO_TOTAL), asked.load());
  EXPECT_EQ(limiter.GetTotalRequests(rocksdb::Env::IO_TOTAL), kThreads * kRequests);
  EXPECT_EQ(limiter.GetTotalRequests(rocksdb::Env::IO_HIGH), kThreads / 4 * kRequests);
  int64_t pending = -1;
  ASSERT_TRUE(limiter.GetTotalPendingRequests(&pending, rocksdb::Env::IO_TOTAL).ok());
  EXPECT_EQ(pending, 0);
}

// Flushes go first, but compactions are not starved: a low-priority thread
// is granted all it asks for while high-priority threads never stop asking.
TEST(TokenBucketRateLimiterTest, ALowPriorityIsGrantedWhileHigherOnesKeepAsking) {
  TokenBucketRateLimiter limiter(/*bytes_per_second=*/16 << 20, /*refill_micros=*/1000);
  const int64_t burst = limiter.GetSingleBurstBytes();
  std::atomic<bool> low_done{false};
  std::vector<std::thread> high;
  std::atomic<int64_t> high_requests{0};
  for (int t = 0; t < 3; ++t) {
    high.emplace_back([&] {
      while (!low_done) {
        limiter.Request(burst, rocksdb::Env::IO_HIGH, nullptr);
        ++high_requests;
      }
    });
  }
  for (int i = 0; i < 50; ++i) limiter.Request(burst / 2, rocksdb::Env::IO_LOW, nullptr);
  const int64_t high_meanwhile = high_requests.load();
  low_done = true;
  for (std::thread& t : high) t.join();
  EXPECT_EQ(limiter.GetTotalBytesThrough(rocksdb::Env::IO_LOW), 50 * (burst / 2));
  EXPECT_GT(high_meanwhile, 50) << "the high-priority threads were asking all along";
}

// Two RocksDBs sharing the limiter (as the projection's and the stream-head
// map's do), written from two threads each through memtables small enough
// to flush and compact again and again: every write and the closes finish.
TEST(TokenBucketRateLimiterTest, RocksDbsFlushAndCompactThroughItToTheEnd) {
  testing::TempDir dir;
  std::vector<std::unique_ptr<rocksdb::DB>> dbs;
  for (int d = 0; d < 2; ++d) {
    rocksdb::Options options;
    options.create_if_missing = true;
    options.write_buffer_size = 64 << 10;
    options.max_write_buffer_number = 2;
    options.level0_file_num_compaction_trigger = 2;
    ShareTheDiskWithTheLog(&options);
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, dir.Sub(absl::StrCat("db", d)), &db).ok());
    dbs.emplace_back(db);
  }
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      rocksdb::DB* db = dbs[w % 2].get();
      const std::string value(1000, static_cast<char>('a' + w));
      for (int i = 0; i < 4000; ++i) {
        ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), absl::StrCat(w, "/", i % 1500), value).ok());
      }
    });
  }
  for (std::thread& t : writers) t.join();
  for (auto& db : dbs) {
    ASSERT_TRUE(db->Flush(rocksdb::FlushOptions()).ok());
    ASSERT_TRUE(db->Close().ok());
  }
  rocksdb::Options probe;
  ShareTheDiskWithTheLog(&probe);
  EXPECT_GT(probe.rate_limiter->GetTotalBytesThrough(rocksdb::Env::IO_TOTAL), 1 << 20)
      << "the flushes and compactions went through it";
}

}  // namespace
}  // namespace evenhand::storage
