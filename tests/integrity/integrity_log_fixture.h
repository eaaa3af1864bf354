// What the store-backed integrity tests share: a log and its IntegrityLog in
// a temporary folder, opened and reopened at will, with the root, chain and
// stream-head map recomputed from the events alone.
#ifndef EVENHAND_TESTS_INTEGRITY_INTEGRITY_LOG_FIXTURE_H_
#define EVENHAND_TESTS_INTEGRITY_INTEGRITY_LOG_FIXTURE_H_

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "base/big_endian.h"
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

using ::evenhand::testing::AnEvent;
using ::evenhand::testing::SomeEvents;
using ::evenhand::testing::StatusIs;
using ::evenhand::testing::TempDir;

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

  // After TearDown(): opening the integrity log on the folder is refused,
  // events having been appended without it.
  void ExpectRefusedAsAppendedBehindTheTree() {
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

  // The integrity log's clock, if a test sets one before Open.
  std::function<absl::Time()> clock_;

  void TearDown() override {
    ReleaseTheMapBuild();  // before the stop, which waits for the thread
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

  // The integrity log (re)opened over the open store with the stream-head
  // map in a RocksDB of its own, as evenhandd keeps it; a log still open
  // is stopped first.
  void OpenWithItsOwnMap(const std::function<void(IntegrityOptions&)>& customize = nullptr) {
    if (log_) log_->Stop();
    log_.reset();
    IntegrityOptions io;
    io.signing_key_file = dir_.Sub("key.pem");
    io.journal_file = dir_.Sub("checkpoints.jsonl");
    io.stream_map_dir = dir_.Sub("stream-map");
    if (customize) customize(io);
    auto log = IntegrityLog::Open(store_.get(), io);
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = std::move(*log);
  }

  // With the map in its own RocksDB: `appends` appends of 100 events
  // (streams s-0, s-1, ...), signed by a stop with the map caught up; then
  // the map is lost (deleted, as a restore or a crash leaves it) and the
  // store opened again without the integrity log.
  void SignThenLoseTheMap(int appends) {
    OpenWithItsOwnMap();
    for (int i = 0; i < appends; ++i) {
      ASSERT_OK(store_->Append(absl::StrCat("s-", i), storage::ExpectedRevision::Any(),
                               SomeEvents(100)));
    }
    TearDown();
    std::filesystem::remove_all(dir_.Sub("stream-map"));
    Open(/*with_integrity=*/false);
  }

  // Makes the checkpoint thread wait after the first step of a build of the
  // map (IntegrityOptions::TEST_after_map_step) until ReleaseTheMapBuild();
  // TearDown releases it whatever failed.
  void HoldTheMapBuild(IntegrityOptions& io) {
    map_gate_ = std::make_shared<MapGate>();
    io.TEST_after_map_step = [gate = map_gate_] {
      if (!gate->held.HasBeenNotified()) gate->held.Notify();
      gate->released.WaitForNotification();
    };
  }
  bool MapBuildHeld() { return map_gate_->held.WaitForNotificationWithTimeout(absl::Minutes(1)); }
  void ReleaseTheMapBuild() {
    if (map_gate_ && !map_gate_->released.HasBeenNotified()) map_gate_->released.Notify();
  }
  // Stops the log while its map build is held, and releases it once the
  // stop has begun: the build goes on for one step at most.
  void StopDuringTheHeldBuild() {
    std::thread stopping([&] { log_->Stop(); });
    while (!log_->TEST_stopping()) absl::SleepFor(absl::Milliseconds(1));
    ReleaseTheMapBuild();
    stopping.join();
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
  // The hold HoldTheMapBuild() installed, shared with the hook.
  struct MapGate {
    absl::Notification held, released;
  };
  std::shared_ptr<MapGate> map_gate_;
};

// The integrity column family's keys that start with `prefix`.
inline std::vector<std::string> KeysWithPrefix(storage::EventStore& store,
                                               const std::string& prefix) {
  std::vector<std::string> keys;
  std::unique_ptr<rocksdb::Iterator> it(store.db()->NewIterator(
      rocksdb::ReadOptions(), store.ColumnFamily(IntegrityLog::kColumnFamily)));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    keys.push_back(it->key().ToString());
  }
  return keys;
}

inline void DeleteAll(storage::EventStore& store, const std::vector<std::string>& prefixes) {
  for (const std::string& prefix : prefixes) {
    std::string end = prefix;
    end.back()++;
    ASSERT_TRUE(store.db()
                    ->DeleteRange(rocksdb::WriteOptions(),
                                  store.ColumnFamily(IntegrityLog::kColumnFamily), prefix, end)
                    .ok());
  }
}

// The whole of a case, as `evenhand export --case=STREAM` selects it.
inline std::vector<storage::EventPtr> WholeStream(storage::EventStore* store,
                                                  const std::string& stream) {
  std::vector<storage::EventPtr> events;
  EXPECT_OK(store->ReadStream(stream, std::nullopt, storage::Direction::kForwards, 0,
                              [&](const storage::EventPtr& e) {
                                events.push_back(e);
                                return true;
                              }));
  return events;
}

}  // namespace evenhand::integrity

#endif  // EVENHAND_TESTS_INTEGRITY_INTEGRITY_LOG_FIXTURE_H_
