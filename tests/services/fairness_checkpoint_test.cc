// The fairness projection's checkpoint, end to end: the real server restarted,
// rebuilt and damaged, reports read back over gRPC and compared.
#include <httplib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "clients/audit_client.h"
#include "demo/demo_council.h"
#include "evenhand/state/fairness_state.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "integrity/bundle.h"
#include "reporting/provenance.h"
#include "reporting/report_document.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"
#include "tests/services/fairness_service_fixture.h"
#include "tests/testing/council_scenario.h"
#include "tests/testing/events.h"
#include "tests/testing/server_fixture.h"
#include "tests/testing/status_matchers.h"

namespace evenhand {
namespace {

using ::evenhand::testing::StatusIs;
using ::evenhand::testing::ToProtoTime;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::SizeIs;

TEST_F(FairnessServiceTest, IncrementalCheckpointedAndRebuiltProjectionsReportTheSame) {
  StartServer();
  AppendDemoCouncil();
  if (HasFatalFailure()) return;
  v1::ReportRequest request;
  request.set_as_of_position(server_->LastPosition());
  const std::string incremental = Report(request).SerializeAsString();
  // Restarted: restored from the checkpoint written at shutdown.
  StartServer();
  EXPECT_EQ(Report(request).SerializeAsString(), incremental);
  // Rebuilt: the checkpoint discarded and the whole log folded again.
  rebuild_projections_ = true;
  StartServer();
  EXPECT_EQ(Report(request).SerializeAsString(), incremental);
}

// The findings index is checkpointed with the cases: after a restart,
// reports as of any earlier position are still served from it (and equal
// what they were), not derived; a rebuild decides it again from position 1.
TEST_F(FairnessServiceTest, TheFindingsIndexSurvivesARestartWithItsHistory) {
  v1::ServerConfig config;
  config.mutable_metrics()->set_listen("127.0.0.1:0");
  // Checkpoints all along: entries are read back from disk to be withdrawn.
  config.mutable_fairness()->set_checkpoint_every_events(7);
  // Seeded a few cases at a time (when it is seeded, below): the subjects
  // and entries of each slice are written ahead of the index's first
  // checkpoint.
  std::atomic<size_t> written_ahead = 0;
  std::atomic<size_t> entries_ahead = 0;
  customize_ = [&](server::ServerOptions& o) {
    o.TEST_seed_slice_cases = 3;
    o.TEST_seeded_written = [&](size_t subjects, size_t entries) {
      written_ahead += subjects;
      entries_ahead += entries;
    };
  };
  auto gauge = [&](const std::string& name) { return Gauge(name); };
  StartServer(config);
  AppendDemoCouncil();
  if (HasFatalFailure()) return;
  const uint64_t n = server_->LastPosition();
  ASSERT_EQ(gauge("evenhand_findings_index_ready"), 1);
  EXPECT_EQ(gauge("evenhand_findings_index_complete_from"), 0);
  std::vector<std::pair<uint64_t, std::string>> before;
  for (uint64_t p = 1; p <= n; p += std::max<uint64_t>(1, n / 12)) {
    v1::ReportRequest request;
    request.set_as_of_position(p);
    before.emplace_back(p, Report(request).SerializeAsString());
  }
  ASSERT_GT(gauge("evenhand_findings_index_entries"), 0);
  // The reports as of those positions are the first server's.
  auto expect_same_reports = [&] {
    for (const auto& [p, report] : before) {
      v1::ReportRequest request;
      request.set_as_of_position(p);
      EXPECT_EQ(Report(request).SerializeAsString(), report) << "as of position " << p;
    }
  };
  // The checkpoint is read on the fold thread after the server starts.
  auto restart = [&] {
    StartServer(config);
    AwaitGauge("evenhand_projection_loading", 0);
  };
  // Deciding every case again runs in the background.
  auto wait_until_ready = [&] {
    AwaitGauge("evenhand_findings_index_ready", 1);
  };

  restart();
  // Restored, not decided afresh: it still answers from position 0, and
  // sums the group table from there too (the totals' changes were stored
  // with each checkpoint and are read back, not held).
  EXPECT_EQ(gauge("evenhand_findings_index_ready"), 1);
  EXPECT_EQ(gauge("evenhand_findings_index_complete_from"), 0);
  EXPECT_EQ(gauge("evenhand_findings_index_figures_from"), 0);
  EXPECT_EQ(gauge("evenhand_findings_index_figure_changes_held"), 0);
  expect_same_reports();

  // Without its findings checkpoint (as after a change of settings): the
  // cases are restored and every one decided again as of the log's end
  // (restored, it would answer from position 0), with the same reports.
  StopServer();
  {
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(),
                                  absl::StrCat(dir_.Sub(data_subdir_), "/fairness-projection"), &db)
                    .ok());
    ASSERT_TRUE(db->Delete(rocksdb::WriteOptions(), "fairness/findings/header").ok());
    delete db;
  }
  restart();
  wait_until_ready();
  ASSERT_EQ(gauge("evenhand_findings_index_ready"), 1);
  EXPECT_EQ(gauge("evenhand_findings_index_complete_from"), n);
  EXPECT_EQ(gauge("evenhand_findings_index_figures_from"), n);
  expect_same_reports();

  // Rebuilt from position 1: the log is folded first, then every case is
  // decided once as of its end. Reports are the same throughout (derived
  // until then, and for the positions before it).
  rebuild_projections_ = true;
  restart();
  wait_until_ready();
  ASSERT_EQ(gauge("evenhand_findings_index_ready"), 1);
  EXPECT_EQ(gauge("evenhand_findings_index_complete_from"), n);
  expect_same_reports();
  // And so it restarts.
  rebuild_projections_ = false;
  restart();
  EXPECT_EQ(gauge("evenhand_findings_index_ready"), 1);
  EXPECT_EQ(gauge("evenhand_findings_index_complete_from"), n);
  expect_same_reports();

  // What a rebuild seeded a few cases at a time leaves in the checkpoint
  // (the subjects and entries of each slice written ahead; the rest with
  // the index's first checkpoint) is what one seeded all at once leaves.
  // (Events between slices, which read back what was let go, are in
  // findings_index_test.)
  auto findings_on_disk = [&] {
    StopServer();
    std::map<std::string, std::string> out;
    rocksdb::DB* db = nullptr;
    EXPECT_TRUE(rocksdb::DB::OpenForReadOnly(
                    rocksdb::Options(),
                    absl::StrCat(dir_.Sub(data_subdir_), "/fairness-projection"), &db)
                    .ok());
    if (db == nullptr) return out;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
    for (it->Seek("fairness/findings/"); it->Valid() && it->key().starts_with("fairness/findings/");
         it->Next()) {
      out[it->key().ToString()] = it->value().ToString();
    }
    it.reset();
    delete db;
    return out;
  };
  rebuild_projections_ = true;
  written_ahead = 0;
  entries_ahead = 0;
  restart();
  wait_until_ready();
  // On a quiet log the index's first checkpoint is written without waiting
  // for the next event (which lets go of the last slice's subjects): a
  // crash before it would seed everything again.
  AwaitGauge("evenhand_findings_index_subjects_held", 0);
  EXPECT_EQ(gauge("evenhand_findings_index_subjects_held"), 0);
  const std::map<std::string, std::string> in_slices = findings_on_disk();
  EXPECT_GT(written_ahead, 10u);
  EXPECT_GT(entries_ahead, 10u);
  customize_ = nullptr;
  restart();
  wait_until_ready();
  const std::map<std::string, std::string> at_once = findings_on_disk();
  EXPECT_GT(at_once.size(), 10u);
  EXPECT_TRUE(in_slices == at_once) << in_slices.size() << " records against " << at_once.size();
}

// An index checkpointed by a build whose rules decide differently (before
// an upgrade: its fingerprint holds another digest of the sources that
// decide) is never served: every case is decided again as of the log's end,
// and the reports are the ones this build's rules give.
TEST_F(FairnessServiceTest, AFindingsIndexOfABuildWithOtherRulesIsDecidedAgain) {
  StartServer();
  AppendDemoCouncil();
  if (HasFatalFailure()) return;
  const uint64_t n = server_->LastPosition();
  v1::ReportRequest request;
  request.set_as_of_position(n);
  const std::string report = Report(request).SerializeAsString();
  StartServer();
  AwaitGauge("evenhand_projection_loading", 0);
  EXPECT_EQ(Gauge("evenhand_findings_index_complete_from"), 0);  // restored
  StopServer();
  {
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(),
                                  absl::StrCat(dir_.Sub(data_subdir_), "/fairness-projection"), &db)
                    .ok());
    std::string value;
    ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), "fairness/findings/header", &value).ok());
    state::FindingsIndexHeader header;
    ASSERT_TRUE(header.ParseFromString(value));
    // "findings-6|<digest>|...": the same settings, another build's rules.
    std::vector<std::string> parts = absl::StrSplit(header.fingerprint(), '|');
    ASSERT_GE(parts.size(), 3u);
    ASSERT_EQ(parts[1].size(), 64u) << header.fingerprint();
    parts[1] = std::string(64, '0');
    header.set_fingerprint(absl::StrJoin(parts, "|"));
    ASSERT_TRUE(
        db->Put(rocksdb::WriteOptions(), "fairness/findings/header", header.SerializeAsString())
            .ok());
    delete db;
  }
  StartServer();
  AwaitGauge("evenhand_projection_loading", 0);
  AwaitGauge("evenhand_findings_index_ready", 1);
  EXPECT_EQ(Gauge("evenhand_findings_index_complete_from"), n);  // decided again
  EXPECT_EQ(Report(request).SerializeAsString(), report);
}

// With no case's facts kept in memory once checkpointed (the budget is
// fairness.case_cache_mib; here none at all), every decision and report
// reads them back from the checkpoint's RocksDB, and every report is the one
// a projection holding them all gives: while folding, rebuilt, restarted.
TEST_F(FairnessServiceTest, CasesLeaveMemoryOnceCheckpointedAndReportsStayTheSame) {
  v1::ServerConfig config;
  config.mutable_metrics()->set_listen("127.0.0.1:0");
  config.mutable_fairness()->set_checkpoint_every_events(7);
  customize_ = [](server::ServerOptions& o) { o.TEST_case_cache_bytes = 0; };
  StartServer(config);
  AppendDemoCouncil();
  if (HasFatalFailure()) return;
  const uint64_t n = server_->LastPosition();
  std::vector<uint64_t> positions;
  for (uint64_t p = 1; p <= n; p += std::max<uint64_t>(1, n / 12)) positions.push_back(p);
  positions.push_back(n);
  auto reports = [&] {
    std::vector<v1::FairnessReport> out;
    for (uint64_t p : positions) {
      v1::ReportRequest request;
      request.set_as_of_position(p);
      out.push_back(Report(request));
    }
    return out;
  };
  // Says which report differs, and how.
  auto expect_same = [&](const std::vector<v1::FairnessReport>& got,
                         const std::vector<v1::FairnessReport>& want, const char* when) {
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      std::string diff;
      google::protobuf::util::MessageDifferencer d;
      d.ReportDifferencesToString(&diff);
      EXPECT_TRUE(d.Compare(want[i], got[i]))
          << when << ": as of position " << positions[i] << "\n" << diff.substr(0, 4000);
    }
  };
  auto loaded = [&] {
    AwaitGauge("evenhand_projection_loading", 0);
  };
  const std::vector<v1::FairnessReport> none_kept = reports();
  // Checkpointed once the log is quiet.
  AwaitGauge("evenhand_projection_unsaved_events", 0);
  ASSERT_EQ(Gauge("evenhand_projection_unsaved_events"), 0);
  const double held_none_kept = Gauge("evenhand_projection_case_bytes");
  EXPECT_EQ(Gauge("evenhand_projection_case_bytes_unsaved"), 0);
  EXPECT_EQ(Gauge("evenhand_projection_healthy"), 1);

  // The reference: rebuilt from position 1 holding every case.
  customize_ = nullptr;
  rebuild_projections_ = true;
  StartServer(config);
  expect_same(reports(), none_kept, "rebuilt holding every case");
  EXPECT_LT(held_none_kept, Gauge("evenhand_projection_case_bytes") / 2)
      << "only the registry's cases are held";

  // Restarted from that checkpoint keeping none: the same again.
  customize_ = [](server::ServerOptions& o) { o.TEST_case_cache_bytes = 0; };
  rebuild_projections_ = false;
  StartServer(config);
  loaded();
  expect_same(reports(), none_kept, "restarted keeping none");
  EXPECT_EQ(Gauge("evenhand_projection_healthy"), 1);
}

// A case's facts that cannot be read back from the checkpoint (a damaged
// block, a read error) are never taken for an empty case. A report that
// needs them is refused; once the fold needs them, the projection stops: it
// is said in /metrics, every report is refused with what to do, appends go
// on, and a restart serves again.
TEST_F(FairnessServiceTest, ACaseThatCannotBeReadBackStopsReportsUntilARestart) {
  domain_validation_ = false;
  std::atomic<bool> fail{false};
  customize_ = [&fail](server::ServerOptions& o) {
    o.TEST_case_cache_bytes = 0;
    o.TEST_case_read = [&fail](const std::string& stream_id) {
      return fail ? absl::DataLossError(absl::StrCat("a block of ", stream_id, " is damaged"))
                  : absl::OkStatus();
    };
  };
  v1::ServerConfig config;
  config.mutable_metrics()->set_listen("127.0.0.1:0");
  StartServer(config);
  testing::CouncilScenario council;
  const absl::Time now = absl::Now();
  council.Query(now - absl::Hours(3), "Q-1", "lab-1");
  // A decline by choice: the group table cites it, read from its case.
  council.Request(now - absl::Hours(3), "B-1", "lab", "M-1");
  council.Decline(now - absl::Hours(2), "B-1", "ceo");
  auto publish = [&](uint64_t from) {
    for (uint64_t p = from; p <= council.last_position(); ++p) {
      auto appended = client_->Append(council.AppendRequestAt(p));
      ASSERT_TRUE(appended.ok()) << appended.status();
    }
  };
  publish(1);
  EXPECT_THAT(Report().obligations(), SizeIs(1));
  // Checkpointed once the log is quiet: the query's facts leave memory.
  AwaitGauge("evenhand_projection_unsaved_events", 0);
  ASSERT_EQ(Gauge("evenhand_projection_unsaved_events"), 0);

  // Rebuilt, the findings index answers from the log's end on: a report as
  // of an earlier position is derived from the cases, which are read back.
  rebuild_projections_ = true;
  StartServer(config);
  rebuild_projections_ = false;
  AwaitGauge("evenhand_findings_index_ready", 1);
  AwaitGauge("evenhand_projection_unsaved_events", 0);
  ASSERT_EQ(Gauge("evenhand_findings_index_ready"), 1);
  ASSERT_EQ(Gauge("evenhand_projection_unsaved_events"), 0);
  v1::ReportRequest earlier;
  earlier.set_as_of_position(council.last_position() - 1);
  // That report needs a case's facts back, and cannot have them.
  fail = true;
  EXPECT_THAT(fairness_->GetReport(earlier).status(),
              StatusIs(absl::StatusCode::kUnavailable,
                       AllOf(HasSubstr("this report cannot be built"),
                             HasSubstr("cannot be read back"))));
  EXPECT_EQ(Gauge("evenhand_projection_healthy"), 1) << "only that report is wrong";
  fail = false;
  EXPECT_THAT(Report(earlier).obligations(), SizeIs(1));

  // The answer's fold must read the query back, and cannot.
  fail = true;
  const uint64_t before = council.last_position();
  council.Answer(now - absl::Hours(2), "Q-1");
  publish(before + 1);
  if (HasFatalFailure()) return;
  auto refused = [&] {
    v1::ReportRequest request;
    request.set_as_of_position(server_->LastPosition());
    EXPECT_THAT(fairness_->GetReport(request).status(),
                StatusIs(absl::StatusCode::kUnavailable,
                         AllOf(HasSubstr("query-Q-1 cannot be read back"),
                               HasSubstr("a block of query-Q-1 is damaged"),
                               HasSubstr("restart evenhandd"))));
  };
  refused();
  EXPECT_EQ(Gauge("evenhand_projection_healthy"), 0);
  // Said until a restart, even once reads work again.
  fail = false;
  refused();
  // The log is unaffected.
  council.Query(now - absl::Hours(1), "Q-2", "lab-1");
  publish(council.last_position());
  if (HasFatalFailure()) return;

  StartServer(config);
  EXPECT_EQ(Gauge("evenhand_projection_healthy"), 1);
  const v1::FairnessReport report = Report();
  ASSERT_THAT(report.obligations(), SizeIs(1)) << "Q-1 answered, Q-2 open";
  EXPECT_EQ(report.obligations(0).case_id(), "query-Q-2");
}

TEST_F(FairnessServiceTest, ARestartServesAppendsAtOnceAndReportsOnceItsCheckpointIsRead) {
  v1::ServerConfig config;
  config.mutable_fairness()->set_report_wait_seconds(1);
  StartServer(config);
  AppendDemoCouncil();
  if (HasFatalFailure()) return;
  const uint64_t n = server_->LastPosition();
  v1::ReportRequest at_n;
  at_n.set_as_of_position(n);
  // The log grows meanwhile: its last position is left out.
  auto report_at_n = [&] {
    v1::FairnessReport r = Report(at_n);
    r.clear_log_last_position();
    return r.SerializeAsString();
  };
  const std::string before = report_at_n();

  // The next start is held while it reads the checkpoint's cases.
  absl::Notification release;
  std::atomic<bool> hold{true};
  customize_ = [&](server::ServerOptions& o) {
    o.TEST_before_load = [&] {
      if (hold) release.WaitForNotification();
    };
  };
  // Let go however the test ends (the server stops in TearDown).
  absl::Cleanup let_go = [&] {
    hold = false;
    if (!release.HasBeenNotified()) release.Notify();
    StopServer();
    customize_ = nullptr;
  };
  StartServer(config);
  // The log is served meanwhile: appends and reads.
  v1::Payload member;
  auto* m = member.mutable_member_registered();
  m->set_member_id("late-member");
  m->set_name("Cllr Late");
  ASSERT_OK(client_->Append(Append("member-late-member", absl::Now(), member)));
  auto status = client_->GetStatus();
  ASSERT_OK(status);
  EXPECT_EQ(status->last_position(), n + 1);
  // Reports say why they wait, and what to do.
  EXPECT_EQ(server_->ProjectionPosition(), 0u);
  EXPECT_THAT(fairness_->GetReport(at_n),
              StatusIs(absl::StatusCode::kUnavailable,
                       AllOf(HasSubstr("still reading its checkpoint after a restart"),
                             HasSubstr(absl::StrCat("as of position ", n)),
                             HasSubstr("try again shortly"))));
  // Once read, the same report as before, and the append folded.
  hold = false;
  release.Notify();
  EXPECT_TRUE(report_at_n() == before) << "the report as of position " << n << " changed";
  v1::ReportRequest latest;
  latest.set_as_of_position(n + 1);
  EXPECT_EQ(Report(latest).as_of_position(), n + 1);
}

// Once the cases are read, reports are served, derived from them, while the
// findings index is still being read back (at 10M events, 19 s of a 30 s
// start): the same reports as the index gives once it is whole.
TEST_F(FairnessServiceTest, ARestartServesReportsFromTheCasesWhileTheFindingsIndexIsRead) {
  StartServer();
  AppendDemoCouncil();
  if (HasFatalFailure()) return;
  const uint64_t n = server_->LastPosition();
  v1::ReportRequest at_n, recent;
  at_n.set_as_of_position(n);
  *recent.mutable_from() = ToProtoTime(absl::Now() - absl::Hours(24 * 60));
  recent.set_as_of_position(n);
  auto report = [&](const v1::ReportRequest& request) {
    v1::FairnessReport r = Report(request);
    r.clear_log_last_position();
    r.clear_as_of_time();
    r.clear_provenance();  // (its as-of time)
    return r.SerializeAsString();
  };
  const std::string whole_before = report(at_n);
  const std::string recent_before = report(recent);
  ASSERT_GT(Report(at_n).findings_size(), 0);

  // The next start is held while it reads the findings index back.
  HeldFindingsLoad h(this, [](server::ServerOptions& o) {
    // Reports derived meanwhile, however long they take.
    o.TEST_report_give_way_after = absl::InfiniteDuration();
  });
  StartServer();
  ASSERT_TRUE(h.AwaitHeld());
  EXPECT_EQ(server_->ProjectionPosition(), n);
  EXPECT_TRUE(report(at_n) == whole_before) << "derived from the cases, as of position " << n;
  EXPECT_TRUE(report(recent) == recent_before) << "derived from the cases, the last 60 days";
  // Once the index is whole, it gives the same.
  h.Release();
  for (int i = 0; i < 1200 && !server_->ProjectionLoaded(); ++i) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_TRUE(report(at_n) == whole_before);
  EXPECT_TRUE(report(recent) == recent_before);
}

TEST_F(FairnessServiceTest, TheProjectionIsCheckpointedOnceTheLogIsQuiet) {
  v1::ServerConfig config;
  config.mutable_metrics()->set_listen("127.0.0.1:0");
  // Neither the count nor the clock would checkpoint it in this test.
  config.mutable_fairness()->set_checkpoint_every_events(1000000);
  config.mutable_fairness()->set_checkpoint_every_seconds(3600);
  StartServer(config);
  AppendDemoCouncil();
  if (HasFatalFailure()) return;
  const uint64_t n = server_->LastPosition();
  for (int i = 0; i < 100 && server_->ProjectionPosition() < n; ++i) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_EQ(server_->ProjectionPosition(), n);
  double unsaved = Gauge("evenhand_projection_unsaved_events");
  for (int i = 0; i < 100 && unsaved != 0; ++i) {
    absl::SleepFor(absl::Milliseconds(100));
    unsaved = Gauge("evenhand_projection_unsaved_events");
  }
  EXPECT_EQ(unsaved, 0) << "a second after the last event, the fold's work is checkpointed";
}

// A case's record that RocksDB reads back intact but that is not a case (a
// bug's write; a record gone missing). A start files cases by their
// skeletons and does not meet it; the fold does, at the case's next event:
// the projection stops, reports are refused saying to restart, appends go
// on, and the checkpoint is marked damaged, so the restart moves it aside
// and folds the log again, and answers as before.
TEST_F(FairnessServiceTest, ADamagedProjectionCheckpointIsFoldedAgainNotServedOrRefused) {
  domain_validation_ = false;  // an event of any kind for the damaged case
  StartServer();
  AppendDemoCouncil();
  if (HasFatalFailure()) return;
  const uint64_t n = server_->LastPosition();
  // As of n, whatever the log has since (log_last_position says).
  auto as_of_n = [&] {
    v1::ReportRequest at_n;
    at_n.set_as_of_position(n);
    v1::FairnessReport report = Report(at_n);
    report.clear_log_last_position();
    return report.SerializeAsString();
  };
  const std::string before = as_of_n();
  StopServer();
  const std::string dir = absl::StrCat(dir_.Sub(data_subdir_), "/fairness-projection");
  // One briefing's record is overwritten with bytes that are not a case.
  std::string stream;
  {
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), dir, &db).ok());
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
    it->Seek("fairness/case/briefing-");
    ASSERT_TRUE(it->Valid() && it->key().starts_with("fairness/case/briefing-"));
    const std::string key = it->key().ToString();
    stream = key.substr(std::string("fairness/case/").size());
    it.reset();
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), key, std::string("\xff\xff\xff\xff", 4)).ok());
    delete db;
  }
  StartServer();
  // (Until the findings index is read back, reports are derived from the
  // cases, and one would read the damaged case.) A minute at most: the
  // machine may be busy.
  for (int i = 0; i < 2400 && !server_->ProjectionLoaded(); ++i) {
    absl::SleepFor(absl::Milliseconds(25));
  }
  ASSERT_TRUE(server_->ProjectionLoaded());
  EXPECT_EQ(as_of_n(), before) << "not met at the start";
  v1::Payload payload;
  payload.mutable_briefing_requested()->set_briefing_id(stream.substr(std::string("briefing-").size()));
  payload.mutable_briefing_requested()->set_group_id("labour");
  ASSERT_OK(client_->Append(Append(stream, absl::Now() - absl::Hours(1), payload)));
  v1::ReportRequest now;
  now.set_as_of_position(server_->LastPosition());
  EXPECT_THAT(fairness_->GetReport(now).status(),
              StatusIs(absl::StatusCode::kUnavailable,
                       AllOf(HasSubstr(absl::StrCat(stream, " cannot be read back")),
                             HasSubstr("restart evenhandd"))));
  StartServer();
  EXPECT_TRUE(std::filesystem::exists(dir + ".damaged")) << "moved aside";
  EXPECT_EQ(as_of_n(), before);
  const v1::FairnessReport after = Report(now);
  EXPECT_EQ(after.as_of_position(), now.as_of_position());
  // And that folded state is checkpointed and restored cleanly next time.
  std::filesystem::remove_all(dir + ".damaged");
  StartServer();
  EXPECT_FALSE(std::filesystem::exists(dir + ".damaged"));
  EXPECT_EQ(as_of_n(), before);
  EXPECT_EQ(Report(now).SerializeAsString(), after.SerializeAsString());
}

// Damage RocksDB itself finds in the checkpoint's table files: a changed
// byte in the first data block (its checksum no longer matches, met while
// the cases, the first keys, are read) and one in the footer's magic
// number (met when the database is opened, which used to stop the server
// starting). Either
// way the checkpoint is moved aside and the log folded again: the server
// starts, answers as before, and writes a good checkpoint that the next
// start reads without moving anything aside.
TEST_F(FairnessServiceTest, ACheckpointRocksDbFindsDamagedIsMovedAsideAndTheLogFoldedAgain) {
  StartServer();
  AppendDemoCouncil();
  if (HasFatalFailure()) return;
  v1::ReportRequest at_n;
  at_n.set_as_of_position(server_->LastPosition());
  const std::string before = Report(at_n).SerializeAsString();
  const std::string dir = absl::StrCat(dir_.Sub(data_subdir_), "/fairness-projection");
  const std::string aside = dir + ".damaged";
  // Changes one byte of every table file: the 100th, or `from_end` bytes
  // before its end.
  auto damage = [&](int64_t from_end) {
    int files = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      if (entry.path().extension() != ".sst") continue;
      const auto size = static_cast<int64_t>(entry.file_size());
      const int64_t at = from_end == 0 ? 100 : size - from_end;
      std::fstream f(entry.path(), std::ios::in | std::ios::out | std::ios::binary);
      f.seekg(at);
      const char c = static_cast<char>(f.get());
      f.seekp(at);
      f.put(static_cast<char>(c ^ 0x5a));
      ++files;
    }
    return files;
  };
  for (const int64_t from_end : {int64_t{0}, int64_t{4}}) {
    SCOPED_TRACE(from_end == 0 ? "a data block" : "the footer");
    StopServer();
    ASSERT_GT(damage(from_end), 0);
    StartServer();
    EXPECT_EQ(Report(at_n).SerializeAsString(), before);
    EXPECT_TRUE(std::filesystem::exists(aside));
    StopServer();
    std::filesystem::remove_all(aside);
    StartServer();
    EXPECT_EQ(Report(at_n).SerializeAsString(), before);
    EXPECT_FALSE(std::filesystem::exists(aside));
  }
}


// A restart files every case from its skeleton, written beside its facts at
// each checkpoint: no briefing's, meeting's, query's or complaint's facts
// are read until a report needs them, and every report is as before. A
// checkpoint written before skeletons were (version fairness-1) is read
// whole once, given its skeletons as it is read, and read by skeletons from
// the next start on.
TEST_F(FairnessServiceTest, ARestartReadsEachCasesSkeletonNotItsFacts) {
  v1::ServerConfig config;
  config.mutable_metrics()->set_listen("127.0.0.1:0");
  absl::Mutex mu;
  std::vector<std::string> read_back;  // guarded by mu
  customize_ = [&](server::ServerOptions& o) {
    o.TEST_case_cache_bytes = 0;
    o.TEST_case_read = [&](const std::string& stream_id) {
      absl::MutexLock lock(&mu);
      read_back.push_back(stream_id);
      return absl::OkStatus();
    };
  };
  StartServer(config);
  AppendDemoCouncil();
  if (HasFatalFailure()) return;
  const uint64_t n = server_->LastPosition();
  auto reports = [&] {
    std::vector<std::string> out;
    for (uint64_t p = n / 2; p <= n; p += std::max<uint64_t>(1, n / 8)) {
      v1::ReportRequest request;
      request.set_as_of_position(p);
      out.push_back(Report(request).SerializeAsString());
    }
    return out;
  };
  auto settled = [&] {
    for (int i = 0; i < 1000 && (Gauge("evenhand_projection_loading") != 0 ||
                                 Gauge("evenhand_findings_index_ready") != 1 ||
                                 Gauge("evenhand_projection_unsaved_events") != 0);
         ++i) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    ASSERT_EQ(Gauge("evenhand_projection_loading"), 0);
    ASSERT_EQ(Gauge("evenhand_findings_index_ready"), 1);
    ASSERT_EQ(Gauge("evenhand_projection_unsaved_events"), 0);
  };
  // The facts read back so far of cases that are neither the registry's
  // (read once, then held) nor a principal's reads (summed at a start).
  auto facts_read = [&] {
    absl::MutexLock lock(&mu);
    std::vector<std::string> out;
    for (const std::string& s : read_back) {
      for (const char* kind : {"briefing-", "meeting-", "query-", "complaint-"}) {
        if (absl::StartsWith(s, kind)) out.push_back(s);
      }
    }
    read_back.clear();
    return out;
  };
  settled();
  const std::vector<std::string> before = reports();
  settled();
  const std::string projection_dir = absl::StrCat(dir_.Sub(data_subdir_), "/fairness-projection");
  auto inspect = [&](std::string* version, size_t* skeletons, size_t* cases) {
    StopServer();
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::OpenForReadOnly(rocksdb::Options(), projection_dir, &db).ok());
    ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), "fairness/version", version).ok());
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
    *skeletons = *cases = 0;
    for (it->Seek("fairness/"); it->Valid() && it->key().starts_with("fairness/"); it->Next()) {
      *skeletons += it->key().starts_with("fairness/skeleton/");
      *cases += it->key().starts_with("fairness/case/");
    }
    it.reset();
    delete db;
  };
  std::string version;
  size_t skeletons = 0, cases = 0;
  inspect(&version, &skeletons, &cases);
  EXPECT_EQ(version, "fairness-2");
  EXPECT_GT(cases, 50u);
  EXPECT_EQ(skeletons, cases);

  facts_read();  // those the fold and the reports read
  StartServer(config);
  settled();
  EXPECT_EQ(Gauge("evenhand_projection_cases_read_whole"), 0);
  EXPECT_GT(Gauge("evenhand_projection_checkpoint_read_seconds"), 0);
  EXPECT_THAT(facts_read(), ::testing::IsEmpty()) << "a restart read cases' facts";
  EXPECT_EQ(reports(), before);
  EXPECT_THAT(facts_read(), ::testing::Not(::testing::IsEmpty())) << "reports read them back";

  // The checkpoint as a version without skeletons left it.
  inspect(&version, &skeletons, &cases);
  {
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), projection_dir, &db).ok());
    rocksdb::WriteBatch batch;
    batch.DeleteRange(db->DefaultColumnFamily(), "fairness/skeleton/", "fairness/skeleton0");
    batch.Put("fairness/version", "fairness-1");
    ASSERT_TRUE(db->Write(rocksdb::WriteOptions(), &batch).ok());
    delete db;
  }
  const size_t cases_then = cases;
  inspect(&version, &skeletons, &cases);
  ASSERT_EQ(skeletons, 0u);
  StartServer(config);
  settled();
  EXPECT_EQ(Gauge("evenhand_projection_cases_read_whole"), cases_then);
  EXPECT_EQ(reports(), before);
  inspect(&version, &skeletons, &cases);
  EXPECT_EQ(version, "fairness-2");
  EXPECT_GE(cases, cases_then);
  EXPECT_EQ(skeletons, cases) << "every case was given its skeleton";
  facts_read();
  StartServer(config);
  settled();
  EXPECT_EQ(Gauge("evenhand_projection_cases_read_whole"), 0);
  EXPECT_THAT(facts_read(), ::testing::IsEmpty()) << "a restart read cases' facts";
  EXPECT_EQ(reports(), before);
}

}  // namespace
}  // namespace evenhand
