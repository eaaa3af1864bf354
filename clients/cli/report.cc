// evenhand report: the fairness report for the standards committee, as a
// page (HTML), JSON or CSV, signed by the log's key; or, with --offline,
// recomputed from an exported bundle of the whole log without any server.
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/time_util.h"
#include "clients/cli/common.h"
#include "clients/cli/offline_report.h"
#include "clients/fairness_client.h"
#include "reporting/provenance.h"
#include "reporting/report_document.h"
#include "reporting/report_render.h"
#include "reporting/rule_set.h"

namespace evenhand::cli {
namespace {

struct ReportFlags {
  PeriodFlags period;
  std::string format = "html";
  const CLI::Option* format_given = nullptr;  // whether --format was on the line
  std::string table;  // "" is groups
  std::string output;
  // Offline.
  std::string offline;
  std::string like;
  std::string pubkey;
  std::string config;
};

v1::ReportFormat Format(const ReportFlags& flags) {
  if (flags.format == "html") return v1::REPORT_HTML;
  if (flags.format == "json") return v1::REPORT_JSON;
  if (flags.table == "findings") return v1::REPORT_CSV_FINDINGS;
  if (flags.table == "access") return v1::REPORT_CSV_ACCESS;
  return v1::REPORT_CSV_GROUPS;
}

// The statement of the report to recompute: the one `--like` names, or the
// one the flags describe (as the server would resolve them, over the log
// the bundle holds).
// `like_layout`: the layout of the --like report (report_render.h).
absl::StatusOr<reporting::ReportStatement> OfflineStatement(const ReportFlags& flags,
                                                            const OfflineLog& log,
                                                            uint32_t* like_layout) {
  if (!flags.like.empty()) {
    std::ifstream in(flags.like, std::ios::binary);
    if (!in) return absl::NotFoundError(absl::StrCat("--like: cannot open ", flags.like));
    std::stringstream bytes;
    bytes << in.rdbuf();
    absl::StatusOr<reporting::SplitDocument> split = reporting::Split(bytes.str());
    if (!split.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--like: ", flags.like, ": ", split.status().message()));
    }
    *like_layout = reporting::LayoutOf(split->content, split->statement.format);
    return split->statement;
  }
  absl::StatusOr<v1::ReportRequest> request = MakeReportRequest(flags.period);
  if (!request.ok()) return request.status();
  const auto& events = log.bundle.events;
  reporting::ReportStatement s;
  s.format = Format(flags);
  s.log_id = log.bundle.log_id;
  s.rule_set_version = reporting::RuleSetVersion(log.settings, log.calendar);
  if (request->has_from()) s.from = FromProtoTime(request->from());
  if (request->has_to()) s.to = FromProtoTime(request->to());
  switch (request->as_of_case()) {
    case v1::ReportRequest::kAsOfPosition:
      s.tree_size = request->as_of_position();
      if (s.tree_size > events.size()) {
        return absl::OutOfRangeError(absl::StrCat("--as-of: position ", s.tree_size,
                                                  " is beyond the bundle's log (", events.size(),
                                                  " events)"));
      }
      if (s.tree_size == 0 && !events.empty()) {
        // As the server refuses it: an empty report reads as "no rule was
        // broken".
        return absl::OutOfRangeError(
            "--as-of: position 0 is before the first event (positions start at 1): the log was "
            "empty then, so there is nothing to report");
      }
      s.as_of_time = s.tree_size == 0 ? log.bundle.checkpoint_time
                                      : FromProtoTime(events[s.tree_size - 1].event().recorded_at());
      break;
    case v1::ReportRequest::kAsOfTime:
      s.as_of_time = FromProtoTime(request->as_of_time());
      // The bundle vouches for the log up to its checkpoint: what the log
      // held later is not in it.
      if (s.as_of_time > log.bundle.checkpoint_time) {
        return absl::OutOfRangeError(absl::StrCat(
            "--as-of: ", absl::FormatTime(s.as_of_time, absl::UTCTimeZone()),
            " is after the bundle's checkpoint (",
            absl::FormatTime(log.bundle.checkpoint_time, absl::UTCTimeZone()),
            "): the log may have held more by then; export it again"));
      }
      s.tree_size = reporting::PositionAtTime(events, s.as_of_time);
      if (s.tree_size == 0 && !events.empty()) {
        return absl::OutOfRangeError(
            "--as-of: before the first event was recorded: the log was empty then, so there is "
            "nothing to report");
      }
      break;
    case v1::ReportRequest::AS_OF_NOT_SET:
      // The whole log the bundle holds, judged when its checkpoint was
      // signed: the moment the bundle vouches for.
      s.tree_size = events.size();
      s.as_of_time = log.bundle.checkpoint_time;
      break;
  }
  if (s.from >= s.to) return absl::InvalidArgumentError("--from must be before --to");
  return s;
}

int RunOffline(const ReportFlags& flags) {
  absl::StatusOr<OfflineLog> log = LoadOfflineLog(flags.offline, flags.pubkey, flags.config);
  if (!log.ok() && absl::IsDataLoss(log.status())) {
    return VerificationFailed(std::string(log.status().message()));
  }
  if (!log.ok()) return FailLocal(log.status());
  if (flags.pubkey.empty()) {
    std::fprintf(stderr,
                 "evenhand: no --pubkey: the bundle is checked against the key it carries, which "
                 "proves it unchanged since signing but not who signed it; pass the council's "
                 "published key (evenhand pubkey) to pin it\n");
  }
  uint32_t like_layout = reporting::kLayoutVersion;
  absl::StatusOr<reporting::ReportStatement> statement =
      OfflineStatement(flags, *log, &like_layout);
  if (!statement.ok()) return FailLocal(WithAsOfHint(statement.status(), flags.period.as_of));
  absl::StatusOr<std::string> content = RecomputeContent(*log, *statement);
  if (!content.ok()) return FailUsage(content.status());
  absl::Status written = WriteOutput(flags.output, *content);
  if (!written.ok()) return FailIo(written);
  if (like_layout == reporting::kLayoutVersion) {
    std::fprintf(stderr,
                 "evenhand: recomputed from %s (log %s, %llu events read): not signed, since "
                 "only the server holds the key; the server's signed report of the same question "
                 "is these bytes plus its signature line\n",
                 flags.offline.c_str(), Printable(statement->log_id).c_str(),
                 static_cast<unsigned long long>(statement->tree_size));
  } else {
    std::fprintf(stderr,
                 "evenhand: recomputed from %s (log %s, %llu events read), not signed; %s was "
                 "laid out %s, and this evenhand lays out layout %u: the two files differ in "
                 "layout whatever they say; compare what they say, not their bytes\n",
                 flags.offline.c_str(), Printable(statement->log_id).c_str(),
                 static_cast<unsigned long long>(statement->tree_size), flags.like.c_str(),
                 like_layout == 0   ? "so that its layout cannot be read"
                 : like_layout == 1 ? "by an evenhand from before report layouts were numbered"
                                    : absl::StrCat("with layout ", like_layout).c_str(),
                 reporting::kLayoutVersion);
  }
  return kOk;
}

int RunReport(const Context& context, const ReportFlags& flags) {
  if (!flags.like.empty() &&
      (!flags.period.from.empty() || !flags.period.to.empty() || !flags.period.as_of.empty() ||
       !flags.table.empty() || flags.format_given->count() > 0)) {
    // The signed report's question is the one asked: another flag would be
    // ignored, and the answer would not be to it.
    return FailUsage(absl::InvalidArgumentError(
        "--like takes its question (format, table, period and moment) from the signed report: "
        "leave out --from, --to, --as-of, --format and --table"));
  }
  if (flags.format != "csv" && !flags.table.empty() && flags.like.empty()) {
    // The page and the JSON hold every table; --table alone would be
    // ignored and answer another question than was asked.
    return FailUsage(absl::InvalidArgumentError(absl::StrCat(
        "--table=", flags.table, " picks one CSV table: add --format=csv (the ", flags.format,
        " report holds every table)")));
  }
  if (!flags.offline.empty()) return RunOffline(flags);
  if (!flags.like.empty() || !flags.config.empty() || !flags.pubkey.empty()) {
    return FailUsage(absl::InvalidArgumentError(
        "--like, --config and --pubkey go with --offline=BUNDLE (recomputing a report without a "
        "server)"));
  }
  v1::ReportDocumentRequest request;
  absl::StatusOr<v1::ReportRequest> report_request = MakeReportRequest(flags.period);
  if (!report_request.ok()) return FailUsage(report_request.status());
  *request.mutable_report() = *std::move(report_request);
  request.set_format(Format(flags));
  auto channel = context.Channel();
  if (!channel.ok()) return FailLocal(channel.status());
  clients::FairnessClient client(v1::Fairness::NewStub(*channel));
  absl::StatusOr<v1::ReportDocument> document = client.GetReportDocument(request);
  if (!document.ok()) {
    return FailServer(WithAsOfHint(document.status(), flags.period.as_of), context);
  }
  absl::Status written = WriteOutput(flags.output, document->document());
  return written.ok() ? kOk : FailIo(written);
}

}  // namespace

void AddReport(Registry& r) {
  auto flags = std::make_shared<ReportFlags>();
  CLI::App* cmd = r.Add(
      "report",
      "the fairness report for the standards committee (HTML page, JSON or CSV), signed by the "
      "log's key; with --offline, recomputed from an exported bundle of the whole log",
      [flags](const Context& c) { return RunReport(c, *flags); });
  AddPeriodFlags(cmd, &flags->period);
  flags->format_given =
      AddFormatOption(cmd, &flags->format, {"html", "json", "csv"}, /*json_lines=*/false);
  cmd->add_option("--table", flags->table,
                  "with csv: groups (the default), findings or access")
      ->transform(AnyCase())
      ->check(CLI::IsMember({"groups", "findings", "access"}));
  cmd->add_option("--output,-o", flags->output, "write to this file (default stdout)")
      ->check(OutputFileName());
  cmd->add_option("--offline", flags->offline,
                  "recompute the report from this bundle of the whole log (evenhand export), "
                  "without a server");
  cmd->add_option("--like", flags->like,
                  "with --offline: the question of this signed report file (its format, period "
                  "and moment), so that the result can be compared byte for byte");
  cmd->add_option("--pubkey", flags->pubkey,
                  "with --offline: the council's published public key the bundle must be "
                  "signed with");
  cmd->add_option("--config", flags->config,
                  "with --offline: evenhandd's configuration file, for its fairness settings and "
                  "bank holidays (default: evenhandd's defaults)");
}

}  // namespace evenhand::cli
