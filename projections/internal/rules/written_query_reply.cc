// written-query-reply (Harlow 6.6 and 15.18: "Officers will respond to
// Councillor written queries ... within five working days ... either a
// substantive reply ... or an acknowledgement setting out a clear timescale
// ... In the event that this timescale cannot subsequently be met, the
// Officer will contact the Councillor with an explanation and a revised
// timescale").
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/time_util.h"
#include "projections/internal/report_builder.h"
#include "projections/internal/rules/common.h"
#include "projections/internal/rules/rule.h"

namespace evenhand::projections::internal {

namespace {

// A holding reply's promised day and the officer who gave it: an
// acknowledgement with a timescale, or a timescale revised with none before
// (it sets out when the reply will come all the same). nullptr otherwise.
const google::protobuf::Timestamp* PromisedDay(const v1::Payload& p, std::string* officer) {
  if (p.has_written_query_acknowledged() && p.written_query_acknowledged().has_reply_due_at()) {
    if (officer != nullptr) *officer = p.written_query_acknowledged().officer_id();
    return &p.written_query_acknowledged().reply_due_at();
  }
  if (p.has_written_query_timescale_revised() &&
      p.written_query_timescale_revised().has_reply_due_at()) {
    if (officer != nullptr) *officer = p.written_query_timescale_revised().officer_id();
    return &p.written_query_timescale_revised().reply_due_at();
  }
  return nullptr;
}

// The replies to `query` recorded as given before `by` and withdrawn since
// (answers, acknowledgements, revised timescales), in position order.
std::vector<Seen> WithdrawnReplies(const ReportBuilder& b, const Case& query, absl::Time by) {
  std::vector<Seen> out;
  for (v1::Payload::KindCase kind :
       {v1::Payload::kWrittenQueryAnswered, v1::Payload::kWrittenQueryAcknowledged,
        v1::Payload::kWrittenQueryTimescaleRevised}) {
    for (const Seen& s : WithdrawnBefore(b, query, kind, by)) out.push_back(s);
  }
  std::sort(out.begin(), out.end(),
            [](const Seen& x, const Seen& y) { return x.position < y.position; });
  return out;
}

}  // namespace

QueryOutcome EvaluateQuery(const ReportBuilder& b, const Case& query) {
  QueryOutcome out;
  out.received = b.First(query, v1::Payload::kWrittenQueryReceived);
  if (!out.received) return out;
  const auto& q = out.received->payload->written_query_received();
  out.group_id = b.MemberGroupAt(q.member_id(), out.received->at);
  out.deadline = b.Deadline(query, out.received->at, b.settings().query_reply_working_days);
  for (const Seen& seen : b.View(query)) {
    const std::optional<Seen> s = seen;
    if (!s) continue;
    const bool reply =
        s->payload->has_written_query_answered() || PromisedDay(*s->payload, nullptr) != nullptr;
    if (reply &&
        (!out.first_reply ||
         std::tie(s->at, s->position) < std::tie(out.first_reply->at, out.first_reply->position))) {
      out.first_reply = s;
    }
  }
  out.in_time = out.first_reply && out.first_reply->at < out.deadline;
  out.pending = !out.first_reply && b.query().as_of_time < out.deadline;
  for (const Seen& seen : b.View(query)) {
    const std::optional<Seen> s = seen;
    if (s && s->payload->has_written_query_answered() && (!out.answer || s->at < out.answer->at)) {
      out.answer = s;
    }
  }
  out.due = out.deadline;
  if (out.in_time && !out.first_reply->payload->has_written_query_answered()) {
    // Acknowledged in time with a timescale: the timescale must be kept, or
    // revised before it passes. A promised date is a day (events.proto): a
    // reply at any time on it is in time, so it is due by the day's end.
    out.promised = FromProtoTime(*PromisedDay(*out.first_reply->payload, nullptr));
    // In the order they were made (a correction may have moved one).
    std::vector<Seen> revisions = b.Facts(query, v1::Payload::kWrittenQueryTimescaleRevised);
    std::stable_sort(revisions.begin(), revisions.end(),
                     [](const Seen& x, const Seen& y) { return x.at < y.at; });
    for (const Seen& r : revisions) {
      if (r.position == out.first_reply->position) continue;  // the holding reply itself
      if (out.answer && r.at > out.answer->at) continue;
      if (r.at < b.calendar().EndOfLocalDay(out.promised)) {
        out.promised = FromProtoTime(r.payload->written_query_timescale_revised().reply_due_at());
        out.revisions.push_back(r);
      }
    }
    out.due = b.calendar().EndOfLocalDay(out.promised);
    // A day already over when it was promised: broken as it was made, so
    // due then, never before the promise (found from outside: a finding
    // dated in the week before the query came in).
    const absl::Time promised_at =
        out.revisions.empty() ? out.first_reply->at : out.revisions.back().at;
    if (out.due <= promised_at) {
      out.due = promised_at;
      out.promised_already_past = true;
    }
  }
  out.answered_in_time = out.in_time && out.answer && out.answer->at < out.due;
  return out;
}

namespace {

// A timescale revised over and over (found from outside: one query revised
// 2,000 times gave a finding of 72,000 characters citing 2,001 events, and
// each of its 2,000 versions kept in the findings index for reports as of
// earlier positions: gigabytes) names and cites the first and the last
// revisions that counted (FirstAndLast), and how many came between (they
// are in the query's stream, each moved the day before it passed):
// ", revised on 17 Apr 2026 to 24 Apr 2026, then on …", every revision of
// the timescale that counted, in order, or the first and last few with how
// many came between.
std::string RevisionsText(const ReportBuilder& b, const std::vector<Seen>& revisions) {
  std::string out;
  const std::vector<Seen> shown = FirstAndLast(revisions);
  const size_t between = revisions.size() - shown.size();
  for (size_t i = 0; i < shown.size(); ++i) {
    const Seen& r = shown[i];
    if (between > 0 && i == kFirstAndLast) {
      absl::StrAppend(&out, ", then ", Plural(static_cast<int>(between), "more revision"),
                      " (in the query's stream)");
    }
    absl::StrAppend(
        &out, i == 0 ? ", revised on " : ", then on ", b.Date(r.at), " to ",
        b.Date(FromProtoTime(r.payload->written_query_timescale_revised().reply_due_at())));
  }
  return out;
}

std::string Describe(const FairnessSettings& s) {
  return absl::StrCat(
      "A councillor's written query gets a substantive reply, or an acknowledgement with a "
      "clear timescale, within ",
      Plural(s.query_reply_working_days, "working day"),
      s.query_reply_working_days == 5 ? std::string()
                                      : " (this council's setting; the protocols cited say five)",
      " (England and Wales bank holidays excluded). A timescale given must be met, or a "
      "revised one sent before it passes; one naming a day already over is broken as it is "
      "given.");
}

void Check(ReportBuilder& b) {
  const int days = b.settings().query_reply_working_days;
  for (const Case* c : b.Cases(CaseKind::kQuery)) {
    const QueryOutcome& o = b.QueryOf(*c);
    if (!o.received) continue;
    const auto& q = o.received->payload->written_query_received();
    // Named by its id, not its subject: a query's subject can name a
    // constituent's affairs or another group's business, and reports are
    // read widely.
    const std::string who =
        absl::StrCat("The written query ", q.query_id(), " from ", b.MemberName(q.member_id()),
                     " (received ", b.Date(o.received->at), ")");
    if (!o.first_reply) {
      std::vector<Seen> evidence = {*o.received};
      const std::vector<Seen> withdrawn = WithdrawnReplies(b, *c, o.deadline);
      CiteFirstAndLast(withdrawn, &evidence);
      if (o.pending) {
        b.AddObligation("written-query-reply", o.group_id, q.addressed_to_officer_id(),
                        c->stream_id(), o.deadline,
                        absl::StrCat(who,
                                     " needs a reply, or an acknowledgement with a "
                                     "timescale, by the end of ",
                                     b.Date(o.deadline - absl::Seconds(1)), ".",
                                     SayWithdrawn(b, withdrawn, "A reply", "Replies")),
                        evidence);
      }
      if (!o.pending) {
        b.AddFinding("written-query-reply", o.group_id, c->stream_id(), o.deadline,
                     absl::StrCat(who, " had no reply or acknowledgement within ",
                                  Plural(days, "working day"), " (by the end of ",
                                  b.Date(o.deadline - absl::Seconds(1)), ").",
                                  SayWithdrawn(b, withdrawn, "A reply", "Replies")),
                     evidence);
      }
      continue;
    }
    if (!o.in_time) {
      const int took = b.calendar().WorkingDaysBetween(b.calendar().LocalDay(o.received->at),
                                                       b.calendar().LocalDay(o.first_reply->at));
      const char* what = o.first_reply->payload->has_written_query_answered() ? "answered"
                         : o.first_reply->payload->has_written_query_acknowledged()
                             ? "acknowledged"
                             : "given a timescale";
      // Late by the clock but not by the count (at the deadline's very
      // instant, or on the weekend or bank holiday after it): say when the
      // limit ran out, not "after 5 working days (the limit is 5)".
      std::vector<Seen> evidence = {*o.received, *o.first_reply};
      const std::vector<Seen> withdrawn = WithdrawnReplies(b, *c, o.deadline);
      CiteFirstAndLast(withdrawn, &evidence);
      b.AddFinding(
          "written-query-reply", o.group_id, c->stream_id(), o.deadline,
          absl::StrCat(
              took > days
                  ? absl::StrCat(who, " was first ", what, " after ", Plural(took, "working day"),
                                 ", on ", b.Date(o.first_reply->at), " (the limit is ", days, ").")
                  : absl::StrCat(who, " was first ", what, " on ", b.Date(o.first_reply->at),
                                 ", after the limit of ", Plural(days, "working day"),
                                 " ran out at the end of ", b.Date(o.deadline - absl::Seconds(1)),
                                 "."),
              SayWithdrawn(b, withdrawn, "A reply", "Replies")),
          evidence);
      continue;
    }
    if (o.first_reply->payload->has_written_query_answered()) continue;
    // Acknowledged in time with a timescale (EvaluateQuery: the day
    // promised, revised before it passed).
    const absl::Time promised = o.promised;
    std::string promised_by;
    PromisedDay(*o.first_reply->payload, &promised_by);
    const std::optional<Seen>& answer = o.answer;
    std::vector<Seen> evidence = {*o.received, *o.first_reply};
    CiteFirstAndLast(o.revisions, &evidence);
    const absl::Time due = o.due;
    if (o.answered_in_time) continue;
    // A promise broken as it was made: every reply withdrawn since counts
    // (an answer withdrawn is why it "has not been answered": found from
    // outside); otherwise those that would have been in time.
    const std::vector<Seen> withdrawn =
        WithdrawnReplies(b, *c, o.promised_already_past ? absl::InfiniteFuture() : due);
    CiteFirstAndLast(withdrawn, &evidence);
    if (!answer && b.query().as_of_time < due) {
      // A promise of a day already over when it takes effect (a reply
      // dated ahead of the clock): owed before that moment, not by the end
      // of a day (found from outside: it said both).
      const std::string when =
          o.promised_already_past
              ? absl::StrCat(", a day already over when that promise is dated (",
                             absl::FormatTime("%H:%M %Z", due, UkTimeZone()), " on ", b.Date(due),
                             "): it is owed before then, or the promise is broken "
                             "as it is given.")
              : std::string(": it is owed by the end of that day, or a revised timescale before.");
      b.AddObligation("written-query-reply", o.group_id, promised_by, c->stream_id(), due,
                      absl::StrCat(who, " was promised a reply by ", b.Date(promised), when,
                                   SayWithdrawn(b, withdrawn, "A reply", "Replies")),
                      evidence);
      continue;
    }
    if (answer) evidence.push_back(*answer);
    b.AddFinding(
        "written-query-reply", o.group_id, c->stream_id(), due,
        absl::StrCat(
            who,
            o.first_reply->payload->has_written_query_acknowledged()
                ? " was acknowledged with a reply promised by "
                : " was given a timescale promising a reply by ",
            // The day first promised, then the revisions that moved it.
            b.Date(FromProtoTime(*PromisedDay(*o.first_reply->payload, nullptr))),
            RevisionsText(b, o.revisions),
            o.promised_already_past
                ? absl::StrCat(
                      ", a day already past when it was promised on ",
                      b.Date(o.revisions.empty() ? o.first_reply->at : o.revisions.back().at))
                : std::string(),
            answer                    ? absl::StrCat(", but answered only on ", b.Date(answer->at))
            : o.promised_already_past ? std::string(", and it has not been answered")
                                      : std::string(", but not answered by then"),
            o.promised_already_past ? "."
                                    : ", and no revised timescale was given before it passed.",
            SayWithdrawn(b, withdrawn, "A reply", "Replies")),
        evidence);
  }
}

}  // namespace

RuleDef WrittenQueryReplyRule() {
  return {"written-query-reply",
          "Written queries answered within five working days",
          "Harlow 6.6, 15.18",
          v1::MEDIUM,
          &Describe,
          &Check,
          /*check_period=*/nullptr,
          /*obligations=*/true};
}

}  // namespace evenhand::projections::internal
