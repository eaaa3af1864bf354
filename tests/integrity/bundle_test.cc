// Investigation bundles: exported by the store-backed log and verified
// offline, and every kind of tampering caught and named.
#include "tests/integrity/integrity_log_fixture.h"

namespace evenhand::integrity {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

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
