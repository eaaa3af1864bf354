// evenhandd as a child process: killed with SIGKILL under concurrent append
// load, restarted, and checked that every acknowledged event is there exactly
// once, in order; and stopped with SIGTERM, checked that it stops cleanly.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "base/uuid.h"
#include "clients/audit_client.h"
#include "clients/event_log_client.h"
#include "evenhand/v1/log.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "integrity/canonical.h"
#include "integrity/merkle.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/child_server.h"
#include "tests/testing/events.h"
#include "tests/testing/health.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace evenhand {
namespace {

using ::evenhand::testing::ChildServer;
using ::evenhand::testing::StatusIs;
using ::evenhand::testing::TempDir;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

// What the load generators learned: acknowledged events, and the batches
// whose fate is unknown because the server died while they were in flight.
struct Ledger {
  absl::Mutex mu;
  std::map<std::string, uint64_t> acked;  // event id -> acknowledged position
  std::vector<v1::AppendRequest> in_doubt;
  std::vector<absl::Status> errors;  // what the in-doubt appends were told
};

// Registers the councillor and officer the load's queries name.
void RegisterCast(clients::EventLogClient& client) {
  v1::Payload member;
  member.mutable_member_registered()->set_member_id("m-load");
  member.mutable_member_registered()->set_name("Cllr Load");
  v1::AppendRequest r;
  r.set_stream_id("member-m-load");
  *r.add_events() = clients::NewEvent(member, "crash-test", absl::Now());
  ASSERT_OK(client.Append(r));
  v1::Payload officer;
  officer.mutable_officer_registered()->set_officer_id("o-load");
  officer.mutable_officer_registered()->set_name("Officer Load");
  officer.mutable_officer_registered()->set_role(v1::HEAD_OF_SERVICE);
  r.set_stream_id("officer-o-load");
  r.clear_events();
  *r.add_events() = clients::NewEvent(officer, "crash-test", absl::Now());
  ASSERT_OK(client.Append(r));
}

// A written query's first `n` (1 to 3) events: received, acknowledged,
// answered.
v1::AppendRequest QueryCase(int n) {
  const std::string id = NewUuid();
  v1::AppendRequest r;
  r.set_stream_id(absl::StrCat("query-", id));
  v1::Payload received;
  auto* q = received.mutable_written_query_received();
  q->set_query_id(id);
  q->set_member_id("m-load");
  q->set_addressed_to_officer_id("o-load");
  q->set_subject("Load test");
  *r.add_events() = clients::NewEvent(received, "crash-test", absl::Now());
  if (n >= 2) {
    v1::Payload ack;
    ack.mutable_written_query_acknowledged()->set_query_id(id);
    ack.mutable_written_query_acknowledged()->set_officer_id("o-load");
    ack.mutable_written_query_acknowledged()->mutable_reply_due_at()->set_seconds(
        absl::ToUnixSeconds(absl::Now() + absl::Hours(72)));
    *r.add_events() = clients::NewEvent(ack, "crash-test", absl::Now());
  }
  if (n >= 3) {
    v1::Payload answer;
    answer.mutable_written_query_answered()->set_query_id(id);
    answer.mutable_written_query_answered()->set_officer_id("o-load");
    *r.add_events() = clients::NewEvent(answer, "crash-test", absl::Now());
  }
  return r;
}

// Appends from `threads` threads until the server stops answering.
void RunLoad(clients::EventLogClient& client, int threads, Ledger* ledger,
             std::atomic<bool>* stop) {
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0; !stop->load(); ++i) {
        v1::AppendRequest request = QueryCase(1 + (t + i) % 3);
        auto response = client.Append(request, absl::Seconds(10));
        absl::MutexLock lock(&ledger->mu);
        if (!response.ok()) {
          ledger->in_doubt.push_back(request);
          ledger->errors.push_back(response.status());
          return;
        }
        for (int k = 0; k < request.events_size(); ++k) {
          ledger->acked[request.events(k).event_id()] = response->positions(k);
        }
      }
    });
  }
  for (auto& w : workers) w.join();
}

// Publishers on EventLog.AppendStream, each one call writing requests and
// reading their answers until the server dies. Requests sent and not
// answered are in doubt.
void RunStreamLoad(const std::string& address, int publishers, Ledger* ledger,
                   std::atomic<bool>* stop) {
  std::vector<std::thread> workers;
  for (int t = 0; t < publishers; ++t) {
    workers.emplace_back([&, t] {
      auto stub = v1::EventLog::NewStub(
          grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
      grpc::ClientContext context;
      auto call = stub->AppendStream(&context);
      absl::Mutex mu;
      std::map<uint64_t, v1::AppendRequest> sent;  // by request index
      std::atomic<bool> reader_done{false};
      std::thread reader([&] {
        v1::AppendStreamResponse r;
        while (call->Read(&r)) {
          v1::AppendRequest request;
          {
            absl::MutexLock lock(&mu);
            request = std::move(sent[r.request_index()]);
            sent.erase(r.request_index());
          }
          absl::MutexLock lock(&ledger->mu);
          if (!r.has_appended()) {
            ledger->errors.push_back(absl::InternalError(r.error().message()));
            continue;
          }
          for (int k = 0; k < request.events_size(); ++k) {
            ledger->acked[request.events(k).event_id()] = r.appended().positions(k);
          }
        }
        reader_done = true;
      });
      for (uint64_t i = 0; !stop->load() && !reader_done.load(); ++i) {
        v1::AppendRequest request = QueryCase(1 + (t + i) % 3);
        {
          // At most 64 unanswered, as a publisher with a bounded buffer.
          absl::MutexLock lock(&mu);
          mu.AwaitWithTimeout(absl::Condition(
                                  +[](std::map<uint64_t, v1::AppendRequest>* m) {
                                    return m->size() < 64;
                                  },
                                  &sent),
                              absl::Milliseconds(50));
          if (sent.size() >= 64) {
            --i;
            continue;
          }
          sent[i] = request;
        }
        if (!call->Write(request)) break;
      }
      call->WritesDone();
      reader.join();
      (void)call->Finish();
      absl::MutexLock lock(&ledger->mu);
      for (auto& [index, request] : sent) ledger->in_doubt.push_back(std::move(request));
    });
  }
  for (auto& w : workers) w.join();
}

// Checks the log against the ledger: dense positions, every acknowledged
// event exactly once at its position, revisions dense per stream.
void VerifyLog(clients::EventLogClient& client, Ledger& ledger) {
  std::vector<v1::RecordedEvent> all;
  ASSERT_OK(client.ReadAll({}, [&](const v1::RecordedEvent& e) {
    all.push_back(e);
    return true;
  }));
  std::map<std::string, int> seen;
  std::map<std::string, uint64_t> next_revision;
  for (size_t i = 0; i < all.size(); ++i) {
    ASSERT_EQ(all[i].position(), i + 1) << "positions must be dense";
    ++seen[all[i].event().event_id()];
    uint64_t& expected_revision = next_revision[all[i].event().stream_id()];
    ASSERT_EQ(all[i].stream_revision(), expected_revision) << all[i].event().stream_id();
    ++expected_revision;
  }
  absl::MutexLock lock(&ledger.mu);
  for (const auto& [id, position] : ledger.acked) {
    ASSERT_EQ(seen[id], 1) << "acknowledged event " << id << " must be present exactly once";
    ASSERT_EQ(all[position - 1].event().event_id(), id) << "at its acknowledged position";
  }
  for (const auto& [id, count] : seen) ASSERT_EQ(count, 1) << id;
}

// The server's Merkle root and hash chain equal those recomputed here from
// every event it holds: the tree survived the crash in step with the log.
void VerifyTree(ChildServer& child) {
  integrity::CompactRange range;
  std::string chain = integrity::GenesisChainHash();
  ASSERT_OK(child.client().ReadAll({}, [&](const v1::RecordedEvent& e) {
    std::string canonical = *integrity::CanonicalRecord(e);
    range.Append(integrity::LeafHash(canonical), [](int, uint64_t, const std::string&) {});
    chain = integrity::ChainHash(chain, canonical);
    return true;
  }));
  auto head = child.audit().GetTreeHead(range.size());
  ASSERT_OK(head);
  EXPECT_EQ(head->root_hash(), range.Root()) << "root at size " << range.size();
  v1::ReplayRequest last;
  last.mutable_filter()->set_from_position(range.size());
  last.mutable_filter()->set_to_position(range.size());
  std::string server_chain;
  ASSERT_OK(child.audit().Replay(
      last, [&](const v1::AuditedEvent& e) { server_chain = e.chain_hash(); return true; },
      [](uint64_t, uint64_t) {}));
  if (range.size() > 0) {
    EXPECT_EQ(server_chain, chain);
  }
}

TEST(CrashTest, KilledServerMidAppendStreamKeepsEveryAcknowledgedEventExactlyOnce) {
  TempDir dir;
  Ledger ledger;
  std::mt19937 rng(std::random_device{}());
  for (int round = 0; round < 3; ++round) {
    ChildServer child(dir, round);
    child.Start();
    if (HasFatalFailure()) return;
    VerifyLog(child.client(), ledger);
    if (HasFatalFailure()) return;
    VerifyTree(child);
    if (HasFatalFailure()) return;
    {
      std::vector<v1::AppendRequest> in_doubt;
      {
        absl::MutexLock lock(&ledger.mu);
        in_doubt.swap(ledger.in_doubt);
      }
      for (const auto& request : in_doubt) {
        auto response = child.client().Append(request);
        ASSERT_OK(response);
        absl::MutexLock lock(&ledger.mu);
        for (int k = 0; k < request.events_size(); ++k) {
          ledger.acked[request.events(k).event_id()] = response->positions(k);
        }
      }
    }
    if (round == 0) {
      RegisterCast(child.client());
      if (HasFatalFailure()) return;
    }
    std::atomic<bool> stop{false};
    std::thread load([&] { RunStreamLoad(child.address(), 4, &ledger, &stop); });
    absl::SleepFor(absl::Milliseconds(std::uniform_int_distribution<int>(200, 700)(rng)));
    child.Signal(SIGKILL);
    child.Wait();
    stop = true;
    load.join();
    absl::MutexLock lock(&ledger.mu);
    EXPECT_TRUE(ledger.errors.empty()) << ledger.errors.front();
  }
  ChildServer last(dir, 3);
  last.Start();
  if (HasFatalFailure()) return;
  VerifyLog(last.client(), ledger);
  if (HasFatalFailure()) return;
  VerifyTree(last);
  absl::MutexLock lock(&ledger.mu);
  EXPECT_GT(ledger.acked.size(), 100u);
}

TEST(CrashTest, KilledServerKeepsEveryAcknowledgedEventExactlyOnce) {
  TempDir dir;
  Ledger ledger;
  const unsigned seed = std::random_device{}();
  std::mt19937 rng(seed);
  SCOPED_TRACE(absl::StrCat("random seed ", seed));
  constexpr int kRounds = 5;
  for (int round = 0; round < kRounds; ++round) {
    ChildServer child(dir, round);
    child.Start();
    if (HasFatalFailure()) return;
    // The previous round's kill lost nothing acknowledged, and the Merkle
    // tree and hash chain are whole.
    VerifyLog(child.client(), ledger);
    if (HasFatalFailure()) return;
    VerifyTree(child);
    if (HasFatalFailure()) return;
    // Retrying what was in flight at the kill succeeds exactly once.
    {
      std::vector<v1::AppendRequest> in_doubt;
      {
        absl::MutexLock lock(&ledger.mu);
        in_doubt.swap(ledger.in_doubt);
      }
      for (const auto& request : in_doubt) {
        auto response = child.client().Append(request);
        ASSERT_OK(response);
        absl::MutexLock lock(&ledger.mu);
        for (int k = 0; k < request.events_size(); ++k) {
          ledger.acked[request.events(k).event_id()] = response->positions(k);
        }
      }
      VerifyLog(child.client(), ledger);
      if (HasFatalFailure()) return;
    }
    if (round == 0) {
      RegisterCast(child.client());
      if (HasFatalFailure()) return;
    }
    std::atomic<bool> stop{false};
    std::thread load([&] { RunLoad(child.client(), 8, &ledger, &stop); });
    absl::SleepFor(absl::Milliseconds(std::uniform_int_distribution<int>(100, 700)(rng)));
    child.Signal(SIGKILL);
    int status = child.Wait();
    stop = true;
    load.join();
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  }
  // After the last kill too: nothing acknowledged lost, the tree whole, and
  // what was in flight retries to exactly once.
  ChildServer last(dir, kRounds);
  last.Start();
  if (HasFatalFailure()) return;
  VerifyLog(last.client(), ledger);
  if (HasFatalFailure()) return;
  VerifyTree(last);
  if (HasFatalFailure()) return;
  std::vector<v1::AppendRequest> in_doubt;
  {
    absl::MutexLock lock(&ledger.mu);
    in_doubt.swap(ledger.in_doubt);
  }
  for (const auto& request : in_doubt) {
    auto response = last.client().Append(request);
    ASSERT_OK(response);
    absl::MutexLock lock(&ledger.mu);
    for (int k = 0; k < request.events_size(); ++k) {
      ledger.acked[request.events(k).event_id()] = response->positions(k);
    }
  }
  VerifyLog(last.client(), ledger);
  absl::MutexLock lock(&ledger.mu);
  EXPECT_GT(ledger.acked.size(), 100u) << "the load should have made progress";
}

TEST(CrashTest, SigtermFinishesInFlightAppendsAndStopsCleanly) {
  TempDir dir;
  Ledger ledger;
  std::string stop_log;
  absl::Status subscription_end;
  std::vector<testing::Health> health_seen;
  {
    ChildServer child(dir, 0);
    child.Start();
    if (HasFatalFailure()) return;
    RegisterCast(child.client());
    if (HasFatalFailure()) return;
    auto channel = grpc::CreateChannel(child.address(), grpc::InsecureChannelCredentials());
    testing::HealthWatch health(channel);
    ASSERT_TRUE(health.WaitFor(testing::Health::kServing, absl::Seconds(10)));
    // A subscriber following the log live.
    std::thread subscriber([&] {
      v1::SubscribeRequest request;
      request.set_from_end(true);
      subscription_end = child.client().Subscribe(
          request, [](const v1::SubscribeResponse&) { return true; });
    });
    std::atomic<bool> stop{false};
    std::thread load([&] { RunLoad(child.client(), 8, &ledger, &stop); });
    absl::SleepFor(absl::Milliseconds(300));
    const pid_t pid = child.pid();
    child.Signal(SIGTERM);
    int status = child.Wait();
    stop = true;
    load.join();
    subscriber.join();
    ASSERT_TRUE(WIFEXITED(status)) << child.Log();
    EXPECT_EQ(WEXITSTATUS(status), 0) << child.Log();
    stop_log = child.Log();
    EXPECT_THAT(stop_log, HasSubstr("received SIGTERM"));
    // It ended without its destructors (a long log's memory goes back to
    // the kernel at once), having closed what it wrote: the folder's lock
    // file says it stopped, and the projection's checkpoint was flushed
    // (no WAL left to replay at the next start).
    std::ifstream lock_file(dir.Sub("data") + "/evenhandd.pid");
    EXPECT_THAT(std::string(std::istreambuf_iterator<char>(lock_file), {}),
                AllOf(HasSubstr(absl::StrCat("pid ", pid, ", stopped and exiting, since ")),
                      Not(HasSubstr("listening"))));
    for (const auto& f : std::filesystem::directory_iterator(dir.Sub("data") +
                                                              "/fairness-projection")) {
      if (f.path().extension() == ".log") EXPECT_EQ(f.file_size(), 0u) << f.path();
    }
    EXPECT_TRUE(health.WaitFor(testing::Health::kNotServing, absl::Seconds(5)))
        << "health never turned NOT_SERVING";
  }
  // The subscription was ended, and told why.
  EXPECT_THAT(subscription_end, StatusIs(absl::StatusCode::kUnavailable, HasSubstr("shutting down")));
  // Every append the server took was answered: the ones refused during the
  // stop were told so (UNAVAILABLE; or CANCELLED by gRPC itself for a call
  // that arrived as it stopped taking calls, before the log saw it), and
  // none of them is in the log.
  {
    absl::MutexLock lock(&ledger.mu);
    for (const absl::Status& s : ledger.errors) {
      EXPECT_TRUE(absl::IsUnavailable(s) || absl::IsCancelled(s)) << s;
    }
  }
  ChildServer again(dir, 1);
  again.Start();
  if (HasFatalFailure()) return;
  // Before any read: reads are recorded, so the log grows as it is read.
  auto status = again.client().GetStatus();
  ASSERT_OK(status);
  VerifyLog(again.client(), ledger);
  {
    absl::MutexLock lock(&ledger.mu);
    for (const auto& request : ledger.in_doubt) {
      v1::ReadStreamRequest read;
      read.set_stream_id(request.stream_id());
      int found = 0;
      ASSERT_OK(again.client().ReadStream(read, [&](const v1::RecordedEvent&) { return ++found > 0; }));
      EXPECT_EQ(found, 0) << "an append refused during the stop was written: "
                          << request.stream_id();
    }
  }
  // The stop logged the last position, and the restart found the log ending
  // exactly there: nothing was lost or half-written in between.
  EXPECT_THAT(stop_log, HasSubstr(absl::StrCat("stopped data_dir=", dir.Sub("data"),
                                               " last_position=", status->last_position())));
}

}  // namespace
}  // namespace evenhand
