// The cited events' envelopes kept for the next reports: what is read from
// the log and what is not, what is kept of an event, the bound on memory, a
// report citing more than it keeps, an event found damaged after it was
// kept, and a log that fails or falls short.
#include "services/evidence_envelopes.h"

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace evenhand::services {
namespace {

using ::evenhand::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// A log of `n` events, and what was asked of it.
class Log {
 public:
  explicit Log(int n) {
    for (int i = 1; i <= n; ++i) {
      v1::RecordedEvent e;
      e.set_position(i);
      v1::Event* ev = e.mutable_event();
      ev->set_stream_id(absl::StrCat("query-Q", i));
      ev->set_type("WrittenQueryReceived");
      ev->set_event_id(absl::StrCat("id-", i));
      ev->mutable_occurred_at()->set_seconds(1000 + i);
      ev->mutable_recorded_at()->set_seconds(2000 + i);
      ev->set_source_system("casework");
      ev->set_actor(absl::StrCat("officer-", i));
      ev->set_correlation_id(absl::StrCat("corr-", i));
      ev->set_causation_id(absl::StrCat("cause-", i));
      ev->mutable_payload()->mutable_written_query_received()->set_query_id(absl::StrCat("Q", i));
      events_.push_back(e);
    }
  }
  reporting::ReadEvents reader() {
    return [this](const std::vector<uint64_t>& positions,
                  const std::function<void(const v1::RecordedEvent&)>& visit) -> absl::Status {
      asked.push_back(positions);
      if (!fail.ok()) return fail;
      for (uint64_t p : positions) {
        if (p == short_at) break;
        visit(events_[p - 1]);
      }
      return absl::OkStatus();
    };
  }
  const v1::RecordedEvent& at(uint64_t p) const { return events_[p - 1]; }
  // What the log says of a kept envelope (EventStore::CheckNotDamaged).
  std::function<absl::Status(uint64_t)> checker() {
    return [this](uint64_t p) {
      checked.push_back(p);
      return p == damaged ? absl::DataLossError(absl::StrCat("position ", p, " is damaged"))
                          : absl::OkStatus();
    };
  }

  std::vector<std::vector<uint64_t>> asked;
  std::vector<uint64_t> checked;
  uint64_t damaged = 0;
  absl::Status fail;
  uint64_t short_at = 0;

 private:
  std::vector<v1::RecordedEvent> events_;
};

std::vector<uint64_t> Visit(EvidenceEnvelopes& envelopes, Log& log,
                            const std::vector<uint64_t>& positions,
                            std::vector<v1::RecordedEvent>* seen = nullptr) {
  std::vector<uint64_t> visited;
  absl::Status s = envelopes.Read(positions, log.reader(), [&](const v1::RecordedEvent& e) {
    visited.push_back(e.position());
    if (seen != nullptr) seen->push_back(e);
  });
  EXPECT_TRUE(s.ok()) << s;
  return visited;
}

TEST(EvidenceEnvelopesTest, ReadsFromTheLogOnlyWhatNoReportCitedBefore) {
  Log log(20);
  EvidenceEnvelopes envelopes(100, log.checker());
  EXPECT_THAT(Visit(envelopes, log, {2, 5, 9}), ElementsAre(2, 5, 9));
  EXPECT_THAT(log.asked, ElementsAre(ElementsAre(2, 5, 9)));
  log.asked.clear();
  // In order, the kept ones among those read.
  EXPECT_THAT(Visit(envelopes, log, {1, 2, 7, 9, 12}), ElementsAre(1, 2, 7, 9, 12));
  EXPECT_THAT(log.asked, ElementsAre(ElementsAre(1, 7, 12)));
  log.asked.clear();
  EXPECT_THAT(Visit(envelopes, log, {1, 2, 5, 7, 9, 12}), ElementsAre(1, 2, 5, 7, 9, 12));
  EXPECT_THAT(log.asked, IsEmpty()) << "every one kept: the log is not read";
  EXPECT_THAT(log.checked, ElementsAre(2, 9, 1, 2, 5, 7, 9, 12))
      << "each kept one is checked against the log's damage, those read are not";
  EXPECT_THAT(Visit(envelopes, log, {}), IsEmpty());
}

TEST(EvidenceEnvelopesTest, AnEventFoundDamagedAfterItWasKeptIsNotCited) {
  Log log(10);
  EvidenceEnvelopes envelopes(100, log.checker());
  Visit(envelopes, log, {3, 4, 5});
  log.damaged = 4;
  int visited = 0;
  EXPECT_THAT(envelopes.Read({3, 4, 5}, log.reader(), [&](const v1::RecordedEvent&) { ++visited; }),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("position 4 is damaged")));
  EXPECT_EQ(visited, 0);
  log.damaged = 0;
  EXPECT_THAT(Visit(envelopes, log, {3, 4, 5}), ElementsAre(3, 4, 5));
}

TEST(EvidenceEnvelopesTest, AReportCitingMoreThanAGenerationReadsThroughAndKeepsNone) {
  Log log(300);
  EvidenceEnvelopes envelopes(100, log.checker());
  Visit(envelopes, log, {1, 2, 3});
  std::vector<uint64_t> whole_log;
  for (uint64_t p = 1; p <= 300; ++p) whole_log.push_back(p);
  log.asked.clear();
  std::vector<v1::RecordedEvent> seen;
  EXPECT_THAT(Visit(envelopes, log, whole_log, &seen), ElementsAreArray(whole_log));
  EXPECT_THAT(log.asked, ElementsAre(ElementsAreArray(whole_log)));
  EXPECT_TRUE(seen[0].event().has_payload()) << "read through, as the log gives it";
  EXPECT_EQ(envelopes.size(), 3u) << "nothing of it kept, nothing pushed out";
  log.asked.clear();
  Visit(envelopes, log, {1, 2, 3});
  EXPECT_THAT(log.asked, IsEmpty());
}

TEST(EvidenceEnvelopesTest, KeepsTheEnvelopeAsTheLogHasItAndNotThePayload) {
  Log log(3);
  EvidenceEnvelopes envelopes(100, log.checker());
  for (int round = 0; round < 2; ++round) {  // read, then kept
    std::vector<v1::RecordedEvent> seen;
    Visit(envelopes, log, {1, 3}, &seen);
    ASSERT_EQ(seen.size(), 2u);
    for (const v1::RecordedEvent& e : seen) {
      v1::RecordedEvent expected = log.at(e.position());
      expected.mutable_event()->clear_payload();
      EXPECT_EQ(e.SerializeAsString(), expected.SerializeAsString()) << "round " << round;
    }
  }
}

TEST(EvidenceEnvelopesTest, KeepsAtMostItsCapacityAndTheMostRecentlyCited) {
  Log log(1000);
  EvidenceEnvelopes envelopes(100, log.checker());
  // Reports of ten events each, a thousand events in all.
  for (uint64_t first = 1; first <= 1000; first += 10) {
    std::vector<uint64_t> ten;
    for (uint64_t p = first; p < first + 10; ++p) ten.push_back(p);
    Visit(envelopes, log, ten);
    EXPECT_LE(envelopes.size(), 100u);
  }
  // Those cited last (the last half of the capacity at least) are kept.
  log.asked.clear();
  std::vector<uint64_t> last;
  for (uint64_t p = 951; p <= 1000; ++p) last.push_back(p);
  EXPECT_THAT(Visit(envelopes, log, last), ElementsAreArray(last));
  EXPECT_THAT(log.asked, IsEmpty());
  // One cited again is kept through later reports citing others.
  for (uint64_t p = 1; p <= 1000; ++p) {
    Visit(envelopes, log, {p});
    Visit(envelopes, log, {7});
    EXPECT_LE(envelopes.size(), 100u);
  }
  log.asked.clear();
  Visit(envelopes, log, {7});
  EXPECT_THAT(log.asked, IsEmpty());
}

TEST(EvidenceEnvelopesTest, ALogThatFailsOrFallsShortIsAnErrorAndKeepsNothing) {
  Log log(10);
  EvidenceEnvelopes envelopes(100, log.checker());
  log.fail = absl::UnavailableError("disk gone");
  EXPECT_THAT(envelopes.Read({1, 2}, log.reader(), [](const v1::RecordedEvent&) {}),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("disk gone")));
  log.fail = absl::OkStatus();
  log.short_at = 2;
  int visited = 0;
  EXPECT_THAT(envelopes.Read({1, 2}, log.reader(), [&](const v1::RecordedEvent&) { ++visited; }),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("only 1 were read")));
  EXPECT_EQ(visited, 0) << "nothing visited of a read that fell short";
  EXPECT_EQ(envelopes.size(), 0u);
  log.short_at = 0;
  log.asked.clear();
  EXPECT_THAT(Visit(envelopes, log, {1, 2}), ElementsAre(1, 2));
  EXPECT_THAT(log.asked, ElementsAre(ElementsAre(1, 2)));
}

}  // namespace
}  // namespace evenhand::services
