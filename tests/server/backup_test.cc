// Online backup and verified restore (issue 14): a backup taken while 16
// clients append, restored by `evenhand restore` into a new folder and
// started on; and backups tampered with (an event, a tree node, a file's
// bytes) refused by `evenhand restore` with the position named.
#include "storage/backup.h"

#include <stdio.h>
#include <sys/wait.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "base/big_endian.h"
#include "base/uuid.h"
#include "evenhand/v1/audit.grpc.pb.h"
#include "evenhand/v1/operations.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "integrity/backup_seal.h"
#include "integrity/backups.h"
#include "integrity/integrity_log.h"
#include "integrity/signing.h"
#include "integrity/tiles.h"
#include "integrity/tree_keys.h"
#include "rocksdb/db.h"
#include "storage/acknowledged_mark.h"
#include "tests/server/backup_fixture.h"
#include "tests/testing/events.h"
#include "tests/testing/log_files.h"
#include "tests/testing/status_matchers.h"

namespace evenhand {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

// The database of a backup folder's backup `id`, restored raw into `dir`
// and opened for writing with every column family: to tamper with it.
// Seals backup `id` of `backups` (whose manifest is `metadata`) again, as
// one who holds the log's key can (it is in the backup): what is left to
// catch changed data is the restore's check of every event against the
// signed checkpoints.
void Reseal(const std::string& backups, uint32_t id, const std::string& metadata) {
  const std::string extras = integrity::BackupExtrasDir(backups, id);
  auto key = integrity::SigningKey::FromPem(testing::ReadFile(extras + "/signing-key.pem"),
                                            "the backup's key");
  ASSERT_TRUE(key.ok()) << key.status();
  auto manifest = integrity::ParseManifest(metadata);
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  const std::string seal =
      integrity::BackupSealStatement(manifest->log_id(), integrity::BackupFolderId(backups), id,
                                     testing::ReadFile(absl::StrCat(backups, "/meta/", id)));
  auto signature = key->Sign(seal);
  ASSERT_TRUE(signature.ok()) << signature.status();
  testing::WriteFile(extras + "/seal", integrity::BackupSealFile(seal, *signature));
}

class RawCopy {
 public:
  RawCopy(const std::string& backups, uint32_t id, const std::string& dir) {
    EXPECT_TRUE(storage::RestoreBackup(backups, id, dir).ok());
    rocksdb::Options o;
    std::vector<std::string> names;
    EXPECT_TRUE(rocksdb::DB::ListColumnFamilies(o, dir, &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    for (const auto& n : names) descriptors.emplace_back(n, rocksdb::ColumnFamilyOptions());
    rocksdb::DB* raw = nullptr;
    EXPECT_TRUE(rocksdb::DB::Open(o, dir, descriptors, &handles_, &raw).ok());
    db_.reset(raw);
    for (size_t i = 0; i < names.size(); ++i) cf_[names[i]] = handles_[i];
  }
  ~RawCopy() {
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
  }
  rocksdb::DB* db() { return db_.get(); }
  rocksdb::ColumnFamilyHandle* cf(const std::string& name) { return cf_.at(name); }

  // Backs the changed copy up into `backups` as a new backup with `from`'s
  // manifest and Even Hand part: what someone with RocksDB's tools could make.
  uint32_t BackUpAs(const std::string& backups, uint32_t from) {
    auto listed = integrity::ReadBackupFolder(backups);
    std::string metadata;
    for (const auto& b : listed->backups()) {
      if (b.backup_id() == from) metadata = integrity::ManifestJson(b.manifest());
    }
    auto created = storage::CreateBackup(db_.get(), backups, metadata, true);
    EXPECT_TRUE(created.ok()) << created.status();
    fs::copy(integrity::BackupExtrasDir(backups, from),
             integrity::BackupExtrasDir(backups, created->backup.id), fs::copy_options::recursive);
    Reseal(backups, created->backup.id, metadata);
    return created->backup.id;
  }

 private:
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::map<std::string, rocksdb::ColumnFamilyHandle*> cf_;
};

TEST_F(BackupTest, BackupUnderLoadRestoresEveryAcknowledgedEventAndVerifies) {
  StartServer();
  const std::string backups = dir_.Sub("backups");
  AppendSome("before-", 50);

  // 16 clients append until told to stop; each acknowledgement is noted
  // with the time it came back.
  std::atomic<bool> stop{false};
  absl::Mutex mu;
  std::map<std::string, uint64_t> acknowledged;  // event id -> position
  std::map<std::string, absl::Time> acknowledged_at;
  std::vector<std::thread> clients;
  for (int c = 0; c < 16; ++c) {
    clients.emplace_back([&, c] {
      auto client = clients::EventLogClient::Connect(server_->address());
      for (int i = 0; !stop.load(); ++i) {
        v1::AppendRequest request;
        request.set_stream_id(absl::StrCat("query-c", c, "-", i));
        *request.add_events() = testing::AnEvent(absl::StrCat("c", c, "-", i));
        const std::string id = request.events(0).event_id();
        auto r = client->Append(request);
        if (!r.ok()) continue;
        absl::MutexLock lock(&mu);
        acknowledged[id] = r->positions(0);
        acknowledged_at[id] = absl::Now();
      }
    });
  }
  absl::SleepFor(absl::Milliseconds(500));
  const absl::Time began = absl::Now();
  v1::BackupInfo info = Backup(backups);
  absl::SleepFor(absl::Milliseconds(300));  // appends go on after it
  stop = true;
  for (auto& t : clients) t.join();
  ASSERT_TRUE(info.complete());
  const uint64_t signed_size = info.manifest().checkpoint().checkpoint().tree_size();
  std::map<std::string, uint64_t> before_backup;
  for (const auto& [id, position] : acknowledged) {
    if (acknowledged_at[id] < began) before_backup[id] = position;
  }
  ASSERT_GT(before_backup.size(), 100u);
  const uint64_t last_before = server_->LastPosition();
  ASSERT_GT(last_before, signed_size) << "appends should have gone on during and after the backup";
  StopServer();
  // The folder and every folder in it are owner-only (evenhand/ was 0755).
  for (const std::string& sub : {"", "/evenhand", "/evenhand/1", "/meta", "/private"}) {
    EXPECT_EQ(
        fs::status(backups + sub).permissions() & (fs::perms::group_all | fs::perms::others_all),
        fs::perms::none)
        << backups + sub;
  }

  // Restore into a new folder: verified before it says so.
  const std::string restored = dir_.Sub("restored");
  CliResult r = RunCli({"restore", "--from=" + backups, "--to=" + restored});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("RESTORED and VERIFIED"));
  // What the checkpoint signs, and the events copied after it, are told apart.
  EXPECT_THAT(r.output,
              ::testing::AnyOf(
                  ::testing::AllOf(
                      HasSubstr(absl::StrCat("positions 1..", signed_size, " by the checkpoint")),
                      HasSubstr(absl::StrCat("unsigned     positions ", signed_size + 1, "..")),
                      HasSubstr("no signature covers them")),
                  HasSubstr("every event, by the checkpoint")))
      << r.output;
  EXPECT_EQ(fs::status(restored + "/signing-key.pem").permissions() & fs::perms::group_read,
            fs::perms::none);
  // Backups hold RocksDB's files only: the restore writes the record of the
  // last acknowledged position, so the first start checks the log's end.
  std::string problem;
  absl::StatusOr<std::optional<storage::AcknowledgedMark::Mark>> mark =
      storage::AcknowledgedMark(restored).Read(&problem);
  ASSERT_TRUE(mark.ok() && mark->has_value()) << mark.status() << problem;
  EXPECT_EQ((*mark)->log_id, info.manifest().log_id());

  // Start on it, checking everything against the journal it came with.
  data_subdir_ = "restored";
  v1::ServerConfig config;
  config.mutable_audit()->set_verify_on_start("full");
  StartServer(config);
  std::map<uint64_t, std::string> restored_ids;
  v1::ReadAllRequest all;
  ASSERT_TRUE(client_
                  ->ReadAll(all,
                            [&](const v1::RecordedEvent& e) {
                              restored_ids[e.position()] = e.event().event_id();
                              return true;
                            })
                  .ok());
  for (const auto& [id, position] : before_backup) {
    ASSERT_TRUE(restored_ids.count(position)) << "acknowledged event at " << position << " lost";
    EXPECT_EQ(restored_ids[position], id);
  }
  EXPECT_GE(server_->LastPosition(), signed_size);
  EXPECT_LE(server_->LastPosition(), last_before);
  EXPECT_EQ(server_->LastPosition(), (*mark)->position);
  // The backup's checkpoint is the restored log's: same signed root.
  auto audit = v1::Audit::NewStub(channel_);
  grpc::ClientContext context;
  v1::GetTreeHeadRequest head;
  head.set_tree_size(signed_size);
  v1::TreeHead tree;
  ASSERT_TRUE(audit->GetTreeHead(&context, head, &tree).ok());
  EXPECT_EQ(tree.root_hash(), info.manifest().checkpoint().checkpoint().root_hash());
  grpc::ClientContext context2;
  v1::GetCheckpointRequest checkpoint_request;
  checkpoint_request.set_tree_size(signed_size);
  v1::SignedCheckpoint checkpoint;
  ASSERT_TRUE(audit->GetCheckpoint(&context2, checkpoint_request, &checkpoint).ok());
  EXPECT_EQ(checkpoint.signed_body(), info.manifest().checkpoint().signed_body());
  EXPECT_EQ(checkpoint.checkpoint().chain_head(),
            info.manifest().checkpoint().checkpoint().chain_head());
  // And it takes appends again.
  AppendSome("after-restore-", 3);
}

TEST_F(BackupTest, SecondBackupIsIncrementalAndRetentionPrunes) {
  v1::ServerConfig config;
  config.mutable_backup()->set_keep(2);
  StartServer(config);
  const std::string backups = dir_.Sub("backups");
  AppendSome("a-", 200);
  v1::BackupInfo first = Backup(backups);
  AppendSome("b-", 5);
  v1::BackupInfo second = Backup(backups);
  EXPECT_LT(second.copied_bytes(), second.size_bytes());
  AppendSome("c-", 5);
  v1::BackupInfo third = Backup(backups);
  EXPECT_THAT(
      std::vector<uint32_t>(third.purged_backup_ids().begin(), third.purged_backup_ids().end()),
      ::testing::ElementsAre(first.backup_id()));
  EXPECT_FALSE(fs::exists(integrity::BackupExtrasDir(backups, first.backup_id())));
  auto listed = integrity::ReadBackupFolder(backups);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->backups_size(), 2);
  EXPECT_EQ(listed->backups(0).backup_id(), second.backup_id());
  EXPECT_TRUE(listed->backups(1).complete());
}

// Retention counts complete backups only: backups that failed after the
// copy (here, their Even Hand part removed, as a failed move or a kill
// leaves them) night after night never push out the last good one.
TEST_F(BackupTest, RetentionKeepsTheNewestCompleteBackupsWhateverFailedSince) {
  v1::ServerConfig config;
  config.mutable_backup()->set_keep(2);
  StartServer(config);
  const std::string backups = dir_.Sub("backups");
  AppendSome("a-", 20);
  const v1::BackupInfo good = Backup(backups);
  std::vector<uint32_t> failed;
  for (int night = 0; night < 2; ++night) {
    AppendSome(absl::StrCat("n", night, "-"), 5);
    failed.push_back(Backup(backups).backup_id());
    fs::remove_all(integrity::BackupExtrasDir(backups, failed.back()));
  }
  AppendSome("z-", 5);
  const v1::BackupInfo latest = Backup(backups);
  auto listed = integrity::ReadBackupFolder(backups);
  ASSERT_TRUE(listed.ok()) << listed.status();
  std::vector<uint32_t> ids;
  for (const v1::BackupInfo& b : listed->backups()) {
    ids.push_back(b.backup_id());
    EXPECT_TRUE(b.complete()) << b.backup_id();
  }
  EXPECT_THAT(ids, ::testing::ElementsAre(good.backup_id(), latest.backup_id()));
  EXPECT_THAT(
      std::vector<uint32_t>(latest.purged_backup_ids().begin(), latest.purged_backup_ids().end()),
      ::testing::ElementsAre(failed[1]));
  StopServer();
  CliResult r = RunCli({"restore", "--from=" + backups, absl::StrCat("--backup=", good.backup_id()),
                        "--to=" + dir_.Sub("restored")});
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST_F(BackupTest, RefusesFoldersItMustNotWriteTo) {
  StartServer();
  auto backup_to = [&](const std::string& to) {
    v1::BackupInfo info;
    return TryBackup(to, &info);
  };
  for (const std::string& to : {std::string("relative/backups"), dir_.Sub("data/inside")}) {
    grpc::Status s = backup_to(to);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << to;
    EXPECT_THAT(s.error_message(), ::testing::AnyOf(HasSubstr("not an absolute path"),
                                                    HasSubstr("inside the data folder")));
  }
  // A file where the folder should be, and a folder no backup was made
  // in, are the operator's to put right: said so, not INTERNAL.
  const std::string file = dir_.Sub("a-file");
  { std::ofstream(file) << "not a folder"; }
  grpc::Status onto_a_file = backup_to(file);
  EXPECT_EQ(onto_a_file.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
      << onto_a_file.error_message();
  EXPECT_THAT(onto_a_file.error_message(), HasSubstr("is a file, not a folder"));
  // A folder another user owns, or reached through one, could have its
  // backups (signing key and all) changed after: refused (outside probe).
  fs::create_directories(dir_.Sub("theirs/inner"));
  if (::chown(dir_.Sub("theirs").c_str(), 65534, 65534) == 0) {
    for (const std::string& to : {dir_.Sub("theirs"), dir_.Sub("theirs/inner")}) {
      grpc::Status s = backup_to(to);
      EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << to;
      EXPECT_THAT(s.error_message(), HasSubstr("is reached through " + dir_.Sub("theirs") +
                                               ", owned by user id 65534"))
          << to;
    }
  }
  auto stub = v1::Operations::NewStub(channel_);
  for (const std::string& dir : {dir_.Sub("never-made"), file}) {
    grpc::ClientContext context;
    v1::ListBackupsRequest request;
    request.set_dir(dir);
    v1::ListBackupsResponse response;
    grpc::Status s = stub->ListBackups(&context, request, &response);
    EXPECT_NE(s.error_code(), grpc::StatusCode::INTERNAL) << s.error_message();
    EXPECT_THAT(s.error_message(), ::testing::AnyOf(HasSubstr("does not exist"),
                                                    HasSubstr("is a file, not a folder")));
  }
  // What a backup killed during its first copy leaves: no backup, and said
  // to have been cut short (outside probe: "holds no backup", no more).
  const std::string cut = dir_.Sub("cut-short");
  fs::create_directories(cut + "/meta");
  fs::create_directories(cut + "/private/1.tmp");
  fs::create_directories(cut + "/shared_checksum");
  { std::ofstream(cut + "/shared_checksum/.000012_1_2.sst.tmp") << "part of a table"; }
  EXPECT_THAT(
      storage::ListBackups(cut, nullptr).status(),
      testing::StatusIs(absl::StatusCode::kNotFound,
                        AllOf(HasSubstr("holds no backup"), HasSubstr("begun there and cut short"),
                              HasSubstr("holds 1 file(s), 15 bytes"))));
  // Cut short after its tables were copied and named, before its
  // description was written (outside re-probe): the same.
  fs::remove(cut + "/shared_checksum/.000012_1_2.sst.tmp");
  { std::ofstream(cut + "/shared_checksum/000012_1_2.sst") << "a table"; }
  { std::ofstream(cut + "/private/1.tmp/CURRENT") << "MANIFEST-000005\n"; }
  EXPECT_THAT(storage::ListBackups(cut, nullptr).status(),
              testing::StatusIs(absl::StatusCode::kNotFound,
                                HasSubstr("holds 2 file(s), 23 bytes: what a backup begun")));
}

class TamperedBackupTest : public BackupTest {
 protected:
  void SetUp() override {
    BackupTest::SetUp();
    StartServer();
    backups_ = dir_.Sub("backups");
    AppendSome("q-", 40);
    // The event to change later, then more after it.
    v1::AppendRequest request;
    request.set_stream_id("query-target");
    *request.add_events() = testing::AnEvent("target-QQQQ");
    auto r = client_->Append(request);
    ASSERT_TRUE(r.ok());
    target_ = r->positions(0);
    // Past position 256, so that the target's leaf is in a stored tile.
    AppendSome("r-", 240);
    original_ = Backup(backups_).backup_id();
    StopServer();
  }

  std::string backups_;
  uint64_t target_ = 0;
  uint32_t original_ = 0;
};

TEST_F(TamperedBackupTest, ChangedEventIsRefusedWithItsPosition) {
  uint32_t tampered;
  {
    RawCopy copy(backups_, original_, dir_.Sub("raw"));
    std::string key;
    PutBigEndian64(&key, target_);
    std::string value;
    ASSERT_TRUE(copy.db()->Get(rocksdb::ReadOptions(), copy.cf("events"), key, &value).ok());
    const size_t at = value.find("QQQQ");
    ASSERT_NE(at, std::string::npos);
    value[at] = 'R';  // same length: still a well-formed record
    ASSERT_TRUE(copy.db()->Put(rocksdb::WriteOptions(), copy.cf("events"), key, value).ok());
    tampered = copy.BackUpAs(backups_, original_);
  }
  CliResult r = RunCli({"restore", "--from=" + backups_, absl::StrCat("--backup=", tampered),
                        "--to=" + dir_.Sub("restored")});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("VERIFICATION FAILED"));
  EXPECT_THAT(r.output, HasSubstr(absl::StrCat("position ", target_, ":")));
  EXPECT_THAT(r.output, HasSubstr("changed after it was signed"));
  EXPECT_FALSE(fs::exists(dir_.Sub("restored")));
  EXPECT_FALSE(fs::exists(dir_.Sub("restored.checkpoints.jsonl")));
  // The untouched backup still restores.
  CliResult ok = RunCli({"restore", "--from=" + backups_, absl::StrCat("--backup=", original_),
                         "--to=" + dir_.Sub("restored")});
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
}

TEST_F(TamperedBackupTest, ChangedEventAfterTheLastFullTileIsRefusedWithItsPosition) {
  // The last event: its leaf is stored only in its commit's run of leaves.
  uint32_t tampered;
  uint64_t last = 0;
  {
    RawCopy copy(backups_, original_, dir_.Sub("raw"));
    std::unique_ptr<rocksdb::Iterator> it(
        copy.db()->NewIterator(rocksdb::ReadOptions(), copy.cf("events")));
    it->SeekToLast();
    ASSERT_TRUE(it->Valid());
    last = ReadBigEndian64(it->key().ToString());
    ASSERT_GT(last % integrity::kTileWidth, 0u);
    std::string value = it->value().ToString();
    it.reset();
    const size_t at = value.find("r-239");
    ASSERT_NE(at, std::string::npos);
    value[at] = 's';
    ASSERT_TRUE(
        copy.db()->Put(rocksdb::WriteOptions(), copy.cf("events"), BigEndian64(last), value).ok());
    tampered = copy.BackUpAs(backups_, original_);
  }
  CliResult r = RunCli({"restore", "--from=" + backups_, absl::StrCat("--backup=", tampered),
                        "--to=" + dir_.Sub("restored")});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr(absl::StrCat("position ", last, ":")));
  EXPECT_THAT(r.output, HasSubstr("changed after it was signed"));
  EXPECT_FALSE(fs::exists(dir_.Sub("restored")));
}

TEST_F(TamperedBackupTest, ChangedTreeNodeIsRefusedWithItsPosition) {
  uint32_t tampered;
  // The leaf of position 22, in the first tile of the tree.
  {
    RawCopy copy(backups_, original_, dir_.Sub("raw"));
    const std::string key = integrity::tree_keys::TileKey(0, 0);
    std::string tile;
    ASSERT_TRUE(copy.db()->Get(rocksdb::ReadOptions(), copy.cf("integrity"), key, &tile).ok());
    ASSERT_EQ(tile.size(), integrity::kTileBytes);
    tile.replace(21 * 32, 32, std::string(32, 'x'));
    ASSERT_TRUE(copy.db()->Put(rocksdb::WriteOptions(), copy.cf("integrity"), key, tile).ok());
    tampered = copy.BackUpAs(backups_, original_);
  }
  CliResult r = RunCli({"restore", "--from=" + backups_, absl::StrCat("--backup=", tampered),
                        "--to=" + dir_.Sub("restored")});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("position 22: its stored bytes hash to leaf"));
  EXPECT_THAT(r.output, HasSubstr("the hashes stored beside them were changed"));
  EXPECT_FALSE(fs::exists(dir_.Sub("restored")));
}

TEST_F(TamperedBackupTest, ChangedChainHashIsRefusedWithItsPosition) {
  uint32_t tampered;
  {
    RawCopy copy(backups_, original_, dir_.Sub("raw"));
    ASSERT_TRUE(copy.db()
                    ->Put(rocksdb::WriteOptions(), copy.cf("integrity"),
                          integrity::tree_keys::ChainKey(256), std::string(32, 'x'))
                    .ok());
    tampered = copy.BackUpAs(backups_, original_);
  }
  CliResult r = RunCli({"restore", "--from=" + backups_, absl::StrCat("--backup=", tampered),
                        "--to=" + dir_.Sub("restored")});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("position 256: the stored chain hash after it is"));
  EXPECT_FALSE(fs::exists(dir_.Sub("restored")));
}

TEST_F(TamperedBackupTest, ChangedChainHashInALeafRunIsRefusedWithItsPosition) {
  // The run of the last commit: its leaf, then the chain hash after it.
  uint32_t tampered;
  uint64_t at = 0;
  {
    RawCopy copy(backups_, original_, dir_.Sub("raw"));
    std::unique_ptr<rocksdb::Iterator> it(
        copy.db()->NewIterator(rocksdb::ReadOptions(), copy.cf("integrity")));
    std::string key, value;
    for (it->Seek("e"); it->Valid() && it->key().starts_with("e"); it->Next()) {
      key = it->key().ToString();
      value = it->value().ToString();
    }
    it.reset();
    ASSERT_FALSE(key.empty());
    ASSERT_GE(value.size(), 64u);
    at = ReadBigEndian64(key.substr(1)) + value.size() / 32 - 2;  // its last event
    value.replace(value.size() - 32, 32, std::string(32, 'x'));
    ASSERT_TRUE(copy.db()->Put(rocksdb::WriteOptions(), copy.cf("integrity"), key, value).ok());
    tampered = copy.BackUpAs(backups_, original_);
  }
  CliResult r = RunCli({"restore", "--from=" + backups_, absl::StrCat("--backup=", tampered),
                        "--to=" + dir_.Sub("restored")});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr(absl::StrCat("position ", at,
                                               ": the chain hash its commit stored after it")));
  EXPECT_FALSE(fs::exists(dir_.Sub("restored")));
}

TEST_F(TamperedBackupTest, DamagedFileIsRefused) {
  // One byte of the largest table file in the folder, as a failing disk or
  // an editor would change it.
  fs::path largest;
  for (const auto& f : fs::recursive_directory_iterator(backups_)) {
    if (f.path().extension() == ".sst" &&
        (largest.empty() || f.file_size() > fs::file_size(largest))) {
      largest = f.path();
    }
  }
  ASSERT_FALSE(largest.empty());
  {
    std::fstream file(largest, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(100);
    char c;
    file.seekg(100);
    file.get(c);
    file.seekp(100);
    file.put(static_cast<char>(c ^ 0x20));
  }
  CliResult r = RunCli({"restore", "--from=" + backups_, "--to=" + dir_.Sub("restored")});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("is damaged"));
  EXPECT_THAT(r.output, HasSubstr("Read in place: position "));
  // Not the store's advice to restore from a backup, to someone doing so.
  const std::string verdict = r.output.substr(r.output.find("VERIFICATION FAILED"));
  EXPECT_THAT(verdict, ::testing::Not(HasSubstr("Restore the data folder from a backup")));
  EXPECT_FALSE(fs::exists(dir_.Sub("restored")));
  // Read in place, the backup is not written to (no record of the damage
  // found is left in it).
  for (const auto& f : fs::recursive_directory_iterator(backups_)) {
    EXPECT_NE(f.path().filename(), "damage-found.txt") << f.path();
  }
}

// Table files already in the folder are shared by the next backup, not
// copied again: a damaged one made every later backup unrestorable while
// each said "taken" (outside probe). The next backup reads its files back,
// says so, and is not kept.
TEST_F(TamperedBackupTest, ADamagedSharedFileFailsTheNextBackupRatherThanHidingInIt) {
  std::vector<fs::path> tables;
  for (const auto& f : fs::recursive_directory_iterator(backups_)) {
    if (f.path().extension() == ".sst") tables.push_back(f.path());
  }
  ASSERT_FALSE(tables.empty());
  // Every one, so that the next backup shares a damaged one; flipped twice,
  // put right.
  auto flip_every_table = [&] {
    for (const fs::path& t : tables) {
      std::fstream file(t, std::ios::in | std::ios::out | std::ios::binary);
      char c;
      file.seekg(100);
      file.get(c);
      file.seekp(100);
      file.put(static_cast<char>(c ^ 0x20));
    }
  };
  flip_every_table();
  StartServer();
  AppendSome("s-", 5);
  v1::BackupInfo info;
  const grpc::Status s = TryBackup(backups_, &info);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DATA_LOSS) << s.error_message();
  EXPECT_THAT(s.error_message(), AllOf(HasSubstr("does not read back whole"),
                                       HasSubstr("shares with earlier backups is damaged")));
  StopServer();
  CliResult listed = RunCli({"restore", "--from=" + backups_, "--list"});
  EXPECT_EQ(listed.exit_code, 0) << listed.output;
  EXPECT_THAT(listed.output, Not(HasSubstr(absl::StrCat("\n", original_ + 1, " "))))
      << "the backup that cannot be restored is not kept";
  EXPECT_THAT(listed.output, HasSubstr(absl::StrCat("\n", original_, " ")))
      << "the earlier backup stays for the operator";
  for (const fs::path& t : tables) EXPECT_TRUE(fs::exists(t)) << t << " was deleted with it";
  // And it is listed as damaged from then on, not complete: a listing reads
  // no shared file whole, so the file the failed backup found is
  // remembered, and read again at each listing.
  EXPECT_THAT(listed.output,
              AllOf(HasSubstr("DAMAGED"), HasSubstr("as a later backup found reading it back")))
      << listed.output;
  CliResult restore = RunCli({"restore", "--from=" + backups_, "--to=" + dir_.Sub("restored")});
  EXPECT_EQ(restore.exit_code, 1) << restore.output;
  EXPECT_THAT(restore.output, HasSubstr("is damaged"));
  // Its lines as an editor may leave them ("./", CRLF) still name the file.
  const std::string marker = backups_ + "/damaged-shared-files";
  std::string remembered = ::evenhand::testing::ReadFile(marker);
  ASSERT_FALSE(remembered.empty());
  ::evenhand::testing::WriteFile(marker,
                                 "./" + remembered.substr(0, remembered.size() - 1) + "\r\n");
  EXPECT_THAT(RunCli({"restore", "--from=" + backups_, "--list"}).output, HasSubstr("DAMAGED"));
  // Put right, it is complete again.
  flip_every_table();
  CliResult mended = RunCli({"restore", "--from=" + backups_, "--list"});
  EXPECT_EQ(mended.exit_code, 0) << mended.output;
  EXPECT_THAT(mended.output, Not(HasSubstr("DAMAGED"))) << mended.output;
}

TEST_F(TamperedBackupTest, ForeignKeyAndExistingFolderAreRefused) {
  // A key the backup was not signed with.
  const std::string pem =
      "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAEWJ3bGY2X4WfJcaLUQ7SznXVErNPp3iyQoebdpAkVQo=\n"
      "-----END PUBLIC KEY-----\n";
  std::ofstream(dir_.Sub("other.pem")) << pem;
  CliResult r = RunCli({"restore", "--from=" + backups_, "--to=" + dir_.Sub("restored"),
                        "--pubkey=" + dir_.Sub("other.pem")});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output,
              AllOf(HasSubstr("VERIFICATION FAILED"), HasSubstr("not with the key you gave")));
  // Never over an existing data folder.
  CliResult over = RunCli({"restore", "--from=" + backups_, "--to=" + dir_.Sub("data")});
  EXPECT_EQ(over.exit_code, 2) << over.output;
  EXPECT_THAT(over.output, AllOf(HasSubstr("already exists"), Not(HasSubstr("no journal"))));
  // One without its journal beside it may be a stopped restore's copy: said
  // so (outside probe: "already exists" only).
  fs::create_directories(dir_.Sub("half"));
  std::ofstream(dir_.Sub("half/CURRENT")) << "MANIFEST-000001\n";
  CliResult half = RunCli({"restore", "--from=" + backups_, "--to=" + dir_.Sub("half")});
  EXPECT_EQ(half.exit_code, 2) << half.output;
  EXPECT_THAT(half.output,
              AllOf(HasSubstr("already exists"), HasSubstr("It has no journal beside it"),
                    HasSubstr("delete it and restore again")));
  // A signing key swapped in the backup is refused before it is restored,
  // not found out when the restored server refuses its own journal.
  bool created = false;
  ASSERT_TRUE(integrity::SigningKey::LoadOrCreate(dir_.Sub("swapped.pem"), &created).ok());
  fs::copy_file(dir_.Sub("swapped.pem"),
                integrity::BackupExtrasDir(backups_, original_) + "/signing-key.pem",
                fs::copy_options::overwrite_existing);
  CliResult swapped = RunCli({"restore", "--from=" + backups_, "--to=" + dir_.Sub("restored")});
  EXPECT_EQ(swapped.exit_code, 1) << swapped.output;
  EXPECT_THAT(swapped.output, HasSubstr("that signed its checkpoints")) << swapped.output;
  EXPECT_FALSE(fs::exists(dir_.Sub("restored")));
}

TEST_F(BackupTest, ConsistentlyRewrittenLogIsRefusedAgainstTheSignedRoots) {
  StartServer();
  // A checkpoint of the empty log first (anyone may ask for one): the
  // journal then starts with tree size 0.
  {
    auto audit = v1::Audit::NewStub(channel_);
    grpc::ClientContext context;
    v1::SignedCheckpoint empty;
    ASSERT_TRUE(audit->GetCheckpoint(&context, v1::GetCheckpointRequest(), &empty).ok());
    ASSERT_EQ(empty.checkpoint().tree_size(), 0u);
  }
  AppendSome("q-", 30);
  v1::AppendRequest request;
  request.set_stream_id("query-target");
  *request.add_events() = testing::AnEvent("target-QQQQ");
  auto appended = client_->Append(request);
  ASSERT_TRUE(appended.ok());
  const uint64_t target = appended->positions(0);
  AppendSome("r-", 30);
  const std::string backups = dir_.Sub("backups");
  const uint32_t original = Backup(backups).backup_id();
  StopServer();

  // Change the event, throw the tree, the chain and the record that the
  // journal signed away, and let the integrity log hash the changed events
  // afresh: every stored hash then agrees with the events. Only the signed roots can tell.
  const std::string raw = dir_.Sub("raw");
  std::string metadata;
  {
    RawCopy copy(backups, original, raw);
    std::string key;
    PutBigEndian64(&key, target);
    std::string value;
    ASSERT_TRUE(copy.db()->Get(rocksdb::ReadOptions(), copy.cf("events"), key, &value).ok());
    value[value.find("QQQQ")] = 'R';
    ASSERT_TRUE(copy.db()->Put(rocksdb::WriteOptions(), copy.cf("events"), key, value).ok());
    for (const char* prefix : {"t", "e", "c", "f", "p", "j", "J"}) {
      std::string end = prefix;
      end.back()++;
      ASSERT_TRUE(copy.db()->DeleteRange(rocksdb::WriteOptions(), copy.cf("integrity"), prefix, end).ok());
    }
  }
  uint32_t rewritten;
  {
    storage::StoreOptions so;
    so.data_dir = raw;
    so.extra_column_families = {integrity::IntegrityLog::kColumnFamily};
    so.min_free_bytes = 0;
    so.reserve_bytes = 0;
    auto store = storage::EventStore::Open(so);
    ASSERT_TRUE(store.ok()) << store.status();
    integrity::IntegrityOptions io;
    io.signing_key_file = dir_.Sub("forger-key.pem");
    io.journal_file = dir_.Sub("forger.checkpoints.jsonl");
    auto log = integrity::IntegrityLog::Open(store->get(), io);
    ASSERT_TRUE(log.ok()) << log.status();
    (*log)->Stop();
    auto listed = integrity::ReadBackupFolder(backups);
    ASSERT_TRUE(listed.ok());
    const std::string metadata = integrity::ManifestJson(listed->backups(0).manifest());
    auto created = storage::CreateBackup((*store)->db(), backups, metadata, true);
    ASSERT_TRUE(created.ok()) << created.status();
    rewritten = created->backup.id;
    fs::copy(integrity::BackupExtrasDir(backups, original),
             integrity::BackupExtrasDir(backups, rewritten), fs::copy_options::recursive);
    Reseal(backups, rewritten, metadata);
    log->reset();
    (void)(*store)->Close();
  }
  CliResult r = RunCli({"restore", "--from=" + backups, absl::StrCat("--backup=", rewritten),
                        "--to=" + dir_.Sub("restored")});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("are not those that were signed"));
  EXPECT_THAT(r.output, HasSubstr("position 1: the events at positions 1..")) << r.output;
  EXPECT_FALSE(fs::exists(dir_.Sub("restored")));
}

TEST_F(BackupTest, RestoresIntoANewFolderAnEmptyOneOrAPathWithATrailingSlash) {
  StartServer();
  AppendSome("a-", 20);
  const std::string backups = dir_.Sub("backups");
  Backup(backups);
  StopServer();
  CliResult slash = RunCli({"restore", "--from=" + backups, "--to=" + dir_.Sub("one") + "/"});
  EXPECT_EQ(slash.exit_code, 0) << slash.output;
  EXPECT_TRUE(fs::exists(dir_.Sub("one") + "/CURRENT"));
  EXPECT_TRUE(fs::exists(dir_.Sub("one.checkpoints.jsonl")));
  fs::create_directories(dir_.Sub("mounted"));
  CliResult empty = RunCli({"restore", "--from=" + backups, "--to=" + dir_.Sub("mounted")});
  EXPECT_EQ(empty.exit_code, 0) << empty.output;
  EXPECT_TRUE(fs::exists(dir_.Sub("mounted") + "/CURRENT"));
  // A link to nothing, as the folder or the journal, is refused before the
  // backup is read, and nothing is written through it.
  fs::create_symlink(dir_.Sub("nowhere"), dir_.Sub("dangling"));
  CliResult link = RunCli({"restore", "--from=" + backups, "--to=" + dir_.Sub("dangling")});
  EXPECT_NE(link.exit_code, 0) << link.output;
  EXPECT_THAT(link.output, HasSubstr("is a symbolic link to " + dir_.Sub("nowhere")));
  link = RunCli({"restore", "--from=" + backups, "--to=" + dir_.Sub("two"),
                 "--journal=" + dir_.Sub("dangling")});
  EXPECT_NE(link.exit_code, 0) << link.output;
  EXPECT_THAT(link.output, HasSubstr("journal " + dir_.Sub("dangling") + " is a symbolic link"));
  EXPECT_FALSE(fs::exists(dir_.Sub("nowhere")));
  EXPECT_FALSE(fs::exists(dir_.Sub("two")));
  fs::remove(dir_.Sub("dangling"));
  // Nothing of ours is left beside them.
  for (const auto& entry : fs::directory_iterator(dir_.path())) {
    EXPECT_THAT(entry.path().filename().string(), ::testing::Not(HasSubstr(".restoring")));
  }
  // The restored folder starts, and its log is the backup's.
  data_subdir_ = "mounted";
  StartServer();
  EXPECT_GE(server_->LastPosition(), 20u);
}

TEST_F(BackupTest, AFolderHoldsOneLogsBackups) {
  StartServer();
  AppendSome("a-", 5);
  const std::string backups = dir_.Sub("backups");
  Backup(backups);
  StopServer();
  data_subdir_ = "another-log";
  StartServer();
  v1::BackupInfo info;
  grpc::Status s = TryBackup(backups, &info);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("holds backups of another log"));
}

}  // namespace
}  // namespace evenhand
