// The tree as the server stores it (tiles of 256 hashes, the chain every
// 256 positions, a run of leaves and the chain head per commit): proofs and
// chains across tile boundaries before and after a restart, the conversion
// of the older layout, events appended behind the tree, and a changed event
// never carried into a chain hash.
#include "tests/integrity/integrity_log_fixture.h"

namespace evenhand::integrity {
namespace {

TEST_F(IntegrityLogTest, ALogWrittenBeforeTheTreeExistedIsHashedOnce) {
  TearDown();
  Open(/*with_integrity=*/false);
  DeleteAll(*store_, {"f"});  // as if the tree had never been
  AppendMany(200);            // about 400 events: past the first tile
  TearDown();
  Open();
  auto [root, chain] = Recompute();
  EXPECT_EQ(log_->size(), store_->LastPosition());
  EXPECT_EQ(*log_->Root(log_->size()), root);
  EXPECT_EQ(*log_->ChainHashAt(log_->size()), chain);
  EXPECT_EQ(KeysWithPrefix(*store_, "f").size(), 1u);
  EXPECT_TRUE(KeysWithPrefix(*store_, "p").empty());
  // Hashed once: the next start finds the tree complete.
  TearDown();
  Open();
  EXPECT_EQ(*log_->Root(log_->size()), root);
}

TEST_F(IntegrityLogTest, EventsAppendedBehindTheTreesBackAreRefusedNotSilentlyMissed) {
  AppendMany(10);
  TearDown();
  Open(/*with_integrity=*/false);
  AppendMany(200);  // past a tile the tree never wrote
  TearDown();
  ExpectRefusedAsAppendedBehindTheTree();
}

TEST_F(IntegrityLogTest, EventsAppendedBehindTheTreeWithinOneTileAreRefusedToo) {
  AppendMany(10);
  TearDown();
  Open(/*with_integrity=*/false);
  AppendMany(3);  // no tile boundary crossed: only the runs can tell
  TearDown();
  ExpectRefusedAsAppendedBehindTheTree();
}

// The chain is stored every 256 positions and after each commit; the rest
// is carried forward over the events. A changed event is never carried
// into a chain hash: it is found, and the head stays the one stored.
TEST_F(IntegrityLogTest, AChangedEventIsFoundAndNeverCarriedIntoTheChain) {
  AppendMany(150);  // 300 events: a full tile, then 44 in runs
  const uint64_t size = store_->LastPosition();
  ASSERT_EQ(size, 300u);
  const std::string head = *log_->ChainHashAt(size);
  ASSERT_OK(log_->CheckpointNow().status());  // signed at 300
  TearDown();
  // Change event 290: before the signed checkpoint, in the runs' block.
  Open(/*with_integrity=*/false);
  {
    rocksdb::ColumnFamilyHandle* events = store_->ColumnFamily("events");
    ASSERT_NE(events, nullptr);
    const std::string key = BigEndian64(290);
    std::string value;
    ASSERT_TRUE(store_->db()->Get(rocksdb::ReadOptions(), events, key, &value).ok());
    v1::RecordedEvent record;
    ASSERT_TRUE(record.ParseFromString(value));
    record.mutable_event()->set_source_system("somebody-else");
    ASSERT_TRUE(
        store_->db()->Put(rocksdb::WriteOptions(), events, key, record.SerializeAsString()).ok());
  }
  TearDown();
  Open();
  // The start-up check walks from the stored chain hash at 256, so it
  // meets position 290 and marks it.
  bool found = false;
  for (const std::string& p : log_->problems()) found |= absl::StrContains(p, "position 290");
  EXPECT_TRUE(found) << absl::StrJoin(log_->problems(), "; ");
  // The head is the stored one, not one carried over the changed event...
  EXPECT_EQ(*log_->ChainHashAt(size), head);
  // ...and a chain hash that would have to be carried over it is refused,
  // naming it.
  auto carried = log_->ChainHashAt(295);
  ASSERT_FALSE(carried.ok());
  EXPECT_EQ(carried.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(carried.status().message()), ::testing::HasSubstr("position 290"));
  // Before it, it is carried as before.
  EXPECT_TRUE(log_->ChainHashAt(280).ok());
}

TEST_F(IntegrityLogTest, TheTreeIsStoredInTilesAndTheChainEvery256Positions) {
  // A log with no checkpoint signs one within a second of its first
  // append, which would delete runs under the counts below on a slow
  // machine; the next is 60 seconds after this one.
  ASSERT_OK(log_->CheckpointNow().status());
  AppendMany(300);  // 600 events in 300 commits
  const uint64_t size = store_->LastPosition();
  ASSERT_EQ(size, 600u);
  // Two full level-0 tiles, two chain hashes, and a run of leaves per
  // commit, until a checkpoint deletes those the tiles replaced.
  EXPECT_EQ(KeysWithPrefix(*store_, "t").size(), 2u);
  EXPECT_EQ(KeysWithPrefix(*store_, "c").size(), 2u);
  EXPECT_EQ(KeysWithPrefix(*store_, "e").size(), 300u);
  ASSERT_OK(log_->CheckpointNow().status());
  const auto runs = KeysWithPrefix(*store_, "e");
  EXPECT_FALSE(runs.empty());
  for (const std::string& k : runs) EXPECT_GT(ReadBigEndian64(k.substr(1)), 512u);
  EXPECT_TRUE(KeysWithPrefix(*store_, "n").empty());
  EXPECT_TRUE(KeysWithPrefix(*store_, "s").empty());
  // Every chain hash, carried from the stored ones, and every proof.
  std::vector<std::string> chains = {GenesisChainHash()};
  std::vector<std::string> leaves;
  CompactRange range;
  std::vector<std::string> roots;
  ASSERT_OK(store_->ReadAll(std::nullopt, storage::Direction::kForwards, 0, {},
                            [&](const storage::EventPtr& e) {
                              std::string c = *CanonicalRecord(*e);
                              chains.push_back(ChainHash(chains.back(), c));
                              leaves.push_back(LeafHash(c));
                              range.Append(leaves.back(), [](int, uint64_t, const std::string&) {});
                              roots.push_back(range.Root());
                              return true;
                            }));
  auto check = [&] {
    for (uint64_t p = 0; p <= size; p += (p % 256 == 255 || p % 256 == 0) ? 1 : 37) {
      ASSERT_OK_AND_ASSIGN(std::string chain, log_->ChainHashAt(p));
      EXPECT_EQ(chain, chains[p]) << p;
    }
    IntegrityLog::ReadCache cache;
    for (uint64_t p = 1; p <= size; ++p) {
      ASSERT_OK_AND_ASSIGN(std::string leaf, log_->LeafHash(p, &cache));
      EXPECT_EQ(leaf, leaves[p - 1]) << p;
    }
    for (uint64_t n : {1u, 255u, 256u, 257u, 511u, 512u, 513u, 599u, 600u}) {
      ASSERT_OK_AND_ASSIGN(std::string root, log_->Root(n));
      EXPECT_EQ(root, roots[n - 1]) << n;
      for (uint64_t p : {uint64_t{1}, n / 2 + 1, n}) {
        ASSERT_OK_AND_ASSIGN(v1::InclusionProof proof, log_->InclusionProof(p, n));
        std::vector<std::string> path(proof.hashes().begin(), proof.hashes().end());
        EXPECT_TRUE(VerifyInclusion(p - 1, n, leaves[p - 1], path, root).ok()) << p << " in " << n;
      }
      for (uint64_t m : {uint64_t{1}, n / 3 + 1, n}) {
        if (m > n) continue;
        ASSERT_OK_AND_ASSIGN(v1::ConsistencyProof proof, log_->ConsistencyProof(m, n));
        std::vector<std::string> path(proof.hashes().begin(), proof.hashes().end());
        EXPECT_TRUE(VerifyConsistency(m, n, roots[m - 1], root, path).ok()) << m << " to " << n;
      }
    }
  };
  check();
  // The same after a restart, with the edge rebuilt from the stored tiles
  // and runs.
  TearDown();
  Open();
  check();
  // A replay's chain, carried event by event.
  IntegrityLog::ReadCache cache;
  ASSERT_OK(store_->ReadAll(std::nullopt, storage::Direction::kForwards, 0, {},
                            [&](const storage::EventPtr& e) {
                              auto chain = log_->ChainHashAfter(*e, &cache);
                              EXPECT_TRUE(chain.ok());
                              EXPECT_EQ(*chain, chains[e->position()]);
                              return true;
                            }));
}

TEST_F(IntegrityLogTest, TheOlderLayoutOfOneKeyPerNodeIsConvertedOnStart) {
  AppendMany(150);
  const auto [root, chain] = Recompute();
  TearDown();
  // The layout before tiles: a key per node and per chain hash, and the
  // size; here a few of them stand for all.
  Open(/*with_integrity=*/false);
  DeleteAll(*store_, {"f", "t", "e", "c"});
  rocksdb::ColumnFamilyHandle* cf = store_->ColumnFamily(IntegrityLog::kColumnFamily);
  for (uint64_t i = 0; i < 20; ++i) {
    std::string key = "n";
    key.push_back(0);
    PutBigEndian64(&key, i);
    ASSERT_TRUE(store_->db()->Put(rocksdb::WriteOptions(), cf, key, std::string(32, 'n')).ok());
    ASSERT_TRUE(
        store_->db()
            ->Put(rocksdb::WriteOptions(), cf, "c" + BigEndian64(i + 1), std::string(32, 'c'))
            .ok());
  }
  ASSERT_TRUE(store_->db()
                  ->Put(rocksdb::WriteOptions(), cf, "s", BigEndian64(store_->LastPosition()))
                  .ok());
  TearDown();
  Open();
  EXPECT_EQ(*log_->Root(log_->size()), root);
  EXPECT_EQ(*log_->ChainHashAt(log_->size()), chain);
  EXPECT_TRUE(KeysWithPrefix(*store_, "n").empty());
  EXPECT_TRUE(KeysWithPrefix(*store_, "s").empty());
  EXPECT_EQ(KeysWithPrefix(*store_, "f").size(), 1u);
  EXPECT_EQ(KeysWithPrefix(*store_, "c").size(), store_->LastPosition() / 256);
}

}  // namespace
}  // namespace evenhand::integrity
