// FairnessService (2/2): open obligations, listed and watched
// (ListObligations, WatchObligations), and what the watch asks of the
// projection. Reports, findings, documents and rules are in
// fairness_service.cc.
#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/error_details.h"
#include "base/grpc_status.h"
#include "base/nearest.h"
#include "base/quoted.h"
#include "base/status_macros.h"
#include "base/time_util.h"
#include "services/fairness_service.h"
#include "services/internal/read_filter.h"
#include "services/internal/reply_size.h"

namespace evenhand::services {
namespace {

constexpr char kListObligations[] = "evenhand.v1.Fairness/ListObligations";
constexpr char kWatchObligations[] = "evenhand.v1.Fairness/WatchObligations";

// How to ask for a smaller reply than one refused (internal::CheckReplySize).
constexpr char kNarrowObligations[] =
    "ask for a shorter period, or filter by group, officer or working days left (evenhand due "
    "--group, --officer, --within)";

// Reports for lists of obligations and the obligation watch: their
// obligations kept, each group's findings counted and none kept (a period
// reaching far back holds millions).
constexpr projections::ReportQuery::Keep kKeepObligations =
    projections::ReportQuery::Keep::kObligations;

}  // namespace

ObligationWatchOptions FairnessService::WatchOptions() {
  ObligationWatchOptions watch;
  watch.source = [this]() -> absl::StatusOr<v1::ListObligationsResponse> {
    EH_ASSIGN_OR_RETURN(
        v1::FairnessReport report,
        BuildReport(OpenObligationsRequest(), {.evidence = false, .keep = kKeepObligations}));
    v1::ListObligationsResponse all;
    all.set_as_of_position(report.as_of_position());
    *all.mutable_as_of_time() = report.as_of_time();
    *all.mutable_obligations() = std::move(*report.mutable_obligations());
    return all;
  };
  watch.closed_as_findings = [this](const std::vector<v1::Obligation>& closed, uint64_t before,
                                    absl::Time known_through, uint64_t after, absl::Time at) {
    return ClosedAsFindings(closed, before, known_through, after, at);
  };
  watch.position = [this] { return runner_->position(); };
  watch.clock = options_.clock;
  watch.max_queued = options_.watch_max_queued;
  watch.max_watchers = options_.max_watchers;
  return watch;
}

absl::StatusOr<std::vector<projections::MembershipSpell>> FairnessService::GroupMemberships(
    const std::string& group_id, uint64_t through, absl::Time deadline) const {
  // (Found by reading: right after a restart, while the projection read its
  // checkpoint, a replay by group left out every councillor's queries.)
  if (!runner_->WaitForPosition(through,
                                std::min(deadline, absl::Now() + options_.catch_up_wait))) {
    if (absl::Status stopped = runner_->fold_stopped(); !stopped.ok()) {
      // As a report as of that position is refused (the log is damaged
      // before it).
      return WithErrorInfo(
          absl::DataLossError(absl::StrCat(
              "filter.group_id: who was in group ", Quoted(group_id),
              " when is known from the fairness projection, which cannot fold the log to position ",
              through, " (", stopped.message(),
              "); filter by a councillor (member_id), or by the group up to an earlier "
              "to_position")),
          "DATA_LOSS");
    }
    return WithErrorInfo(
        absl::UnavailableError(absl::StrCat(
            "filter.group_id: who was in group ", Quoted(group_id),
            " when is known from the fairness projection, which is still ",
            runner_->loading().has_value() ? "reading its checkpoint after a restart"
                                           : "catching up with the log",
            " (at position ", runner_->position(), " of ", through, "); try again shortly")),
        "PROJECTION_CATCHING_UP",
        {{"projection_position", absl::StrCat(runner_->position())},
         {"wanted_position", absl::StrCat(through)}});
  }
  std::vector<projections::MembershipSpell> out;
  runner_->Read([&](const projections::FairnessProjection& projection) {
    out = projection.GroupMemberships(group_id, options_.settings, calendar_);
  });
  return out;
}

absl::StatusOr<std::vector<bool>> FairnessService::ClosedAsFindings(
    const std::vector<v1::Obligation>& closed, uint64_t before, absl::Time known_through,
    uint64_t after, absl::Time at) const {
  // A finding of the obligation's rule, case and group, dated by `at` and
  // by its due moment, that was not there with that date before (then, an
  // open obligation is a finding at its due moment, not yet come, if no
  // reply came: not known before, it was not there): a correction moved
  // the deadline into the past, what closed it opened a successor already
  // missed (an acknowledgement recorded late, promising a day already
  // gone), or, for a resumed watch, the deadline passed unmet. Either way
  // the case has a breach of the rule the watcher was told was due, and the
  // report now lists it. A successor's breach, dated after the obligation's
  // due moment, is not the obligation's.
  auto candidate = [&](const v1::Obligation& o, const v1::Finding& f) {
    return f.rule_id() == o.rule_id() && f.group_id() == o.group_id() &&
           f.case_id() == o.case_id() &&
           FromProtoTime(f.occurred_at()) <= std::min(at, FromProtoTime(o.due_at()));
  };
  auto known = [&](const v1::Obligation& o, const v1::Finding& f) {
    return candidate(o, f) && FromProtoTime(f.occurred_at()) <= known_through;
  };
  std::vector<std::string> cases;
  for (const v1::Obligation& o : closed) cases.push_back(o.case_id());
  std::sort(cases.begin(), cases.end());
  cases.erase(std::unique(cases.begin(), cases.end()), cases.end());
  auto index_of = [&cases](const std::string& id) {
    return std::lower_bound(cases.begin(), cases.end(), id) - cases.begin();
  };
  std::vector<std::vector<v1::Finding>> now, then;
  absl::Status read_error;
  bool read = false;
  runner_->Read([&](const projections::FairnessProjection& projection) {
    if (projection.position() < after) return;
    read = true;
    now = projection.CaseFindings(cases, after, options_.settings, calendar_, &read_error);
    // Before, only for the cases with a candidate now.
    std::vector<std::string> again(cases.size());
    bool any = false;
    for (const v1::Obligation& o : closed) {
      const auto i = index_of(o.case_id());
      for (const v1::Finding& f : now[i]) {
        if (!candidate(o, f)) continue;
        again[i] = cases[i];
        any = true;
      }
    }
    if (any) {
      then = projection.CaseFindings(again, before, options_.settings, calendar_, &read_error);
    }
  });
  if (!read) return absl::UnavailableError("the projection is behind the watch's reading");
  EH_RETURN_IF_ERROR(read_error);
  std::vector<bool> out;
  for (const v1::Obligation& o : closed) {
    const auto i = index_of(o.case_id());
    std::multiset<std::pair<int64_t, int32_t>> had;
    if (!then.empty()) {
      for (const v1::Finding& f : then[i]) {
        if (known(o, f)) had.emplace(f.occurred_at().seconds(), f.occurred_at().nanos());
      }
    }
    bool appeared = false;
    for (const v1::Finding& f : now[i]) {
      if (!candidate(o, f)) continue;
      auto it = had.find({f.occurred_at().seconds(), f.occurred_at().nanos()});
      if (it == had.end()) {
        appeared = true;
        break;
      }
      had.erase(it);
    }
    out.push_back(appeared);
  }
  return out;
}

absl::StatusOr<v1::ListObligationsResponse> FairnessService::OpenWhereResumed(
    const v1::WatchObligationsRequest& request, const grpc::ServerContextBase* call) const {
  const uint64_t position = request.resume_after_position();
  // Both, from the same update: a position alone was once judged at the
  // moment it was recorded, and a reading at that position later in the
  // day, which had told a deadline missed, was then told again, and a reply
  // recorded after it contradicted it (outside probe).
  if (position == 0 || !request.has_resume_after_time()) {
    return InvalidFieldError(
        position == 0 ? "resume_after_position" : "resume_after_time",
        absl::StrCat("is missing", position == 0 ? " (0 is none: positions start at 1)" : "",
                     ": give both resume_after_position and resume_after_time, the "
                     "as_of_position and as_of_time of the last update you applied that was a "
                     "resume point (or neither, to watch from now)"),
        "RESUME_POINT_INCOMPLETE");
  }
  const uint64_t last = store_->LastPosition();
  if (position > last) {
    return WithErrorInfo(
        absl::OutOfRangeError(absl::StrCat(
            "resume_after_position: ", position, " is beyond the end of the log (last position ",
            last, "); give the as_of_position of an update this server sent")),
        "BEYOND_END_OF_LOG",
        {{"field", "resume_after_position"}, {"last_position", absl::StrCat(last)}});
  }
  EH_RETURN_IF_ERROR(internal::CheckRequestTime("resume_after_time", request.resume_after_time()));
  const absl::Time when = FromProtoTime(request.resume_after_time());
  auto utc = [](absl::Time t) { return absl::FormatTime(t, absl::UTCTimeZone()); };
  auto mismatch = [&](absl::string_view field, absl::string_view problem) {
    return InvalidFieldError(
        field,
        absl::StrCat(problem, ": no watch read the log at resume_after_position ", position, " at ",
                     utc(when),
                     "; give the as_of_position and as_of_time of the same update, one that "
                     "was a resume point"),
        "RESUME_POINT_MISMATCH");
  };
  // After the server's clock steps back, the log's stamps run ahead of it
  // (it stamps in order): a reading's time is never after both, and may be
  // before its position was recorded, by as much (found in review).
  EH_ASSIGN_OR_RETURN(storage::EventPtr at_last, store_->ReadAt(last));
  const absl::Time now = options_.clock();
  const absl::Time stamped = FromProtoTime(at_last->event().recorded_at());
  if (when > std::max(now, stamped) + absl::Seconds(1)) {
    return mismatch("resume_after_time", absl::StrCat(utc(when), " is in the future"));
  }
  EH_ASSIGN_OR_RETURN(storage::EventPtr at_position, store_->ReadAt(position));
  const absl::Time recorded = FromProtoTime(at_position->event().recorded_at());
  if (position < last) {
    // Events appended in one write are recorded at one moment and come into
    // the log together: no reading stands between them (outside probe: a
    // position inside a write was taken, and its watcher told of an
    // obligation it never had). (A later write recorded at the same moment,
    // while the server's clock is behind the time its appends were last
    // recorded at, is refused too: rare, and said.)
    EH_ASSIGN_OR_RETURN(storage::EventPtr next, store_->ReadAt(position + 1));
    const absl::Time next_recorded = FromProtoTime(next->event().recorded_at());
    if (next_recorded == recorded) {
      return mismatch(
          "resume_after_position",
          absl::StrCat(position, " was recorded at the same moment as ", position + 1, " (",
                       utc(recorded), "), as one write (or while the server's clock was behind)"));
    }
    // A reading takes its time, then the log's last position: the next
    // write may have been recorded (not yet in the log) a moment before.
    if (when >= next_recorded + absl::Seconds(1)) {
      return mismatch("resume_after_time",
                      absl::StrCat(utc(when), " is a second or more after position ", position + 1,
                                   " was recorded (", utc(next_recorded), ")"));
    }
  }
  if (when < recorded - std::max(absl::Seconds(1), stamped - now + absl::Seconds(1))) {
    return mismatch(
        "resume_after_time",
        absl::StrCat(utc(when), " is before that position was recorded (", utc(recorded), ")"));
  }
  v1::ReportRequest open_then;
  open_then.set_as_of_position(position);
  *open_then.mutable_from() = ToProtoTime(when);
  EH_ASSIGN_OR_RETURN(
      v1::FairnessReport report,
      BuildReport(open_then,
                  {.evidence = false, .keep = kKeepObligations, .call = call, .judged_at = when}));
  v1::ListObligationsResponse all;
  all.set_as_of_position(report.as_of_position());
  *all.mutable_as_of_time() = report.as_of_time();
  *all.mutable_obligations() = std::move(*report.mutable_obligations());
  return all;
}

v1::ReportRequest FairnessService::OpenObligationsRequest() const {
  return OpenFromAsOf(v1::ReportRequest());
}

grpc::Status FairnessService::ListObligations(grpc::ServerContext* context,
                                              const v1::ListObligationsRequest* request,
                                              v1::ListObligationsResponse* response) {
  absl::StatusOr<auth::Grant> grant = options_.gate->Admit(*context, kListObligations, *request);
  if (!grant.ok()) return ToGrpcStatus(grant.status());
  absl::StatusOr<v1::FairnessReport> report =
      BuildReport(OpenFromAsOf(request->report()),
                  {.evidence = false, .keep = kKeepObligations, .call = context});
  if (!report.ok()) return ToGrpcStatus(report.status());
  if (absl::Status s =
          CheckObligationFilters(*report, request->group_ids(), request->officer_ids());
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  response->set_as_of_position(report->as_of_position());
  *response->mutable_as_of_time() = report->as_of_time();
  auto matches = [](const auto& wanted, const std::string& value) {
    return wanted.empty() || std::find(wanted.begin(), wanted.end(), value) != wanted.end();
  };
  for (v1::Obligation& o : *report->mutable_obligations()) {
    if (!matches(request->group_ids(), o.group_id())) continue;
    if (!matches(request->officer_ids(), o.officer_id())) continue;
    if (request->within_working_days() > 0 &&
        o.working_days_left() > request->within_working_days()) {
      continue;
    }
    *response->add_obligations() = std::move(o);
  }
  if (absl::Status s = internal::CheckReplySize(response->ByteSizeLong(), options_.max_reply_bytes,
                                                "list of obligations", kNarrowObligations);
      !s.ok()) {
    response->Clear();
    return ToGrpcStatus(s);
  }
  if (absl::Status s = options_.gate->Record(*grant, kListObligations, *request,
                                             response->obligations_size(), "allowed");
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  return grpc::Status::OK;
}

absl::Status FairnessService::CheckObligationFilters(
    const v1::FairnessReport& report,
    const google::protobuf::RepeatedPtrField<std::string>& group_ids,
    const google::protobuf::RepeatedPtrField<std::string>& officer_ids) const {
  EH_RETURN_IF_ERROR(internal::CheckFilterSize("group_ids", group_ids.size()));
  EH_RETURN_IF_ERROR(internal::CheckFilterSize("officer_ids", officer_ids.size()));
  std::vector<std::string> groups;
  for (const v1::GroupMetrics& g : report.groups()) groups.push_back(g.group_id());
  for (const std::string& g : group_ids) {
    if (std::find(groups.begin(), groups.end(), g) != groups.end()) continue;
    // A group the period does not have may still be owed what its members
    // asked for before it was dissolved.
    EH_ASSIGN_OR_RETURN(bool known, store_->StreamExists(absl::StrCat("group-", g)));
    if (!known) {
      return InvalidFieldError("group_ids", UnknownValueMessage("political group", g, groups),
                               "UNKNOWN_VALUE");
    }
  }
  for (const std::string& o : officer_ids) {
    EH_ASSIGN_OR_RETURN(bool known, store_->StreamExists(absl::StrCat("officer-", o)));
    if (!known) {
      return InvalidFieldError(
          "officer_ids", absl::StrCat("no officer ", Quoted(o), " is registered"), "UNKNOWN_VALUE");
    }
  }
  return absl::OkStatus();
}

grpc::ServerWriteReactor<v1::ObligationUpdate>* FairnessService::WatchObligations(
    grpc::CallbackServerContext* context, const v1::WatchObligationsRequest* request) {
  absl::StatusOr<auth::Grant> grant = options_.gate->Admit(*context, kWatchObligations, *request);
  if (!grant.ok()) return ObligationWatch::Refuse(ToGrpcStatus(grant.status()));
  // The filters are checked against the log as it stands.
  absl::StatusOr<v1::FairnessReport> report =
      BuildReport(OpenObligationsRequest(), {.evidence = false, .keep = kKeepObligations});
  if (!report.ok()) return ObligationWatch::Refuse(ToGrpcStatus(report.status()));
  if (absl::Status s =
          CheckObligationFilters(*report, request->group_ids(), request->officer_ids());
      !s.ok()) {
    return ObligationWatch::Refuse(ToGrpcStatus(s));
  }
  // Within the principal's open watches; ends, with a clear status, if a
  // reloaded configuration withdraws it.
  absl::StatusOr<std::unique_ptr<auth::StandingGrants::Hold>> held =
      options_.gate->Hold(*context, kWatchObligations, *request, *grant);
  if (!held.ok()) return ObligationWatch::Refuse(ToGrpcStatus(held.status()));
  // Within the server's watches (a limit of its capacity, not of the
  // caller's access: refused, as a subscription over maxSubscriptions is,
  // before the record).
  absl::StatusOr<ObligationWatch::Place> place = watch_->Reserve();
  if (!place.ok()) return ObligationWatch::Refuse(ToGrpcStatus(place.status()));
  // What was open where it resumes: an as-of report, read in its place
  // among the watches (so within their limits), and stopped if the call is
  // cancelled.
  std::optional<v1::ListObligationsResponse> open_then;
  if (request->resume_after_position() > 0 || request->has_resume_after_time()) {
    absl::StatusOr<v1::ListObligationsResponse> read = OpenWhereResumed(*request, context);
    if (!read.ok()) return ObligationWatch::Refuse(ToGrpcStatus(read.status()));
    open_then = *std::move(read);
  }
  if (absl::Status s = options_.gate->Record(*grant, kWatchObligations, *request, 0, "allowed");
      !s.ok()) {
    return ObligationWatch::Refuse(ToGrpcStatus(s));
  }
  if (open_then.has_value()) {
    return watch_->Resume(*request, *std::move(open_then), *std::move(place), *std::move(held));
  }
  return watch_->Watch(*request, *std::move(place), *std::move(held));
}

}  // namespace evenhand::services
