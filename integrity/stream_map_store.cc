#include "integrity/stream_map_store.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/big_endian.h"
#include "base/status_macros.h"
#include "integrity/merkle.h"

namespace evenhand::integrity {
namespace {

constexpr char kSizeKey[] = "M";

std::string NodeKey(int depth, const std::string& prefix) {
  std::string key = "m";
  key.push_back(static_cast<char>(depth >> 8));
  key.push_back(static_cast<char>(depth & 0xFF));
  key += prefix;
  return key;
}

std::string WithBit(const std::string& prefix, int depth) {
  std::string out = prefix;
  out[depth / 8] = static_cast<char>(static_cast<uint8_t>(out[depth / 8]) | (0x80 >> (depth % 8)));
  return out;
}

absl::Status FromRocks(const rocksdb::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("stream-head map: ", what, ": ", s.ToString()));
}

const std::string& HashOf(const StreamMapNode& n) {
  return n.kind == StreamMapNode::Kind::kEmpty ? EmptyStreamMapHash() : n.hash;
}

}  // namespace

absl::StatusOr<uint64_t> StreamMapStore::Size() const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf_, kSizeKey, &value);
  if (s.IsNotFound()) return 0;
  EH_RETURN_IF_ERROR(FromRocks(s, "cannot read its size"));
  if (value.size() != 8) return absl::DataLossError("stream-head map: its size is damaged");
  return ReadBigEndian64(value);
}

absl::StatusOr<std::string> StreamMapStore::Root() const {
  EH_ASSIGN_OR_RETURN(StreamMapNode root, Read(0, std::string(kHashSize, '\0')));
  return HashOf(root);
}

void StreamMapStore::Remember(int depth, const std::string& key, const StreamMapNode& node) const {
  // Only the top of the tree, which every path shares: below it each node
  // lies on few paths, and caching them would only push the top out.
  if (cache_nodes_ == 0 || depth >= kCachedDepth) return;
  if (cache_.size() >= cache_nodes_) cache_.clear();
  cache_[key] = node;
}

absl::StatusOr<StreamMapNode> StreamMapStore::Read(int depth, const std::string& prefix) const {
  const std::string key = NodeKey(depth, prefix);
  if (auto it = cache_.find(key); it != cache_.end()) return it->second;
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf_, key, &value);
  StreamMapNode node;
  if (s.IsNotFound()) {
    Remember(depth, key, node);
    return node;
  }
  EH_RETURN_IF_ERROR(FromRocks(s, "cannot read a node"));
  if (value.size() == 1 + kHashSize && value[0] == 'I') {
    node.kind = StreamMapNode::Kind::kInner;
    node.hash = value.substr(1);
    Remember(depth, key, node);
    return node;
  }
  if (value.size() == 1 + kHashSize + 16 && value[0] == 'E') {
    node.kind = StreamMapNode::Kind::kEntry;
    node.entry.key = value.substr(1, kHashSize);
    node.entry.value.last_revision = ReadBigEndian64(std::string_view(value).substr(1 + kHashSize, 8));
    node.entry.value.last_position =
        ReadBigEndian64(std::string_view(value).substr(1 + kHashSize + 8, 8));
    node.hash = StreamEntryHash(node.entry.key, node.entry.value);
    Remember(depth, key, node);
    return node;
  }
  return absl::DataLossError(absl::StrCat("stream-head map: the node at depth ", depth,
                                          " is damaged; restart with --startup_check=full "
                                          "to rebuild it"));
}

void StreamMapStore::Write(int depth, const std::string& prefix, const StreamMapNode& node,
                           rocksdb::WriteBatch* batch) const {
  const std::string key = NodeKey(depth, prefix);
  Remember(depth, key, node);
  switch (node.kind) {
    case StreamMapNode::Kind::kEmpty:
      batch->Delete(cf_, key);
      return;
    case StreamMapNode::Kind::kInner:
      batch->Put(cf_, key, absl::StrCat("I", node.hash));
      return;
    case StreamMapNode::Kind::kEntry:
      batch->Put(cf_, key,
                 absl::StrCat("E", node.entry.key, BigEndian64(node.entry.value.last_revision),
                              BigEndian64(node.entry.value.last_position)));
      return;
  }
}

absl::StatusOr<StreamMapNode> StreamMapStore::UpdateAt(int depth, const std::string& prefix,
                                                      const StreamMapNode& current,
                                                      const StreamMapEntry* begin,
                                                      const StreamMapEntry* end,
                                                      rocksdb::WriteBatch* batch) {
  if (begin == end) return current;
  auto sink = [this, batch](int d, const std::string& p, const StreamMapNode& n) {
    Write(d, p, n, batch);
  };
  switch (current.kind) {
    case StreamMapNode::Kind::kEmpty:
      return BuildStreamMap(depth, prefix, begin, end, sink);
    case StreamMapNode::Kind::kEntry: {
      // The entry already here joins the changes, unless it is one of them.
      std::vector<StreamMapEntry> merged(begin, end);
      const bool updated = std::any_of(begin, end, [&](const StreamMapEntry& e) {
        return e.key == current.entry.key;
      });
      if (!updated) {
        merged.insert(std::lower_bound(merged.begin(), merged.end(), current.entry,
                                       [](const StreamMapEntry& a, const StreamMapEntry& b) {
                                         return a.key < b.key;
                                       }),
                      current.entry);
      }
      return BuildStreamMap(depth, prefix, merged.data(), merged.data() + merged.size(), sink);
    }
    case StreamMapNode::Kind::kInner:
      break;
  }
  const StreamMapEntry* middle = std::partition_point(
      begin, end, [depth](const StreamMapEntry& e) { return !KeyBit(e.key, depth); });
  const std::string right_prefix = WithBit(prefix, depth);
  EH_ASSIGN_OR_RETURN(StreamMapNode left_now, Read(depth + 1, prefix));
  EH_ASSIGN_OR_RETURN(StreamMapNode right_now, Read(depth + 1, right_prefix));
  EH_ASSIGN_OR_RETURN(StreamMapNode left, UpdateAt(depth + 1, prefix, left_now, begin, middle, batch));
  EH_ASSIGN_OR_RETURN(StreamMapNode right,
                      UpdateAt(depth + 1, right_prefix, right_now, middle, end, batch));
  // Entries are only added or changed, never removed: an inner node stays one.
  StreamMapNode node;
  node.kind = StreamMapNode::Kind::kInner;
  node.hash = NodeHash(HashOf(left), HashOf(right));
  Write(depth, prefix, node, batch);
  return node;
}

absl::StatusOr<std::string> StreamMapStore::Update(
    const std::map<std::string, StreamHeadValue>& heads, uint64_t size,
    const rocksdb::WriteOptions& write_options) {
  std::vector<StreamMapEntry> changes;
  changes.reserve(heads.size());
  for (const auto& [key, value] : heads) changes.push_back({key, value});  // sorted by key
  const std::string root_prefix(kHashSize, '\0');
  rocksdb::WriteBatch batch;
  absl::StatusOr<StreamMapNode> root = Read(0, root_prefix);
  if (root.ok()) {
    root = UpdateAt(0, root_prefix, *root, changes.data(), changes.data() + changes.size(), &batch);
  }
  absl::Status written = root.status();
  if (written.ok()) {
    batch.Put(cf_, kSizeKey, BigEndian64(size));
    written = FromRocks(db_->Write(write_options, &batch), "cannot write");
  }
  if (!written.ok()) {
    cache_.clear();  // it holds what was not written
    return written;
  }
  return HashOf(*root);
}

absl::Status StreamMapStore::Reset() {
  cache_.clear();
  rocksdb::WriteBatch batch;
  batch.DeleteRange(cf_, "m", "n");
  batch.Delete(cf_, kSizeKey);
  return FromRocks(db_->Write(rocksdb::WriteOptions(), &batch), "cannot clear it");
}

absl::StatusOr<std::optional<StreamMapStore::Proven>> StreamMapStore::Prove(
    absl::string_view stream_id) const {
  const std::string key = StreamKey(stream_id);
  Proven proven;
  std::string prefix(kHashSize, '\0');
  EH_ASSIGN_OR_RETURN(StreamMapNode node, Read(0, prefix));
  for (int depth = 0;; ++depth) {
    switch (node.kind) {
      case StreamMapNode::Kind::kEmpty:
        return std::optional<Proven>();
      case StreamMapNode::Kind::kEntry:
        if (node.entry.key != key) return std::optional<Proven>();
        proven.value = node.entry.value;
        return std::optional<Proven>(std::move(proven));
      case StreamMapNode::Kind::kInner:
        break;
    }
    if (depth >= 256) return absl::DataLossError("stream-head map: a path deeper than its keys");
    const std::string right_prefix = WithBit(prefix, depth);
    const bool right = KeyBit(key, depth);
    EH_ASSIGN_OR_RETURN(StreamMapNode sibling, Read(depth + 1, right ? prefix : right_prefix));
    proven.siblings.push_back(HashOf(sibling));
    if (right) prefix = right_prefix;
    EH_ASSIGN_OR_RETURN(node, Read(depth + 1, prefix));
  }
}

}  // namespace evenhand::integrity
