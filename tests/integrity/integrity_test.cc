// The canonical encoding, Ed25519 checkpoints, the store-backed tree and
// hash chain, and investigation bundles (including tampering).
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include "absl/strings/escaping.h"
#include "base/big_endian.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/match.h"
#include "evenhand/v1/fairness.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/unknown_field_set.h"
#include "gtest/gtest.h"
#include "integrity/bundle.h"
#include "integrity/bundle_writer.h"
#include "integrity/canonical.h"
#include "integrity/integrity_log.h"
#include "integrity/merkle.h"
#include "integrity/signing.h"
#include "integrity/stream_map.h"
#include "integrity/stream_map_store.h"
#include "integrity/tiles.h"
#include "rocksdb/db.h"
#include "tests/testing/events.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace evenhand::integrity {
namespace {

using ::evenhand::testing::AnEvent;
using ::evenhand::testing::SomeEvents;
using ::evenhand::testing::StatusIs;
using ::evenhand::testing::TempDir;
using ::testing::AllOf;
using ::testing::HasSubstr;

v1::RecordedEvent FixedRecord() {
  v1::RecordedEvent r;
  r.set_position(42);
  r.set_stream_revision(3);
  v1::Event* e = r.mutable_event();
  e->set_event_id("123e4567-e89b-12d3-a456-426614174000");
  e->set_type("BriefingDelivered");
  e->mutable_occurred_at()->set_seconds(1767225600);
  e->set_source_system("committee-mgmt");
  e->set_stream_id("briefing-B-1");
  e->mutable_recorded_at()->set_seconds(1767225601);
  e->mutable_recorded_at()->set_nanos(5);
  auto* d = e->mutable_payload()->mutable_briefing_delivered();
  d->set_briefing_id("B-1");
  d->add_officer_ids("o-1");
  d->add_officer_ids("o-2");
  d->set_duration_minutes(60);
  d->set_business(v1::COUNCIL_BUSINESS);
  d->set_non_member_attendance_permitted(true);
  return r;
}

// ---- canonical encoding --------------------------------------------------------

TEST(CanonicalTest, TheEncodingOfAKnownEventNeverChanges) {
  // If this fails, the canonical encoding changed and every stored hash with
  // it: that needs a new format version, not a new expected value.
  ASSERT_OK_AND_ASSIGN(std::string bytes, CanonicalRecord(FixedRecord()));
  EXPECT_EQ(absl::BytesToHexString(Sha256(bytes)),
            "9ab8b7cec88409493006d5da8005434319e61416c14d80dfc0ae71a2082e761d");
}

TEST(CanonicalTest, DecodingGivesBackTheEvent) {
  v1::RecordedEvent r = FixedRecord();
  ASSERT_OK_AND_ASSIGN(std::string bytes, CanonicalRecord(r));
  ASSERT_OK_AND_ASSIGN(v1::RecordedEvent back, DecodeCanonicalRecord(bytes));
  EXPECT_EQ(back.SerializeAsString(), r.SerializeAsString());
}

TEST(CanonicalTest, OnlyTheCanonicalFormDecodes) {
  ASSERT_OK_AND_ASSIGN(std::string bytes, CanonicalRecord(FixedRecord()));
  // A field spelled out twice, trailing bytes, a truncation: all refused.
  EXPECT_THAT(DecodeCanonicalRecord(bytes + bytes.substr(4, 13)),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("not in canonical form")));
  EXPECT_THAT(DecodeCanonicalRecord(bytes.substr(0, bytes.size() - 1)),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("truncated")));
  EXPECT_THAT(DecodeCanonicalRecord("EHR2" + bytes.substr(4)),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("EHR1")));
}

TEST(CanonicalTest, DifferentEventsHaveDifferentBytes) {
  v1::RecordedEvent a = FixedRecord(), b = FixedRecord();
  b.mutable_event()->mutable_payload()->mutable_briefing_delivered()->set_duration_minutes(61);
  EXPECT_NE(*CanonicalRecord(a), *CanonicalRecord(b));
  b = FixedRecord();
  b.set_position(43);
  EXPECT_NE(*CanonicalRecord(a), *CanonicalRecord(b));
}

TEST(CanonicalTest, FloatingPointFieldsAreRefused) {
  v1::GroupMetrics m;
  m.set_decline_rate(0.5);
  EXPECT_THAT(CanonicalMessage(m),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("decline_rate")));
}

// ---- signing ---------------------------------------------------------------------

TEST(SigningTest, AKeyIsCreatedOwnerOnlyThenLoadedAgain) {
  TempDir dir;
  bool created = false;
  ASSERT_OK_AND_ASSIGN(SigningKey first, SigningKey::LoadOrCreate(dir.Sub("key.pem"), &created));
  EXPECT_TRUE(created);
  struct stat st;
  ASSERT_EQ(stat(dir.Sub("key.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_OK_AND_ASSIGN(SigningKey again, SigningKey::LoadOrCreate(dir.Sub("key.pem"), &created));
  EXPECT_FALSE(created);
  EXPECT_EQ(again.public_key().raw(), first.public_key().raw());
  // The ".pub" beside it is the same public key.
  std::ifstream pub(dir.Sub("key.pem.pub"));
  std::stringstream pem;
  pem << pub.rdbuf();
  ASSERT_OK_AND_ASSIGN(v1::PublicKey from_file, PublicKeyFromPem(pem.str()));
  EXPECT_EQ(from_file.raw(), first.public_key().raw());
}

TEST(SigningTest, AKeyFileThatIsNotAKeyIsAnError) {
  TempDir dir;
  std::ofstream(dir.Sub("key.pem")) << "not a key";
  ::chmod(dir.Sub("key.pem").c_str(), 0600);
  bool created;
  EXPECT_THAT(SigningKey::LoadOrCreate(dir.Sub("key.pem"), &created),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a PEM private key")));
}

TEST(SigningTest, AKeyOthersCanReadIsRefused) {
  TempDir dir;
  bool created;
  ASSERT_OK(SigningKey::LoadOrCreate(dir.Sub("key.pem"), &created));
  for (mode_t mode : {0640, 0644, 0604, 0660}) {
    ::chmod(dir.Sub("key.pem").c_str(), mode);
    EXPECT_THAT(
        SigningKey::LoadOrCreate(dir.Sub("key.pem"), &created),
        StatusIs(absl::StatusCode::kPermissionDenied,
                 AllOf(HasSubstr("can be read by its group or others"), HasSubstr("chmod 600"))))
        << std::oct << mode;
  }
  ::chmod(dir.Sub("key.pem").c_str(), 0600);
  EXPECT_OK(SigningKey::LoadOrCreate(dir.Sub("key.pem"), &created));
  EXPECT_FALSE(created);
}

TEST(SigningTest, ACheckpointVerifiesAndNoAlteredByteOrOtherKeyDoes) {
  ASSERT_OK_AND_ASSIGN(SigningKey key, SigningKey::Generate());
  ASSERT_OK_AND_ASSIGN(SigningKey other, SigningKey::Generate());
  v1::Checkpoint c;
  c.set_log_id("log-1");
  c.set_tree_size(1000);
  c.set_root_hash(Sha256("root"));
  c.mutable_timestamp()->set_seconds(1767225600);
  ASSERT_OK_AND_ASSIGN(v1::SignedCheckpoint s, SignCheckpoint(key, c));
  EXPECT_OK(VerifyCheckpoint(s, key.public_key()));
  EXPECT_THAT(s.signed_body(), HasSubstr("size 1000\n"));
  for (size_t i = 0; i < s.signature().size(); ++i) {
    v1::SignedCheckpoint bad = s;
    (*bad.mutable_signature())[i] ^= 0x01;
    EXPECT_FALSE(VerifyCheckpoint(bad, key.public_key()).ok()) << "signature byte " << i;
  }
  for (size_t i = 0; i < s.signed_body().size(); ++i) {
    v1::SignedCheckpoint bad = s;
    (*bad.mutable_signed_body())[i] ^= 0x20;
    EXPECT_FALSE(VerifyCheckpoint(bad, key.public_key()).ok()) << "body byte " << i;
  }
  v1::SignedCheckpoint bigger = s;
  bigger.mutable_checkpoint()->set_tree_size(2000);
  EXPECT_THAT(VerifyCheckpoint(bigger, key.public_key()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("fields do not say")));
  EXPECT_FALSE(VerifyCheckpoint(s, other.public_key()).ok());
}

// ---- the store-backed tree ------------------------------------------------------

class IntegrityLogTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open(bool with_integrity = true, uint64_t checkpoint_every_events = 1000000) {
    log_.reset();
    store_.reset();
    storage::StoreOptions so;
    so.data_dir = dir_.Sub("data");
    so.extra_column_families = {IntegrityLog::kColumnFamily};
    auto store = storage::EventStore::Open(so);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    if (!with_integrity) return;
    IntegrityOptions io;
    io.signing_key_file = dir_.Sub("key.pem");
    io.journal_file = dir_.Sub("checkpoints.jsonl");
    io.checkpoint_every_events = checkpoint_every_events;
    if (clock_) io.clock = clock_;
    auto log = IntegrityLog::Open(store_.get(), io);
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = std::move(*log);
  }

  // The integrity log's clock, if a test sets one before Open.
  std::function<absl::Time()> clock_;

  void TearDown() override {
    if (store_) store_->BeginShutdown();
    if (log_) log_->Stop();
    if (store_) ASSERT_OK(store_->Close());
    log_.reset();
  }

  void AppendMany(int appends) {
    for (int i = 0; i < appends; ++i) {
      ASSERT_OK(store_->Append(absl::StrCat("s-", i % 7), storage::ExpectedRevision::Any(),
                               SomeEvents(1 + i % 3)));
    }
  }

  // The root and chain head computed from the events alone.
  std::pair<std::string, std::string> Recompute() {
    CompactRange range;
    std::string chain = GenesisChainHash();
    EXPECT_OK(store_->ReadAll(std::nullopt, storage::Direction::kForwards, 0, {},
                              [&](const storage::EventPtr& e) {
                                std::string c = *CanonicalRecord(*e);
                                range.Append(LeafHash(c), [](int, uint64_t, const std::string&) {});
                                chain = ChainHash(chain, c);
                                return true;
                              }));
    return {range.Root(), chain};
  }

  // The stream-head map's root computed from the events alone.
  std::string RecomputeMapRoot() {
    std::map<std::string, StreamHeadValue> heads;  // by key
    EXPECT_OK(store_->ReadAll(
        std::nullopt, storage::Direction::kForwards, 0, {}, [&](const storage::EventPtr& e) {
          heads[StreamKey(e->event().stream_id())] = {e->stream_revision(), e->position()};
          return true;
        }));
    std::vector<StreamMapEntry> entries;
    for (const auto& [k, v] : heads) entries.push_back({k, v});
    return StreamMapRoot(entries);
  }

  TempDir dir_;
  std::unique_ptr<storage::EventStore> store_;
  std::unique_ptr<IntegrityLog> log_;
};

TEST_F(IntegrityLogTest, TheRootAndChainEqualOnesRecomputedFromAllEvents) {
  AppendMany(200);
  auto [root, chain] = Recompute();
  EXPECT_EQ(log_->size(), store_->LastPosition());
  EXPECT_EQ(*log_->Root(log_->size()), root);
  EXPECT_EQ(*log_->ChainHashAt(log_->size()), chain);
}

TEST_F(IntegrityLogTest, ProofsFromTheStoredTreeVerify) {
  AppendMany(150);
  const uint64_t n = log_->size();
  ASSERT_OK_AND_ASSIGN(std::string root, log_->Root(n));
  for (uint64_t p : {uint64_t{1}, n / 3, n / 2, n - 1, n}) {
    ASSERT_OK_AND_ASSIGN(v1::InclusionProof proof, log_->InclusionProof(p, n));
    std::vector<std::string> path(proof.hashes().begin(), proof.hashes().end());
    EXPECT_OK(VerifyInclusion(p - 1, n, proof.leaf_hash(), path, root));
  }
  for (uint64_t m : {uint64_t{1}, n / 4, n / 2, n - 1}) {
    ASSERT_OK_AND_ASSIGN(v1::ConsistencyProof proof, log_->ConsistencyProof(m, n));
    std::vector<std::string> path(proof.hashes().begin(), proof.hashes().end());
    EXPECT_OK(VerifyConsistency(m, n, *log_->Root(m), root, path));
  }
  EXPECT_THAT(log_->InclusionProof(n + 1, n),
              StatusIs(absl::StatusCode::kOutOfRange, HasSubstr("not in the tree")));
}

TEST_F(IntegrityLogTest, TheTreeAndChainContinueAfterReopening) {
  AppendMany(100);
  const std::string root_before = *log_->Root(log_->size());
  const std::string key_before = log_->public_key().raw();
  TearDown();
  Open();
  EXPECT_EQ(*log_->Root(log_->size()), root_before);
  EXPECT_EQ(log_->public_key().raw(), key_before);
  AppendMany(50);
  auto [root, chain] = Recompute();
  EXPECT_EQ(*log_->Root(log_->size()), root);
  EXPECT_EQ(*log_->ChainHashAt(log_->size()), chain);
}

// The integrity column family's keys that start with `prefix`.
std::vector<std::string> KeysWithPrefix(storage::EventStore& store, const std::string& prefix) {
  std::vector<std::string> keys;
  std::unique_ptr<rocksdb::Iterator> it(store.db()->NewIterator(
      rocksdb::ReadOptions(), store.ColumnFamily(IntegrityLog::kColumnFamily)));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    keys.push_back(it->key().ToString());
  }
  return keys;
}

void DeleteAll(storage::EventStore& store, const std::vector<std::string>& prefixes) {
  for (const std::string& prefix : prefixes) {
    std::string end = prefix;
    end.back()++;
    ASSERT_TRUE(store.db()
                    ->DeleteRange(rocksdb::WriteOptions(),
                                  store.ColumnFamily(IntegrityLog::kColumnFamily), prefix, end)
                    .ok());
  }
}

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
  log_.reset();
  storage::StoreOptions so;
  so.data_dir = dir_.Sub("data");
  so.extra_column_families = {IntegrityLog::kColumnFamily};
  store_ = *storage::EventStore::Open(so);
  IntegrityOptions io;
  io.signing_key_file = dir_.Sub("key.pem");
  io.journal_file = dir_.Sub("checkpoints.jsonl");
  auto log = IntegrityLog::Open(store_.get(), io);
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(log.status().message()),
              ::testing::HasSubstr("appended without the tree"));
}

TEST_F(IntegrityLogTest, EventsAppendedBehindTheTreeWithinOneTileAreRefusedToo) {
  AppendMany(10);
  TearDown();
  Open(/*with_integrity=*/false);
  AppendMany(3);  // no tile boundary crossed: only the runs can tell
  TearDown();
  storage::StoreOptions so;
  so.data_dir = dir_.Sub("data");
  so.extra_column_families = {IntegrityLog::kColumnFamily};
  store_ = *storage::EventStore::Open(so);
  IntegrityOptions io;
  io.signing_key_file = dir_.Sub("key.pem");
  io.journal_file = dir_.Sub("checkpoints.jsonl");
  auto log = IntegrityLog::Open(store_.get(), io);
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(log.status().message()),
              ::testing::HasSubstr("appended without the tree"));
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
  AppendMany(300);  // 600 events in 300 commits
  const uint64_t size = store_->LastPosition();
  ASSERT_EQ(size, 600u);
  // Two full level-0 tiles, two chain hashes, and the runs of leaves of
  // the commits since position 512.
  EXPECT_EQ(KeysWithPrefix(*store_, "t").size(), 2u);
  EXPECT_EQ(KeysWithPrefix(*store_, "c").size(), 2u);
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
    ASSERT_TRUE(store_->db()
                    ->Put(rocksdb::WriteOptions(), cf, "c" + BigEndian64(i + 1), std::string(32, 'c'))
                    .ok());
  }
  ASSERT_TRUE(store_->db()->Put(rocksdb::WriteOptions(), cf, "s", BigEndian64(store_->LastPosition())).ok());
  TearDown();
  Open();
  EXPECT_EQ(*log_->Root(log_->size()), root);
  EXPECT_EQ(*log_->ChainHashAt(log_->size()), chain);
  EXPECT_TRUE(KeysWithPrefix(*store_, "n").empty());
  EXPECT_TRUE(KeysWithPrefix(*store_, "s").empty());
  EXPECT_EQ(KeysWithPrefix(*store_, "f").size(), 1u);
  EXPECT_EQ(KeysWithPrefix(*store_, "c").size(), store_->LastPosition() / 256);
}

TEST_F(IntegrityLogTest, AFailedGroupLeavesTheTreeInStepWithTheLog) {
  TearDown();
  storage::StoreOptions so;
  so.data_dir = dir_.Sub("data");
  so.extra_column_families = {IntegrityLog::kColumnFamily};
  bool fail = false;
  so.TEST_before_write = [&]() -> absl::Status {
    return fail ? absl::InternalError("injected") : absl::OkStatus();
  };
  store_ = *storage::EventStore::Open(so);
  IntegrityOptions io;
  io.signing_key_file = dir_.Sub("key.pem");
  io.journal_file = dir_.Sub("checkpoints.jsonl");
  log_ = *IntegrityLog::Open(store_.get(), io);
  AppendMany(10);
  fail = true;
  EXPECT_FALSE(store_->Append("s", storage::ExpectedRevision::Any(), SomeEvents(3)).ok());
  fail = false;
  AppendMany(10);
  auto [root, chain] = Recompute();
  EXPECT_EQ(log_->size(), store_->LastPosition());
  EXPECT_EQ(*log_->Root(log_->size()), root);
}

TEST_F(IntegrityLogTest, CheckpointsAreSignedAsTheTreeGrows) {
  TearDown();
  Open(true, /*checkpoint_every_events=*/10);
  AppendMany(30);
  // The checkpointer wakes each second; wait for it (no timing asserted).
  for (int i = 0; i < 100 && log_->Checkpoints()->empty(); ++i)
    absl::SleepFor(absl::Milliseconds(100));
  ASSERT_OK_AND_ASSIGN(std::vector<v1::SignedCheckpoint> all, log_->Checkpoints());
  ASSERT_FALSE(all.empty());
  for (const auto& c : all) {
    EXPECT_OK(VerifyCheckpoint(c, log_->public_key()));
    EXPECT_EQ(c.checkpoint().root_hash(), *log_->Root(c.checkpoint().tree_size()));
  }
  ASSERT_OK_AND_ASSIGN(v1::SignedCheckpoint now, log_->CheckpointNow());
  EXPECT_EQ(now.checkpoint().tree_size(), log_->size());
}

// A reader asking for the latest checkpoint after every append does not
// get a new signature (and journal line) each time: at most one a second.
TEST_F(IntegrityLogTest, CheckpointsOnDemandAreSignedAtMostOnceAnInterval) {
  TearDown();
  absl::Time now = absl::FromUnixSeconds(1800000000);
  absl::Mutex mu;
  clock_ = [&] {
    absl::MutexLock lock(&mu);
    return now;
  };
  Open(true);
  AppendMany(3);
  ASSERT_OK_AND_ASSIGN(v1::SignedCheckpoint first, log_->CheckpointNow(absl::Seconds(1)));
  EXPECT_EQ(first.checkpoint().tree_size(), log_->size());
  AppendMany(3);
  ASSERT_OK_AND_ASSIGN(v1::SignedCheckpoint same, log_->CheckpointNow(absl::Seconds(1)));
  EXPECT_EQ(same.SerializeAsString(), first.SerializeAsString());
  EXPECT_LT(same.checkpoint().tree_size(), log_->size());
  {
    absl::MutexLock lock(&mu);
    now += absl::Seconds(1);
  }
  ASSERT_OK_AND_ASSIGN(v1::SignedCheckpoint next, log_->CheckpointNow(absl::Seconds(1)));
  EXPECT_EQ(next.checkpoint().tree_size(), log_->size());
  EXPECT_EQ(log_->Checkpoints()->size(), 2u);
  TearDown();
  clock_ = nullptr;
}

TEST_F(IntegrityLogTest, CheckpointsFallOnEveryMultipleOfTheEventCount) {
  TearDown();
  Open(true, /*checkpoint_every_events=*/10);
  AppendMany(60);  // about 120 events, in appends of 1 to 3
  const uint64_t n = log_->size();
  for (int i = 0; i < 200; ++i) {
    ASSERT_OK_AND_ASSIGN(std::vector<v1::SignedCheckpoint> all, log_->Checkpoints());
    if (!all.empty() && all.back().checkpoint().tree_size() >= n / 10 * 10) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_OK_AND_ASSIGN(std::vector<v1::SignedCheckpoint> all, log_->Checkpoints());
  // Every multiple of 10 has its checkpoint, and no two are more than 10
  // events apart. (A log never signed is due at once by time too, so a
  // checkpoint may also fall before the first multiple, as the first
  // events arrive.)
  std::vector<uint64_t> multiples;
  uint64_t previous = 0;
  for (const auto& c : all) {
    const uint64_t size = c.checkpoint().tree_size();
    EXPECT_LE(size - previous, 10u) << "after " << previous;
    previous = size;
    if (size % 10 == 0) multiples.push_back(size);
  }
  std::vector<uint64_t> want;
  for (uint64_t k = 10; k <= n; k += 10) want.push_back(k);
  EXPECT_EQ(multiples, want);
  for (const auto& c : all) {
    EXPECT_OK(VerifyCheckpoint(c, log_->public_key()));
    EXPECT_EQ(c.checkpoint().root_hash(), *log_->Root(c.checkpoint().tree_size()));
    EXPECT_EQ(c.checkpoint().chain_head(), *log_->ChainHashAt(c.checkpoint().tree_size()));
    EXPECT_THAT(c.signed_body(), HasSubstr("evenhand checkpoint v2\n"));
  }
}

TEST_F(IntegrityLogTest, TheSignedChainHeadAndStreamMapAreThoseOfTheEvents) {
  AppendMany(90);
  ASSERT_OK_AND_ASSIGN(v1::SignedCheckpoint c, log_->CheckpointNow());
  auto [root, chain] = Recompute();
  EXPECT_EQ(c.checkpoint().root_hash(), root);
  EXPECT_EQ(c.checkpoint().chain_head(), chain);
  EXPECT_EQ(c.checkpoint().stream_map_root(), RecomputeMapRoot());
  // And again after a restart and more appends (the map continues on disk).
  TearDown();
  Open();
  AppendMany(20);
  ASSERT_OK_AND_ASSIGN(c, log_->CheckpointNow());
  EXPECT_EQ(c.checkpoint().stream_map_root(), RecomputeMapRoot());
}

TEST_F(IntegrityLogTest, TheMapInItsOwnRocksDbSurvivesARestartAndIsRebuiltIfDeleted) {
  auto open = [&]() {
    IntegrityOptions io;
    io.signing_key_file = dir_.Sub("key.pem");
    io.journal_file = dir_.Sub("checkpoints.jsonl");
    io.stream_map_dir = dir_.Sub("stream-map");
    auto log = IntegrityLog::Open(store_.get(), io);
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = std::move(*log);
  };
  log_->Stop();
  log_.reset();
  open();
  AppendMany(40);
  ASSERT_OK_AND_ASSIGN(v1::SignedCheckpoint c, log_->CheckpointNow());
  EXPECT_EQ(c.checkpoint().stream_map_root(), RecomputeMapRoot());
  ASSERT_TRUE(std::filesystem::exists(dir_.Sub("stream-map")));
  for (int round = 0; round < 2; ++round) {
    TearDown();
    if (round == 1) std::filesystem::remove_all(dir_.Sub("stream-map"));  // lost: rebuilt
    Open(/*with_integrity=*/false);
    open();
    AppendMany(15);
    ASSERT_OK_AND_ASSIGN(c, log_->CheckpointNow());
    EXPECT_EQ(c.checkpoint().stream_map_root(), RecomputeMapRoot()) << "round " << round;
    ASSERT_OK_AND_ASSIGN(v1::StreamHead head, log_->ProveStreamHead("s-2"));
    EXPECT_OK(VerifyStreamHead(c.checkpoint().stream_map_root(), "s-2",
                               {head.last_revision(), head.last_position()},
                               {head.siblings().begin(), head.siblings().end()}));
  }
}

// ---- the stream-head map ---------------------------------------------------------

TEST(StreamMapTest, TheStoredMapUpdatedInStepsEqualsTheMapBuiltAtOnce) {
  TempDir dir;
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(options, dir.Sub("db"), &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  StreamMapStore store(db.get(), db->DefaultColumnFamily());
  EXPECT_EQ(*store.Root(), EmptyStreamMapHash());
  std::mt19937 rng(11);
  std::map<std::string, StreamHeadValue> all;  // by stream id
  uint64_t position = 0;
  for (int step = 0; step < 12; ++step) {
    std::map<std::string, StreamHeadValue> changed;  // by key
    const int n = 1 + step * step;
    for (int i = 0; i < n; ++i) {
      const std::string stream = absl::StrCat("case-", rng() % 300);
      StreamHeadValue& v = all[stream];
      v = {all.count(stream) && v.last_position > 0 ? v.last_revision + 1 : 0, ++position};
      changed[StreamKey(stream)] = v;
    }
    ASSERT_OK_AND_ASSIGN(std::string root,
                         store.Update(changed, position, rocksdb::WriteOptions()));
    std::vector<StreamMapEntry> entries;
    for (const auto& [stream, v] : all) entries.push_back({StreamKey(stream), v});
    ASSERT_EQ(root, StreamMapRoot(entries)) << "step " << step;
    ASSERT_EQ(*store.Root(), root);
    EXPECT_EQ(*store.Size(), position);
    // Every stream's proof, from the store and from memory, verifies; an
    // altered value or a stream that is not there does not.
    for (const auto& [stream, v] : all) {
      ASSERT_OK_AND_ASSIGN(std::optional<StreamMapStore::Proven> proven, store.Prove(stream));
      ASSERT_TRUE(proven.has_value()) << stream;
      EXPECT_EQ(proven->value.last_position, v.last_position);
      EXPECT_OK(VerifyStreamHead(root, stream, v, proven->siblings));
      EXPECT_EQ(proven->siblings, *StreamMapProof(entries, StreamKey(stream)));
      EXPECT_FALSE(
          VerifyStreamHead(root, stream, {v.last_revision + 1, v.last_position}, proven->siblings)
              .ok());
      EXPECT_FALSE(VerifyStreamHead(root, stream + "x", v, proven->siblings).ok());
    }
    ASSERT_OK_AND_ASSIGN(std::optional<StreamMapStore::Proven> none, store.Prove("no-such-case"));
    EXPECT_FALSE(none.has_value());
  }
}

TEST(StreamMapTest, ASingleEntryIsTheRootAndAPaddedProofIsRefused) {
  std::vector<StreamMapEntry> one = {{StreamKey("c-1"), {4, 9}}};
  const std::string root = StreamMapRoot(one);
  EXPECT_EQ(root, StreamEntryHash(StreamKey("c-1"), {4, 9}));
  EXPECT_OK(VerifyStreamHead(root, "c-1", {4, 9}, {}));
  // The same entry claimed one level down beside an empty subtree: a
  // collapsed tree never has that shape.
  EXPECT_THAT(
      VerifyStreamHead(NodeHash(root, EmptyStreamMapHash()), "c-1", {4, 9}, {EmptyStreamMapHash()}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not minimal")));
}

// ---- investigation bundles -------------------------------------------------------

class BundleTest : public IntegrityLogTest {
 protected:
  void SetUp() override {
    IntegrityLogTest::SetUp();
    AppendMany(60);
    std::vector<storage::EventPtr> chosen;
    ASSERT_OK(store_->ReadStream("s-3", std::nullopt, storage::Direction::kForwards, 4,
                                 [&](const storage::EventPtr& e) {
                                   chosen.push_back(e);
                                   return true;
                                 }));
    ASSERT_EQ(chosen.size(), 4u);
    ASSERT_OK_AND_ASSIGN(bundle_, log_->ExportBundle(chosen, "complaint C-1", "case s-3"));
    ASSERT_TRUE(parsed_.ParseFromString(bundle_));
  }

  absl::StatusOr<BundleReport> Verify(const std::string& bytes, bool pinned = false) {
    return VerifyBundle(bytes, pinned ? &log_->public_key() : nullptr);
  }
  absl::StatusOr<BundleReport> Verify(const v1::InvestigationBundle& b, bool pinned = false) {
    return Verify(b.SerializeAsString(), pinned);
  }

  std::string bundle_;
  v1::InvestigationBundle parsed_;
};

TEST_F(BundleTest, AnExportedBundleVerifiesOffline) {
  ASSERT_OK_AND_ASSIGN(BundleReport r, Verify(bundle_, /*pinned=*/true));
  EXPECT_EQ(r.events.size(), 4u);
  EXPECT_EQ(r.tree_size, log_->size());
  EXPECT_TRUE(r.key_pinned);
  EXPECT_EQ(r.description, "complaint C-1");
  EXPECT_EQ(r.events[0].event().stream_id(), "s-3");
  // Four of the case's events were chosen: the bundle says it is partial.
  ASSERT_EQ(r.streams.size(), 1u);
  EXPECT_EQ(r.streams[0].stream_id, "s-3");
  EXPECT_EQ(r.streams[0].held, 4u);
  EXPECT_GT(r.streams[0].total, 4u);
  EXPECT_FALSE(r.streams[0].complete());
  EXPECT_TRUE(parsed_.manifest().complete_streams().empty());
  EXPECT_FALSE(r.whole_log);
}

// The whole of case s-5, as `evenhand export --case=s-5` selects it.
std::vector<storage::EventPtr> WholeStream(storage::EventStore* store, const std::string& stream) {
  std::vector<storage::EventPtr> events;
  EXPECT_OK(store->ReadStream(stream, std::nullopt, storage::Direction::kForwards, 0,
                              [&](const storage::EventPtr& e) {
                                events.push_back(e);
                                return true;
                              }));
  return events;
}

// Makes a bundle consistent again after its events or manifest were changed,
// as someone holding the log's own key could: the manifest re-signed.
void ReSignManifest(const SigningKey& key, v1::InvestigationBundle* b) {
  b->set_manifest_signature(*key.Sign(*ManifestBytes(b->manifest())));
}

TEST_F(BundleTest, ACaseBundleIsProvenCompleteAndAWithheldEventIsCaught) {
  std::vector<storage::EventPtr> events = WholeStream(store_.get(), "s-5");
  ASSERT_GE(events.size(), 3u);
  ASSERT_OK_AND_ASSIGN(std::string bytes, log_->ExportBundle(events, "case s-5", "case s-5"));
  ASSERT_OK_AND_ASSIGN(BundleReport r, Verify(bytes, /*pinned=*/true));
  ASSERT_EQ(r.streams.size(), 1u);
  EXPECT_TRUE(r.streams[0].complete());
  EXPECT_EQ(r.streams[0].total, events.size());
  v1::InvestigationBundle b;
  ASSERT_TRUE(b.ParseFromString(bytes));
  ASSERT_EQ(b.manifest().complete_streams_size(), 1);
  EXPECT_EQ(b.manifest().complete_streams(0), "s-5");

  // One event of the case withheld, and everything else made consistent:
  // the positions listed and the manifest signed again with the log's key.
  // The signed stream-head map still says how many events the case had.
  bool created = false;
  ASSERT_OK_AND_ASSIGN(SigningKey key, SigningKey::LoadOrCreate(dir_.Sub("key.pem"), &created));
  v1::InvestigationBundle withheld = b;
  withheld.mutable_events()->DeleteSubrange(1, 1);
  withheld.mutable_manifest()->mutable_positions()->erase(
      withheld.mutable_manifest()->mutable_positions()->begin() + 1);
  ReSignManifest(key, &withheld);
  EXPECT_THAT(
      Verify(DeterministicBytes(withheld), true),
      StatusIs(absl::StatusCode::kInvalidArgument,
               AllOf(HasSubstr("stream s-5: incomplete"), HasSubstr("missing revision(s) 1"),
                     HasSubstr("an event was withheld"))));
  // The claim dropped too: it verifies, but can no longer say complete.
  withheld.mutable_manifest()->clear_complete_streams();
  ReSignManifest(key, &withheld);
  ASSERT_OK_AND_ASSIGN(BundleReport partial, Verify(DeterministicBytes(withheld), true));
  EXPECT_FALSE(partial.streams[0].complete());
  EXPECT_EQ(partial.streams[0].held + 1, partial.streams[0].total);
  // And the head's proof removed: refused, nothing shows what is missing.
  withheld.clear_stream_heads();
  EXPECT_THAT(Verify(DeterministicBytes(withheld), true),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no proof of its head")));
  // A head that claims fewer events than the case had does not verify.
  v1::InvestigationBundle shrunk = b;
  v1::StreamHead* head = shrunk.mutable_stream_heads(0);
  head->set_last_revision(head->last_revision() - 1);
  EXPECT_THAT(Verify(DeterministicBytes(shrunk), true),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("does not lead to the checkpoint's stream-map root")));
}

TEST_F(BundleTest, AWholeLogBundleIsCheckedAgainstTheSignedChainHead) {
  std::vector<storage::EventPtr> events;
  ASSERT_OK(store_->ReadAll(std::nullopt, storage::Direction::kForwards, 0, {},
                            [&](const storage::EventPtr& e) {
                              events.push_back(e);
                              return true;
                            }));
  ASSERT_OK_AND_ASSIGN(std::string bytes, log_->ExportBundle(events, "all", "everything"));
  ASSERT_OK_AND_ASSIGN(BundleReport r, Verify(bytes, true));
  EXPECT_TRUE(r.whole_log);
  for (const auto& st : r.streams) EXPECT_TRUE(st.complete()) << st.stream_id;
  // A chain rewritten from any other seed: the checkpoint re-signed (with
  // the log's own key) over the rewritten head. The events and their proofs
  // are untouched, so only the chain can tell.
  bool created = false;
  ASSERT_OK_AND_ASSIGN(SigningKey key, SigningKey::LoadOrCreate(dir_.Sub("key.pem"), &created));
  v1::InvestigationBundle b;
  ASSERT_TRUE(b.ParseFromString(bytes));
  for (const std::string& seed :
       {std::string(32, '\x01'), Sha256("made up"), std::string(32, '\xff')}) {
    std::string chain = seed;
    for (const auto& e : b.events()) chain = ChainHash(chain, e.canonical());
    v1::InvestigationBundle forged = b;
    v1::Checkpoint c = forged.checkpoint().checkpoint();
    c.set_chain_head(chain);
    *forged.mutable_checkpoint() = *SignCheckpoint(key, c);
    EXPECT_THAT(
        Verify(DeterministicBytes(forged), true),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("is not the signed chain head")));
  }
  // Version 1's per-event chain hashes are refused as unknown fields.
  v1::InvestigationBundle old = b;
  v1::BundleEvent* e = old.mutable_events(0);
  e->GetReflection()->MutableUnknownFields(e)->AddLengthDelimited(3, std::string(32, 'c'));
  EXPECT_THAT(Verify(DeterministicBytes(old), true),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("does not know")));
}

TEST_F(BundleTest, AnyAlteredByteOfTheKeysPemIsRejected) {
  const std::string pem = parsed_.public_key().pem();
  EXPECT_EQ(pem, PublicKeyPem(parsed_.public_key().raw()));
  int tried = 0;
  for (size_t i = 0; i < pem.size(); ++i) {
    // Every control character and space (OpenSSL's PEM reader skips many of
    // them), and a flipped byte.
    for (int c = 0; c <= 0x20; ++c) {
      if (pem[i] == static_cast<char>(c)) continue;
      v1::InvestigationBundle b = parsed_;
      std::string bad = pem;
      bad[i] = static_cast<char>(c);
      b.mutable_public_key()->set_pem(bad);
      ++tried;
      EXPECT_THAT(Verify(b), StatusIs(absl::StatusCode::kInvalidArgument,
                                      HasSubstr("public key: its PEM form")))
          << "byte " << i << " -> " << c;
    }
  }
  EXPECT_GT(tried, 3000);
  v1::InvestigationBundle b = parsed_;
  b.mutable_public_key()->set_pem(pem + "\n");
  EXPECT_FALSE(Verify(b).ok());
}

TEST_F(BundleTest, TrailingOrRepeatedBytesAreRejected) {
  // A field repeated at the end parses (protobuf keeps the last), zeros do
  // not: both are refused, naming the encoding.
  for (const std::string& tail : {std::string("\x08\x02", 2), std::string("\x00", 1),
                                  std::string("\x00\x00\x00", 3), std::string("\x0a\x00", 2)}) {
    EXPECT_FALSE(Verify(bundle_ + tail).ok()) << absl::BytesToHexString(tail);
  }
  EXPECT_THAT(Verify(bundle_ + std::string("\x08\x02", 2)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not the one encoding")));
}

TEST_F(BundleTest, EveryFlippedByteIsRejected) {
  std::mt19937 rng(7);
  for (size_t i = 0; i < bundle_.size(); ++i) {
    std::string bad = bundle_;
    bad[i] = static_cast<char>(bad[i] ^ std::uniform_int_distribution<int>(1, 255)(rng));
    EXPECT_FALSE(Verify(bad).ok()) << "byte " << i << " of " << bundle_.size();
  }
}

TEST_F(BundleTest, ARemovedEventIsNamed) {
  v1::InvestigationBundle b = parsed_;
  b.mutable_events()->DeleteSubrange(1, 1);
  EXPECT_THAT(Verify(b), StatusIs(absl::StatusCode::kInvalidArgument,
                                  HasSubstr("events removed, added or reordered")));
  b = parsed_;
  b.mutable_events()->RemoveLast();
  EXPECT_THAT(Verify(b), StatusIs(absl::StatusCode::kInvalidArgument,
                                  HasSubstr("listed in the manifest but missing")));
}

TEST_F(BundleTest, SwappedEventsAreNamed) {
  v1::InvestigationBundle b = parsed_;
  b.mutable_events()->SwapElements(0, 2);
  EXPECT_THAT(Verify(b), StatusIs(absl::StatusCode::kInvalidArgument,
                                  HasSubstr("where the manifest lists position")));
}

TEST_F(BundleTest, AnAlteredEventIsNamedByPosition) {
  v1::InvestigationBundle b = parsed_;
  ASSERT_OK_AND_ASSIGN(v1::RecordedEvent e, DecodeCanonicalRecord(b.events(1).canonical()));
  e.mutable_event()->set_actor("someone else");
  b.mutable_events(1)->set_canonical(*CanonicalRecord(e));
  EXPECT_THAT(Verify(b), StatusIs(absl::StatusCode::kInvalidArgument,
                                  HasSubstr(absl::StrCat("event at position ", e.position(),
                                                         ": its inclusion proof does not lead"))));
}

TEST_F(BundleTest, ACheckpointReSignedWithAnotherKeyIsRejected) {
  ASSERT_OK_AND_ASSIGN(SigningKey attacker, SigningKey::Generate());
  v1::InvestigationBundle b = parsed_;
  // A forged checkpoint (another root) signed with another key, the key
  // swapped in: the manifest, signed with the real key, no longer verifies.
  v1::Checkpoint forged = b.checkpoint().checkpoint();
  forged.set_root_hash(Sha256("forged"));
  *b.mutable_checkpoint() = *SignCheckpoint(attacker, forged);
  *b.mutable_public_key() = attacker.public_key();
  EXPECT_THAT(Verify(b), StatusIs(absl::StatusCode::kInvalidArgument,
                                  HasSubstr("manifest: its signature does not verify")));
  // Only the checkpoint re-signed, the real key left in: its signature fails.
  b = parsed_;
  *b.mutable_checkpoint() = *SignCheckpoint(attacker, forged);
  EXPECT_THAT(Verify(b), StatusIs(absl::StatusCode::kInvalidArgument,
                                  HasSubstr("checkpoint: the signature does not verify")));
}

TEST_F(BundleTest, AWhollyReSignedBundleIsCaughtByThePinnedKey) {
  ASSERT_OK_AND_ASSIGN(SigningKey attacker, SigningKey::Generate());
  v1::InvestigationBundle b = parsed_;
  *b.mutable_checkpoint() = *SignCheckpoint(attacker, b.checkpoint().checkpoint());
  *b.mutable_public_key() = attacker.public_key();
  b.set_manifest_signature(*attacker.Sign(*ManifestBytes(b.manifest())));
  // Internally consistent, so without a trusted key it verifies...
  ASSERT_OK_AND_ASSIGN(BundleReport r, Verify(b));
  EXPECT_FALSE(r.key_pinned);
  // ...but not against the council's published key.
  EXPECT_THAT(Verify(b, /*pinned=*/true),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not the key you trust")));
}

}  // namespace
}  // namespace evenhand::integrity
