#include "integrity/stream_map_store.h"

#include <algorithm>
#include <string_view>

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
  // The map is derived from the log: damage to it is repaired by deleting
  // it, and the operator is told so.
  return absl::Status(
      s.IsCorruption() ? absl::StatusCode::kDataLoss : absl::StatusCode::kInternal,
      absl::StrCat("stream-head map: ", what, ": ", s.ToString(),
                   s.IsCorruption()
                       ? " (the stream-head map's folder, stream-map/ in the data folder, can be "
                         "deleted while evenhandd is stopped: it is rebuilt from the log)"
                       : ""));
}

const std::string& HashOf(const StreamMapNode& n) {
  return n.kind == StreamMapNode::Kind::kEmpty ? EmptyStreamMapHash() : n.hash;
}

}  // namespace

StreamMapStore::StreamMapStore(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                               int cached_depth)
    : db_(db), cf_(cf), cached_depth_(std::clamp(cached_depth, 0, kMaxCachedDepth)) {}

absl::StatusOr<uint64_t> StreamMapStore::Size() const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf_, kSizeKey, &value);
  if (s.IsNotFound()) return 0;
  EH_RETURN_IF_ERROR(FromRocks(s, "cannot read its size"));
  if (value.size() != 8) return absl::DataLossError("stream-head map: its size is damaged");
  return ReadBigEndian64(value);
}

absl::StatusOr<std::string> StreamMapStore::Root() const {
  StreamMapNode scratch;
  EH_ASSIGN_OR_RETURN(const StreamMapNode* root, Read(0, std::string(kHashSize, '\0'), &scratch));
  return HashOf(*root);
}

int64_t StreamMapStore::TopIndex(int depth, const std::string& prefix) const {
  if (depth >= cached_depth_) return -1;
  // A prefix's bits after `depth` are zero; the first 16 are its first two bytes.
  const uint32_t first16 = (static_cast<uint32_t>(static_cast<uint8_t>(prefix[0])) << 8) |
                           static_cast<uint8_t>(prefix[1]);
  const uint32_t bits = depth == 0 ? 0 : first16 >> (16 - depth);
  return (int64_t{1} << depth) - 1 + bits;
}

absl::StatusOr<const StreamMapNode*> StreamMapStore::Read(int depth, const std::string& prefix,
                                                          StreamMapNode* scratch) const {
  const int64_t index = TopIndex(depth, prefix);
  if (index < 0) {
    EH_RETURN_IF_ERROR(ReadStored(depth, prefix, scratch));
    return scratch;
  }
  if (auto it = top_.find(static_cast<uint32_t>(index)); it != top_.end()) return &it->second;
  EH_RETURN_IF_ERROR(ReadStored(depth, prefix, scratch));
  return &top_.emplace(static_cast<uint32_t>(index), *scratch).first->second;
}

absl::Status StreamMapStore::ReadStored(int depth, const std::string& prefix,
                                        StreamMapNode* node) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf_, NodeKey(depth, prefix), &value);
  if (s.IsNotFound()) {
    node->kind = StreamMapNode::Kind::kEmpty;
    return absl::OkStatus();
  }
  EH_RETURN_IF_ERROR(FromRocks(s, "cannot read a node"));
  const std::string_view v(value);
  if (v.size() == 1 + kHashSize && v[0] == 'I') {
    node->kind = StreamMapNode::Kind::kInner;
    node->hash.assign(v.substr(1).data(), kHashSize);
    return absl::OkStatus();
  }
  if (v.size() == 1 + kHashSize + 16 && v[0] == 'E') {
    node->kind = StreamMapNode::Kind::kEntry;
    node->entry.key.assign(v.substr(1, kHashSize).data(), kHashSize);
    node->entry.value.last_revision = ReadBigEndian64(v.substr(1 + kHashSize, 8));
    node->entry.value.last_position = ReadBigEndian64(v.substr(1 + kHashSize + 8, 8));
    node->hash = StreamEntryHash(node->entry.key, node->entry.value);
    return absl::OkStatus();
  }
  return absl::DataLossError(absl::StrCat("stream-head map: the node at depth ", depth,
                                          " is damaged; restart with --startup_check=full "
                                          "to rebuild it"));
}

void StreamMapStore::Write(int depth, const std::string& prefix, const StreamMapNode& node,
                           rocksdb::WriteBatch* batch) const {
  if (const int64_t index = TopIndex(depth, prefix); index >= 0) {
    StreamMapNode& held = top_[static_cast<uint32_t>(index)];
    held.kind = node.kind;
    if (node.kind != StreamMapNode::Kind::kEmpty) held.hash = node.hash;
    if (node.kind == StreamMapNode::Kind::kEntry) held.entry = node.entry;
  }
  switch (node.kind) {
    case StreamMapNode::Kind::kEmpty:
      // Never occupied (see the header): nothing to write.
      return;
    case StreamMapNode::Kind::kInner:
      batch->Put(cf_, NodeKey(depth, prefix), absl::StrCat("I", node.hash));
      return;
    case StreamMapNode::Kind::kEntry:
      batch->Put(cf_, NodeKey(depth, prefix),
                 absl::StrCat("E", node.entry.key, BigEndian64(node.entry.value.last_revision),
                              BigEndian64(node.entry.value.last_position)));
      return;
  }
}

absl::StatusOr<std::string> StreamMapStore::UpdateAt(int depth, const std::string& prefix,
                                                    const StreamMapNode& current,
                                                    const StreamMapEntry* begin,
                                                    const StreamMapEntry* end,
                                                    rocksdb::WriteBatch* batch) {
  if (begin == end) return HashOf(current);
  auto sink = [this, batch](int d, const std::string& p, const StreamMapNode& n) {
    Write(d, p, n, batch);
  };
  switch (current.kind) {
    case StreamMapNode::Kind::kEmpty:
      return HashOf(BuildStreamMap(depth, prefix, begin, end, sink));
    case StreamMapNode::Kind::kEntry: {
      // The entry already here joins the changes, unless it is one of them.
      // (`current` may be the place the build rewrites: read it first.)
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
      return HashOf(
          BuildStreamMap(depth, prefix, merged.data(), merged.data() + merged.size(), sink));
    }
    case StreamMapNode::Kind::kInner:
      break;
  }
  if (depth >= 256) return absl::DataLossError("stream-head map: a path deeper than its keys");
  const StreamMapEntry* middle = std::partition_point(
      begin, end, [depth](const StreamMapEntry& e) { return !KeyBit(e.key, depth); });
  const std::string right_prefix = WithBit(prefix, depth);
  StreamMapNode left_scratch, right_scratch;
  EH_ASSIGN_OR_RETURN(const StreamMapNode* left_now, Read(depth + 1, prefix, &left_scratch));
  EH_ASSIGN_OR_RETURN(const StreamMapNode* right_now,
                      Read(depth + 1, right_prefix, &right_scratch));
  // Each side's update writes only places under it.
  EH_ASSIGN_OR_RETURN(std::string left,
                      UpdateAt(depth + 1, prefix, *left_now, begin, middle, batch));
  EH_ASSIGN_OR_RETURN(std::string right,
                      UpdateAt(depth + 1, right_prefix, *right_now, middle, end, batch));
  // Entries are only added or changed, never removed: an inner node stays one.
  StreamMapNode node;
  node.kind = StreamMapNode::Kind::kInner;
  node.hash = NodeHash(left, right);
  Write(depth, prefix, node, batch);
  return std::move(node.hash);
}

absl::StatusOr<std::string> StreamMapStore::Update(
    const std::map<std::string, StreamHeadValue>& heads, uint64_t size,
    const rocksdb::WriteOptions& write_options) {
  std::vector<StreamMapEntry> changes;
  changes.reserve(heads.size());
  for (const auto& [key, value] : heads) changes.push_back({key, value});  // sorted by key
  const std::string root_prefix(kHashSize, '\0');
  rocksdb::WriteBatch batch;
  StreamMapNode scratch;
  absl::StatusOr<std::string> root;
  absl::StatusOr<const StreamMapNode*> now = Read(0, root_prefix, &scratch);
  if (now.ok()) {
    root = UpdateAt(0, root_prefix, **now, changes.data(), changes.data() + changes.size(),
                    &batch);
  } else {
    root = now.status();
  }
  absl::Status written = root.status();
  if (written.ok()) {
    batch.Put(cf_, kSizeKey, BigEndian64(size));
    written = FromRocks(db_->Write(write_options, &batch), "cannot write");
  }
  if (!written.ok()) {
    top_.clear();  // it holds what was not written
    return written;
  }
  return root;
}

absl::Status StreamMapStore::Reset() {
  top_.clear();
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
  StreamMapNode scratch, sibling_scratch;
  EH_ASSIGN_OR_RETURN(const StreamMapNode* node, Read(0, prefix, &scratch));
  for (int depth = 0;; ++depth) {
    switch (node->kind) {
      case StreamMapNode::Kind::kEmpty:
        return std::optional<Proven>();
      case StreamMapNode::Kind::kEntry:
        if (node->entry.key != key) return std::optional<Proven>();
        proven.value = node->entry.value;
        return std::optional<Proven>(std::move(proven));
      case StreamMapNode::Kind::kInner:
        break;
    }
    if (depth >= 256) return absl::DataLossError("stream-head map: a path deeper than its keys");
    const std::string right_prefix = WithBit(prefix, depth);
    const bool right = KeyBit(key, depth);
    EH_ASSIGN_OR_RETURN(const StreamMapNode* sibling,
                        Read(depth + 1, right ? prefix : right_prefix, &sibling_scratch));
    proven.siblings.push_back(HashOf(*sibling));
    if (right) prefix = right_prefix;
    EH_ASSIGN_OR_RETURN(node, Read(depth + 1, prefix, &scratch));
  }
}

}  // namespace evenhand::integrity
