// MapStoredFindings: the fairness projection's checkpoint in maps, as the
// runner keeps it in RocksDB (projections/internal/checkpoint_store.h), for
// tests that checkpoint and restore a projection without the runner.
#ifndef EVENHAND_TESTS_PROJECTIONS_MAP_STORED_FINDINGS_H_
#define EVENHAND_TESTS_PROJECTIONS_MAP_STORED_FINDINGS_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "evenhand/state/fairness_state.pb.h"
#include "gtest/gtest.h"
#include "projections/fairness_projection.h"
#include "projections/internal/day_nanos.h"

namespace evenhand::projections {

// The checkpointed entries, as the runner keeps them in RocksDB (by kind,
// then date or due time, then id), and the cases' bodies, in maps.
class MapStoredFindings : public StoredFindings, public StoredCases {
 public:
  absl::Status ReadCase(const std::string& stream_id, std::string* bytes) const override {
    auto it = cases_.find(stream_id);
    if (it == cases_.end()) return absl::DataLossError("it is missing from the checkpoint");
    ++cases_read_;
    *bytes = it->second.SerializeAsString();
    return absl::OkStatus();
  }
  // How many bodies were read back.
  size_t cases_read() const { return cases_read_; }
  // Loses a case's body, as a damaged checkpoint would.
  void LoseCase(const std::string& stream_id) { cases_.erase(stream_id); }

  using Key = std::tuple<bool, bool, int64_t, uint32_t>;
  absl::Status Scan(
      bool obligations, bool withdrawn, int64_t from, int64_t to, uint64_t /*alive_at*/,
      const std::function<bool(const state::FindingEntryRecord&)>& visit) const override {
    for (auto it = entries_.lower_bound({obligations, withdrawn, from, 0});
         it != entries_.end() && it->first < Key{obligations, withdrawn, to, 0}; ++it) {
      ++entries_scanned_;
      if (!visit(it->second)) break;
    }
    return absl::OkStatus();
  }
  absl::StatusOr<state::FindingEntryRecord> Get(bool obligation, int64_t when,
                                                uint32_t id) const override {
    auto it = entries_.find({obligation, false, when, id});
    if (it == entries_.end()) return absl::NotFoundError("no such entry");
    ++entries_read_;
    return it->second;
  }
  // How many entries were read back (to be withdrawn).
  size_t entries_read() const { return entries_read_; }
  // How many entries reports' scans were handed.
  size_t entries_scanned() const { return entries_scanned_; }
  absl::Status ScanFigureChanges(
      int64_t first_day, int64_t last_day, uint64_t after_position,
      const std::function<void(const state::FigureChangeRecord&)>& visit) const override {
    for (auto it = changes_.lower_bound({first_day, after_position + 1});
         it != changes_.end() && it->first.first <= last_day; ++it) {
      if (it->first.second <= after_position) continue;
      for (const state::FigureChangeRecord& c : it->second.changes()) {
        if (c.position() > after_position) visit(c);
      }
    }
    return absl::OkStatus();
  }
  absl::Status GetFigureChanges(int64_t day, uint64_t last_position,
                                state::FigureChangesRecord* record) const override {
    auto it = changes_.find({day, last_position});
    if (it == changes_.end()) return absl::NotFoundError("no such changes");
    *record = it->second;
    return absl::OkStatus();
  }
  absl::Status ScanFigureSums(
      int64_t first_day, int64_t last_day, uint64_t after_position,
      const std::function<void(int64_t day, uint64_t last_position,
                               const state::FigureSumsRecord&)>& visit) const override {
    for (auto it = sums_.lower_bound({first_day, after_position + 1});
         it != sums_.end() && it->first.first <= last_day; ++it) {
      if (it->first.second <= after_position) continue;
      ++sums_read_;
      visit(it->first.first, it->first.second, it->second);
    }
    return absl::OkStatus();
  }
  // How many summed records reports read.
  size_t sums_read() const { return sums_read_; }
  absl::Status GetSubject(const std::string& stream_id,
                          state::SubjectRecord* record) const override {
    looked_for_.push_back(stream_id);
    if (fail_subject_reads_) return absl::DataLossError("a damaged block");
    auto it = subjects_.find(stream_id);
    if (it == subjects_.end()) return absl::NotFoundError(stream_id);
    ++subjects_read_;
    *record = it->second;
    return absl::OkStatus();
  }
  // How many subjects were read back.
  size_t subjects_read() const { return subjects_read_; }
  // Every stream whose subject was looked for, found or not, in order.
  const std::vector<std::string>& looked_for() const { return looked_for_; }
  // From now on, reading a subject back fails.
  void FailSubjectReads() { fail_subject_reads_ = true; }
  // The subjects as written, by stream id (a test may damage one).
  std::map<std::string, state::SubjectRecord>& subjects() { return subjects_; }
  size_t changes_stored() const { return changes_.size(); }
  // Subjects written ahead (SaveSeeded) and written again since, changed.
  size_t rewritten() const { return rewritten_; }
  // A checkpoint of `p`: its cases and its index, as the runner writes them
  // (without the index's header while it is seeded). Returns how many
  // subjects it wrote. `written`, if given, runs once it is written and
  // before `p` forgets what it wrote: where the runner lets reports in.
  size_t Checkpoint(FairnessProjection& p, const std::function<void()>& written = nullptr) {
    p.ForEachDirtyCase([&](const state::CaseRecord& c) {
      // Serialised, as the runner's checkpoint does (ClearDirty reads the
      // size it cached).
      state::CaseRecord& stored = cases_[c.stream_id()];
      EXPECT_TRUE(stored.ParseFromString(c.SerializeAsString()));
      skeletons_[c.stream_id()] = p.SkeletonOf(c);
    });
    position_ = p.position();
    size_t subjects = 0;
    const bool indexed = p.ForEachDirtyFindingsRecord(
        &header_, [&](const state::FindingEntryRecord& e) { PutEntry(e); },
        [&](const state::SubjectRecord& s) {
          subjects_[s.stream_id()] = s;
          rewritten_ += written_ahead_.contains(s.stream_id());
          ++subjects;
        },
        [&](int64_t day, const state::FigureChangesRecord& r, const state::FigureSumsRecord& sums) {
          ASSERT_FALSE(r.changes().empty());
          for (const state::FigureChangeRecord& c : r.changes()) {
            ASSERT_EQ(internal::DayOf(c.figure().at_nanos()), day);
          }
          ASSERT_EQ(sums.first_position(), r.changes(0).position());
          const ChangeKey key{day, r.changes().rbegin()->position()};
          // Records of a day's changes do not share a position.
          auto next = changes_.lower_bound({day, sums.first_position()});
          ASSERT_TRUE(next == changes_.end() || next->first.first != day);
          ASSERT_TRUE(changes_.emplace(key, r).second);
          ASSERT_TRUE(sums_.emplace(key, sums).second);
        });
    if (!indexed) header_.Clear();
    if (written) written();
    p.ClearDirty();
    p.TrimCases();
    return subjects;
  }
  // The entries and subjects `p` decided while seeding, written ahead of
  // its first checkpoint as the runner does (deleting the header). Returns
  // how many subjects; adds the entries to `entries`.
  size_t SaveSeeded(FairnessProjection& p, size_t* entries = nullptr) {
    size_t subjects = 0;
    p.ForEachSeededFindingsRecord(
        [&](const state::FindingEntryRecord& e) {
          PutEntry(e);
          if (entries != nullptr) ++*entries;
        },
        [&](const state::SubjectRecord& s) {
          subjects_[s.stream_id()] = s;
          rewritten_ += !written_ahead_.insert(s.stream_id()).second;
          ++subjects;
        });
    header_.Clear();
    p.SeededFindingsSaved();
    return subjects;
  }
  // Entries stored, dated, alive or withdrawn (not provisional).
  size_t entries_stored() const { return entries_.size(); }
  // A projection restored from the last checkpoint, as the runner does.
  // With `case_budget`, from the cases' skeletons, their bodies read back
  // from here when needed and kept up to the budget; without, whole.
  // `meanwhile`, if given, is called halfway through reading the subjects
  // back (the runner folds the events appended since the checkpoint then).
  void Restore(FairnessProjection& p, const FairnessSettings& settings,
               const WorkingDayCalendar& calendar, std::optional<size_t> case_budget = {},
               const std::function<void()>& meanwhile = nullptr) {
    if (case_budget) {
      p.KeepCasesIn(this, *case_budget);
      ASSERT_EQ(skeletons_.size(), cases_.size());
      for (const auto& [id, s] : skeletons_) p.RestoreSkeleton(s);
    } else {
      for (const auto& [id, c] : cases_) p.RestoreCase(c);
    }
    p.RestorePosition(position_);
    p.IndexFindings(settings, calendar);
    p.StoreFindingsIn(this);
    ASSERT_TRUE(p.FindingsCheckpointUsable(header_));
    p.DeferFindingsUntilRestored();
    for (const auto& [id, e] : provisional_) ASSERT_TRUE(p.RestoreProvisionalFinding(e).ok());
    size_t filed = 0;
    for (const auto& [id, s] : subjects_) {
      if (meanwhile && filed++ == subjects_.size() / 2) meanwhile();
      ASSERT_TRUE(p.RestoreFindingSubject(s).ok());
    }
    if (meanwhile && subjects_.empty()) meanwhile();
    ASSERT_TRUE(p.FindingsRestored(header_).ok());
  }

 private:
  // As the runner's PutEntry does.
  void PutEntry(const state::FindingEntryRecord& e) {
    if (e.drop_dated()) entries_.erase({e.obligation(), false, e.when_nanos(), e.id()});
    if (e.drop_provisional()) provisional_.erase(e.id());
    if (e.deleted()) return;
    if (e.provisional()) {
      provisional_[e.id()] = e;
    } else {
      entries_[{e.obligation(), e.withdrawn() != 0, e.when_nanos(), e.id()}] = e;
    }
  }

  std::map<Key, state::FindingEntryRecord> entries_;
  std::map<uint32_t, state::FindingEntryRecord> provisional_;
  std::map<std::string, state::SubjectRecord> subjects_;
  std::map<std::string, state::CaseRecord> cases_;
  std::map<std::string, state::CaseSkeletonRecord> skeletons_;
  mutable size_t cases_read_ = 0;
  mutable size_t entries_read_ = 0;
  mutable size_t entries_scanned_ = 0;
  mutable size_t subjects_read_ = 0;
  mutable std::vector<std::string> looked_for_;
  bool fail_subject_reads_ = false;
  // One checkpoint's changes of one day, by the day, then their last
  // position.
  using ChangeKey = std::pair<int64_t, uint64_t>;
  std::map<ChangeKey, state::FigureChangesRecord> changes_;
  std::map<ChangeKey, state::FigureSumsRecord> sums_;
  mutable size_t sums_read_ = 0;
  state::FindingsIndexHeader header_;
  uint64_t position_ = 0;
  std::set<std::string> written_ahead_;
  size_t rewritten_ = 0;
};

}  // namespace evenhand::projections

#endif  // EVENHAND_TESTS_PROJECTIONS_MAP_STORED_FINDINGS_H_
