// EventStore against a real RocksDB in a temporary folder.
#include "storage/event_store.h"

#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "base/error_details.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"
#include "tests/storage/store_fixture.h"
#include "tests/testing/events.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace evenhand::storage {
namespace {

using ::evenhand::testing::AnEvent;
using ::evenhand::testing::SomeEvents;
using ::evenhand::testing::StatusIs;
using ::evenhand::testing::TempDir;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class EventStoreTest : public StoreTest {
 protected:
  std::vector<EventPtr> ReadStream(const std::string& stream) {
    std::vector<EventPtr> out;
    EXPECT_OK(store_->ReadStream(stream, std::nullopt, Direction::kForwards, 0,
                                 [&](const EventPtr& e) {
                                   out.push_back(e);
                                   return true;
                                 }));
    return out;
  }

  std::vector<uint64_t> AllPositions(Direction direction = Direction::kForwards,
                                     std::optional<uint64_t> from = std::nullopt,
                                     const ReadFilter& filter = {}) {
    std::vector<uint64_t> out;
    EXPECT_OK(store_->ReadAll(from, direction, 0, filter, [&](const EventPtr& e) {
      out.push_back(e->position());
      return true;
    }));
    return out;
  }
};

TEST_F(EventStoreTest, AppendThenReadStreamRoundTrips) {
  std::vector<v1::Event> events = SomeEvents(3);
  ASSERT_OK_AND_ASSIGN(AppendResult r, store_->Append("query-1", ExpectedRevision::Any(), events));
  EXPECT_THAT(r.positions, ElementsAre(1, 2, 3));
  EXPECT_EQ(r.stream_revision, 2u);
  EXPECT_FALSE(r.idempotent_replay);

  std::vector<EventPtr> read = ReadStream("query-1");
  ASSERT_EQ(read.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(read[i]->position(), static_cast<uint64_t>(i + 1));
    EXPECT_EQ(read[i]->stream_revision(), static_cast<uint64_t>(i));
    EXPECT_EQ(read[i]->event().event_id(), events[i].event_id());
    EXPECT_EQ(read[i]->event().stream_id(), "query-1");
    EXPECT_TRUE(read[i]->event().has_recorded_at());
    EXPECT_EQ(read[i]->event().payload().SerializeAsString(),
              events[i].payload().SerializeAsString());
  }
}

TEST_F(EventStoreTest, PositionsAreDenseAcrossStreamsAndRevisionsPerStream) {
  ASSERT_OK(store_->Append("a", ExpectedRevision::Any(), SomeEvents(2)));
  ASSERT_OK(store_->Append("b", ExpectedRevision::Any(), SomeEvents(1)));
  ASSERT_OK_AND_ASSIGN(AppendResult r, store_->Append("a", ExpectedRevision::Any(), SomeEvents(1)));
  EXPECT_THAT(r.positions, ElementsAre(4));
  EXPECT_EQ(r.stream_revision, 2u);
  EXPECT_THAT(AllPositions(), ElementsAre(1, 2, 3, 4));
  EXPECT_EQ(store_->LastPosition(), 4u);
}

TEST_F(EventStoreTest, NoStreamSucceedsOnlyForANewStream) {
  ASSERT_OK(store_->Append("s", ExpectedRevision::NoStream(), SomeEvents(1)));
  EXPECT_THAT(store_->Append("s", ExpectedRevision::NoStream(), SomeEvents(1)),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("is at revision 0; expected no stream")));
}

TEST_F(EventStoreTest, StreamExistsFailsForANewStream) {
  EXPECT_THAT(store_->Append("s", ExpectedRevision::StreamExists(), SomeEvents(1)),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("does not exist")));
  ASSERT_OK(store_->Append("s", ExpectedRevision::Any(), SomeEvents(1)));
  EXPECT_OK(store_->Append("s", ExpectedRevision::StreamExists(), SomeEvents(1)));
}

// "Did you mean": the streams sorting beside a name, each once however
// many events it holds, a stream whose name begins another's included.
TEST_F(EventStoreTest, StreamsAroundANameAreItsNeighboursEachOnce) {
  for (const char* stream : {"a", "a-b", "query-Q-1", "query-Q-10", "query-Q-1044", "query-Q-10440",
                             "query-Q-105", "z"}) {
    ASSERT_OK(store_->Append(stream, ExpectedRevision::Any(), SomeEvents(3)));
  }
  using V = std::vector<std::string>;
  auto around = [&](const std::string& name, size_t each_side) {
    absl::StatusOr<V> got = store_->StreamsAround(name, each_side);
    EXPECT_OK(got.status());
    return got.value_or(V{"(failed)"});
  };
  EXPECT_EQ(around("query-Q-10444", 2), (V{"query-Q-1044", "query-Q-10440", "query-Q-105", "z"}));
  EXPECT_EQ(around("query-Q-1044", 1), (V{"query-Q-10", "query-Q-10440"}));  // itself left out
  EXPECT_EQ(around("a-", 8), (V{"a", "a-b", "query-Q-1", "query-Q-10", "query-Q-1044",
                                "query-Q-10440", "query-Q-105", "z"}));
  EXPECT_EQ(around("0", 2), (V{"a", "a-b"}));
  EXPECT_EQ(around("zz", 2), (V{"query-Q-105", "z"}));
}

TEST_F(EventStoreTest, ExactRevisionMismatchReportsTheActualRevision) {
  ASSERT_OK(store_->Append("s", ExpectedRevision::Any(), SomeEvents(3)));
  EXPECT_THAT(store_->Append("s", ExpectedRevision::Exact(1), SomeEvents(1)),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("is at revision 2; expected revision 1")));
  EXPECT_THAT(store_->Append("new", ExpectedRevision::Exact(0), SomeEvents(1)),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("does not exist")));
  ASSERT_OK_AND_ASSIGN(AppendResult r, store_->Append("s", ExpectedRevision::Exact(2), SomeEvents(1)));
  EXPECT_EQ(r.stream_revision, 3u);
  EXPECT_EQ(store_->LastPosition(), 4u);
}

TEST_F(EventStoreTest, RetryOfRecordedBatchReturnsOriginalPositionsAndWritesNothing) {
  std::vector<v1::Event> events = SomeEvents(2);
  ASSERT_OK(store_->Append("other", ExpectedRevision::Any(), SomeEvents(1)));
  ASSERT_OK_AND_ASSIGN(AppendResult first, store_->Append("s", ExpectedRevision::NoStream(), events));
  // The retry carries the same expected revision, which no longer holds: the
  // retry must still succeed, as the original did.
  ASSERT_OK_AND_ASSIGN(AppendResult retry, store_->Append("s", ExpectedRevision::NoStream(), events));
  EXPECT_TRUE(retry.idempotent_replay);
  EXPECT_EQ(retry.positions, first.positions);
  EXPECT_EQ(retry.stream_revision, 1u);
  EXPECT_EQ(store_->LastPosition(), 3u);
  EXPECT_EQ(ReadStream("s").size(), 2u);
}

TEST_F(EventStoreTest, RetryIsRecognisedAfterReopen) {
  std::vector<v1::Event> events = SomeEvents(2);
  ASSERT_OK_AND_ASSIGN(AppendResult first, store_->Append("s", ExpectedRevision::Any(), events));
  Reopen();
  ASSERT_OK_AND_ASSIGN(AppendResult retry, store_->Append("s", ExpectedRevision::Any(), events));
  EXPECT_TRUE(retry.idempotent_replay);
  EXPECT_EQ(retry.positions, first.positions);
  EXPECT_EQ(store_->LastPosition(), 2u);
}

TEST_F(EventStoreTest, BatchMixingRecordedAndNewIdsIsRejectedAndWritesNothing) {
  std::vector<v1::Event> events = SomeEvents(2);
  ASSERT_OK(store_->Append("s", ExpectedRevision::Any(), {events[0]}));
  EXPECT_THAT(store_->Append("s", ExpectedRevision::Any(), events),
              StatusIs(absl::StatusCode::kAlreadyExists,
                       HasSubstr("1 of 2 event ids were recorded before")));
  EXPECT_EQ(store_->LastPosition(), 1u);
}

TEST_F(EventStoreTest, RecordedIdInAnotherStreamIsRejected) {
  std::vector<v1::Event> events = SomeEvents(1);
  ASSERT_OK(store_->Append("s", ExpectedRevision::Any(), events));
  EXPECT_THAT(store_->Append("t", ExpectedRevision::Any(), events),
              StatusIs(absl::StatusCode::kAlreadyExists,
                       HasSubstr("was already recorded in stream \"s\"")));
}

TEST_F(EventStoreTest, DuplicateIdWithinBatchIsInvalid) {
  v1::Event e = AnEvent();
  EXPECT_THAT(store_->Append("s", ExpectedRevision::Any(), {e, e}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("events[1].event_id: " + e.event_id() + " appears twice")));
  EXPECT_EQ(store_->LastPosition(), 0u);
}

TEST_F(EventStoreTest, MalformedRequestsNameTheField) {
  EXPECT_THAT(store_->Append("s", ExpectedRevision::Any(), {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("events: at least one")));
  EXPECT_THAT(store_->Append("", ExpectedRevision::Any(), SomeEvents(1)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("stream_id: required")));
  EXPECT_THAT(store_->Append("bad stream", ExpectedRevision::Any(), SomeEvents(1)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("stream_id: character 4 is not allowed")));
  EXPECT_THAT(store_->Append(std::string(201, 'x'), ExpectedRevision::Any(), SomeEvents(1)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("at most 200")));
  v1::Event e = AnEvent();
  e.set_event_id("not-a-uuid");
  EXPECT_THAT(store_->Append("s", ExpectedRevision::Any(), {e}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("events[0].event_id: must be a UUID")));
  e.clear_event_id();
  EXPECT_THAT(store_->Append("s", ExpectedRevision::Any(), {e}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("events[0].event_id: required")));
  e = AnEvent();
  e.set_stream_id("t");
  EXPECT_THAT(store_->Append("s", ExpectedRevision::Any(), {e}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("events[0].stream_id: \"t\" differs")));
  EXPECT_EQ(store_->LastPosition(), 0u);
}

TEST_F(EventStoreTest, ReopenKeepsEventsAndContinuesPositions) {
  ASSERT_OK(store_->Append("s", ExpectedRevision::Any(), SomeEvents(3)));
  const std::string log_id = store_->log_id();
  Reopen();
  EXPECT_EQ(store_->LastPosition(), 3u);
  EXPECT_EQ(store_->log_id(), log_id);
  ASSERT_OK_AND_ASSIGN(AppendResult r, store_->Append("s", ExpectedRevision::Exact(2), SomeEvents(1)));
  EXPECT_THAT(r.positions, ElementsAre(4));
  EXPECT_EQ(r.stream_revision, 3u);
}

TEST_F(EventStoreTest, FailedWriteLeavesNothingAndPositionsAreReused) {
  std::atomic<bool> fail{true};
  StoreOptions options;
  options.TEST_before_write = [&]() -> absl::Status {
    if (fail) return absl::InternalError("injected disk failure");
    return absl::OkStatus();
  };
  Reopen(options);
  EXPECT_THAT(store_->Append("s", ExpectedRevision::Any(), SomeEvents(2)),
              StatusIs(absl::StatusCode::kInternal,
                       HasSubstr("Nothing from this append was written; it is safe to retry")));
  EXPECT_EQ(store_->LastPosition(), 0u);
  EXPECT_TRUE(ReadStream("s").empty());
  fail = false;
  // The stream is still new and the positions were given back.
  ASSERT_OK_AND_ASSIGN(AppendResult r, store_->Append("s", ExpectedRevision::NoStream(), SomeEvents(1)));
  EXPECT_THAT(r.positions, ElementsAre(1));
}

TEST_F(EventStoreTest, FailedRocksDbWriteStopsAppendsAndARestartRecoversExactlyOnce) {
  // RocksDB wrote the batch but reported failure (as after a failed fsync):
  // the batch may or may not survive, so the store must not reuse its
  // positions. It refuses appends until reopened; a retry is then exact.
  std::atomic<bool> fail{true};
  StoreOptions options;
  options.TEST_after_write = [&]() -> absl::Status {
    if (fail) return absl::InternalError("injected fsync failure");
    return absl::OkStatus();
  };
  Reopen(options);
  std::vector<v1::Event> events = SomeEvents(2);
  EXPECT_THAT(store_->Append("s", ExpectedRevision::Any(), events),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("outcome of this append is unknown")));
  EXPECT_THAT(store_->Append("t", ExpectedRevision::Any(), SomeEvents(1)),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("stopped accepting appends after a storage failure")));
  fail = false;
  Reopen();
  ASSERT_OK_AND_ASSIGN(AppendResult retry, store_->Append("s", ExpectedRevision::Any(), events));
  EXPECT_TRUE(retry.idempotent_replay);
  EXPECT_THAT(retry.positions, ElementsAre(1, 2));
  ASSERT_OK_AND_ASSIGN(AppendResult next, store_->Append("t", ExpectedRevision::Any(), SomeEvents(1)));
  EXPECT_THAT(next.positions, ElementsAre(3));
}

TEST_F(EventStoreTest, VerdictThatRestsOnAFailedAppendInTheSameGroupIsAborted) {
  // The first group blocks in the hook while two appends queue behind it; they
  // are then committed as one group whose write fails. The second append's
  // FailedPrecondition rested on the first's events, which never existed.
  absl::Notification first_in_hook, release;
  std::atomic<int> calls{0};
  StoreOptions options;
  options.TEST_before_write = [&]() -> absl::Status {
    if (calls++ == 0) {
      first_in_hook.Notify();
      release.WaitForNotification();
      return absl::OkStatus();
    }
    return absl::InternalError("injected failure");
  };
  Reopen(options);
  std::thread blocker([&] { ASSERT_OK(store_->Append("x", ExpectedRevision::Any(), SomeEvents(1))); });
  first_in_hook.WaitForNotification();
  absl::Notification a_done, b_done;
  absl::Status a_status, b_status;
  store_->AppendAsync("s", ExpectedRevision::NoStream(), SomeEvents(1),
                      [&](absl::StatusOr<AppendResult> r) {
                        a_status = r.status();
                        a_done.Notify();
                      });
  store_->AppendAsync("s", ExpectedRevision::NoStream(), SomeEvents(1),
                      [&](absl::StatusOr<AppendResult> r) {
                        b_status = r.status();
                        b_done.Notify();
                      });
  release.Notify();
  blocker.join();
  a_done.WaitForNotification();
  b_done.WaitForNotification();
  EXPECT_THAT(a_status, StatusIs(absl::StatusCode::kInternal, HasSubstr("safe to retry")));
  EXPECT_THAT(b_status, StatusIs(absl::StatusCode::kAborted, HasSubstr("retry")));
  EXPECT_EQ(store_->LastPosition(), 1u);
}

TEST_F(EventStoreTest, RecordedAtNeverDecreasesWhenTheClockGoesBack) {
  std::atomic<int64_t> seconds{2000000000};
  StoreOptions options;
  options.clock = [&] { return absl::FromUnixSeconds(seconds.load()); };
  options.clock_is_the_systems = false;
  Reopen(options);
  ASSERT_OK(store_->Append("s", ExpectedRevision::Any(), SomeEvents(1)));
  seconds = 1000000000;  // an NTP step backwards
  ASSERT_OK(store_->Append("s", ExpectedRevision::Any(), SomeEvents(1)));
  std::vector<EventPtr> read = ReadStream("s");
  ASSERT_EQ(read.size(), 2u);
  EXPECT_EQ(read[1]->event().recorded_at().seconds(), 2000000000);
  // Said until the clock passes that time (outside probe: a clock put back
  // after a jump pinned every later event days ahead, and nothing said so).
  EXPECT_THAT(store_->warnings(),
              ElementsAre(AllOf(HasSubstr("is behind the time the last append was recorded at"),
                                HasSubstr("until the clock passes it"))));
  Reopen(options);  // and after a restart, before any append (outside re-probe)
  EXPECT_THAT(store_->warnings(), ElementsAre(HasSubstr("is behind the time the last append")));
  seconds = 2000000001;
  ASSERT_OK(store_->Append("s", ExpectedRevision::Any(), SomeEvents(1)));
  EXPECT_THAT(store_->warnings(), IsEmpty());
}

// A clock past 2200 (the last time the server takes) refuses appends, as a
// time recorded then would stand for every later event; a step forward of
// the system's clock that the steady clock did not make is said until the
// next start.
TEST_F(EventStoreTest, AClockPast2200RefusesAppendsAndAStepForwardIsSaid) {
  std::atomic<int64_t> seconds{2000000000};
  StoreOptions options;
  options.clock = [&] { return absl::FromUnixSeconds(seconds.load()); };
  options.clock_is_the_systems = true;  // as if it were: its steps are seen
  Reopen(options);
  ASSERT_OK(store_->Append("s", ExpectedRevision::Any(), SomeEvents(1)));
  EXPECT_THAT(store_->warnings(), IsEmpty());
  seconds = 7258118400;  // 2200-01-01
  EXPECT_THAT(store_->Append("s", ExpectedRevision::Any(), SomeEvents(1)).status(),
              StatusIs(absl::StatusCode::kUnavailable,
                       AllOf(HasSubstr("after 2200"), HasSubstr("nothing was written"))));
  EXPECT_EQ(store_->LastPosition(), 1u);
  EXPECT_THAT(store_->warnings(), ElementsAre(HasSubstr("after 2200")));
  EXPECT_FALSE(store_->write_state().accepting);
  EXPECT_THAT(store_->write_state().refusal,
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("after 2200")));
  seconds = 2000000000 + 3 * 86400;  // three days on, in no time
  ASSERT_OK(store_->Append("s", ExpectedRevision::Any(), SomeEvents(1)));
  EXPECT_THAT(store_->warnings(), ElementsAre(AllOf(HasSubstr("jumped forward by 72h"),
                                                    HasSubstr("said until the next start"))));
  EXPECT_EQ(ReadStream("s").back()->event().recorded_at().seconds(), 2000000000 + 3 * 86400);
}

TEST_F(EventStoreTest, ReadsGoBackwardsAndFilter) {
  ASSERT_OK(store_->Append("briefing-1", ExpectedRevision::Any(), SomeEvents(2)));
  v1::Event other = AnEvent();
  other.set_type("BriefingRequested");
  ASSERT_OK(store_->Append("query-1", ExpectedRevision::Any(), {other}));
  EXPECT_THAT(AllPositions(Direction::kBackwards), ElementsAre(3, 2, 1));
  EXPECT_THAT(AllPositions(Direction::kBackwards, 2), ElementsAre(2, 1));
  EXPECT_THAT(AllPositions(Direction::kForwards, 2), ElementsAre(2, 3));
  ReadFilter by_prefix{{"briefing-"}, {}};
  EXPECT_THAT(AllPositions(Direction::kForwards, std::nullopt, by_prefix), ElementsAre(1, 2));
  ReadFilter by_type{{}, {"BriefingRequested"}};
  EXPECT_THAT(AllPositions(Direction::kForwards, std::nullopt, by_type), ElementsAre(3));

  std::vector<uint64_t> revisions;
  ASSERT_OK(store_->ReadStream("briefing-1", std::nullopt, Direction::kBackwards, 0,
                               [&](const EventPtr& e) {
                                 revisions.push_back(e->stream_revision());
                                 return true;
                               }));
  EXPECT_THAT(revisions, ElementsAre(1, 0));
  EXPECT_TRUE(ReadStream("no-such-stream").empty());
}

TEST_F(EventStoreTest, StreamWhoseIdPrefixesAnotherReadsOnlyItsOwnEvents) {
  ASSERT_OK(store_->Append("ab", ExpectedRevision::Any(), SomeEvents(1)));
  ASSERT_OK(store_->Append("a", ExpectedRevision::Any(), SomeEvents(1)));
  ASSERT_OK(store_->Append("a-", ExpectedRevision::Any(), SomeEvents(1)));
  ASSERT_EQ(ReadStream("a").size(), 1u);
  EXPECT_EQ(ReadStream("a")[0]->position(), 2u);
  ASSERT_OK_AND_ASSIGN(AppendResult r, store_->Append("a", ExpectedRevision::Exact(0), SomeEvents(1)));
  EXPECT_EQ(r.stream_revision, 1u);
}

TEST_F(EventStoreTest, ConcurrentAppendersGetDensePositionsWithNoLoss) {
  constexpr int kThreads = 16;
  constexpr int kAppendsPerThread = 50;
  absl::Mutex mu;
  std::map<std::string, uint64_t> acked;  // event id -> position
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kAppendsPerThread; ++i) {
        // Half the threads share one stream with ExpectedRevision::Any.
        std::string stream = t % 2 == 0 ? "shared" : absl::StrCat("own-", t);
        std::vector<v1::Event> events = SomeEvents(1 + i % 3);
        auto r = store_->Append(stream, ExpectedRevision::Any(), events);
        ASSERT_TRUE(r.ok()) << r.status();
        absl::MutexLock lock(&mu);
        for (size_t k = 0; k < events.size(); ++k) acked[events[k].event_id()] = r->positions[k];
      }
    });
  }
  for (auto& th : threads) th.join();
  std::vector<uint64_t> positions = AllPositions();
  ASSERT_EQ(positions.size(), acked.size());
  for (size_t i = 0; i < positions.size(); ++i) EXPECT_EQ(positions[i], i + 1);
  std::set<uint64_t> acked_positions;
  for (auto& [id, pos] : acked) acked_positions.insert(pos);
  EXPECT_EQ(acked_positions.size(), acked.size());
  // Revisions of the shared stream are dense too.
  std::vector<EventPtr> shared = ReadStream("shared");
  for (size_t i = 0; i < shared.size(); ++i) EXPECT_EQ(shared[i]->stream_revision(), i);
}

TEST_F(EventStoreTest, ConcurrentExactRevisionAppendsLetExactlyOneWin) {
  ASSERT_OK(store_->Append("s", ExpectedRevision::Any(), SomeEvents(1)));
  std::atomic<int> wins{0}, conflicts{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      auto r = store_->Append("s", ExpectedRevision::Exact(0), SomeEvents(1));
      if (r.ok()) {
        ++wins;
      } else if (r.status().code() == absl::StatusCode::kFailedPrecondition) {
        ++conflicts;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wins, 1);
  EXPECT_EQ(conflicts, 7);
}

// Adds one write per event to its own column family, or fails.
class RecordingHook : public CommitHook {
 public:
  explicit RecordingHook(EventStore* store) : store_(store) {}
  absl::Status Prepare(const std::vector<EventPtr>& events, rocksdb::WriteBatch* batch) override {
    if (fail) return absl::InternalError("hook refused");
    for (const EventPtr& e : events) {
      batch->Put(store_->ColumnFamily("extra"), absl::StrCat(e->position()), "x");
    }
    ++prepared;
    return absl::OkStatus();
  }
  void Committed() override { ++committed; }
  void Aborted() override { ++aborted; }
  void Rewind() override { ++rewound; }

  EventStore* store_;
  bool fail = false;
  int prepared = 0, committed = 0, aborted = 0, rewound = 0;
};

TEST_F(EventStoreTest, CommitHookWritesAreAtomicWithTheEvents) {
  StoreOptions options;
  options.extra_column_families = {"extra"};
  Reopen(options);
  RecordingHook hook(store_.get());
  store_->SetCommitHook(&hook);
  ASSERT_OK(store_->Append("s", ExpectedRevision::Any(), SomeEvents(2)));
  std::string value;
  EXPECT_TRUE(store_->db()->Get({}, store_->ColumnFamily("extra"), "2", &value).ok());
  EXPECT_EQ(hook.committed, 1);

  // A failed Prepare writes nothing and is not followed by Committed or
  // Aborted; the positions are given out again.
  hook.fail = true;
  EXPECT_THAT(store_->Append("s", ExpectedRevision::Any(), SomeEvents(1)),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("hook refused")));
  EXPECT_EQ(hook.aborted, 0);
  EXPECT_EQ(hook.committed, 1);
  EXPECT_EQ(store_->LastPosition(), 2u);
  EXPECT_FALSE(store_->db()->Get({}, store_->ColumnFamily("extra"), "3", &value).ok());
  hook.fail = false;
  ASSERT_OK_AND_ASSIGN(AppendResult r, store_->Append("s", ExpectedRevision::Any(), SomeEvents(1)));
  EXPECT_THAT(r.positions, ElementsAre(3));
  EXPECT_EQ(hook.committed, 2);
  store_->SetCommitHook(nullptr);
}

// While one group is being written, the sequencer decides the next: a retry
// of the group's ids, a follow-up on its stream and a conflicting append must
// all see the group although RocksDB has not acknowledged it.
TEST_F(EventStoreTest, AppendsDecidedWhileAGroupIsBeingWrittenSeeThatGroup) {
  absl::Notification first_writing, release;
  std::atomic<int> writes{0};
  StoreOptions options;
  options.TEST_after_write = [&]() -> absl::Status {
    if (writes++ == 0) {
      first_writing.Notify();
      release.WaitForNotification();
    }
    return absl::OkStatus();
  };
  Reopen(options);
  const std::vector<v1::Event> original = SomeEvents(3);
  std::thread writer([&] {
    ASSERT_OK_AND_ASSIGN(AppendResult r, store_->Append("s", ExpectedRevision::NoStream(), original));
    EXPECT_THAT(r.positions, ElementsAre(1, 2, 3));
  });
  first_writing.WaitForNotification();
  EXPECT_EQ(store_->LastPosition(), 0u);  // not acknowledged yet

  absl::Notification retry_done, next_done, conflict_done;
  absl::StatusOr<AppendResult> retry, next, conflict;
  store_->AppendAsync("s", ExpectedRevision::NoStream(), original,
                      [&](absl::StatusOr<AppendResult> r) {
                        retry = std::move(r);
                        retry_done.Notify();
                      });
  store_->AppendAsync("s", ExpectedRevision::Exact(2), SomeEvents(1),
                      [&](absl::StatusOr<AppendResult> r) {
                        next = std::move(r);
                        next_done.Notify();
                      });
  store_->AppendAsync("s", ExpectedRevision::NoStream(), SomeEvents(1),
                      [&](absl::StatusOr<AppendResult> r) {
                        conflict = std::move(r);
                        conflict_done.Notify();
                      });
  release.Notify();
  writer.join();
  retry_done.WaitForNotification();
  next_done.WaitForNotification();
  conflict_done.WaitForNotification();
  ASSERT_OK(retry.status());
  EXPECT_TRUE(retry->idempotent_replay);
  EXPECT_THAT(retry->positions, ElementsAre(1, 2, 3));
  EXPECT_EQ(retry->stream_revision, 2u);
  ASSERT_OK(next.status());
  EXPECT_THAT(next->positions, ElementsAre(4));
  EXPECT_EQ(next->stream_revision, 3u);
  EXPECT_THAT(conflict.status(), StatusIs(absl::StatusCode::kFailedPrecondition,
                                          HasSubstr("is at revision")));
  EXPECT_EQ(store_->LastPosition(), 4u);
  std::vector<uint64_t> revisions;
  for (const EventPtr& e : ReadStream("s")) revisions.push_back(e->stream_revision());
  EXPECT_THAT(revisions, ElementsAre(0, 1, 2, 3));
}

TEST_F(EventStoreTest, AFailedWriteAbortsTheHooksGroupAndRefusesTheGroupsBehindIt) {
  absl::Notification first_writing, release;
  std::atomic<int> writes{0};
  StoreOptions options;
  options.extra_column_families = {"extra"};
  options.TEST_after_write = [&]() -> absl::Status {
    if (writes++ == 0) {
      first_writing.Notify();
      release.WaitForNotification();
      return absl::InternalError("injected fsync failure");
    }
    return absl::OkStatus();
  };
  Reopen(options);
  RecordingHook hook(store_.get());
  store_->SetCommitHook(&hook);
  absl::Status first;
  std::thread writer([&] { first = store_->Append("a", ExpectedRevision::Any(), SomeEvents(1)).status(); });
  first_writing.WaitForNotification();
  // Decided behind the failing group: its batch must never be written.
  absl::Notification behind_done;
  absl::Status behind;
  store_->AppendAsync("b", ExpectedRevision::Any(), SomeEvents(1),
                      [&](absl::StatusOr<AppendResult> r) {
                        behind = r.status();
                        behind_done.Notify();
                      });
  absl::SleepFor(absl::Milliseconds(50));  // let the sequencer decide it (not asserted)
  release.Notify();
  writer.join();
  behind_done.WaitForNotification();
  EXPECT_THAT(first, StatusIs(absl::StatusCode::kInternal, HasSubstr("outcome of this append is unknown")));
  EXPECT_THAT(behind, StatusIs(absl::StatusCode::kUnavailable, HasSubstr("storage failure")));
  EXPECT_EQ(hook.committed, 0);
  EXPECT_EQ(hook.aborted, hook.prepared);
  EXPECT_EQ(writes.load(), 1);
  store_->SetCommitHook(nullptr);
}

// A stream holds at most max_stream_events: an append past it is refused
// whole, nothing written, and the streams around it go on; the store's own
// records (access records) are not limited; a retry of what was recorded
// is still answered as a replay.
TEST_F(EventStoreTest, AStreamPastItsLimitIsRefusedWholeAndRecordsAreNot) {
  StoreOptions options;
  options.max_stream_events = 3;
  Reopen(options);
  std::vector<v1::Event> first = SomeEvents(2);
  ASSERT_OK(store_->Append("s", ExpectedRevision::Any(), first));
  absl::StatusOr<AppendResult> over = store_->Append("s", ExpectedRevision::Any(), SomeEvents(2));
  EXPECT_THAT(over, StatusIs(absl::StatusCode::kFailedPrecondition,
                             AllOf(HasSubstr("stream \"s\" holds 2 events and may hold at most 3"),
                                   HasSubstr("nothing was written"))));
  EXPECT_EQ(ReasonOf(over.status()), "STREAM_FULL");
  EXPECT_EQ(store_->LastPosition(), 2u);
  ASSERT_OK(store_->Append("s", ExpectedRevision::Exact(1), SomeEvents(1)));
  EXPECT_THAT(store_->Append("s", ExpectedRevision::Any(), SomeEvents(1)),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("holds 3 events")));
  // The batch recorded first is answered as what it was.
  ASSERT_OK_AND_ASSIGN(AppendResult replay, store_->Append("s", ExpectedRevision::Any(), first));
  EXPECT_TRUE(replay.idempotent_replay);
  ASSERT_OK(store_->Append("t", ExpectedRevision::Any(), SomeEvents(3)));
  for (int i = 0; i < 3; ++i) ASSERT_OK(store_->AppendRecord("access-x", SomeEvents(2)));
  EXPECT_EQ(ReadStream("access-x").size(), 6u);
  EXPECT_EQ(ReadStream("s").size(), 3u);
}

TEST_F(EventStoreTest, AppendsBelowTheFreeSpaceFloorAreRefusedAndResumeWhenSpaceIsFreed) {
  std::atomic<uint64_t> free_bytes{10ull << 30};
  StoreOptions options;
  options.min_free_bytes = 100ull << 20;
  options.reserve_bytes = 0;
  options.free_bytes = [&]() -> absl::StatusOr<uint64_t> { return free_bytes.load(); };
  Reopen(options);
  ASSERT_OK(store_->Append("s", ExpectedRevision::Any(), SomeEvents(2)));
  free_bytes = 40ull << 20;
  EXPECT_THAT(store_->Append("s", ExpectedRevision::Any(), SomeEvents(1)),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       AllOf(HasSubstr("has 40.0 MiB free, below the floor of 100.0 MiB"),
                             HasSubstr("minFreeDiskMib"), HasSubstr("resume by themselves"),
                             HasSubstr("Nothing from this append was written"))));
  EXPECT_EQ(store_->LastPosition(), 2u);
  EXPECT_FALSE(store_->write_state().accepting);
  EXPECT_EQ(store_->write_state().refusal.code(), absl::StatusCode::kResourceExhausted);
  // Below half the floor, reads on the record are refused too: said.
  EXPECT_THAT(store_->write_state().refusal.message(), HasSubstr("recorded ones (the server's "
                                                                 "default) are refused too"));
  free_bytes = 70ull << 20;
  EXPECT_THAT(store_->write_state().refusal.message(), HasSubstr("fit above half the floor"));
  // Reads go on.
  EXPECT_EQ(ReadStream("s").size(), 2u);
  // Space is freed: appends resume, with no gap in the positions.
  free_bytes = 10ull << 30;
  EXPECT_TRUE(store_->write_state().accepting);
  ASSERT_OK_AND_ASSIGN(AppendResult r, store_->Append("s", ExpectedRevision::Exact(1), SomeEvents(1)));
  EXPECT_THAT(r.positions, ElementsAre(3));
}

TEST_F(EventStoreTest, AStoreOpenedOnAFullDiskServesReadsAndRefusesAppends) {
  ASSERT_OK(store_->Append("s", ExpectedRevision::Any(), SomeEvents(3)));
  StoreOptions options;
  options.free_bytes = []() -> absl::StatusOr<uint64_t> { return uint64_t{1} << 20; };
  Reopen(options);
  EXPECT_TRUE(store_->write_state().read_only);
  EXPECT_EQ(ReadStream("s").size(), 3u);
  EXPECT_THAT(store_->Append("s", ExpectedRevision::Any(), SomeEvents(1)),
              StatusIs(absl::StatusCode::kUnavailable,
                       AllOf(HasSubstr("1.0 MiB free"), HasSubstr("serves reads only"),
                             HasSubstr("restart"))));
  Reopen();
  EXPECT_FALSE(store_->write_state().read_only);
  ASSERT_OK(store_->Append("s", ExpectedRevision::Any(), SomeEvents(1)));
}

TEST_F(EventStoreTest, ARecordedIdResentWithOtherContentIsAlreadyExistsNotAReplay) {
  std::vector<v1::Event> events = SomeEvents(2);
  ASSERT_OK(store_->Append("s", ExpectedRevision::Any(), events));
  std::vector<v1::Event> changed = events;
  changed[1].mutable_payload()->mutable_written_query_answered()->set_officer_id("someone-else");
  EXPECT_THAT(store_->Append("s", ExpectedRevision::Any(), changed),
              StatusIs(absl::StatusCode::kAlreadyExists,
                       AllOf(HasSubstr(events[1].event_id()), HasSubstr("at position 2"),
                             HasSubstr("different content (the fields that differ: payload)"),
                             HasSubstr("Nothing was written"))));
  // Another system's id: nothing of the event is said, not even which
  // fields differ (with "payload" among them or not, a publisher holding
  // another system's event id could check guesses at its content).
  changed = events;
  changed[0].set_source_system("another-system");
  for (const std::string& topic : {"a guess", "another guess"}) {
    changed[0].mutable_payload()->mutable_written_query_received()->set_subject(topic);
    absl::StatusOr<AppendResult> refused = store_->Append("s", ExpectedRevision::Any(), changed);
    EXPECT_THAT(refused, StatusIs(absl::StatusCode::kAlreadyExists,
                                  AllOf(HasSubstr("is already recorded, by another system"),
                                        Not(HasSubstr("differ")), Not(HasSubstr("position")))));
  }
  changed = events;
  changed[0].set_source_system("another-system");
  EXPECT_THAT(store_->Append("t", ExpectedRevision::Any(), changed),
              StatusIs(absl::StatusCode::kAlreadyExists,
                       AllOf(HasSubstr("by another system"), Not(HasSubstr("stream \"s\"")))));
  // The identical batch is still an idempotent replay.
  ASSERT_OK_AND_ASSIGN(AppendResult replay, store_->Append("s", ExpectedRevision::Any(), events));
  EXPECT_TRUE(replay.idempotent_replay);
  EXPECT_EQ(store_->LastPosition(), 2u);
}

TEST_F(EventStoreTest, ALogWhoseWriteAheadLogIsDamagedIsRefusedWithWhatIsIntact) {
  for (int i = 0; i < 30; ++i) ASSERT_OK(store_->Append("s", ExpectedRevision::Any(), SomeEvents(1)));
  // A crash image: the folder as it is while the store runs (nothing
  // flushed, everything in the WAL), with one byte of the WAL changed.
  TempDir image;
  std::filesystem::copy(dir_.path(), image.path(), std::filesystem::copy_options::recursive |
                                                       std::filesystem::copy_options::overwrite_existing);
  std::string wal;
  for (const auto& f : std::filesystem::directory_iterator(image.path())) {
    if (f.path().extension() == ".log" && std::filesystem::file_size(f.path()) > 0) wal = f.path();
  }
  ASSERT_FALSE(wal.empty());
  {
    std::fstream file(wal, std::ios::in | std::ios::out | std::ios::binary);
    const auto size = std::filesystem::file_size(wal);
    file.seekg(static_cast<std::streamoff>(size / 2));
    char c;
    file.get(c);
    file.seekp(static_cast<std::streamoff>(size / 2));
    file.put(static_cast<char>(c ^ 0x20));
  }
  StoreOptions options;
  options.data_dir = image.path();
  auto damaged = EventStore::Open(options);
  ASSERT_FALSE(damaged.ok());
  EXPECT_THAT(damaged.status(),
              StatusIs(absl::StatusCode::kDataLoss,
                       AllOf(HasSubstr("is damaged and will not be opened"),
                             HasSubstr("checksum mismatch"), HasSubstr("The intact part ends at position"),
                             HasSubstr("Restore the data folder from a backup"))));
  auto intact = damaged.status().GetPayload("evenhand.storage.intact_position");
  ASSERT_TRUE(intact.has_value());
  uint64_t position = 0;
  ASSERT_TRUE(absl::SimpleAtoi(std::string(*intact), &position));
  EXPECT_LT(position, 30u);
}

TEST_F(EventStoreTest, DataFolderAndFilesAreOwnerOnlyWhateverTheUmask) {
  const mode_t old = ::umask(0);
  TempDir fresh;
  StoreOptions options;
  options.data_dir = fresh.Sub("data");
  {
    auto store = EventStore::Open(options);
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_OK((*store)->Append("s", ExpectedRevision::Any(), SomeEvents(5)));
    ASSERT_OK((*store)->Close());
  }
  ::umask(old);
  struct stat st;
  ASSERT_EQ(::stat(options.data_dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  int files = 0;
  for (const auto& f : std::filesystem::recursive_directory_iterator(options.data_dir)) {
    ASSERT_EQ(::stat(f.path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0077, 0u) << f.path() << " has mode " << std::oct << (st.st_mode & 0777);
    ++files;
  }
  EXPECT_GT(files, 5);
}

TEST_F(EventStoreTest, AFeedWaitIsWokenByTheCommitItWaitsForAndCanBeWithdrawn) {
  LiveFeed& feed = store_->feed();
  absl::Notification woken;
  feed.WaitFor(1, [&] { woken.Notify(); });
  absl::Notification never;
  LiveFeed::WaitId withdrawn = feed.WaitFor(2, [&] { never.Notify(); });
  EXPECT_EQ(feed.waiting(), 2u);
  EXPECT_TRUE(feed.CancelWait(withdrawn));
  EXPECT_FALSE(woken.HasBeenNotified());
  ASSERT_OK(store_->Append("s", ExpectedRevision::Any(), SomeEvents(3)));
  EXPECT_TRUE(woken.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(feed.waiting(), 0u);
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_FALSE(never.HasBeenNotified());
  // A wait for what has already committed runs at once.
  absl::Notification at_once;
  feed.WaitFor(3, [&] { at_once.Notify(); });
  EXPECT_TRUE(at_once.WaitForNotificationWithTimeout(absl::Seconds(10)));
}

TEST_F(EventStoreTest, ShutdownRejectsAppendsAndEndsSubscriptions) {
  std::unique_ptr<Subscription> sub = store_->Subscribe(1);
  store_->BeginShutdown();
  EXPECT_THAT(store_->Append("s", ExpectedRevision::Any(), SomeEvents(1)),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("shutting down")));
  std::vector<EventPtr> got;
  EXPECT_THAT(sub->Next(10, SIZE_MAX, absl::Now() + absl::Seconds(10), &got),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("shutting down")));
  EXPECT_OK(store_->Close());
}

}  // namespace
}  // namespace evenhand::storage
