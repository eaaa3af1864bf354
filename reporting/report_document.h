// Signed report documents: a report saved as a file (HTML, JSON or CSV)
// that anyone can check with the log's public key alone.
//
// A document is the report's content, as reporting/report_render.h renders
// it, with one signature line added at a place fixed by its format (the
// second line of HTML and JSON, the last line of CSV). The signature line
// carries:
//   - a statement, signed by the log's Ed25519 key: what the report read
//     (log id, tree size = the report's position, that tree's Merkle root),
//     how it was asked (period, as-of time, format), the rule set version,
//     and the SHA-256 of the content (the file without its signature line);
//   - a signed checkpoint of the log and an RFC 9162 consistency proof that
//     the report's tree is a prefix of the checkpoint's.
// docs/INTEGRITY.md, "Signed reports", specifies every byte, so that an
// outside verifier (or `openssl pkeyutl`) can check a report without us.
//
// What this module knows: the document's layout, the statement's text form,
// signing through a caller's function, and verification. It does not know
// where the report comes from (the server, or a bundle offline).
//
// Pure functions; thread-safe.
#ifndef EVENHAND_REPORTING_REPORT_DOCUMENT_H_
#define EVENHAND_REPORTING_REPORT_DOCUMENT_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "evenhand/v1/audit.pb.h"
#include "evenhand/v1/fairness.pb.h"

namespace evenhand::reporting {

// "html", "json", "csv-groups", "csv-findings", "csv-access".
std::string FormatName(v1::ReportFormat format);
absl::StatusOr<v1::ReportFormat> ParseFormatName(absl::string_view name);
std::string MediaType(v1::ReportFormat format);

// The report rendered in `format`, without a signature line: the bytes the
// statement's content digest covers. `report` must not carry a signature.
// `keep_going`, if given, is asked as the JSON's lists are printed (its
// caller still waits?): once it says false, "" is returned.
std::string RenderContent(const v1::FairnessReport& report, v1::ReportFormat format,
                          const std::function<bool()>& keep_going = nullptr);

// What a report's signature vouches for. Its text form, every line ending
// in one LF, hashes in standard padded base64, times in Unix nanoseconds:
//
//   evenhand report v1
//   format <html|json|csv-groups|csv-findings|csv-access>
//   log <log id>
//   size <tree size read: the report's as-of position>
//   root <Merkle root of that tree>
//   from <start of the period asked for, or "-" for the start of the log>
//   to <end of the period asked for (excluded), or "-" for the as-of time>
//   as-of <the time deadlines were judged at>
//   rules <rule set version>
//   content <SHA-256 of the content>
struct ReportStatement {
  v1::ReportFormat format = v1::REPORT_FORMAT_UNSPECIFIED;
  std::string log_id;
  uint64_t tree_size = 0;
  std::string root_hash;
  absl::Time from = absl::InfinitePast();
  absl::Time to = absl::InfiniteFuture();
  absl::Time as_of_time;
  std::string rule_set_version;
  std::string content_sha256;
};
std::string StatementText(const ReportStatement& statement);
// The reverse; refuses any text StatementText would not write.
absl::StatusOr<ReportStatement> ParseStatement(absl::string_view text);

// The statement for `content` of `report` (whose provenance is set), asked
// for the period [from, to).
ReportStatement StatementFor(const v1::FairnessReport& report, v1::ReportFormat format,
                             absl::Time from, absl::Time to, absl::string_view content);

// Everything the signature line carries.
struct SignatureBlock {
  std::string statement;  // the statement's text form
  std::string key_id;
  std::string signature;  // Ed25519 over `statement`
  std::string checkpoint_body;
  std::string checkpoint_signature;
  std::vector<std::string> consistency;  // tree_size -> checkpoint size
};

// Signs with `sign` (the log's key; the message is the statement's text)
// and returns the document: `content` with its signature line.
absl::StatusOr<std::string> MakeDocument(
    absl::string_view content, const ReportStatement& statement,
    const v1::SignedCheckpoint& checkpoint, const std::vector<std::string>& consistency,
    const std::string& key_id,
    const std::function<absl::StatusOr<std::string>(absl::string_view)>& sign);

// A document taken apart (nothing checked but its layout).
struct SplitDocument {
  std::string content;
  SignatureBlock block;
  ReportStatement statement;
};
absl::StatusOr<SplitDocument> Split(absl::string_view document);

// What a successful verification established.
struct VerifiedReport {
  ReportStatement statement;
  v1::Checkpoint checkpoint;  // the signed checkpoint it is tied to
  std::string key_id;
  std::string content;
};

// Checks a document: its layout, the statement's signature by `key`, the
// content's digest, the checkpoint's signature, and that the report's tree
// is a prefix of the checkpoint's. The error names the first check that
// failed.
absl::StatusOr<VerifiedReport> VerifyDocument(absl::string_view document,
                                              const v1::PublicKey& key);

}  // namespace evenhand::reporting

#endif  // EVENHAND_REPORTING_REPORT_DOCUMENT_H_
