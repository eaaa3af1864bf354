// FairnessService: reports for the standards committee
// (proto/evenhand/v1/fairness.proto).
//
// Sync API: a report is CPU work over the projection under a reader lock,
// asked for by people, not machines, so a thread per call is right.
// Report documents (GetReportDocument) are rendered and signed here with
// the log's key (reporting/report_document.h), tied to a signed checkpoint
// from `integrity`.
//
// Thread-safe; `store`, `runner` and `integrity` must outlive the service
// (`integrity` may be null in benchmarks of the fold: reports then carry no
// provenance and documents are refused).
#ifndef EVENHAND_SERVICES_FAIRNESS_SERVICE_H_
#define EVENHAND_SERVICES_FAIRNESS_SERVICE_H_

#include <atomic>
#include <functional>
#include <memory>
#include <optional>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "evenhand/v1/fairness.grpc.pb.h"
#include "integrity/integrity_log.h"
#include "projections/fairness_projection.h"
#include "projections/projection_runner.h"
#include "projections/working_day_calendar.h"
#include "services/auth/call_gate.h"
#include "services/evidence_envelopes.h"
#include "services/internal/reply_size.h"
#include "services/obligation_watch.h"
#include "storage/event_store.h"

namespace evenhand::services {

struct FairnessServiceOptions {
  projections::FairnessSettings settings;
  std::function<absl::Time()> clock = [] { return absl::Now(); };
  // How far ahead of its recording an event may have occurred
  // (maxFutureSkewSeconds): a period that begins later than this after a
  // report's moment cannot hold an event of it, and is refused.
  absl::Duration max_future_skew = absl::Hours(24);
  // How long a report waits for the projection to reach the log's end.
  absl::Duration catch_up_wait = absl::Seconds(10);
  // While the findings index is read back after a start, a report derived
  // meanwhile gives way to it once it has taken this long and longer than
  // the reading should still take (InfiniteDuration: never).
  absl::Duration give_way_after = absl::Milliseconds(250);
  // Who may call what (services/auth); must outlive the service.
  auth::CallGate* gate = nullptr;
  // How many updates a WatchObligations watcher may fall behind before it
  // is ended with RESOURCE_EXHAUSTED (WATCHER_TOO_SLOW).
  size_t watch_max_queued = ObligationWatchOptions().max_queued;
  // Obligation watches served at once (maxObligationWatches).
  size_t max_watchers = ObligationWatchOptions().max_watchers;
  // How many cited events' envelopes are kept for the next reports (a few
  // hundred bytes each): a year's report cites about 4,000.
  size_t evidence_envelopes = 16384;
  // The largest reply sent (a report, a document, a list of findings or
  // obligations); a larger one is refused (services/internal/reply_size.h).
  // At most kMaxReplyBytesLimit.
  uint64_t max_reply_bytes = uint64_t{256} << 20;
  static constexpr uint64_t kMaxReplyBytesLimit = internal::kReplyBytesLimit;
};

class FairnessService final
    : public v1::Fairness::WithCallbackMethod_WatchObligations<v1::Fairness::Service> {
 public:
  FairnessService(const storage::EventStore* store, const projections::ProjectionRunner* runner,
                  integrity::IntegrityLog* integrity, projections::WorkingDayCalendar calendar,
                  FairnessServiceOptions options);

  grpc::Status GetReport(grpc::ServerContext* context, const v1::ReportRequest* request,
                         v1::FairnessReport* response) override;
  grpc::Status ListFindings(grpc::ServerContext* context, const v1::ListFindingsRequest* request,
                            v1::ListFindingsResponse* response) override;
  grpc::Status ListRules(grpc::ServerContext* context, const v1::ListRulesRequest* request,
                         v1::ListRulesResponse* response) override;
  grpc::Status ListObligations(grpc::ServerContext* context,
                               const v1::ListObligationsRequest* request,
                               v1::ListObligationsResponse* response) override;
  // On the callback API: a watcher costs a reactor, not a thread
  // (services/obligation_watch.h).
  grpc::ServerWriteReactor<v1::ObligationUpdate>* WatchObligations(
      grpc::CallbackServerContext* context, const v1::WatchObligationsRequest* request) override;
  grpc::Status GetReportDocument(grpc::ServerContext* context,
                                 const v1::ReportDocumentRequest* request,
                                 v1::ReportDocument* response) override;

  // A reply that carries the whole report: `what` it is, and how to ask
  // for less (internal::CheckReplySize).
  struct WholeReportReply {
    absl::string_view what;
    absl::string_view narrow;
  };

  // What a reply needs of a report, and who waits for it.
  struct ReportUse {
    // With `reply`, ResourceExhausted (REPLY_TOO_LARGE) as soon as the
    // report is larger than a reply may be, before its evidence is read and
    // added: its build stops there (projections/report_budget.h), so a
    // report over a long history costs the server no more than what a
    // reply may hold.
    std::optional<WholeReportReply> reply;
    // Without `evidence`, the cited events are not read (report.evidence
    // holds each cited position and summary, not the event's envelope, and
    // nothing unless `keep` is kEverything): for replies that show only the
    // findings, obligations and figures.
    bool evidence = true;
    // What the report keeps (ReportQuery::keep): less than everything for
    // the groups' and access tables (each group's findings counted, none
    // kept), a list of findings (those `keep_finding` accepts) or a list of
    // obligations (no finding).
    projections::ReportQuery::Keep keep = projections::ReportQuery::Keep::kEverything;
    std::function<bool(const v1::Finding&)> keep_finding;
    // A reply listing the findings kept: refused in the same way as
    // `reply` as soon as they are larger than a reply may be.
    std::optional<WholeReportReply> findings_reply;
    // With `call`, the build stops once the call is cancelled or its
    // deadline has passed (Cancelled, DeadlineExceeded): nobody waits.
    const grpc::ServerContextBase* call = nullptr;
    // With an as_of_position: deadlines judged at this moment, not when the
    // position was recorded (a resumed watch's point: the watch read the
    // log at its last position at the moment it read). The caller checks
    // that the log stood at that position then.
    std::optional<absl::Time> judged_at;
  };

  // The report for `request`: errors are InvalidArgument (a bad period),
  // OutOfRange (as-of beyond the log), Unavailable (projection catching up),
  // and those of `use`.
  absl::StatusOr<v1::FairnessReport> BuildReport(const v1::ReportRequest& request,
                                                 const ReportUse& use) const;
  absl::StatusOr<v1::FairnessReport> BuildReport(const v1::ReportRequest& request) const {
    return BuildReport(request, ReportUse());
  }

  // The report of the obligations open as the log stands, and the groups
  // that exist: the period from now on. A report over the whole log has the
  // same obligations (those due in its period and still open, so due after
  // now) but decides every finding of the log's history too: at 10M events,
  // 33 s and 6 GB, which the obligation watch asked for at every move of
  // the projection.
  v1::ReportRequest OpenObligationsRequest() const;
  // What the obligations' watch reads (fairness_service_obligations.cc).
  ObligationWatchOptions WatchOptions();
  // ObligationWatchOptions::closed_as_findings: whether each obligation,
  // open at position `before` and closed at `after`, closed as a finding
  // dated by `at` and its due moment that was not there at `before` dated
  // by `known_through`.
  absl::StatusOr<std::vector<bool>> ClosedAsFindings(const std::vector<v1::Obligation>& closed,
                                                     uint64_t before, absl::Time known_through,
                                                     uint64_t after, absl::Time at) const;
  // The obligations open where a watch resumes (its resume_after_position
  // and resume_after_time), all of them, as the watch's `source` would have
  // read them then; refusals as WatchObligationsRequest says.
  absl::StatusOr<v1::ListObligationsResponse> OpenWhereResumed(
      const v1::WatchObligationsRequest& request, const grpc::ServerContextBase* call) const;
  // Each councillor's times in the group, as the projection's registry
  // stands once it has folded `through` (FairnessProjection::
  // GroupMemberships): for the audit's filter, which reads the log up to
  // there. Waits for the fold up to catch_up_wait or `deadline`; refused
  // UNAVAILABLE, PROJECTION_CATCHING_UP, if it is not there by then (a
  // registry behind the log would leave out the councillors who joined
  // since, and their queries and complaints with them).
  absl::StatusOr<std::vector<projections::MembershipSpell>> GroupMemberships(
      const std::string& group_id, uint64_t through, absl::Time deadline) const;
  // `request` for the obligations open at its as-of moment: with no `from`,
  // the period from that moment on (the same obligations as the whole log's)
  // unless the moment is a position, whose time is not known before.
  v1::ReportRequest OpenFromAsOf(v1::ReportRequest request) const;

  // Ends every WatchObligations call (the server is shutting down).
  void BeginShutdown();

  // The signed document of `request`'s report: content rendered, statement
  // signed, tied to the latest checkpoint (one is signed if none covers the
  // report's position yet).
  // An HTML or JSON document carries the whole report, and is refused as
  // BuildReport's `reply` is; a CSV table (groups, findings or access) is
  // checked once rendered, and its report built without its evidence.
  absl::StatusOr<v1::ReportDocument> BuildDocument(const v1::ReportDocumentRequest& request,
                                                   const grpc::ServerContextBase* call = nullptr)
      const;

 private:
  const storage::EventStore* const store_;
  const projections::ProjectionRunner* const runner_;
  integrity::IntegrityLog* const integrity_;
  const projections::WorkingDayCalendar calendar_;
  const FairnessServiceOptions options_;
  // BeginShutdown() was called: a report waiting for the findings index
  // waits no more.
  std::atomic<bool> shutting_down_{false};
  // Refused if a group or officer filter names none that exists: it would
  // match nothing and read as "nothing due".
  absl::Status CheckObligationFilters(
      const v1::FairnessReport& report,
      const google::protobuf::RepeatedPtrField<std::string>& group_ids,
      const google::protobuf::RepeatedPtrField<std::string>& officer_ids) const;
  // The envelopes of the events reports cited, for the next ones. Before
  // watch_, whose thread builds reports until it is destroyed.
  std::unique_ptr<EvidenceEnvelopes> envelopes_;
  std::unique_ptr<ObligationWatch> watch_;
};

}  // namespace evenhand::services

#endif  // EVENHAND_SERVICES_FAIRNESS_SERVICE_H_
