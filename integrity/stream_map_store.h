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
// Nodes of the top 16 levels read or written are kept in a cache of at most
// `cache_nodes` (the part of the tree every update walks).
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

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "integrity/stream_map.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace evenhand::integrity {

class StreamMapStore {
 public:
  StreamMapStore(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, size_t cache_nodes = 1 << 18)
      : db_(db), cf_(cf), cache_nodes_(cache_nodes) {}



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
  absl::StatusOr<StreamMapNode> Read(int depth, const std::string& prefix) const;
  void Write(int depth, const std::string& prefix, const StreamMapNode& node,
             rocksdb::WriteBatch* batch) const;
  absl::StatusOr<StreamMapNode> UpdateAt(int depth, const std::string& prefix,
                                         const StreamMapNode& current,
                                         const StreamMapEntry* begin, const StreamMapEntry* end,
                                         rocksdb::WriteBatch* batch);

  // Nodes above this depth are cached (at most 2^kCachedDepth of them).
  static constexpr int kCachedDepth = 16;
  void Remember(int depth, const std::string& key, const StreamMapNode& node) const;

  rocksdb::DB* const db_;
  rocksdb::ColumnFamilyHandle* const cf_;
  const size_t cache_nodes_;
  mutable absl::flat_hash_map<std::string, StreamMapNode> cache_;
};

}  // namespace evenhand::integrity

#endif  // EVENHAND_INTEGRITY_STREAM_MAP_STORE_H_
