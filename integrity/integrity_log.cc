#include "integrity/integrity_log.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "base/big_endian.h"
#include "base/logging.h"
#include "base/status_macros.h"
#include "base/thread_name.h"
#include "base/time_util.h"
#include "integrity/bundle.h"
#include "integrity/canonical.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace evenhand::integrity {
namespace {

constexpr char kSizeKey[] = "s";

std::string NodeKey(int level, uint64_t index) {
  std::string k = "n";
  k.push_back(static_cast<char>(level));
  PutBigEndian64(&k, index);
  return k;
}

std::string ChainKey(uint64_t position) {
  std::string k = "c";
  PutBigEndian64(&k, position);
  return k;
}

std::string CheckpointKey(uint64_t size) {
  std::string k = "k";
  PutBigEndian64(&k, size);
  return k;
}

absl::Status FromRocks(const rocksdb::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("integrity: ", what, ": ", s.ToString()));
}

}  // namespace

IntegrityLog::IntegrityLog(storage::EventStore* store, IntegrityOptions options, SigningKey key)
    : store_(store), options_(std::move(options)), key_(std::move(key)) {}

absl::StatusOr<std::unique_ptr<IntegrityLog>> IntegrityLog::Open(storage::EventStore* store,
                                                                 IntegrityOptions options) {
  if (store->ColumnFamily(kColumnFamily) == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("the store was opened without the \"", kColumnFamily, "\" column family"));
  }
  bool created = false;
  EH_ASSIGN_OR_RETURN(SigningKey key, SigningKey::LoadOrCreate(options.signing_key_file, &created));
  std::unique_ptr<IntegrityLog> log(new IntegrityLog(store, std::move(options), std::move(key)));
  log->key_created_ = created;
  EH_RETURN_IF_ERROR(log->Restore());
  EH_RETURN_IF_ERROR(log->CatchUp());
  store->SetCommitHook(log.get());
  log->checkpointer_ = std::thread([l = log.get()] {
    SetThreadName("eh-checkpoint");
    l->RunCheckpointer();
  });
  return log;
}

IntegrityLog::~IntegrityLog() { Stop(); }

void IntegrityLog::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stop_) return;
    stop_ = true;
  }
  if (checkpointer_.joinable()) checkpointer_.join();
  uint64_t size;
  std::string root;
  {
    absl::MutexLock lock(&mu_);
    if (range_.size() <= signed_size_) return;
    size = range_.size();
    root = range_.Root();
  }
  if (auto s = SignAndStore(size, std::move(root)); !s.ok()) {
    logging::Error("integrity", s.status().ToString());
  }
}

absl::Status IntegrityLog::Restore() {
  rocksdb::DB* db = store_->db();
  rocksdb::ColumnFamilyHandle* cf = store_->ColumnFamily(kColumnFamily);
  std::string value;
  uint64_t size = 0;
  rocksdb::Status s = db->Get(rocksdb::ReadOptions(), cf, kSizeKey, &value);
  if (s.ok()) {
    size = ReadBigEndian64(value);
  } else if (!s.IsNotFound()) {
    return FromRocks(s, "cannot read the tree size");
  }
  if (size > store_->LastPosition()) {
    return absl::DataLossError(absl::StrCat("integrity: the tree has ", size,
                                            " leaves but the log ends at position ",
                                            store_->LastPosition()));
  }
  // The right edge: one stored node per set bit of the size.
  std::vector<std::string> peaks;
  for (auto [level, index] : CompactRange::PeakNodes(size)) {
    EH_ASSIGN_OR_RETURN(std::string node, ReadNode(level, index));
    peaks.push_back(std::move(node));
  }
  EH_ASSIGN_OR_RETURN(CompactRange range, CompactRange::FromPeaks(size, std::move(peaks)));
  std::string chain = GenesisChainHash();
  if (size > 0) {
    EH_ASSIGN_OR_RETURN(chain, ChainHashAt(size));
  }
  // The latest checkpoint, to know when the next is due.
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), cf));
  it->SeekForPrev(CheckpointKey(UINT64_MAX));
  absl::MutexLock lock(&mu_);
  if (it->Valid() && it->key().starts_with("k")) {
    v1::SignedCheckpoint latest;
    if (latest.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      signed_size_ = latest.checkpoint().tree_size();
      signed_at_ = absl::FromUnixSeconds(latest.checkpoint().timestamp().seconds());
    }
  }
  tail_range_ = range;
  tail_chain_ = chain;
  range_ = std::move(range);
  chain_head_ = std::move(chain);
  return absl::OkStatus();
}

absl::Status IntegrityLog::CatchUp() {
  const uint64_t last = store_->LastPosition();
  uint64_t from;
  {
    absl::MutexLock lock(&mu_);
    from = range_.size() + 1;
  }
  if (from > last) return absl::OkStatus();
  logging::Info("integrity", absl::StrCat("hashing positions ", from, "..", last,
                                          " into the Merkle tree and hash chain (once)"));
  std::vector<storage::EventPtr> chunk;
  auto flush = [&]() -> absl::Status {
    if (chunk.empty()) return absl::OkStatus();
    rocksdb::WriteBatch batch;
    EH_RETURN_IF_ERROR(Prepare(chunk, &batch));
    rocksdb::WriteOptions wo;
    wo.sync = true;
    EH_RETURN_IF_ERROR(FromRocks(store_->db()->Write(wo, &batch), "cannot write tree nodes"));
    Committed();
    chunk.clear();
    return absl::OkStatus();
  };
  absl::Status inner;
  EH_RETURN_IF_ERROR(store_->ReadAll(from, storage::Direction::kForwards, 0, storage::ReadFilter(),
                                     [&](const storage::EventPtr& e) {
                                       chunk.push_back(e);
                                       if (chunk.size() >= 10000) inner = flush();
                                       return inner.ok();
                                     }));
  EH_RETURN_IF_ERROR(inner);
  return flush();
}

absl::Status IntegrityLog::Prepare(const std::vector<storage::EventPtr>& events,
                                   rocksdb::WriteBatch* batch) {
  // Built on the last prepared group, which may not be durable yet; the
  // tail only moves once the whole group is hashed (a failed group's batch
  // is dropped by the store).
  CompactRange range = tail_range_;
  std::string chain = tail_chain_;
  rocksdb::ColumnFamilyHandle* cf = store_->ColumnFamily(kColumnFamily);
  for (const storage::EventPtr& e : events) {
    if (e->position() != range.size() + 1) {
      return absl::InternalError(absl::StrCat("integrity: event at position ", e->position(),
                                              " but the tree has ", range.size(),
                                              " leaves; nothing was written"));
    }
    EH_ASSIGN_OR_RETURN(std::string canonical, CanonicalRecord(*e));
    range.Append(integrity::LeafHash(canonical),
                 [&](int level, uint64_t index, const std::string& hash) {
                   batch->Put(cf, NodeKey(level, index), hash);
                 });
    chain = ChainHash(chain, canonical);
    batch->Put(cf, ChainKey(e->position()), chain);
  }
  batch->Put(cf, kSizeKey, BigEndian64(range.size()));
  tail_range_ = range;
  tail_chain_ = chain;
  absl::MutexLock lock(&mu_);
  prepared_.push_back({std::move(range), std::move(chain)});
  return absl::OkStatus();
}

void IntegrityLog::Committed() {
  absl::MutexLock lock(&mu_);
  range_ = std::move(prepared_.front().first);
  chain_head_ = std::move(prepared_.front().second);
  prepared_.pop_front();
}

void IntegrityLog::Aborted() {
  // The store stops taking appends after this, so the tail is never built
  // on again; the committed tree stays as it was.
  absl::MutexLock lock(&mu_);
  prepared_.pop_front();
}

uint64_t IntegrityLog::size() const {
  absl::MutexLock lock(&mu_);
  return range_.size();
}

absl::StatusOr<std::string> IntegrityLog::ReadNode(int level, uint64_t index) const {
  std::string value;
  rocksdb::Status s = store_->db()->Get(rocksdb::ReadOptions(),
                                        store_->ColumnFamily(kColumnFamily),
                                        NodeKey(level, index), &value);
  if (s.IsNotFound()) {
    return absl::DataLossError(
        absl::StrCat("integrity: tree node (", level, ", ", index, ") is missing"));
  }
  EH_RETURN_IF_ERROR(FromRocks(s, "cannot read a tree node"));
  return value;
}

absl::StatusOr<std::string> IntegrityLog::Root(uint64_t tree_size) const {
  {
    absl::MutexLock lock(&mu_);
    if (tree_size > range_.size()) {
      return absl::OutOfRangeError(absl::StrCat("tree_size ", tree_size,
                                                " is beyond the log (", range_.size(), ")"));
    }
    if (tree_size == range_.size()) return range_.Root();
  }
  return RangeHash(0, tree_size, [this](int l, uint64_t i) { return ReadNode(l, i); });
}

absl::StatusOr<std::string> IntegrityLog::LeafHash(uint64_t position) const {
  if (position == 0 || position > size()) {
    return absl::OutOfRangeError(absl::StrCat("no event at position ", position));
  }
  return ReadNode(0, position - 1);
}

absl::StatusOr<std::string> IntegrityLog::ChainHashAt(uint64_t position) const {
  if (position == 0) return GenesisChainHash();
  std::string value;
  rocksdb::Status s = store_->db()->Get(rocksdb::ReadOptions(),
                                        store_->ColumnFamily(kColumnFamily), ChainKey(position),
                                        &value);
  if (s.IsNotFound()) {
    return absl::OutOfRangeError(absl::StrCat("no chain hash at position ", position));
  }
  EH_RETURN_IF_ERROR(FromRocks(s, "cannot read a chain hash"));
  return value;
}

absl::StatusOr<v1::InclusionProof> IntegrityLog::InclusionProof(uint64_t position,
                                                                uint64_t tree_size) const {
  const uint64_t current = size();
  if (tree_size == 0) tree_size = current;
  if (tree_size > current) {
    return absl::OutOfRangeError(
        absl::StrCat("tree_size ", tree_size, " is beyond the log (", current, ")"));
  }
  if (position == 0 || position > tree_size) {
    return absl::OutOfRangeError(
        absl::StrCat("position ", position, " is not in the tree of ", tree_size));
  }
  v1::InclusionProof proof;
  proof.set_position(position);
  proof.set_leaf_index(position - 1);
  proof.set_tree_size(tree_size);
  EH_ASSIGN_OR_RETURN(std::string leaf, ReadNode(0, position - 1));
  proof.set_leaf_hash(std::move(leaf));
  EH_ASSIGN_OR_RETURN(std::vector<std::string> path,
                      InclusionPath(position - 1, tree_size,
                                    [this](int l, uint64_t i) { return ReadNode(l, i); }));
  for (auto& h : path) proof.add_hashes(std::move(h));
  return proof;
}

absl::StatusOr<v1::ConsistencyProof> IntegrityLog::ConsistencyProof(uint64_t from_size,
                                                                    uint64_t to_size) const {
  const uint64_t current = size();
  if (to_size == 0) to_size = current;
  if (to_size > current) {
    return absl::OutOfRangeError(
        absl::StrCat("to_size ", to_size, " is beyond the log (", current, ")"));
  }
  if (from_size > to_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("from_size ", from_size, " is larger than to_size ", to_size));
  }
  v1::ConsistencyProof proof;
  proof.set_from_size(from_size);
  proof.set_to_size(to_size);
  EH_ASSIGN_OR_RETURN(std::vector<std::string> path,
                      ConsistencyPath(from_size, to_size,
                                      [this](int l, uint64_t i) { return ReadNode(l, i); }));
  for (auto& h : path) proof.add_hashes(std::move(h));
  return proof;
}

absl::StatusOr<v1::SignedCheckpoint> IntegrityLog::Checkpoint(uint64_t tree_size) const {
  rocksdb::DB* db = store_->db();
  rocksdb::ColumnFamilyHandle* cf = store_->ColumnFamily(kColumnFamily);
  std::string value;
  if (tree_size == 0) {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), cf));
    it->SeekForPrev(CheckpointKey(UINT64_MAX));
    if (!it->Valid() || !it->key().starts_with("k")) {
      return absl::NotFoundError("no checkpoint has been signed yet");
    }
    value = it->value().ToString();
  } else {
    rocksdb::Status s = db->Get(rocksdb::ReadOptions(), cf, CheckpointKey(tree_size), &value);
    if (s.IsNotFound()) {
      return absl::NotFoundError(absl::StrCat("no checkpoint was signed at tree size ", tree_size));
    }
    EH_RETURN_IF_ERROR(FromRocks(s, "cannot read a checkpoint"));
  }
  v1::SignedCheckpoint out;
  if (!out.ParseFromString(value)) return absl::DataLossError("a stored checkpoint is damaged");
  return out;
}

absl::StatusOr<std::vector<v1::SignedCheckpoint>> IntegrityLog::Checkpoints() const {
  std::vector<v1::SignedCheckpoint> out;
  std::unique_ptr<rocksdb::Iterator> it(store_->db()->NewIterator(
      rocksdb::ReadOptions(), store_->ColumnFamily(kColumnFamily)));
  for (it->Seek("k"); it->Valid() && it->key().starts_with("k"); it->Next()) {
    v1::SignedCheckpoint c;
    if (!c.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError("a stored checkpoint is damaged");
    }
    out.push_back(std::move(c));
  }
  EH_RETURN_IF_ERROR(FromRocks(it->status(), "cannot list checkpoints"));
  return out;
}

absl::StatusOr<v1::SignedCheckpoint> IntegrityLog::SignAndStore(uint64_t tree_size,
                                                                 std::string root) {
  // Signing and the synced write happen outside mu_, so appends (which take
  // mu_ to publish each group) never wait for this fsync.
  v1::Checkpoint c;
  c.set_log_id(store_->log_id());
  c.set_tree_size(tree_size);
  c.set_root_hash(std::move(root));
  const absl::Time now = options_.clock();
  *c.mutable_timestamp() = ToProtoTime(now);
  EH_ASSIGN_OR_RETURN(v1::SignedCheckpoint signed_checkpoint, SignCheckpoint(key_, c));
  rocksdb::WriteOptions wo;
  wo.sync = true;  // auditors keep checkpoints; the log must too
  EH_RETURN_IF_ERROR(FromRocks(
      store_->db()->Put(wo, store_->ColumnFamily(kColumnFamily), CheckpointKey(tree_size),
                        signed_checkpoint.SerializeAsString()),
      "cannot store a checkpoint"));
  absl::MutexLock lock(&mu_);
  if (tree_size >= signed_size_) {
    signed_size_ = tree_size;
    signed_at_ = now;
  }
  return signed_checkpoint;
}

absl::StatusOr<v1::SignedCheckpoint> IntegrityLog::CheckpointNow() {
  uint64_t size;
  std::string root;
  {
    absl::MutexLock lock(&mu_);
    const bool due =
        range_.size() > signed_size_ || (range_.size() == 0 && signed_at_ == absl::InfinitePast());
    if (!due) size = UINT64_MAX;
    else {
      size = range_.size();
      root = range_.Root();
    }
  }
  if (size == UINT64_MAX) return Checkpoint(0);
  return SignAndStore(size, std::move(root));
}

void IntegrityLog::RunCheckpointer() {
  for (;;) {
    uint64_t size = 0;
    std::string root;
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&stop_), absl::Seconds(1));
      if (stop_) return;
      const uint64_t grown = range_.size() - signed_size_;
      if (grown == 0 || (grown < options_.checkpoint_every_events &&
                         options_.clock() - signed_at_ < options_.checkpoint_every)) {
        continue;
      }
      size = range_.size();
      root = range_.Root();
    }
    if (auto s = SignAndStore(size, std::move(root)); !s.ok()) {
      logging::Error("integrity", s.status().ToString());
    }
  }
}

absl::StatusOr<std::string> IntegrityLog::ExportBundle(const std::vector<storage::EventPtr>& events,
                                                       const std::string& description,
                                                       const std::string& selection) {
  EH_ASSIGN_OR_RETURN(v1::SignedCheckpoint checkpoint, CheckpointNow());
  const uint64_t tree_size = checkpoint.checkpoint().tree_size();
  v1::InvestigationBundle bundle;
  bundle.set_format_version(kBundleFormatVersion);
  v1::BundleManifest* manifest = bundle.mutable_manifest();
  manifest->set_log_id(store_->log_id());
  manifest->set_description(description);
  manifest->set_selection(selection);
  *manifest->mutable_created_at() = ToProtoTime(options_.clock());
  manifest->set_tree_size(tree_size);
  manifest->set_server_version(options_.server_version);
  for (const storage::EventPtr& e : events) {
    if (e->position() > tree_size) break;  // committed after the checkpoint
    manifest->add_positions(e->position());
    v1::BundleEvent* out = bundle.add_events();
    EH_ASSIGN_OR_RETURN(std::string canonical, CanonicalRecord(*e));
    out->set_canonical(std::move(canonical));
    EH_ASSIGN_OR_RETURN(std::string previous, ChainHashAt(e->position() - 1));
    out->set_previous_chain_hash(std::move(previous));
    EH_ASSIGN_OR_RETURN(std::string chain, ChainHashAt(e->position()));
    out->set_chain_hash(std::move(chain));
    EH_ASSIGN_OR_RETURN(v1::InclusionProof proof, InclusionProof(e->position(), tree_size));
    for (const std::string& h : proof.hashes()) out->add_inclusion_proof(h);
  }
  EH_ASSIGN_OR_RETURN(std::string manifest_bytes, ManifestBytes(*manifest));
  EH_ASSIGN_OR_RETURN(std::string signature, key_.Sign(manifest_bytes));
  bundle.set_manifest_signature(std::move(signature));
  *bundle.mutable_checkpoint() = std::move(checkpoint);
  *bundle.mutable_public_key() = key_.public_key();
  return bundle.SerializeAsString();
}

}  // namespace evenhand::integrity
