// Ed25519 signing keys and the files around them (the key, its ".pub", the
// checkpoint journal), checkpoints and backup statements; real keys in
// temporary folders. Part of integrity_test (integrity_test.cc has the rest).
#include <fstream>

#include "base/error_details.h"
#include "integrity/backups.h"
#include "tests/integrity/integrity_log_fixture.h"

namespace evenhand::integrity {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

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

// A key is made only where nobody else could replace it, and neither it
// nor the public key beside it is written through a link someone planted
// (outside probe: a key made in `nobody`'s folder, and its ".pub" written
// over a file of root's through a link).
TEST(SigningTest, AKeyIsNeverMadeWhereOthersCouldReplaceItNorWrittenThroughALink) {
  TempDir dir;
  bool created = false;
  std::filesystem::create_directory(dir.Sub("open"));
  ::chmod(dir.Sub("open").c_str(), 0777);
  EXPECT_THAT(SigningKey::LoadOrCreate(dir.Sub("open") + "/key.pem", &created),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("which its group or others can write (mode 0777)")));
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("open") + "/key.pem"));
  std::ofstream(dir.Sub("victim")) << "root's";
  std::filesystem::create_symlink(dir.Sub("victim"), dir.Sub("key.pem.pub"));
  ASSERT_OK(SigningKey::LoadOrCreate(dir.Sub("key.pem"), &created));
  EXPECT_TRUE(created);
  std::ifstream victim(dir.Sub("victim"));
  std::string text((std::istreambuf_iterator<char>(victim)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "root's");
  // A FIFO where the ".pub" goes does not hang the making of a key.
  ASSERT_EQ(::mkfifo(dir.Sub("other.pem.pub").c_str(), 0600), 0);
  ASSERT_OK(SigningKey::LoadOrCreate(dir.Sub("other.pem"), &created));
  EXPECT_TRUE(std::filesystem::is_regular_file(dir.Sub("other.pem.pub")));
}

// The checkpoint journal sits beside the data folder, often in a folder
// others share: it is never opened through a link (outside probe: the
// server appended its checkpoints to a file of root's through one).
TEST(SigningTest, TheCheckpointJournalIsNeverOpenedThroughALink) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(SigningKey key, SigningKey::Generate());
  std::ofstream(dir.Sub("victim")) << "";
  std::filesystem::create_symlink(dir.Sub("victim"), dir.Sub("data.checkpoints.jsonl"));
  EXPECT_THAT(CheckpointJournal::Open(dir.Sub("data.checkpoints.jsonl"), key.public_key(),
                                      "0b7e2f4c-1d3a-4e5b-8c6d-7e8f9a0b1c2d")
                  .status(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("is a symbolic link, which is never followed")));
  EXPECT_EQ(std::filesystem::file_size(dir.Sub("victim")), 0u);
  // Nor a FIFO (which hung the start), nor another user's file (which they
  // could rewrite): outside probe.
  ASSERT_EQ(::mkfifo(dir.Sub("fifo.checkpoints.jsonl").c_str(), 0600), 0);
  EXPECT_THAT(CheckpointJournal::Open(dir.Sub("fifo.checkpoints.jsonl"), key.public_key(),
                                      "0b7e2f4c-1d3a-4e5b-8c6d-7e8f9a0b1c2d")
                  .status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not a regular file")));
  std::ofstream(dir.Sub("theirs.checkpoints.jsonl")) << "";
  if (::chown(dir.Sub("theirs.checkpoints.jsonl").c_str(), 65534, 65534) == 0) {
    EXPECT_THAT(
        CheckpointJournal::Open(dir.Sub("theirs.checkpoints.jsonl"), key.public_key(),
                                "0b7e2f4c-1d3a-4e5b-8c6d-7e8f9a0b1c2d")
            .status(),
        StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("belongs to user 65534")));
  }
}

TEST(SigningTest, AKeyFileThatIsNotAKeyIsAnError) {
  TempDir dir;
  std::ofstream(dir.Sub("key.pem")) << "not a key";
  ::chmod(dir.Sub("key.pem").c_str(), 0600);
  bool created;
  EXPECT_THAT(SigningKey::LoadOrCreate(dir.Sub("key.pem"), &created),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a PEM private key")));
}

// An encrypted key is refused, saying so, and no passphrase is asked for
// (OpenSSL's default asks on the terminal: a listing of a backup folder
// holding one, run by hand, waited there).
TEST(SigningTest, AnEncryptedKeyIsRefusedWithoutAskingForItsPassphrase) {
  // openssl genpkey -algorithm ed25519 -aes256 -pass pass:secret
  const std::string encrypted =
      "-----BEGIN ENCRYPTED PRIVATE KEY-----\n"
      "MIGbMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAgH/xfs+C4+6AICCAAw\n"
      "DAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEEMPTisTnTW1DlRIN+27bg5kEQB2Y\n"
      "lF1ngjcZXfrRLj357sK8fmAOXJZUXJXnmY8ODgq/JNRnCv/N3U75P0n/uMXMunga\n"
      "28onpwB0zMG+163v+rw=\n"
      "-----END ENCRYPTED PRIVATE KEY-----\n";
  EXPECT_THAT(SigningKey::FromPem(encrypted, "key.pem"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("key.pem is encrypted with a passphrase")));
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
  c.set_log_id("0b7e2f4c-1d3a-4e5b-8c6d-7e8f9a0b1c2d");
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
  // Signed by the key, but naming its log in a form no log's id takes
  // (outside probe: an upper-case id and "not-a-uuid" verified).
  for (const std::string log : {"0B7E2F4C-1D3A-4E5B-8C6D-7E8F9A0B1C2D", "not-a-uuid"}) {
    c.set_log_id(log);
    ASSERT_OK_AND_ASSIGN(v1::SignedCheckpoint odd, SignCheckpoint(key, c));
    EXPECT_THAT(VerifyCheckpoint(odd, key.public_key()),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a lower-case UUID")))
        << log;
  }
}

// A backup's manifest is signed over a text statement of its fields
// (docs/OPERATIONS.md): the text is pinned, and changing any field it
// covers, or the signature, no longer verifies.
TEST(SigningTest, ABackupsStatementIsFixedAndEveryFieldItNamesIsSigned) {
  ASSERT_OK_AND_ASSIGN(SigningKey key, SigningKey::Generate());
  v1::BackupManifest m;
  m.set_format_version(1);
  m.set_log_id("0b7e2f4c-1d3a-4e5b-8c6d-7e8f9a0b1c2d");
  m.mutable_checkpoint()->set_signed_body("evenhand checkpoint v2\n");
  *m.mutable_public_key() = key.public_key();
  m.mutable_started_at()->set_seconds(1773069005);
  m.mutable_started_at()->set_nanos(123);
  m.set_last_position(5);
  m.set_server_version("0.1.0");
  m.set_signing_key_included(true);
  m.set_journal_checkpoints(2);
  m.set_journal_sha256(std::string(64, 'a'));
  EXPECT_EQ(BackupStatement(m),
            "evenhand backup v1\n"
            "log 0b7e2f4c-1d3a-4e5b-8c6d-7e8f9a0b1c2d\n"
            "checkpoint " +
                absl::BytesToHexString(Sha256("evenhand checkpoint v2\n")) +
                "\n"
                "last 5\n"
                "started 1773069005000000123\n"
                "journal 2 " +
                std::string(64, 'a') +
                "\n"
                "key included\n");
  EXPECT_THAT(VerifyManifestSignature(m),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("not signed")));
  ASSERT_OK_AND_ASSIGN(std::string signature, key.Sign(BackupStatement(m)));
  m.set_signature(signature);
  EXPECT_OK(VerifyManifestSignature(m));
  // The server's version is a label, not signed.
  v1::BackupManifest relabelled = m;
  relabelled.set_server_version("9.9.9");
  EXPECT_OK(VerifyManifestSignature(relabelled));
  const std::vector<std::function<void(v1::BackupManifest*)>> edits = {
      [](v1::BackupManifest* b) { b->set_log_id("another"); },
      [](v1::BackupManifest* b) { b->mutable_checkpoint()->set_signed_body("other"); },
      [](v1::BackupManifest* b) { b->set_last_position(6); },
      [](v1::BackupManifest* b) { b->mutable_started_at()->set_nanos(124); },
      [](v1::BackupManifest* b) { b->set_journal_checkpoints(1); },
      [](v1::BackupManifest* b) { b->set_journal_sha256(std::string(64, 'b')); },
      [](v1::BackupManifest* b) { b->set_signing_key_included(false); },
      [](v1::BackupManifest* b) { (*b->mutable_signature())[0] ^= 1; },
  };
  for (size_t i = 0; i < edits.size(); ++i) {
    v1::BackupManifest edited = m;
    edits[i](&edited);
    EXPECT_THAT(VerifyManifestSignature(edited),
                StatusIs(absl::StatusCode::kDataLoss, HasSubstr("was changed since it was taken")))
        << "edit " << i;
  }
  ASSERT_OK_AND_ASSIGN(SigningKey other, SigningKey::Generate());
  v1::BackupManifest other_key = m;
  *other_key.mutable_public_key() = other.public_key();
  EXPECT_THAT(VerifyManifestSignature(other_key),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("does not verify with key")));
}

}  // namespace
}  // namespace evenhand::integrity
