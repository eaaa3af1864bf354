// The checkpoint's RocksDB as the runner opens it (internal/checkpoint_store.h):
// a case read back reads its own block, not a large neighbour's; withdrawn
// entries are found as of a position; the group figures' changes are read
// back by day after a position.
#include "projections/internal/checkpoint_store.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
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

// A RocksDB created in `dir` with the default options (null, a failure
// added, if it cannot be opened).
std::unique_ptr<rocksdb::DB> OpenCreated(const std::string& dir) {
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, dir, &raw);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return std::unique_ptr<rocksdb::DB>(s.ok() ? raw : nullptr);
}

// Each checkpoint's changes to a day's group figures, one by one and
// summed, read back by day from after a position, or one record by its
// day and last position: what a report as of a past position reads,
// checked against the records as written, over days either side of 1970
// (the day's sign in the key).
TEST(CheckpointStoreTest, FigureChangesAreReadByDayAfterAPosition) {
  evenhand::testing::TempDir dir;
  std::unique_ptr<rocksdb::DB> db = OpenCreated(dir.Sub("checkpoint"));
  ASSERT_NE(db, nullptr);
  // Four checkpoints of ten positions each; each changes some of the days
  // at some of its positions.
  const std::vector<int64_t> days = {-40000, -1, 0, 1, 20000};
  std::mt19937 rng(11);
  struct Written {
    int64_t day;
    uint64_t position;
  };
  std::vector<Written> changes;
  std::map<std::pair<int64_t, uint64_t>, std::string> records;  // (day, last) -> its first
  for (uint64_t checkpoint = 0; checkpoint < 4; ++checkpoint) {
    for (int64_t day : days) {
      state::FigureChangesRecord r;
      for (uint64_t p = checkpoint * 10 + 1; p <= checkpoint * 10 + 10; ++p) {
        if (rng() % 3 != 0) continue;
        state::FigureChangeRecord* c = r.add_changes();
        c->set_position(p);
        c->set_subject(absl::StrCat("query-", day, "-", p));
        changes.push_back({day, p});
      }
      if (r.changes().empty()) continue;
      const uint64_t last = r.changes().rbegin()->position();
      state::FigureSumsRecord sums;
      sums.set_first_position(r.changes(0).position());
      ASSERT_TRUE(
          db->Put(rocksdb::WriteOptions(), FigureChangeKey(day, last), r.SerializeAsString()).ok());
      ASSERT_TRUE(
          db->Put(rocksdb::WriteOptions(), FigureSumsKey(day, last), sums.SerializeAsString())
              .ok());
      records[{day, last}] = r.changes(0).subject();
    }
    if (checkpoint == 1) ASSERT_TRUE(db->Flush(rocksdb::FlushOptions()).ok());
  }
  std::sort(changes.begin(), changes.end(), [](const Written& a, const Written& b) {
    return std::pair(a.day, a.position) < std::pair(b.day, b.position);
  });
  std::unique_ptr<StoredFindings> stored = NewRocksStoredFindings(db.get());
  int compared = 0;
  for (size_t first = 0; first < days.size(); ++first) {
    for (size_t last = first; last < days.size(); ++last) {
      for (uint64_t after : {0, 5, 10, 17, 30, 40}) {
        std::vector<std::string> want, got;
        for (const Written& w : changes) {
          if (w.day >= days[first] && w.day <= days[last] && w.position > after) {
            want.push_back(absl::StrCat("query-", w.day, "-", w.position));
          }
        }
        absl::Status s = stored->ScanFigureChanges(
            days[first], days[last], after,
            [&](const state::FigureChangeRecord& c) { got.push_back(c.subject()); });
        ASSERT_TRUE(s.ok()) << s;
        EXPECT_EQ(got, want) << "days " << days[first] << " to " << days[last] << ", after "
                             << after;
        std::vector<std::pair<int64_t, uint64_t>> want_sums, got_sums;
        for (const auto& [key, first_subject] : records) {
          if (key.first >= days[first] && key.first <= days[last] && key.second > after) {
            want_sums.push_back(key);
          }
        }
        s = stored->ScanFigureSums(
            days[first], days[last], after,
            [&](int64_t day, uint64_t last_position, const state::FigureSumsRecord& r) {
              got_sums.emplace_back(day, last_position);
              EXPECT_LE(r.first_position(), last_position);
            });
        ASSERT_TRUE(s.ok()) << s;
        EXPECT_EQ(got_sums, want_sums)
            << "days " << days[first] << " to " << days[last] << ", after " << after;
        ++compared;
      }
    }
  }
  EXPECT_EQ(compared, 90);
  for (const auto& [key, first_subject] : records) {
    state::FigureChangesRecord r;
    ASSERT_TRUE(stored->GetFigureChanges(key.first, key.second, &r).ok());
    EXPECT_EQ(r.changes(0).subject(), first_subject);
    EXPECT_EQ(r.changes().rbegin()->position(), key.second);
  }
  state::FigureChangesRecord none;
  EXPECT_TRUE(absl::IsNotFound(stored->GetFigureChanges(0, 41, &none)));
}

// Withdrawn entries are read back as of a position by the block of
// positions their lives fit in: every one alive then and dated in the
// period is found (and, by its key alone, none other is parsed), whatever
// the lengths of their lives, checked against the entries as written.
TEST(CheckpointStoreTest, WithdrawnEntriesAreFoundAsOfAnyPositionTheyWereAliveAt) {
  evenhand::testing::TempDir dir;
  std::unique_ptr<rocksdb::DB> db = OpenCreated(dir.Sub("checkpoint"));
  ASSERT_NE(db, nullptr);
  std::mt19937_64 rng(5);
  constexpr uint64_t kLast = 1 << 20;
  std::vector<state::FindingEntryRecord> written;
  for (uint32_t id = 1; id <= 3000; ++id) {
    state::FindingEntryRecord e;
    e.set_id(id);
    e.set_obligation(id % 3 == 0);
    e.set_when_nanos(static_cast<int64_t>(rng() % 2000) - 1000);
    // Lives of every length: a position or two, thousands, nearly all.
    const uint64_t appeared = 1 + rng() % kLast;
    const uint64_t length = uint64_t{1} << (rng() % 21);
    e.set_appeared(appeared);
    e.set_withdrawn(appeared + 1 + rng() % length);
    if (id % 97 == 0) e.set_withdrawn(appeared);  // withdrawn as it appeared
    if (id == 1) {
      e.set_appeared(1);
      e.set_withdrawn(UINT64_MAX);
    }
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), WithdrawnKey(e), e.SerializeAsString()).ok());
    written.push_back(e);
    if (id == 1500) ASSERT_TRUE(db->Flush(rocksdb::FlushOptions()).ok());
  }
  std::unique_ptr<StoredFindings> stored = NewRocksStoredFindings(db.get());
  size_t found = 0;
  for (int i = 0; i < 300; ++i) {
    const bool obligations = i % 2 == 0;
    const uint64_t p = i == 0 ? UINT64_MAX - 1 : 1 + rng() % (kLast + 1000);
    const int64_t from = static_cast<int64_t>(rng() % 2000) - 1000;
    const int64_t to = i % 5 == 0 ? INT64_MAX : from + static_cast<int64_t>(rng() % 1000);
    std::set<uint32_t> want, got;
    for (const auto& e : written) {
      if (e.obligation() == obligations && e.when_nanos() >= from && e.when_nanos() < to &&
          e.appeared() <= p && p < e.withdrawn()) {
        want.insert(e.id());
      }
    }
    absl::Status s = stored->Scan(obligations, /*withdrawn=*/true, from, to, p,
                                  [&](const state::FindingEntryRecord& e) {
                                    EXPECT_TRUE(e.appeared() <= p && p < e.withdrawn()) << e.id();
                                    EXPECT_TRUE(got.insert(e.id()).second) << e.id();
                                    return true;
                                  });
    ASSERT_TRUE(s.ok()) << s;
    EXPECT_EQ(got, want) << "as of " << p << ", dated from " << from << " to " << to;
    found += got.size();
  }
  EXPECT_GT(found, 1000u);
  // One block per level, each holding its first and last positions alive.
  EXPECT_EQ(WithdrawnLevel(8, 9), 0);
  EXPECT_EQ(WithdrawnLevel(8, 10), 1);
  EXPECT_EQ(WithdrawnLevel(7, 9), 4);
  EXPECT_EQ(WithdrawnLevel(1, UINT64_MAX), 64);
}

}  // namespace
}  // namespace evenhand::projections::internal
