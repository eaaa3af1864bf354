// SortedWriteBatch: puts and deletes gathered in any order, then handed to
// RocksDB as one WriteBatch in key order.
//
// Why: a memtable is a skip list that remembers where its last insert went
// (InlineSkipList's sequential splice). A key just after the last one is
// placed from there in a step or two; a key anywhere else is searched for
// from the top, a dozen or more levels of comparisons each missing the
// cache. A checkpoint of the fairness projection writes tens of thousands
// of keys gathered from hash tables, in no order: inserting them took a
// quarter of the fold thread's time, which sorting them first halves.
//
// Operations on one key keep the order they were made in (a delete, then
// a put of the same key, stays so). Nothing here knows the keys' meaning.
// Not thread-safe.
#ifndef EVENHAND_STORAGE_SORTED_WRITE_BATCH_H_
#define EVENHAND_STORAGE_SORTED_WRITE_BATCH_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "google/protobuf/message_lite.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace evenhand::storage {

class SortedWriteBatch {
 public:
  // `reserve_bytes`: what the keys and values are expected to take (the
  // first block's size; later ones are added as needed, never moved).
  explicit SortedWriteBatch(size_t reserve_bytes = 0);

  void Put(absl::string_view key, absl::string_view value);
  // The message serialised straight into the batch (no copy of its own).
  void Put(absl::string_view key, const google::protobuf::MessageLite& value);
  void Delete(absl::string_view key);

  // Operations gathered, and the bytes of their keys and values.
  size_t count() const { return ops_.size(); }
  size_t bytes() const { return bytes_; }

  // Everything gathered, in key order, to column family `cf`; what was
  // gathered is let go (a checkpoint's can be tens of megabytes).
  rocksdb::WriteBatch Build(rocksdb::ColumnFamilyHandle* cf) &&;

 private:
  // Keys and values are kept in blocks that never move: one string grown by
  // doubling held up to twice what was gathered, and three times while it
  // was copied to grow (1.5 GB for a 270 MB checkpoint of large texts).
  struct Block {
    std::unique_ptr<char[]> data;
    size_t size;
    size_t capacity;
  };
  struct Op {
    const char* key;  // the value follows the key
    uint32_t key_size;
    uint32_t value_size;
    bool put;
  };
  static constexpr size_t kMinBlockBytes = 1 << 20;
  // Room for `n` bytes at the end of the last block (a new block if it has
  // too little left), counted as used.
  char* Take(size_t n);
  absl::string_view Key(const Op& op) const { return absl::string_view(op.key, op.key_size); }

  size_t first_block_bytes_;
  size_t bytes_ = 0;
  std::vector<Block> blocks_;
  std::vector<Op> ops_;
};

}  // namespace evenhand::storage

#endif  // EVENHAND_STORAGE_SORTED_WRITE_BATCH_H_
