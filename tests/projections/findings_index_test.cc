// The findings index against the reference: for many generated council
// histories (planted breaches, events recorded late, events missing,
// corrections that move, replace or withdraw facts, councillors changing
// group, officers changing role, delegations revoked, pre-election periods
// declared late, bank holidays), a report served from the index equals the
// report derived in full from the cases (today's fold), for random periods,
// at random as-of positions and times, including the instants just before,
// at and after every deadline.
#include <algorithm>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/time_util.h"
#include "demo/demo_council.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "projections/fairness_projection.h"
#include "projections/internal/day_nanos.h"
#include "projections/internal/report_builder.h"
#include "tests/projections/fold_demo.h"
#include "tests/projections/generated_history.h"
#include "tests/projections/map_stored_findings.h"
#include "tests/testing/council_scenario.h"

namespace evenhand::projections {
namespace {

class FindingsIndexTest : public ::testing::TestWithParam<uint64_t> {
 protected:
  void SetUp() override {
    auto loaded = WorkingDayCalendar::LoadFile(EVENHAND_BANK_HOLIDAYS);
    ASSERT_TRUE(loaded.ok());
    calendar_.emplace(*std::move(loaded));
  }

  // The report served from the index equals the one derived in full (and
  // the one derived by `reference`, a projection holding every case in
  // memory, if given). Derived as before reports shared the council's
  // registry: read afresh from the cases, not taken from the projection's
  // cache of it (which the served report and DerivedReport() use).
  void ExpectSame(const FairnessProjection& p, const ReportQuery& q, const std::string& what,
                  const FairnessProjection* reference = nullptr) {
    const v1::FairnessReport served = p.Report(q, settings_, *calendar_);
    internal::ReportBuilder fresh(p, q, settings_, *calendar_);
    const v1::FairnessReport derived = fresh.Build();
    std::string diff;
    google::protobuf::util::MessageDifferencer d;
    d.ReportDifferencesToString(&diff);
    EXPECT_TRUE(d.Compare(derived, served))
        << what << ": as of position " << q.as_of_position << " and "
        << absl::FormatTime(q.as_of_time) << ", period " << absl::FormatTime(q.from) << " to "
        << absl::FormatTime(q.to) << "\n"
        << diff.substr(0, 4000);
    EXPECT_TRUE(p.health().ok()) << p.health();
    diff.clear();
    EXPECT_TRUE(d.Compare(derived, p.DerivedReport(q, settings_, *calendar_)))
        << what << ", derived with the registry kept: as of position " << q.as_of_position
        << "\n"
        << diff.substr(0, 4000);
    if (reference != nullptr) {
      diff.clear();
      EXPECT_TRUE(d.Compare(reference->DerivedReport(q, settings_, *calendar_), derived))
          << what << ", cases read back from the store: as of position " << q.as_of_position
          << "\n"
          << diff.substr(0, 4000);
    }
    ++compared_;
    findings_ += derived.findings_size();
    obligations_ += derived.obligations_size();
  }

  // The i-th of a run of random reports over `h`'s n events: every third
  // as of the end, else at a random position; every other one for a
  // quarter, else for everything.
  static ReportQuery RandomQuery(History& h, int i, uint64_t n) {
    ReportQuery q;
    q.as_of_position = i % 3 == 0 ? n : static_cast<uint64_t>(h.Pick(1, static_cast<int>(n)));
    q.as_of_time = h.RecordedAt(q.as_of_position);
    if (i % 2 == 0) {
      q.from = h.Between(h.first(), h.last());
      q.to = q.from + absl::Hours(24 * 91);
    }
    return q;
  }

  FairnessSettings settings_;
  std::optional<WorkingDayCalendar> calendar_;
  int compared_ = 0;
  int findings_ = 0;
  int obligations_ = 0;
};

TEST_P(FindingsIndexTest, ServedReportsEqualDerivedOnes) {
  History h(GetParam());
  const auto& log = h.log();
  // Every other history checkpoints its entries every few events, so most
  // are read back from the store (and withdrawn from it) rather than held.
  FairnessProjection p;
  MapStoredFindings stored;
  p.IndexFindings(settings_, *calendar_);
  const bool store = GetParam() % 2 == 1;
  // Those also keep no case's body in memory once checkpointed (but the
  // registry's): every decision and report reads them back, and is held to
  // the same answers as a projection that keeps every case in memory.
  FairnessProjection all_in_memory;
  const FairnessProjection* reference = store ? &all_in_memory : nullptr;
  if (store) {
    p.StoreFindingsIn(&stored);
    p.KeepCasesIn(&stored, 0);
  }
  // Along the way, reports as the log stands then (the group table from the
  // running totals), for a random period.
  const uint64_t every = std::max<size_t>(log.size() / 8, 1);
  for (const auto& e : log) {
    p.Apply(e);
    if (store) all_in_memory.Apply(e);
    if (store && e.position() % 37 == 0) {
      // A report while the checkpoint is written (the runner writes it off
      // the projection's lock) finds what it writes both stored and held.
      stored.Checkpoint(p, [&] {
        if (e.position() % 111 != 0) return;
        ReportQuery q;
        q.as_of_position = static_cast<uint64_t>(h.Pick(1, static_cast<int>(e.position())));
        q.as_of_time = h.RecordedAt(q.as_of_position);
        ExpectSame(p, q, "a report as of an earlier position while a checkpoint is written",
                   reference);
      });
      if (HasFailure()) return;
    }
    if (e.position() % every == 0) {
      ReportQuery q;
      q.as_of_position = e.position();
      // Judged at a moment before the next event was recorded.
      const absl::Time recorded = h.RecordedAt(e.position());
      const absl::Time next = e.position() < log.size() ? h.RecordedAt(e.position() + 1)
                                                        : recorded + absl::Hours(24 * 10);
      q.as_of_time = std::max(recorded, std::min(h.Between(recorded, next),
                                                 next - absl::Nanoseconds(1)));
      if (h.Chance(0.7)) {
        q.from = h.Between(h.first(), FromProtoTime(e.event().occurred_at()));
        q.to = q.from + absl::Hours(24 * h.Pick(1, 120));
      }
      ExpectSame(p, q, "a report as the log stood", reference);
      if (HasFailure()) return;
    }
  }
  ASSERT_GT(p.indexed_entries(), 0u);
  const uint64_t n = log.size();

  // As the server asks: as of a position (judged at the moment it was
  // recorded), as of a time (the log as it stood then), or now.
  auto as_of_time = [&](ReportQuery* q, absl::Time t) {
    q->as_of_time = t;
    q->as_of_position = h.PositionAt(t);
  };
  for (int i = 0; i < 40; ++i) {
    ReportQuery q;
    switch (h.Pick(0, 3)) {
      case 0:
        q.as_of_position = static_cast<uint64_t>(h.Pick(1, static_cast<int>(n)));
        q.as_of_time = h.RecordedAt(q.as_of_position);
        break;
      case 1:
        as_of_time(&q, h.Between(h.RecordedAt(1), h.RecordedAt(n)));
        break;
      case 2:
        q.as_of_position = n;
        q.as_of_time = h.RecordedAt(n) + absl::Hours(h.Pick(0, 24 * 60));
        break;
      case 3:
        q.as_of_position = n;
        q.as_of_time = absl::InfiniteFuture();
        break;
    }
    if (q.as_of_position == 0) continue;
    switch (h.Pick(0, 3)) {
      case 0:
        break;  // the whole log
      case 1: {
        q.from = h.Between(h.first(), h.last());
        q.to = q.from + absl::Hours(24 * h.Pick(1, 120));
        break;
      }
      case 2:
        q.from = h.Between(h.first(), h.last());
        break;
      case 3:
        q.to = h.Between(h.first(), h.last());
        break;
    }
    ExpectSame(p, q, "a random report", reference);
    if (HasFailure()) return;
  }

  // Just before, at and just after deadlines: every obligation's due time
  // and every finding's date, as of the last position.
  const v1::FairnessReport open =
      p.DerivedReport(ReportQuery{absl::InfinitePast(), absl::InfiniteFuture(), n,
                                  FromProtoTime(log.front().event().occurred_at())},
                      settings_, *calendar_);
  const v1::FairnessReport done = p.DerivedReport(
      ReportQuery{absl::InfinitePast(), absl::InfiniteFuture(), n, absl::InfiniteFuture()},
      settings_, *calendar_);
  std::vector<absl::Time> instants;
  for (const v1::Obligation& o : open.obligations()) instants.push_back(FromProtoTime(o.due_at()));
  for (const v1::Finding& f : done.findings()) instants.push_back(FromProtoTime(f.occurred_at()));
  std::shuffle(instants.begin(), instants.end(), std::mt19937(GetParam()));
  if (instants.size() > 12) instants.resize(12);
  for (absl::Time t : instants) {
    for (absl::Duration d : {-absl::Nanoseconds(1), absl::ZeroDuration(), absl::Nanoseconds(1)}) {
      ReportQuery q;
      as_of_time(&q, t + d);
      if (q.as_of_position > 0) ExpectSame(p, q, "at a deadline", reference);
      q.as_of_position = n;
      q.as_of_time = std::max(t + d, h.RecordedAt(n));
      q.from = t + d;
      q.to = t + absl::Hours(24 * 7);
      ExpectSame(p, q, "a period starting at a deadline", reference);
      if (HasFailure()) return;
    }
  }
  EXPECT_GT(findings_ + obligations_, 0) << "the histories must exercise the rules";
  if (store) {
    EXPECT_GT(stored.cases_read(), 0u) << "the cases must be read back";
    // Once checkpointed, no report holding them, only the registry's stay.
    stored.Checkpoint(p);
    p.KeepCasesIn(&stored, 0);
    EXPECT_EQ(p.case_bytes_unsaved(), 0u);
    EXPECT_LT(p.case_bytes_held(), all_in_memory.case_bytes_held() / 2);
  }
}

// A projection restored from a checkpoint decides every case once and
// serves from there on; before that, reports are derived.
TEST_P(FindingsIndexTest, ARestoredProjectionServesFromItsPosition) {
  History h(GetParam() + 1000);
  const auto& log = h.log();
  const uint64_t n = log.size();
  const uint64_t half = n / 2;
  FairnessProjection first_half;
  for (uint64_t i = 0; i < half; ++i) first_half.Apply(log[i]);
  FairnessProjection restored;
  first_half.ForEachDirtyCase([&](const state::CaseRecord& r) { restored.RestoreCase(r); });
  restored.RestorePosition(half);
  restored.IndexFindings(settings_, *calendar_);
  // Seeded a little at a time, with events folded in between.
  uint64_t next = half;
  while (!restored.SeedFindings(7)) {
    if (next < n && next < half + 20) restored.Apply(log[next++]);
  }
  for (uint64_t i = next; i < n; ++i) restored.Apply(log[i]);
  for (int i = 0; i < 20; ++i) {
    ReportQuery q;
    q.as_of_position = static_cast<uint64_t>(h.Pick(1, static_cast<int>(n)));
    q.as_of_time = h.RecordedAt(q.as_of_position);
    if (i % 2 == 0) {
      q.from = h.Between(h.first(), h.last());
      q.to = q.from + absl::Hours(24 * 91);
    }
    ExpectSame(restored, q, "restored");
    if (HasFailure()) return;
  }
}

// Restored from its checkpoint (cases, what each subject has, the
// provisional findings; the rest read back from the store), the projection
// goes on folding and serving exactly what the full derivation gives.
TEST_P(FindingsIndexTest, AProjectionRestoredFromItsCheckpointGoesOnAsBefore) {
  History h(GetParam() + 2000);
  const auto& log = h.log();
  const uint64_t n = log.size();
  MapStoredFindings stored;
  const uint64_t cut = n / 3 + static_cast<uint64_t>(h.Pick(0, static_cast<int>(n / 3)));
  {
    FairnessProjection first;
    first.IndexFindings(settings_, *calendar_);
    first.StoreFindingsIn(&stored);
    for (uint64_t i = 0; i < cut; ++i) {
      first.Apply(log[i]);
      if (log[i].position() % 53 == 0) stored.Checkpoint(first);
    }
    stored.Checkpoint(first);
  }
  // Every other history keeps no case's body in memory once checkpointed:
  // held to the answers of one that keeps every case.
  const bool read_back = GetParam() % 2 == 0;
  FairnessProjection all_in_memory;
  for (const v1::RecordedEvent& e : log) all_in_memory.Apply(e);
  FairnessProjection restored;
  stored.Restore(restored, settings_, *calendar_,
                 read_back ? std::optional<size_t>(0) : std::nullopt);
  if (HasFatalFailure()) return;
  ASSERT_TRUE(restored.findings_indexed());
  // The group totals' changes before the checkpoint were stored with it and
  // are read back: reports as of any position sum the totals.
  EXPECT_EQ(restored.figures_known_from(), 0u);
  EXPECT_EQ(restored.figure_changes_kept(), 0u);
  EXPECT_GT(stored.changes_stored(), 0u);
  // No subject's state is held: each is read back when an event decides
  // it, and let go once a checkpoint has written it.
  EXPECT_EQ(restored.findings_subjects_held(), 0u);
  const size_t read_before = stored.subjects_read();  // by `first`, after its checkpoints
  size_t most_held = 0;
  // A case opened since the last checkpoint has nothing stored: its
  // subject is never looked for.
  std::map<std::string, uint64_t> opened;
  for (uint64_t i = 0; i < cut; ++i) opened.try_emplace(log[i].event().stream_id(), 0);
  uint64_t checkpointed = log[cut - 1].position();
  size_t looked_for = stored.looked_for().size();
  for (uint64_t i = cut; i < n; ++i) {
    opened.try_emplace(log[i].event().stream_id(), log[i].position());
    restored.Apply(log[i]);
    for (; looked_for < stored.looked_for().size(); ++looked_for) {
      const std::string& stream = stored.looked_for()[looked_for];
      auto it = opened.find(stream);
      ASSERT_NE(it, opened.end()) << stream;
      EXPECT_LE(it->second, checkpointed) << stream << " was looked for in the store at position "
                                          << log[i].position() << ", but opened after the last "
                                          << "checkpoint (" << checkpointed << ")";
    }
    most_held = std::max(most_held, restored.findings_subjects_held());
    if (log[i].position() % 53 == 0) {
      stored.Checkpoint(restored);
      checkpointed = log[i].position();
      EXPECT_EQ(restored.findings_subjects_held(), 0u);
    }
  }
  EXPECT_GT(stored.subjects_read(), read_before);
  EXPECT_GT(most_held, 0u);
  for (int i = 0; i < 30; ++i) {
    const ReportQuery q = RandomQuery(h, i, n);
    ExpectSame(restored, q, "restored from its checkpoint", &all_in_memory);
    if (HasFailure()) return;
  }
}

// A subject that cannot be read back stops the index: every report is then
// derived in full, the index decides nothing more, and no checkpoint writes
// any of it (a restart decides it afresh), however many events and
// checkpoints come after.
TEST_P(FindingsIndexTest, ASubjectThatCannotBeReadBackStopsTheIndexAndReportsAreDerived) {
  History h(GetParam() + 5000);
  const auto& log = h.log();
  const uint64_t n = log.size();
  MapStoredFindings stored;
  FairnessProjection p;
  p.IndexFindings(settings_, *calendar_);
  p.StoreFindingsIn(&stored);
  const uint64_t half = n / 2;
  for (uint64_t i = 0; i < half; ++i) p.Apply(log[i]);
  stored.Checkpoint(p);
  ASSERT_EQ(p.findings_subjects_held(), 0u);
  stored.FailSubjectReads();
  // A new case's subject is never looked for in the store (nothing of it
  // can be there): the index fails at the first event that decides a
  // subject checkpointed before, and from then on writes none.
  for (uint64_t i = half; i < n; ++i) {
    p.Apply(log[i]);
    const bool failed = !p.findings_indexed();
    const size_t written = stored.Checkpoint(p);
    if (failed) EXPECT_EQ(written, 0u) << "a failed index writes no subject";
  }
  EXPECT_FALSE(p.findings_indexed());
  EXPECT_EQ(p.findings_complete_from(), UINT64_MAX);
  FairnessProjection all_in_memory;
  for (const v1::RecordedEvent& e : log) all_in_memory.Apply(e);
  for (int i = 0; i < 10; ++i) {
    ExpectSame(p, RandomQuery(h, i, n), "after the index failed", &all_in_memory);
    if (HasFailure()) return;
  }
}

// Seeded after a rebuild, the entries and subjects decided in each slice are
// written ahead of the index's first checkpoint (which then writes only what
// changed since) and let go: entries read back when events between slices
// withdraw them, subjects when they decide them again. Restored from there,
// with checkpoints of cases taken while seeding and events folded between
// slices, the projection serves what the full derivation gives, as the one
// that was seeded does.
TEST_P(FindingsIndexTest, WhatIsWrittenWhileSeedingRestoresAsOneCheckpointWould) {
  History h(GetParam() + 3000);
  const auto& log = h.log();
  const uint64_t n = log.size();
  const uint64_t half = n / 2;
  MapStoredFindings stored;
  FairnessProjection p;
  for (uint64_t i = 0; i < half; ++i) p.Apply(log[i]);
  stored.Checkpoint(p);
  p.IndexFindings(settings_, *calendar_);
  p.StoreFindingsIn(&stored);
  size_t early = 0;
  size_t early_entries = 0;
  uint64_t next = half;
  for (int slice = 0; !p.SeedFindings(5); ++slice) {
    early += stored.SaveSeeded(p, &early_entries);
    if (next < n && next < half + 60) p.Apply(log[next++]);
    // A checkpoint while seeding writes cases, nothing of the index.
    if (slice % 4 == 3) EXPECT_EQ(stored.Checkpoint(p), 0u);
  }
  ASSERT_TRUE(p.findings_indexed());
  // Once seeded, nothing is written ahead.
  EXPECT_FALSE(p.ForEachSeededFindingsRecord([](const state::FindingEntryRecord&) {},
                                             [](const state::SubjectRecord&) {}));
  const size_t entries_before_first = stored.entries_stored();
  // Events between slices decided subjects written ahead and let go, and
  // withdrew entries written ahead: each was read back.
  EXPECT_GT(stored.subjects_read(), 0u);
  EXPECT_GT(stored.entries_read(), 0u);
  const size_t at_first = stored.Checkpoint(p);
  EXPECT_GT(early, 0u);
  EXPECT_GT(early_entries, 0u);
  EXPECT_GT(entries_before_first, 0u);
  // Events between slices changed subjects already written, which were
  // written again (else the restore below would read them stale).
  EXPECT_GT(stored.rewritten(), 0u);
  // The first checkpoint writes the last slice and what events changed.
  EXPECT_LT(at_first, early);

  FairnessProjection all_in_memory;
  for (const v1::RecordedEvent& e : log) all_in_memory.Apply(e);
  // (A copy of the store: `p` reads back what it stored, not what the
  // restored projection checkpoints after.)
  MapStoredFindings restored_store = stored;
  FairnessProjection restored;
  restored_store.Restore(restored, settings_, *calendar_,
                         GetParam() % 2 == 0 ? std::optional<size_t>(0) : std::nullopt);
  if (HasFatalFailure()) return;
  ASSERT_TRUE(restored.findings_indexed());
  for (uint64_t i = next; i < n; ++i) {
    p.Apply(log[i]);
    restored.Apply(log[i]);
    if (log[i].position() % 41 == 0) restored_store.Checkpoint(restored);
  }
  // Still answering (a read back that failed would stop the index, and
  // reports would then be derived, equal to the reference below).
  ASSERT_TRUE(p.findings_indexed());
  ASSERT_TRUE(restored.findings_indexed());
  for (int i = 0; i < 30; ++i) {
    const ReportQuery q = RandomQuery(h, i, n);
    ExpectSame(restored, q, "restored from what was written while seeding", &all_in_memory);
    ExpectSame(p, q, "seeded");
    if (HasFailure()) return;
  }
}

// A projection indexing findings, folded over `events` with the default
// settings and the checkout's bank holidays (null, a failure added, if they
// cannot be read).
struct IndexedProjection {
  WorkingDayCalendar calendar;
  FairnessSettings settings;
  FairnessProjection projection;

  // The report served from the index, expected the same as the derived one.
  v1::FairnessReport Served(const ReportQuery& q) const {
    v1::FairnessReport served = projection.Report(q, settings, calendar);
    EXPECT_EQ(served.SerializeAsString(),
              projection.DerivedReport(q, settings, calendar).SerializeAsString())
        << "as of position " << q.as_of_position;
    return served;
  }
};
std::unique_ptr<IndexedProjection> FoldIndexed(const std::vector<v1::RecordedEvent>& events) {
  absl::StatusOr<WorkingDayCalendar> calendar =
      WorkingDayCalendar::LoadFile(EVENHAND_BANK_HOLIDAYS);
  EXPECT_TRUE(calendar.ok()) << calendar.status();
  if (!calendar.ok()) return nullptr;
  auto out = std::unique_ptr<IndexedProjection>(
      new IndexedProjection{*std::move(calendar), FairnessSettings(), {}});
  out->projection.IndexFindings(out->settings, out->calendar);
  for (const v1::RecordedEvent& e : events) out->projection.Apply(e);
  return out;
}

// The demo council (scripts/run): its report from the index is the derived
// one, findings, obligations, group figures and all, as of every tenth
// position and at the end.
// A briefing asked for and approved in March, and given at the group's
// meeting in April (an attendance linking it, no BriefingDelivered): its own
// facts are long before a second-quarter period, yet the period's report,
// derived in full or served from the index, holds its giving: the offers
// the other groups are owed, its delivery and the officer's time.
TEST(FindingsIndexLinkedTest, ABriefingGivenAtAMeetingLongAfterItsOwnFactsIsInThePeriod) {
  testing::CouncilScenario s;
  s.Request(testing::At(2026, 3, 2), "B-1", "labour", "local-plan");
  s.Approve(testing::At(2026, 3, 3), "B-1");
  v1::Payload p;
  auto* a = p.mutable_officer_attended_group_meeting();
  a->set_meeting_id("M-1");
  a->set_group_id("labour");
  a->set_officer_id("dir");
  a->set_approved_by_officer_id("ceo");
  a->set_business(v1::COUNCIL_BUSINESS);
  a->set_duration_minutes(60);
  a->set_matter_id("local-plan");
  a->set_briefing_id("B-1");
  s.Add(testing::At(2026, 4, 10, 18), p);
  std::unique_ptr<IndexedProjection> folded = FoldIndexed(s.events());
  ASSERT_NE(folded, nullptr);
  const FairnessSettings& settings = folded->settings;
  const WorkingDayCalendar* calendar = &folded->calendar;
  FairnessProjection& projection = folded->projection;
  const ReportQuery q{testing::At(2026, 4, 1), testing::At(2026, 7, 1), s.events().size(),
                      testing::At(2026, 6, 1)};
  const v1::FairnessReport served = projection.Report(q, settings, *calendar);
  EXPECT_EQ(served.SerializeAsString(),
            projection.DerivedReport(q, settings, *calendar).SerializeAsString());
  int owed = 0;
  for (const auto& f : served.findings()) owed += f.rule_id() == "equal-offer";
  EXPECT_EQ(owed, 2);
  for (const auto& g : served.groups()) {
    if (g.group_id() != "labour") continue;
    EXPECT_EQ(g.briefings_delivered(), 1u);
    EXPECT_EQ(g.officer_minutes(), 60u);
  }
}

// The rules changed this session that read other facts than the one
// judged: an attendance agreed by the approval of the briefing it gives (in
// another case: the approval recorded after it, then corrected to name its
// officer), and a decline reversed by the same officer giving the briefing.
// Served from the index or derived, the same report as of every position.
TEST(FindingsIndexLinkedTest, AttendancesAgreedByTheirBriefingAndReversedDeclinesAsOfAnyPosition) {
  testing::CouncilScenario s;
  s.Request(testing::At(2026, 2, 2), "B-1", "labour", "waste");
  s.Attend(testing::At(2026, 2, 10), "M-1", "labour", "dir2", "", v1::COUNCIL_BUSINESS, 0, "waste",
           "B-1");
  // Recorded after the attendance, naming another officer; then corrected.
  const uint64_t approval = s.Approve(testing::At(2026, 2, 3), "B-1", "ceo", {"dir"});
  v1::Payload named;
  named.mutable_briefing_approved()->set_briefing_id("B-1");
  named.mutable_briefing_approved()->set_approved_by_officer_id("ceo");
  named.mutable_briefing_approved()->add_assigned_officer_ids("dir2");
  named.mutable_briefing_approved()->add_assigned_officer_ids("dir");
  s.Correct(testing::At(2026, 2, 20), approval, named);
  s.Deliver(testing::At(2026, 2, 12), "B-1", {"dir"});
  // Declined by the officer who advised Labour, then given by them.
  s.Request(testing::At(2026, 3, 2), "B-2", "green", "waste");
  s.Decline(testing::At(2026, 3, 3), "B-2", "dir", v1::OFFICER_UNAVAILABLE);
  s.Approve(testing::At(2026, 3, 4), "B-2", "ceo", {"dir"});
  s.Deliver(testing::At(2026, 3, 9), "B-2", {"dir"});
  std::unique_ptr<IndexedProjection> folded = FoldIndexed(s.events());
  ASSERT_NE(folded, nullptr);
  const FairnessSettings& settings = folded->settings;
  const WorkingDayCalendar* calendar = &folded->calendar;
  FairnessProjection& projection = folded->projection;
  std::set<std::string> seen;
  for (uint64_t position = 1; position <= s.events().size(); ++position) {
    const ReportQuery q{testing::At(2026, 1, 1), testing::At(2026, 7, 1), position,
                        testing::At(2026, 7, 1)};
    const v1::FairnessReport served = folded->Served(q);
    for (const auto& f : served.findings()) seen.insert(f.rule_id());
  }
  // Each rule's finding came and went along the way.
  EXPECT_TRUE(seen.contains("approval-required"));
  EXPECT_TRUE(seen.contains("same-matter-decline"));
  const ReportQuery end{testing::At(2026, 1, 1), testing::At(2026, 7, 1), s.events().size(),
                        testing::At(2026, 7, 1)};
  const v1::FairnessReport last = projection.Report(end, settings, *calendar);
  for (const auto& f : last.findings()) {
    EXPECT_NE(f.rule_id(), "approval-required") << f.explanation();
    EXPECT_NE(f.rule_id(), "same-matter-decline") << f.explanation();
  }
}

// A councillor's registration gives a name and nothing else a decision asks
// of the council (found from outside: 5,000 registrations each decided
// every subject again that had asked about the council, 270 a second):
// it decides again only what read that councillor's name. A query by a
// councillor registered only after it, then renamed by a correction, and a
// group joined after both: served from the index or derived, the same
// report as of every position, naming the councillor as the log then did.
TEST(FindingsIndexLinkedTest, ACouncillorRegisteredAfterTheirQueryIsNamedAsOfEveryPosition) {
  testing::CouncilScenario s;
  s.Query(testing::At(2026, 3, 2, 10), "Q-1", "late-1");
  v1::Payload registered;
  registered.mutable_member_registered()->set_member_id("late-1");
  registered.mutable_member_registered()->set_name("Cllr First Name");
  const uint64_t registration = s.Add(testing::At(2026, 3, 20), registered);
  registered.mutable_member_registered()->set_name("Cllr Corrected Name");
  s.Correct(testing::At(2026, 3, 25), registration, registered);
  s.Join(testing::At(2026, 3, 1), "late-1", "green");
  std::unique_ptr<IndexedProjection> folded = FoldIndexed(s.events());
  ASSERT_NE(folded, nullptr);
  auto names = [](const v1::FairnessReport& r) {
    std::string all;
    for (const auto& f : r.findings()) {
      if (f.rule_id() == "written-query-reply")
        absl::StrAppend(&all, f.explanation(), "|", f.group_id(), "\n");
    }
    return all;
  };
  std::vector<std::string> seen;
  for (uint64_t position = registration - 1; position <= s.events().size(); ++position) {
    const ReportQuery q{testing::At(2026, 1, 1), testing::At(2026, 7, 1), position,
                        testing::At(2026, 7, 1)};
    const v1::FairnessReport served = folded->Served(q);
    seen.push_back(names(served));
  }
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_THAT(seen[0], ::testing::AllOf(::testing::HasSubstr("late-1"),
                                        ::testing::Not(::testing::HasSubstr("Cllr"))));
  EXPECT_THAT(seen[1], ::testing::HasSubstr("Cllr First Name"));
  EXPECT_THAT(seen[2], ::testing::HasSubstr("Cllr Corrected Name"));
  EXPECT_THAT(seen[3], ::testing::AllOf(::testing::HasSubstr("Cllr Corrected Name"),
                                        ::testing::HasSubstr("|green")));
}

// Briefings read each other's facts on their matter only up to their own
// deadline and the earliest answer to each group (ReportBuilder::
// BeginBoundedReads; found from outside: a matter of hundreds of briefings
// decided each of them again at each event of any). Many briefings on one
// matter, their facts out of order in time (delivered before requested,
// given at a meeting and delivered later, offers, declines, backdated),
// corrected in time and in group: served from the index or derived, the
// same report as of every position.
TEST(FindingsIndexLinkedTest, BriefingsOnABusyMatterAreTheSameServedOrDerivedAsOfEveryPosition) {
  const char* const kGroups[] = {"labour", "conservative", "green"};
  for (uint32_t seed = 1; seed <= 12; ++seed) {
    std::mt19937 random(seed);
    auto pick = [&](int n) { return static_cast<int>(random() % n); };
    testing::CouncilScenario s;
    const absl::Time start = testing::At(2026, 3, 2);
    std::vector<uint64_t> delivered, requested;
    for (int i = 0; i < 24; ++i) {
      const std::string id = absl::StrCat("B-", seed, "-", i);
      const std::string group = kGroups[pick(3)];
      const absl::Time t = start + absl::Hours(pick(24 * 40));
      if (pick(6) == 0) {
        s.Offer(t, id, group, "busy");
        continue;
      }
      requested.push_back(s.Request(t, id, group, "busy"));
      switch (pick(5)) {
        case 0:  // declined
          s.Decline(t + absl::Hours(3), id, "hos", v1::OFFICER_UNAVAILABLE);
          break;
        case 1:  // given at the group's meeting, and a delivery recorded later
          s.Approve(t + absl::Hours(1), id);
          s.Attend(t + absl::Hours(24 * pick(8)), absl::StrCat("M-", id), group, "hos", "ceo",
                   v1::COUNCIL_BUSINESS, 0, "busy", id);
          if (pick(2) == 0) delivered.push_back(s.Deliver(t + absl::Hours(24 * 12), id));
          break;
        case 2:  // delivered before it was requested (as recorded)
          delivered.push_back(s.Deliver(t - absl::Hours(30), id));
          break;
        default:
          s.Approve(t + absl::Hours(2), id);
          delivered.push_back(s.Deliver(t + absl::Hours(24 * pick(10)), id));
      }
    }
    // Corrections: deliveries moved in time, requests moved to another group.
    for (int k = 0; k < 4 && !delivered.empty(); ++k) {
      s.CorrectWhen(start + absl::Hours(24 * 45), delivered[pick(delivered.size())],
                    start + absl::Hours(pick(24 * 40)));
    }
    for (int k = 0; k < 3 && !requested.empty(); ++k) {
      const uint64_t position = requested[pick(requested.size())];
      v1::Payload moved = s.events()[position - 1].event().payload();
      moved.mutable_briefing_requested()->set_group_id(kGroups[pick(3)]);
      s.Correct(start + absl::Hours(24 * 46), position, moved);
    }
    std::unique_ptr<IndexedProjection> folded = FoldIndexed(s.events());
    ASSERT_NE(folded, nullptr);
    int findings = 0;
    for (uint64_t position = 1; position <= s.events().size(); ++position) {
      // As the server asks: judged at the moment the position was recorded
      // (a finding withdrawn before its date is then never shown, and the
      // index forgets it), and at the end as of a later moment too.
      const absl::Time recorded = FromProtoTime(s.events()[position - 1].event().recorded_at());
      const ReportQuery q{testing::At(2026, 1, 1), testing::At(2026, 7, 1), position, recorded};
      folded->Served(q);
      if (HasFailure()) return;
    }
    const ReportQuery end{testing::At(2026, 1, 1), testing::At(2026, 7, 1), s.events().size(),
                          testing::At(2026, 7, 1)};
    findings = folded->Served(end).findings_size();
    EXPECT_GT(findings, 0) << "seed " << seed;
  }
}

// A group never answered on a matter: its verdict waits on its own
// briefings there, whenever their facts come, and on any new fact on the
// matter naming it; another group's facts there change nothing. A request
// approved and left waiting, then delivered long after the deadline and
// recorded last; an offer to the third group recorded later still; other
// groups' briefings between: the same served or derived as of every
// position (the first two, read otherwise, were missed).
TEST(FindingsIndexLinkedTest, AGroupNeverAnsweredIsDecidedAgainByItsOwnLaterFacts) {
  testing::CouncilScenario s;
  s.Request(testing::At(2026, 3, 23), "B-1", "labour", "plan");
  s.Approve(testing::At(2026, 3, 24), "B-1");
  s.Deliver(testing::At(2026, 4, 1, 12), "B-1");
  s.Request(testing::At(2026, 4, 2), "B-2", "conservative", "plan");
  s.Approve(testing::At(2026, 4, 3), "B-2");
  s.Request(testing::At(2026, 4, 6), "B-3", "labour", "plan");
  s.Decline(testing::At(2026, 4, 7), "B-3", "hos", v1::OFFICER_UNAVAILABLE);
  s.Deliver(testing::At(2026, 4, 20), "B-2");
  s.Offer(testing::At(2026, 4, 22), "O-1", "green", "plan");
  std::unique_ptr<IndexedProjection> folded = FoldIndexed(s.events());
  ASSERT_NE(folded, nullptr);
  for (uint64_t position = 1; position <= s.events().size(); ++position) {
    const absl::Time recorded = FromProtoTime(s.events()[position - 1].event().recorded_at());
    folded->Served(
        ReportQuery{testing::At(2026, 1, 1), testing::At(2026, 7, 1), position, recorded});
    if (HasFailure()) return;
  }
  const v1::FairnessReport end =
      folded->Served(ReportQuery{testing::At(2026, 1, 1), testing::At(2026, 7, 1),
                                 s.events().size(), testing::At(2026, 7, 1)});
  std::string said;
  for (const v1::Finding& f : end.findings()) {
    if (f.rule_id() == "equal-offer") absl::StrAppend(&said, f.explanation(), "\n");
  }
  EXPECT_THAT(said, ::testing::HasSubstr("given only on 20 Apr 2026"));
  EXPECT_THAT(said, ::testing::HasSubstr("offered the same only on 22 Apr 2026"));
}

// A group dissolved before the period that an offer recorded later names:
// the summed figures (which take back what came after the report's
// position) and the derived report agree as of every position, the row
// appearing only once the offer is in the log (review).
TEST(FindingsIndexDissolvedTest, ADissolvedGroupsRowIsTheSameSummedOrDerivedAsOfAnyPosition) {
  testing::CouncilScenario s;
  s.Dissolve(testing::At(2026, 6, 1), "green");
  const uint64_t before_offer = s.events().size();
  s.Offer(testing::At(2026, 6, 10), "O-1", "green", "parks");
  s.Request(testing::At(2026, 6, 11), "B-1", "labour", "parks");
  std::unique_ptr<IndexedProjection> folded = FoldIndexed(s.events());
  ASSERT_NE(folded, nullptr);
  const FairnessSettings& settings = folded->settings;
  const WorkingDayCalendar* calendar = &folded->calendar;
  FairnessProjection& projection = folded->projection;
  for (uint64_t p = before_offer; p <= s.events().size(); ++p) {
    const ReportQuery q{testing::At(2026, 6, 2), testing::At(2026, 7, 1), p,
                        testing::At(2026, 7, 1)};
    const v1::FairnessReport served = projection.Report(q, settings, *calendar);
    EXPECT_EQ(served.SerializeAsString(),
              projection.DerivedReport(q, settings, *calendar).SerializeAsString())
        << "as of position " << p;
    bool green = false;
    for (const auto& g : served.groups()) green |= g.group_id() == "green";
    EXPECT_EQ(green, p > before_offer) << "as of position " << p;
  }
}

TEST(FindingsIndexDemoTest, TheDemoReportIsTheSame) {
  auto calendar = WorkingDayCalendar::LoadFile(EVENHAND_BANK_HOLIDAYS);
  ASSERT_TRUE(calendar.ok());
  const FairnessSettings settings_;
  const WorkingDayCalendar* calendar_ = &*calendar;
  const absl::Time now =
      absl::FromCivil(absl::CivilSecond(2026, 11, 30, 12, 0, 0), absl::UTCTimeZone());
  FairnessProjection p;
  p.IndexFindings(settings_, *calendar_);
  const uint64_t position = FoldDemo(now, &p);
  ASSERT_GT(position, 50u);
  for (uint64_t at = 1; at <= position; at += 10) {
    ReportQuery q{absl::InfinitePast(), absl::InfiniteFuture(), at, now};
    EXPECT_EQ(p.Report(q, settings_, *calendar_).SerializeAsString(),
              p.DerivedReport(q, settings_, *calendar_).SerializeAsString())
        << "as of position " << at;
  }
  const ReportQuery whole{absl::InfinitePast(), absl::InfiniteFuture(), position, now};
  const v1::FairnessReport served = p.Report(whole, settings_, *calendar_);
  EXPECT_EQ(served.SerializeAsString(),
            p.DerivedReport(whole, settings_, *calendar_).SerializeAsString());
  EXPECT_GT(served.findings_size(), 10) << "the demo plants a breach of every rule";
}

// The demo council `evenhandd --demo` loads (demo::DemoCouncil: a year ending
// at the moment the server starts), reported as the server reports it (from
// the index) at that moment: a finding of every rule in the registry, and
// obligations falling due within the protocols' five working days of the
// demo's end (docs/FAIRNESS.md, "Obligations").
TEST(FindingsIndexDemoTest, TheDemoShowsEveryRuleAndObligationsFallingDue) {
  auto calendar = WorkingDayCalendar::LoadFile(EVENHAND_BANK_HOLIDAYS);
  ASSERT_TRUE(calendar.ok());
  const FairnessSettings settings;
  const absl::Time now =
      absl::FromCivil(absl::CivilSecond(2026, 11, 30, 12, 0, 0), absl::UTCTimeZone());
  FairnessProjection p;
  p.IndexFindings(settings, *calendar);
  const uint64_t position = FoldDemo(now, &p);
  const ReportQuery whole{absl::InfinitePast(), absl::InfiniteFuture(), position, now};
  const v1::FairnessReport report = p.Report(whole, settings, *calendar);
  std::set<std::string> found;
  for (const v1::Finding& f : report.findings()) found.insert(f.rule_id());
  const std::vector<v1::RuleInfo> rules = FairnessProjection::Rules(settings);
  for (const v1::RuleInfo& rule : rules) {
    EXPECT_EQ(found.count(rule.rule_id()), 1u) << "no " << rule.rule_id() << " finding";
  }
  EXPECT_EQ(found.size(), rules.size());
  // Open at the demo's end, and some due within five working days of it.
  const uint32_t within = static_cast<uint32_t>(settings.query_reply_working_days);
  int due_soon = 0;
  for (const v1::Obligation& o : report.obligations()) {
    EXPECT_GT(FromProtoTime(o.due_at()), now) << o.case_id();
    if (o.working_days_left() <= within) ++due_soon;
  }
  EXPECT_GT(due_soon, 0) << report.obligations_size() << " obligations open";
}

INSTANTIATE_TEST_SUITE_P(Histories, FindingsIndexTest, ::testing::Range<uint64_t>(1, 13));

}  // namespace
}  // namespace evenhand::projections
