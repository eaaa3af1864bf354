// The projection's table of cases (internal/case_table.h): each stream's
// case made once, never moved, its stream and id kept as long as the table.
#include "projections/internal/case_table.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace evenhand::projections::internal {
namespace {

TEST(CaseTableTest, MakesACaseOnceWithItsKindAndId) {
  CaseTable table;
  bool made = false;
  Case* c = table.FindOrMake("briefing-B-1", &made);
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(made);
  EXPECT_EQ(c->stream_id(), "briefing-B-1");
  EXPECT_EQ(c->kind, CaseKind::kBriefing);
  EXPECT_EQ(c->id(), "B-1");
  EXPECT_EQ(c->first_nanos, INT64_MAX);
  EXPECT_EQ(c->last_nanos, INT64_MIN);
  EXPECT_FALSE(c->long_running);

  EXPECT_EQ(table.FindOrMake(std::string("briefing-B-1"), &made), c);
  EXPECT_FALSE(made);
  EXPECT_EQ(table.Find("briefing-B-1"), c);
  EXPECT_EQ(table.Find("briefing-B-2"), nullptr);
  EXPECT_EQ(table.Find("briefing-B-"), nullptr);
  EXPECT_EQ(table.Find(""), nullptr);
  EXPECT_EQ(table.size(), 1u);

  Case* other = table.FindOrMake("no-such-prefix", &made);
  EXPECT_TRUE(made);
  EXPECT_EQ(other->kind, CaseKind::kOther);
  EXPECT_EQ(other->id(), "no-such-prefix");
  EXPECT_EQ(table.size(), 2u);
}

// Many cases, streams longer than a block of names, and the streams the
// callers passed gone: every case is where it was made and still names its
// stream, and each is found by it.
TEST(CaseTableTest, CasesStayWhereTheyWereMadeAndKeepTheirStreams) {
  CaseTable table;
  std::vector<std::pair<std::string, Case*>> made_cases;
  for (int i = 0; i < 20000; ++i) {
    std::string stream = i % 997 == 0 ? absl::StrCat("query-", std::string(70000, 'x'), i)
                                      : absl::StrCat(i % 2 ? "query-Q-" : "meeting-M-", i);
    bool made = false;
    Case* c = table.FindOrMake(std::string(stream), &made);  // a temporary: kept by the table
    ASSERT_TRUE(made) << stream;
    c->first_nanos = i;
    made_cases.emplace_back(std::move(stream), c);
  }
  EXPECT_EQ(table.size(), made_cases.size());
  EXPECT_GT(table.bytes(), 20000 * sizeof(Case));
  for (size_t i = 0; i < made_cases.size(); ++i) {
    const auto& [stream, c] = made_cases[i];
    ASSERT_EQ(table.Find(stream), c) << stream.substr(0, 40);
    EXPECT_EQ(c->stream_id(), stream);
    EXPECT_EQ(c->first_nanos, static_cast<int64_t>(i));
    EXPECT_EQ(c->id(), stream.substr(stream.find('-') + 1));
  }
  // Names kept apart from the cases: each its own copy.
  const absl::string_view matter = table.Keep("a matter");
  EXPECT_EQ(matter, "a matter");
  EXPECT_EQ(table.Find("a matter"), nullptr);

  table.Clear();
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(table.Find(made_cases[1].first), nullptr);
  bool made = false;
  Case* again = table.FindOrMake(made_cases[1].first, &made);
  EXPECT_TRUE(made);
  EXPECT_EQ(again->first_nanos, INT64_MAX);
}

}  // namespace
}  // namespace evenhand::projections::internal
