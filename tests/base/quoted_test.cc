// Quoting a caller's value in a message (base/quoted.h).
#include "base/quoted.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace evenhand {
namespace {

TEST(Quoted, AnIdentifierReadsAsItself) {
  EXPECT_EQ(Quoted("case-system"), "\"case-system\"");
}

TEST(Quoted, QuotesNewlinesAndEscapesCannotBreakOutOfIt) {
  EXPECT_EQ(Quoted("a\"b\\c\nd\x1b[2K\xc3\xa9"), R"("a\"b\\c\nd\x1b[2K\xc3\xa9")");
}

TEST(Quoted, ALongValueIsCutAndItsSizeSaid) {
  EXPECT_EQ(Quoted(std::string(1000, 'y'), 4), "\"yyyy\"... (1000 bytes)");
  EXPECT_EQ(Quoted("yyyy", 4), "\"yyyy\"");
}

TEST(OneLine, KeepsTextAndEscapesOnlyControlCharacters) {
  EXPECT_EQ(OneLine("denied: \"x\" caf\xc3\xa9\n\r\t\x7f", 100),
            "denied: \"x\" caf\xc3\xa9\\x0a\\x0d\\x09\\x7f");
}

TEST(OneLine, CutsAtTheStartOfACharacter) {
  // "é" is two bytes; a cut inside it keeps neither.
  EXPECT_EQ(OneLine("ab\xc3\xa9z", 3), "ab...");
  EXPECT_EQ(OneLine("ab\xc3\xa9z", 4), "ab\xc3\xa9...");
  EXPECT_EQ(OneLine("abc", 3), "abc");
  EXPECT_EQ(OneLine("abc", 0), "...");
}

TEST(OneLine, TheLimitCountsTheEscapes) {
  EXPECT_EQ(OneLine(std::string(100, '\n'), 10), "\\x0a\\x0a...");
  // A cut after an escape never takes a byte of it back.
  EXPECT_EQ(OneLine("\n\xc3\xa9", 5), "\\x0a...");
  // Stray continuation bytes: at most three are given back.
  EXPECT_EQ(OneLine(std::string(10, '\x80'), 6), std::string(3, '\x80') + "...");
}

}  // namespace
}  // namespace evenhand
