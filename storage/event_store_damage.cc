// EventStore's damage: a log RocksDB found damaged at open (refused, saying
// which file and what is intact), events marked damaged, blocks RocksDB's
// checksums refused on a read, and acknowledged positions found missing (at
// open, in what the write-ahead logs gave back; on a read, wherever one meets
// a hole). Each is kept in memory and in the data folder's record
// (damage_record.h) for the next start, and listed by DamageFound().
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/logging.h"
#include "base/status_macros.h"
#include "storage/internal/keys.h"
#include "storage/internal/store_impl.h"

namespace evenhand::storage {

using internal::BigEndian64;
using internal::FromRocks;
using internal::ReadBigEndian64;

namespace {

constexpr char kComponent[] = "storage";

// The first file name in `message` made of `mark` and the digits before it
// (000123.sst) or after it (MANIFEST-000005); empty if there is none.
std::string FileNamed(absl::string_view message, absl::string_view mark, bool digits_before) {
  for (size_t at = message.find(mark); at != absl::string_view::npos;
       at = message.find(mark, at + 1)) {
    size_t begin = at;
    size_t end = at + mark.size();
    if (digits_before) {
      while (begin > 0 && absl::ascii_isdigit(message[begin - 1])) --begin;
      if (begin == at) continue;
    } else {
      while (end < message.size() && absl::ascii_isdigit(message[end])) ++end;
      if (end == at + mark.size()) continue;
    }
    return std::string(message.substr(begin, end - begin));
  }
  return "";
}

}  // namespace

absl::Status EventStore::Impl::LookBeforeOpening(
    const rocksdb::DBOptions& db_options,
    const std::vector<rocksdb::ColumnFamilyDescriptor>& descriptors) {
  // After a clean stop the write-ahead logs hold nothing: no second open.
  // (A copy read through a file system of RocksDB's is opened read-only.)
  if (options_.file_system != nullptr) return absl::OkStatus();
  if (!folder_at_open_.listed || folder_at_open_.wals_holding == 0) return absl::OkStatus();
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocks_logger_->SetOpening(true);
  rocksdb::Status s =
      rocksdb::DB::OpenForReadOnly(db_options, options_.data_dir, descriptors, &handles, &raw);
  rocks_logger_->SetOpening(false);
  // Not opened (damage, a missing family): the read-write open says why.
  if (!s.ok()) return absl::OkStatus();
  std::unique_ptr<rocksdb::DB> look(raw);
  rocksdb::ColumnFamilyHandle* events = nullptr;
  rocksdb::ColumnFamilyHandle* meta = nullptr;
  for (auto* h : handles) {
    if (h->GetName() == internal::kEventsCf) events = h;
    if (h->GetName() == internal::kMetaCf) meta = h;
  }
  absl::Status checked =
      events == nullptr ? absl::OkStatus() : CheckRecoveredPositions(raw, events);
  // The end RocksDB gives back against the last acknowledged position,
  // before a read-write open could flush what the logs gave back and delete
  // the cut log (CheckAcknowledged looks again after the open).
  if (checked.ok() && events != nullptr && meta != nullptr && acknowledged_at_open_.has_value()) {
    std::string log_id;
    std::unique_ptr<rocksdb::Iterator> end(raw->NewIterator(rocksdb::ReadOptions(), events));
    end->SeekToLast();
    if (end->status().ok() &&
        raw->Get(rocksdb::ReadOptions(), meta, internal::kLogIdKey, &log_id).ok() &&
        log_id == acknowledged_at_open_->log_id) {
      const uint64_t last = end->Valid() ? ReadBigEndian64(end->key().ToStringView()) : 0;
      if (last < acknowledged_at_open_->position) checked = LostAcknowledged(last);
    }
  }
  for (auto* h : handles) look->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  look->Close().PermitUncheckedError();
  return checked;
}

absl::Status EventStore::Impl::RefuseDamagedOpen(
    const rocksdb::Status& s, rocksdb::DBOptions db_options,
    const std::vector<rocksdb::ColumnFamilyDescriptor>& descriptors) {
  db_options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  std::vector<rocksdb::ColumnFamilyHandle*> probe_handles;
  rocksdb::DB* probe = nullptr;
  std::optional<uint64_t> intact;
  if (rocksdb::DB::OpenForReadOnly(db_options, options_.data_dir, descriptors, &probe_handles,
                                   &probe)
          .ok()) {
    for (auto* h : probe_handles) {
      if (h->GetName() != internal::kEventsCf) continue;
      std::unique_ptr<rocksdb::Iterator> it(probe->NewIterator(rocksdb::ReadOptions(), h));
      it->SeekToLast();
      intact = it->Valid() ? ReadBigEndian64(it->key().ToStringView()) : 0;
    }
    for (auto* h : probe_handles) probe->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    delete probe;
  }
  const std::string head =
      absl::StrCat("storage: the log in ", options_.data_dir,
                   " is damaged and will not be opened (", s.ToString(), "). ");
  const std::string restore =
      "Restore the data folder from a backup (evenhand restore), keeping this one for "
      "investigation";
  if (intact.has_value()) {
    absl::Status damaged = absl::DataLossError(absl::StrCat(
        head,
        "Its write-ahead log holds writes that were acknowledged as durable and can no longer "
        "be read in full, so opening it would silently serve a shorter log. The intact part "
        "ends at position ",
        *intact, "; every event acknowledged after it may be lost. ", restore));
    damaged.SetPayload("evenhand.storage.intact_position", absl::Cord(absl::StrCat(*intact)));
    return damaged;
  }
  // Not the write-ahead log, whose damage the probe would have stopped at:
  // a file every open must read. Named from RocksDB's message.
  const std::string message = s.ToString();
  std::string which;
  bool in_wal = false;
  std::string table = FileNamed(message, ".sst", /*digits_before=*/true);
  if (table.empty()) {
    // RocksDB looks for a missing table file under its old suffix too, and
    // names that one last (outside probe: "the MANIFEST" was blamed).
    table = FileNamed(message, ".ldb", /*digits_before=*/true);
    if (!table.empty()) table = absl::StrCat(table.substr(0, table.size() - 4), ".sst");
  }
  const std::string manifest = FileNamed(message, "MANIFEST-", /*digits_before=*/false);
  // A closed write-ahead log the MANIFEST recorded (its synced size) that is
  // missing or not that size: "WAL (log number: 43) in MANIFEST is ...",
  // "Missing WAL with log number: 43".
  std::string wal_number = FileNamed(message, "log number: ", /*digits_before=*/false);
  if (!wal_number.empty()) wal_number = wal_number.substr(std::string("log number: ").size());
  if (!wal_number.empty()) {
    in_wal = true;
    char name[32];
    std::snprintf(name, sizeof name, "%06llu.log",
                  static_cast<unsigned long long>(std::strtoull(wal_number.c_str(), nullptr, 10)));
    which = absl::StrCat(
        "the write-ahead log ", name, ", closed earlier, which ",
        absl::StrContains(message, "Missing WAL")
            ? std::string("is missing")
            : std::string("is not the size the MANIFEST recorded when it was synced and closed "
                          "(cut short or replaced)"),
        ": the events it held were acknowledged as durable");
  } else if (!table.empty()) {
    which = absl::StrCat("a table file (", table, ")",
                         absl::StrContains(message, "No such file") ? ", which is missing" : "");
  } else if (!manifest.empty() || absl::StrContains(message, "MANIFEST")) {
    which = absl::StrCat("the MANIFEST", manifest.empty() ? "" : absl::StrCat(" (", manifest, ")"),
                         ", RocksDB's list of the log's files");
  } else if (absl::StrContains(message, "CURRENT")) {
    which = "the CURRENT file, which names the MANIFEST";
  }
  if (which.empty()) {
    // Not named: it may be the write-ahead log still (damage even the
    // point-in-time probe cannot get past), so nothing is claimed about it.
    return absl::DataLossError(absl::StrCat(
        head,
        "RocksDB cannot open the log at all, even stopping at the first damage it meets, so how "
        "much of it is intact is unknown, and nothing is served from this folder. ",
        restore));
  }
  return absl::DataLossError(absl::StrCat(
      head, "The damage is in ", which,
      in_wal ? ". RocksDB cannot open the log at all, and nothing is served from this folder. "
             : ", not in the write-ahead log: RocksDB cannot open the log at all, and nothing "
               "is served from this folder. ",
      restore));
}

absl::Status EventStore::Impl::CheckRecoveredPositions(rocksdb::DB* db,
                                                       rocksdb::ColumnFamilyHandle* events) {
  uint64_t last = 0;
  {
    std::unique_ptr<rocksdb::Iterator> end(db->NewIterator(rocksdb::ReadOptions(), events));
    end->SeekToLast();
    EH_RETURN_IF_ERROR(FromRocks(end->status(), "cannot find the end of the log"));
    if (end->Valid()) last = ReadBigEndian64(end->key().ToStringView());
  }
  // What the write-ahead logs gave back at this open is still in the
  // memtables (avoid_flush_during_recovery; a read-only open never
  // flushes), read alone with kMemtableTier.
  rocksdb::ReadOptions memtables;
  memtables.read_tier = rocksdb::kMemtableTier;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(memtables, events));
  std::vector<std::pair<uint64_t, uint64_t>> holes;
  uint64_t first = 0;
  uint64_t expected = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const uint64_t p = ReadBigEndian64(it->key().ToStringView());
    if (first == 0) {
      first = p;
    } else if (p != expected) {
      holes.emplace_back(expected, p - 1);
    }
    expected = p + 1;
  }
  EH_RETURN_IF_ERROR(
      FromRocks(it->status(), "cannot read the events recovered from the write-ahead log"));
  it.reset();
  if (first > 1) {
    // They follow on from the table files' last event.
    std::unique_ptr<rocksdb::Iterator> tables(db->NewIterator(rocksdb::ReadOptions(), events));
    tables->SeekForPrev(BigEndian64(first - 1));
    EH_RETURN_IF_ERROR(FromRocks(tables->status(), "cannot find where the log's tables end"));
    const uint64_t before = tables->Valid() ? ReadBigEndian64(tables->key().ToStringView()) : 0;
    if (before != first - 1) holes.insert(holes.begin(), {before + 1, first - 1});
  }
  if (holes.empty()) return absl::OkStatus();
  uint64_t missing = 0;
  std::vector<std::string> ranges;
  for (const auto& [from, to] : holes) {
    missing += to - from + 1;
    if (ranges.size() < 5) {
      ranges.push_back(from == to ? absl::StrCat(from) : absl::StrCat(from, "..", to));
    }
  }
  if (ranges.size() < holes.size()) ranges.push_back("...");
  absl::Status damaged = absl::DataLossError(absl::StrCat(
      "storage: the log in ", options_.data_dir, " will not be opened: ", missing,
      missing == 1 ? " position is" : " positions are", " missing (", absl::StrJoin(ranges, ", "),
      ") although it goes on to position ", last,
      ". Every position up to the last was acknowledged as durable, so these were lost since: a "
      "write-ahead log file (a *.log file in the data folder) deleted or cut short while the "
      "server was stopped? Opening it would serve a log with a hole that no checkpoint could "
      "be signed over. Restore the data folder from a backup (evenhand restore), keeping this "
      "one for investigation"));
  damaged.SetPayload("evenhand.storage.missing_from", absl::Cord(absl::StrCat(holes[0].first)));
  refused_recovery_ = true;
  return damaged;
}

absl::Status EventStore::Impl::ReadAcknowledged() {
  // The mark is of the server's own data folder (as the damage record is).
  if (options_.file_system != nullptr) return absl::OkStatus();
  acknowledged_ = std::make_unique<AcknowledgedMark>(options_.data_dir);
  std::string problem;
  EH_ASSIGN_OR_RETURN(acknowledged_at_open_, acknowledged_->Read(&problem));
  acknowledged_torn_ = !problem.empty();
  if (acknowledged_torn_) WarnAtStart(problem);
  if (!acknowledged_at_open_.has_value() || acknowledged_at_open_->position == 0) {
    return absl::OkStatus();
  }
  // Nothing of the log left for RocksDB to open (the only write-ahead log of
  // a log never flushed, removed): refused before RocksDB makes a new one
  // here, which would leave the old files unusable if they were put back.
  // (A folder that cannot be listed: RocksDB's open says what is wrong.)
  if (!folder_at_open_.listed || folder_at_open_.wals + folder_at_open_.tables > 0) {
    return absl::OkStatus();
  }
  return LostAcknowledged(0);
}

absl::Status EventStore::Impl::RefuseAFolderWithoutCurrent() const {
  if (options_.file_system != nullptr) return absl::OkStatus();  // a copy read in place
  const internal::FolderContents& folder = folder_at_open_;
  // (A MANIFEST alone is a first start cut short before it wrote CURRENT:
  // nothing to lose.)
  if (!folder.listed || folder.has_current || (folder.tables == 0 && folder.wals_holding == 0)) {
    return absl::OkStatus();
  }
  const std::vector<std::string>& manifests = folder.manifests;
  return absl::DataLossError(absl::StrCat(
      "storage: the log in ", options_.data_dir,
      " will not be opened: its CURRENT file (which names RocksDB's list of the log's files) "
      "is missing, but the folder holds the log's files (",
      folder.tables, " table file(s), ", folder.wals_holding,
      " write-ahead log(s) holding something",
      manifests.empty() ? std::string() : absl::StrCat(", ", absl::StrJoin(manifests, ", ")),
      "). Opening it would start a new, empty log here and delete them. Restore the data "
      "folder from a backup (evenhand restore), keeping this one for investigation",
      manifests.empty()
          ? std::string()
          : absl::StrCat("; or, if you know the newest MANIFEST is intact, write its name into "
                         "CURRENT (echo ",
                         manifests.back(), " > ", options_.data_dir, "/CURRENT)")));
}

absl::Status EventStore::Impl::LostAcknowledged(uint64_t last) const {
  const AcknowledgedMark::Mark& mark = *acknowledged_at_open_;
  absl::Status lost = absl::DataLossError(absl::StrCat(
      "storage: the log in ", options_.data_dir, " will not be opened: ",
      last == 0 ? std::string("its files hold no event")
                : absl::StrCat("it ends at position ", last),
      ", but position ", mark.position, " was acknowledged as durable (", acknowledged_->path(),
      " records each acknowledged append), so ", mark.position - last,
      mark.position - last == 1 ? " event was" : " events were",
      " lost from its end since: the newest write-ahead log (a *.log file in the data folder) "
      "cut short or removed while the server was stopped? Opening it would give those "
      "positions to new events. Restore the data folder from a backup (evenhand restore), "
      "keeping this one for investigation; to open it as it is and accept the loss, delete ",
      acknowledged_->path()));
  lost.SetPayload("evenhand.storage.missing_from", absl::Cord(absl::StrCat(last + 1)));
  return lost;
}

absl::Status EventStore::Impl::CheckAcknowledged(uint64_t last) {
  if (acknowledged_ == nullptr) return absl::OkStatus();
  if (!acknowledged_at_open_.has_value() && !acknowledged_torn_ && last > 0 && !read_only_) {
    // Deleted (an operator accepting a loss it reported), or a folder of a
    // build before it (a restore writes it: backups copy RocksDB's files
    // only): said, not silent (outside probe). A read-only open never
    // writes it, and says nothing.
    WarnAtStart(
        absl::StrCat(acknowledged_->path(),
                     " is missing (deleted; a folder restored by a build before 2026-12-07, "
                     "whose restore did not write it; or written by a build before 2026-12-06): "
                     "the end of the log (position ",
                     last, ") is not checked against it this time; it is written from now on"));
  }
  if (acknowledged_at_open_.has_value()) {
    if (acknowledged_at_open_->log_id != log_id_) {
      // Another log's (a folder whose log was replaced: the checkpoint
      // journal says whether that was right).
      logging::Warning(kComponent,
                       absl::StrCat(acknowledged_->path(), " is of log ",
                                    acknowledged_at_open_->log_id, ", not of this folder's log (",
                                    log_id_, "): not checked against it, and replaced"));
    } else if (acknowledged_at_open_->position > last) {
      refused_recovery_ = true;
      return LostAcknowledged(last);
    }
  }
  if (read_only_) return absl::OkStatus();
  absl::Status opened = acknowledged_->OpenForWriting(log_id_);
  if (opened.ok()) opened = acknowledged_->Record(last);
  if (!opened.ok()) {
    // The log goes on; the next start cannot check its end.
    WarnAcknowledged(opened, "; appends go on. Make the file writable and restart");
    acknowledged_ = nullptr;
  }
  return absl::OkStatus();
}

void EventStore::Impl::RecordAcknowledged(uint64_t position) {
  if (acknowledged_ == nullptr) return;
  absl::Status s = acknowledged_->Record(position);
  if (s.ok()) {
    if (acknowledged_failing_) {
      acknowledged_failing_ = false;
      logging::Info(kComponent, absl::StrCat(acknowledged_->path(), " is written again"));
      absl::MutexLock lock(&warnings_mu_);
      acknowledged_warning_.clear();
    }
    return;
  }
  if (acknowledged_failing_) return;
  acknowledged_failing_ = true;
  WarnAcknowledged(s, " until it is written again; appends go on");
}

std::vector<std::string> EventStore::Impl::Warnings() const {
  absl::MutexLock lock(&warnings_mu_);
  std::vector<std::string> out = start_warnings_;
  if (!acknowledged_warning_.empty()) out.push_back(acknowledged_warning_);
  for (std::string& clock : clock_watch_.Warnings(options_.clock()))
    out.push_back(std::move(clock));
  return out;
}

void EventStore::Impl::WarnAtStart(std::string warning) {
  logging::Warning(kComponent, warning);
  absl::MutexLock lock(&warnings_mu_);
  start_warnings_.push_back(std::move(warning));
}

void EventStore::Impl::WarnAcknowledged(const absl::Status& why, absl::string_view remedy) {
  std::string warning = absl::StrCat(
      why.message(),
      ": the end of the log will not be checked at the next start (acknowledged events lost "
      "from its end would go unseen)",
      remedy);
  logging::Error(kComponent, warning);
  absl::MutexLock lock(&warnings_mu_);
  acknowledged_warning_ = std::move(warning);
}

void EventStore::Impl::MarkDamaged(uint64_t position, std::string problem) {
  DamageFinding finding;
  finding.kind = DamageFinding::Kind::kEvent;
  finding.found_at = absl::Now();
  finding.position = position;
  finding.problem = problem;
  {
    absl::MutexLock lock(&damaged_mu_);
    const bool known = damaged_.contains(position);
    damaged_[position] = std::move(problem);
    any_damaged_.store(true, std::memory_order_release);
    if (known) return;
  }
  KeepFinding(finding);
}

void EventStore::Impl::KeepFinding(const DamageFinding& finding) const {
  if (damage_record_ == nullptr || !record_damage_) return;
  if (absl::Status s = damage_record_->Append(finding); !s.ok()) {
    logging::Error(kComponent,
                   absl::StrCat("damage found is known until the server stops, but cannot be "
                                "recorded for the next start: ",
                                s.message()));
  }
}

absl::Status EventStore::Impl::LoadDamageRecord(uint64_t last) {
  // The record is of the server's own data folder: a copy read in place (a
  // backup's, through a file system of RocksDB's) neither has one nor gets
  // one, and a log opened read-only writes nothing.
  if (options_.file_system != nullptr) return absl::OkStatus();
  damage_record_ = std::make_unique<DamageRecord>(options_.data_dir);
  record_damage_ = !options_.read_only;
  EH_ASSIGN_OR_RETURN(std::vector<DamageFinding> found, damage_record_->Load());
  if (found.empty()) return absl::OkStatus();
  absl::MutexLock lock(&damaged_mu_);
  for (DamageFinding& f : found) {
    const std::string when =
        f.found_at == absl::UnixEpoch()
            ? std::string()
            : absl::StrCat(
                  "found ",
                  absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", f.found_at, absl::UTCTimeZone()), ", ");
    std::string since =
        absl::StrCat(" (", when, "before this start; recorded in ", damage_record_->path(), ")");
    if (f.kind == DamageFinding::Kind::kEvent) {
      f.source = absl::StrCat("event ", f.position);
      f.error = absl::StrCat("the event at position ", f.position, " is damaged: ", f.problem);
      if (f.position == 0 || f.position > last) {
        // The log no longer reaches it (continued shorter after a lost
        // tail): a finding still, but no later event is refused for it.
        since += absl::StrCat("; the log now ends at position ", last);
      } else {
        damaged_[f.position] = f.problem;
        any_damaged_.store(true, std::memory_order_release);
      }
      since += ". Restore the data folder from a backup (evenhand restore)";
    }
    f.error += since;
    if (damage_found_.size() < kMaxDamageFound) {
      damage_found_.emplace_back(std::move(f.source), std::move(f.error));
    }
  }
  logging::Error(kComponent,
                 absl::StrCat(found.size(), " damage finding(s) of earlier runs are recorded in ",
                              damage_record_->path(),
                              ": health is NOT_SERVING until the data folder is restored from a "
                              "backup (evenhand restore); evenhand status lists them"));
  return absl::OkStatus();
}

std::vector<DamagedEvent> EventStore::Impl::Damaged() const {
  absl::MutexLock lock(&damaged_mu_);
  std::vector<DamagedEvent> out;
  for (const auto& [position, problem] : damaged_) out.push_back({position, problem});
  return out;
}

absl::Status EventStore::Impl::DamagedStatus(uint64_t position) const {
  absl::MutexLock lock(&damaged_mu_);
  auto it = damaged_.find(position);
  if (it == damaged_.end()) return absl::OkStatus();
  return absl::DataLossError(
      absl::StrCat("the event at position ", position, " is damaged: ", it->second,
                   ". Restore the data folder from a backup (evenhand restore)"));
}

absl::Status EventStore::Impl::ReadFailure(const rocksdb::Status& s, absl::string_view what) const {
  if (!s.IsCorruption()) return FromRocks(s, what);
  const absl::Status status =
      absl::Status(FromRocks(s, what).code(),
                   absl::StrCat(FromRocks(s, what).message(),
                                ". Restore the data folder from a backup (evenhand restore)"));
  return DamageFoundOnRead(s.ToString(), status);
}

absl::Status EventStore::Impl::MissingPositions(uint64_t from, uint64_t to) const {
  // The whole hole, wherever the read that met it began (one finding each).
  {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), events_cf_));
    if (from > 1) {
      it->SeekForPrev(BigEndian64(from - 1));
      from = it->Valid() ? ReadBigEndian64(it->key().ToStringView()) + 1 : 1;
    }
    it->Seek(BigEndian64(to + 1));
    if (it->Valid()) to = ReadBigEndian64(it->key().ToStringView()) - 1;
  }
  const std::string which =
      from == to ? absl::StrCat("position ", from) : absl::StrCat("positions ", from, "..", to);
  const absl::Status status = absl::DataLossError(absl::StrCat(
      "storage: ", which, " ", from == to ? "is" : "are",
      " missing from the log, although the log goes on to position ", LastPosition(),
      ": every position up to the last was acknowledged, so they were lost since (a write-ahead "
      "log file deleted or cut short while the server was stopped, and written into the table "
      "files by a later start?). Restore the data folder from a backup (evenhand restore)"));
  return DamageFoundOnRead(absl::StrCat(which, " missing"), status);
}

absl::Status EventStore::Impl::DamageFoundOnRead(std::string source,
                                                 const absl::Status& status) const {
  {
    absl::MutexLock lock(&damaged_mu_);
    if (damage_found_.size() >= kMaxDamageFound ||
        std::any_of(damage_found_.begin(), damage_found_.end(),
                    [&](const auto& d) { return d.first == source; })) {
      return status;
    }
    damage_found_.emplace_back(source, std::string(status.message()));
  }
  logging::Error(kComponent,
                 absl::StrCat("a read met damage in the log's files: ", status.message()));
  DamageFinding finding;
  finding.kind = DamageFinding::Kind::kRead;
  finding.found_at = absl::Now();
  finding.source = std::move(source);
  finding.error = std::string(status.message());
  KeepFinding(finding);
  return status;
}

std::vector<std::string> EventStore::Impl::DamageFound() const {
  absl::MutexLock lock(&damaged_mu_);
  std::vector<std::string> out;
  for (const auto& [rocks, error] : damage_found_) out.push_back(error);
  return out;
}

}  // namespace evenhand::storage
