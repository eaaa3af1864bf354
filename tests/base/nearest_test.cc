// "Did you mean ...?" (base/nearest.h).
#include "base/nearest.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace evenhand {
namespace {

TEST(EditDistance, CountsInsertionsDeletionsSubstitutionsAndSwapsIgnoringCase) {
  EXPECT_EQ(EditDistance("", ""), 0u);
  EXPECT_EQ(EditDistance("", "abc"), 3u);
  EXPECT_EQ(EditDistance("abc", ""), 3u);
  EXPECT_EQ(EditDistance("Labour", "labour"), 0u);
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3u);
  EXPECT_EQ(EditDistance("form", "from"), 1u);  // two neighbours swapped
  EXPECT_EQ(EditDistance("form", "format"), 2u);
  EXPECT_EQ(EditDistance("ab", "ba"), 1u);
  EXPECT_EQ(EditDistance("abc", "ca"), 3u);  // a swap is of neighbours only, edited once
  EXPECT_EQ(EditDistance("reprot", "report"), 1u);
}

TEST(Nearest, ASwapOfNeighboursIsNearerThanAWordItBegins) {
  const std::vector<std::string> flags = {"--format", "--from", "--to"};
  EXPECT_EQ(Nearest("--form", flags), "--from");
  EXPECT_EQ(Nearest("--fromat", flags), "--format");
  EXPECT_EQ(Nearest("--too", flags), "--to");
  EXPECT_EQ(Nearest("--bogus", flags), "");
}

TEST(UnknownValueMessage, NamesTheNearestAndEveryKnownValueSorted) {
  EXPECT_EQ(UnknownValueMessage("group", "labuor", {"labour", "green"}),
            "unknown group \"labuor\"; did you mean \"labour\"? (known: green, labour)");
  EXPECT_EQ(UnknownValueMessage("group", "x", {}), "unknown group \"x\" (known: none yet)");
}

}  // namespace
}  // namespace evenhand
