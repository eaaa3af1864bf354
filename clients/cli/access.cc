// evenhand access: who read what. Lists the AccessRecorded events the server
// appends for every audited read and every refusal (docs/SECURITY.md), for
// one principal or all of them, in a period.
#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/time_util.h"
#include "clients/audit_client.h"
#include "clients/cli/common.h"

namespace evenhand::cli {
namespace {

struct AccessFlags {
  std::string principal;
  std::string from, to;
  std::string method;
  bool denied_only = false;
  std::string format = "table";
};

int RunAccess(const Context& context, const AccessFlags& flags) {
  v1::ReplayRequest request;
  v1::ReplayFilter* filter = request.mutable_filter();
  filter->add_event_types("AccessRecorded");
  // The server records each principal's reads as their actor.
  filter->set_actor(flags.principal);
  absl::StatusOr<Period> period = ParsePeriod(flags.from, flags.to);
  if (!period.ok()) return FailUsage(period.status());
  if (period->from) *filter->mutable_occurred_from() = ToProtoTime(*period->from);
  if (period->to) *filter->mutable_occurred_to() = ToProtoTime(*period->to);
  auto channel = context.Channel();
  if (!channel.ok()) return FailLocal(channel.status());
  clients::AuditClient client(v1::Audit::NewStub(*channel));
  uint64_t shown = 0;
  uint64_t received = 0;  // before --method and --denied
  // Method names are matched in any case, as every other word flag is.
  const std::string method = absl::AsciiStrToLower(flags.method);
  if (flags.format == "table") {
    std::printf("%10s  %-20s  %-22s %-34s %-10s %6s  %s\n", "position", "occurred (UTC)",
                "principal", "method", "outcome", "events", "request");
  }
  absl::Status status = client.Replay(
      request,
      [&](const v1::AuditedEvent& e) {
        const v1::AccessRecorded& a = e.event().event().payload().access_recorded();
        ++received;
        if (!method.empty() && !absl::StrContains(absl::AsciiStrToLower(a.method()), method)) {
          return true;
        }
        if (flags.denied_only && !absl::StartsWith(a.outcome(), "denied")) return true;
        ++shown;
        if (flags.format == "json") {
          std::printf("%s\n", ToJsonLine(e.event()).c_str());
        } else {
          std::printf("%10llu  %-20s  %-22s %-34s %-10s %6llu  %s\n",
                      static_cast<unsigned long long>(e.event().position()),
                      FormatTimestamp(e.event().event().occurred_at()).c_str(),
                      Printable(a.principal()).c_str(), Printable(a.method()).c_str(),
                      Printable(a.outcome().substr(0, a.outcome().find(':'))).c_str(),
                      static_cast<unsigned long long>(a.events_returned()),
                      Printable(a.request()).c_str());
          if (absl::StartsWith(a.outcome(), "denied:")) {
            std::printf("%10s  %s\n", "", Printable(a.outcome()).c_str());
          }
          if (a.refusals_not_recorded() > 0) {
            std::printf(
                "%10s  and %llu refusal(s) of this principal before it not recorded "
                "one by one (refusals alike are recorded once a minute)\n",
                "", static_cast<unsigned long long>(a.refusals_not_recorded()));
          }
        }
        return true;
      },
      [](uint64_t, uint64_t) {});
  std::fflush(stdout);
  if (!status.ok()) return FailServer(status, context);
  std::fprintf(stderr, "evenhand: %llu access records\n", static_cast<unsigned long long>(shown));
  if (shown == 0 && received == 0 && !flags.principal.empty()) {
    // A misspelt principal matches nothing; say so rather than let "none"
    // read as "nobody read anything".
    std::fprintf(stderr,
                 "evenhand: none for principal \"%s\": check the name against the server's "
                 "security.principals, a person's token subject, or certificate:<name> for a "
                 "certificate no principal lists (principals with no reads have no records)\n",
                 flags.principal.c_str());
  } else if (shown == 0 && (!flags.method.empty() || flags.denied_only)) {
    const std::string what = absl::StrCat(
        flags.denied_only ? " refused" : "",
        flags.method.empty() ? ""
                             : absl::StrCat(" for a method containing \"", flags.method, "\""));
    // The principal's records were there (if any was received): these
    // filters left none.
    const std::string among =
        received > 0 ? absl::StrCat(" among ", received, " access records") : std::string();
    const bool period = !flags.from.empty() || !flags.to.empty();
    std::fprintf(stderr, "evenhand: none%s%s%s%s\n", Printable(what).c_str(), among.c_str(),
                 period ? " in the period" : " in the log",
                 flags.method.empty()
                     ? ""
                     : ": methods are named as the server records them, e.g. "
                       "evenhand.v1.Audit/Export (--method matches any part, in any case)");
  }
  return kOk;
}

}  // namespace

void AddAccess(Registry& r) {
  auto flags = std::make_shared<AccessFlags>();
  CLI::App* cmd =
      r.Add("access",
            "who read what: the access records of audited reads and refusals, oldest first (this "
            "read is itself recorded)",
            [flags](const Context& c) { return RunAccess(c, *flags); });
  cmd->add_option("--principal", flags->principal,
                  "only this principal's records (default: everyone's)");
  cmd->add_option("--from", flags->from, "on or after this day (YYYY-MM-DD, UK) or time");
  cmd->add_option("--to", flags->to,
                  "on or before this day (included), or before this time (excluded)");
  cmd->add_option("--method", flags->method, "only methods containing this, e.g. Export");
  cmd->add_flag("--denied", flags->denied_only, "only refusals");
  AddFormatOption(cmd, &flags->format, {"table", "json"});
}

}  // namespace evenhand::cli
