// Signed report documents (reporting/report_document.h): made and verified
// with a real Ed25519 key and a real RFC 9162 tree; every byte of a
// document is covered, a report is tied to its own log's checkpoint, and
// the text forms have exactly one spelling.
#include "reporting/report_document.h"

#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "integrity/merkle.h"
#include "integrity/signing.h"
#include "projections/working_day_calendar.h"
#include "reporting/rule_set.h"
#include "tests/testing/status_matchers.h"

namespace evenhand::reporting {
namespace {

using ::evenhand::testing::StatusIs;
using ::testing::HasSubstr;

// A log of `n` leaves, its nodes kept for proofs.
struct Tree {
  explicit Tree(int n, absl::string_view leaf = "event ") {
    for (int i = 0; i < n; ++i) {
      range.Append(integrity::LeafHash(absl::StrCat(leaf, i)),
                   [this](int level, uint64_t index, const std::string& hash) {
                     nodes[{level, index}] = hash;
                   });
      roots.push_back(range.Root());
    }
  }
  std::string Root(uint64_t size) const { return roots[size - 1]; }
  std::vector<std::string> Consistency(uint64_t from, uint64_t to) const {
    return *integrity::ConsistencyPath(from, to, [this](int l, uint64_t i) {
      return absl::StatusOr<std::string>(nodes.at({l, i}));
    });
  }
  integrity::CompactRange range;
  std::map<std::pair<int, uint64_t>, std::string> nodes;
  std::vector<std::string> roots;
};

class ReportDocumentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    key_ = *integrity::SigningKey::Generate();
    other_key_ = *integrity::SigningKey::Generate();
  }

  v1::SignedCheckpoint Checkpoint(const integrity::SigningKey& key, const std::string& log,
                                  uint64_t size, const std::string& root) {
    v1::Checkpoint c;
    c.set_log_id(log);
    c.set_tree_size(size);
    c.set_root_hash(root);
    c.set_chain_head(std::string(32, 'c'));
    c.set_stream_map_root(std::string(32, 's'));
    c.mutable_timestamp()->set_seconds(1780000000);
    return *integrity::SignCheckpoint(key, c);
  }

  // A document of `format` reading `size` events of tree_, tied to the
  // checkpoint of `checkpoint_size`.
  std::string Document(v1::ReportFormat format, uint64_t size = 3, uint64_t checkpoint_size = 5,
                       const std::string& log = "0b7e2f4c-1d3a-4e5b-8c6d-7e8f9a0b1c2d") {
    const std::string content = Content(format);
    ReportStatement s;
    s.format = format;
    s.log_id = log;
    s.tree_size = size;
    s.root_hash = tree_.Root(size);
    s.from = absl::FromUnixSeconds(1775000000);
    s.as_of_time = absl::FromUnixNanos(1780000000123456789);
    s.rule_set_version = "sha256:0123456789abcdef";
    s.content_sha256 = integrity::Sha256(content);
    std::vector<std::string> proof;
    if (size < checkpoint_size) proof = tree_.Consistency(size, checkpoint_size);
    return *MakeDocument(content, s, Checkpoint(key_, log, checkpoint_size,
                                                tree_.Root(checkpoint_size)),
                         proof, key_.public_key().key_id(),
                         [this](absl::string_view m) { return key_.Sign(m); });
  }

  std::string Content(v1::ReportFormat format) const {
    if (!csv_content_.empty() && format != v1::REPORT_HTML && format != v1::REPORT_JSON) {
      return csv_content_;
    }
    switch (format) {
      case v1::REPORT_HTML:
        return "<!DOCTYPE html>\n<html><body><p>Green Group: 3 findings</p></body></html>\n";
      case v1::REPORT_JSON:
        return "{\n \"councilName\": \"Demo\",\n \"asOfPosition\": \"3\"\n}\n";
      default:
        return "group_id,name\ngreen,Green Group\nlabour,Labour Group\n# evenhand report: x\n";
    }
  }

  std::string csv_content_;  // when set, the CSV forms' content
  Tree tree_{8};
  integrity::SigningKey key_ = *integrity::SigningKey::Generate();
  integrity::SigningKey other_key_ = *integrity::SigningKey::Generate();
};

TEST_F(ReportDocumentTest, EachFormatVerifiesAndGivesBackItsContentAndQuestion) {
  for (v1::ReportFormat f : {v1::REPORT_HTML, v1::REPORT_JSON, v1::REPORT_CSV_GROUPS,
                             v1::REPORT_CSV_FINDINGS, v1::REPORT_CSV_ACCESS}) {
    SCOPED_TRACE(FormatName(f));
    const std::string doc = Document(f);
    absl::StatusOr<VerifiedReport> r = VerifyDocument(doc, key_.public_key());
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->content, Content(f));
    EXPECT_EQ(r->statement.format, f);
    EXPECT_EQ(r->statement.tree_size, 3u);
    EXPECT_EQ(r->statement.as_of_time, absl::FromUnixNanos(1780000000123456789));
    EXPECT_EQ(r->statement.to, absl::InfiniteFuture());
    EXPECT_EQ(r->checkpoint.tree_size(), 5u);
  }
}

// A CSV's rows are the council's and its callers' names: a row that starts
// as an HTML report's signature line does is a row, not the signature.
TEST_F(ReportDocumentTest, ACsvRowThatLooksLikeTheHtmlSignatureLineIsARow) {
  csv_content_ =
      "principal,roles\n<!-- evenhand-report-signature v1 key=x -->,auditor\n"
      "# evenhand report: x\n";
  const std::string doc = Document(v1::REPORT_CSV_ACCESS);
  absl::StatusOr<VerifiedReport> r = VerifyDocument(doc, key_.public_key());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->content, csv_content_);
  EXPECT_EQ(r->statement.format, v1::REPORT_CSV_ACCESS);
}

TEST_F(ReportDocumentTest, TheSignatureLineSitsWhereItsFormatPutsIt) {
  EXPECT_TRUE(absl::StartsWith(Document(v1::REPORT_HTML),
                               "<!DOCTYPE html>\n<!-- evenhand-report-signature v1 key="));
  EXPECT_TRUE(absl::StartsWith(Document(v1::REPORT_JSON),
                               "{\n \"signature\": {\"value\": \"evenhand-report-signature v1 "));
  const std::string csv = Document(v1::REPORT_CSV_GROUPS);
  EXPECT_TRUE(absl::StartsWith(csv, Content(v1::REPORT_CSV_GROUPS)));
  EXPECT_THAT(csv.substr(Content(v1::REPORT_CSV_GROUPS).size()),
              ::testing::StartsWith("# evenhand-report-signature v1 key="));
}

TEST_F(ReportDocumentTest, ChangingAnyByteOfTheFileIsRefused) {
  for (v1::ReportFormat f : {v1::REPORT_HTML, v1::REPORT_JSON, v1::REPORT_CSV_GROUPS}) {
    const std::string doc = Document(f);
    int accepted = 0;
    for (size_t i = 0; i < doc.size(); ++i) {
      for (char flip : {'\x01', '\x20'}) {
        std::string bad = doc;
        bad[i] ^= flip;
        if (VerifyDocument(bad, key_.public_key()).ok()) {
          ++accepted;
          ADD_FAILURE() << FormatName(f) << ": byte " << i << " ^ " << int(flip)
                        << " still verifies";
        }
      }
    }
    EXPECT_EQ(accepted, 0);
  }
}

TEST_F(ReportDocumentTest, ChangedContentIsNamedAsSuch) {
  std::string doc = Document(v1::REPORT_HTML);
  absl::StrReplaceAll({{"3 findings", "0 findings"}}, &doc);
  EXPECT_THAT(VerifyDocument(doc, key_.public_key()).status().message(),
              HasSubstr("the content was changed after it was signed"));
}

TEST_F(ReportDocumentTest, ARemovedOrMovedSignatureLineIsRefused) {
  const std::string csv = Document(v1::REPORT_CSV_GROUPS);
  EXPECT_THAT(VerifyDocument(Content(v1::REPORT_CSV_GROUPS), key_.public_key()).status().message(),
              HasSubstr("no signature line"));
  // The CSV's signature line moved to the top.
  const std::string line = csv.substr(Content(v1::REPORT_CSV_GROUPS).size());
  EXPECT_FALSE(
      VerifyDocument(absl::StrCat(line, Content(v1::REPORT_CSV_GROUPS)), key_.public_key()).ok());
  // An HTML signature line moved to the end, or dressed as CSV's.
  const std::string html = Document(v1::REPORT_HTML);
  const size_t a = html.find('\n') + 1, b = html.find('\n', a) + 1;
  const std::string html_line = html.substr(a, b - a);
  const std::string moved = absl::StrCat(html.substr(0, a), html.substr(b), html_line);
  EXPECT_FALSE(VerifyDocument(moved, key_.public_key()).ok());
  const std::string dressed = absl::StrCat(
      html.substr(0, a), html.substr(b), "# ",
      absl::StripSuffix(absl::StripPrefix(html_line, "<!-- "), " -->\n"), "\n");
  EXPECT_FALSE(VerifyDocument(dressed, key_.public_key()).ok());
}

TEST_F(ReportDocumentTest, AnotherKeyIsRefusedNamingBothKeys) {
  absl::Status s = VerifyDocument(Document(v1::REPORT_HTML), other_key_.public_key()).status();
  EXPECT_THAT(s.message(), HasSubstr(key_.public_key().key_id()));
  EXPECT_THAT(s.message(), HasSubstr(other_key_.public_key().key_id()));
}

TEST_F(ReportDocumentTest, AReportTiedToAnotherLogsCheckpointIsRefused) {
  // Same key, two logs: the report reads log A, the checkpoint is log B's.
  const std::string content = Content(v1::REPORT_HTML);
  ReportStatement s;
  s.format = v1::REPORT_HTML;
  s.log_id = "0b7e2f4c-1d3a-4e5b-8c6d-7e8f9a0b1c2d";
  s.tree_size = 5;
  s.root_hash = tree_.Root(5);
  s.as_of_time = absl::FromUnixSeconds(1780000000);
  s.rule_set_version = "sha256:0123456789abcdef";
  s.content_sha256 = integrity::Sha256(content);
  auto sign = [this](absl::string_view m) { return key_.Sign(m); };
  const std::string doc = *MakeDocument(
      content, s, Checkpoint(key_, "9c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f", 5, tree_.Root(5)), {},
      key_.public_key().key_id(), sign);
  EXPECT_THAT(VerifyDocument(doc, key_.public_key()).status().message(),
              HasSubstr("its checkpoint is log 9c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f's"));
  // Same log id, but a checkpoint over other events: not a prefix.
  const Tree other(8, "other event ");
  s.tree_size = 3;
  s.root_hash = tree_.Root(3);
  const std::string forked = *MakeDocument(
      content, s, Checkpoint(key_, "0b7e2f4c-1d3a-4e5b-8c6d-7e8f9a0b1c2d", 8, other.Root(8)),
      other.Consistency(3, 8), key_.public_key().key_id(), sign);
  EXPECT_THAT(VerifyDocument(forked, key_.public_key()).status().message(),
              HasSubstr("not a prefix of the signed log"));
  // A checkpoint smaller than the report's tree.
  s.tree_size = 6;
  s.root_hash = tree_.Root(6);
  const std::string ahead = *MakeDocument(
      content, s, Checkpoint(key_, "0b7e2f4c-1d3a-4e5b-8c6d-7e8f9a0b1c2d", 5, tree_.Root(5)), {},
      key_.public_key().key_id(), sign);
  EXPECT_THAT(VerifyDocument(ahead, key_.public_key()).status().message(),
              HasSubstr("more than its checkpoint covers"));
}

TEST_F(ReportDocumentTest, StatementsHaveOneSpelling) {
  ReportStatement s;
  s.format = v1::REPORT_CSV_ACCESS;
  s.log_id = "0b7e2f4c-1d3a-4e5b-8c6d-7e8f9a0b1c2d";
  s.tree_size = 42;
  s.root_hash = std::string(32, 'r');
  s.to = absl::FromUnixSeconds(1790000000);
  s.as_of_time = absl::FromUnixSeconds(1780000000);
  s.rule_set_version = "sha256:0123456789abcdef";
  s.content_sha256 = std::string(32, 'h');
  const std::string text = StatementText(s);
  EXPECT_THAT(
      text, ::testing::StartsWith(
                "evenhand report v1\nformat csv-access\nlog 0b7e2f4c-1d3a-4e5b-8c6d-7e8f9a0b1c2d\n"
                "size 42\n"));
  EXPECT_THAT(text, HasSubstr("\nfrom -\nto 1790000000000000000\nas-of 1780000000000000000\n"));
  absl::StatusOr<ReportStatement> back = ParseStatement(text);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(StatementText(*back), text);
  for (auto [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"size 42\n", "size 042\n"},
           {"size 42\n", "size +42\n"},
           {"format csv-access", "format CSV"},
           {"as-of 1780000000000000000", "as-of 1780000000000000000.0"},
           // The rule set's version has one form too (outside probe).
           {"rules sha256:0123456789abcdef", "rules sha256:0123456789ABCDEF"},
           {"rules sha256:0123456789abcdef", "rules sha256:0123"},
           {"rules sha256:0123456789abcdef", "rules sha256:0123456789abcdef0"},
           {"rules sha256:0123456789abcdef", "rules md5:0123456789abcdef"},
           {"\n", "\r\n"}}) {
    EXPECT_FALSE(ParseStatement(absl::StrReplaceAll(text, {{from, to}})).ok()) << to;
  }
  EXPECT_FALSE(ParseStatement(absl::StrCat(text, "extra 1\n")).ok());
}

TEST(CheckpointText, ParsesBackToTheCheckpointAndRefusesAnyOtherSpelling) {
  v1::Checkpoint c;
  c.set_log_id("0b7e2f4c-1d3a-4e5b-8c6d-7e8f9a0b1c2d");
  c.set_tree_size(7);
  c.set_root_hash(std::string(32, 'r'));
  c.set_chain_head(std::string(32, 'c'));
  c.set_stream_map_root(std::string(32, 's'));
  c.mutable_timestamp()->set_seconds(1780000000);
  c.mutable_timestamp()->set_nanos(5);
  const std::string body = integrity::CheckpointBody(c);
  absl::StatusOr<v1::Checkpoint> back = integrity::ParseCheckpointBody(body);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->SerializeAsString(), c.SerializeAsString());
  EXPECT_FALSE(integrity::ParseCheckpointBody(absl::StrReplaceAll(body, {{"size 7", "size 07"}})).ok());
  EXPECT_FALSE(integrity::ParseCheckpointBody(body.substr(0, body.size() - 1)).ok());
  EXPECT_FALSE(integrity::ParseCheckpointBody(absl::StrReplaceAll(body, {{"\n", "\r\n"}})).ok());
  // A log's id is a lower-case UUID, and only that (outside probe).
  for (const std::string log : {"0B7E2F4C-1D3A-4E5B-8C6D-7E8F9A0B1C2D", "not-a-uuid", ""}) {
    EXPECT_THAT(integrity::ParseCheckpointBody(
                    absl::StrReplaceAll(body, {{"0b7e2f4c-1d3a-4e5b-8c6d-7e8f9a0b1c2d", log}})),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("lower-case UUID")))
        << log;
  }
}

TEST(CheckpointText, ATimeBeyondNanosecondRangeMatchesNoSignatureAndDoesNotOverflow) {
  // A damaged or forged checkpoint's timestamp (year 2758; or before 1970).
  auto key = *integrity::SigningKey::Generate();
  v1::Checkpoint c;
  c.set_log_id("0b7e2f4c-1d3a-4e5b-8c6d-7e8f9a0b1c2d");
  c.set_tree_size(7);
  c.set_root_hash(std::string(32, 'r'));
  c.set_chain_head(std::string(32, 'c'));
  c.set_stream_map_root(std::string(32, 's'));
  c.mutable_timestamp()->set_seconds(1780000000);
  v1::SignedCheckpoint signed_checkpoint = *integrity::SignCheckpoint(key, c);
  for (int64_t seconds : {int64_t{24881422662}, int64_t{-5}, int64_t{INT64_MAX}}) {
    v1::SignedCheckpoint forged = signed_checkpoint;
    forged.mutable_checkpoint()->mutable_timestamp()->set_seconds(seconds);
    EXPECT_THAT(integrity::CheckpointBody(forged.checkpoint()), HasSubstr("time out-of-range"));
    EXPECT_FALSE(integrity::VerifyCheckpoint(forged, key.public_key()).ok());
  }
}

TEST(RuleSetVersion, ChangesWithTheSettingsAndTheBankHolidays) {
  auto calendar = *projections::WorkingDayCalendar::Parse("2026-12-25 Christmas Day\n", "test");
  auto more = *projections::WorkingDayCalendar::Parse(
      "2026-12-25 Christmas Day\n2026-12-28 Boxing Day (substitute)\n", "test");
  projections::FairnessSettings settings;
  const std::string v = RuleSetVersion(settings, calendar);
  EXPECT_THAT(v, ::testing::MatchesRegex("sha256:[0-9a-f]{16}"));
  EXPECT_EQ(RuleSetVersion(settings, calendar), v);
  EXPECT_NE(RuleSetVersion(settings, more), v);
  projections::FairnessSettings slower = settings;
  slower.query_reply_working_days = 10;
  EXPECT_NE(RuleSetVersion(slower, calendar), v);
  projections::FairnessSettings named = settings;
  named.council_name = "Harlow Council";
  EXPECT_NE(RuleSetVersion(named, calendar), v);
}

}  // namespace
}  // namespace evenhand::reporting
