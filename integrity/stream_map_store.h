// StreamMapStore: the stream-head map (integrity/stream_map.h) kept in
// RocksDB, updated once per checkpoint with the streams that changed since
// the last, so its cost follows what changed, not how many streams exist.
//
// It knows the map's layout on disk and nothing of events or checkpoints:
// IntegrityLog tells it which heads changed and at what tree size.
//
// In its column family:
//   "m" BE16(depth) prefix(32) -> 'E' key(32) BE64(revision) BE64(position)
//                                  (an entry) or 'I' hash(32) (an inner node)
//   "M"                        -> BE64(the tree size the map is at)
// Only the newest map is kept (a bundle is proven against a checkpoint
// signed when it is exported).
//
// The top of the tree, which every update walks (the nodes above
// `cached_depth`, 16 by default: at most 65,535), is held once read or
// written, found by a number made of its depth and prefix: no key is built,
// hashed or copied to find one. Below it, a node is one point read.
// A place left empty beside a new inner node is not written: a place below
// an entry was never occupied (entries are only added or changed, and an
// inner node stays one), so reading it finds nothing, which is empty.
//
// The server keeps the map in a RocksDB of its own (<data_dir>/stream-map):
// its writes, a few thousand keys per checkpoint, then never queue with the
// log's synced group commits (measured: in the log's own RocksDB they took
// appends' p99 at 64 clients from 11-13 ms to 41-59 ms).
//
// Not thread-safe: IntegrityLog calls it with its signing lock held.
#ifndef EVENHAND_INTEGRITY_STREAM_MAP_STORE_H_
#define EVENHAND_INTEGRITY_STREAM_MAP_STORE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/node_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "integrity/stream_map.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace evenhand::integrity {

class StreamMapStore {
 public:
  static constexpr int kMaxCachedDepth = 16;
  // `cached_depth`: the levels held (0 to kMaxCachedDepth; 0 holds none).
  StreamMapStore(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                 int cached_depth = kMaxCachedDepth);

  // The tree size the stored map reflects (0 if none was built yet).
  absl::StatusOr<uint64_t> Size() const;
  absl::StatusOr<std::string> Root() const;

  // Writes the map with `heads` (by StreamKey) set, as of tree size
  // `size`, in one batch (`write_options`), and returns its root.
  absl::StatusOr<std::string> Update(const std::map<std::string, StreamHeadValue>& heads,
                                     uint64_t size, const rocksdb::WriteOptions& write_options);

  // Empties the map (size 0).
  absl::Status Reset();

  struct Proven {
    StreamHeadValue value;
    std::vector<std::string> siblings;  // root end first
  };
  // The stream's head and proof in the stored map; nullopt if absent.
  absl::StatusOr<std::optional<Proven>> Prove(absl::string_view stream_id) const;

 private:
  // Where the top of the tree holds (`depth`, `prefix`): (1 << depth) - 1 +
  // the prefix's first `depth` bits; or -1 below the top.
  int64_t TopIndex(int depth, const std::string& prefix) const;
  // The node at (`depth`, `prefix`): in the top (read from RocksDB the first
  // time), or below it read into `*scratch`.
  absl::StatusOr<const StreamMapNode*> Read(int depth, const std::string& prefix,
                                            StreamMapNode* scratch) const;
  absl::Status ReadStored(int depth, const std::string& prefix, StreamMapNode* node) const;
  void Write(int depth, const std::string& prefix, const StreamMapNode& node,
             rocksdb::WriteBatch* batch) const;
  // The subtree at (`depth`, `prefix`), now `current`, with [begin, end)
  // set: its places written to `batch`, and its hash returned.
  absl::StatusOr<std::string> UpdateAt(int depth, const std::string& prefix,
                                       const StreamMapNode& current, const StreamMapEntry* begin,
                                       const StreamMapEntry* end, rocksdb::WriteBatch* batch);

  rocksdb::DB* const db_;
  rocksdb::ColumnFamilyHandle* const cf_;
  const int cached_depth_;
  // By TopIndex: the places read or written (nodes never move, so a
  // pointer to one stays valid while others are added).
  mutable absl::node_hash_map<uint32_t, StreamMapNode> top_;
};

}  // namespace evenhand::integrity

#endif  // EVENHAND_INTEGRITY_STREAM_MAP_STORE_H_
