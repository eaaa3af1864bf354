#include "reporting/report_document.h"

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/status_macros.h"
#include "base/time_util.h"
#include "integrity/merkle.h"
#include "integrity/signing.h"
#include "reporting/report_render.h"

namespace evenhand::reporting {
namespace {

constexpr absl::string_view kMarker = "evenhand-report-signature v1";
constexpr absl::string_view kHtmlOpen = "<!-- ";
constexpr absl::string_view kHtmlClose = " -->";
constexpr absl::string_view kJsonOpen = " \"signature\": {\"value\": \"";
constexpr absl::string_view kJsonClose = "\"},";
constexpr absl::string_view kCsvOpen = "# ";

bool IsCsv(v1::ReportFormat f) {
  return f == v1::REPORT_CSV_GROUPS || f == v1::REPORT_CSV_FINDINGS || f == v1::REPORT_CSV_ACCESS;
}

absl::Status Bad(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("report document: ", why));
}

std::string Nanos(absl::Time t) { return absl::StrCat(absl::ToUnixNanos(t)); }

absl::StatusOr<absl::Time> ParseNanos(absl::string_view s) {
  int64_t n;
  if (!absl::SimpleAtoi(s, &n) || absl::StrCat(n) != s) {
    return Bad(absl::StrCat("\"", absl::CHexEscape(s), "\" is not a time in Unix nanoseconds"));
  }
  return absl::FromUnixNanos(n);
}

// The signature line's payload.
std::string Payload(const SignatureBlock& b) {
  std::vector<std::string> proof;
  for (const std::string& h : b.consistency) proof.push_back(absl::Base64Escape(h));
  return absl::StrCat(kMarker, " key=", b.key_id,
                      " statement=", absl::Base64Escape(b.statement),
                      " signature=", absl::Base64Escape(b.signature),
                      " checkpoint=", absl::Base64Escape(b.checkpoint_body),
                      " checkpoint-signature=", absl::Base64Escape(b.checkpoint_signature),
                      " consistency=", proof.empty() ? "-" : absl::StrJoin(proof, ","));
}

std::string Line(v1::ReportFormat format, const SignatureBlock& b) {
  switch (format) {
    case v1::REPORT_HTML:
      return absl::StrCat(kHtmlOpen, Payload(b), kHtmlClose);
    case v1::REPORT_JSON:
      return absl::StrCat(kJsonOpen, Payload(b), kJsonClose);
    default:
      return absl::StrCat(kCsvOpen, Payload(b));
  }
}

absl::StatusOr<std::string> Unbase64(absl::string_view name, absl::string_view value) {
  std::string out;
  if (!absl::Base64Unescape(value, &out) || absl::Base64Escape(out) != value) {
    return Bad(absl::StrCat("the signature line's ", name, " is not standard padded base64"));
  }
  return out;
}

absl::StatusOr<SignatureBlock> ParsePayload(absl::string_view payload) {
  if (!absl::StartsWith(payload, kMarker)) return Bad("the signature line has no marker");
  std::vector<absl::string_view> parts =
      absl::StrSplit(payload.substr(kMarker.size()), ' ', absl::SkipEmpty());
  const std::vector<absl::string_view> names = {"key",        "statement",
                                                "signature",  "checkpoint",
                                                "checkpoint-signature", "consistency"};
  if (parts.size() != names.size()) {
    return Bad(absl::StrCat("the signature line has ", parts.size(),
                            " name=value fields after its marker, not ", names.size()));
  }
  std::vector<absl::string_view> values;
  for (size_t i = 0; i < names.size(); ++i) {
    if (!absl::ConsumePrefix(&parts[i], absl::StrCat(names[i], "="))) {
      return Bad(absl::StrCat("the signature line's field ", i + 1, " should be ", names[i]));
    }
    values.push_back(parts[i]);
  }
  SignatureBlock b;
  b.key_id = std::string(values[0]);
  EH_ASSIGN_OR_RETURN(b.statement, Unbase64("statement", values[1]));
  EH_ASSIGN_OR_RETURN(b.signature, Unbase64("signature", values[2]));
  EH_ASSIGN_OR_RETURN(b.checkpoint_body, Unbase64("checkpoint", values[3]));
  EH_ASSIGN_OR_RETURN(b.checkpoint_signature, Unbase64("checkpoint-signature", values[4]));
  if (values[5] != "-") {
    for (absl::string_view h : absl::StrSplit(values[5], ',')) {
      EH_ASSIGN_OR_RETURN(std::string hash, Unbase64("consistency proof", h));
      b.consistency.push_back(std::move(hash));
    }
  }
  return b;
}

}  // namespace

std::string FormatName(v1::ReportFormat format) {
  switch (format) {
    case v1::REPORT_HTML:
      return "html";
    case v1::REPORT_JSON:
      return "json";
    case v1::REPORT_CSV_GROUPS:
      return "csv-groups";
    case v1::REPORT_CSV_FINDINGS:
      return "csv-findings";
    case v1::REPORT_CSV_ACCESS:
      return "csv-access";
    default:
      return "unspecified";
  }
}

absl::StatusOr<v1::ReportFormat> ParseFormatName(absl::string_view name) {
  for (v1::ReportFormat f : {v1::REPORT_HTML, v1::REPORT_JSON, v1::REPORT_CSV_GROUPS,
                             v1::REPORT_CSV_FINDINGS, v1::REPORT_CSV_ACCESS}) {
    if (FormatName(f) == name) return f;
  }
  return Bad(absl::StrCat("unknown format \"", absl::CHexEscape(name),
                          "\" (known: html, json, csv-groups, csv-findings, csv-access)"));
}

std::string MediaType(v1::ReportFormat format) {
  if (format == v1::REPORT_HTML) return "text/html; charset=utf-8";
  if (format == v1::REPORT_JSON) return "application/json";
  return "text/csv; charset=utf-8";
}

std::string RenderContent(const v1::FairnessReport& report, v1::ReportFormat format,
                          const std::function<bool()>& keep_going) {
  switch (format) {
    case v1::REPORT_HTML:
      return RenderReportHtml(report);
    case v1::REPORT_JSON:
      return keep_going ? RenderReportJson(report, keep_going) : RenderReportJson(report);
    case v1::REPORT_CSV_FINDINGS:
      return RenderFindingsCsv(report);
    case v1::REPORT_CSV_ACCESS:
      return RenderAccessCsv(report);
    default:
      return RenderGroupsCsv(report);
  }
}

std::string StatementText(const ReportStatement& s) {
  return absl::StrCat("evenhand report v1\nformat ", FormatName(s.format), "\nlog ", s.log_id,
                      "\nsize ", s.tree_size, "\nroot ", absl::Base64Escape(s.root_hash),
                      "\nfrom ", s.from == absl::InfinitePast() ? "-" : Nanos(s.from),
                      "\nto ", s.to == absl::InfiniteFuture() ? "-" : Nanos(s.to),
                      "\nas-of ", Nanos(s.as_of_time), "\nrules ", s.rule_set_version,
                      "\ncontent ", absl::Base64Escape(s.content_sha256), "\n");
}

absl::StatusOr<ReportStatement> ParseStatement(absl::string_view text) {
  if (!absl::ConsumeSuffix(&text, "\n")) return Bad("the statement does not end with a line feed");
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  const std::vector<absl::string_view> names = {"format", "log", "size", "root",  "from",
                                                "to",     "as-of", "rules", "content"};
  if (lines.size() != names.size() + 1 || lines[0] != "evenhand report v1") {
    return Bad("the statement is not an \"evenhand report v1\" statement");
  }
  std::vector<absl::string_view> v;
  for (size_t i = 0; i < names.size(); ++i) {
    absl::string_view line = lines[i + 1];
    if (!absl::ConsumePrefix(&line, absl::StrCat(names[i], " "))) {
      return Bad(absl::StrCat("the statement's line ", i + 2, " should start with \"", names[i],
                              " \""));
    }
    v.push_back(line);
  }
  ReportStatement s;
  EH_ASSIGN_OR_RETURN(s.format, ParseFormatName(v[0]));
  s.log_id = std::string(v[1]);
  if (!absl::SimpleAtoi(v[2], &s.tree_size)) return Bad("the statement's size is not a number");
  EH_ASSIGN_OR_RETURN(s.root_hash, Unbase64("root", v[3]));
  if (v[4] != "-") {
    EH_ASSIGN_OR_RETURN(s.from, ParseNanos(v[4]));
  }
  if (v[5] != "-") {
    EH_ASSIGN_OR_RETURN(s.to, ParseNanos(v[5]));
  }
  EH_ASSIGN_OR_RETURN(s.as_of_time, ParseNanos(v[6]));
  // "sha256:" and 16 lower-case hex digits (reporting/rule_set.h).
  if (v[7].size() != 23 || !absl::StartsWith(v[7], "sha256:") ||
      v[7].find_first_not_of("0123456789abcdef", 7) != absl::string_view::npos) {
    return Bad("the statement's rules is not \"sha256:\" and 16 lower-case hex digits");
  }
  s.rule_set_version = std::string(v[7]);
  EH_ASSIGN_OR_RETURN(s.content_sha256, Unbase64("content digest", v[8]));
  if (StatementText(s) != absl::StrCat(text, "\n")) {
    return Bad("the statement is not in its one canonical form");
  }
  return s;
}

ReportStatement StatementFor(const v1::FairnessReport& report, v1::ReportFormat format,
                             absl::Time from, absl::Time to, absl::string_view content) {
  ReportStatement s;
  s.format = format;
  s.log_id = report.provenance().log_id();
  s.tree_size = report.provenance().tree_size();
  s.root_hash = report.provenance().root_hash();
  s.from = from;
  s.to = to;
  s.as_of_time = FromProtoTime(report.as_of_time());
  s.rule_set_version = report.provenance().rule_set_version();
  s.content_sha256 = integrity::Sha256(content);
  return s;
}

absl::StatusOr<std::string> MakeDocument(
    absl::string_view content, const ReportStatement& statement,
    const v1::SignedCheckpoint& checkpoint, const std::vector<std::string>& consistency,
    const std::string& key_id,
    const std::function<absl::StatusOr<std::string>(absl::string_view)>& sign) {
  if (integrity::Sha256(content) != statement.content_sha256) {
    return absl::InternalError("report document: the statement is not about this content");
  }
  SignatureBlock b;
  b.statement = StatementText(statement);
  b.key_id = key_id;
  EH_ASSIGN_OR_RETURN(b.signature, sign(b.statement));
  b.checkpoint_body = checkpoint.signed_body();
  b.checkpoint_signature = checkpoint.signature();
  b.consistency = consistency;
  const std::string line = absl::StrCat(Line(statement.format, b), "\n");
  if (IsCsv(statement.format)) return absl::StrCat(content, line);
  const size_t first = content.find('\n');
  if (first == absl::string_view::npos) {
    return absl::InternalError("report document: the content has no first line");
  }
  return absl::StrCat(content.substr(0, first + 1), line, content.substr(first + 1));
}

absl::StatusOr<SplitDocument> Split(absl::string_view document) {
  if (!absl::EndsWith(document, "\n")) return Bad("the file does not end with a line feed");
  // The candidates: the second line (HTML, JSON) and the last (CSV).
  const size_t first_end = document.find('\n');
  const size_t second_end = document.find('\n', first_end + 1);
  const size_t last_start = document.rfind('\n', document.size() - 2) + 1;
  absl::string_view second = second_end == absl::string_view::npos
                                 ? absl::string_view()
                                 : document.substr(first_end + 1, second_end - first_end - 1);
  absl::string_view last = document.substr(last_start, document.size() - 1 - last_start);
  absl::string_view line, payload;
  size_t line_start = 0;
  // The last line first: a CSV report's is its signature line, and an HTML
  // or JSON report's never starts with "# ", while a CSV row can start as
  // the HTML line does (a principal named "<!-- evenhand-report-...").
  if (absl::StartsWith(last, absl::StrCat(kCsvOpen, kMarker))) {
    line = last;
    line_start = last_start;
    payload = last.substr(kCsvOpen.size());
  } else if (absl::StartsWith(second, absl::StrCat(kHtmlOpen, kMarker))) {
    line = second;
    line_start = first_end + 1;
    payload = absl::StripSuffix(second.substr(kHtmlOpen.size()), kHtmlClose);
  } else if (absl::StartsWith(second, absl::StrCat(kJsonOpen, kMarker))) {
    line = second;
    line_start = first_end + 1;
    payload = absl::StripSuffix(second.substr(kJsonOpen.size()), kJsonClose);
  } else {
    return Bad(
        "the file has no signature line (the second line of an HTML or JSON report, the last "
        "of a CSV one): it is not a signed Even Hand report, or the line was removed");
  }
  // The whole line is compared below with the one the statement's format
  // calls for: nothing of it goes unchecked.
  SplitDocument out;
  EH_ASSIGN_OR_RETURN(out.block, ParsePayload(payload));
  EH_ASSIGN_OR_RETURN(out.statement, ParseStatement(out.block.statement));
  if (Line(out.statement.format, out.block) != line) {
    return Bad(absl::StrCat("the signature line is not exactly as a signed ",
                            FormatName(out.statement.format),
                            " report writes it (it was altered, or the file is another format)"));
  }
  out.content = absl::StrCat(document.substr(0, line_start),
                             document.substr(line_start + line.size() + 1));
  return out;
}

// VerifyDocument without the hint about line ends.
static absl::StatusOr<VerifiedReport> VerifyDocumentBytes(absl::string_view document,
                                                          const v1::PublicKey& key);

absl::StatusOr<VerifiedReport> VerifyDocument(absl::string_view document,
                                              const v1::PublicKey& key) {
  absl::StatusOr<VerifiedReport> verified = VerifyDocumentBytes(document, key);
  // A signed report never has CR LF line ends (each form is written with
  // LF): a file that has them was converted after signing (an email
  // client, an editor, a copy between systems), and that is the cause.
  if (!verified.ok() && absl::StrContains(document, "\r\n")) {
    return absl::Status(verified.status().code(),
                        absl::StrCat(verified.status().message(),
                                     " (the file has Windows line ends, CR LF: it was converted "
                                     "after it was signed, by an email client, an editor or a "
                                     "copy between systems; check the file as it was made)"));
  }
  return verified;
}

static absl::StatusOr<VerifiedReport> VerifyDocumentBytes(absl::string_view document,
                                                          const v1::PublicKey& key) {
  EH_ASSIGN_OR_RETURN(SplitDocument split, Split(document));
  const std::string key_id = integrity::KeyId(key.raw());
  if (split.block.key_id != key_id) {
    return Bad(absl::StrCat("the report was signed with key ", absl::CHexEscape(split.block.key_id),
                            ", not with the key given (", key_id,
                            "): it is another log's report, or the wrong key was given"));
  }
  if (absl::Status s =
          integrity::VerifySignature(key.raw(), split.block.statement, split.block.signature);
      !s.ok()) {
    return Bad(absl::StrCat("the report's signature does not verify (", s.message(),
                            "): its statement was altered"));
  }
  if (integrity::Sha256(split.content) != split.statement.content_sha256) {
    return Bad(
        "the content was changed after it was signed: the file without its signature line "
        "does not have the SHA-256 the signed statement gives");
  }
  v1::SignedCheckpoint checkpoint;
  EH_ASSIGN_OR_RETURN(*checkpoint.mutable_checkpoint(),
                      integrity::ParseCheckpointBody(split.block.checkpoint_body));
  if (!absl::StartsWith(split.block.checkpoint_body, "evenhand checkpoint v2\n")) {
    return Bad("the report's checkpoint is not a version 2 checkpoint");
  }
  checkpoint.set_signed_body(split.block.checkpoint_body);
  checkpoint.set_signature(split.block.checkpoint_signature);
  checkpoint.set_key_id(split.block.key_id);
  EH_RETURN_IF_ERROR(integrity::VerifyCheckpoint(checkpoint, key));
  const v1::Checkpoint& c = checkpoint.checkpoint();
  const ReportStatement& s = split.statement;
  if (c.log_id() != s.log_id) {
    return Bad(absl::StrCat("the report is about log ", absl::CHexEscape(s.log_id),
                            " but its checkpoint is log ", absl::CHexEscape(c.log_id()), "'s"));
  }
  if (s.tree_size > c.tree_size()) {
    return Bad(absl::StrCat("the report read ", s.tree_size,
                            " events, more than its checkpoint covers (", c.tree_size(), ")"));
  }
  if (s.tree_size == 0 || s.tree_size == c.tree_size()) {
    const std::string expected = s.tree_size == 0 ? integrity::EmptyTreeRoot() : c.root_hash();
    if (s.root_hash != expected || !split.block.consistency.empty()) {
      return Bad("the report's Merkle root is not the signed checkpoint's");
    }
  } else if (absl::Status v = integrity::VerifyConsistency(s.tree_size, c.tree_size(),
                                                           s.root_hash, c.root_hash(),
                                                           split.block.consistency);
             !v.ok()) {
    return Bad(absl::StrCat("the events the report read are not a prefix of the signed log (",
                            v.message(), ")"));
  }
  VerifiedReport out;
  out.statement = std::move(split.statement);
  out.checkpoint = c;
  out.key_id = key_id;
  out.content = std::move(split.content);
  return out;
}

}  // namespace evenhand::reporting
