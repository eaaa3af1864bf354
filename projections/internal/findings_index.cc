#include "projections/internal/findings_index.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "projections/internal/decisions_digest.h"  // generated (CMakeLists.txt)

namespace evenhand::projections::internal {
namespace {

// Whether `a` and `b` hold the same contributions, in any order (a case
// has a handful).
bool SameContributions(const std::vector<Contribution>& a, const std::vector<Contribution>& b) {
  if (a.size() != b.size()) return false;
  std::vector<bool> used(b.size(), false);
  for (const Contribution& x : a) {
    bool found = false;
    for (size_t j = 0; j < b.size() && !found; ++j) {
      if (!used[j] && b[j] == x) used[j] = found = true;
    }
    if (!found) return false;
  }
  return true;
}

}  // namespace

FindingsIndex::FindingsIndex(const FairnessProjection& projection, FairnessSettings settings,
                             WorkingDayCalendar calendar, bool seeded)
    : settings_(std::move(settings)),
      calendar_(std::move(calendar)),
      builder_(projection, settings_, calendar_, ReportBuilder::ForIndex{}),
      complete_from_(seeded ? 0 : UINT64_MAX),
      seeding_(!seeded) {
  builder_.KeepMattersBetweenDecisions();
}

bool FindingsIndex::Seed(const FairnessProjection::Indexes& indexes, uint64_t position,
                         size_t max_cases) {
  if (!seeding_) return true;
  builder_.ReloadRegistry(position);
  if (seed_list_ == 0 && seed_next_ == 0) {
    access_.Rebuild(builder_, indexes.access);
    builder_.ReleaseBodies();
  }
  // No report is served as of a position before the seeding's end: the
  // changes it makes need not be kept for one.
  figures_.KnownFrom(position);
  last_position_ = std::max(last_position_, position);
  const std::vector<const Case*>* lists[] = {&indexes.briefings, &indexes.meetings,
                                             &indexes.queries, &indexes.complaints,
                                             &indexes.members};
  for (; seed_list_ < std::size(lists); ++seed_list_, seed_next_ = 0) {
    const std::vector<const Case*>& list = *lists[seed_list_];
    for (; seed_next_ < list.size(); ++seed_next_) {
      if (max_cases-- == 0) return false;
      // A subject an event has decided since needs no seeding (and must
      // not lose the positions its findings appeared at).
      if (list[seed_next_]->kind == CaseKind::kMeeting) {
        NoteLinksAhead(*list[seed_next_]);
        builder_.ReleaseBodies();
      }
      if (!subjects_.contains(list[seed_next_]) && !let_go_.contains(list[seed_next_])) {
        Decide(*list[seed_next_], position, INT64_MIN);
        // Failed (Fail() ended the seeding): it answers no report.
        if (failed_) return true;
      }
    }
  }
  // Every subject holds what it had at `position` or later.
  seeding_ = false;
  seeded_unsaved_ = true;
  complete_from_ = position;
  return true;
}

FindingsIndex::Subject* FindingsIndex::SubjectOf(const Case* subject) {
  std::unique_ptr<Subject>& held = subjects_[subject];
  if (held != nullptr) return held.get();
  held = std::make_unique<Subject>();
  if (stored_ == nullptr || (!subjects_stored_ && !let_go_.contains(subject))) {
    return held.get();
  }
  state::SubjectRecord record;
  absl::Status read = stored_->GetSubject(std::string(subject->stream_id()), &record);
  if (absl::IsNotFound(read)) return held.get();  // it had nothing to store
  if (read.ok()) read = SubjectFromRecord(record, subject, held.get(), nullptr);
  if (read.ok()) return held.get();
  subjects_.erase(subject);
  Fail(read);
  return nullptr;
}

void FindingsIndex::Forget(const Case* subject, const Subject& s) {
  // A bug: a subject is among the readers of everything it read (or, for
  // the readers up to an instant, the second of two names it read with one
  // 64-bit hash: BoundedReaders).
  auto not_there = [] {
    logging::Error("fairness", "findings index: a subject was not among a name's readers");
  };
  auto forget = [subject, &not_there](auto& readers, absl::string_view key) {
    auto it = readers.find(key);
    if (it == readers.end()) {
      not_there();
      return;
    }
    it->second.erase(subject);
    if (it->second.empty()) readers.erase(it);
  };
  s.cases.ForEach([&](absl::string_view key) { forget(case_readers_, key); });
  s.matters.ForEach([&](absl::string_view key) { forget(matter_readers_, key); });
  if (s.bounded != nullptr) {
    s.bounded->cases.ForEach([&](absl::string_view key) {
      if (!bounded_case_readers_.Remove(key, subject)) not_there();
    });
    s.bounded->matters.ForEach([&](absl::string_view key) {
      if (!bounded_matter_readers_.Remove(key, subject)) not_there();
    });
  }
  if (s.council_until != INT64_MIN) {
    auto [begin, end] = council_readers_.equal_range(s.council_until);
    for (auto it = begin; it != end; ++it) {
      if (it->second == subject) {
        council_readers_.erase(it);
        break;
      }
    }
  }
}

// FNV-1a over what a decided entry says: equal content, equal digest.
static uint64_t Digest(const Decided& d) {
  uint64_t h = 1469598103934665603ULL;
  auto mix = [&h](const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) {
      h ^= p[i];
      h *= 1099511628211ULL;
    }
  };
  auto mix_string = [&](const std::string& s) {
    const uint64_t n = s.size();
    mix(&n, sizeof n);
    mix(s.data(), s.size());
  };
  const unsigned char obligation = d.obligation ? 1 : 0;
  mix(&obligation, 1);
  mix(&d.when_nanos, sizeof d.when_nanos);
  mix_string(d.proto);
  for (const auto& [position, summary] : d.evidence) {
    mix(&position, sizeof position);
    mix_string(summary);
  }
  return h;
}

void FindingsIndex::Fail(const absl::Status& status) {
  failed_ = true;
  if (absl::IsDataLoss(status) && damage_.ok()) damage_ = status;
  if (complete_from_ == UINT64_MAX && !seeding_) return;
  logging::Error("fairness", absl::StrCat("the findings index stops answering (reports are "
                                          "derived in full until a restart): ",
                                          status.ToString()));
  complete_from_ = UINT64_MAX;
  seeding_ = false;
}

void FindingsIndex::Withdraw(const Alive& alive, uint64_t position, int64_t recorded_nanos) {
  // A finding withdrawn well before its date came (a reply days before the
  // deadline, the offer made in time) was never shown: a report as of a
  // position before this one is judged before this event was recorded, so
  // before the date. Forgotten, rather than kept withdrawn, so the period's
  // range holds only findings that were shown. The margin covers a report
  // that reads the clock, then the log's end, while an event stamped before
  // that reading is still being written (milliseconds; a stalled disk,
  // seconds), and a clock stepped back: a finding due within it is kept.
  constexpr int64_t kMargin = 3600LL * 1000000000;
  const bool never_shown = !alive.obligation && recorded_nanos != INT64_MIN &&
                           alive.when_nanos - kMargin > recorded_nanos;
  auto it = pending_.find(alive.id);
  if (never_shown) {
    if (it != pending_.end() && !it->second.stored && !it->second.provisional_written) {
      auto [begin, end] = pending_findings_.equal_range(alive.when_nanos);
      for (auto f = begin; f != end; ++f) {
        if (f->second == alive.id) {
          pending_findings_.erase(f);
          break;
        }
      }
      pending_.erase(it);
      return;
    }
    if (it != pending_.end()) {
      it->second.deleted = true;  // what is stored goes at the next checkpoint
      return;
    }
    Entry& tomb = pending_[alive.id];
    tomb.decided.obligation = false;
    tomb.decided.when_nanos = alive.when_nanos;
    tomb.stored = tomb.deleted = true;
    return;
  }
  if (it == pending_.end()) {
    // Checkpointed: read it back to store it again, withdrawn.
    if (stored_ == nullptr) return Fail(absl::InternalError("an entry is neither held nor stored"));
    absl::StatusOr<state::FindingEntryRecord> record =
        stored_->Get(alive.obligation, alive.when_nanos, alive.id);
    if (!record.ok()) return Fail(record.status());
    Entry e;
    e.decided = FromRecord(*record);
    e.subject = nullptr;  // not needed again: only its subject's name is stored
    e.appeared = record->appeared();
    e.stored = true;
    it = pending_.emplace(alive.id, std::move(e)).first;
    subject_names_.emplace(alive.id, record->subject());
    (alive.obligation ? pending_obligations_ : pending_findings_)
        .emplace(alive.when_nanos, alive.id);
  }
  it->second.withdrawn = position;
}

void FindingsIndex::Decide(const Case& subject, uint64_t position, int64_t recorded_nanos) {
  ++decisions_;
  contributions_.clear();
  std::vector<Decided> now = builder_.Decide(subject, position, &reads_, &contributions_);
  Subject* held = SubjectOf(&subject);
  if (held == nullptr) return;  // the index has failed
  Subject& s = *held;
  std::vector<Contribution> had;
  if (!s.figures.empty()) figures_.OfCase(&subject, s.figures, &had);
  if (!SameContributions(contributions_, had)) {
    // Only what changed: a briefing given does not take back and add again
    // its request and decision (each change is kept for earlier positions).
    absl::flat_hash_map<Contribution, int> before;
    for (const Contribution& x : had) ++before[x];
    for (const Contribution& x : contributions_) {
      auto it = before.find(x);
      if (it != before.end() && it->second > 0) {
        --it->second;
      } else {
        figures_.Add(x, position);
      }
    }
    for (const auto& [x, n] : before) {
      for (int i = 0; i < n; ++i) figures_.Remove(x, position);
    }
    s.figures.clear();
    for (const Contribution& x : contributions_) s.figures.push_back(GroupFigures::KeyOf(x));
    SortUnique(&s.figures);
    dirty_subjects_.insert(&subject);
  }

  // What is still there stays; what is gone is withdrawn; what is new appears.
  std::vector<uint64_t> digests;
  digests.reserve(now.size());
  for (const Decided& d : now) digests.push_back(Digest(d));
  std::vector<bool> matched(now.size(), false);
  // Each alive entry takes the first unmatched decision of its digest. For
  // the usual few, a scan; for a case with many (thousands of attendances
  // each found wanting), by digest, the decisions' indexes in order and how
  // many are taken (those taken are always a prefix): one pass, not one
  // pass per finding.
  const bool few = now.size() * s.alive.size() <= 64;
  absl::flat_hash_map<uint64_t, std::pair<std::vector<size_t>, size_t>> by_digest;
  if (!few) {
    for (size_t j = 0; j < now.size(); ++j) by_digest[digests[j]].first.push_back(j);
  }
  std::vector<Alive> alive;
  for (const Alive& a : s.alive) {
    bool found = false;
    if (few) {
      for (size_t j = 0; j < now.size(); ++j) {
        if (!matched[j] && digests[j] == a.digest) {
          matched[j] = found = true;
          break;
        }
      }
    } else if (auto it = by_digest.find(a.digest); it != by_digest.end()) {
      auto& [indexes, taken] = it->second;
      if (taken < indexes.size()) matched[indexes[taken++]] = found = true;
    }
    if (found) {
      alive.push_back(a);
    } else {
      Withdraw(a, position, recorded_nanos);
    }
  }
  for (size_t j = 0; j < now.size(); ++j) {
    if (matched[j]) continue;
    const uint32_t id = next_id_++;
    Entry& e = pending_[id];
    e.decided = std::move(now[j]);
    e.subject = &subject;
    e.appeared = position;
    (e.decided.obligation ? pending_obligations_ : pending_findings_)
        .emplace(e.decided.when_nanos, id);
    alive.push_back({id, digests[j], e.decided.when_nanos, e.decided.obligation});
  }
  if (alive != s.alive) dirty_subjects_.insert(&subject);
  s.alive = std::move(alive);

  // What it read, for the next events (its own case needs no entry).
  reads_.cases.erase(subject.stream_id());
  auto sorted = [](const absl::flat_hash_set<std::string>& names) {
    std::vector<absl::string_view> out(names.begin(), names.end());
    std::sort(out.begin(), out.end());
    return PackedNames::Of(out);
  };
  // Read bounded and also not: not bounded. Bounded by nothing: not bounded.
  for (auto [bounded, all] : {std::pair(&reads_.bounded_cases, &reads_.cases),
                              std::pair(&reads_.bounded_matters, &reads_.matters)}) {
    for (auto it = bounded->begin(); it != bounded->end();) {
      if (it->second == INT64_MAX) all->insert(it->first);
      if (it->second == INT64_MAX || all->contains(it->first) ||
          (bounded == &reads_.bounded_cases && it->first == subject.stream_id())) {
        bounded->erase(it++);
      } else {
        ++it;
      }
    }
  }
  // Read as before (most decisions): nothing to sort, pack or file again
  // (a decision on a matter of hundreds of briefings sorted their names).
  auto same = [](const PackedNames& before, const absl::flat_hash_set<std::string>& now) {
    size_t n = 0;
    bool all = true;
    before.ForEach([&](absl::string_view name) {
      ++n;
      all = all && now.contains(name);
    });
    return all && n == now.size();  // (names are kept once each)
  };
  auto same_bounded = [](const PackedNames& before, const std::vector<int64_t>& untils,
                         const absl::flat_hash_map<std::string, int64_t>& now) {
    size_t n = 0;
    bool all = true;
    before.ForEach([&](absl::string_view name) {
      auto it = now.find(name);
      all = all && it != now.end() && it->second == untils[n];
      ++n;
    });
    return all && n == now.size();
  };
  const bool same_bounds =
      s.bounded == nullptr
          ? reads_.bounded_cases.empty() && reads_.bounded_matters.empty()
          : same_bounded(s.bounded->cases, s.bounded->case_untils, reads_.bounded_cases) &&
                same_bounded(s.bounded->matters, s.bounded->matter_untils, reads_.bounded_matters);
  if (reads_.council_until == s.council_until && same_bounds && same(s.cases, reads_.cases) &&
      same(s.matters, reads_.matters)) {
    return;
  }
  PackedNames cases = sorted(reads_.cases);
  PackedNames matters = sorted(reads_.matters);
  std::unique_ptr<Subject::Bounded> bounded;
  if (!reads_.bounded_cases.empty() || !reads_.bounded_matters.empty()) {
    bounded = std::make_unique<Subject::Bounded>();
    auto pack = [](const absl::flat_hash_map<std::string, int64_t>& names, PackedNames* packed,
                   std::vector<int64_t>* untils) {
      std::vector<std::pair<absl::string_view, int64_t>> in_order(names.begin(), names.end());
      std::sort(in_order.begin(), in_order.end());
      for (const auto& [name, until] : in_order) {
        packed->Append(name);
        untils->push_back(until);
      }
    };
    pack(reads_.bounded_cases, &bounded->cases, &bounded->case_untils);
    pack(reads_.bounded_matters, &bounded->matters, &bounded->matter_untils);
  }
  dirty_subjects_.insert(&subject);
  Forget(&subject, s);
  s.cases = std::move(cases);
  s.matters = std::move(matters);
  s.council_until = reads_.council_until;
  s.bounded = std::move(bounded);
  AddReader(&subject, s);
}

void FindingsIndex::AddReader(const Case* subject, const Subject& s) {
  s.cases.ForEach([&](absl::string_view key) { case_readers_[key].insert(subject); });
  s.matters.ForEach([&](absl::string_view key) { matter_readers_[key].insert(subject); });
  if (s.bounded != nullptr) {
    size_t i = 0;
    s.bounded->cases.ForEach([&](absl::string_view key) {
      bounded_case_readers_.Add(key, subject, s.bounded->case_untils[i++]);
    });
    i = 0;
    s.bounded->matters.ForEach([&](absl::string_view key) {
      bounded_matter_readers_.Add(key, subject, s.bounded->matter_untils[i++]);
    });
  }
  if (s.council_until != INT64_MIN) council_readers_.emplace(s.council_until, subject);
}

std::string FindingsIndex::FingerprintOf(const FairnessSettings& s,
                                         const WorkingDayCalendar& calendar) {
  std::string out =
      absl::StrCat("findings-6|", kDecisionsDigest, "|", s.council_name, "|",
                   s.offer_deadline_working_days, "|", s.equal_offer_lookback_days, "|",
                   s.query_reply_working_days, "|", s.same_matter_window_days, "|", s.parity_alpha,
                   "|", s.decline_rate_gap, "|", s.late_reply_gap, "|", s.officer_time_ratio, "|",
                   s.parity_min_cases, "|", calendar.first_year(), "-", calendar.last_year());
  for (absl::CivilDay d : calendar.bank_holidays()) {
    absl::StrAppend(&out, "|", absl::FormatCivilTime(d));
  }
  return out;
}

}  // namespace evenhand::projections::internal
