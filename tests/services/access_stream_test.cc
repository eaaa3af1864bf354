// The stream of a principal's access records (services/auth/access_stream.h):
// two principals never share one, the names people use read as themselves,
// and every one is a stream id the log takes (a real store in a temporary
// folder). Who is recorded for a read over real TLS and tokens:
// tests/server/security_test.cc.
#include "services/auth/access_stream.h"

#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "storage/event_store.h"
#include "tests/testing/events.h"
#include "tests/testing/temp_dir.h"

namespace evenhand::services::auth {
namespace {

// Names that differ only where an older mapping wrote '_' for anything it
// could not keep, or where a long name was cut; then random bytes.
std::vector<std::string> Names() {
  std::vector<std::string> names = {"clerk_jones@example.org",
                                    "clerk+jones@example.org",
                                    "clerk jones@example.org",
                                    "clerk/jones@example.org",
                                    "clerk=jones@example.org",
                                    "clerk=2Bjones@example.org",
                                    "clerk=3Djones@example.org",
                                    "Jérôme",
                                    "J=C3=A9r=C3=B4me",
                                    "token:auditor",
                                    "certificate:auditor",
                                    "auditor",
                                    "",
                                    "=",
                                    "==",
                                    "=3D",
                                    std::string("a\0b", 3),
                                    std::string("a\0c", 3)};
  // Long names that differ only past where they are cut, or in how much of
  // their length is escapes.
  for (const char* tail : {"", "b", "c", "bb", "=", "==", " "}) {
    for (size_t length : {126u, 127u, 128u, 150u, 190u, 193u, 194u, 200u, 300u}) {
      names.push_back(std::string(length, 'a') + tail);
      names.push_back(std::string(length / 3, ' ') + tail);
      names.push_back(absl::StrCat("token:", std::string(length, 'x'), tail));
    }
  }
  std::mt19937 random(20261204);
  const std::string alphabet = "ab_+/= \xC3\xA9=3DAB";
  for (int i = 0; i < 20000; ++i) {
    std::string name(std::uniform_int_distribution<size_t>(0, i % 10 == 0 ? 240 : 8)(random), ' ');
    for (char& c : name) {
      c = i % 2 == 0 ? alphabet[random() % alphabet.size()] : static_cast<char>(random() % 256);
    }
    names.push_back(std::move(name));
  }
  return names;
}

TEST(AccessStreamTest, TheNamesPeopleUseReadAsThemselves) {
  for (const char* name :
       {"clerk.jones", "auditor", "local", "case-system", "token:clerk+jones@example.org",
        "certificate:mo.okafor", "token:00u1a2b3c4/D5e6_F7-g8:h9@idp"}) {
    EXPECT_EQ(AccessStreamOf(name), absl::StrCat("access-", name));
  }
  EXPECT_EQ(AccessStreamOf("Jérôme"), "access-J=C3=A9r=C3=B4me");
  EXPECT_EQ(AccessStreamOf("clerk jones"), "access-clerk=20jones");
  EXPECT_EQ(AccessStreamOf("a=b"), "access-a=3Db");
  // Cut at 133 characters (42 escaped spaces), on a whole character, then "==" and a hash.
  const std::string cut = AccessStreamOf(std::string(100, ' '));
  EXPECT_EQ(cut.size(), 7u + 42 * 3 + 2 + 64) << cut;
  std::string spaces;
  for (int i = 0; i < 42; ++i) spaces += "=20";
  EXPECT_EQ(cut.substr(0, 7 + 42 * 3 + 2), absl::StrCat("access-", spaces, "=="));
}

TEST(AccessStreamTest, TwoPrincipalsNeverShareAStream) {
  std::map<std::string, std::string> principal_of;
  for (const std::string& name : Names()) {
    const std::string stream = AccessStreamOf(name);
    ASSERT_LE(stream.size(), 200u) << name;
    auto [it, added] = principal_of.emplace(stream, name);
    EXPECT_TRUE(added || it->second == name)
        << "\"" << it->second << "\" and \"" << name << "\" share " << stream;
  }
  EXPECT_GT(principal_of.size(), 10000u);
}

TEST(AccessStreamTest, EveryOneIsAStreamTheLogTakes) {
  testing::TempDir dir;
  storage::StoreOptions options;
  options.data_dir = dir.path();
  auto store = storage::EventStore::Open(std::move(options));
  ASSERT_TRUE(store.ok()) << store.status();
  std::vector<std::string> names = Names();
  names.resize(3000);
  for (const std::string& name : names) {
    const std::string stream = AccessStreamOf(name);
    auto appended =
        (*store)->Append(stream, storage::ExpectedRevision::Any(), testing::SomeEvents(1));
    ASSERT_TRUE(appended.ok()) << "\"" << name << "\" as " << stream << ": " << appended.status();
  }
}

}  // namespace
}  // namespace evenhand::services::auth
