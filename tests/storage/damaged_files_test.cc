// A stopped log whose files RocksDB must read to open it at all (a table
// file, the MANIFEST, CURRENT) is damaged: the open is refused naming the
// file, never worded as a damaged write-ahead log with an intact part (which
// the damaged write-ahead log's own test, in event_store_test.cc, covers).
// Real RocksDB folders, real bytes changed.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/event_store.h"
#include "tests/testing/events.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace evenhand::storage {
namespace {

using ::evenhand::testing::SomeEvents;
using ::evenhand::testing::StatusIs;
using ::evenhand::testing::TempDir;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

namespace fs = std::filesystem;

// A log of a few hundred events, stopped cleanly (its events in table files).
void MakeLog(const std::string& dir) {
  StoreOptions options;
  options.data_dir = dir;
  auto store = EventStore::Open(options);
  ASSERT_OK(store);
  for (int i = 0; i < 20; ++i) {
    ASSERT_OK((*store)->Append("s", ExpectedRevision::Any(), SomeEvents(20)));
  }
}

// The first file in `dir` whose name begins with `prefix` and ends with
// `suffix`, the largest if several.
std::string FileOf(const std::string& dir, const std::string& prefix, const std::string& suffix) {
  std::string found;
  uintmax_t size = 0;
  for (const auto& f : fs::directory_iterator(dir)) {
    const std::string name = f.path().filename().string();
    if (name.rfind(prefix, 0) != 0 || name.size() < suffix.size() ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
      continue;
    }
    if (found.empty() || fs::file_size(f.path()) > size) {
      found = f.path().string();
      size = fs::file_size(f.path());
    }
  }
  return found;
}

// Every byte of [offset, offset + n) of `path` inverted.
void Invert(const std::string& path, uintmax_t offset, size_t n) {
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  for (size_t i = 0; i < n; ++i) {
    file.seekg(static_cast<std::streamoff>(offset + i));
    char c = 0;
    file.get(c);
    file.seekp(static_cast<std::streamoff>(offset + i));
    file.put(static_cast<char>(~c));
  }
}

absl::Status Reopen(const std::string& dir) {
  StoreOptions options;
  options.data_dir = dir;
  return EventStore::Open(options).status();
}

TEST(DamagedFilesTest, ADamagedTableFileIsNamedNotTakenForTheWriteAheadLog) {
  TempDir dir;
  MakeLog(dir.path());
  if (HasFatalFailure()) return;
  const std::string table = FileOf(dir.path(), "", ".sst");
  ASSERT_FALSE(table.empty());
  // The footer's magic number, which every open of the file reads.
  Invert(table, fs::file_size(table) - 8, 8);
  absl::Status refused = Reopen(dir.path());
  EXPECT_THAT(refused,
              StatusIs(absl::StatusCode::kDataLoss,
                       AllOf(HasSubstr("is damaged and will not be opened"),
                             HasSubstr("The damage is in a table file (" +
                                       fs::path(table).filename().string() + ")"),
                             HasSubstr("not in the write-ahead log"), HasSubstr("evenhand restore"),
                             Not(HasSubstr("intact part")))));
  EXPECT_FALSE(refused.GetPayload("evenhand.storage.intact_position").has_value());
}

TEST(DamagedFilesTest, ADamagedManifestIsNamedNotTakenForTheWriteAheadLog) {
  TempDir dir;
  MakeLog(dir.path());
  if (HasFatalFailure()) return;
  const std::string manifest = FileOf(dir.path(), "MANIFEST-", "");
  ASSERT_FALSE(manifest.empty());
  Invert(manifest, fs::file_size(manifest) / 2, 4);
  EXPECT_THAT(Reopen(dir.path()), StatusIs(absl::StatusCode::kDataLoss,
                                           AllOf(HasSubstr("The damage is in the MANIFEST"),
                                                 HasSubstr("not in the write-ahead log"),
                                                 Not(HasSubstr("intact part")))));
}

TEST(DamagedFilesTest, ADamagedCurrentFileIsNamedNotTakenForTheWriteAheadLog) {
  TempDir dir;
  MakeLog(dir.path());
  if (HasFatalFailure()) return;
  // CURRENT names the MANIFEST on one line; without its newline it is
  // damaged.
  std::string name;
  {
    std::ifstream in(dir.path() + "/CURRENT");
    std::getline(in, name);
  }
  {
    std::ofstream out(dir.path() + "/CURRENT", std::ios::trunc);
    out << name.substr(0, name.size() - 2);
  }
  EXPECT_THAT(Reopen(dir.path()), StatusIs(absl::StatusCode::kDataLoss,
                                           AllOf(HasSubstr("The damage is in the CURRENT file"),
                                                 HasSubstr("not in the write-ahead log"),
                                                 Not(HasSubstr("intact part")))));
}

}  // namespace
}  // namespace evenhand::storage
