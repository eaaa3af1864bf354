#include "storage/sorted_write_batch.h"

#include <algorithm>
#include <numeric>
#include <string>
#include <vector>

namespace evenhand::storage {

SortedWriteBatch::SortedWriteBatch(size_t reserve_bytes) { data_.reserve(reserve_bytes); }

void SortedWriteBatch::Put(absl::string_view key, absl::string_view value) {
  const uint64_t at = data_.size();
  data_.append(key.data(), key.size());
  data_.append(value.data(), value.size());
  ops_.push_back({at, at + key.size(), static_cast<uint32_t>(key.size()),
                  static_cast<uint32_t>(value.size()), true});
}

void SortedWriteBatch::Put(absl::string_view key, const google::protobuf::MessageLite& value) {
  const uint64_t at = data_.size();
  data_.append(key.data(), key.size());
  value.AppendToString(&data_);
  ops_.push_back({at, at + key.size(), static_cast<uint32_t>(key.size()),
                  static_cast<uint32_t>(data_.size() - at - key.size()), true});
}

void SortedWriteBatch::Delete(absl::string_view key) {
  const uint64_t at = data_.size();
  data_.append(key.data(), key.size());
  ops_.push_back({at, at + key.size(), static_cast<uint32_t>(key.size()), 0, false});
}

rocksdb::WriteBatch SortedWriteBatch::Build(rocksdb::ColumnFamilyHandle* cf) && {
  std::vector<uint32_t> order(ops_.size());
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(),
                   [this](uint32_t a, uint32_t b) { return Key(ops_[a]) < Key(ops_[b]); });
  // What RocksDB adds per record: a tag, a column family id and two
  // lengths (at most 1 + 5 + 5 + 5 bytes), past a 12-byte header.
  rocksdb::WriteBatch batch(12 + data_.size() + 16 * ops_.size());
  for (uint32_t i : order) {
    const Op& op = ops_[i];
    const rocksdb::Slice key(data_.data() + op.key_offset, op.key_size);
    if (op.put) {
      batch.Put(cf, key, rocksdb::Slice(data_.data() + op.value_offset, op.value_size));
    } else {
      batch.Delete(cf, key);
    }
  }
  std::string().swap(data_);
  std::vector<Op>().swap(ops_);
  return batch;
}

}  // namespace evenhand::storage
