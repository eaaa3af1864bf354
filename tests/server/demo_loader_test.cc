// The demo council loaded with many appends in flight (server/demo_loader.h)
// leaves the log a one-at-a-time load leaves, and a refused append is an
// error naming its stream, returned once nothing is in flight.
#include "server/demo_loader.h"

#include <algorithm>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "demo/demo_council.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/domain_validation.h"
#include "services/event_validation.h"
#include "storage/event_store.h"
#include "tests/testing/run_program.h"
#include "tests/testing/temp_dir.h"

namespace evenhand::server {
namespace {

std::unique_ptr<storage::EventStore> OpenStore(const std::string& dir) {
  storage::StoreOptions options;
  options.data_dir = dir;
  auto store = storage::EventStore::Open(options);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? *std::move(store) : nullptr;
}

// Every event of the log, as stored, apart from when it was recorded and
// its id (random at each load).
std::vector<std::string> Events(const storage::EventStore& store) {
  std::vector<std::string> events;
  absl::Status s = store.ReadAll(std::nullopt, storage::Direction::kForwards, UINT64_MAX,
                                 storage::ReadFilter(), [&](const storage::EventPtr& e) {
                                   v1::Event event = e->event();
                                   event.clear_recorded_at();
                                   event.clear_event_id();
                                   EXPECT_EQ(e->position(), events.size() + 1);
                                   events.push_back(event.SerializeAsString());
                                   return true;
                                 });
  EXPECT_TRUE(s.ok()) << s;
  return events;
}

TEST(DemoLoaderTest, TheLogIsTheOneAOneAtATimeLoadLeaves) {
  testing::TempDir dir;
  const absl::Time now = absl::Now();
  const services::AppendLimits limits;

  auto pipelined = OpenStore(dir.Sub("pipelined"));
  ASSERT_NE(pipelined, nullptr);
  services::DomainValidator pipelined_validator(pipelined.get());
  absl::StatusOr<size_t> loaded = LoadDemo(pipelined.get(), limits, &pipelined_validator, now);
  ASSERT_TRUE(loaded.ok()) << loaded.status();

  // What `evenhandd --demo` did before: each append prepared, validated and
  // written before the next.
  auto one_at_a_time = OpenStore(dir.Sub("one-at-a-time"));
  ASSERT_NE(one_at_a_time, nullptr);
  services::DomainValidator validator(one_at_a_time.get());
  size_t events = 0;
  for (demo::StreamAppend& append : demo::DemoCouncil(now)) {
    storage::ExpectedRevision expected = storage::ExpectedRevision::Any();
    ASSERT_TRUE(services::PrepareAppend(limits, &validator, now, append.stream_id,
                                        &append.events, &expected)
                    .ok());
    events += append.events.size();
    ASSERT_TRUE(
        one_at_a_time->Append(append.stream_id, expected, std::move(append.events)).ok());
  }

  EXPECT_EQ(*loaded, events);
  EXPECT_GT(events, 2000u);
  // Its ids are random, not the generator's (derived from a public seed).
  std::set<std::string> ids;
  std::set<std::string> generated;
  for (const demo::StreamAppend& append : demo::DemoCouncil(now)) {
    for (const v1::Event& e : append.events) generated.insert(e.event_id());
  }
  ASSERT_TRUE(pipelined
                  ->ReadAll(std::nullopt, storage::Direction::kForwards, UINT64_MAX,
                            storage::ReadFilter(),
                            [&](const storage::EventPtr& e) {
                              EXPECT_FALSE(generated.contains(e->event().event_id()));
                              ids.insert(e->event().event_id());
                              return true;
                            })
                  .ok());
  EXPECT_EQ(ids.size(), events);
  const std::vector<std::string> got = Events(*pipelined);
  const std::vector<std::string> want = Events(*one_at_a_time);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(got[i], want[i]) << "the event at position " << i + 1 << " differs";
  }
}

TEST(DemoLoaderTest, ARefusedAppendIsAnErrorNamingItsStream) {
  testing::TempDir dir;
  auto store = OpenStore(dir.Sub("log"));
  ASSERT_NE(store, nullptr);
  services::DomainValidator validator(store.get());
  // A limit the demo's largest event exceeds, and its first appends do not.
  const absl::Time now = absl::Now();
  const std::vector<demo::StreamAppend> demo = demo::DemoCouncil(now);
  size_t largest = 0;
  for (const demo::StreamAppend& append : demo) {
    for (const v1::Event& e : append.events) largest = std::max(largest, e.ByteSizeLong());
  }
  ASSERT_LT(demo.front().events.front().ByteSizeLong() * 2, largest);
  services::AppendLimits limits;
  limits.max_event_bytes = largest - 1;
  absl::StatusOr<size_t> loaded = LoadDemo(store.get(), limits, &validator, now);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument) << loaded.status();
  EXPECT_NE(loaded.status().message().find("demo append to "), std::string::npos)
      << loaded.status();
  // Nothing is in flight once it returns: what was accepted is written.
  const uint64_t written = store->LastPosition();
  EXPECT_GT(written, 0u);
  EXPECT_EQ(Events(*store).size(), written);
}

// Refused at start (the disk below the floor, here a floor above the
// disk): said as the demo's, not as an integrator's append that could be
// sent again, and the log is left empty, so --demo loads it in full later.
TEST(DemoStartTest, ADemoThatCannotBeLoadedSaysSoAndWhatToDo) {
  testing::TempDir dir;
  const std::string config = dir.Sub("config.json");
  std::ofstream(config) << R"({"minFreeDiskMib": 1000000000})";
  const testing::ProgramResult r =
      testing::RunProgram(EVENHANDD_PATH, {"--listen=127.0.0.1:0", "--metrics_listen=off", "--demo",
                                           "--data_dir=" + dir.Sub("data"), "--config=" + config});
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, ::testing::AllOf(
                            ::testing::HasSubstr("--demo: the demo council could not be loaded "
                                                 "into the empty log: the disk holding"),
                            ::testing::HasSubstr("The log is still empty; start again with --demo "
                                                 "once that is put right")))
      << r.output;
  std::unique_ptr<storage::EventStore> store = OpenStore(dir.Sub("data"));
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->LastPosition(), 0u);
}

}  // namespace
}  // namespace evenhand::server
