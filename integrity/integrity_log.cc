#include "integrity/integrity_log.h"

#include <algorithm>
#include <filesystem>
#include <optional>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/big_endian.h"
#include "base/error_details.h"
#include "base/logging.h"
#include "base/status_macros.h"
#include "base/thread_name.h"
#include "base/time_util.h"
#include "integrity/bundle.h"
#include "integrity/canonical.h"
#include "integrity/integrity_log_internal.h"
#include "integrity/tree_keys.h"
#include "rocksdb/cache.h"
#include "rocksdb/db.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/slice_transform.h"
#include "rocksdb/table.h"
#include "rocksdb/write_batch.h"
#include "storage/rocksdb_support.h"

namespace evenhand::integrity {

using log_internal::Describe;
using log_internal::FromRocks;
using log_internal::Hex;
using log_internal::kComponent;
using tree_keys::ChainKey;
using tree_keys::kJournalKey;
using tree_keys::kJournalSignedKey;

std::string DefaultJournalPath(const std::string& data_dir) {
  std::string dir = data_dir;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir + ".checkpoints.jsonl";
}

IntegrityLog::IntegrityLog(storage::EventStore* store, IntegrityOptions options, SigningKey key)
    : store_(store),
      options_(std::move(options)),
      key_(std::move(key)),
      stream_map_(
          std::make_unique<StreamMapStore>(store->db(), store->ColumnFamily(kColumnFamily))) {}

absl::StatusOr<std::unique_ptr<IntegrityLog>> IntegrityLog::Open(storage::EventStore* store,
                                                                 IntegrityOptions options) {
  if (store->ColumnFamily(kColumnFamily) == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("the store was opened without the \"", kColumnFamily, "\" column family"));
  }
  if (options.journal_file.empty()) {
    return absl::InvalidArgumentError("integrity: no checkpoint journal file given");
  }
  // This log's signed checkpoints and no key: a new key would sign nothing
  // the journal's checkpoints verify against (a restore of a backup taken
  // without the key, say). Said so, and no key is made. The journal's own
  // checkpoints say so, or, if the journal is not where the configuration
  // says (restored elsewhere, or lost), the log's record that its journal
  // signed (found from outside: a start refused for the missing journal
  // had made a new key first, which the start the refusal suggested then
  // signed with). (A journal of another log, or
  // --start_new_checkpoint_journal, is the journal check's to answer,
  // after.)
  std::error_code ec;
  const std::optional<v1::SignedCheckpoint> signed_before =
      CheckpointJournal::PeekLatest(options.journal_file);
  const bool journal_signed =
      signed_before.has_value() && signed_before->checkpoint().log_id() == store->log_id();
  std::string ignored_value;
  const bool log_signed = store->db()
                              ->Get(rocksdb::ReadOptions(), store->ColumnFamily(kColumnFamily),
                                    kJournalSignedKey, &ignored_value)
                              .ok();
  const bool key_missing = !std::filesystem::exists(options.signing_key_file, ec) && !ec;
  if (!options.start_new_journal && key_missing && (journal_signed || log_signed)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the signing key ", options.signing_key_file, " is missing, but ",
        journal_signed ? absl::StrCat("the checkpoint journal ", options.journal_file,
                                      " holds checkpoints it signed")
                       : absl::StrCat("this log's checkpoints were signed by it (its journal, "
                                      "configured as ",
                                      options.journal_file, ", is not there either)"),
        ": put the log's key back there (owner-only)",
        journal_signed ? "" : " and its journal where audit.checkpointJournal says",
        " and start again; a backup taken with --exclude-signing-key "
        "(backup.excludeSigningKey) is restored without it, from wherever the council keeps it. "
        "If the key is lost, start once with --start_new_checkpoint_journal: a new key then "
        "signs a new journal, and the old one is kept aside"));
  }
  const bool replaces_a_key = key_missing && (journal_signed || log_signed);
  bool created = false;
  EH_ASSIGN_OR_RETURN(SigningKey key, SigningKey::LoadOrCreate(options.signing_key_file, &created));
  std::unique_ptr<IntegrityLog> log(new IntegrityLog(store, std::move(options), std::move(key)));
  log->key_created_ = created;
  log->key_replaced_ = created && replaces_a_key;
  if (!log->options_.stream_map_dir.empty() && !store->write_state().read_only) {
    rocksdb::Options o;
    o.create_if_missing = true;
    o.max_open_files = 256;
    log->map_env_ = storage::EnvOver(storage::OwnerOnlyFileSystem());
    o.env = log->map_env_.get();
    o.info_log = std::make_shared<storage::RocksLogger>("stream-map");
    o.write_buffer_size = 8 << 20;
    // A checkpoint's batch writes each depth's places in increasing order
    // (StreamMapStore's keys start "m" BE16(depth)): a hint per depth finds
    // the next place near the last. Hints need the one writer it has.
    o.memtable_insert_with_hint_prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(3));
    o.allow_concurrent_memtable_write = false;
    // Places read that were never written (beside an entry being split)
    // are answered by a filter, not a search of the memtable.
    o.memtable_whole_key_filtering = true;
    o.memtable_prefix_bloom_size_ratio = 0.1;
    // A checkpoint reads the siblings along every changed head's path, many
    // of them absent (the children of an entry being split): bloom filters
    // answer those without a block read, and a block cache of its own keeps
    // the rest off the disk.
    rocksdb::BlockBasedTableOptions table;
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    table.block_cache = rocksdb::NewLRUCache(32 << 20);
    o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    storage::ShareTheDiskWithTheLog(&o);
    // Written without a WAL (see UpdateStreamMap) and flushed on Stop; on a
    // nearly full disk it must not take the room the log needs.
    o.manifest_preallocation_size = 256 << 10;
    o.avoid_flush_during_recovery = true;
    // Made first (owner-only), so RocksDB does not log a missing folder.
    EH_RETURN_IF_ERROR(storage::MakeOwnerOnlyDir(log->options_.stream_map_dir));
    rocksdb::DB* db = nullptr;
    rocksdb::Status s = rocksdb::DB::Open(o, log->options_.stream_map_dir, &db);
    if (!s.ok()) {
      return absl::InternalError(absl::StrCat("integrity: cannot open the stream-head map in ",
                                              log->options_.stream_map_dir, ": ", s.ToString(),
                                              " (it can be deleted: it is rebuilt from the log)"));
    }
    absl::MutexLock sign_lock(&log->sign_mu_);
    log->map_db_.reset(db);
    log->stream_map_ = std::make_unique<StreamMapStore>(db, db->DefaultColumnFamily());
  }
  EH_RETURN_IF_ERROR(log->Restore());
  EH_RETURN_IF_ERROR(log->CatchUp());
  EH_RETURN_IF_ERROR(log->OpenJournal());
  {
    // A map ahead of the log (a data folder knowingly continued from an
    // earlier position) describes events that are gone: start it again.
    // The checkpoint thread builds it, at once and in steps if it is far
    // behind (a restore, a lost map).
    absl::MutexLock sign_lock(&log->sign_mu_);
    if (!store->write_state().read_only) {
      const uint64_t size = log->size();
      EH_ASSIGN_OR_RETURN(const uint64_t map_size, log->ResetStreamMapIfAhead(size));
      log->MapFarBehind(size);
      absl::MutexLock lock(&log->mu_);
      log->map_build_requested_ = map_size < size;
    }
  }
  store->SetCommitHook(log.get());
  log->checkpointer_ = std::thread([l = log.get()] {
    SetThreadName("eh-checkpoint");
    // Checkpoints fall on exact sizes however late they are signed, and the
    // map's writes go to a RocksDB of their own: this thread yields the CPU
    // to the write path (it holds the log's mutex only to hand over events).
    LowerThreadPriority(5);
    l->RunCheckpointer();
  });
  return log;
}

IntegrityLog::~IntegrityLog() { Stop(); }

void IntegrityLog::Abandon() {
  abandoned_ = true;
  Stop();
}

void IntegrityLog::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stop_) return;
    stop_ = true;
  }
  // The checkpointer starts only once Open has succeeded. A log that was
  // refused (its journal missing, the log shorter than or not an extension
  // of what was signed, a failed check) signs nothing on its way out: a
  // checkpoint here would vouch for the very log that was refused. So does
  // one abandoned by a server refused after this opened.
  const bool opened = checkpointer_.joinable();
  if (opened) checkpointer_.join();
  if (!opened || abandoned_ || journal_ == nullptr) return;
  uint64_t size;
  bool due;
  {
    absl::MutexLock lock(&mu_);
    size = range_.size();
    due = size > signed_size_;
  }
  if (due) {
    if (auto s = SignAndStore(size); absl::IsCancelled(s.status())) {
      logging::Warning(kComponent, s.status().message());
    } else if (!s.ok()) {
      logging::Error(kComponent, s.status().ToString());
    }
  }
  if (!store_->write_state().read_only) FlushStreamMap();
}

void IntegrityLog::FlushStreamMap() {
  // The map is written without a WAL: a clean stop keeps it, so the next
  // start need not rebuild it.
  absl::MutexLock sign_lock(&sign_mu_);
  rocksdb::Status s = map_db_ != nullptr ? map_db_->Flush(rocksdb::FlushOptions())
                                         : store_->db()->Flush(rocksdb::FlushOptions(),
                                                               store_->ColumnFamily(kColumnFamily));
  if (!s.ok()) {
    logging::Warning(kComponent, absl::StrCat("cannot flush the stream-head map (it will be "
                                              "rebuilt from the log on the next start): ",
                                              s.ToString()));
  }
}

absl::Status IntegrityLog::CatchUp() {
  const uint64_t last = store_->LastPosition();
  uint64_t from;
  {
    absl::MutexLock lock(&mu_);
    from = range_.size() + 1;
  }
  rocksdb::ColumnFamilyHandle* cf = store_->ColumnFamily(kColumnFamily);
  rocksdb::WriteOptions wo;
  wo.sync = true;
  // Once the tree holds the whole log, every later append goes through
  // Prepare(): the layout key says so, and the tree's size is the log's.
  const auto mark_done = [&](rocksdb::WriteBatch* batch) {
    batch->Put(cf, tree_keys::kLayoutKey, tree_keys::kTiledLayout);
    batch->Delete(cf, tree_keys::kCatchUpKey);
    layout_done_ = true;
  };
  if (from > last) {
    if (layout_done_ || store_->write_state().read_only) return absl::OkStatus();
    rocksdb::WriteBatch batch;
    mark_done(&batch);
    return FromRocks(store_->db()->Write(wo, &batch), "cannot record the tree's layout");
  }
  if (store_->write_state().read_only) {
    return absl::FailedPreconditionError(
        absl::StrCat("integrity: the tree ends at position ", from - 1, " but the log at ", last,
                     ", and the log is open read-only, so the missing part cannot be hashed"));
  }
  logging::Info(kComponent, absl::StrCat("hashing positions ", from, "..", last,
                                         " into the Merkle tree and hash chain (once)"));
  std::vector<storage::EventPtr> chunk;
  auto flush = [&](bool final) -> absl::Status {
    if (chunk.empty() && !final) return absl::OkStatus();
    rocksdb::WriteBatch batch;
    if (!chunk.empty()) EH_RETURN_IF_ERROR(Prepare(chunk, &batch));
    if (final) {
      mark_done(&batch);
    } else {
      batch.Put(cf, tree_keys::kCatchUpKey, BigEndian64(chunk.back()->position()));
    }
    // Before the hook is installed and the server listens: no other writer.
    EH_RETURN_IF_ERROR(FromRocks(store_->db()->Write(wo, &batch), "cannot write tree tiles"));
    if (!chunk.empty()) Committed();
    chunk.clear();
    return absl::OkStatus();
  };
  absl::Status inner;
  EH_RETURN_IF_ERROR(store_->ReadAll(from, storage::Direction::kForwards, 0, storage::ReadFilter(),
                                     [&](const storage::EventPtr& e) {
                                       chunk.push_back(e);
                                       if (chunk.size() >= 10000) inner = flush(false);
                                       return inner.ok();
                                     }));
  EH_RETURN_IF_ERROR(inner);
  return flush(true);
}

absl::Status IntegrityLog::OpenJournal() {
  rocksdb::DB* db = store_->db();
  rocksdb::ColumnFamilyHandle* cf = store_->ColumnFamily(kColumnFamily);
  const bool read_only = store_->write_state().read_only;
  EH_ASSIGN_OR_RETURN(journal_, CheckpointJournal::Open(options_.journal_file, key_.public_key(),
                                                        store_->log_id()));
  std::string started;
  rocksdb::Status s = db->Get(rocksdb::ReadOptions(), cf, kJournalKey, &started);
  if (!s.ok() && !s.IsNotFound()) return ReadFailure(s, "cannot read the journal's record");
  std::string ignored_value;
  rocksdb::Status had_signed =
      db->Get(rocksdb::ReadOptions(), cf, kJournalSignedKey, &ignored_value);
  if (!had_signed.ok() && !had_signed.IsNotFound()) {
    return ReadFailure(had_signed, "cannot read the journal's record");
  }
  // A journal starts again (a new one, as asked): it has signed nothing.
  auto forget_signed = [&]() -> absl::Status {
    absl::MutexLock sign_lock(&sign_mu_);
    journal_signed_recorded_ = false;
    if (read_only) return absl::OkStatus();
    return FromRocks(db->Delete(rocksdb::WriteOptions(), cf, kJournalSignedKey),
                     "cannot record the new journal");
  };
  {
    absl::MutexLock sign_lock(&sign_mu_);
    journal_signed_recorded_ = had_signed.ok();
  }
  if (!journal_->created() && had_signed.ok() && !journal_->Latest()) {
    // The file is there, but what it held is gone: an emptied journal is a
    // deleted one (an outside test emptied it, and the start said nothing).
    const std::string problem = absl::StrCat(
        "the checkpoint journal ", options_.journal_file,
        " holds no checkpoint, but this log has signed checkpoints into it (",
        s.ok() ? started : std::string("a journal"),
        "): it was emptied or replaced by an empty file. Restore the journal from a backup (it "
        "is only ever appended to) or point audit.checkpointJournal at it");
    if (!options_.start_new_journal) {
      journal_.reset();
      return absl::DataLossError(absl::StrCat(
          problem, "; or start once with --start_new_checkpoint_journal to begin a new one"));
    }
    logging::Error(kComponent, absl::StrCat(problem, ". Starting a new journal, as asked"));
    EH_RETURN_IF_ERROR(forget_signed());
  }
  if (journal_->created() && s.ok()) {
    // The log had a journal, and it is gone.
    const std::string problem = absl::StrCat(
        "the checkpoint journal ", options_.journal_file,
        " is missing, but this log has kept one (", started,
        ") since it was started: the journal was deleted or moved, or the data folder "
        "was copied without it. Restore the journal from a backup (it is only ever appended to) "
        "or point audit.checkpointJournal at it");
    if (!options_.start_new_journal) {
      // The empty file Open just made is not the journal: left behind, the
      // next start would take it for this log's and serve.
      journal_.reset();
      std::error_code ignored;
      std::filesystem::remove(options_.journal_file, ignored);
      return absl::DataLossError(absl::StrCat(
          problem, "; or start once with --start_new_checkpoint_journal to begin a new one"));
    }
    logging::Error(kComponent, absl::StrCat(problem, ". Starting a new journal, as asked"));
    EH_RETURN_IF_ERROR(forget_signed());
  }
  if (journal_->created() || !s.ok()) {
    // A log from before the journal kept its checkpoints in RocksDB: they
    // start the journal, in order.
    size_t imported = 0;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), cf));
    for (it->Seek("k"); it->Valid() && it->key().starts_with("k"); it->Next()) {
      v1::SignedCheckpoint c;
      if (!c.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
        return absl::DataLossError("integrity: a checkpoint stored before the journal is damaged");
      }
      if (journal_->Latest() &&
          journal_->Latest()->checkpoint().tree_size() >= c.checkpoint().tree_size()) {
        continue;
      }
      EH_RETURN_IF_ERROR(journal_->Append(c));
      ++imported;
    }
    EH_RETURN_IF_ERROR(ReadFailure(it->status(), "cannot read the checkpoints stored before"));
    if (imported > 0) {
      logging::Info(kComponent, absl::StrCat("started the checkpoint journal ",
                                             options_.journal_file, " with the ", imported,
                                             " checkpoints this log signed before it had one"));
    }
    if (!read_only) {
      rocksdb::WriteOptions wo;
      wo.sync = true;
      EH_RETURN_IF_ERROR(
          FromRocks(db->Put(wo, cf, kJournalKey,
                            absl::StrCat(options_.journal_file, ", started ",
                                         absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", options_.clock(),
                                                          absl::UTCTimeZone()))),
                    "cannot record the journal"));
    }
  }

  absl::Status checked = CheckAgainstJournal();
  if (!checked.ok() && absl::IsDataLoss(checked) && options_.start_new_journal) {
    EH_ASSIGN_OR_RETURN(std::string aside, journal_->Supersede());
    EH_RETURN_IF_ERROR(forget_signed());
    logging::Error(kComponent,
                   absl::StrCat(checked.message(),
                                ". Continuing as asked: the old journal is kept "
                                "as ",
                                aside,
                                " and a new one starts now. Auditors holding the "
                                "old checkpoints will find that this log does not extend them"));
    checked = absl::OkStatus();
  }
  EH_RETURN_IF_ERROR(checked);

  std::optional<v1::SignedCheckpoint> latest = journal_->Latest();
  uint64_t signed_size = latest ? latest->checkpoint().tree_size() : 0;
  const uint64_t size = this->size();
  if (options_.startup_check == StartupCheck::kFull) {
    logging::Info(kComponent, absl::StrCat("verifying all ", size, " events and ", journal_->size(),
                                           " signed checkpoints"));
    EH_RETURN_IF_ERROR(VerifyEvents(0, size, /*every_checkpoint=*/true));
  } else {
    EH_RETURN_IF_ERROR(VerifyEvents(signed_size, size, /*every_checkpoint=*/false));
  }
  absl::MutexLock lock(&mu_);
  signed_size_ = signed_size;
  signed_at_ = latest ? FromProtoTime(latest->checkpoint().timestamp()) : absl::InfinitePast();
  return absl::OkStatus();
}

absl::Status IntegrityLog::CheckAgainstJournal() {
  std::optional<v1::SignedCheckpoint> latest = journal_->Latest();
  if (!latest) return absl::OkStatus();
  const uint64_t size = this->size();
  const uint64_t signed_size = latest->checkpoint().tree_size();
  // The newest checkpoint whose tree the log still has, and whether it
  // agrees; then, if not, the newest that does.
  auto differing = [&](uint64_t up_to) -> absl::StatusOr<std::string> {
    EH_ASSIGN_OR_RETURN(std::optional<v1::SignedCheckpoint> below, journal_->LatestAtMost(up_to));
    if (!below) return std::string();
    EH_ASSIGN_OR_RETURN(std::string root, Root(below->checkpoint().tree_size()));
    if (root == below->checkpoint().root_hash()) return std::string();
    // Walk back to the newest checkpoint the log agrees with.
    std::vector<uint64_t> sizes = journal_->TreeSizes();
    uint64_t agrees = 0;
    for (auto it = sizes.rbegin(); it != sizes.rend(); ++it) {
      if (*it >= below->checkpoint().tree_size()) continue;
      EH_ASSIGN_OR_RETURN(v1::SignedCheckpoint c, journal_->Find(*it));
      EH_ASSIGN_OR_RETURN(std::string r, Root(*it));
      if (r == c.checkpoint().root_hash()) {
        agrees = *it;
        break;
      }
    }
    return absl::StrCat("the events at positions ", agrees + 1, "..",
                        below->checkpoint().tree_size(), " are not the ones ", Describe(*below),
                        " covers (its root is ", Hex(below->checkpoint().root_hash()),
                        "; the log's tree of that size has root ", Hex(root),
                        "); the log agrees with what was signed up to position ", agrees);
  };
  if (size < signed_size) {
    EH_ASSIGN_OR_RETURN(std::string also, differing(size));
    return absl::DataLossError(absl::StrCat(
        "the log in this data folder ends at position ", size, ", but ", Describe(*latest),
        " covers ", signed_size, " events: positions ", size + 1, "..", signed_size,
        ", which this server acknowledged and signed, are missing",
        also.empty() ? "" : absl::StrCat("; moreover ", also),
        ". The data folder was rolled back to an older copy, or lost writes it had made "
        "durable (a damaged or deleted write-ahead log). Refusing to serve or sign a shorter "
        "log: restore the data folder from a backup taken at or after that checkpoint "
        "(evenhand restore). To knowingly continue from position ",
        size, ", start once with --start_new_checkpoint_journal (the journal ", journal_->path(),
        " is kept)"));
  }
  EH_ASSIGN_OR_RETURN(std::string fork, differing(signed_size));
  if (!fork.empty()) {
    return absl::DataLossError(absl::StrCat(
        "the log in this data folder is not the one that was signed: ", fork,
        ". Refusing to serve or sign it: restore the data folder from a backup (evenhand "
        "restore), and keep this one for investigation. To knowingly continue with it, start "
        "once with --start_new_checkpoint_journal"));
  }
  return absl::OkStatus();
}

absl::Status IntegrityLog::VerifyEvents(uint64_t from, uint64_t to, bool every_checkpoint) {
  // From the stored chain hash at or before `from` (the chain is stored
  // every kChainEvery positions), so that every event the chain is carried
  // over is compared with its leaf: the tree's right edge there, from the
  // stored tiles (a signed checkpoint has just vouched for them).
  from -= from % kChainEvery;
  if (from >= to) return absl::OkStatus();
  ReadCache cache;
  std::vector<std::string> peaks;
  for (auto [level, index] : CompactRange::PeakNodes(from)) {
    EH_ASSIGN_OR_RETURN(std::string node, ReadNode(level, index, &cache));
    peaks.push_back(std::move(node));
  }
  EH_ASSIGN_OR_RETURN(CompactRange range, CompactRange::FromPeaks(from, std::move(peaks)));
  EH_ASSIGN_OR_RETURN(std::string chain, StoredChain(from));
  std::vector<uint64_t> checkpoint_sizes;
  if (every_checkpoint) checkpoint_sizes = journal_->TreeSizes();
  auto next_checkpoint = std::upper_bound(checkpoint_sizes.begin(), checkpoint_sizes.end(), from);
  size_t damaged = 0, chain_damaged = 0;
  // False after a damaged event, until the next stored chain hash.
  bool chain_known = true;
  absl::Status inner;
  // `e` is null for an event an earlier run found damaged (the store's
  // record of damage found), which the store no longer hands out.
  const auto check = [&](uint64_t p, const storage::EventPtr* e) {
    std::string leaf;
    if (e != nullptr) {
      absl::StatusOr<std::string> canonical = CanonicalRecord(**e);
      if (!canonical.ok()) {
        inner = canonical.status();
        return false;
      }
      leaf = integrity::LeafHash(*canonical);
      chain = ChainHash(chain, *canonical);
    }
    absl::StatusOr<std::string> stored_leaf = ReadNode(0, p - 1, &cache);
    if (!stored_leaf.ok()) {
      inner = stored_leaf.status();
      return false;
    }
    if (e == nullptr) {
      ++damaged;  // already marked, and listed by the store
      range.Append(*stored_leaf, [](int, uint64_t, const std::string&) {});
      chain_known = false;
    } else if (leaf != *stored_leaf) {
      ++damaged;
      const std::string problem =
          "its stored bytes no longer match the leaf hash the Merkle tree recorded when it "
          "was appended (found by the start-up check)";
      store_->MarkDamaged(p, problem);
      AddProblem(absl::StrCat("the event at position ", p, " is damaged: ", problem));
      // The tree is checked with the leaf it recorded.
      range.Append(*stored_leaf, [](int, uint64_t, const std::string&) {});
      chain_known = false;
    } else {
      range.Append(leaf, [](int, uint64_t, const std::string&) {});
    }
    if (p % kChainEvery == 0) {
      absl::StatusOr<std::string> stored_chain = ChainFrom(p);
      if (!stored_chain.ok()) {
        inner = stored_chain.status();
        return false;
      }
      if (chain_known && chain != *stored_chain) {
        ++chain_damaged;
        AddProblem(absl::StrCat("the stored chain hash after position ", p,
                                " does not follow from the events"));
      }
      chain = *std::move(stored_chain);
      chain_known = true;
    }
    if (next_checkpoint != checkpoint_sizes.end() && *next_checkpoint == p) {
      absl::StatusOr<v1::SignedCheckpoint> c = journal_->Find(p);
      if (!c.ok()) {
        inner = c.status();
        return false;
      }
      if (range.Root() != c->checkpoint().root_hash()) {
        inner = absl::DataLossError(absl::StrCat(
            "the events up to position ", p, " do not hash to the root of ", Describe(*c),
            ": the log was changed after it was signed. Restore the data folder from a "
            "backup (evenhand restore)"));
        return false;
      }
      ++next_checkpoint;
    }
    return true;
  };
  for (uint64_t next = from + 1; next <= to && inner.ok();) {
    absl::Status read = store_->ReadAll(next, storage::Direction::kForwards, to - next + 1,
                                        storage::ReadFilter(), [&](const storage::EventPtr& e) {
                                          next = e->position() + 1;
                                          return check(e->position(), &e);
                                        });
    if (read.ok()) break;
    if (!absl::IsDataLoss(read) || store_->CheckNotDamaged(next).ok()) return read;
    if (!check(next, nullptr)) break;
    ++next;
  }
  EH_RETURN_IF_ERROR(inner);
  std::string stored_root, stored_chain;
  {
    absl::MutexLock lock(&mu_);
    stored_root = range_.Root();
    stored_chain = chain_head_;
  }
  if (range.size() == to && to % kChainEvery != 0 && chain_known && chain != stored_chain) {
    ++chain_damaged;
    AddProblem(absl::StrCat("the stored chain hash after position ", to,
                            " (its commit's run) does not follow from the events"));
  }
  if (range.size() == to && range.Root() != stored_root && damaged == 0) {
    AddProblem(absl::StrCat("the stored Merkle tree's right edge does not match the events ",
                            from + 1, "..", to));
  }
  if (damaged > 0 || chain_damaged > 0) {
    logging::Error(kComponent,
                   absl::StrCat("the start-up check of positions ", from + 1, "..", to, " found ",
                                damaged, " damaged events and ", chain_damaged,
                                " damaged chain hashes; reads of damaged events fail with "
                                "DATA_LOSS and health is NOT_SERVING"));
  } else {
    logging::Info(kComponent, absl::StrCat("checked positions ", from + 1, "..", to,
                                           " against the tree and the chain: all match"));
  }
  return absl::OkStatus();
}

absl::Status IntegrityLog::Prepare(const std::vector<storage::EventPtr>& events,
                                   rocksdb::WriteBatch* batch) {
  // Built on the last prepared group, which may not be durable yet; the
  // tail only moves once the whole group is hashed (a failed group's batch
  // is dropped by the store). A group writes its leaves as one run, with
  // the chain hash after them (so every leaf, and the chain head, is stored
  // from its commit on); a tile when its 256th hash arrives, which takes
  // over from the runs it holds; and a chain hash every kChainEvery
  // positions.
  CompactRange range = tail_range_;
  TileEdge edge = tail_edge_;
  std::string chain = tail_chain_;
  rocksdb::ColumnFamilyHandle* cf = store_->ColumnFamily(kColumnFamily);
  std::string run;  // the leaves since run_first, all in one level-0 tile
  uint64_t run_first = 0;
  const auto write_tile = [&](TileId tile, std::string bytes) {
    batch->Put(cf, tree_keys::TileKey(tile.level, tile.index), bytes);
    // The tile now holds the leaves of its runs, which are deleted later
    // (DropReplacedRuns), off the append path.
    if (tile.level == 0) run.clear();
  };
  for (const storage::EventPtr& e : events) {
    if (e->position() != range.size() + 1) {
      return absl::InternalError(absl::StrCat("integrity: event at position ", e->position(),
                                              " but the tree has ", range.size(),
                                              " leaves; nothing was written"));
    }
    EH_ASSIGN_OR_RETURN(std::string canonical, CanonicalRecord(*e));
    const std::string leaf = integrity::LeafHash(canonical);
    if (run.empty()) run_first = e->position();
    run += leaf;
    range.Append(leaf, [&](int level, uint64_t index, const std::string& hash) {
      edge.Add(level, index, hash, write_tile);
    });
    chain = ChainHash(chain, canonical);
    if (e->position() % kChainEvery == 0) batch->Put(cf, ChainKey(e->position()), chain);
  }
  if (!run.empty()) batch->Put(cf, tree_keys::LeafRunKey(run_first), run + chain);
  tail_range_ = range;
  tail_edge_ = edge;
  tail_chain_ = chain;
  absl::MutexLock lock(&mu_);
  prepared_.push_back({std::move(range), std::move(edge), std::move(chain), events});
  return absl::OkStatus();
}

void IntegrityLog::Committed() {
  absl::MutexLock lock(&mu_);
  Prepared& group = prepared_.front();
  range_ = std::move(group.range);
  edge_ = std::move(group.edge);
  chain_head_ = std::move(group.chain);
  // Kept for the stream-head map's next update, within a bound (past it,
  // the map reads them back from the store).
  if (unmapped_.size() + group.events.size() <= kMaxUnmapped) {
    for (storage::EventPtr& e : group.events) unmapped_.push_back(std::move(e));
  } else {
    unmapped_.clear();
  }
  prepared_.pop_front();
}

void IntegrityLog::Aborted() {
  absl::MutexLock lock(&mu_);
  prepared_.pop_front();
}

void IntegrityLog::Rewind() {
  absl::MutexLock lock(&mu_);
  tail_range_ = range_;
  tail_edge_ = edge_;
  tail_chain_ = chain_head_;
}

void IntegrityLog::AddProblem(std::string problem) const {
  absl::MutexLock lock(&mu_);
  if (std::find(problems_.begin(), problems_.end(), problem) == problems_.end()) {
    problems_.push_back(std::move(problem));
  }
}

absl::Status IntegrityLog::ReadFailure(const rocksdb::Status& s, absl::string_view what) const {
  // The store keeps damage found in the database it holds (problems()
  // lists it), in memory and for the next start.
  if (s.IsCorruption()) return store_->ReadFailure(s, absl::StrCat("integrity: ", what));
  return FromRocks(s, what);
}

std::vector<std::string> IntegrityLog::problems() const {
  std::vector<std::string> out;
  {
    absl::MutexLock lock(&mu_);
    out = problems_;
  }
  // And damage RocksDB's checksums found on reads of the log: the store
  // knows of it (read outside mu_: it takes a lock of its own).
  for (std::string& p : store_->damage_found()) out.push_back(std::move(p));
  return out;
}

absl::StatusOr<std::string> IntegrityLog::SignReportStatement(
    absl::string_view statement) const {
  if (!absl::StartsWith(statement, "evenhand report v1\n")) {
    return absl::InvalidArgumentError(
        "only report statements (\"evenhand report v1\") are signed this way");
  }
  return key_.Sign(statement);
}

absl::StatusOr<std::string> IntegrityLog::SignBackupStatement(absl::string_view statement) const {
  if (!absl::StartsWith(statement, "evenhand backup v1\n") &&
      !absl::StartsWith(statement, "evenhand backup seal v1\n")) {
    return absl::InvalidArgumentError(
        "only backup statements and seals (\"evenhand backup v1\", \"evenhand backup seal "
        "v1\") are signed this way");
  }
  return key_.Sign(statement);
}

}  // namespace evenhand::integrity
