// The canonical encoding, Ed25519 checkpoints, the store-backed tree and
// hash chain, and investigation bundles (including tampering).
#include <sys/stat.h>

#include <fstream>
#include <random>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "evenhand/v1/fairness.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "integrity/bundle.h"
#include "integrity/canonical.h"
#include "integrity/integrity_log.h"
#include "integrity/merkle.h"
#include "integrity/signing.h"
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
    EXPECT_THAT(SigningKey::LoadOrCreate(dir.Sub("key.pem"), &created),
                StatusIs(absl::StatusCode::kPermissionDenied,
                         AllOf(HasSubstr("can be read by its group or others"),
                               HasSubstr("chmod 600"))))
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
    auto log = IntegrityLog::Open(store_.get(), io);
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = std::move(*log);
  }

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
  EXPECT_THAT(log_->InclusionProof(n + 1, n), StatusIs(absl::StatusCode::kOutOfRange, HasSubstr("not in the tree")));
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

TEST_F(IntegrityLogTest, ALogWrittenBeforeTheTreeExistedIsHashedOnce) {
  TearDown();
  Open(/*with_integrity=*/false);
  AppendMany(80);
  TearDown();
  Open();
  auto [root, chain] = Recompute();
  EXPECT_EQ(log_->size(), store_->LastPosition());
  EXPECT_EQ(*log_->Root(log_->size()), root);
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
  for (int i = 0; i < 100 && log_->Checkpoints()->empty(); ++i) absl::SleepFor(absl::Milliseconds(100));
  ASSERT_OK_AND_ASSIGN(std::vector<v1::SignedCheckpoint> all, log_->Checkpoints());
  ASSERT_FALSE(all.empty());
  for (const auto& c : all) {
    EXPECT_OK(VerifyCheckpoint(c, log_->public_key()));
    EXPECT_EQ(c.checkpoint().root_hash(), *log_->Root(c.checkpoint().tree_size()));
  }
  ASSERT_OK_AND_ASSIGN(v1::SignedCheckpoint now, log_->CheckpointNow());
  EXPECT_EQ(now.checkpoint().tree_size(), log_->size());
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
