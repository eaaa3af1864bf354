// Damage to a stopped server's files, made on the disk as it happens (an
// event's bytes changed, a bit flipped in a table file of the events or of
// the Merkle tree), and what the restarted server says and serves: the
// damaged part named in every read of it, in GetStatus and in health, the
// rest served. A damaged write-ahead log, a rolled-back folder and a full
// disk are in reliability_test.cc.
#include <signal.h>
#include <sys/wait.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/grpc_deadline.h"
#include "clients/audit_client.h"
#include "clients/event_log_client.h"
#include "evenhand/v1/fairness.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "tests/testing/child_server.h"
#include "tests/testing/events.h"
#include "tests/testing/health.h"
#include "tests/testing/log_files.h"
#include "tests/testing/run_program.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace evenhand {
namespace {

using ::evenhand::testing::AppendRequestOf;
using ::evenhand::testing::ChildServer;
using ::evenhand::testing::Health;
using ::evenhand::testing::LogOnlyConfig;
using ::evenhand::testing::ReadFile;
using ::evenhand::testing::SomeEvents;
using ::evenhand::testing::StatusIs;
using ::evenhand::testing::TempDir;
using ::evenhand::testing::WriteFile;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A stopped server's data folder opened with every column family, as a
// tool with the disk would (read-only, or to write behind the server).
class RawLog {
 public:
  RawLog(const std::string& data_dir, bool read_only) {
    std::vector<std::string> names;
    EXPECT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), data_dir, &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    for (const auto& n : names) descriptors.emplace_back(n, rocksdb::ColumnFamilyOptions());
    const rocksdb::Status s =
        read_only ? rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), data_dir, descriptors,
                                                 &handles_, &db_)
                  : rocksdb::DB::Open(rocksdb::DBOptions(), data_dir, descriptors, &handles_, &db_);
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  ~RawLog() {
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
    delete db_;
  }
  rocksdb::DB* db() const { return db_; }
  rocksdb::ColumnFamilyHandle* cf(const std::string& name) const {
    for (auto* h : handles_) {
      if (h->GetName() == name) return h;
    }
    return nullptr;
  }

 private:
  rocksdb::DB* db_ = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
};

// Rewrites the stored event at `position` with its payload changed, as an
// attacker with the disk (or bit rot that RocksDB's checksums do not see)
// would leave it.
void ChangeStoredEvent(const std::string& data_dir, uint64_t position) {
  RawLog log(data_dir, /*read_only=*/false);
  ASSERT_NE(log.db(), nullptr);
  rocksdb::ColumnFamilyHandle* events = log.cf("events");
  std::string key;
  for (int shift = 56; shift >= 0; shift -= 8) key.push_back(static_cast<char>(position >> shift));
  std::string value;
  ASSERT_TRUE(log.db()->Get(rocksdb::ReadOptions(), events, key, &value).ok());
  v1::RecordedEvent record;
  ASSERT_TRUE(record.ParseFromString(value));
  record.mutable_event()->mutable_payload()->mutable_written_query_answered()->set_officer_id(
      "somebody-else");
  rocksdb::WriteOptions wo;
  wo.sync = true;
  ASSERT_TRUE(log.db()->Put(wo, events, key, record.SerializeAsString()).ok());
}

TEST(RecoveryTest, AnEventChangedOnDiskIsReportedOnReadAndInHealth) {
  TempDir dir;
  const std::string config = LogOnlyConfig(dir);
  {
    ChildServer child(dir, 0, {config});
    child.Start();
    if (HasFatalFailure()) return;
    for (int i = 0; i < 12; ++i) {
      ASSERT_OK(child.client().Append(AppendRequestOf(i == 11 ? "t" : "s", SomeEvents(1))));
    }
    child.Signal(SIGTERM);
    child.Wait();
  }
  ChangeStoredEvent(dir.Sub("data"), 7);
  // The clean stop signed a checkpoint over all 12, so only a full check
  // re-hashes position 7.
  ChildServer child(dir, 1, {config, "--verify_on_start=full"});
  child.Start();
  if (HasFatalFailure()) return;
  EXPECT_THAT(child.Log(), AllOf(HasSubstr("the event at position 7 is damaged"),
                                 HasSubstr("health is NOT_SERVING")));
  EXPECT_EQ(testing::CheckHealth(grpc::CreateChannel(child.address(),
                                                     grpc::InsecureChannelCredentials())),
            Health::kNotServing);
  v1::ReadStreamRequest read;
  read.set_stream_id("s");
  EXPECT_THAT(child.client().ReadStream(read, [](const v1::RecordedEvent&) { return true; }),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("position 7")));
  auto status = child.client().GetStatus();
  ASSERT_OK(status);
  ASSERT_EQ(status->problems_size(), 1);
  EXPECT_THAT(status->problems(0), HasSubstr("position 7"));
  // An auditor's check of the server says so: the verdict (exit 1), not an
  // outage (exit 3).
  testing::ProgramResult verify =
      testing::RunProgram(EVENHAND_CLI_PATH, {"--server=" + child.address(), "verify", "--server"});
  EXPECT_EQ(verify.exit_code, 1) << verify.output;
  EXPECT_THAT(verify.output, HasSubstr("VERIFICATION FAILED: the server reports damage"));
  // The other events read as before.
  v1::ReadAllRequest first;
  first.set_max_count(6);
  int n = 0;
  EXPECT_OK(child.client().ReadAll(first, [&](const v1::RecordedEvent&) { return ++n > 0; }));
  EXPECT_EQ(n, 6);
  // A subscriber whose filter passes over the damaged event is not stopped
  // by it: it gets what it asked for.
  auto stub = v1::EventLog::NewStub(
      grpc::CreateChannel(child.address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(DeadlineAfter(absl::Seconds(30)));
  v1::SubscribeRequest others;
  others.set_from_position(1);
  others.mutable_filter()->add_stream_prefixes("t");
  auto reader = stub->Subscribe(&context, others);
  v1::SubscribeResponse m;
  std::vector<uint64_t> got;
  while (!m.has_caught_up() && reader->Read(&m)) {
    for (const v1::RecordedEvent& e : m.events().events()) got.push_back(e.position());
  }
  EXPECT_TRUE(m.has_caught_up()) << reader->Finish().error_message();
  EXPECT_THAT(got, ElementsAre(12));
  context.TryCancel();
  reader->Finish().IgnoreError();

  // A restart with the default check (the tail, which does not reach
  // position 7) still knows it: reads of it fail, health says so.
  child.Signal(SIGTERM);
  child.Wait();
  ChildServer again(dir, 2, {config});
  again.Start();
  if (HasFatalFailure()) return;
  EXPECT_THAT(again.client().ReadStream(read, [](const v1::RecordedEvent&) { return true; }),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("position 7")));
  EXPECT_EQ(testing::CheckHealth(
                grpc::CreateChannel(again.address(), grpc::InsecureChannelCredentials())),
            Health::kNotServing);
  status = again.client().GetStatus();
  ASSERT_OK(status);
  ASSERT_EQ(status->problems_size(), 1);
  EXPECT_THAT(status->problems(0), AllOf(HasSubstr("the event at position 7 is damaged"),
                                         HasSubstr("before this start")));
}

// The largest table file of column family `family` in `data_dir` (a
// stopped server's).
std::string TableFile(const std::string& data_dir, const std::string& family = "events") {
  RawLog log(data_dir, /*read_only=*/true);
  if (log.db() == nullptr) return "";
  std::vector<rocksdb::LiveFileMetaData> files;
  log.db()->GetLiveFilesMetaData(&files);
  std::string largest;
  uint64_t size = 0;
  for (const auto& f : files) {
    if (f.column_family_name == family && f.size > size) {
      size = f.size;
      largest = f.db_path + f.name;
    }
  }
  return largest;
}

TEST(RecoveryTest, DamageATableFileShowsOnAReadIsReportedInStatusAndHealth) {
  TempDir dir;
  const std::string config = LogOnlyConfig(dir);
  {
    ChildServer child(dir, 0, {config});
    child.Start();
    if (HasFatalFailure()) return;
    // More than 256: the start's check of the tail (from the last multiple
    // of 256 below the newest checkpoint) does not reach the first events.
    for (int i = 0; i < 3; ++i)
      ASSERT_OK(child.client().Append(AppendRequestOf("s", SomeEvents(100))));
    child.Signal(SIGTERM);
    child.Wait();
  }
  // A bit flipped in the table's first block (the first events): RocksDB's
  // block checksum no longer matches.
  const std::string table = TableFile(dir.Sub("data"));
  ASSERT_FALSE(table.empty());
  std::string bytes = ReadFile(table);
  ASSERT_GT(bytes.size(), 200u);
  bytes[100] ^= 0x20;
  WriteFile(table, bytes);
  ChildServer child(dir, 1, {config});
  child.Start();
  if (HasFatalFailure()) return;
  v1::ReadStreamRequest read;
  read.set_stream_id("s");
  EXPECT_THAT(child.client().ReadStream(read, [](const v1::RecordedEvent&) { return true; }),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("position 1")));
  // Known from now on: health, status and the log say so (health is
  // looked at every second).
  auto channel = grpc::CreateChannel(child.address(), grpc::InsecureChannelCredentials());
  for (int i = 0; i < 100 && testing::CheckHealth(channel) != Health::kNotServing; ++i) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(testing::CheckHealth(channel), Health::kNotServing);
  auto status = child.client().GetStatus();
  ASSERT_OK(status);
  ASSERT_EQ(status->problems_size(), 1);
  EXPECT_THAT(status->problems(0),
              AllOf(HasSubstr("position 1"), HasSubstr(".sst"), HasSubstr("Corruption")));
  // A second read of the same damage is not a second problem.
  EXPECT_FALSE(child.client().ReadStream(read, [](const v1::RecordedEvent&) { return true; }).ok());
  status = child.client().GetStatus();
  ASSERT_OK(status);
  EXPECT_EQ(status->problems_size(), 1);
  EXPECT_THAT(child.Log(), HasSubstr("a read met damage in the log's files"));
  // As for a damaged event, appends go on: what is written is intact.
  EXPECT_OK(child.client().Append(AppendRequestOf("t", SomeEvents(1))));

  // A restart does not forget it: known before anything reads the block
  // again, until the folder is restored.
  child.Signal(SIGTERM);
  child.Wait();
  ChildServer again(dir, 2, {config});
  again.Start();
  if (HasFatalFailure()) return;
  EXPECT_EQ(testing::CheckHealth(
                grpc::CreateChannel(again.address(), grpc::InsecureChannelCredentials())),
            Health::kNotServing);
  status = again.client().GetStatus();
  ASSERT_OK(status);
  ASSERT_EQ(status->problems_size(), 1);
  EXPECT_THAT(status->problems(0),
              AllOf(HasSubstr("position 1"), HasSubstr(".sst"), HasSubstr("before this start"),
                    HasSubstr("damage-found.txt")));
  EXPECT_THAT(again.Log(), HasSubstr("1 damage finding(s) of earlier runs are recorded"));

  // A rebuild of the fairness projection cannot fold past the damage: a
  // report as of the end says so, not "try again shortly" for ever
  // (outside probe), once the fold has stopped there.
  again.Signal(SIGTERM);
  again.Wait();
  ChildServer rebuilt(dir, 3, {config, "--rebuild_projections"});
  rebuilt.Start();
  if (HasFatalFailure()) return;
  auto fairness = v1::Fairness::NewStub(
      grpc::CreateChannel(rebuilt.address(), grpc::InsecureChannelCredentials()));
  grpc::Status report;
  for (int i = 0; i < 100; ++i) {
    grpc::ClientContext context;
    context.set_deadline(DeadlineAfter(absl::Seconds(10)));
    v1::ReportRequest request;
    v1::FairnessReport response;
    report = fairness->GetReport(&context, request, &response);
    if (report.error_code() != grpc::StatusCode::UNAVAILABLE) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(report.error_code(), grpc::StatusCode::DATA_LOSS) << report.error_message() << "\n"
                                                              << rebuilt.Log();
  EXPECT_THAT(report.error_message(),
              AllOf(HasSubstr("cannot fold the log past position 0"), HasSubstr(".sst"),
                    HasSubstr("Restore the data folder from a backup")));
  // Status says it stopped, not that it catches up.
  status = rebuilt.client().GetStatus();
  ASSERT_OK(status);
  EXPECT_EQ(status->projection_position(), 0u);
  EXPECT_THAT(status->projection_stopped(),
              AllOf(HasSubstr("cannot fold the log past position 0"), HasSubstr(".sst")));
}

// Flips a bit inside the stored tile (level 0, index `index`) in whichever
// table file of the integrity column family holds it. A tile is 8 KiB, over
// RocksDB's 4 KiB blocks, so it is a block of its own that starts with its
// whole key ("t", the level, the index); hashes do not compress, so the
// block is stored as it is.
void DamageLeafTile(const std::string& data_dir, uint64_t index) {
  std::vector<std::string> tables;
  {
    RawLog log(data_dir, /*read_only=*/true);
    ASSERT_NE(log.db(), nullptr);
    std::vector<rocksdb::LiveFileMetaData> files;
    log.db()->GetLiveFilesMetaData(&files);
    for (const auto& f : files) {
      if (f.column_family_name == "integrity") tables.push_back(f.db_path + f.name);
    }
  }
  std::string key("t");
  key.push_back('\0');
  for (int shift = 56; shift >= 0; shift -= 8) key.push_back(static_cast<char>(index >> shift));
  for (const std::string& table : tables) {
    std::string bytes = ReadFile(table);
    const size_t at = bytes.find(key);
    if (at == std::string::npos || at + 4096 > bytes.size()) continue;
    bytes[at + 2048] ^= 0x20;  // among the tile's hashes
    WriteFile(table, bytes);
    return;
  }
  FAIL() << "no table file holds the tile " << index;
}

TEST(RecoveryTest, DamageToAStoredTreeTileShowsOnAProofAndIsReportedInStatusAndHealth) {
  TempDir dir;
  const std::string config = LogOnlyConfig(dir);
  {
    ChildServer child(dir, 0, {config});
    child.Start();
    if (HasFatalFailure()) return;
    // More than 256 tiles of 256 leaves: the start rebuilds the tree's right
    // edge from the roots of the tiles since position 65,537, so it never
    // reads the first ones.
    for (int i = 0; i < 66; ++i) {
      ASSERT_OK(child.client().Append(AppendRequestOf(absl::StrCat("s", i), SomeEvents(1000))));
    }
    child.Signal(SIGTERM);
    child.Wait();
  }
  // Not the first tile: its block also holds the small keys sorted before
  // it (the tree's layout, the journal's record), which every start reads.
  DamageLeafTile(dir.Sub("data"), 5);
  if (HasFatalFailure()) return;
  ChildServer child(dir, 1, {config});
  child.Start();
  if (HasFatalFailure()) return;
  // An auditor's proof for an event under the damaged tile.
  EXPECT_THAT(child.audit().GetInclusionProof(1300, 0),
              StatusIs(absl::StatusCode::kDataLoss,
                       AllOf(HasSubstr("the Merkle tree tile over positions 1281..1536"),
                             HasSubstr("Corruption"), HasSubstr("evenhand restore"))));
  // Known from now on: health and status say so.
  auto channel = grpc::CreateChannel(child.address(), grpc::InsecureChannelCredentials());
  for (int i = 0; i < 100 && testing::CheckHealth(channel) != Health::kNotServing; ++i) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(testing::CheckHealth(channel), Health::kNotServing);
  auto status = child.client().GetStatus();
  ASSERT_OK(status);
  ASSERT_GE(status->problems_size(), 1);
  EXPECT_THAT(status->problems(0), HasSubstr("tile over positions 1281..1536"));
  // Proofs under other tiles are not affected.
  EXPECT_OK(child.audit().GetInclusionProof(60000, 0));
  // Nor does a restart forget it.
  child.Signal(SIGTERM);
  child.Wait();
  ChildServer again(dir, 2, {config});
  again.Start();
  if (HasFatalFailure()) return;
  status = again.client().GetStatus();
  ASSERT_OK(status);
  ASSERT_EQ(status->problems_size(), 1);
  EXPECT_THAT(status->problems(0),
              AllOf(HasSubstr("tile over positions 1281..1536"), HasSubstr("before this start")));
}

TEST(RecoveryTest, DamageToATreeTileTheStartReadsStopsTheStartSayingWhichAndWhatToDo) {
  TempDir dir;
  const std::string config = LogOnlyConfig(dir);
  {
    ChildServer child(dir, 0, {config});
    child.Start();
    if (HasFatalFailure()) return;
    // Three full tiles: the start reads their roots for the tree's right edge.
    for (int i = 0; i < 8; ++i) {
      ASSERT_OK(child.client().Append(AppendRequestOf("s", SomeEvents(100))));
    }
    child.Signal(SIGTERM);
    child.Wait();
  }
  DamageLeafTile(dir.Sub("data"), 1);
  if (HasFatalFailure()) return;
  ChildServer child(dir, 1, {config});
  const int status = child.StartExpectingFailure();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0);
  EXPECT_THAT(child.Log(), AllOf(HasSubstr("the Merkle tree tile over positions 257..512"),
                                 HasSubstr("Corruption"), HasSubstr("evenhand restore")));
}

TEST(RecoveryTest, TheTailSinceTheLastCheckpointIsCheckedOnEveryStart) {
  TempDir dir;
  const std::string config = LogOnlyConfig(
      dir, ", \"audit\": {\"checkpointEveryEvents\": 5, \"checkpointEverySeconds\": 3600}");
  {
    ChildServer child(dir, 0, {config});
    child.Start();
    if (HasFatalFailure()) return;
    for (int i = 0; i < 5; ++i) {
      ASSERT_OK(child.client().Append(AppendRequestOf("s", SomeEvents(1))));
    }
    for (int i = 0; i < 100 && ReadFile(dir.Sub("data.checkpoints.jsonl")).empty(); ++i) {
      absl::SleepFor(absl::Milliseconds(50));
    }
    for (int i = 0; i < 3; ++i) {
      ASSERT_OK(child.client().Append(AppendRequestOf("s", SomeEvents(1))));
    }
    child.Signal(SIGKILL);  // no checkpoint covers 6..8
    child.Wait();
  }
  ChangeStoredEvent(dir.Sub("data"), 7);
  ChildServer child(dir, 1, {config});
  child.Start();
  if (HasFatalFailure()) return;
  EXPECT_THAT(child.Log(), AllOf(HasSubstr("the start-up check of positions 1..8 found 1 damaged"),
                                 HasSubstr("the event at position 7 is damaged")));
  EXPECT_EQ(testing::CheckHealth(grpc::CreateChannel(child.address(),
                                                     grpc::InsecureChannelCredentials())),
            Health::kNotServing);
}

}  // namespace
}  // namespace evenhand
