#include "integrity/stream_map.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/big_endian.h"
#include "integrity/merkle.h"

namespace evenhand::integrity {

std::string StreamKey(absl::string_view stream_id) { return Sha256(stream_id); }

std::string StreamEntryHash(absl::string_view key, const StreamHeadValue& value) {
  std::string body(key);
  PutBigEndian64(&body, value.last_revision);
  PutBigEndian64(&body, value.last_position);
  return LeafHash(body);  // SHA-256(0x00 || body)
}

const std::string& EmptyStreamMapHash() {
  static const std::string* const kEmpty = new std::string(kHashSize, '\0');
  return *kEmpty;
}

bool KeyBit(absl::string_view key, int depth) {
  return (static_cast<uint8_t>(key[depth / 8]) >> (7 - depth % 8)) & 1;
}

std::string KeyPrefix(absl::string_view key, int depth) {
  std::string prefix(kHashSize, '\0');
  for (int i = 0; i < depth / 8; ++i) prefix[i] = key[i];
  if (depth % 8 != 0) {
    prefix[depth / 8] = static_cast<char>(static_cast<uint8_t>(key[depth / 8]) &
                                          static_cast<uint8_t>(0xFF << (8 - depth % 8)));
  }
  return prefix;
}

namespace {

std::string WithBit(const std::string& prefix, int depth) {
  std::string out = prefix;
  out[depth / 8] = static_cast<char>(static_cast<uint8_t>(out[depth / 8]) | (0x80 >> (depth % 8)));
  return out;
}

void SortEntries(std::vector<StreamMapEntry>* entries) {
  std::sort(entries->begin(), entries->end(),
            [](const StreamMapEntry& a, const StreamMapEntry& b) { return a.key < b.key; });
}

}  // namespace

StreamMapNode BuildStreamMap(int depth, const std::string& prefix, const StreamMapEntry* begin,
                             const StreamMapEntry* end, const StreamMapSink& sink) {
  StreamMapNode node;
  if (begin == end) return node;
  if (end - begin == 1) {
    node.kind = StreamMapNode::Kind::kEntry;
    node.entry = *begin;
    node.hash = StreamEntryHash(begin->key, begin->value);
    if (sink) sink(depth, prefix, node);
    return node;
  }
  // Sorted keys: those with bit `depth` clear come first.
  const StreamMapEntry* middle =
      std::partition_point(begin, end, [depth](const StreamMapEntry& e) { return !KeyBit(e.key, depth); });
  const std::string right_prefix = WithBit(prefix, depth);
  StreamMapNode left = BuildStreamMap(depth + 1, prefix, begin, middle, sink);
  StreamMapNode right = BuildStreamMap(depth + 1, right_prefix, middle, end, sink);
  if (sink) {
    if (left.kind == StreamMapNode::Kind::kEmpty) sink(depth + 1, prefix, left);
    if (right.kind == StreamMapNode::Kind::kEmpty) sink(depth + 1, right_prefix, right);
  }
  node.kind = StreamMapNode::Kind::kInner;
  node.hash = NodeHash(left.kind == StreamMapNode::Kind::kEmpty ? EmptyStreamMapHash() : left.hash,
                       right.kind == StreamMapNode::Kind::kEmpty ? EmptyStreamMapHash() : right.hash);
  if (sink) sink(depth, prefix, node);
  return node;
}

std::string StreamMapRoot(std::vector<StreamMapEntry> entries) {
  SortEntries(&entries);
  StreamMapNode root = BuildStreamMap(0, std::string(kHashSize, '\0'), entries.data(),
                                      entries.data() + entries.size(), nullptr);
  return root.kind == StreamMapNode::Kind::kEmpty ? EmptyStreamMapHash() : root.hash;
}

absl::StatusOr<std::vector<std::string>> StreamMapProof(std::vector<StreamMapEntry> entries,
                                                        absl::string_view key) {
  SortEntries(&entries);
  const StreamMapEntry* begin = entries.data();
  const StreamMapEntry* end = entries.data() + entries.size();
  std::vector<std::string> siblings;
  std::string prefix(kHashSize, '\0');
  for (int depth = 0;; ++depth) {
    if (begin == end) return absl::NotFoundError("not in the map");
    if (end - begin == 1) {
      if (begin->key != key) return absl::NotFoundError("not in the map");
      return siblings;
    }
    const StreamMapEntry* middle = std::partition_point(
        begin, end, [depth](const StreamMapEntry& e) { return !KeyBit(e.key, depth); });
    const std::string right_prefix = WithBit(prefix, depth);
    if (KeyBit(key, depth)) {
      StreamMapNode left = BuildStreamMap(depth + 1, prefix, begin, middle, nullptr);
      siblings.push_back(left.kind == StreamMapNode::Kind::kEmpty ? EmptyStreamMapHash() : left.hash);
      begin = middle;
      prefix = right_prefix;
    } else {
      StreamMapNode right = BuildStreamMap(depth + 1, right_prefix, middle, end, nullptr);
      siblings.push_back(right.kind == StreamMapNode::Kind::kEmpty ? EmptyStreamMapHash()
                                                                   : right.hash);
      end = middle;
    }
  }
}

absl::Status VerifyStreamHead(absl::string_view root, absl::string_view stream_id,
                              const StreamHeadValue& value,
                              const std::vector<std::string>& siblings) {
  if (siblings.size() > 256) {
    return absl::InvalidArgumentError("its proof is longer than a 256-bit key");
  }
  for (const std::string& s : siblings) {
    if (s.size() != kHashSize) return absl::InvalidArgumentError("its proof holds a non-hash");
  }
  // An entry sits where its subtree holds nothing else: its last sibling
  // cannot be empty (the two would have been one entry higher up).
  if (!siblings.empty() && siblings.back() == EmptyStreamMapHash()) {
    return absl::InvalidArgumentError("its proof is not minimal (an empty sibling beside the entry)");
  }
  const std::string key = StreamKey(stream_id);
  std::string hash = StreamEntryHash(key, value);
  for (int depth = static_cast<int>(siblings.size()) - 1; depth >= 0; --depth) {
    hash = KeyBit(key, depth) ? NodeHash(siblings[depth], hash) : NodeHash(hash, siblings[depth]);
  }
  if (hash != root) {
    return absl::InvalidArgumentError(
        "its proof does not lead to the checkpoint's stream-map root (the head or its proof was "
        "altered)");
  }
  return absl::OkStatus();
}

}  // namespace evenhand::integrity
