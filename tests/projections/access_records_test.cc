// The server's records of reads (AccessRecorded) in the fairness
// projection. Every read is on the record, so they grow with every report
// asked for: the projection keeps them in cases per principal and UTC day,
// of at most a few hundred reads each, so a case (and what a checkpoint
// rewrites of it) grows with neither every read ever recorded nor a busy
// day's, and leaves memory like any other case. The report's "who read the
// log" section is the same served from the running totals and derived from
// the cases, read back from a checkpoint, and after corrections (possible
// only without domain validation) that withdraw a read or move it to
// another day.
#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "projections/fairness_projection.h"
#include "tests/projections/map_stored_findings.h"
#include "tests/testing/council_scenario.h"

namespace evenhand::projections {
namespace {

using ::evenhand::testing::At;
using ::evenhand::testing::Proto;

constexpr char kReport[] = "evenhand.v1.Fairness/GetReport";

class AccessRecordsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loaded = WorkingDayCalendar::LoadFile(EVENHAND_BANK_HOLIDAYS);
    ASSERT_TRUE(loaded.ok());
    calendar_.emplace(*std::move(loaded));
  }

  // Folds one event into every projection given, recorded when it happened
  // (or with the last, if that was later: the log records in order).
  void Fold(const std::string& stream, absl::Time at, v1::Payload payload,
            const std::vector<FairnessProjection*>& into) {
    last_ = std::max(last_, at);
    v1::RecordedEvent r;
    r.set_position(++position_);
    r.mutable_event()->set_event_id(absl::StrCat("e-", position_));
    r.mutable_event()->set_stream_id(stream);
    *r.mutable_event()->mutable_occurred_at() = Proto(at);
    *r.mutable_event()->mutable_recorded_at() = Proto(last_);
    *r.mutable_event()->mutable_payload() = std::move(payload);
    for (FairnessProjection* p : into) p->Apply(r);
  }
  static v1::Payload ReadBy(const std::string& principal) {
    v1::Payload p;
    v1::AccessRecorded* a = p.mutable_access_recorded();
    a->set_principal(principal);
    a->set_method(kReport);
    a->set_outcome("allowed");
    a->set_events_returned(1);
    a->add_roles("committee");
    return p;
  }
  // A read by `principal` at `at`; returns its position.
  uint64_t Read(const std::string& principal, absl::Time at,
                const std::vector<FairnessProjection*>& into) {
    Fold(absl::StrCat("access-", principal), at, ReadBy(principal), into);
    return position_;
  }
  // A correction of the read at `position`: withdrawn, or moved to `to`.
  void Correct(const std::string& principal, uint64_t position, std::optional<absl::Time> to,
               absl::Time at, const std::vector<FairnessProjection*>& into) {
    v1::Payload p;
    p.mutable_event_corrected()->set_corrected_position(position);
    if (to) *p.mutable_event_corrected()->mutable_replacement_occurred_at() = Proto(*to);
    Fold(absl::StrCat("access-", principal), at, std::move(p), into);
  }
  // Two reads a day by the clerk on 2, 3 and 4 November (09:00 and 15:00),
  // one by the auditor on the 2nd; the clerk's positions by day.
  std::map<int, std::vector<uint64_t>> ThreeDays(FairnessProjection* p) {
    std::map<int, std::vector<uint64_t>> clerk;
    for (int day = 2; day <= 4; ++day) {
      clerk[day].push_back(Read("clerk", At(2026, 11, day, 9), {p}));
      clerk[day].push_back(Read("clerk", At(2026, 11, day, 15), {p}));
    }
    Read("auditor", At(2026, 11, 2, 11), {p});
    return clerk;
  }

  // The reads of each principal in [from, to) as of the last event, served
  // (from the index's totals) and derived (from the cases), which must be
  // the same.
  std::map<std::string, uint32_t> Reads(const FairnessProjection& p, absl::Time from,
                                        absl::Time to) {
    const ReportQuery q{from, to, position_, last_};
    const v1::FairnessReport served = p.Report(q, settings_, *calendar_);
    const v1::FairnessReport derived = p.DerivedReport(q, settings_, *calendar_);
    std::string diff;
    google::protobuf::util::MessageDifferencer d;
    d.ReportDifferencesToString(&diff);
    EXPECT_TRUE(d.Compare(derived, served)) << diff;
    EXPECT_TRUE(p.health().ok()) << p.health();
    std::map<std::string, uint32_t> reads;
    for (const v1::AccessSummary& row : served.access()) reads[row.principal()] += row.reads();
    return reads;
  }

  // `p` keeps the findings index from its first event, checkpointed into
  // stored_, and no case's body once checkpointed: the reads are read back.
  void Index(FairnessProjection* p) {
    p->IndexFindings(settings_, *calendar_);
    p->StoreFindingsIn(&stored_);
    p->KeepCasesIn(&stored_, 0);
  }

  // The cases the next checkpoint would rewrite, sorted.
  static std::vector<std::string> Rewritten(const FairnessProjection& p) {
    std::vector<std::string> out;
    p.ForEachDirtyCase([&](const state::CaseRecord& c) { out.push_back(c.stream_id()); });
    std::sort(out.begin(), out.end());
    return out;
  }

  FairnessSettings settings_;
  std::optional<WorkingDayCalendar> calendar_;
  MapStoredFindings stored_;
  uint64_t position_ = 0;
  absl::Time last_ = absl::InfinitePast();
};

using Rows = std::map<std::string, uint32_t>;
const absl::Time kAllFrom = At(2026, 11, 1, 0);
const absl::Time kAllTo = At(2026, 11, 8, 0);

TEST_F(AccessRecordsTest, ReadsAreKeptPerPrincipalAndDayAndLeaveMemory) {
  MapStoredFindings& stored = stored_;
  FairnessProjection p;
  Index(&p);
  ThreeDays(&p);
  EXPECT_EQ(p.indexes().access.size(), 4u);
  stored.Checkpoint(p);
  EXPECT_EQ(p.case_bytes_held(), 0u) << "the reads stay in memory once checkpointed";

  EXPECT_EQ(Reads(p, kAllFrom, kAllTo), (Rows{{"auditor", 1}, {"clerk", 6}}));
  EXPECT_EQ(Reads(p, At(2026, 11, 3, 0), At(2026, 11, 4, 0)), (Rows{{"clerk", 2}}));
  // Across two partial days: the 3rd at 15:00 and the 4th at 09:00; and a
  // partial day, a whole one and a partial one.
  EXPECT_EQ(Reads(p, At(2026, 11, 3, 12), At(2026, 11, 4, 10)), (Rows{{"clerk", 2}}));
  EXPECT_EQ(Reads(p, At(2026, 11, 2, 10), At(2026, 11, 4, 10)),
            (Rows{{"auditor", 1}, {"clerk", 4}}));
  // Partial days holding all of their days' reads (as today's, up to now).
  EXPECT_EQ(Reads(p, At(2026, 11, 3, 8), At(2026, 11, 4, 18)), (Rows{{"clerk", 4}}));

  // One more read on the 4th: the checkpoint rewrites that day's case only.
  Read("clerk", At(2026, 11, 4, 17), {&p});
  EXPECT_EQ(Rewritten(p), std::vector<std::string>{"access-clerk#2026-11-04"});

  // Restored from the checkpoint, the same.
  stored.Checkpoint(p);
  FairnessProjection restored;
  stored.Restore(restored, settings_, *calendar_, /*case_budget=*/0);
  if (HasFatalFailure()) return;
  EXPECT_EQ(restored.indexes().access.size(), 4u);
  EXPECT_EQ(Reads(restored, kAllFrom, kAllTo), (Rows{{"auditor", 1}, {"clerk", 7}}));
  EXPECT_EQ(Reads(restored, At(2026, 11, 4, 10), kAllTo), (Rows{{"clerk", 2}}));
}

// A busy principal's day (a dashboard asking every few seconds) is kept in
// cases of at most kAccessReadsPerCase reads: a checkpoint rewrites only the
// last, however many reads the day holds. After a restore, the day's reads
// go on in a new case; every report counts them all, served or derived.
// A stream read is one read however it ends: "opened", then "completed"
// or "cancelled" (the client went first) with the events it was sent.
TEST_F(AccessRecordsTest, AStreamReadCountsOnceWhetherItCompletesOrIsCancelled) {
  FairnessProjection p;
  Index(&p);
  for (const char* end : {"completed", "cancelled"}) {
    for (const char* outcome : {"opened", end}) {
      v1::Payload read = ReadBy("auditor");
      read.mutable_access_recorded()->set_outcome(outcome);
      Fold("access-auditor", At(2026, 11, 2, 9), std::move(read), {&p});
    }
  }
  EXPECT_EQ(Reads(p, kAllFrom, kAllTo), (Rows{{"auditor", 2}}));
}

TEST_F(AccessRecordsTest, ABusyDayIsKeptInCasesOfAFewHundredReads) {
  constexpr uint32_t kCase = FairnessProjection::kAccessReadsPerCase;
  MapStoredFindings& stored = stored_;
  FairnessProjection p;
  Index(&p);
  const absl::Time day = At(2026, 11, 4, 8);
  uint64_t first_of_second_case = 0;
  for (uint32_t i = 0; i < 2 * kCase + 10; ++i) {
    const uint64_t at = Read("dashboard", day + absl::Seconds(10 * i), {&p});
    if (i == kCase) first_of_second_case = at;
  }
  Read("clerk", day, {&p});
  std::vector<std::string> cases;
  for (const Case* c : p.indexes().access) cases.emplace_back(c->stream_id());
  std::sort(cases.begin(), cases.end());
  EXPECT_EQ(cases, (std::vector<std::string>{"access-clerk#2026-11-04",
                                             "access-dashboard#2026-11-04",
                                             "access-dashboard#2026-11-04/2",
                                             "access-dashboard#2026-11-04/3"}));
  stored.Checkpoint(p);
  const Rows all{{"clerk", 1}, {"dashboard", 2 * kCase + 10}};
  EXPECT_EQ(Reads(p, kAllFrom, kAllTo), all);

  // One more read: the checkpoint rewrites the day's last case only.
  Read("dashboard", day + absl::Hours(6), {&p});
  EXPECT_EQ(Rewritten(p), std::vector<std::string>{"access-dashboard#2026-11-04/3"});
  stored.Checkpoint(p);

  // Restored: the same reads; the next one starts a fourth case (the
  // third's count is not in its skeleton), and a correction still finds
  // the case of the read it corrects.
  FairnessProjection restored;
  stored.Restore(restored, settings_, *calendar_, /*case_budget=*/0);
  if (HasFatalFailure()) return;
  Rows more = all;
  ++more["dashboard"];
  EXPECT_EQ(Reads(restored, kAllFrom, kAllTo), more);
  Read("dashboard", day + absl::Hours(7), {&restored});
  EXPECT_EQ(Rewritten(restored), std::vector<std::string>{"access-dashboard#2026-11-04/4"});
  Correct("dashboard", first_of_second_case, std::nullopt, At(2026, 11, 5, 9), {&restored});
  EXPECT_EQ(Rewritten(restored), (std::vector<std::string>{"access-dashboard#2026-11-04/2",
                                                          "access-dashboard#2026-11-04/4"}));
  EXPECT_EQ(Reads(restored, kAllFrom, kAllTo), more);  // one more, one withdrawn
}

// Only without domain validation can a read be corrected: withdrawn, or
// moved to another day. The correction goes into the case of the read it
// corrects, also after a restore and when reads across midnight were
// recorded out of order.
TEST_F(AccessRecordsTest, ACorrectedReadIsCorrectedInItsOwnCase) {
  MapStoredFindings& stored = stored_;
  FairnessProjection p;
  Index(&p);
  std::map<int, std::vector<uint64_t>> clerk = ThreeDays(&p);
  // Two reads in flight across midnight, recorded out of order: the 5th's
  // case starts before the last of the 4th's reads.
  Read("clerk", At(2026, 11, 5, 0, 1), {&p});
  const uint64_t late = Read("clerk", At(2026, 11, 4, 23, 59), {&p});
  stored.Checkpoint(p);
  EXPECT_EQ(Reads(p, At(2026, 11, 4, 0), At(2026, 11, 5, 0)), (Rows{{"clerk", 3}}));

  Correct("clerk", clerk[2][0], std::nullopt, At(2026, 11, 6, 9), {&p});
  Correct("clerk", clerk[3][1], At(2026, 11, 4, 8), At(2026, 11, 6, 9, 5), {&p});
  Correct("clerk", late, std::nullopt, At(2026, 11, 6, 9, 10), {&p});
  // A correction naming no read corrects nothing (and makes no case).
  Correct("clerk", 9999, std::nullopt, At(2026, 11, 6, 9, 15), {&p});
  EXPECT_EQ(p.indexes().access.size(), 5u);
  EXPECT_EQ(Reads(p, kAllFrom, kAllTo), (Rows{{"auditor", 1}, {"clerk", 6}}));
  EXPECT_EQ(Reads(p, At(2026, 11, 2, 0), At(2026, 11, 3, 0)),
            (Rows{{"auditor", 1}, {"clerk", 1}}));
  EXPECT_EQ(Reads(p, At(2026, 11, 3, 0), At(2026, 11, 4, 0)), (Rows{{"clerk", 1}}));
  EXPECT_EQ(Reads(p, At(2026, 11, 4, 0), At(2026, 11, 5, 0)), (Rows{{"clerk", 3}}));
  EXPECT_EQ(Reads(p, At(2026, 11, 3, 12), At(2026, 11, 4, 10)), (Rows{{"clerk", 2}}));

  // After a restore, a correction still finds its case.
  stored.Checkpoint(p);
  FairnessProjection restored;
  stored.Restore(restored, settings_, *calendar_, /*case_budget=*/0);
  if (HasFatalFailure()) return;
  Correct("clerk", clerk[4][0], std::nullopt, At(2026, 11, 6, 10), {&restored});
  EXPECT_EQ(restored.indexes().access.size(), 5u);
  EXPECT_EQ(Reads(restored, At(2026, 11, 4, 0), At(2026, 11, 5, 0)), (Rows{{"clerk", 2}}));
}

// A checkpoint from before the reads were kept per day holds a principal's
// reads as one case: it is read as it is, new reads go to day cases, and a
// correction of an old read goes to the old case.
TEST_F(AccessRecordsTest, AnOlderCheckpointsWholePrincipalCaseIsReadAsItIs) {
  state::CaseRecord old;
  old.set_stream_id("access-clerk");
  for (int day = 2; day <= 3; ++day) {
    state::FactRecord* f = old.add_facts();
    f->set_position(++position_);
    f->set_occurred_at_nanos(absl::ToUnixNanos(At(2026, 11, day, 9)));
    *f->mutable_payload() = ReadBy("clerk");
    last_ = At(2026, 11, day, 9);
  }
  FairnessProjection p;
  p.RestoreCase(old);
  p.RestorePosition(position_);
  p.IndexFindings(settings_, *calendar_);
  while (!p.SeedFindings(100)) {
  }
  Read("clerk", At(2026, 11, 4, 9), {&p});
  EXPECT_EQ(p.indexes().access.size(), 2u);
  EXPECT_EQ(Reads(p, kAllFrom, kAllTo), (Rows{{"clerk", 3}}));
  Correct("clerk", 2, std::nullopt, At(2026, 11, 5, 9), {&p});
  EXPECT_EQ(p.indexes().access.size(), 2u);
  EXPECT_EQ(Reads(p, kAllFrom, kAllTo), (Rows{{"clerk", 2}}));
  EXPECT_EQ(Reads(p, At(2026, 11, 3, 0), At(2026, 11, 4, 0)), Rows{});
}

}  // namespace
}  // namespace evenhand::projections
