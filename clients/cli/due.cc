// evenhand due: the obligations open now (or as the log stood at --as-of),
// soonest due first: offers owed to other groups after a briefing, replies
// owed to councillors' written queries, replies promised by a date. What a
// monitoring officer chases before it becomes a finding. With --watch, it
// follows them: each that comes within --within working days of its
// deadline, and each met or missed, as it happens; --resume-after picks up
// where an earlier watch left off (the point it prints when it ends).
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/grpc_status.h"
#include "base/time_util.h"
#include "clients/cli/common.h"
#include "clients/fairness_client.h"

namespace evenhand::cli {
namespace {

// The widest --within: about ten years of working days.
constexpr uint64_t kMaxWithin = 2600;

struct DueFlags {
  std::string as_of;
  std::vector<std::string> groups;
  std::vector<std::string> officers;
  int within = -1;  // unset: all (listing), 5 (watching)
  std::string format = "table";
  bool watch = false;
  std::string resume_after;  // POSITION or POSITION@TIME (RFC 3339)
};

// --resume-after's POSITION@TIME into `request`.
absl::Status ParseResumePoint(const std::string& text, v1::WatchObligationsRequest* request) {
  const size_t at = text.find('@');
  const std::string position = text.substr(0, at);
  uint64_t p = 0;
  if (position.empty() || at == std::string::npos ||
      !std::all_of(position.begin(), position.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      !absl::SimpleAtoi(position, &p) || p == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--resume-after: POSITION@TIME, as an earlier watch printed it when it ended (a "
        "position of 1 or more, '@', and the RFC 3339 time of the same update), not ",
        Printable(text)));
  }
  request->set_resume_after_position(p);
  absl::Time t;
  std::string error;
  if (!ParseRfc3339(text.substr(at + 1), &t, &error)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--resume-after: the time after '@' is not an RFC 3339 time (",
                     Printable(error), "), as in 1234@2026-12-07T09:30:00.123456Z"));
  }
  *request->mutable_resume_after_time() = ToProtoTime(t);
  return absl::OkStatus();
}

// Ctrl-C (or SIGTERM) while watching cancels the call, so that the watch
// ends as any other and says where to resume: the handler writes a byte to
// a pipe (all a handler may safely do; errno kept), a thread reading it
// cancels. The handler is set once (SA_RESETHAND): a second Ctrl-C stops
// the command at once, whatever it is blocked on. The pipe is not closed: a
// handler running on another thread as the watch ends may still write to
// it (the process ends soon after).
class CancelOnInterrupt {
 public:
  explicit CancelOnInterrupt(grpc::ClientContext* call) {
    if (pipe2(fds_, O_CLOEXEC) != 0) return;
    write_fd_.store(fds_[1]);
    struct sigaction action = {};
    action.sa_handler = [](int) {
      const int saved = errno;
      const int fd = write_fd_.load();
      const char byte = 1;
      if (fd >= 0) (void)!write(fd, &byte, 1);
      errno = saved;
    };
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESETHAND | SA_RESTART;
    sigaction(SIGINT, &action, &old_int_);
    sigaction(SIGTERM, &action, &old_term_);
    thread_ = std::thread([this, call] {
      char byte = 0;
      if (read(fds_[0], &byte, 1) == 1 && byte == 1) {
        interrupted_.store(true);
        call->TryCancel();
      }
    });
  }
  ~CancelOnInterrupt() {
    if (!thread_.joinable()) return;
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
    write_fd_.store(-1);
    const char byte = 0;  // ends the thread
    (void)!write(fds_[1], &byte, 1);
    thread_.join();
  }
  bool interrupted() const { return interrupted_.load(); }

 private:
  static inline std::atomic<int> write_fd_{-1};
  int fds_[2] = {-1, -1};
  struct sigaction old_int_ = {}, old_term_ = {};
  std::atomic<bool> interrupted_{false};
  std::thread thread_;
};

std::string ResumePointText(const v1::ObligationUpdate& u) {
  return absl::StrCat(
      u.as_of_position(), "@",
      absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", FromProtoTime(u.as_of_time()), absl::UTCTimeZone()));
}

// The day it is due by: a deadline at the midnight that ends a day is that
// day's, in UK time. One during a day (a promise broken as it is given is
// due at the moment it is dated) is that moment: the end of its day would
// be later than it is due (found from outside).
std::string DueDay(const v1::Obligation& o) {
  const absl::Time due = FromProtoTime(o.due_at());
  const absl::TimeZone::CivilInfo uk = UkTimeZone().At(due);
  if (uk.subsecond == absl::ZeroDuration() && uk.cs.hour() == 0 && uk.cs.minute() == 0 &&
      uk.cs.second() == 0) {
    return absl::FormatTime("%Y-%m-%d", due - absl::Nanoseconds(1), UkTimeZone());
  }
  return absl::FormatTime("%Y-%m-%d %H:%M", due, UkTimeZone());
}

void PrintRow(const char* first, const v1::Obligation& o) {
  std::printf("%-16s  %-9u %-20s %-14s %-20s %-28s %s\n", first, o.working_days_left(),
              Printable(o.rule_id()).c_str(),
              o.group_id().empty() ? "-" : Printable(o.group_id()).c_str(),
              o.officer_id().empty() ? "-" : Printable(o.officer_id()).c_str(),
              Printable(o.case_id()).c_str(), Printable(o.description()).c_str());
}

const char* KindName(v1::ObligationUpdate::Kind kind) {
  switch (kind) {
    case v1::ObligationUpdate::DUE_SOON:
      return "DUE SOON";
    case v1::ObligationUpdate::MET:
      return "MET";
    case v1::ObligationUpdate::MISSED:
      return "MISSED";
    default:
      return "?";
  }
}

int Watch(const Context& context, const DueFlags& flags) {
  if (!flags.as_of.empty()) {
    return FailUsage(absl::InvalidArgumentError(
        "--watch follows the log as it grows: it cannot start --as-of a past moment (to pick "
        "up where an earlier watch left off, give --resume-after)"));
  }
  v1::WatchObligationsRequest request;
  if (!flags.resume_after.empty()) {
    if (absl::Status s = ParseResumePoint(flags.resume_after, &request); !s.ok()) {
      return FailUsage(s);
    }
  }
  for (const auto& g : flags.groups) request.add_group_ids(g);
  for (const auto& o : flags.officers) request.add_officer_ids(o);
  request.set_within_working_days(static_cast<uint32_t>(flags.within < 0 ? 5 : flags.within));
  auto channel = context.Channel();
  if (!channel.ok()) return FailLocal(channel.status());
  auto stub = v1::Fairness::NewStub(*channel);
  grpc::ClientContext call;
  CancelOnInterrupt interrupt(&call);
  auto reader = stub->WatchObligations(&call, request);
  bool header = flags.format != "table";  // printed with the first row
  v1::ObligationUpdate u;
  std::string resume_point;  // of the last update read that was one
  while (reader->Read(&u)) {
    if (u.resume_point()) resume_point = ResumePointText(u);
    if (!header && u.kind() != v1::ObligationUpdate::CAUGHT_UP) {
      header = true;
      std::printf("%-10s  %-16s  %-9s %-20s %-14s %-20s %-28s %s\n", "event", "due (UK)",
                  "days left", "rule", "group", "owed by", "case", "what is owed");
    }
    if (flags.format == "json") {
      std::printf("%s\n", ToJsonLine(u).c_str());
    } else if (u.kind() == v1::ObligationUpdate::CAUGHT_UP && request.resume_after_position() > 0) {
      std::fprintf(stderr,
                   "evenhand: those above changed since position %llu (what was told then and "
                   "is still open is not told again); watching for news (Ctrl-C to stop)\n",
                   static_cast<unsigned long long>(request.resume_after_position()));
    } else if (u.kind() == v1::ObligationUpdate::CAUGHT_UP) {
      std::fprintf(stderr,
                   "evenhand: those above were already within %u working day(s) of their "
                   "deadline; watching for news (Ctrl-C to stop)\n",
                   request.within_working_days());
    } else {
      std::printf("%-10s  ", KindName(u.kind()));
      PrintRow(DueDay(u.obligation()).c_str(), u.obligation());
    }
    std::fflush(stdout);
  }
  grpc::Status status = reader->Finish();
  if (!resume_point.empty()) {
    std::fprintf(stderr,
                 "evenhand: the watch ended; to pick up where it left off, watch again with "
                 "--resume-after=%s\n",
                 resume_point.c_str());
  } else if (interrupt.interrupted() && !flags.resume_after.empty()) {
    std::fprintf(stderr,
                 "evenhand: the watch ended before it caught up; resume again with "
                 "--resume-after=%s\n",
                 Printable(flags.resume_after).c_str());
  } else if (interrupt.interrupted()) {
    std::fprintf(stderr,
                 "evenhand: the watch ended before it caught up: there is no point to resume "
                 "from; watch again\n");
  }  // (else refused: the server's reason follows)
  // (Ended by the server before the signal: the server's status.)
  if (interrupt.interrupted() && status.error_code() == grpc::StatusCode::CANCELLED) {
    return kInterrupted;
  }
  if (!status.ok()) return FailServer(FromGrpcStatus(status), context);
  return kOk;
}

int RunDue(const Context& context, const DueFlags& flags) {
  if (flags.within < -1) {
    return FailUsage(absl::InvalidArgumentError("--within: a number of working days, 0 or more"));
  }
  if (!flags.resume_after.empty() && !flags.watch) {
    return FailUsage(absl::InvalidArgumentError(
        "--resume-after picks up where an earlier watch left off: give it with --watch"));
  }
  if (flags.watch) return Watch(context, flags);
  if (flags.within == 0) {
    // The server reads 0 as "no limit": listing everything would answer
    // another question than the one asked.
    return FailUsage(absl::InvalidArgumentError(
        "--within=0: when listing, give 1 or more working days (leave --within out to list "
        "every open obligation; --watch --within=0 tells on the due day)"));
  }
  PeriodFlags period;
  period.as_of = flags.as_of;
  absl::StatusOr<v1::ReportRequest> report = MakeReportRequest(period);
  if (!report.ok()) return FailUsage(report.status());
  v1::ListObligationsRequest request;
  *request.mutable_report() = *report;
  for (const auto& g : flags.groups) request.add_group_ids(g);
  for (const auto& o : flags.officers) request.add_officer_ids(o);
  request.set_within_working_days(static_cast<uint32_t>(std::max(0, flags.within)));
  auto channel = context.Channel();
  if (!channel.ok()) return FailLocal(channel.status());
  clients::FairnessClient client(v1::Fairness::NewStub(*channel));
  absl::StatusOr<v1::ListObligationsResponse> response = client.ListObligations(request);
  if (!response.ok()) return FailServer(WithAsOfHint(response.status(), flags.as_of), context);
  if (flags.format == "json") {
    for (const auto& o : response->obligations()) std::printf("%s\n", ToJsonLine(o).c_str());
  } else {
    std::printf("%-16s  %-9s %-20s %-14s %-20s %-28s %s\n", "due (UK)", "days left", "rule",
                "group", "owed by", "case", "what is owed");
    for (const auto& o : response->obligations()) PrintRow(DueDay(o).c_str(), o);
  }
  std::fprintf(stderr, "evenhand: %d open obligation(s) as of position %llu\n",
               response->obligations_size(),
               static_cast<unsigned long long>(response->as_of_position()));
  return kOk;
}

}  // namespace

void AddDue(Registry& r) {
  auto flags = std::make_shared<DueFlags>();
  CLI::App* cmd =
      r.Add("due", "obligations not yet late, soonest first: offers owed, replies owed or promised",
            [flags](const Context& c) { return RunDue(c, *flags); });
  cmd->add_option("--as-of", flags->as_of,
                  "as the log stood at this position, day or time (default: now)");
  cmd->add_option("--group", flags->groups, "only those owed to these groups (comma-separated)")
      ->delimiter(',');
  cmd->add_option("--officer", flags->officers, "only those these officers owe (comma-separated)")
      ->delimiter(',');
  cmd->add_option("--within", flags->within,
                  "only those due within N working days (listing: default all, at least 1; "
                  "watching: default 5, 0 for on the due day; at most 2600, ten years)")
      ->transform(Decimal())
      // Said before the number is read (CLI11 runs the transform added last
      // first): 4294967296 was "Could not convert", and twenty digits "at
      // most 18446744073709551615" (outside probe).
      ->transform(CLI::Validator(
          [](std::string& value) -> std::string {
            const bool digits =
                !value.empty() && std::all_of(value.begin(), value.end(),
                                              [](char c) { return c >= '0' && c <= '9'; });
            uint64_t days = 0;
            if (digits && (!absl::SimpleAtoi(value, &days) || days > kMaxWithin)) {
              return absl::StrCat("at most ", kMaxWithin, " working days (about ten years), not ",
                                  value);
            }
            return "";
          },
          "WORKING DAYS"));
  cmd->add_flag("--watch", flags->watch,
                "follow them: tell when one comes within --within working days of its "
                "deadline, and when it is met or missed (until Ctrl-C)");
  cmd->add_option("--resume-after", flags->resume_after,
                  "with --watch: pick up where an earlier watch left off (POSITION@TIME, as it "
                  "printed when it ended, or a JSON update's asOfPosition@asOfTime with "
                  "resumePoint; give it the same --group, --officer and --within): first what "
                  "closed and came due since, then news");
  AddFormatOption(cmd, &flags->format, {"table", "json"});
}

}  // namespace evenhand::cli
