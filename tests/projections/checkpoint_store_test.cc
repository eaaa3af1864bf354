// The checkpoint's RocksDB as the runner opens it (internal/checkpoint_store.h):
// a case read back reads its own block, not a large neighbour's.
#include <cstdint>
#include <memory>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "projections/internal/checkpoint_store.h"
#include "rocksdb/cache.h"
#include "rocksdb/db.h"
#include "rocksdb/perf_context.h"
#include "rocksdb/perf_level.h"
#include "rocksdb/table.h"
#include "tests/testing/temp_dir.h"

namespace evenhand::projections::internal {
namespace {

constexpr int kCases = 2000;
constexpr int kReads = 200;
constexpr size_t kLargeCase = 1 << 20;

std::string CaseKey(const std::string& stream) { return absl::StrCat(kCasePrefix, stream); }

// A case of one fact whose subject is `padding` letters that compress
// as little as a day's access records do.
std::string Body(const std::string& stream, size_t padding) {
  std::mt19937 rng(7);
  std::string subject(padding, 'a');
  for (char& c : subject) c = static_cast<char>('a' + rng() % 26);
  state::CaseRecord r;
  r.set_stream_id(stream);
  state::FactRecord* fact = r.add_facts();
  fact->set_position(1);
  fact->mutable_payload()->mutable_written_query_received()->set_subject(subject);
  return r.SerializeAsString();
}

// Bytes of blocks read from files (not the block cache) by the calling
// thread while reading `kReads` of the small cases back.
uint64_t BlockBytesReadingCasesBack(const std::string& dir,
                                    const rocksdb::BlockBasedTableOptions& table) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, dir, &raw);
  EXPECT_TRUE(s.ok()) << s.ToString();
  if (!s.ok()) return 0;
  std::unique_ptr<rocksdb::DB> db(raw);
  // A first checkpoint: every case, small. Then a later one holding a
  // single case, large (a busy day's access records), and the findings
  // index's header, which sorts after every case: its file spans the keys
  // of the cases of the first.
  for (int i = 0; i < kCases; ++i) {
    const std::string stream = absl::StrCat("query-Q-", i);
    EXPECT_TRUE(db->Put(rocksdb::WriteOptions(), CaseKey(stream), Body(stream, 100)).ok());
  }
  EXPECT_TRUE(db->Flush(rocksdb::FlushOptions()).ok());
  const std::string large = "access-local#2026-12-02";
  EXPECT_TRUE(db->Put(rocksdb::WriteOptions(), CaseKey(large), Body(large, kLargeCase)).ok());
  EXPECT_TRUE(db->Put(rocksdb::WriteOptions(), kFindingsHeaderKey, "header").ok());
  EXPECT_TRUE(db->Flush(rocksdb::FlushOptions()).ok());

  std::unique_ptr<StoredCases> stored = NewRocksStoredCases(db.get());
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kEnableCount);
  rocksdb::get_perf_context()->Reset();
  for (int i = 0; i < kReads; ++i) {
    const std::string stream = absl::StrCat("query-Q-", i * (kCases / kReads));
    std::string bytes;
    absl::Status read = stored->ReadCase(stream, &bytes);
    EXPECT_TRUE(read.ok()) << read;
    state::CaseRecord record;
    EXPECT_TRUE(record.ParseFromString(bytes));
    EXPECT_EQ(record.stream_id(), stream);
  }
  const uint64_t bytes = rocksdb::get_perf_context()->block_read_byte;
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
  return bytes;
}

TEST(CheckpointStoreTest, ACaseReadBackReadsItsOwnBlockNotALargeNeighbours) {
  evenhand::testing::TempDir dir;
  const uint64_t bytes =
      BlockBytesReadingCasesBack(dir.Sub("checkpoint"), CheckpointTableOptions(32 << 20));
  // A 4 KiB block each, give or take one that straddles two.
  EXPECT_LT(bytes, kReads * uint64_t{16 << 10}) << bytes / kReads << " bytes per case";

  // Why it is asked of the options: without a filter, the later file is
  // searched for every case, in the block of the large one (too large to
  // stay in the cache: 64 shards of 512 KiB), read whole each time.
  evenhand::testing::TempDir plain_dir;
  rocksdb::BlockBasedTableOptions plain;
  plain.block_cache = rocksdb::NewLRUCache(32 << 20, /*num_shard_bits=*/6);
  const uint64_t plain_bytes = BlockBytesReadingCasesBack(plain_dir.Sub("checkpoint"), plain);
  EXPECT_GT(plain_bytes, kReads * uint64_t{kLargeCase / 2}) << plain_bytes / kReads;
}

}  // namespace
}  // namespace evenhand::projections::internal
