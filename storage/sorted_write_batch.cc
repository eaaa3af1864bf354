#include "storage/sorted_write_batch.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

namespace evenhand::storage {

SortedWriteBatch::SortedWriteBatch(size_t reserve_bytes) : first_block_bytes_(reserve_bytes) {}

char* SortedWriteBatch::Take(size_t n) {
  if (blocks_.empty() || blocks_.back().capacity - blocks_.back().size < n) {
    const size_t capacity = std::max({n, kMinBlockBytes, blocks_.empty() ? first_block_bytes_ : 0});
    // (Not zeroed: every byte handed out is written before it is read.)
    blocks_.push_back({std::unique_ptr<char[]>(new char[capacity]), 0, capacity});
  }
  Block& block = blocks_.back();
  char* at = block.data.get() + block.size;
  block.size += n;
  bytes_ += n;
  return at;
}

void SortedWriteBatch::Put(absl::string_view key, absl::string_view value) {
  char* at = Take(key.size() + value.size());
  std::memcpy(at, key.data(), key.size());
  if (!value.empty()) std::memcpy(at + key.size(), value.data(), value.size());
  ops_.push_back(
      {at, static_cast<uint32_t>(key.size()), static_cast<uint32_t>(value.size()), true});
}

void SortedWriteBatch::Put(absl::string_view key, const google::protobuf::MessageLite& value) {
  const size_t value_size = value.ByteSizeLong();
  char* at = Take(key.size() + value_size);
  std::memcpy(at, key.data(), key.size());
  value.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(at + key.size()));
  ops_.push_back({at, static_cast<uint32_t>(key.size()), static_cast<uint32_t>(value_size), true});
}

void SortedWriteBatch::Delete(absl::string_view key) {
  char* at = Take(key.size());
  std::memcpy(at, key.data(), key.size());
  ops_.push_back({at, static_cast<uint32_t>(key.size()), 0, false});
}

rocksdb::WriteBatch SortedWriteBatch::Build(rocksdb::ColumnFamilyHandle* cf) && {
  std::vector<uint32_t> order(ops_.size());
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(),
                   [this](uint32_t a, uint32_t b) { return Key(ops_[a]) < Key(ops_[b]); });
  // What RocksDB adds per record: a tag, a column family id and two
  // lengths (at most 1 + 5 + 5 + 5 bytes), past a 12-byte header.
  rocksdb::WriteBatch batch(12 + bytes_ + 16 * ops_.size());
  for (uint32_t i : order) {
    const Op& op = ops_[i];
    const rocksdb::Slice key(op.key, op.key_size);
    if (op.put) {
      batch.Put(cf, key, rocksdb::Slice(op.key + op.key_size, op.value_size));
    } else {
      batch.Delete(cf, key);
    }
  }
  std::vector<Block>().swap(blocks_);
  std::vector<Op>().swap(ops_);
  bytes_ = 0;
  return batch;
}

}  // namespace evenhand::storage
