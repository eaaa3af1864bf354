#include "services/fairness_service.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/error_details.h"
#include "base/grpc_status.h"
#include "base/logging.h"
#include "base/metrics.h"
#include "base/nearest.h"
#include "base/quoted.h"
#include "base/status_macros.h"
#include "base/time_util.h"
#include "integrity/merkle.h"
#include "reporting/provenance.h"
#include "reporting/report_document.h"
#include "services/internal/read_filter.h"
#include "services/internal/reply_size.h"

namespace evenhand::services {
namespace {

constexpr char kGetReport[] = "evenhand.v1.Fairness/GetReport";
constexpr char kListFindings[] = "evenhand.v1.Fairness/ListFindings";
constexpr char kListRules[] = "evenhand.v1.Fairness/ListRules";
constexpr char kGetReportDocument[] = "evenhand.v1.Fairness/GetReportDocument";

// How to ask for a smaller reply than one refused (internal::CheckReplySize).
constexpr char kNarrowReport[] =
    "ask for a shorter period (the request's from and to; evenhand report --from, --to)";
constexpr char kNarrowDocument[] =
    "ask for a shorter period (the request's from and to; evenhand report --from, --to), or for "
    "the groups' table alone (REPORT_CSV_GROUPS; evenhand report --format=csv)";
constexpr char kNarrowFindings[] =
    "ask for a shorter period, or filter by rule, group or severity (evenhand findings --from, "
    "--to, --rule, --group, --min-severity)";

// Whether a ListFindings request's filters accept `f`.
bool Accepts(const v1::ListFindingsRequest& request, const v1::Finding& f) {
  auto matches = [](const auto& wanted, const std::string& value) {
    return wanted.empty() || std::find(wanted.begin(), wanted.end(), value) != wanted.end();
  };
  return matches(request.rule_ids(), f.rule_id()) && matches(request.group_ids(), f.group_id()) &&
         f.severity() >= request.min_severity();
}

// Reports given up before they were built, by why: reply_too_large,
// cancelled or deadline_exceeded.
metrics::Counter& StoppedCounter(absl::string_view reason) {
  return metrics::Registry::Default().GetCounter(
      "evenhand_reports_stopped_total",
      "Reports whose build stopped before the end: larger than a reply may be, or nobody "
      "waiting for them (the call cancelled, its deadline passed), by reason.",
      {{"reason", std::string(reason)}});
}

void Stopped(absl::string_view reason) { StoppedCounter(reason).Add(); }

absl::Status DeadlinePassed() {
  return absl::DeadlineExceededError(
      "the call's deadline passed before its report was built; the build was stopped. Ask "
      "with a longer deadline, or for a shorter period");
}

// Non-OK once nobody waits for a call's reply: its deadline passed, or it
// was cancelled. A sync call's IsCancelled() plucks its completion queue (a
// lock and a poll: three times a report's own work when asked every 256
// steps), so it is asked every 20 ms at most; the deadline, every time.
// gRPC cancels a call when its deadline passes by its own clock, which
// can run a few milliseconds ahead of deadline() read on the system clock
// (seen: CANCELLED 3.009 s into a 3 s call): a cancellation that close to
// the deadline is the deadline, and is counted as one.
class CallWatch {
 public:
  explicit CallWatch(const grpc::ServerContextBase* call)
      : call_(call), deadline_(call->deadline()) {}

  absl::Status operator()() {
    if (deadline_ <= std::chrono::system_clock::now()) return DeadlinePassed();
    const std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now();
    if (now < next_cancel_check_) return absl::OkStatus();
    next_cancel_check_ = now + std::chrono::milliseconds(20);
    if (call_->IsCancelled()) {
      if (deadline_ - std::chrono::system_clock::now() < kDeadlineSlack) return DeadlinePassed();
      return absl::CancelledError("the call was cancelled; its report's build was stopped");
    }
    return absl::OkStatus();
  }

 private:
  static constexpr std::chrono::milliseconds kDeadlineSlack{100};
  const grpc::ServerContextBase* const call_;
  const std::chrono::system_clock::time_point deadline_;
  std::chrono::steady_clock::time_point next_cancel_check_;  // (the first poll asks)
};

// Between a report's stages (built, its evidence read, rendered): OK if its
// caller still waits, else why not, counted as a report stopped. Each stage
// costs seconds for a report of 100,000 findings, and a stopping server
// waits for every call's handler to return.
absl::Status StillWaitedFor(const grpc::ServerContextBase* call) {
  if (call == nullptr) return absl::OkStatus();
  absl::Status gone = CallWatch(call)();
  if (!gone.ok()) Stopped(absl::AsciiStrToLower(absl::StatusCodeToString(gone.code())));
  return gone;
}

}  // namespace

FairnessService::FairnessService(const storage::EventStore* store,
                                 const projections::ProjectionRunner* runner,
                                 integrity::IntegrityLog* integrity,
                                 projections::WorkingDayCalendar calendar,
                                 FairnessServiceOptions options)
    : store_(store),
      runner_(runner),
      integrity_(integrity),
      calendar_(std::move(calendar)),
      options_(std::move(options)),
      envelopes_(std::make_unique<EvidenceEnvelopes>(
          options_.evidence_envelopes,
          [store](uint64_t position) { return store->CheckNotDamaged(position); })) {
  // Shown as 0 before the first, so that dashboards and alerts find them.
  for (const char* reason : {"reply_too_large", "cancelled", "deadline_exceeded"}) {
    StoppedCounter(reason);
  }
  watch_ = std::make_unique<ObligationWatch>(WatchOptions());
}

v1::ReportRequest FairnessService::OpenFromAsOf(v1::ReportRequest request) const {
  if (request.has_from()) return request;
  std::optional<google::protobuf::Timestamp> moment;
  if (request.as_of_case() == v1::ReportRequest::AS_OF_NOT_SET) {
    moment = ToProtoTime(options_.clock());
  } else if (request.as_of_case() == v1::ReportRequest::kAsOfTime &&
             InCouncilYears(request.as_of_time())) {
    moment = request.as_of_time();  // (else BuildReport says what is wrong)
  }
  // A `to` at or before the moment: no obligation is open in the period,
  // as the request stands (a `from` after it would be refused).
  if (moment.has_value() &&
      (!request.has_to() || FromProtoTime(*moment) < FromProtoTime(request.to()))) {
    *request.mutable_from() = *moment;
  }
  return request;
}

absl::StatusOr<v1::FairnessReport> FairnessService::BuildReport(
    const v1::ReportRequest& request, const ReportUse& use) const {
  const std::optional<WholeReportReply>& reply = use.reply;
  const grpc::ServerContextBase* const call = use.call;
  const absl::Time now = options_.clock();
  const uint64_t last = store_->LastPosition();
  projections::ReportQuery query;
  switch (request.as_of_case()) {
    case v1::ReportRequest::kAsOfPosition: {
      query.as_of_position = request.as_of_position();
      if (query.as_of_position > last) {
        return WithErrorInfo(absl::OutOfRangeError(absl::StrCat(
                                 "as_of_position: ", query.as_of_position,
                                 " is beyond the end of the log (last position ", last, ")")),
                             "BEYOND_END_OF_LOG",
                             {{"field", "as_of_position"}, {"last_position", absl::StrCat(last)}});
      }
      if (query.as_of_position == 0 && last > 0) {
        // Before the first event: an empty report would read as "no rule
        // was broken".
        return WithErrorInfo(
            absl::OutOfRangeError("as_of_position: 0 is before the first event (positions start "
                                  "at 1): the log was empty then, so there is nothing to report; "
                                  "ask as of position 1 or later"),
            "BEFORE_FIRST_EVENT", {{"field", "as_of_position"}});
      }
      // The log stood at P until the next event was recorded; judge
      // deadlines at the moment P was recorded.
      query.as_of_time = now;
      if (use.judged_at.has_value()) {
        query.as_of_time = *use.judged_at;
      } else if (query.as_of_position > 0) {
        EH_ASSIGN_OR_RETURN(storage::EventPtr e, store_->ReadAt(query.as_of_position));
        query.as_of_time = FromProtoTime(e->event().recorded_at());
      }
      break;
    }
    case v1::ReportRequest::kAsOfTime: {
      EH_RETURN_IF_ERROR(internal::CheckRequestTime("as_of_time", request.as_of_time()));
      query.as_of_time = FromProtoTime(request.as_of_time());
      if (query.as_of_time > now) {
        return InvalidFieldError(
            "as_of_time", "is in the future; a report can only say how the log stood up to now");
      }
      EH_ASSIGN_OR_RETURN(query.as_of_position, store_->PositionAtTime(query.as_of_time));
      if (query.as_of_position == 0 && last > 0) {
        // An empty report would read as "no rule was broken".
        EH_ASSIGN_OR_RETURN(storage::EventPtr first, store_->ReadAt(1));
        const std::string first_recorded =
            absl::FormatTime(FromProtoTime(first->event().recorded_at()), absl::UTCTimeZone());
        return WithErrorInfo(
            absl::OutOfRangeError(absl::StrCat(
                "as_of_time: ", absl::FormatTime(query.as_of_time, absl::UTCTimeZone()),
                " is before the first event was recorded (", first_recorded,
                "): the log was empty then, so there is nothing to report; ask as of a later "
                "time or a position")),
            "BEFORE_FIRST_EVENT", {{"field", "as_of_time"}, {"first_recorded_at", first_recorded}});
      }
      break;
    }
    case v1::ReportRequest::AS_OF_NOT_SET:
      query.as_of_position = last;
      query.as_of_time = now;
      break;
  }
  // A period's ends are counted in nanoseconds, and a report's statement
  // signs them.
  if (request.has_from()) EH_RETURN_IF_ERROR(internal::CheckRequestTime("from", request.from()));
  if (request.has_to()) {
    EH_RETURN_IF_ERROR(internal::CheckRequestTime("to", request.to(), /*period_end=*/true));
  }
  if (request.has_from()) query.from = FromProtoTime(request.from());
  if (request.has_to()) query.to = FromProtoTime(request.to());
  if (query.from >= query.to) {
    return InvalidFieldError("from", "must be before to");
  }
  // Findings, or the groups' and access tables, of a period that had not
  // begun at the report's moment (allowing for an event recorded ahead of
  // when it occurs): nothing in it had happened, and an empty list would
  // read as "no rule was broken", a table of noughts as "no group asked for
  // anything". (A report's obligations due in a coming period are a fair
  // question: the page and the JSON answer, and say the period had not
  // begun.)
  if ((use.keep == projections::ReportQuery::Keep::kFindings ||
       use.keep == projections::ReportQuery::Keep::kTables) &&
      query.from > query.as_of_time + options_.max_future_skew) {
    return InvalidFieldError(
        "from",
        absl::StrCat(absl::FormatTime(query.from, absl::UTCTimeZone()),
                     " is after the moment the report is as of (",
                     absl::FormatTime(query.as_of_time, absl::UTCTimeZone()), ") by more than the ",
                     absl::FormatDuration(options_.max_future_skew),
                     " an event may be recorded ahead of when it occurs "
                     "(maxFutureSkewSeconds): nothing in the period had happened then; give "
                     "an earlier from, or a later as_of"),
        "PERIOD_NOT_BEGUN");
  }
  auto untrusted = [](const absl::Status& why) {
    return absl::UnavailableError(absl::StrCat(
        "no report can be built: ", why.message(),
        ". The fairness projection has stopped (the log is unaffected); an operator must "
        "restart evenhandd, which checks the checkpoint and folds the log again if it is "
        "damaged"));
  };
  if (absl::Status health = runner_->health(); !health.ok()) return untrusted(health);
  // Waited for, then read under the lock again: a projection whose
  // checkpoint is replaced while it is read after a restart goes back to
  // position 0 between the two.
  // A reply's report stops once larger than the reply may be; any stops
  // once its caller no longer waits.
  const std::optional<WholeReportReply>& refused_as = reply ? reply : use.findings_reply;
  // While the findings index is read back after a start, reports are
  // derived from the cases, and the reading (and every report behind it)
  // waits for each. One that has taken longer than the reading should
  // still take (and options_.give_way_after) gives way, waits for the
  // index (no longer than its caller) and is built from it: a whole log's
  // report at 1M events took 10.7 s derived, the index 1.4 s to read. Not
  // one the index will not answer (as of a position before it was seeded).
  // A fresh budget for each build.
  std::optional<projections::ReportBudget> budget;
  bool gave_way = false;
  auto new_budget = [&](bool may_give_way) {
    std::function<absl::Status()> watch;
    if (call != nullptr) watch = CallWatch(call);
    std::function<absl::Status()> abandoned = watch;
    if (call != nullptr && may_give_way && options_.give_way_after != absl::InfiniteDuration() &&
        runner_->reading_findings_back()) {
      abandoned = [this, watch, &gave_way, as_of = query.as_of_position,
                   started = absl::Now()]() mutable -> absl::Status {
        if (watch) EH_RETURN_IF_ERROR(watch());
        if (!runner_->reading_findings_back() ||
            as_of < runner_->findings_will_serve_from()) {
          return absl::OkStatus();
        }
        const absl::Duration taken = absl::Now() - started;
        if (taken < options_.give_way_after || taken < runner_->findings_reading_left()) {
          return absl::OkStatus();
        }
        gave_way = true;
        return absl::AbortedError("gave way to the findings index's reading");
      };
    }
    budget.emplace(refused_as.has_value() ? options_.max_reply_bytes : UINT64_MAX,
                   std::move(abandoned));
    query.budget = &*budget;
  };
  query.keep = use.keep;
  query.keep_finding = use.keep_finding;
  v1::FairnessReport report;
  absl::Status health, read_error;
  // No longer than the caller waits. Set again after giving way: a wait
  // for the index may have outlasted catch_up_wait, and a damaged index
  // then sends the projection back to position 0 to fold again.
  absl::Time wait_until;
  bool until_call_deadline = false;
  auto set_wait = [&] {
    wait_until = absl::Now() + options_.catch_up_wait;
    until_call_deadline = false;
    if (call != nullptr && absl::FromChrono(call->deadline()) < wait_until) {
      wait_until = absl::FromChrono(call->deadline());
      until_call_deadline = true;
    }
  };
  set_wait();
  for (bool read = false, may_give_way = true; !read;) {
    if (!runner_->WaitForPosition(query.as_of_position, wait_until)) {
      if (absl::Status now_health = runner_->health(); !now_health.ok()) {
        return untrusted(now_health);
      }
      if (absl::Status stopped = runner_->fold_stopped(); !stopped.ok()) {
        // Not "try again shortly": it will not get there (outside probe).
        return WithErrorInfo(
            absl::DataLossError(absl::StrCat("no report as of position ", query.as_of_position,
                                             " can be built (reports as of earlier "
                                             "positions are): ",
                                             stopped.message())),
            "DATA_LOSS");
      }
      if (call != nullptr) {
        absl::Status gone = until_call_deadline ? DeadlinePassed() : CallWatch(call)();
        if (!gone.ok()) {
          Stopped(absl::AsciiStrToLower(absl::StatusCodeToString(gone.code())));
          return gone;
        }
      }
      if (std::optional<projections::ProjectionRunner::Loading> loading = runner_->loading()) {
        return WithErrorInfo(
            absl::UnavailableError(absl::StrCat(
                "the fairness projection is still reading its checkpoint after a restart (",
                loading->cases_read, " cases read; it then answers as of position ",
                loading->position, " and catches up with the log); try again shortly")),
            "PROJECTION_CATCHING_UP",
            {{"projection_position", "0"},
             {"wanted_position", absl::StrCat(query.as_of_position)}});
      }
      return WithErrorInfo(
          absl::UnavailableError(absl::StrCat(
              "the fairness projection is still catching up with the log (at position ",
              runner_->position(), " of ", query.as_of_position, "); try again shortly")),
          "PROJECTION_CATCHING_UP",
          {{"projection_position", absl::StrCat(runner_->position())},
           {"wanted_position", absl::StrCat(query.as_of_position)}});
    }
    // Waited for a slice at a time: its caller may go, the server stop.
    auto wait_until_loaded = [&]() -> absl::Status {
      CallWatch watch(call);
      while (!runner_->WaitUntilLoaded(absl::Now() + absl::Milliseconds(50))) {
        if (absl::Status gone = watch(); !gone.ok()) {
          Stopped(absl::AsciiStrToLower(absl::StatusCodeToString(gone.code())));
          return gone;
        }
        if (shutting_down_ || runner_->stopped()) {
          return absl::UnavailableError("evenhandd is stopping; ask again once it has restarted");
        }
      }
      return absl::OkStatus();
    };
    // Derived while the index is read back only within the share of the
    // reading's time that reports may take (ProjectionRunner::
    // MayDeriveWhileReading); otherwise built from the index once read.
    // Not a call's own (the obligation watch's), which has no caller to
    // wait for: derived, as before.
    if (call != nullptr && may_give_way && options_.give_way_after != absl::InfiniteDuration() &&
        runner_->reading_findings_back() &&
        query.as_of_position >= runner_->findings_will_serve_from() &&
        !runner_->MayDeriveWhileReading()) {
      EH_RETURN_IF_ERROR(wait_until_loaded());
      may_give_way = false;
      set_wait();
      continue;
    }
    new_budget(may_give_way);
    // What a report the index will answer took, derived while it is read
    // back (from when it held the projection).
    std::optional<absl::Time> derived_since;
    runner_->Read([&](const projections::FairnessProjection& projection) {
      if (projection.position() < query.as_of_position) return;  // waited for again
      read = true;
      if (runner_->reading_findings_back() && !projection.findings_indexed() &&
          query.as_of_position >= runner_->findings_will_serve_from()) {
        derived_since = absl::Now();
      }
      report = projection.Report(query, options_.settings, calendar_, &read_error);
      health = projection.health();
    });
    if (derived_since) runner_->DerivedWhileReading(absl::Now() - *derived_since);
    if (gave_way) {
      logging::Info("fairness",
                    "a report derived while the findings index is read back gave way to it");
      EH_RETURN_IF_ERROR(wait_until_loaded());
      read = gave_way = may_give_way = false;
      read_error = absl::OkStatus();
      set_wait();
      report.Clear();
    }
  }
  projections::ReportBudget& spent = *budget;
  if (!health.ok()) return untrusted(health);
  if (spent.given_up()) {
    if (!spent.over_bytes()) {
      Stopped(absl::AsciiStrToLower(absl::StatusCodeToString(spent.abandoned_status().code())));
      return spent.abandoned_status();
    }
    Stopped("reply_too_large");
    return internal::CheckReplySize(spent.spent(), spent.max_bytes(), refused_as->what,
                                    refused_as->narrow, /*at_least=*/true);
  }
  // A case this report needed could not be read back: never a report built
  // without it. The projection itself is intact (the fold stops only if it
  // meets the same case).
  if (!read_error.ok()) {
    logging::Error("fairness", absl::StrCat("a report was refused: ", read_error.message()));
    return absl::UnavailableError(absl::StrCat(
        "this report cannot be built: ", read_error.message(),
        ". Try again; if it persists, the projection's checkpoint is damaged: an operator must "
        "restart evenhandd, which checks it and folds the log again if it is"));
  }
  report.set_log_last_position(store_->LastPosition());
  // Too large a reply already: refused before the evidence is read and the
  // reply rendered (a 10M-event log's whole report took minutes and 12 GB).
  if (reply.has_value()) {
    EH_RETURN_IF_ERROR(internal::CheckReplySize(report.ByteSizeLong(), options_.max_reply_bytes,
                                                reply->what, reply->narrow, /*at_least=*/true));
  }
  EH_RETURN_IF_ERROR(StillWaitedFor(call));
  if (use.evidence && use.keep == projections::ReportQuery::Keep::kEverything) {
    // The envelope of each cited event, from the log (or kept from a report
    // that cited it before).
    const reporting::ReadEvents from_log =
        [this](const std::vector<uint64_t>& positions,
               const std::function<void(const v1::RecordedEvent&)>& visit) {
          return store_->ReadAtPositions(positions, [&](const storage::EventPtr& event) {
            visit(*event);
            return true;
          });
        };
    EH_RETURN_IF_ERROR(reporting::FillEvidence(
        report, [&](const std::vector<uint64_t>& positions,
                    const std::function<void(const v1::RecordedEvent&)>& visit) {
          return envelopes_->Read(positions, from_log, visit);
        }));
  }
  EH_RETURN_IF_ERROR(StillWaitedFor(call));
  if (integrity_ == nullptr) return report;  // benchmarks of the fold alone
  std::string root = integrity::EmptyTreeRoot();
  if (query.as_of_position > 0) {
    EH_ASSIGN_OR_RETURN(root, integrity_->Root(query.as_of_position));
  }
  *report.mutable_provenance() =
      reporting::MakeProvenance(store_->log_id(), query.as_of_position, root,
                                integrity_->public_key().key_id(), options_.settings, calendar_);
  return report;
}

absl::StatusOr<v1::ReportDocument> FairnessService::BuildDocument(
    const v1::ReportDocumentRequest& request, const grpc::ServerContextBase* call) const {
  if (request.format() == v1::REPORT_FORMAT_UNSPECIFIED ||
      !v1::ReportFormat_IsValid(request.format())) {
    // A number the server does not know is said so, as in an event.
    const bool unknown = !v1::ReportFormat_IsValid(request.format());
    return InvalidFieldError(
        "format",
        absl::StrCat(unknown ? absl::StrCat("unknown value ", request.format(), "; ") : "",
                     "must be REPORT_HTML, REPORT_JSON, REPORT_CSV_GROUPS, REPORT_CSV_FINDINGS or "
                     "REPORT_CSV_ACCESS"),
        unknown ? "UNKNOWN_ENUM_VALUE" : "INVALID_FIELD");
  }
  if (integrity_ == nullptr) {
    return absl::FailedPreconditionError("this server has no integrity log to sign reports with");
  }
  // The page and the JSON carry the whole report, evidence and all; the CSV
  // tables show no cited event's envelope (the findings' table names their
  // positions), so theirs are not read; the groups' and access tables show
  // no finding either, only each group's counts.
  const bool whole = request.format() == v1::REPORT_HTML || request.format() == v1::REPORT_JSON;
  ReportUse use{.evidence = whole, .call = call};
  if (whole) use.reply = WholeReportReply{"document", kNarrowDocument};
  if (request.format() == v1::REPORT_CSV_GROUPS || request.format() == v1::REPORT_CSV_ACCESS) {
    use.keep = projections::ReportQuery::Keep::kTables;
  }
  if (request.format() == v1::REPORT_CSV_FINDINGS) {
    // Its rows are no smaller than the findings they show (a row spells
    // out the date, about 20 bytes against the 8-14 of a Timestamp, and
    // the severity's name, with a comma for each of the finding's tags):
    // refused as soon as those are larger than a reply may be.
    use.keep = projections::ReportQuery::Keep::kFindings;
    use.findings_reply = WholeReportReply{"document", kNarrowDocument};
  }
  EH_ASSIGN_OR_RETURN(v1::FairnessReport report, BuildReport(request.report(), use));
  // A document is a function of the log up to its position: where the log
  // has got to since is not part of it (an offline recomputation could not
  // know it).
  report.clear_log_last_position();
  std::function<bool()> still_waited;
  if (call != nullptr) still_waited = [watch = CallWatch(call)]() mutable { return watch().ok(); };
  const std::string content = reporting::RenderContent(report, request.format(), still_waited);
  EH_RETURN_IF_ERROR(StillWaitedFor(call));
  EH_RETURN_IF_ERROR(internal::CheckReplySize(content.size(), options_.max_reply_bytes,
                                              "document", kNarrowDocument));
  const absl::Time from = request.report().has_from() ? FromProtoTime(request.report().from())
                                                      : absl::InfinitePast();
  const absl::Time to = request.report().has_to() ? FromProtoTime(request.report().to())
                                                  : absl::InfiniteFuture();
  const reporting::ReportStatement statement =
      reporting::StatementFor(report, request.format(), from, to, content);
  // The latest checkpoint, if it covers the report's tree; else one signed
  // now, but no more than once a second (as GetCheckpoint does), so that a
  // script asking for report after report cannot grow the journal with each:
  // a report asked for within a second of the last signing waits for it.
  // (A version 1 checkpoint, from an old journal, is not used: documents
  // carry version 2, as docs/INTEGRITY.md says.)
  auto covers = [&](const absl::StatusOr<v1::SignedCheckpoint>& c) {
    return c.ok() && c->checkpoint().tree_size() >= statement.tree_size &&
           !c->checkpoint().stream_map_root().empty();
  };
  absl::StatusOr<v1::SignedCheckpoint> checkpoint = integrity_->Checkpoint(0);
  for (const absl::Time give_up = absl::Now() + absl::Seconds(5); !covers(checkpoint);) {
    checkpoint = integrity_->CheckpointNow(absl::Seconds(1));
    if (!checkpoint.ok()) return checkpoint.status();
    if (covers(checkpoint)) break;
    if (absl::Now() > give_up) {
      return absl::UnavailableError(
          "no signed checkpoint covers the report's position yet; try again shortly");
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  if (!checkpoint.ok()) return checkpoint.status();
  std::vector<std::string> consistency;
  const uint64_t n = checkpoint->checkpoint().tree_size();
  if (statement.tree_size > 0 && statement.tree_size < n) {
    EH_ASSIGN_OR_RETURN(v1::ConsistencyProof proof,
                        integrity_->ConsistencyProof(statement.tree_size, n));
    consistency.assign(proof.hashes().begin(), proof.hashes().end());
  }
  v1::ReportDocument out;
  EH_ASSIGN_OR_RETURN(
      std::string document,
      reporting::MakeDocument(content, statement, *checkpoint, consistency,
                              integrity_->public_key().key_id(),
                              [this](absl::string_view statement_text) {
                                return integrity_->SignReportStatement(statement_text);
                              }));
  out.set_document(std::move(document));
  out.set_media_type(reporting::MediaType(request.format()));
  *out.mutable_provenance() = report.provenance();
  *out.mutable_checkpoint() = *std::move(checkpoint);
  return out;
}

grpc::Status FairnessService::GetReportDocument(grpc::ServerContext* context,
                                                const v1::ReportDocumentRequest* request,
                                                v1::ReportDocument* response) {
  absl::StatusOr<auth::Grant> grant = options_.gate->Admit(*context, kGetReportDocument, *request);
  if (!grant.ok()) return ToGrpcStatus(grant.status());
  absl::StatusOr<v1::ReportDocument> document = BuildDocument(*request, context);
  if (!document.ok()) return ToGrpcStatus(document.status());
  if (absl::Status s = internal::CheckReplySize(document->ByteSizeLong(), options_.max_reply_bytes,
                                                "document", kNarrowDocument);
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  if (absl::Status s = options_.gate->Record(*grant, kGetReportDocument, *request, 1, "allowed");
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  *response = std::move(*document);
  return grpc::Status::OK;
}

grpc::Status FairnessService::GetReport(grpc::ServerContext* context,
                                        const v1::ReportRequest* request,
                                        v1::FairnessReport* response) {
  absl::StatusOr<auth::Grant> grant = options_.gate->Admit(*context, kGetReport, *request);
  if (!grant.ok()) return ToGrpcStatus(grant.status());
  absl::StatusOr<v1::FairnessReport> report =
      BuildReport(*request, {.reply = WholeReportReply{"report", kNarrowReport}, .call = context});
  if (!report.ok()) return ToGrpcStatus(report.status());
  if (absl::Status s = internal::CheckReplySize(report->ByteSizeLong(), options_.max_reply_bytes,
                                                "report", kNarrowReport);
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  if (absl::Status s =
          options_.gate->Record(*grant, kGetReport, *request, report->findings_size(), "allowed");
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  // A reader values are withheld from elsewhere gets no hash of the log
  // (auth::Grant::hashes): the root of the tree read, at an as-of position
  // of its choosing, would let it check guesses at those values.
  if (!grant->hashes) report->mutable_provenance()->clear_root_hash();
  *response = std::move(*report);
  return grpc::Status::OK;
}

grpc::Status FairnessService::ListFindings(grpc::ServerContext* context,
                                           const v1::ListFindingsRequest* request,
                                           v1::ListFindingsResponse* response) {
  absl::StatusOr<auth::Grant> grant = options_.gate->Admit(*context, kListFindings, *request);
  if (!grant.ok()) return ToGrpcStatus(grant.status());
  // A filter naming a rule or group that does not exist would match
  // nothing and read as "no finding": refused, naming the known ones (the
  // rules before the report is built, the groups, which the report knows,
  // after).
  std::vector<std::string> rules;
  for (const v1::RuleInfo& r : projections::FairnessProjection::Rules(options_.settings)) {
    rules.push_back(r.rule_id());
  }
  if (absl::Status s = internal::CheckFilterSize("rule_ids", request->rule_ids_size());
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  if (absl::Status s = internal::CheckFilterSize("group_ids", request->group_ids_size());
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  if (!v1::Severity_IsValid(request->min_severity())) {
    return ToGrpcStatus(
        InvalidFieldError("min_severity",
                          absl::StrCat("unknown value ", request->min_severity(),
                                       "; use INFO, LOW, MEDIUM or HIGH (or leave it unset)"),
                          "UNKNOWN_ENUM_VALUE"));
  }
  for (const std::string& r : request->rule_ids()) {
    if (std::find(rules.begin(), rules.end(), r) == rules.end()) {
      return ToGrpcStatus(
          InvalidFieldError("rule_ids", UnknownValueMessage("rule", r, rules), "UNKNOWN_VALUE"));
    }
  }
  // Only the findings the filters accept are kept, and the build stops once
  // they are larger than a reply may be.
  const auto* filters = request;
  absl::StatusOr<v1::FairnessReport> report = BuildReport(
      request->report(),
      {.evidence = false,
       .keep = projections::ReportQuery::Keep::kFindings,
       .keep_finding = [filters](const v1::Finding& f) { return Accepts(*filters, f); },
       .findings_reply = WholeReportReply{"list of findings", kNarrowFindings},
       .call = context});
  if (!report.ok()) return ToGrpcStatus(report.status());
  {
    std::vector<std::string> groups;
    for (const v1::GroupMetrics& g : report->groups()) groups.push_back(g.group_id());
    // And a group with a finding in the period but no figures in it (one
    // dissolved before it, named by an event after): known, and asked for.
    // (The findings kept are those the filters accept, the group's included:
    // a group asked for that has one is known.)
    for (const v1::Finding& f : report->findings()) {
      if (!f.group_id().empty() &&
          std::find(groups.begin(), groups.end(), f.group_id()) == groups.end()) {
        groups.push_back(f.group_id());
      }
    }
    for (const std::string& g : request->group_ids()) {
      if (std::find(groups.begin(), groups.end(), g) == groups.end()) {
        return ToGrpcStatus(InvalidFieldError(
            "group_ids", UnknownValueMessage("political group", g, groups), "UNKNOWN_VALUE"));
      }
    }
  }
  response->set_as_of_position(report->as_of_position());
  for (v1::Finding& f : *report->mutable_findings()) *response->add_findings() = std::move(f);
  if (absl::Status s =
          internal::CheckReplySize(response->ByteSizeLong(), options_.max_reply_bytes,
                                   "list of findings", kNarrowFindings);
      !s.ok()) {
    response->Clear();
    return ToGrpcStatus(s);
  }
  if (absl::Status s = options_.gate->Record(*grant, kListFindings, *request,
                                             response->findings_size(), "allowed");
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  return grpc::Status::OK;
}

void FairnessService::BeginShutdown() {
  shutting_down_ = true;
  watch_->Stop();
}

grpc::Status FairnessService::ListRules(grpc::ServerContext* context,
                                        const v1::ListRulesRequest* request,
                                        v1::ListRulesResponse* response) {
  if (absl::Status s = options_.gate->Admit(*context, kListRules, *request).status(); !s.ok()) {
    return ToGrpcStatus(s);
  }
  for (v1::RuleInfo& r : projections::FairnessProjection::Rules(options_.settings)) {
    *response->add_rules() = std::move(r);
  }
  return grpc::Status::OK;
}

}  // namespace evenhand::services
