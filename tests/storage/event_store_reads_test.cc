// EventStore's reads at given positions (ReadAtPositions, ReadAt) and of
// damaged events, against a real RocksDB in a temporary folder. Appends,
// streams, subscriptions and the rest: event_store_test.cc.
#include <cstdint>
#include <fstream>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/event_store.h"
#include "tests/testing/events.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace evenhand::storage {
namespace {

using ::evenhand::testing::SomeEvents;
using ::evenhand::testing::StatusIs;
using ::evenhand::testing::TempDir;
using ::testing::AllOf;
using ::testing::HasSubstr;

class EventStoreReadsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreOptions options;
    options.data_dir = dir_.path();
    auto opened = EventStore::Open(std::move(options));
    ASSERT_TRUE(opened.ok()) << opened.status();
    store_ = std::move(*opened);
  }

  TempDir dir_;
  std::unique_ptr<EventStore> store_;
};

TEST_F(EventStoreReadsTest, ReadAtPositionsVisitsEachInTheOrderGiven) {
  // More than two MultiGets' worth (256 each), in ascending order, then not.
  ASSERT_OK(store_->Append("a", ExpectedRevision::Any(), SomeEvents(300)));
  ASSERT_OK(store_->Append("a", ExpectedRevision::Any(), SomeEvents(300)));
  auto positions_read = [&](const std::vector<uint64_t>& positions, size_t stop_after) {
    std::vector<uint64_t> got;
    absl::Status s = store_->ReadAtPositions(positions, [&](const EventPtr& e) {
      EXPECT_EQ(e->event().stream_id(), "a");
      got.push_back(e->position());
      return got.size() < stop_after;
    });
    EXPECT_OK(s);
    return got;
  };
  std::vector<uint64_t> ascending;
  for (uint64_t p = 1; p <= 600; ++p) {
    if (p % 7 != 0) ascending.push_back(p);
  }
  ASSERT_GT(ascending.size(), 2u * 256);
  EXPECT_EQ(positions_read(ascending, SIZE_MAX), ascending);
  const std::vector<uint64_t> any_order = {300, 7, 7, 1, 256, 257, 2};
  EXPECT_EQ(positions_read(any_order, SIZE_MAX), any_order);
  // A visitor that returns false stops the reads.
  EXPECT_EQ(positions_read(ascending, 3), std::vector<uint64_t>(ascending.begin(),
                                                                ascending.begin() + 3));
  EXPECT_TRUE(positions_read({}, SIZE_MAX).empty());
}

TEST_F(EventStoreReadsTest, ReadAtPositionsRefusesAPositionNotInTheLogOrDamaged) {
  ASSERT_OK(store_->Append("s", ExpectedRevision::Any(), SomeEvents(3)));
  std::vector<uint64_t> got;
  auto visit = [&](const EventPtr& e) {
    got.push_back(e->position());
    return true;
  };
  EXPECT_THAT(store_->ReadAtPositions({1, 4}, visit),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no event at position 4")));
  EXPECT_THAT(store_->ReadAtPositions({0}, visit),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no event at position 0")));
  // Checked before anything is visited, wherever it comes.
  std::vector<uint64_t> many(300, 1);
  many.push_back(4);
  EXPECT_THAT(store_->ReadAtPositions(many, visit),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no event at position 4")));
  EXPECT_TRUE(got.empty());
  store_->MarkDamaged(2, "its bytes changed");
  EXPECT_THAT(store_->ReadAtPositions({1, 2, 3}, visit),
              StatusIs(absl::StatusCode::kDataLoss,
                       AllOf(HasSubstr("position 2"), HasSubstr("its bytes changed"))));
  EXPECT_EQ(got, std::vector<uint64_t>{1});
  // In a later MultiGet: the events before it were visited.
  got.clear();
  std::vector<uint64_t> then_damaged(300, 1);
  then_damaged.push_back(2);
  EXPECT_THAT(store_->ReadAtPositions(then_damaged, visit),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("position 2")));
  EXPECT_EQ(got.size(), 300u);
}

TEST_F(EventStoreReadsTest, ReadsOfADamagedEventFailWithDataLossNamingIt) {
  ASSERT_OK(store_->Append("s", ExpectedRevision::Any(), SomeEvents(3)));
  EXPECT_OK(store_->CheckNotDamaged(2));
  store_->MarkDamaged(2, "its bytes changed");
  // Asked without reading it (what reports check of an event they cite
  // from what they kept), the same answer as a read.
  EXPECT_THAT(store_->CheckNotDamaged(2),
              StatusIs(absl::StatusCode::kDataLoss,
                       AllOf(HasSubstr("position 2"), HasSubstr("its bytes changed"))));
  EXPECT_OK(store_->CheckNotDamaged(1));
  EXPECT_THAT(store_->ReadAt(2),
              StatusIs(absl::StatusCode::kDataLoss,
                       AllOf(HasSubstr("position 2"), HasSubstr("its bytes changed"))));
  EXPECT_OK(store_->ReadAt(1));
  std::vector<EventPtr> got;
  EXPECT_THAT(store_->ReadStream("s", std::nullopt, Direction::kForwards, 0,
                                 [&](const EventPtr& e) {
                                   got.push_back(e);
                                   return true;
                                 }),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("position 2")));
  EXPECT_EQ(got.size(), 1u);
  EXPECT_THAT(store_->ReadAll(std::nullopt, Direction::kForwards, 0, {},
                              [](const EventPtr&) { return true; }),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("position 2")));
  ASSERT_EQ(store_->damaged().size(), 1u);
  EXPECT_EQ(store_->damaged()[0].position, 2u);
}

// What a run found is in the data folder's record, and the next open knows
// it: the event still refused, the finding still listed. A finding past the
// log's end now, and a line that does not parse, are listed and refuse
// nothing.
TEST_F(EventStoreReadsTest, DamageFoundIsKnownAgainWhenTheLogIsOpenedAgain) {
  ASSERT_OK(store_->Append("s", ExpectedRevision::Any(), SomeEvents(3)));
  store_->MarkDamaged(2, "its bytes changed");
  store_->MarkDamaged(2, "its bytes changed");  // one line, not two
  ASSERT_OK(store_->Close());
  store_.reset();
  {
    std::ofstream record(dir_.path() + "/damage-found.txt", std::ios::app);
    record << "event\t2026-12-01T10:00:00Z\t9\tits bytes changed\n"
           << "nonsense\n";
  }
  StoreOptions options;
  options.data_dir = dir_.path();
  ASSERT_OK_AND_ASSIGN(store_, EventStore::Open(std::move(options)));
  EXPECT_THAT(store_->ReadAt(2),
              StatusIs(absl::StatusCode::kDataLoss,
                       AllOf(HasSubstr("position 2"), HasSubstr("its bytes changed"))));
  const std::vector<std::string> found = store_->damage_found();
  ASSERT_EQ(found.size(), 3u);
  EXPECT_THAT(found[0], AllOf(HasSubstr("the event at position 2 is damaged"),
                              HasSubstr("before this start"), HasSubstr("damage-found.txt")));
  EXPECT_THAT(found[1],
              AllOf(HasSubstr("position 9"), HasSubstr("the log now ends at position 3")));
  EXPECT_THAT(found[2], AllOf(HasSubstr("line 3"), HasSubstr("does not parse")));
  // Position 9, when the log gets there, is an event like any other.
  ASSERT_OK(store_->Append("s", ExpectedRevision::Any(), SomeEvents(6)));
  EXPECT_OK(store_->ReadAt(9));
}

}  // namespace
}  // namespace evenhand::storage
