// The canonical encoding, the store-backed tree and hash chain, and the
// stream-head map (signing_test.cc, bundle_test.cc and tiled_tree_test.cc
// have the rest).
#include <fstream>

#include "base/error_details.h"
#include "integrity/backups.h"
#include "tests/integrity/integrity_log_fixture.h"

namespace evenhand::integrity {
namespace {

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

TEST(CanonicalTest, AStringThatIsNotUtf8DoesNotDecode) {
  ASSERT_OK_AND_ASSIGN(std::string bytes, CanonicalRecord(FixedRecord()));
  const size_t at = bytes.find("committee-mgmt");
  ASSERT_NE(at, std::string::npos);
  // The same length, so only the string's bytes differ (outside probe: a
  // bundle whose actor held 0xff verified).
  for (const std::string& bad : {std::string("\xff\xfe"), std::string("\xc0\xaf"),
                                 std::string("\xed\xa0"), std::string("o\xc3")}) {
    std::string changed = bytes;
    changed.replace(at, 2, bad);
    EXPECT_THAT(DecodeCanonicalRecord(changed),
                StatusIs(absl::StatusCode::kDataLoss,
                         HasSubstr("source_system is a string but not valid UTF-8")))
        << absl::BytesToHexString(bad);
  }
  std::string accented = bytes;
  accented.replace(at, 2, "\xc3\xa9");  // é
  ASSERT_OK_AND_ASSIGN(v1::RecordedEvent back, DecodeCanonicalRecord(accented));
  EXPECT_EQ(back.event().source_system(), "\xc3\xa9mmittee-mgmt");
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

// ---- the store-backed tree ------------------------------------------------------

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
  // The checkpointer signs each multiple of 10 on its own thread, woken as
  // soon as the commit reaching it is durable (its one-second timeout is only
  // for the time rule); wait for it (no timing asserted).
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
  // Signed now whatever the background signer did (it signs the log's
  // first checkpoint as soon as it sees an event, here perhaps mid-way).
  ASSERT_OK_AND_ASSIGN(v1::SignedCheckpoint first, log_->CheckpointNow());
  EXPECT_EQ(first.checkpoint().tree_size(), log_->size());
  const size_t signed_so_far = log_->Checkpoints()->size();
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
  EXPECT_EQ(log_->Checkpoints()->size(), signed_so_far + 1);
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

// The checkpoint thread decides on a multiple of the cadence, then an
// export signs a larger tree before it signs: the multiple is covered by
// the larger checkpoint and skipped, not refused as a tree that does not
// extend the last one (which would put a false problem in health).
TEST_F(IntegrityLogTest, AMultipleOvertakenByALargerCheckpointIsSkippedNotAProblem) {
  AppendMany(20);
  ASSERT_OK_AND_ASSIGN(v1::SignedCheckpoint larger, log_->CheckpointNow());
  const uint64_t size = larger.checkpoint().tree_size();
  ASSERT_GT(size, 10u);
  const uint64_t map_steps = log_->map_stats().updates;
  ASSERT_OK_AND_ASSIGN(v1::SignedCheckpoint got, log_->TEST_SignAndStore(10));
  EXPECT_EQ(got.checkpoint().tree_size(), size);
  EXPECT_TRUE(log_->problems().empty()) << log_->problems().front();
  // The stream-head map, at the larger size, is not taken for one ahead of
  // the log and built again from the first event (by this, or by the proof).
  ASSERT_OK_AND_ASSIGN(v1::StreamHead head, log_->ProveStreamHead("s-2"));
  EXPECT_OK(VerifyStreamHead(larger.checkpoint().stream_map_root(), "s-2",
                             {head.last_revision(), head.last_position()},
                             {head.siblings().begin(), head.siblings().end()}));
  EXPECT_EQ(log_->map_stats().updates, map_steps);
  ASSERT_OK_AND_ASSIGN(std::vector<v1::SignedCheckpoint> all, log_->Checkpoints());
  for (size_t i = 1; i < all.size(); ++i) {
    EXPECT_LT(all[i - 1].checkpoint().tree_size(), all[i].checkpoint().tree_size());
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
  OpenWithItsOwnMap();
  AppendMany(40);
  ASSERT_OK_AND_ASSIGN(v1::SignedCheckpoint c, log_->CheckpointNow());
  EXPECT_EQ(c.checkpoint().stream_map_root(), RecomputeMapRoot());
  ASSERT_TRUE(std::filesystem::exists(dir_.Sub("stream-map")));
  for (int round = 0; round < 2; ++round) {
    TearDown();
    if (round == 1) std::filesystem::remove_all(dir_.Sub("stream-map"));  // lost: rebuilt
    Open(/*with_integrity=*/false);
    OpenWithItsOwnMap();
    AppendMany(15);
    ASSERT_OK_AND_ASSIGN(c, log_->CheckpointNow());
    EXPECT_EQ(c.checkpoint().stream_map_root(), RecomputeMapRoot()) << "round " << round;
    ASSERT_OK_AND_ASSIGN(v1::StreamHead head, log_->ProveStreamHead("s-2"));
    EXPECT_OK(VerifyStreamHead(c.checkpoint().stream_map_root(), "s-2",
                               {head.last_revision(), head.last_position()},
                               {head.siblings().begin(), head.siblings().end()}));
  }
}

// A block of the stream-head map's own RocksDB damaged: the checkpoint that
// needs it fails with DATA_LOSS saying the map can be deleted and rebuilt,
// and the damage is listed (status, health), not only logged.
TEST_F(IntegrityLogTest, DamageToTheStreamMapIsListedAsAProblem) {
  OpenWithItsOwnMap();
  // Enough streams for the map's table file to span many blocks.
  for (int i = 0; i < 1500; ++i) {
    ASSERT_OK(
        store_->Append(absl::StrCat("s-", i), storage::ExpectedRevision::Any(), SomeEvents(1)));
  }
  ASSERT_OK(log_->CheckpointNow());
  TearDown();  // the map flushed
  for (const auto& f : std::filesystem::directory_iterator(dir_.Sub("stream-map"))) {
    if (f.path().extension() != ".sst") continue;
    std::fstream file(f.path(), std::ios::in | std::ios::out | std::ios::binary);
    const auto size = std::filesystem::file_size(f.path());
    for (uint64_t at = size / 8; at < size * 3 / 4; at += 997) {
      file.seekg(static_cast<std::streamoff>(at));
      char c;
      file.get(c);
      file.seekp(static_cast<std::streamoff>(at));
      file.put(static_cast<char>(c ^ 0x40));
    }
  }
  Open(/*with_integrity=*/false);
  auto reopened = [&] {
    IntegrityOptions io;
    io.signing_key_file = dir_.Sub("key.pem");
    io.journal_file = dir_.Sub("checkpoints.jsonl");
    io.stream_map_dir = dir_.Sub("stream-map");
    return IntegrityLog::Open(store_.get(), io);
  }();
  if (!reopened.ok()) {
    // Met at the start instead: refused, saying what to do.
    EXPECT_THAT(reopened.status().message(), HasSubstr("it is rebuilt from the log"));
    return;
  }
  log_ = std::move(*reopened);
  for (int i = 0; i < 1500; ++i) {
    ASSERT_OK(
        store_->Append(absl::StrCat("s-", i), storage::ExpectedRevision::Any(), SomeEvents(1)));
  }
  EXPECT_THAT(log_->CheckpointNow().status(),
              StatusIs(absl::StatusCode::kDataLoss,
                       AllOf(HasSubstr("stream-head map"), HasSubstr("rebuilt from the log"))));
  EXPECT_THAT(log_->problems(), ::testing::Contains(HasSubstr("no checkpoint can be signed")));
}

// A stop never waits for the stream-head map of the whole log: with the map
// lost and more than two steps of events to map again (a build under the
// signing lock, the map not far enough behind to be built in steps), the
// stop waits for the step under way, and the checkpoint it would sign is
// left to the next start, which builds the map and signs it.
TEST_F(IntegrityLogTest, AStopDoesNotWaitForAMapFarBehind) {
  SignThenLoseTheMap(210);  // 21,000 signed
  // The start asks the checkpoint thread to build the map (21,000 events,
  // three steps); it is held after the first.
  OpenWithItsOwnMap([&](IntegrityOptions& io) { HoldTheMapBuild(io); });
  ASSERT_TRUE(MapBuildHeld());
  ASSERT_OK(store_->Append("s-last", storage::ExpectedRevision::Any(), SomeEvents(1)));
  StopDuringTheHeldBuild();
  EXPECT_EQ(log_->map_stats().updates, 1u) << "one step of 10,000 events, not three";
  {
    std::ifstream journal(dir_.Sub("checkpoints.jsonl"));
    std::string line, last;
    while (std::getline(journal, line)) last = line;
    EXPECT_THAT(last, HasSubstr("\"treeSize\":\"21000\""))
        << "the stop signed what it should have left to the next start";
  }
  // The next start builds the map and signs it.
  Open(/*with_integrity=*/false);
  OpenWithItsOwnMap();
  ASSERT_OK_AND_ASSIGN(v1::SignedCheckpoint c, log_->CheckpointNow());
  EXPECT_EQ(c.checkpoint().tree_size(), 21001u);
  EXPECT_EQ(c.checkpoint().stream_map_root(), RecomputeMapRoot());
}

// A map far behind the log (lost, or after a restore) is built by the
// checkpoint thread in steps, letting go of the signing lock between them:
// meanwhile a new checkpoint, an export and a stream-head proof are refused
// with the build's progress, not kept waiting for all of it (half an hour at
// 10M events), and the latest checkpoint and the tree's proofs are served.
// Once built, the map gives the root signed before it was lost, and what was
// refused works.
TEST_F(IntegrityLogTest, AMapFarBehindIsBuiltInStepsAndWhatNeedsItIsRefusedMeanwhile) {
  SignThenLoseTheMap(250);  // 25,000 signed
  OpenWithItsOwnMap([&](IntegrityOptions& io) {
    io.map_build_in_steps_over = 12000;  // two and a half steps behind: in steps
    HoldTheMapBuild(io);
  });
  ASSERT_TRUE(MapBuildHeld());
  // Nothing new: the latest checkpoint covers the log, and is served.
  ASSERT_OK_AND_ASSIGN(v1::SignedCheckpoint latest, log_->CheckpointNow());
  EXPECT_EQ(latest.checkpoint().tree_size(), 25000u);
  ASSERT_OK(store_->Append("s-new", storage::ExpectedRevision::Any(), SomeEvents(1)));
  EXPECT_OK(log_->InclusionProof(25001, 25001).status());
  const absl::Status refused = log_->CheckpointNow().status();
  EXPECT_TRUE(absl::IsUnavailable(refused)) << refused;
  EXPECT_EQ(ReasonOf(refused), "STREAM_MAP_BUILDING");
  EXPECT_THAT(refused.message(), HasSubstr("being built (at position 10000 of 25000)"));
  EXPECT_EQ(ReasonOf(log_->ProveStreamHead("s-2").status()), "STREAM_MAP_BUILDING");
  EXPECT_EQ(ReasonOf(log_->ExportBundle(WholeStream(store_.get(), "s-2"), "s-2", "s-2").status()),
            "STREAM_MAP_BUILDING");
  EXPECT_EQ(log_->map_stats().building_behind, 15000u);

  ReleaseTheMapBuild();
  // The checkpoint thread ends the build by checking the map against the
  // checkpoint of 25,000; the next one signs the new event.
  absl::StatusOr<v1::SignedCheckpoint> c = refused;
  for (const absl::Time give_up = absl::Now() + absl::Minutes(1);
       !c.ok() && absl::Now() < give_up; absl::SleepFor(absl::Milliseconds(20))) {
    c = log_->CheckpointNow();
  }
  ASSERT_OK(c.status());
  EXPECT_EQ(c->checkpoint().tree_size(), 25001u);
  EXPECT_EQ(c->checkpoint().stream_map_root(), RecomputeMapRoot());
  EXPECT_EQ(log_->map_stats().building_behind, 0u);
  EXPECT_TRUE(log_->problems().empty()) << log_->problems().front();
  ASSERT_OK_AND_ASSIGN(v1::StreamHead head, log_->ProveStreamHead("s-2"));
  EXPECT_OK(VerifyStreamHead(c->checkpoint().stream_map_root(), "s-2",
                             {head.last_revision(), head.last_position()},
                             {head.siblings().begin(), head.siblings().end()}));
  EXPECT_OK(log_->ExportBundle(WholeStream(store_.get(), "s-2"), "s-2", "s-2").status());
}

// A stop during a build in steps waits for the step under way, not for the
// rest of the build: the next start goes on from there.
TEST_F(IntegrityLogTest, AStopDuringABuildInStepsWaitsForOneStepOnly) {
  SignThenLoseTheMap(250);  // 25,000 signed
  OpenWithItsOwnMap([&](IntegrityOptions& io) {
    io.map_build_in_steps_over = 12000;
    HoldTheMapBuild(io);
  });
  ASSERT_TRUE(MapBuildHeld());
  StopDuringTheHeldBuild();
  EXPECT_EQ(log_->map_stats().updates, 1u) << "one step of 10,000 events, not three";
  // The next start builds the rest and checks it against what was signed.
  Open(/*with_integrity=*/false);
  OpenWithItsOwnMap();
  absl::StatusOr<v1::StreamHead> head = log_->ProveStreamHead("s-2");
  for (const absl::Time give_up = absl::Now() + absl::Minutes(1);
       !head.ok() && absl::Now() < give_up; head = log_->ProveStreamHead("s-2")) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_OK(head.status());
  EXPECT_TRUE(log_->problems().empty()) << log_->problems().front();
}

// After a crash the map may be behind the latest checkpoint (it is written
// without a WAL) with nothing appended since: a stream-head proof or an
// export brings it to that checkpoint, checked against the root signed,
// instead of proving stream heads from a map that is not the one signed.
TEST_F(IntegrityLogTest, AMapBehindTheLatestCheckpointIsBroughtToItBeforeItProves) {
  SignThenLoseTheMap(3);  // as a crash loses its newest steps
  OpenWithItsOwnMap();
  ASSERT_OK_AND_ASSIGN(v1::SignedCheckpoint c, log_->Checkpoint(0));
  ASSERT_OK_AND_ASSIGN(v1::StreamHead head, log_->ProveStreamHead("s-2"));
  EXPECT_OK(VerifyStreamHead(c.checkpoint().stream_map_root(), "s-2",
                             {head.last_revision(), head.last_position()},
                             {head.siblings().begin(), head.siblings().end()}));
  ASSERT_OK(log_->ExportBundle(WholeStream(store_.get(), "s-2"), "s-2", "s-2").status());
  ASSERT_OK_AND_ASSIGN(v1::SignedCheckpoint latest, log_->CheckpointNow());
  EXPECT_EQ(latest.checkpoint().tree_size(), c.checkpoint().tree_size());
  EXPECT_TRUE(log_->problems().empty()) << log_->problems().front();
}

// A log opened read-only (a disk too full to write) cannot bring a map that
// is behind its latest checkpoint up to it: stream-head proofs and exports
// are refused saying so (READ_ONLY), never proven from the map as it is;
// the latest checkpoint is still served.
TEST_F(IntegrityLogTest, AReadOnlyLogRefusesToProveFromAMapBehindItsCheckpoint) {
  SignThenLoseTheMap(3);
  TearDown();
  storage::StoreOptions so;
  so.data_dir = dir_.Sub("data");
  so.extra_column_families = {IntegrityLog::kColumnFamily};
  so.read_only = true;
  auto store = storage::EventStore::Open(so);
  ASSERT_OK(store.status());
  store_ = std::move(*store);
  IntegrityOptions io;
  io.signing_key_file = dir_.Sub("key.pem");
  io.journal_file = dir_.Sub("checkpoints.jsonl");
  io.stream_map_dir = dir_.Sub("stream-map");
  auto log = IntegrityLog::Open(store_.get(), io);
  ASSERT_OK(log.status());
  log_ = std::move(*log);
  const absl::Status proof = log_->ProveStreamHead("s-2").status();
  EXPECT_TRUE(absl::IsUnavailable(proof)) << proof;
  EXPECT_EQ(ReasonOf(proof), "READ_ONLY");
  EXPECT_THAT(proof.message(), HasSubstr("open read-only"));
  EXPECT_EQ(ReasonOf(log_->ExportBundle(WholeStream(store_.get(), "s-2"), "s-2", "s-2").status()),
            "READ_ONLY");
  ASSERT_OK_AND_ASSIGN(v1::SignedCheckpoint latest, log_->CheckpointNow());
  EXPECT_EQ(latest.checkpoint().tree_size(), 300u);
}

// ---- the stream-head map ---------------------------------------------------------

// Held in full (16 levels: every place of these ~300 streams' tree), in
// part (3 levels: the rest read from RocksDB) and not at all; and every
// other step by a new store over the same RocksDB, which holds nothing yet.
class StreamMapStoreTest : public ::testing::TestWithParam<int> {};
INSTANTIATE_TEST_SUITE_P(CachedDepths, StreamMapStoreTest, ::testing::Values(16, 3, 0));

TEST_P(StreamMapStoreTest, TheStoredMapUpdatedInStepsEqualsTheMapBuiltAtOnce) {
  TempDir dir;
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(options, dir.Sub("db"), &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  auto owned = std::make_unique<StreamMapStore>(db.get(), db->DefaultColumnFamily(), GetParam());
  EXPECT_EQ(*owned->Root(), EmptyStreamMapHash());
  std::mt19937 rng(11);
  std::map<std::string, StreamHeadValue> all;  // by stream id
  uint64_t position = 0;
  for (int step = 0; step < 12; ++step) {
    if (step % 2 == 1) {
      owned = std::make_unique<StreamMapStore>(db.get(), db->DefaultColumnFamily(), GetParam());
    }
    StreamMapStore& store = *owned;
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


}  // namespace
}  // namespace evenhand::integrity
