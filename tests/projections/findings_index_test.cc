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
#include "tests/projections/indexed_projection.h"
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

// After a restart, the events appended since the checkpoint are folded
// into the cases while the index is read back (a report as of them is then
// derived at once, not kept waiting for the whole index), and decided once
// it is whole, in the order they came, each as of its own position: the
// restored projection then serves, as of every position, what one that
// decided them as they came serves, and what the full derivation gives; so
// does one restored from its next checkpoint.
TEST_P(FindingsIndexTest, EventsFoldedWhileTheIndexIsReadBackAreDecidedOnceItIsWhole) {
  History h(GetParam() + 5000);
  const auto& log = h.log();
  const uint64_t n = log.size();
  const uint64_t cut = n * 2 / 3;
  MapStoredFindings stored;
  FairnessProjection p;
  p.IndexFindings(settings_, *calendar_);
  p.StoreFindingsIn(&stored);
  for (uint64_t i = 0; i < cut; ++i) {
    p.Apply(log[i]);
    if (log[i].position() % 53 == 0) stored.Checkpoint(p);
  }
  stored.Checkpoint(p);
  const std::optional<size_t> budget =
      GetParam() % 2 == 0 ? std::optional<size_t>(0) : std::nullopt;
  MapStoredFindings restored_store = stored;
  FairnessProjection restored;
  restored_store.Restore(restored, settings_, *calendar_, budget, [&] {
    for (uint64_t i = cut; i < n; ++i) restored.Apply(log[i]);
    EXPECT_EQ(restored.position(), n);
    EXPECT_FALSE(restored.findings_indexed()) << "derived until the index is whole";
  });
  if (HasFatalFailure()) return;
  ASSERT_TRUE(restored.findings_indexed());
  for (uint64_t i = cut; i < n; ++i) p.Apply(log[i]);
  restored_store.Checkpoint(restored);
  MapStoredFindings again_store = restored_store;
  FairnessProjection again;
  again_store.Restore(again, settings_, *calendar_, budget);
  if (HasFatalFailure()) return;
  google::protobuf::util::MessageDifferencer d;
  std::string diff;
  d.ReportDifferencesToString(&diff);
  for (int i = 0; i < 40; ++i) {
    ReportQuery q = RandomQuery(h, i, n);
    if (i % 2 == 1) {
      // As of a position folded while the index was read back.
      q.as_of_position = static_cast<uint64_t>(h.Pick(static_cast<int>(cut), static_cast<int>(n)));
      q.as_of_time = h.RecordedAt(q.as_of_position);
    }
    ExpectSame(restored, q, "decided once the index was whole");
    const v1::FairnessReport as_they_came = p.Report(q, settings_, *calendar_);
    diff.clear();
    EXPECT_TRUE(d.Compare(as_they_came, restored.Report(q, settings_, *calendar_)))
        << "as of position " << q.as_of_position << "\n"
        << diff.substr(0, 4000);
    diff.clear();
    EXPECT_TRUE(d.Compare(as_they_came, again.Report(q, settings_, *calendar_)))
        << "restored from the next checkpoint, as of position " << q.as_of_position << "\n"
        << diff.substr(0, 4000);
    if (HasFailure()) return;
  }
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

// A report as of a past position sums the checkpointed changes of its whole
// days that all came after it, and reads one by one those still held: a
// reply summed as come since and then corrected (held) is put back before
// what came since is taken out, so the reply-days distribution (its median
// in the group table) is the one derived, as of every position, with the
// checkpoint taken after each event up to the reply and none since (review:
// summed first, a distribution that takes back only what it holds kept the
// reply as first recorded).
TEST(FindingsIndexSummedTest, ChangesSummedSinceAndCorrectedSinceAreTakenBackInOrder) {
  testing::CouncilScenario s;
  s.Query(testing::At(2026, 6, 1, 10), "Q-1", "lab-1");
  s.Answer(testing::At(2026, 6, 2, 10), "Q-1");
  // Recorded at the end of June; what follows happened earlier in the month
  // and is recorded then too, so that a report as of a position before it,
  // judged then, counts the days it happened on.
  const uint64_t late = s.Query(testing::At(2026, 6, 30, 10), "Q-0", "con-1");
  s.Query(testing::At(2026, 6, 3, 10), "Q-2", "lab-2");
  const uint64_t answered = s.Answer(testing::At(2026, 6, 5, 10), "Q-2");
  const uint64_t checkpointed = s.events().size();
  // Answered later than first recorded: held, not checkpointed.
  s.CorrectWhen(testing::At(2026, 6, 30, 11), answered, testing::At(2026, 6, 10, 10));
  auto calendar = WorkingDayCalendar::LoadFile(EVENHAND_BANK_HOLIDAYS);
  ASSERT_TRUE(calendar.ok());
  const FairnessSettings settings;
  FairnessProjection p;
  MapStoredFindings stored;
  p.IndexFindings(settings, *calendar);
  p.StoreFindingsIn(&stored);
  for (const v1::RecordedEvent& e : s.events()) {
    p.Apply(e);
    if (e.position() <= checkpointed) stored.Checkpoint(p);
  }
  for (uint64_t position = 1; position <= s.events().size(); ++position) {
    const size_t sums_read = stored.sums_read();
    // Judged when the position was recorded, as the server asks.
    const ReportQuery q{testing::At(2026, 5, 1), testing::At(2026, 7, 1), position,
                        FromProtoTime(s.events()[position - 1].event().recorded_at())};
    const v1::FairnessReport served = p.Report(q, settings, *calendar);
    const v1::FairnessReport derived = p.DerivedReport(q, settings, *calendar);
    EXPECT_EQ(served.SerializeAsString(), derived.SerializeAsString())
        << "as of position " << position << "\n"
        << served.DebugString() << "\n"
        << derived.DebugString();
    // What came after it summed, not read one by one.
    if (position >= late && position < answered) {
      EXPECT_GT(stored.sums_read(), sums_read) << position;
    }
  }
}

// Changes made since a report's position that cancel in their sums (one
// green request's decline withdrawn and its approval recorded, another's
// approval withdrawn and a decline recorded, all of one day, checkpointed
// together) still change which declines access-parity cites: as of a
// position before them, the finding's evidence is the decline there then,
// read one by one, not the one recorded since (review of 50f2ea5: a sum of
// nothing was taken for no change, FigureChanges::summed_any).
TEST(FindingsIndexSummedTest, ChangesThatCancelInTheirSumsStillChangeTheEvidence) {
  testing::CouncilScenario s;
  for (const auto& [group, total, declined] :
       {std::tuple{"green", 8, 6}, {"labour", 12, 1}, {"conservative", 10, 0}}) {
    for (int i = 0; i < total; ++i) {
      const std::string id = absl::StrCat(group, "-", i);
      const absl::Time at = testing::At(2026, 1, 5) + absl::Hours(24 * i);
      s.Request(at, id, group, absl::StrCat("m-", id));
      if (i < declined) {
        s.Decline(at + absl::Hours(3), id, "ceo", v1::RESOURCES);
      } else {
        s.Approve(at + absl::Hours(3), id);
      }
    }
  }
  // Two more of green's, decided on one day: X declined, Y approved.
  const absl::Time day = testing::At(2026, 1, 20, 10);
  s.Request(day, "X", "green", "m-x");
  const uint64_t x_declined = s.Decline(day + absl::Hours(1), "X", "ceo", v1::RESOURCES);
  s.Request(day, "Y", "green", "m-y");
  const uint64_t y_approved = s.Approve(day + absl::Hours(1), "Y");
  // Recorded days after: the 20th is a whole day of a report as of here.
  const uint64_t before = s.Query(testing::At(2026, 1, 26, 10), "Q-1", "lab-1");
  // A fortnight later, the two decisions swapped: the day's sums cancel.
  const absl::Time later = testing::At(2026, 2, 3, 10);
  s.Correct(later, x_declined, std::nullopt);
  s.Approve(later, "X");
  s.Correct(later, y_approved, std::nullopt);
  s.Decline(later, "Y", "ceo", v1::RESOURCES);
  // The decisions' instants (when they happened): recorded on 3 February,
  // they were made on the 20th January, so the changes are to that day.
  std::vector<v1::RecordedEvent> events = s.events();
  for (uint64_t p = before + 1; p <= events.size(); ++p) {
    v1::Payload& payload = *events[p - 1].mutable_event()->mutable_payload();
    if (payload.has_briefing_approved() || payload.has_briefing_declined()) {
      *events[p - 1].mutable_event()->mutable_occurred_at() = ToProtoTime(day + absl::Hours(2));
    }
  }
  auto calendar = WorkingDayCalendar::LoadFile(EVENHAND_BANK_HOLIDAYS);
  ASSERT_TRUE(calendar.ok());
  const FairnessSettings settings;
  FairnessProjection p;
  MapStoredFindings stored;
  p.IndexFindings(settings, *calendar);
  p.StoreFindingsIn(&stored);
  for (const v1::RecordedEvent& e : events) {
    p.Apply(e);
    if (e.position() <= before || e.position() == events.size()) stored.Checkpoint(p);
  }
  bool cited_x = false;
  for (uint64_t position = before; position <= events.size(); ++position) {
    const ReportQuery q{testing::At(2026, 1, 1), testing::At(2026, 3, 1), position,
                        FromProtoTime(events[position - 1].event().recorded_at())};
    const v1::FairnessReport served = p.Report(q, settings, *calendar);
    const v1::FairnessReport derived = p.DerivedReport(q, settings, *calendar);
    EXPECT_EQ(served.SerializeAsString(), derived.SerializeAsString())
        << "as of position " << position << "\n"
        << served.DebugString() << "\n"
        << derived.DebugString();
    if (position != before) continue;
    for (const v1::Finding& f : served.findings()) {
      if (f.rule_id() != "access-parity") continue;
      for (uint64_t cited : f.evidence_positions()) cited_x |= cited == x_declined;
    }
  }
  EXPECT_TRUE(cited_x) << "as of the day's decisions, X's decline is evidence";
}

// A query recorded saying it was received up to a day ahead of the clock
// (the skew the server accepts) holds an obligation open at every moment
// after it was recorded: the report derived from the cases lists it as the
// index does, whether or not a correction recorded later moves when it was
// received (found from outside: the derived report dropped such queries
// unless a later correction moved them into the past).
TEST(FindingsIndexAheadTest, AQueryRecordedAsReceivedAheadHoldsItsObligationDerivedAsServed) {
  testing::CouncilScenario s;
  const uint64_t q1 = s.Query(testing::At(2026, 6, 10, 10), "Q-1", "lab-1");
  const uint64_t q2 = s.Query(testing::At(2026, 6, 10, 11), "Q-2", "con-1");
  s.CorrectWhen(testing::At(2026, 6, 10, 12), q2, testing::At(2026, 6, 9, 12));
  s.Answer(testing::At(2026, 6, 12, 10), "Q-1");
  std::vector<v1::RecordedEvent> events = s.events();
  // The two queries recorded the evening before (14 and 15 hours ahead).
  for (uint64_t p : {q1, q2}) {
    *events[p - 1].mutable_event()->mutable_recorded_at() =
        ToProtoTime(testing::At(2026, 6, 9, 20));
  }
  std::unique_ptr<IndexedProjection> folded = FoldIndexed(events);
  ASSERT_NE(folded, nullptr);
  for (uint64_t position = q1; position <= events.size(); ++position) {
    for (const absl::Time to : {absl::InfiniteFuture(), testing::At(2026, 6, 30)}) {
      const ReportQuery q{testing::At(2026, 6, 1), to, position,
                          FromProtoTime(events[position - 1].event().recorded_at())};
      const v1::FairnessReport served = folded->Served(q);
      if (position == q2) {
        std::vector<std::string> open;
        for (const v1::Obligation& o : served.obligations()) open.push_back(o.case_id());
        EXPECT_THAT(open, ::testing::UnorderedElementsAre("query-Q-1", "query-Q-2"));
      }
    }
  }
}

// The demo council (scripts/run): its report from the index is the derived
// one, findings, obligations, group figures and all, as of every tenth
// position and at the end.
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
