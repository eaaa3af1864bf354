// evenhandd as an operator meets it when things go wrong: a full disk, a
// damaged write-ahead log, a data folder rolled back to an older copy, a
// second server on the same port or folder, a signing key others can read
// (damage to the files of a stopped log is in damage_test.cc, a thousand
// subscribers that never read in subscription_load_test.cc). Every fault is
// made to happen for real, against a child process.
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "base/error_details.h"
#include "base/grpc_deadline.h"
#include "clients/event_log_client.h"
#include "clients/fairness_client.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "storage/disk_space.h"
#include "tests/testing/child_server.h"
#include "tests/testing/events.h"
#include "tests/testing/health.h"
#include "tests/testing/log_files.h"
#include "tests/testing/run_program.h"
#include "tests/testing/small_disk.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace evenhand {
namespace {

using ::evenhand::testing::AppendRequestOf;
using ::evenhand::testing::ChildServer;
using ::evenhand::testing::Health;
using ::evenhand::testing::LogOnlyConfig;
using ::evenhand::testing::ReadFile;
using ::evenhand::testing::SmallDisk;
using ::evenhand::testing::SomeEvents;
using ::evenhand::testing::StatusIs;
using ::evenhand::testing::TempDir;
using ::evenhand::testing::WriteFile;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

// Event ids and positions the server acknowledged.
using Acked = std::map<std::string, uint64_t>;

void ExpectAllPresent(ChildServer& child, const Acked& acked) {
  std::map<std::string, uint64_t> found;
  ASSERT_OK(child.client().ReadAll({}, [&](const v1::RecordedEvent& e) {
    found[e.event().event_id()] = e.position();
    return true;
  }));
  for (const auto& [id, position] : acked) {
    ASSERT_EQ(found.count(id), 1u) << "acknowledged event " << id << " is missing";
    EXPECT_EQ(found[id], position);
  }
}

// None of `ids` is in the log.
void ExpectAbsent(ChildServer& child, const std::vector<std::string>& ids) {
  std::set<std::string> found;
  ASSERT_OK(child.client().ReadAll({}, [&](const v1::RecordedEvent& e) {
    found.insert(e.event().event_id());
    return true;
  }));
  for (const std::string& id : ids) {
    EXPECT_EQ(found.count(id), 0u) << "refused event " << id << " is in the log";
  }
}

// ---- a full disk -----------------------------------------------------------

TEST(DiskFullTest, AppendsAreRefusedNotCrashedReadsGoOnAndAppendsResumeWhenSpaceIsFreed) {
  TempDir dir;
  SmallDisk disk(dir.Sub("disk"), 64);
  if (!disk.ok()) GTEST_SKIP() << disk.reason();
  // The log lives on the small disk; a floor of 8 MiB above RocksDB's 4 MiB
  // of memtables. While appenders fill it, reads are not recorded: under
  // load a compaction can take the disk below even the reserve kept for
  // access records, and then a recorded read is rightly refused
  // (ACCESS_NOT_RECORDED; seen under ASan with 2 tests at a time).
  const std::string limits =
      ", \"minFreeDiskMib\": 8, \"reservedDiskMib\": 4, \"memtableMib\": 4";
  const std::string unrecorded = LogOnlyConfig(
      dir, absl::StrCat(limits, ", \"security\": {\"local\": {\"doNotRecordReads\": true}}"));
  // The restarts below record their reads, on a disk the test fills to a
  // known level.
  const std::string recorded_path = dir.Sub("recorded.json");
  WriteFile(recorded_path, absl::StrCat("{\"skipDomainValidation\": true", limits,
                                        ", \"fairness\": {\"reportWaitSeconds\": 60}}"));
  const std::string config = "--config=" + recorded_path;
  ChildServer child(dir, 0, {unrecorded, "--data_dir=" + dir.Sub("disk/data")});
  child.Start();
  if (HasFatalFailure()) return;
  disk.FillLeaving(14ull << 20);

  // Eight appenders until each has been refused a few times.
  absl::Mutex mu;
  Acked acked;
  std::vector<absl::Status> refusals;
  std::vector<std::string> refused_ids;
  std::vector<std::thread> writers;
  for (int t = 0; t < 8; ++t) {
    writers.emplace_back([&, t] {
      int refused = 0;
      for (int i = 0; i < 5000 && refused < 3; ++i) {
        std::vector<v1::Event> events = SomeEvents(1, std::string(2000, 'x'));
        const std::string id = events[0].event_id();
        auto r = child.client().Append(AppendRequestOf(absl::StrCat("s-", t), events));
        absl::MutexLock lock(&mu);
        if (r.ok()) {
          acked[id] = r->positions(0);
        } else {
          ++refused;
          refusals.push_back(r.status());
          refused_ids.push_back(id);
        }
      }
    });
  }
  for (auto& w : writers) w.join();
  ASSERT_FALSE(refusals.empty()) << "the disk never filled";
  // Alive, serving reads and health, and saying why appends are refused
  // (RocksDB's compactions free space as they finish: the test keeps the
  // disk below the floor while it asks).
  ASSERT_EQ(::kill(child.pid(), 0), 0) << "evenhandd died on a full disk: " << child.Log();
  // Every refusal is RESOURCE_EXHAUSTED: the floor's, naming the free space
  // and the floor, or (had RocksDB itself met the end of the disk) its
  // no-space error. Nothing of a refused append is in the log.
  int below_floor = 0;
  for (const absl::Status& s : refusals) {
    EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
    if (ReasonOf(s) != "DISK_FULL") {
      EXPECT_THAT(std::string(s.message()), HasSubstr("appends resume once space is freed")) << s;
      continue;
    }
    ++below_floor;
    EXPECT_THAT(std::string(s.message()),
                AllOf(HasSubstr("/disk/data has "),
                      HasSubstr(" free, below the floor of 8.0 MiB (minFreeDiskMib)"),
                      HasSubstr("Nothing from this append was written")));
    std::optional<google::rpc::ErrorInfo> info = GetErrorInfo(s);
    ASSERT_TRUE(info.has_value()) << s;
    ASSERT_EQ(info->metadata().count("floor_bytes"), 1u);
    EXPECT_EQ(info->metadata().at("floor_bytes"), absl::StrCat(8ull << 20));
    EXPECT_EQ(info->metadata().count("free_bytes"), 1u);
  }
  EXPECT_GT(below_floor, 0);
  ASSERT_FALSE(acked.empty());
  ExpectAllPresent(child, acked);
  ExpectAbsent(child, refused_ids);
  EXPECT_EQ(testing::CheckHealth(grpc::CreateChannel(child.address(),
                                                     grpc::InsecureChannelCredentials())),
            Health::kServing);
  absl::StatusOr<v1::GetStatusResponse> status;
  for (int i = 0; i < 50; ++i) {
    disk.FillLeaving(4ull << 20);
    status = child.client().GetStatus();
    ASSERT_OK(status);
    if (!status->accepting_appends()) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_FALSE(status->accepting_appends());
  EXPECT_THAT(status->appends_refused(), HasSubstr("RESOURCE_EXHAUSTED"));
  // Reports and proofs are served while it is full. A compaction that
  // finishes meanwhile frees space: then they are asked again.
  const uint64_t position = acked.begin()->second;
  for (int i = 0; i < 20; ++i) {
    disk.FillLeaving(4ull << 20);
    EXPECT_OK(clients::FairnessClient::Connect(child.address())->GetReport(v1::ReportRequest()));
    auto inclusion = child.audit().GetInclusionProof(position, 0);
    ASSERT_OK(inclusion);
    EXPECT_EQ(inclusion->position(), position);
    EXPECT_OK(child.audit().GetConsistencyProof(1, inclusion->tree_size()));
    status = child.client().GetStatus();
    ASSERT_OK(status);
    if (!status->accepting_appends()) break;
  }
  EXPECT_FALSE(status->accepting_appends()) << "the disk was not full while they were asked";

  // Space is freed: appends resume by themselves, without a restart.
  disk.RemoveFillers();
  bool resumed = false;
  for (int i = 0; i < 100 && !resumed; ++i) {
    std::vector<v1::Event> events = SomeEvents(1);
    auto r = child.client().Append(AppendRequestOf("after", events));
    if (r.ok()) {
      resumed = true;
      acked[events[0].event_id()] = r->positions(0);
    } else {
      absl::SleepFor(absl::Milliseconds(100));
    }
  }
  EXPECT_TRUE(resumed) << "appends did not resume after space was freed";

  // Stopped, the disk filled while it was down, and a restart on the full
  // disk: it opens (the reserve file given back) and serves reads, which go
  // on the record within half of the floor, while appends are refused.
  child.Signal(SIGTERM);
  int exit_status = child.Wait();
  EXPECT_TRUE(WIFEXITED(exit_status)) << child.Log();
  disk.FillLeaving(5ull << 20);  // below the floor, above half of it
  {
    ChildServer again(dir, 1, {config, "--data_dir=" + dir.Sub("disk/data")});
    again.Start();
    if (HasFatalFailure()) return;
    EXPECT_THAT(again.Log(), HasSubstr("appends are refused until space is freed"));
    // One recorded read is served. More are not promised here: the test's
    // floor is so small (8 MiB) that the WALs RocksDB preallocates once
    // writing starts (about 1.1 x the 4 MiB memtable, per database) take
    // what is left of its half, and recorded reads are then refused.
    ExpectAllPresent(again, acked);
    EXPECT_OK(again.audit().GetInclusionProof(position, 0));
    auto append = again.client().Append(AppendRequestOf("s", SomeEvents(1)));
    EXPECT_THAT(append, StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("below the floor")));
    again.Signal(SIGTERM);
    again.Wait();
  }
  // So full it cannot open for writing at all: read-only. It answers status
  // and proofs; reads and reports, which must go on the record, are refused,
  // saying why.
  disk.FillLeaving(1ull << 20);
  ChildServer full(dir, 2, {config, "--data_dir=" + dir.Sub("disk/data")});
  full.Start();
  if (HasFatalFailure()) return;
  EXPECT_THAT(full.Log(), HasSubstr("too little to open the log for writing: it serves reads only"));
  auto full_status = full.client().GetStatus();
  ASSERT_OK(full_status);
  EXPECT_TRUE(full_status->read_only());
  // An append refused there was not recorded, and the command line says so,
  // not "may or may not" (a read-only refusal is UNAVAILABLE too).
  testing::ProgramResult append = testing::RunProgram(
      EVENHAND_CLI_PATH, {"--server=" + full.address(), "append", "--stream=s",
                          "--type=WrittenQueryAnswered", R"(--payload={"queryId": "q-full"})"});
  EXPECT_EQ(append.exit_code, 3) << append.output;
  EXPECT_THAT(append.output,
              AllOf(HasSubstr("serves reads only"),
                    HasSubstr("this request recorded none of these events (the server refused it "
                              "before writing)"),
                    Not(HasSubstr("may or may not"))));
  EXPECT_OK(full.audit().GetTreeHead(0));
  EXPECT_OK(full.audit().GetInclusionProof(position, 0));
  EXPECT_THAT(full.client().ReadAll({}, [](const v1::RecordedEvent&) { return true; }),
              StatusIs(absl::StatusCode::kUnavailable,
                       AllOf(HasSubstr("access record could not be made durable"),
                             HasSubstr("serves reads only"))));
  EXPECT_THAT(clients::FairnessClient::Connect(full.address())->GetReport(v1::ReportRequest()),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("access record could not be made durable")));
  full.Signal(SIGTERM);
  full.Wait();
}

// ---- the log's memory of itself ---------------------------------------------

// Changes one byte at `fraction` of the newest non-empty write-ahead log.
void DamageWal(const std::string& data_dir, double fraction) {
  std::string wal;
  uint64_t newest = 0;
  for (const auto& f : std::filesystem::directory_iterator(data_dir)) {
    if (f.path().extension() != ".log" || std::filesystem::file_size(f.path()) == 0) continue;
    uint64_t number = std::stoull(f.path().stem().string());
    if (number >= newest) {
      newest = number;
      wal = f.path();
    }
  }
  ASSERT_FALSE(wal.empty()) << "no write-ahead log in " << data_dir;
  std::fstream file(wal, std::ios::in | std::ios::out | std::ios::binary);
  const auto at = static_cast<std::streamoff>(std::filesystem::file_size(wal) * fraction);
  file.seekg(at);
  char c;
  file.get(c);
  file.seekp(at);
  file.put(static_cast<char>(c ^ 0x04));
}

// A file-size limit (ulimit -f) reached while appending: the write fails
// (EFBIG) and is refused saying so, the server stays up saying why and
// stops cleanly, and nothing acknowledged is lost. SIGXFSZ ended it with no
// word before (outside probe).
TEST(DiskFullTest, AFileSizeLimitReachedRefusesTheWriteInsteadOfEndingTheServer) {
  TempDir dir;
  const std::string config = LogOnlyConfig(dir);
  rlimit before{};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &before), 0);
  rlimit limited = before;
  limited.rlim_cur = 4 << 20;  // the child inherits it; this test writes less
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &limited), 0);
  ChildServer child(dir, 0, {config});
  child.Start();
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &before), 0);
  if (HasFatalFailure()) return;
  uint64_t acknowledged = 0;
  absl::Status refused;
  for (int i = 0; i < 400 && refused.ok(); ++i) {
    absl::StatusOr<v1::AppendResponse> r = child.client().Append(
        AppendRequestOf(absl::StrCat("s", i), SomeEvents(1, std::string(60000, 'x'))));
    if (r.ok()) {
      acknowledged = r->positions(0);
    } else {
      refused = r.status();
    }
  }
  ASSERT_FALSE(refused.ok()) << "4 MiB of WAL should have been reached";
  EXPECT_THAT(refused.message(), HasSubstr("File too large"));
  // Alive, and saying why: a recorded read needs its access record
  // written, which the stopped log refuses (as after any failed write).
  v1::ReadStreamRequest read;
  read.set_stream_id("s0");
  EXPECT_THAT(child.client().ReadStream(read, [](const v1::RecordedEvent&) { return true; }),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("File too large")));
  child.Signal(SIGTERM);
  const int status = child.Wait();
  EXPECT_TRUE(WIFEXITED(status)) << "ended by signal " << WTERMSIG(status)
                                 << "; log: " << child.Log();
  ChildServer again(dir, 1, {config});
  again.Start();
  if (HasFatalFailure()) return;
  auto last = again.client().GetStatus();
  ASSERT_OK(last.status());
  EXPECT_GE(last->last_position(), acknowledged);
}

TEST(RecoveryTest, ADamagedWriteAheadLogIsRefusedWithWhatIsLostNeverServedShorter) {
  TempDir dir;
  const std::string config = LogOnlyConfig(
      dir, ", \"audit\": {\"checkpointEveryEvents\": 40, \"checkpointEverySeconds\": 3600}");
  Acked acked;
  {
    ChildServer child(dir, 0, {config});
    child.Start();
    if (HasFatalFailure()) return;
    for (int i = 0; i < 60; ++i) {
      std::vector<v1::Event> events = SomeEvents(1);
      auto r = child.client().Append(AppendRequestOf(absl::StrCat("s-", i % 4), events));
      ASSERT_OK(r);
      acked[events[0].event_id()] = r->positions(0);
    }
    // The checkpoint the 40th event triggers (the journal is there, empty,
    // from the start: wait for its first line).
    for (int i = 0; i < 200 && ReadFile(dir.Sub("data.checkpoints.jsonl")).empty(); ++i) {
      absl::SleepFor(absl::Milliseconds(50));
    }
    child.Signal(SIGKILL);
    child.Wait();
  }
  const std::string journal_before = ReadFile(dir.Sub("data.checkpoints.jsonl"));
  ASSERT_FALSE(journal_before.empty());
  DamageWal(dir.Sub("data"), 0.25);
  for (int attempt = 0; attempt < 2; ++attempt) {
    ChildServer child(dir, 1 + attempt, {config});
    int status = child.StartExpectingFailure();
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0) << child.Log();
    EXPECT_THAT(child.Log(), AllOf(HasSubstr("\"level\":\"error\""), HasSubstr("checksum mismatch"),
                                   HasSubstr("is damaged and will not be opened"),
                                   HasSubstr("The intact part ends at position"),
                                   HasSubstr("The newest signed checkpoint"),
                                   HasSubstr("Restore the data folder from a backup")));
  }
  // Nothing was signed over the shorter log.
  EXPECT_EQ(ReadFile(dir.Sub("data.checkpoints.jsonl")), journal_before);
}

// The write-ahead log files of a data folder holding something, by number.
std::vector<uint64_t> WalsOf(const std::string& data) {
  std::vector<uint64_t> out;
  for (const auto& f : std::filesystem::directory_iterator(data)) {
    uint64_t n = 0;
    if (f.path().extension() == ".log" && std::filesystem::file_size(f.path()) > 0 &&
        absl::SimpleAtoi(f.path().stem().string(), &n)) {
      out.push_back(n);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Three runs of the server, each SIGKILLed (nothing flushed): 1..5 signed,
// 6..8, 9..12. The second run's write-ahead log deleted: the start is
// refused, naming the hole and what the journal signed (found from outside:
// the server started, healthy, and `read --all` skipped the hole).
TEST(RecoveryTest, AHoleLeftByADeletedWriteAheadLogIsRefusedNamingWhatWasSigned) {
  TempDir dir;
  const std::string config = LogOnlyConfig(dir);
  const std::string data = dir.Sub("data");
  std::vector<uint64_t> before_second;
  std::vector<uint64_t> second;
  for (int run = 0; run < 3; ++run) {
    ChildServer child(dir, run, {config});
    child.Start();
    if (HasFatalFailure()) return;
    if (run == 1) before_second = WalsOf(data);
    const int n = run == 0 ? 5 : run == 1 ? 3 : 4;
    for (int i = 0; i < n; ++i) {
      ASSERT_OK(child.client().Append(AppendRequestOf("s", SomeEvents(1))));
    }
    if (run == 0) {
      absl::StatusOr<v1::SignedCheckpoint> signed_5 = child.audit().GetCheckpoint();
      ASSERT_OK(signed_5);
      ASSERT_EQ(signed_5->checkpoint().tree_size(), 5u);
    }
    if (run == 1) {
      for (uint64_t w : WalsOf(data)) {
        if (!std::binary_search(before_second.begin(), before_second.end(), w)) {
          second.push_back(w);
        }
      }
    }
    child.Signal(SIGKILL);
    child.Wait();
  }
  ASSERT_EQ(second.size(), 1u) << "the second run's events in one WAL of its own";
  char name[32];
  std::snprintf(name, sizeof name, "/%06llu.log", static_cast<unsigned long long>(second[0]));
  ASSERT_TRUE(std::filesystem::remove(data + name));
  for (int attempt = 0; attempt < 2; ++attempt) {
    ChildServer child(dir, 3 + attempt, {config});
    const int status = child.StartExpectingFailure();
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0) << child.Log();
    EXPECT_THAT(
        child.Log(),
        AllOf(HasSubstr("3 positions are missing (6..8) although it goes on to position 12"),
              // (5 or more: the checkpointer may have signed since.)
              HasSubstr("The newest signed checkpoint"),
              HasSubstr("Restore the data folder from a backup")));
  }
}

TEST(RecoveryTest, ADataFolderRolledBackToAnOlderCopyIsRefusedNamingTheMissingPositions) {
  TempDir dir;
  const std::string config = LogOnlyConfig(dir);
  {
    ChildServer child(dir, 0, {config});
    child.Start();
    if (HasFatalFailure()) return;
    for (int i = 0; i < 20; ++i) {
      ASSERT_OK(child.client().Append(AppendRequestOf("s", SomeEvents(1))));
    }
    child.Signal(SIGTERM);
    child.Wait();
  }
  std::filesystem::copy(dir.Sub("data"), dir.Sub("older"), std::filesystem::copy_options::recursive);
  {
    ChildServer child(dir, 1, {config});
    child.Start();
    if (HasFatalFailure()) return;
    for (int i = 0; i < 30; ++i) {
      ASSERT_OK(child.client().Append(AppendRequestOf("s", SomeEvents(1))));
    }
    child.Signal(SIGTERM);
    child.Wait();
  }
  std::filesystem::remove_all(dir.Sub("data"));
  std::filesystem::rename(dir.Sub("older"), dir.Sub("data"));
  ChildServer refused(dir, 2, {config});
  int status = refused.StartExpectingFailure();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0) << refused.Log();
  EXPECT_THAT(refused.Log(),
              AllOf(HasSubstr("ends at position 20"), HasSubstr("covers 50 events"),
                    HasSubstr("positions 21..50"), HasSubstr("rolled back"),
                    HasSubstr("--start_new_checkpoint_journal")));
  // The operator decides to continue from the older copy: the old journal is
  // kept aside, and the log goes on from position 20.
  ChildServer continued(dir, 3, {config, "--start_new_checkpoint_journal"});
  continued.Start();
  if (HasFatalFailure()) return;
  EXPECT_THAT(continued.Log(), HasSubstr("Continuing as asked: the old journal is kept as"));
  auto r = continued.client().Append(AppendRequestOf("s", SomeEvents(1)));
  ASSERT_OK(r);
  EXPECT_EQ(r->positions(0), 21u);
  bool superseded = false;
  for (const auto& f : std::filesystem::directory_iterator(dir.path())) {
    superseded |= f.path().filename().string().find("checkpoints.jsonl.superseded-") == 0 ||
                  f.path().filename().string().find("data.checkpoints.jsonl.superseded-") == 0;
  }
  EXPECT_TRUE(superseded);
}

// ---- one server per port and per folder ------------------------------------

TEST(StartupTest, ASecondServerOnTheSamePortOrTheSameDataFolderIsRefused) {
  TempDir dir, other;
  ChildServer first(dir, 0, {LogOnlyConfig(dir)});
  first.Start();
  if (HasFatalFailure()) return;

  ChildServer same_port(other, 0, {"--listen=" + first.address()});
  int status = same_port.StartExpectingFailure();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0);
  EXPECT_THAT(same_port.Log(), AllOf(HasSubstr("cannot listen on " + first.address()),
                                     HasSubstr("the address is in use")));

  ChildServer same_folder(dir, 1, {LogOnlyConfig(dir)});
  status = same_folder.StartExpectingFailure();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0);
  EXPECT_THAT(same_folder.Log(),
              AllOf(HasSubstr("the data folder " + dir.Sub("data") + " is in use by another evenhandd"),
                    HasSubstr(absl::StrCat("pid ", first.pid())),
                    HasSubstr("listening on " + first.address())));
  // The first is untouched.
  EXPECT_OK(first.client().Append(AppendRequestOf("s", SomeEvents(1))));
}

TEST(StartupTest, FilesAreOwnerOnlyAndASigningKeyOthersCanReadIsRefused) {
  TempDir dir;
  // (The config is the operator's, written first: one others can change is
  // refused.)
  const std::string config = LogOnlyConfig(dir);
  const mode_t old = ::umask(0);  // the child inherits the most permissive umask
  {
    ChildServer child(dir, 0, {config});
    child.Start();
    ::umask(old);
    if (HasFatalFailure()) return;
    ASSERT_OK(child.client().Append(AppendRequestOf("s", SomeEvents(3))));
    struct stat st;
    for (const auto& f : std::filesystem::recursive_directory_iterator(dir.Sub("data"))) {
      ASSERT_EQ(::stat(f.path().c_str(), &st), 0);
      EXPECT_EQ(st.st_mode & 0077, 0u) << f.path() << " mode " << std::oct << (st.st_mode & 0777);
    }
    ASSERT_EQ(::stat(dir.Sub("data").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u);
    ASSERT_EQ(::stat(dir.Sub("data.checkpoints.jsonl").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    child.Signal(SIGTERM);
    child.Wait();
  }
  ::umask(old);
  ::chmod(dir.Sub("data/signing-key.pem").c_str(), 0644);
  // A data folder others could write until now is said, not only mended.
  ::chmod(dir.Sub("data").c_str(), 0777);
  ChildServer child(dir, 1, {LogOnlyConfig(dir)});
  int status = child.StartExpectingFailure();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0);
  EXPECT_THAT(child.Log(), AllOf(HasSubstr("PERMISSION_DENIED"),
                                 HasSubstr("can be read by its group or others (mode 0644)"),
                                 HasSubstr("chmod 600")));
  EXPECT_THAT(child.Log(), HasSubstr("was writable by its group or others (mode 0777) until now"));
  // Another user's data folder is refused whatever its mode.
  if (::chown(dir.Sub("data").c_str(), 65534, 65534) == 0) {
    ::chmod(dir.Sub("data/signing-key.pem").c_str(), 0600);
    ChildServer other(dir, 2, {LogOnlyConfig(dir)});
    status = other.StartExpectingFailure();
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0);
    EXPECT_THAT(other.Log(), HasSubstr("belongs to user 65534, not to the user evenhandd runs as"));
  }
}

// ---- subscribers that never read --------------------------------------------

TEST(ProjectionRestartTest, ARestartRestoresTheCheckpointAndARebuildRefoldsWithEqualReports) {
  TempDir dir;
  std::string first_report;
  {
    ChildServer child(dir, 0, {"--demo"});
    child.Start();
    if (HasFatalFailure()) return;
    child.Signal(SIGTERM);
    ASSERT_TRUE(WIFEXITED(child.Wait()));
  }
  auto report = [](const ChildServer& child, uint64_t at) {
    auto fairness = clients::FairnessClient::Connect(child.address());
    v1::ReportRequest request;
    request.set_as_of_position(at);
    auto r = fairness->GetReport(request);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return std::string();
    r->clear_log_last_position();  // reads are recorded: the log grows as it is read
    return r->SerializeAsString();
  };
  uint64_t last = 0;
  {
    ChildServer child(dir, 1);
    child.Start();
    if (HasFatalFailure()) return;
    last = child.client().GetStatus()->last_position();
    first_report = report(child, last);
    // Read on the fold thread once the server serves; the report waited.
    // (At the checkpoint the stop took: the last position, or before it if
    // the first server stopped while its fold was still behind the demo's
    // load, as a slow sanitizer build can; then folded on from there.)
    EXPECT_THAT(child.Log(), HasSubstr("restored the fairness projection at position "));
    EXPECT_THAT(child.Log(), ::testing::Not(HasSubstr("folding the log from position 1")));
    child.Signal(SIGTERM);
    child.Wait();
  }
  ChildServer rebuilt(dir, 2, {"--rebuild_projections"});
  rebuilt.Start();
  if (HasFatalFailure()) return;
  EXPECT_THAT(rebuilt.Log(), AllOf(HasSubstr("discarding the fairness checkpoint (rebuild asked for)"),
                                   HasSubstr("folding the log from position 1")));
  EXPECT_THAT(rebuilt.Log(), ::testing::Not(HasSubstr("restored the fairness projection at position")));
  EXPECT_FALSE(first_report.empty());
  EXPECT_EQ(report(rebuilt, last), first_report);
}

}  // namespace
}  // namespace evenhand
