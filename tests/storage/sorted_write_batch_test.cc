// SortedWriteBatch: what it hands RocksDB is in key order, holds every
// operation gathered, and leaves a real database exactly as the same
// operations made in the order given would (operations on one key keep
// their order).
#include "storage/sorted_write_batch.h"

#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/wrappers.pb.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"
#include "tests/testing/temp_dir.h"

namespace evenhand::storage {
namespace {

// What a WriteBatch holds, in its order.
struct Recorded {
  bool put;
  std::string key;
  std::string value;
};
class Recorder : public rocksdb::WriteBatch::Handler {
 public:
  rocksdb::Status PutCF(uint32_t, const rocksdb::Slice& key, const rocksdb::Slice& value) override {
    ops.push_back({true, key.ToString(), value.ToString()});
    return rocksdb::Status::OK();
  }
  rocksdb::Status DeleteCF(uint32_t, const rocksdb::Slice& key) override {
    ops.push_back({false, key.ToString(), ""});
    return rocksdb::Status::OK();
  }
  std::vector<Recorded> ops;
};

std::vector<Recorded> Contents(rocksdb::WriteBatch& batch) {
  Recorder r;
  EXPECT_TRUE(batch.Iterate(&r).ok());
  return r.ops;
}

class SortedWriteBatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rocksdb::Options options;
    options.create_if_missing = true;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, dir_.Sub("db"), &db).ok());
    db_.reset(db);
  }
  std::map<std::string, std::string> Everything() {
    std::map<std::string, std::string> out;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      out[it->key().ToString()] = it->value().ToString();
    }
    EXPECT_TRUE(it->status().ok());
    return out;
  }
  testing::TempDir dir_;
  std::unique_ptr<rocksdb::DB> db_;
};

TEST_F(SortedWriteBatchTest, HandsOverEveryOperationInKeyOrder) {
  SortedWriteBatch gathered;
  gathered.Put("fairness/skeleton/q-2", "s2");
  gathered.Put("fairness/case/q-2", "c2");
  gathered.Delete("fairness/findings/p/7");
  gathered.Put("fairness/case/q-1", std::string("with\0nul", 8));
  gathered.Put("fairness/position", "");
  EXPECT_EQ(gathered.count(), 5u);
  rocksdb::WriteBatch batch = std::move(gathered).Build(db_->DefaultColumnFamily());
  EXPECT_EQ(gathered.count(), 0u);  // let go once built
  EXPECT_EQ(gathered.bytes(), 0u);
  EXPECT_EQ(batch.Count(), 5u);
  const std::vector<Recorded> ops = Contents(batch);
  ASSERT_EQ(ops.size(), 5u);
  EXPECT_EQ(ops[0].key, "fairness/case/q-1");
  EXPECT_EQ(ops[0].value, std::string("with\0nul", 8));
  EXPECT_EQ(ops[1].key, "fairness/case/q-2");
  EXPECT_EQ(ops[1].value, "c2");
  EXPECT_EQ(ops[2].key, "fairness/findings/p/7");
  EXPECT_FALSE(ops[2].put);
  EXPECT_EQ(ops[3].key, "fairness/position");
  EXPECT_TRUE(ops[3].put);
  EXPECT_EQ(ops[3].value, "");
  EXPECT_EQ(ops[4].key, "fairness/skeleton/q-2");
}

// A message is stored as its serialisation, like any value.
TEST_F(SortedWriteBatchTest, PutsAMessageAsItsSerialisation) {
  google::protobuf::StringValue message;
  message.set_value("a councillor's written query");
  SortedWriteBatch gathered;
  gathered.Put("b", "plain");
  gathered.Put("a", message);
  rocksdb::WriteBatch batch = std::move(gathered).Build(db_->DefaultColumnFamily());
  const std::vector<Recorded> ops = Contents(batch);
  ASSERT_EQ(ops.size(), 2u);
  EXPECT_EQ(ops[0].key, "a");
  EXPECT_EQ(ops[0].value, message.SerializeAsString());
  EXPECT_EQ(ops[1].value, "plain");
}

TEST_F(SortedWriteBatchTest, OperationsOnOneKeyKeepTheirOrder) {
  ASSERT_TRUE(db_->Put(rocksdb::WriteOptions(), "deleted-then-put", "old").ok());
  ASSERT_TRUE(db_->Put(rocksdb::WriteOptions(), "put-then-deleted", "old").ok());
  SortedWriteBatch gathered;
  gathered.Put("put-twice", "first");
  gathered.Delete("deleted-then-put");
  gathered.Put("put-then-deleted", "new");
  gathered.Put("put-twice", "second");
  gathered.Put("deleted-then-put", "new");
  gathered.Delete("put-then-deleted");
  rocksdb::WriteBatch batch = std::move(gathered).Build(db_->DefaultColumnFamily());
  ASSERT_TRUE(db_->Write(rocksdb::WriteOptions(), &batch).ok());
  const std::map<std::string, std::string> want = {{"deleted-then-put", "new"},
                                                   {"put-twice", "second"}};
  EXPECT_EQ(Everything(), want);
}

// Random puts and deletes over a few keys (so most keys see several), with
// keys that are prefixes of others and bytes above 0x7f: the database ends
// as a model applying them in the order made says. A few values are larger
// than the blocks (1 MB) the batch gathers them in.
TEST_F(SortedWriteBatchTest, LeavesTheDatabaseAsTheOperationsInTheirOrderWould) {
  std::mt19937 rng(20261202);
  std::map<std::string, std::string> model;
  for (int round = 0; round < 5; ++round) {
    SortedWriteBatch gathered(round * 1000);
    for (int i = 0; i < 3000; ++i) {
      const int k = std::uniform_int_distribution<int>(0, 299)(rng);
      std::string key = absl::StrCat("k", k % 100);
      if (k >= 100) key += std::string(1, static_cast<char>(0x80 + k % 7));
      if (k >= 200) key.pop_back();  // a prefix of some others
      if (std::uniform_int_distribution<int>(0, 3)(rng) == 0) {
        gathered.Delete(key);
        model.erase(key);
      } else {
        std::string value = absl::StrCat("v", round, "-", i);
        // Now and then one larger than a block (1 MB), or filling one.
        if (std::uniform_int_distribution<int>(0, 99)(rng) == 0) {
          value.append(std::uniform_int_distribution<size_t>(1, 3 << 19)(rng), 'x');
        }
        gathered.Put(key, value);
        model[key] = value;
      }
    }
    rocksdb::WriteBatch batch = std::move(gathered).Build(db_->DefaultColumnFamily());
    std::vector<Recorded> ops = Contents(batch);
    ASSERT_EQ(ops.size(), 3000u);
    for (size_t i = 1; i < ops.size(); ++i) ASSERT_LE(ops[i - 1].key, ops[i].key) << i;
    ASSERT_TRUE(db_->Write(rocksdb::WriteOptions(), &batch).ok());
    ASSERT_EQ(Everything(), model) << "round " << round;
  }
}

}  // namespace
}  // namespace evenhand::storage
