// The projection is a pure fold: restored from its checkpoint records it
// reports exactly what the fold did; read as of a position P it reports
// exactly what a fresh fold of events 1..P does.
#include "projections/fairness_projection.h"

#include <algorithm>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/time_util.h"
#include "demo/council_generator.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/council_scenario.h"

namespace evenhand::projections {
namespace {

using ::evenhand::testing::At;
using ::evenhand::testing::CouncilScenario;
using ::evenhand::testing::Proto;
using ::testing::AllOf;
using ::testing::HasSubstr;

// A year of a council, with the planted breaches and some corrections,
// as the log would record it.
std::vector<v1::RecordedEvent> CouncilLog() {
  demo::GeneratorOptions options;
  options.seed = 7;
  options.start = At(2026, 1, 5, 0);
  options.days = 365;
  options.plant_breaches = true;
  std::vector<v1::RecordedEvent> log;
  for (auto& append : demo::GenerateCouncil(options)) {
    for (auto& e : append.events) {
      v1::RecordedEvent r;
      r.set_position(log.size() + 1);
      *r.mutable_event() = std::move(e);
      r.mutable_event()->set_stream_id(append.stream_id);
      *r.mutable_event()->mutable_recorded_at() = r.event().occurred_at();
      log.push_back(std::move(r));
    }
  }
  // Correct every 50th delivery to party-political business, and withdraw
  // every 70th event that is not itself a correction.
  const size_t n = log.size();
  for (size_t i = 0; i < n; ++i) {
    const v1::RecordedEvent& original = log[i];
    const bool correct = original.event().payload().has_briefing_delivered() && i % 50 == 0;
    const bool withdraw = i % 70 == 0 && i > 0;
    if (!correct && !withdraw) continue;
    v1::RecordedEvent r;
    r.set_position(log.size() + 1);
    v1::Event* e = r.mutable_event();
    e->set_stream_id(original.event().stream_id());
    *e->mutable_occurred_at() =
        Proto(FromProtoTime(log.back().event().occurred_at()) + absl::Minutes(1));
    *e->mutable_recorded_at() = e->occurred_at();
    auto* c = e->mutable_payload()->mutable_event_corrected();
    c->set_corrected_event_id(original.event().event_id());
    c->set_corrected_position(original.position());
    if (correct) {
      *c->mutable_replacement() = original.event().payload();
      c->mutable_replacement()->mutable_briefing_delivered()->set_business(
          v1::PARTY_POLITICAL_BUSINESS);
    }
    log.push_back(std::move(r));
  }
  return log;
}

class FairnessProjectionTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { log_ = new std::vector<v1::RecordedEvent>(CouncilLog()); }
  static void TearDownTestSuite() { delete log_; }

  void SetUp() override {
    auto loaded = WorkingDayCalendar::LoadFile(EVENHAND_BANK_HOLIDAYS);
    ASSERT_TRUE(loaded.ok());
    calendar_.emplace(*std::move(loaded));
  }

  std::string Report(const FairnessProjection& p, uint64_t as_of, absl::Time from, absl::Time to) {
    ReportQuery q;
    q.as_of_position = as_of;
    q.as_of_time = FromProtoTime((*log_)[as_of - 1].event().recorded_at()) + absl::Hours(1);
    q.from = from;
    q.to = to;
    return p.Report(q, settings_, *calendar_).SerializeAsString();
  }

  // `restored` reports as `folded` does: over the year and two quarters, as
  // the log stands and as of half of it.
  void ExpectSameReports(const FairnessProjection& restored, const FairnessProjection& folded) {
    const uint64_t n = log_->size();
    for (auto [from, to] :
         {std::pair(absl::InfinitePast(), absl::InfiniteFuture()),
          std::pair(At(2026, 3, 1), At(2026, 6, 1)), std::pair(At(2026, 6, 1), At(2026, 9, 1))}) {
      EXPECT_EQ(Report(restored, n, from, to), Report(folded, n, from, to));
      EXPECT_EQ(Report(restored, n / 2, from, to), Report(folded, n / 2, from, to));
    }
  }

  static std::vector<v1::RecordedEvent>* log_;
  FairnessSettings settings_;
  std::optional<WorkingDayCalendar> calendar_;
};

std::vector<v1::RecordedEvent>* FairnessProjectionTest::log_ = nullptr;

TEST_F(FairnessProjectionTest, TheGeneratedCouncilHasFindingsOfEveryKind) {
  FairnessProjection p;
  for (const auto& e : *log_) p.Apply(e);
  ReportQuery q;
  q.as_of_position = p.position();
  q.as_of_time = At(2027, 1, 10);
  v1::FairnessReport report = p.Report(q, settings_, *calendar_);
  std::set<std::string> rules;
  for (const auto& f : report.findings()) rules.insert(f.rule_id());
  EXPECT_GE(rules.size(), 10u) << report.findings_size() << " findings";
  EXPECT_EQ(report.groups_size(), 4);
}

// The group table's query columns add up: every query received in the
// period was replied to in time or late, is overdue, or is not yet due.
TEST_F(FairnessProjectionTest, EveryWrittenQueryIsInExactlyOneColumn) {
  FairnessProjection p;
  const uint64_t n = log_->size();
  uint64_t not_yet_due = 0;
  uint64_t received = 0;
  for (uint64_t as_of : {n / 4, n / 2, (3 * n) / 4, n}) {
    while (p.position() < as_of) p.Apply((*log_)[p.position()]);
    ReportQuery q;
    q.as_of_position = as_of;
    q.as_of_time = FromProtoTime((*log_)[as_of - 1].event().occurred_at());
    v1::FairnessReport report = p.Report(q, settings_, *calendar_);
    for (const v1::GroupMetrics& g : report.groups()) {
      SCOPED_TRACE(absl::StrCat(g.group_id(), " as of ", as_of));
      EXPECT_EQ(g.queries_received(), g.queries_replied_in_time() + g.queries_replied_late() +
                                          g.queries_unanswered() + g.queries_not_yet_due());
      not_yet_due += g.queries_not_yet_due();
      received += g.queries_received();
    }
  }
  // Part-way through the year some queries were still within their five
  // working days: the column is not always empty.
  EXPECT_GT(not_yet_due, 0u);
  EXPECT_GT(received, not_yet_due);
}

TEST_F(FairnessProjectionTest, RestoredFromCheckpointRecordsReportsExactlyAsTheFold) {
  FairnessProjection folded;
  for (const auto& e : *log_) folded.Apply(e);
  std::vector<state::CaseRecord> records;
  folded.ForEachDirtyCase([&](const state::CaseRecord& r) { records.push_back(r); });
  // A checkpoint is read back in key order, not fold order.
  std::sort(records.begin(), records.end(),
            [](const auto& a, const auto& b) { return a.stream_id() > b.stream_id(); });
  FairnessProjection restored;
  for (auto& r : records) restored.RestoreCase(std::move(r));
  restored.RestorePosition(folded.position());
  EXPECT_EQ(restored.case_count(), folded.case_count());
  ExpectSameReports(restored, folded);
}

// The cases' bodies in a map, counting those read back.
class MapCases : public StoredCases {
 public:
  absl::Status ReadCase(const std::string& stream_id, std::string* bytes) const override {
    auto it = cases.find(stream_id);
    if (it == cases.end()) return absl::DataLossError("missing");
    ++reads;
    *bytes = unparsable.contains(stream_id) ? "\xff\xff\xff" : it->second.SerializeAsString();
    return absl::OkStatus();
  }
  std::map<std::string, state::CaseRecord> cases;
  // Read back as bytes that are no CaseRecord (a damaged value).
  std::set<std::string> unparsable;
  mutable size_t reads = 0;
};

// What the indexes hold, in an order that does not depend on the order the
// cases were filed in.
std::string Describe(const FairnessProjection::Indexes& x) {
  auto names = [](const auto& cases) {
    std::vector<std::string> out;
    for (const Case* c : cases) {
      out.push_back(absl::StrCat(c->stream_id(), "[", c->first_nanos, ",", c->last_nanos, ",",
                                 c->long_running, "]"));
    }
    std::sort(out.begin(), out.end());
    return absl::StrJoin(out, " ");
  };
  std::string out = absl::StrCat(names(x.groups), "\n", names(x.elections), "\n",
                                 names(x.briefings), "\n", names(x.meetings), "\n",
                                 names(x.queries), "\n", names(x.complaints), "\n",
                                 names(x.members), "\n", names(x.access), "\n");
  std::map<std::string, std::string> matters;
  for (const auto& [matter, cases] : x.by_matter) matters[std::string(matter)] = names(cases);
  for (const auto& [matter, cases] : matters) absl::StrAppend(&out, matter, ": ", cases, "\n");
  for (const FairnessProjection::Indexes::Timeline& t : x.timelines) {
    std::vector<const Case*> starts;
    for (const auto& [nanos, c] : t.by_start) {
      EXPECT_EQ(nanos, c->first_nanos) << c->stream_id();
      starts.push_back(c);
    }
    absl::StrAppend(&out, names(starts), " | ", names(t.long_running), "\n");
  }
  return out;
}

// A restart files every case from its skeleton (what the indexes hold of
// it), reading none of its facts: the indexes are those of the fold, and
// so is every report, whose cases are read back when it needs them.
TEST_F(FairnessProjectionTest, RestoredFromSkeletonsIndexesEveryCaseAsTheFoldReadingNoFacts) {
  FairnessProjection folded;
  for (const auto& e : *log_) folded.Apply(e);
  MapCases stored;
  std::vector<state::CaseSkeletonRecord> skeletons;
  folded.ForEachDirtyCase([&](const state::CaseRecord& r) {
    stored.cases[r.stream_id()] = r;
    skeletons.push_back(folded.SkeletonOf(r));
  });
  std::sort(skeletons.begin(), skeletons.end(),
            [](const auto& a, const auto& b) { return a.stream_id() < b.stream_id(); });
  FairnessProjection restored;
  restored.KeepCasesIn(&stored, 0);
  for (const state::CaseSkeletonRecord& s : skeletons) restored.RestoreSkeleton(s);
  restored.RestorePosition(folded.position());
  EXPECT_EQ(stored.reads, 0u) << "filing a case reads none of its facts";
  EXPECT_EQ(restored.case_count(), folded.case_count());
  EXPECT_GT(folded.indexes().by_matter.size(), 10u);
  EXPECT_EQ(Describe(restored.indexes()), Describe(folded.indexes()));
  ExpectSameReports(restored, folded);
  EXPECT_GT(stored.reads, 0u) << "the reports read the cases back";
  EXPECT_TRUE(restored.health().ok()) << restored.health();
}

// A body read back that does not parse is damage named by its case: the
// projection is not reported from, and the checkpoint must be replaced.
TEST_F(FairnessProjectionTest, ACaseReadBackThatDoesNotParseIsDamageNamingIt) {
  FairnessProjection folded;
  for (const auto& e : *log_) folded.Apply(e);
  MapCases stored;
  std::vector<state::CaseSkeletonRecord> skeletons;
  std::string query;
  folded.ForEachDirtyCase([&](const state::CaseRecord& r) {
    stored.cases[r.stream_id()] = r;
    skeletons.push_back(folded.SkeletonOf(r));
    if (query.empty() && absl::StartsWith(r.stream_id(), "query-")) query = r.stream_id();
  });
  ASSERT_FALSE(query.empty());
  stored.unparsable.insert(query);
  FairnessProjection restored;
  restored.KeepCasesIn(&stored, 0);
  for (const state::CaseSkeletonRecord& s : skeletons) restored.RestoreSkeleton(s);
  restored.RestorePosition(folded.position());
  Report(restored, log_->size(), absl::InfinitePast(), absl::InfiniteFuture());
  EXPECT_TRUE(absl::IsDataLoss(restored.checkpoint_damage())) << restored.checkpoint_damage();
  EXPECT_THAT(std::string(restored.checkpoint_damage().message()),
              AllOf(HasSubstr(query), HasSubstr("cannot be parsed")));
  EXPECT_FALSE(restored.health().ok());
}

TEST_F(FairnessProjectionTest, AsOfPositionEqualsAFreshFoldOfTheEventsUpToIt) {
  FairnessProjection whole;
  for (const auto& e : *log_) whole.Apply(e);
  const uint64_t n = log_->size();
  std::mt19937 rng(42);
  std::vector<uint64_t> positions = {1, 100, n / 3, n / 2, n - 200, n - 1, n};
  for (int i = 0; i < 5; ++i)
    positions.push_back(std::uniform_int_distribution<uint64_t>(1, n)(rng));
  for (uint64_t p : positions) {
    FairnessProjection prefix;
    for (uint64_t i = 0; i < p; ++i) prefix.Apply((*log_)[i]);
    EXPECT_EQ(Report(whole, p, absl::InfinitePast(), absl::InfiniteFuture()),
              Report(prefix, p, absl::InfinitePast(), absl::InfiniteFuture()))
        << "as of position " << p;
    EXPECT_EQ(Report(whole, p, At(2026, 2, 1), At(2026, 7, 1)),
              Report(prefix, p, At(2026, 2, 1), At(2026, 7, 1)))
        << "as of position " << p;
  }
}

// A report reads only the cases that can touch its period (the time index);
// that must never lose a finding. Every rule but access-parity (which
// compares the groups over the period as a whole) dates each finding, so a
// period's findings are exactly the whole log's findings dated in it.
TEST_F(FairnessProjectionTest, APeriodsFindingsAreTheWholeLogsFindingsDatedInIt) {
  FairnessProjection p;
  for (const auto& e : *log_) p.Apply(e);
  // Dated findings of a period, in the report's order, with when they are dated.
  auto findings = [&](absl::Time from, absl::Time to) {
    ReportQuery q;
    q.as_of_position = p.position();
    q.as_of_time = At(2027, 3, 1);
    q.from = from;
    q.to = to;
    const v1::FairnessReport report = p.Report(q, settings_, *calendar_);
    std::vector<std::pair<absl::Time, std::string>> out;
    for (const v1::Finding& f : report.findings()) {
      if (f.rule_id() == "access-parity") continue;
      out.emplace_back(FromProtoTime(f.occurred_at()), f.SerializeAsString());
    }
    return out;
  };
  const auto whole = findings(absl::InfinitePast(), absl::InfiniteFuture());
  ASSERT_GT(whole.size(), 10u);
  auto check = [&](const std::vector<absl::Time>& bounds) {
    size_t covered = 0;
    for (size_t i = 0; i + 1 < bounds.size(); ++i) {
      std::vector<std::pair<absl::Time, std::string>> expected;
      for (const auto& f : whole) {
        if (f.first >= bounds[i] && f.first < bounds[i + 1]) expected.push_back(f);
      }
      EXPECT_EQ(findings(bounds[i], bounds[i + 1]), expected) << "the period from " << bounds[i];
      covered += expected.size();
    }
    EXPECT_EQ(covered, whole.size()) << "a finding dated outside the periods";
  };
  std::vector<absl::Time> months;
  for (int m = 0; m <= 14; ++m) months.push_back(At(2026 + m / 12, 1 + m % 12, 1));
  check(months);
  // Weeks: many more period boundaries for deadlines and cases to straddle.
  std::vector<absl::Time> weeks;
  for (absl::Time t = At(2026, 1, 1); t <= At(2027, 3, 1); t += absl::Hours(24 * 7)) {
    weeks.push_back(t);
  }
  weeks.push_back(At(2027, 3, 8));
  check(weeks);
}

TEST_F(FairnessProjectionTest, ReplayingEventsAlreadyFoldedChangesNothing) {
  FairnessProjection once, twice;
  for (const auto& e : *log_) once.Apply(e);
  for (size_t i = 0; i < log_->size(); ++i) {
    twice.Apply((*log_)[i]);
    if (i % 97 == 0) twice.Apply((*log_)[i / 2]);  // an old event again
  }
  const uint64_t n = log_->size();
  EXPECT_EQ(Report(twice, n, absl::InfinitePast(), absl::InfiniteFuture()),
            Report(once, n, absl::InfinitePast(), absl::InfiniteFuture()));
}

// A group dissolved before the period that events in it still name (an
// offer to it, recorded after it was dissolved; the data-quality rule flags
// such events): counted in that period, in a row of its own, so that a
// year's figures are the sum of its parts (found by an outside test).
TEST(GroupFiguresTest, AGroupDissolvedBeforeThePeriodKeepsARowForWhatNamesItInIt) {
  CouncilScenario s;
  s.Dissolve(At(2026, 6, 1), "green");
  s.Offer(At(2026, 6, 10), "O-1", "green", "parks");
  auto offered = [&](absl::Time from, absl::Time to) -> std::optional<uint32_t> {
    const v1::FairnessReport report = s.Report(At(2026, 12, 1), std::nullopt, from, to);
    for (const v1::GroupMetrics& g : report.groups()) {
      if (g.group_id() == "green") return g.briefings_offered();
    }
    return std::nullopt;
  };
  EXPECT_EQ(offered(At(2026, 1, 1, 0), At(2027, 1, 1, 0)), 1u);
  EXPECT_EQ(offered(At(2026, 1, 1, 0), At(2026, 6, 2, 0)), 0u);
  EXPECT_EQ(offered(At(2026, 6, 2, 0), At(2027, 1, 1, 0)), 1u);
  // Nothing in the period names it: no row.
  EXPECT_EQ(offered(At(2026, 7, 1, 0), At(2027, 1, 1, 0)), std::nullopt);
}

}  // namespace
}  // namespace evenhand::projections
