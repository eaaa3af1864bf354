// Log lines (base/logging.h): the JSON format is one parseable object per
// line whatever the message holds, with the thread's request id.
#include "base/logging.h"

#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace evenhand::logging {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

google::protobuf::Struct Parse(const std::string& line) {
  google::protobuf::Struct s;
  auto status = google::protobuf::util::JsonStringToMessage(line, &s);
  EXPECT_TRUE(status.ok()) << status << ": " << line;
  return s;
}

TEST(JsonLines, FieldsAndEscaping) {
  const std::string line = FormatLine(Format::kJson, Severity::kWarning, "storage",
                                      "a \"quoted\" \\ path\nsecond line\ttab \x01 ctl", "req-1");
  EXPECT_EQ(line.find('\n'), std::string::npos);
  google::protobuf::Struct s = Parse(line);
  EXPECT_EQ(s.fields().at("level").string_value(), "warning");
  EXPECT_EQ(s.fields().at("component").string_value(), "storage");
  EXPECT_EQ(s.fields().at("message").string_value(),
            "a \"quoted\" \\ path\nsecond line\ttab \x01 ctl");
  EXPECT_EQ(s.fields().at("request_id").string_value(), "req-1");
  EXPECT_THAT(s.fields().at("time").string_value(),
              MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z"));
}

TEST(JsonLines, InvalidUtf8BecomesReplacementCharacters) {
  const std::string line = FormatLine(Format::kJson, Severity::kError, "x",
                                      std::string("ok \xc3\xa9 bad \xff\xc3 end"), "");
  google::protobuf::Struct s = Parse(line);
  EXPECT_EQ(s.fields().at("message").string_value(),
            "ok \xc3\xa9 bad \xef\xbf\xbd\xef\xbf\xbd end");
  EXPECT_FALSE(s.fields().contains("request_id"));
}

TEST(TextLines, RequestIdAtTheEnd) {
  EXPECT_THAT(FormatLine(Format::kText, Severity::kInfo, "evenhandd", "started", "r-9"),
              HasSubstr(" INFO evenhandd: started request_id=r-9"));
}

// A message may quote what a caller sent: its control characters are
// escaped so that it cannot forge the next line.
TEST(TextLines, AMessageIsOneLineWhateverItHolds) {
  const std::string line = FormatLine(Format::kText, Severity::kWarning, "auth",
                                      "refused \"x\n2026-01-01T00:00:00.000Z INFO auth: admin"
                                      "\x1b[2K\"",
                                      "");
  EXPECT_EQ(line.find('\n'), std::string::npos) << line;
  EXPECT_EQ(line.find('\x1b'), std::string::npos) << line;
  EXPECT_THAT(line, HasSubstr(" WARN auth: refused \"x\\x0a2026-01-01T00:00:00.000Z INFO auth: "
                              "admin\\x1b[2K\""));
}

TEST(RequestScope, SetsAndRestoresThisThreadsId) {
  SetThreadRequestId("");
  {
    RequestScope outer("a");
    EXPECT_EQ(ThreadRequestId(), "a");
    {
      RequestScope inner("b");
      EXPECT_EQ(ThreadRequestId(), "b");
    }
    EXPECT_EQ(ThreadRequestId(), "a");
  }
  EXPECT_EQ(ThreadRequestId(), "");
}

TEST(Parsing, FormatsAndLevels) {
  Format f;
  Severity s;
  EXPECT_TRUE(ParseFormat("json", &f));
  EXPECT_EQ(f, Format::kJson);
  EXPECT_FALSE(ParseFormat("xml", &f));
  EXPECT_TRUE(ParseSeverity("warning", &s));
  EXPECT_EQ(s, Severity::kWarning);
  EXPECT_FALSE(ParseSeverity("debug", &s));
}

}  // namespace
}  // namespace evenhand::logging
