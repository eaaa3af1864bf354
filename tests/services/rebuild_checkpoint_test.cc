// `--rebuild_projections` deletes the old checkpoint's files, not only its
// keys: a range deleted stays on disk until a compaction reaches it, and a
// checkpoint written by an older build holds the confidential values the
// facts no longer keep (docs/SECURITY.md, "The log is the only copy").
// Real server, real RocksDB.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "projections/internal/checkpoint_store.h"
#include "rocksdb/db.h"
#include "tests/testing/events.h"
#include "tests/testing/server_fixture.h"

namespace evenhand {
namespace {

// Whether any file under `dir` holds `bytes`.
bool AnyFileHolds(const std::string& dir, const std::string& bytes) {
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string content((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
    if (content.find(bytes) != std::string::npos) return true;
  }
  return false;
}

class RebuildCheckpointTest : public testing::ServerTest {
 protected:
  void WaitForTheFold() {
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (server_->ProjectionPosition() < server_->LastPosition() && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(20));
    }
    ASSERT_EQ(server_->ProjectionPosition(), server_->LastPosition());
  }
};

TEST_F(RebuildCheckpointTest, ARebuildLeavesNothingOfTheOldCheckpointOnDisk) {
  StartServer();
  v1::AppendRequest request;
  request.set_stream_id("query-r");
  for (int i = 0; i < 5; ++i) *request.add_events() = testing::AnEvent();
  ASSERT_TRUE(client_->Append(request).ok());
  WaitForTheFold();
  StopServer();  // writes the last checkpoint
  // What an older build's checkpoint held, in a table file of its own.
  const std::string folder = dir_.Sub("data") + "/fairness-projection";
  const std::string left = "QvX7-old-checkpoint-value-kZp2";
  {
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), folder, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    const std::string key = std::string(projections::internal::kPrefix) + "zz-older-build";
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), key, left).ok());
    ASSERT_TRUE(db->Flush(rocksdb::FlushOptions()).ok());
    ASSERT_TRUE(db->Close().ok());
  }
  ASSERT_TRUE(AnyFileHolds(folder, left)) << "the check must see it before the rebuild";

  rebuild_projections_ = true;
  StartServer();
  WaitForTheFold();
  StopServer();
  EXPECT_FALSE(AnyFileHolds(folder, left));
  // And the rebuilt checkpoint is the one a restart reads.
  rebuild_projections_ = false;
  StartServer();
  WaitForTheFold();
}

}  // namespace
}  // namespace evenhand
