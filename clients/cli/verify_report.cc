// evenhand verify-report: checks signed report files offline: each one's
// signature by the log's key, that its content is what was signed, and that
// the events it read are a prefix of a signed checkpoint of the log; with
// --bundle, also that the log recomputes to the same report, byte for byte.
// Several files are checked in one run (the key and the bundle read once),
// each named in its verdict.
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "base/time_util.h"
#include "clients/cli/common.h"
#include "clients/cli/offline_report.h"
#include "reporting/report_document.h"
#include "reporting/report_render.h"

namespace evenhand::cli {
namespace {

struct VerifyReportFlags {
  std::vector<std::string> files;
  std::string pubkey;
  std::string bundle;
  std::string config;
};

std::string When(absl::Time t) {
  if (t == absl::InfinitePast()) return "the start of the log";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S %Z", t, UkTimeZone());
}

// The first line where two texts differ (1-based), for people.
std::string FirstDifference(const std::string& a, const std::string& b) {
  std::vector<absl::string_view> x = absl::StrSplit(a, '\n'), y = absl::StrSplit(b, '\n');
  for (size_t i = 0; i < std::max(x.size(), y.size()); ++i) {
    absl::string_view l = i < x.size() ? x[i] : "", r = i < y.size() ? y[i] : "";
    if (l != r) {
      return absl::StrCat("line ", i + 1, " of the content: the report has \"",
                          l.substr(0, 120), "\", the log gives \"", r.substr(0, 120), "\"");
    }
  }
  return "the content differs";
}

// The bundle of --bundle, read and verified once, when the first report
// to compare with it has been verified.
class LazyLog {
 public:
  explicit LazyLog(const VerifyReportFlags& flags) : flags_(flags) {}
  const absl::StatusOr<OfflineLog>& Get() {
    if (!log_) log_ = LoadOfflineLog(flags_.bundle, flags_.pubkey, flags_.config);
    return *log_;
  }

 private:
  const VerifyReportFlags& flags_;
  std::optional<absl::StatusOr<OfflineLog>> log_;
};

// Checks one file; `named`: its verdict names it (several files).
int VerifyOne(const std::string& file, bool named, const v1::PublicKey& key,
              const VerifyReportFlags& flags, LazyLog& lazy_log) {
  const std::string who = named ? absl::StrCat(file, ": ") : "";
  absl::StatusOr<std::string> bytes =
      ReadLocalFile("verify-report", file, kMaxDocumentBytes, "signed report");
  // Empty, or larger than a report can be: not one.
  if (absl::IsInvalidArgument(bytes.status())) {
    return VerificationFailed(absl::StrCat(who, bytes.status().message()));
  }
  if (!bytes.ok()) return FailIo(bytes.status());
  absl::StatusOr<reporting::VerifiedReport> r = reporting::VerifyDocument(*bytes, key);
  if (!r.ok()) return VerificationFailed(absl::StrCat(who, r.status().message()));
  const reporting::ReportStatement& s = r->statement;
  if (!flags.bundle.empty()) {
    const absl::StatusOr<OfflineLog>& log = lazy_log.Get();
    if (!log.ok()) {
      if (absl::IsDataLoss(log.status())) {
        return VerificationFailed(std::string(log.status().message()));
      }
      return absl::IsNotFound(log.status()) ? FailIo(log.status()) : FailUsage(log.status());
    }
    absl::StatusOr<std::string> content = RecomputeContent(*log, s);
    if (!content.ok()) {
      return FailUsage(
          absl::Status(content.status().code(), absl::StrCat(who, content.status().message())));
    }
    // Signed and tied to the log, but rendered by another evenhand: not a
    // difference this one can judge. (A signer that leaves the layout out
    // makes a mismatch read as "another layout": exit 2 vouches for the
    // signature and the checkpoint, never for the content.)
    if (*content != r->content) {
      if (const uint32_t layout = reporting::LayoutOf(r->content, s.format);
          layout != reporting::kLayoutVersion) {
        return FailUsage(absl::FailedPreconditionError(absl::StrCat(
            who, "the report is signed by the key given, but ",
            layout == 0   ? "its layout cannot be read (it is not this evenhand's JSON)"
            : layout == 1 ? "was laid out by an evenhand from before report layouts were numbered"
                          : absl::StrCat("was laid out with layout ", layout),
            ", and this evenhand lays out layout ", reporting::kLayoutVersion,
            ": it cannot recompute it byte for byte. Check it with an evenhand of its layout "
            "(its release notes name it), or compare what it says with this log's report to "
            "the same question (evenhand report --offline=",
            flags.bundle, " --like=", file,
            flags.config.empty() ? "" : absl::StrCat(" --config=", flags.config),
            " -o FILE); without --bundle, its signature and checkpoint are checked")));
      }
    }
    if (*content != r->content) {
      return VerificationFailed(absl::StrCat(
          who, "the report is signed, but the log in ", flags.bundle,
          " does not recompute to it: ", FirstDifference(r->content, *content)));
    }
  }
  std::printf("report %s: VERIFIED\n", file.c_str());
  std::printf("  signed by    key %s (the key given)\n", Printable(r->key_id).c_str());
  std::printf("  log          %s\n", Printable(s.log_id).c_str());
  std::printf("  read         the first %llu events, Merkle root %s\n",
              static_cast<unsigned long long>(s.tree_size), Hex(s.root_hash).c_str());
  std::printf("  checkpoint   tree size %llu, root %s, signed %s: %s\n",
              static_cast<unsigned long long>(r->checkpoint.tree_size()),
              Hex(r->checkpoint.root_hash()).c_str(),
              When(FromProtoTime(r->checkpoint.timestamp())).c_str(),
              s.tree_size == r->checkpoint.tree_size()
                  ? "the same tree"
                  : "the report's tree is proven a prefix of it (RFC 9162 consistency proof)");
  std::printf("  question     %s, period from %s to %s, deadlines judged at %s\n",
              reporting::FormatName(s.format).c_str(), When(s.from).c_str(),
              s.to == absl::InfiniteFuture() ? "then (included)"
                                              : absl::StrCat(When(s.to), " (excluded)").c_str(),
              When(s.as_of_time).c_str());
  std::printf("  rule set     %s\n", Printable(s.rule_set_version).c_str());
  if (!flags.bundle.empty()) {
    std::printf("  recomputed   from %s: the same report, byte for byte\n", flags.bundle.c_str());
  } else if (!named) {
    std::printf("  (to check what it says against the log itself: --bundle=an export of the whole "
                "log)\n");
  }
  return kOk;
}

int RunVerifyReport(const VerifyReportFlags& flags) {
  if (!flags.config.empty() && flags.bundle.empty()) {
    return FailUsage(absl::InvalidArgumentError(
        "--config is the server's configuration for recomputing from --bundle: give --bundle "
        "too, or leave --config out"));
  }
  absl::StatusOr<v1::PublicKey> key = ReadPublicKey(flags.pubkey);
  if (!key.ok()) return FailLocal(key.status());
  LazyLog log(flags);
  const bool named = flags.files.size() > 1;
  // Every file is checked; the exit code is the worst outcome: a report
  // that was not verified (1) above all, so that no unreadable file beside
  // it hides it from a script that looks for 1 (outside probe); then a file
  // (or bundle) that could not be read (4); then one that could not be
  // checked as asked (2).
  auto rank = [](int c) {
    return c == kOk ? 0 : c == kUsage ? 1 : c == kVerificationFailed ? 3 : 2;
  };
  int worst = kOk;
  size_t verified = 0;
  for (const std::string& file : flags.files) {
    const int code = VerifyOne(file, named, *key, flags, log);
    if (code == kOk) ++verified;
    if (rank(code) > rank(worst)) worst = code;
  }
  if (named) {
    std::printf("%zu of %zu reports verified\n", verified, flags.files.size());
  }
  return worst;
}

}  // namespace

void AddVerifyReport(Registry& r) {
  auto flags = std::make_shared<VerifyReportFlags>();
  CLI::App* cmd = r.Add(
      "verify-report",
      "check a signed report file offline: its signature, that its content is what was signed, "
      "and that the log it read is a prefix of a signed checkpoint",
      [flags](const Context&) { return RunVerifyReport(*flags); });
  cmd->add_option("files", flags->files,
                  "the report files (HTML, JSON or CSV); each is checked and named in its verdict")
      ->required();
  cmd->add_option("--pubkey", flags->pubkey,
                  "the council's published public key (PEM), e.g. from `evenhand pubkey`")
      ->required();
  cmd->add_option("--bundle", flags->bundle,
                  "also recompute the report from this bundle of the whole log and compare");
  cmd->add_option("--config", flags->config,
                  "with --bundle: evenhandd's configuration file (fairness settings, bank "
                  "holidays)");
}

}  // namespace evenhand::cli
