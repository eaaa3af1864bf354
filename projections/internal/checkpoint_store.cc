#include "projections/internal/checkpoint_store.h"

#include <functional>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/big_endian.h"
#include "base/status_macros.h"
#include "rocksdb/cache.h"
#include "rocksdb/filter_policy.h"

namespace evenhand::projections::internal {
namespace {

constexpr size_t kFindingKeySize = sizeof(kFindingEntryPrefix) - 1 + 2 + 16;
constexpr size_t kFigureChangeDayAt = sizeof(kFigureChangePrefix) - 1;

}  // namespace

rocksdb::BlockBasedTableOptions CheckpointTableOptions(size_t block_cache_bytes) {
  rocksdb::BlockBasedTableOptions t;
  t.block_cache = rocksdb::NewLRUCache(block_cache_bytes);
  t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  return t;
}

absl::Status FromRocks(const rocksdb::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  std::string message = absl::StrCat("projection checkpoint: ", what, ": ", s.ToString());
  // Damage RocksDB found (a checksum, a table file's magic number): the
  // runner replaces the checkpoint rather than reading it again.
  if (s.IsCorruption()) return absl::DataLossError(message);
  return absl::InternalError(message);
}

std::string FindingKey(bool obligation, bool withdrawn, int64_t when, uint32_t id) {
  return absl::StrCat(kFindingEntryPrefix, obligation ? "o" : "f", withdrawn ? "w" : "a",
                      BigEndian64(static_cast<uint64_t>(when) ^ (1ULL << 63)), BigEndian64(id));
}

std::string WithdrawnKey(const state::FindingEntryRecord& entry) {
  std::string key = FindingKey(entry.obligation(), true, entry.when_nanos(), entry.id());
  PutBigEndian64(&key, entry.appeared());
  PutBigEndian64(&key, entry.withdrawn());
  return key;
}

std::string FigureChangeKey(int64_t day, uint64_t last_position) {
  std::string key = kFigureChangePrefix;
  PutBigEndian64(&key, static_cast<uint64_t>(day) ^ (1ULL << 63));
  PutBigEndian64(&key, last_position);
  return key;
}

namespace {

// The checkpointed findings index, read back for reports and to withdraw
// an entry.
class RocksStoredFindings : public StoredFindings {
 public:
  explicit RocksStoredFindings(rocksdb::DB* db) : db_(db) {}

  absl::Status Scan(
      bool obligations, bool withdrawn, int64_t from, int64_t to, uint64_t alive_at,
      const std::function<bool(const state::FindingEntryRecord&)>& visit) const override {
    const std::string end = FindingKey(obligations, withdrawn, to, 0);
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    state::FindingEntryRecord record;
    for (it->Seek(FindingKey(obligations, withdrawn, from, 0));
         it->Valid() && it->key().compare(end) < 0; it->Next()) {
      if (withdrawn && it->key().size() == kFindingKeySize + 16) {
        const std::string_view alive(it->key().data() + kFindingKeySize, 16);
        if (!(ReadBigEndian64(alive) <= alive_at && alive_at < ReadBigEndian64(alive.substr(8)))) {
          continue;
        }
      }
      if (!record.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
        return absl::DataLossError("findings index: an entry cannot be parsed");
      }
      if (!visit(record)) break;
    }
    return FromRocks(it->status(), "cannot read the findings index");
  }

  absl::StatusOr<state::FindingEntryRecord> Get(bool obligation, int64_t when,
                                                uint32_t id) const override {
    std::string value;
    EH_RETURN_IF_ERROR(
        FromRocks(db_->Get(rocksdb::ReadOptions(), FindingKey(obligation, false, when, id), &value),
                  absl::StrCat("cannot read findings index entry ", id)));
    state::FindingEntryRecord record;
    if (!record.ParseFromString(value)) {
      return absl::DataLossError(absl::StrCat("findings index: entry ", id, " cannot be parsed"));
    }
    return record;
  }

  absl::Status GetSubject(const std::string& stream_id,
                          state::SubjectRecord* record) const override {
    rocksdb::PinnableSlice value;
    rocksdb::Status s =
        db_->Get(rocksdb::ReadOptions(), db_->DefaultColumnFamily(),
                 absl::StrCat(kFindingSubjectPrefix, stream_id), &value);
    if (s.IsNotFound()) return absl::NotFoundError(stream_id);
    EH_RETURN_IF_ERROR(FromRocks(s, absl::StrCat("cannot read subject ", stream_id)));
    if (!record->ParseFromArray(value.data(), static_cast<int>(value.size())) ||
        record->stream_id() != stream_id) {
      return absl::DataLossError(
          absl::StrCat("findings index: subject ", stream_id, " cannot be parsed"));
    }
    return absl::OkStatus();
  }

  absl::Status ScanFigureChanges(
      int64_t first_day, int64_t last_day, uint64_t after_position,
      const std::function<void(const state::FigureChangeRecord&)>& visit) const override {
    if (first_day > last_day || after_position == UINT64_MAX) return absl::OkStatus();
    const std::string end = FigureChangeKey(last_day + 1, 0);
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    state::FigureChangesRecord record;
    it->Seek(FigureChangeKey(first_day, after_position + 1));
    while (it->Valid() && it->key().compare(end) < 0) {
      const std::string_view key(it->key().data(), it->key().size());
      if (key.size() != kFigureChangeDayAt + 16) {
        return absl::DataLossError("findings index: a figure change's key is malformed");
      }
      const uint64_t last_position = ReadBigEndian64(key.substr(kFigureChangeDayAt + 8));
      if (last_position <= after_position) {
        // A day's changes from before the position: skip to those after.
        const auto day =
            static_cast<int64_t>(ReadBigEndian64(key.substr(kFigureChangeDayAt)) ^ (1ULL << 63));
        it->Seek(FigureChangeKey(day, after_position + 1));
        continue;
      }
      if (!record.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
        return absl::DataLossError("findings index: a figure change cannot be parsed");
      }
      for (const state::FigureChangeRecord& change : record.changes()) {
        if (change.position() > after_position) visit(change);
      }
      it->Next();
    }
    return FromRocks(it->status(), "cannot read the findings index");
  }

 private:
  rocksdb::DB* const db_;
};

}  // namespace

std::unique_ptr<StoredFindings> NewRocksStoredFindings(rocksdb::DB* db) {
  return std::make_unique<RocksStoredFindings>(db);
}

namespace {

class RocksStoredCases : public StoredCases {
 public:
  RocksStoredCases(rocksdb::DB* db, std::function<absl::Status(const std::string&)> fault)
      : db_(db), fault_(std::move(fault)) {}

  absl::Status ReadCase(const std::string& stream_id, std::string* bytes) const override {
    if (fault_) EH_RETURN_IF_ERROR(fault_(stream_id));
    rocksdb::PinnableSlice value;
    const std::string key = absl::StrCat(kCasePrefix, stream_id);
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), db_->DefaultColumnFamily(), key, &value);
    if (s.IsNotFound()) {
      return absl::DataLossError("it is missing from the checkpoint");
    }
    EH_RETURN_IF_ERROR(FromRocks(s, "cannot read a case"));
    bytes->assign(value.data(), value.size());
    return absl::OkStatus();
  }

 private:
  rocksdb::DB* const db_;
  const std::function<absl::Status(const std::string&)> fault_;
};

}  // namespace

std::unique_ptr<StoredCases> NewRocksStoredCases(
    rocksdb::DB* db, std::function<absl::Status(const std::string&)> fault) {
  return std::make_unique<RocksStoredCases>(db, std::move(fault));
}

}  // namespace evenhand::projections::internal
