#include "projections/internal/checkpoint_store.h"

#include <algorithm>
#include <bit>
#include <functional>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/big_endian.h"
#include "base/status_macros.h"
#include "rocksdb/cache.h"
#include "rocksdb/filter_policy.h"

namespace evenhand::projections::internal {

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

std::string FindingKey(bool obligation, int64_t when, uint32_t id) {
  return absl::StrCat(kFindingEntryPrefix, obligation ? "o" : "f", "a",
                      BigEndian64(static_cast<uint64_t>(when) ^ (1ULL << 63)), BigEndian64(id));
}

namespace {

// The start of the block of level `level` holding position `p`, dated
// `when` on: what follows the prefix and kind of a withdrawn entry's key.
std::string WithdrawnBlockKey(bool obligation, int level, uint64_t p, int64_t when) {
  std::string key = absl::StrCat(kFindingEntryPrefix, obligation ? "o" : "f", "w");
  key.push_back(static_cast<char>(level));
  PutBigEndian64(&key, level >= 64 ? 0 : p >> level);
  PutBigEndian64(&key, static_cast<uint64_t>(when) ^ (1ULL << 63));
  return key;
}

constexpr size_t kWithdrawnKeySize = sizeof(kFindingEntryPrefix) - 1 + 2 + 1 + 8 + 8 + 8 + 16;

}  // namespace

int WithdrawnLevel(uint64_t appeared, uint64_t withdrawn) {
  // The positions it was alive at: [appeared, withdrawn), at least one.
  const uint64_t last = std::max(appeared, withdrawn - 1);
  return std::bit_width(appeared ^ last);
}

std::string WithdrawnKey(const state::FindingEntryRecord& entry) {
  std::string key =
      WithdrawnBlockKey(entry.obligation(), WithdrawnLevel(entry.appeared(), entry.withdrawn()),
                        entry.appeared(), entry.when_nanos());
  PutBigEndian64(&key, entry.id());
  PutBigEndian64(&key, entry.appeared());
  PutBigEndian64(&key, entry.withdrawn());
  return key;
}

namespace {

std::string DayKey(absl::string_view prefix, int64_t day, uint64_t last_position) {
  std::string key(prefix);
  PutBigEndian64(&key, static_cast<uint64_t>(day) ^ (1ULL << 63));
  PutBigEndian64(&key, last_position);
  return key;
}

// Visits, in key order, each record of `prefix` (FigureChangeKey's layout:
// one checkpoint's changes to one day, or part of them) of the days
// [first_day, last_day] whose last position is after `after_position`,
// parsed into `record`.
template <typename Record>
absl::Status ScanDays(rocksdb::DB* db, absl::string_view prefix, int64_t first_day,
                      int64_t last_day, uint64_t after_position, Record* record,
                      const std::function<void(int64_t day, uint64_t last_position)>& visit) {
  if (first_day > last_day || after_position == UINT64_MAX) return absl::OkStatus();
  const size_t day_at = prefix.size();
  const std::string end = DayKey(prefix, last_day + 1, 0);
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
  it->Seek(DayKey(prefix, first_day, after_position + 1));
  while (it->Valid() && it->key().compare(end) < 0) {
    const std::string_view key(it->key().data(), it->key().size());
    if (key.size() != day_at + 16) {
      return absl::DataLossError("findings index: a figure change's key is malformed");
    }
    const auto day = static_cast<int64_t>(ReadBigEndian64(key.substr(day_at)) ^ (1ULL << 63));
    const uint64_t last_position = ReadBigEndian64(key.substr(day_at + 8));
    if (last_position <= after_position) {
      // A day's changes from before the position: skip to those after.
      it->Seek(DayKey(prefix, day, after_position + 1));
      continue;
    }
    if (!record->ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError("findings index: a figure change cannot be parsed");
    }
    visit(day, last_position);
    it->Next();
  }
  return FromRocks(it->status(), "cannot read the findings index");
}

}  // namespace

std::string FigureChangeKey(int64_t day, uint64_t last_position) {
  return DayKey(kFigureChangePrefix, day, last_position);
}

std::string FigureSumsKey(int64_t day, uint64_t last_position) {
  return DayKey(kFigureSumsPrefix, day, last_position);
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
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    state::FindingEntryRecord record;
    if (!withdrawn) {
      const std::string end = FindingKey(obligations, to, 0);
      for (it->Seek(FindingKey(obligations, from, 0)); it->Valid() && it->key().compare(end) < 0;
           it->Next()) {
        if (!record.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
          return absl::DataLossError("findings index: an entry cannot be parsed");
        }
        if (!visit(record)) break;
      }
      return FromRocks(it->status(), "cannot read the findings index");
    }
    // Withdrawn: at each level, the one block that holds the position,
    // whose entries were each alive at some of its positions; those
    // dated in the period, and alive at the position, are read. Levels
    // above the highest stored hold none.
    const std::string kind = absl::StrCat(kFindingEntryPrefix, obligations ? "o" : "f", "w");
    it->SeekForPrev(absl::StrCat(kind, std::string(1, static_cast<char>(65))));
    if (!it->Valid() || !it->key().starts_with(kind)) {
      return FromRocks(it->status(), "cannot read the findings index");
    }
    if (it->key().size() != kWithdrawnKeySize) {
      return absl::DataLossError("findings index: a withdrawn entry's key is malformed");
    }
    const int highest = static_cast<unsigned char>(it->key()[kind.size()]);
    for (int level = 0; level <= std::min(highest, 64); ++level) {
      const std::string end = WithdrawnBlockKey(obligations, level, alive_at, to);
      for (it->Seek(WithdrawnBlockKey(obligations, level, alive_at, from));
           it->Valid() && it->key().compare(end) < 0; it->Next()) {
        if (it->key().size() != kWithdrawnKeySize) {
          return absl::DataLossError("findings index: a withdrawn entry's key is malformed");
        }
        const std::string_view alive(it->key().data() + kWithdrawnKeySize - 16, 16);
        if (!(ReadBigEndian64(alive) <= alive_at && alive_at < ReadBigEndian64(alive.substr(8)))) {
          continue;
        }
        if (!record.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
          return absl::DataLossError("findings index: an entry cannot be parsed");
        }
        if (!visit(record)) return FromRocks(it->status(), "cannot read the findings index");
      }
      EH_RETURN_IF_ERROR(FromRocks(it->status(), "cannot read the findings index"));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<state::FindingEntryRecord> Get(bool obligation, int64_t when,
                                                uint32_t id) const override {
    std::string value;
    EH_RETURN_IF_ERROR(
        FromRocks(db_->Get(rocksdb::ReadOptions(), FindingKey(obligation, when, id), &value),
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
    state::FigureChangesRecord record;
    return ScanDays(db_, kFigureChangePrefix, first_day, last_day, after_position, &record,
                    [&](int64_t, uint64_t) {
                      for (const state::FigureChangeRecord& change : record.changes()) {
                        if (change.position() > after_position) visit(change);
                      }
                    });
  }

  absl::Status GetFigureChanges(int64_t day, uint64_t last_position,
                                state::FigureChangesRecord* record) const override {
    rocksdb::PinnableSlice value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), db_->DefaultColumnFamily(),
                                 FigureChangeKey(day, last_position), &value);
    if (s.IsNotFound()) return absl::NotFoundError("no such changes to the group figures");
    EH_RETURN_IF_ERROR(FromRocks(s, "cannot read the group figures' changes"));
    if (!record->ParseFromArray(value.data(), static_cast<int>(value.size()))) {
      return absl::DataLossError("findings index: a figure change cannot be parsed");
    }
    return absl::OkStatus();
  }

  absl::Status ScanFigureSums(
      int64_t first_day, int64_t last_day, uint64_t after_position,
      const std::function<void(int64_t day, uint64_t last_position,
                               const state::FigureSumsRecord&)>& visit) const override {
    state::FigureSumsRecord record;
    return ScanDays(
        db_, kFigureSumsPrefix, first_day, last_day, after_position, &record,
        [&](int64_t day, uint64_t last_position) { visit(day, last_position, record); });
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
