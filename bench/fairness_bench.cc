// fairness_bench: the fairness projection at scale.
//
//   build/bench/fairness_bench [--events=1000000] [--data_dir=DIR]
//
// Generates a council's history (the demo generator at high intensity) of
// about --events events, writes it into a fresh log, then measures:
//   - rebuild: the projection runner folding the whole log from position 1
//     (RocksDB read, parse, fold, checkpoints), events/s;
//   - restore: starting again from the checkpoint;
//   - report latency for the current quarter, the current year, the whole
//     log, and as of a past position, over repeated calls (median, p99).
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/time_util.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "base/logging.h"
#include "base/uuid.h"
#include "bench/bench_support.h"
#include "demo/council_generator.h"
#include "projections/projection_runner.h"
#include "services/event_validation.h"
#include "services/fairness_service.h"
#include "storage/event_store.h"

ABSL_FLAG(uint64_t, events, 1000000, "approximate number of events to generate");
ABSL_FLAG(std::string, data_dir, "", "where to build the log (default: a fresh folder in $TMPDIR)");
ABSL_FLAG(int, repeats, 20, "report calls per measurement");
ABSL_FLAG(bool, findings_index, true,
          "keep the findings index (false: every report derives its findings, as before)");
ABSL_FLAG(std::vector<std::string>, reports, {},
          "measure only these reports (quarter, year, whole, as-of, as-of-end; default: all five)");
ABSL_FLAG(bool, restart, true,
          "restart the projection from its checkpoint before the reports (false: report from "
          "the rebuilt one, which holds half the memory of both at 10M events)");
ABSL_FLAG(bool, live_index, false,
          "fold and index the log as it is written, as a server does from its first event "
          "(instead of a rebuild after it): the index then holds every position's findings and "
          "figures, and reports as of an earlier position read them (also after --restart, from "
          "its checkpoint)");
ABSL_FLAG(bool, as_it_happens, false,
          "record each event when it happened, in that order (a store clock that follows the "
          "history), as a live server's log is; default: each case's events appended together, "
          "all recorded within seconds of now");
ABSL_FLAG(uint64_t, case_cache_mib, 64,
          "the cases' facts kept in memory (MiB, serialised), as evenhandd's "
          "fairness.case_cache_mib");
ABSL_FLAG(bool, show_findings, false, "print the whole-log findings by rule, and a few examples");

namespace evenhand::bench {
namespace {

// The cases' facts the projection holds (serialised MiB): all, and unsaved.
std::string CaseBytes(const projections::ProjectionRunner& runner) {
  size_t held = 0, unsaved = 0;
  runner.Read([&](const projections::FairnessProjection& p) {
    held = p.case_bytes_held();
    unsaved = p.case_bytes_unsaved();
  });
  return absl::StrFormat("cases' facts held %.1f MiB, %.1f MiB of them unsaved",
                         held / 1048576.0, unsaved / 1048576.0);
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}
double P99(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[std::min(v.size() - 1, v.size() * 99 / 100)];
}

size_t RssMiB() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  long pages = 0, resident = 0;
  if (f != nullptr) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return static_cast<size_t>(resident) * 4096 / (1 << 20);
}

int Main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  logging::SetMinimumSeverity(logging::Severity::kWarning);
  const uint64_t target = absl::GetFlag(FLAGS_events);
  std::string dir = absl::GetFlag(FLAGS_data_dir);
  const bool own_dir = dir.empty();
  if (own_dir) {
    const char* tmp = std::getenv("TMPDIR");
    dir = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/evenhand-fairness-bench-", NewUuid());
  }
  storage::StoreOptions store_options;
  store_options.data_dir = dir;
  // --as_it_happens: the history's clock while it is written, then now.
  std::atomic<int64_t> history_clock{0};
  store_options.clock = [&history_clock] {
    const int64_t nanos = history_clock.load();
    return nanos == 0 ? absl::Now() : absl::FromUnixNanos(nanos);
  };
  // The history's clock steps by hours between events: not the system's,
  // whose steps the store would report as the clock being wrong.
  store_options.clock_is_the_systems = false;
  auto store = storage::EventStore::Open(store_options);
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
    return 1;
  }

  auto calendar = projections::WorkingDayCalendar::LoadFile(EVENHAND_DEFAULT_BANK_HOLIDAYS);
  if (!calendar.ok()) {
    std::fprintf(stderr, "%s\n", calendar.status().ToString().c_str());
    return 1;
  }
  projections::RunnerOptions runner_options;
  runner_options.checkpoint_dir = dir + "/fairness-projection";
  runner_options.rebuild = true;
  runner_options.case_cache_bytes = absl::GetFlag(FLAGS_case_cache_mib) << 20;
  if (absl::GetFlag(FLAGS_findings_index)) {
    runner_options.index_settings = projections::FairnessSettings();
    runner_options.index_calendar = *calendar;
  }
  const bool live = absl::GetFlag(FLAGS_live_index);
  absl::StatusOr<std::unique_ptr<projections::ProjectionRunner>> runner;
  if (live) runner = projections::ProjectionRunner::Start(store->get(), runner_options);

  // ---- generate and write -------------------------------------------------
  const History history = WriteCouncilHistory(
      store->get(), target, absl::GetFlag(FLAGS_as_it_happens) ? &history_clock : nullptr);
  history_clock.store(0);
  const uint64_t last = (*store)->LastPosition();
  std::printf("log: %llu events (%llu appends failed) in %.1f s (%.0f events/s, durable group "
              "commit), intensity %.0f over %d years\n",
              static_cast<unsigned long long>(last),
              static_cast<unsigned long long>(history.appends_failed), history.seconds,
              last / history.seconds, history.intensity, history.years);
  std::printf("RSS before the projection: %zu MiB\n", RssMiB());

  // ---- rebuild ---------------------------------------------------------------
  absl::Time t0 = absl::Now();
  if (live) {
    if (!runner.ok()) {
      std::fprintf(stderr, "%s\n", runner.status().ToString().c_str());
      return 1;
    }
    (*runner)->WaitForPosition(last, absl::InfiniteFuture());
    size_t changes = 0;
    (*runner)->Read([&](const projections::FairnessProjection& p) {
      changes = p.figure_changes_kept();
    });
    std::printf("folded and indexed as written: caught up %.2f s after the load (RSS %zu MiB; "
                "%zu changes to the group totals held, not yet checkpointed)\n",
                absl::ToDoubleSeconds(absl::Now() - t0), RssMiB(), changes);
  }
  if (!live) runner = projections::ProjectionRunner::Start(store->get(), runner_options);
  if (!runner.ok()) {
    std::fprintf(stderr, "%s\n", runner.status().ToString().c_str());
    return 1;
  }
  if (!live) {
  (*runner)->WaitForPosition(last, absl::InfiniteFuture());
  const double rebuild_s = absl::ToDoubleSeconds(absl::Now() - t0);
  size_t cases = 0;
  (*runner)->Read([&](const projections::FairnessProjection& p) { cases = p.case_count(); });
  std::printf("rebuild: %llu events in %.2f s = %.0f events/s (%zu cases; RSS %zu MiB; %s)\n",
              static_cast<unsigned long long>(last), rebuild_s, last / rebuild_s, cases, RssMiB(),
              CaseBytes(**runner).c_str());
  if (absl::GetFlag(FLAGS_findings_index)) {
    // Each case decided once after the fold (reports derived until then).
    bool ready = false;
    while (!ready) {
      (*runner)->Read([&](const projections::FairnessProjection& p) { ready = p.findings_indexed(); });
      if (!ready) absl::SleepFor(absl::Milliseconds(20));
    }
    const double ready_s = absl::ToDoubleSeconds(absl::Now() - t0);
    std::printf("rebuild with the findings index: %.2f s = %.0f events/s (RSS %zu MiB)\n", ready_s,
                last / ready_s, RssMiB());
  }
  }
  if (absl::GetFlag(FLAGS_restart)) {
    (*runner)->Stop();
    runner->reset();
    t0 = absl::Now();
    runner_options.rebuild = false;
    runner = projections::ProjectionRunner::Start(store->get(), runner_options);
    if (!runner.ok()) {
      std::fprintf(stderr, "%s\n", runner.status().ToString().c_str());
      return 1;
    }
    (*runner)->WaitForPosition(last, absl::InfiniteFuture());
    std::printf("restore from checkpoint: %.2f s (RSS %zu MiB; %s)\n",
                absl::ToDoubleSeconds(absl::Now() - t0), RssMiB(), CaseBytes(**runner).c_str());
  }
  if (absl::GetFlag(FLAGS_restart) && absl::GetFlag(FLAGS_findings_index)) {
    // The index is seeded in the background after a restore.
    bool ready = false;
    size_t entries = 0;
    while (!ready) {
      (*runner)->Read([&](const projections::FairnessProjection& p) {
        ready = p.findings_indexed();
        entries = p.indexed_entries();
      });
      if (!ready) absl::SleepFor(absl::Milliseconds(20));
    }
    uint64_t figures_from = 0;
    (*runner)->Read([&](const projections::FairnessProjection& p) {
      figures_from = p.figures_known_from();
    });
    std::printf("findings index ready: %.2f s after the start (%zu findings and obligations; "
                "group tables summed as of positions from %llu)\n",
                absl::ToDoubleSeconds(absl::Now() - t0), entries,
                static_cast<unsigned long long>(figures_from));
  }

  // ---- reports ------------------------------------------------------------------
  services::FairnessService service(store->get(), runner->get(), nullptr, *calendar, {});
  auto ts = [](absl::Time t) {
    google::protobuf::Timestamp p;
    p.set_seconds(absl::ToUnixSeconds(t));
    return p;
  };
  struct Case {
    const char* name;
    v1::ReportRequest request;
  };
  std::vector<Case> cases_to_run(5);
  cases_to_run[0].name = "current quarter";
  *cases_to_run[0].request.mutable_from() = ts(absl::Now() - absl::Hours(24 * 91));
  cases_to_run[1].name = "current year";
  *cases_to_run[1].request.mutable_from() = ts(absl::Now() - absl::Hours(24 * 365));
  cases_to_run[2].name = "whole log";
  cases_to_run[3].name = "year, as of mid-log";
  *cases_to_run[3].request.mutable_from() = ts(absl::Now() - absl::Hours(24 * 365 * 3));
  *cases_to_run[3].request.mutable_to() = ts(absl::Now() - absl::Hours(24 * 365 * 2));
  cases_to_run[3].request.set_as_of_position(last / 2);
  // The same year as the log stood once it was written (before the next
  // year's events): what a committee asks of a past year. Every event of
  // this bench is recorded within seconds, long after it happened, so as of
  // mid-log the report counts (and takes back) the whole second half of the
  // year; as of the year's end, only what later years changed in it.
  cases_to_run[4].name = "year, as of its end";
  cases_to_run[4].request = cases_to_run[3].request;
  cases_to_run[4].request.set_as_of_position(history.year_end_positions.at(2));
  std::printf("%-22s %10s %10s %9s %11s %9s %7s\n", "report", "median ms", "p99 ms", "findings",
              "obligations", "evidence", "groups");
  const std::vector<std::string> only = absl::GetFlag(FLAGS_reports);
  const char* const kShort[] = {"quarter", "year", "whole", "as-of", "as-of-end"};
  for (size_t k = 0; k < cases_to_run.size(); ++k) {
    const Case& c = cases_to_run[k];
    if (!only.empty() && std::find(only.begin(), only.end(), kShort[k]) == only.end()) continue;
    std::vector<double> ms;
    int findings = 0, obligations = 0, evidence = 0, groups = 0;
    for (int i = 0; i < absl::GetFlag(FLAGS_repeats); ++i) {
      absl::Time start = absl::Now();
      auto report = service.BuildReport(c.request);
      ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
      if (!report.ok()) {
        std::fprintf(stderr, "%s\n", report.status().ToString().c_str());
        return 1;
      }
      findings = report->findings_size();
      obligations = report->obligations_size();
      evidence = report->evidence_size();
      groups = report->groups_size();
    }
    std::printf("%-22s %10.1f %10.1f %9d %11d %9d %7d\n", c.name, Median(ms), P99(ms), findings,
                obligations, evidence, groups);
  }
  std::printf("RSS %zu MiB\n", RssMiB());
  if (absl::GetFlag(FLAGS_show_findings)) {
    auto report = service.BuildReport(v1::ReportRequest());
    std::map<std::string, int> by_rule;
    std::map<std::string, std::string> example;
    for (const auto& f : report->findings()) {
      ++by_rule[f.rule_id()];
      example.try_emplace(f.rule_id(), f.explanation());
    }
    for (const auto& [rule, n] : by_rule) {
      std::printf("  %-26s %6d  e.g. %s\n", rule.c_str(), n, example[rule].c_str());
    }
  }
  (*runner)->Stop();
  runner->reset();  // closes its RocksDB before the folder goes
  (*store)->Close().IgnoreError();
  if (own_dir) {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
  return 0;
}

}  // namespace
}  // namespace evenhand::bench

int main(int argc, char** argv) { return evenhand::bench::Main(argc, argv); }
