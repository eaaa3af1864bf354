// The fairness projection's checkpoint in its RocksDB: the layout of its
// keys, and the findings index's checkpointed entries read back for reports
// (StoredFindings). ProjectionRunner writes and reads it; this file knows
// the layout and nothing of when a checkpoint is taken.
//
//   "fairness/version"            -> kStateVersion
//   "fairness/position"           -> BE64(the position the checkpoint reflects)
//   "fairness/log_id"             -> the id of the log it was folded from
//                                    (absent from a checkpoint of a build
//                                    before 2026-12-06: taken, and written
//                                    at its next checkpoint)
//   "fairness/damaged"            -> why: a body could not be read back (the
//                                    next start replaces the checkpoint)
//   "fairness/case/" stream       -> CaseRecord
//   "fairness/skeleton/" stream   -> CaseSkeletonRecord (written with each
//                                    CaseRecord; from kStateVersion 2 on)
//   "fairness/findings/header"    -> FindingsIndexHeader
//   "fairness/findings/e/" ...    -> FindingEntryRecord (FindingKey, WithdrawnKey)
//   "fairness/findings/p/" BE64   -> a provisional FindingEntryRecord
//   "fairness/findings/s/" stream -> SubjectRecord (read only under a header:
//                                    some are written while the index is
//                                    seeded, before its first checkpoint)
//   "fairness/findings/g/" ...    -> FigureChangesRecord (FigureChangeKey)
//   "fairness/findings/t/" ...    -> FigureSumsRecord (FigureSumsKey; from
//                                    findings-6: an index of a build before
//                                    is decided again)
#ifndef EVENHAND_PROJECTIONS_INTERNAL_CHECKPOINT_STORE_H_
#define EVENHAND_PROJECTIONS_INTERNAL_CHECKPOINT_STORE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "evenhand/state/fairness_state.pb.h"
#include "projections/fairness_projection.h"
#include "rocksdb/db.h"
#include "rocksdb/table.h"

namespace evenhand::projections::internal {

// Bump when the projection's fold or CaseRecord layout changes: an older
// checkpoint is then discarded and the log refolded.
inline constexpr char kStateVersion[] = "fairness-2";
// The same cases without their skeletons: read whole at a start, which
// then writes their skeletons and kStateVersion (ProjectionRunner).
inline constexpr char kCasesOnlyStateVersion[] = "fairness-1";

inline constexpr char kVersionKey[] = "fairness/version";
inline constexpr char kPositionKey[] = "fairness/position";
inline constexpr char kLogIdKey[] = "fairness/log_id";
inline constexpr char kDamagedKey[] = "fairness/damaged";
inline constexpr char kCasePrefix[] = "fairness/case/";
inline constexpr char kSkeletonPrefix[] = "fairness/skeleton/";
// The findings index: a header, each entry (FindingKey, WithdrawnKey), each
// subject by stream, the group totals' changes (FigureChangeKey).
inline constexpr char kFindingsHeaderKey[] = "fairness/findings/header";
inline constexpr char kFindingEntryPrefix[] = "fairness/findings/e/";
inline constexpr char kFindingSubjectPrefix[] = "fairness/findings/s/";
inline constexpr char kProvisionalFindingPrefix[] = "fairness/findings/p/";
inline constexpr char kFigureChangePrefix[] = "fairness/findings/g/";
inline constexpr char kFigureSumsPrefix[] = "fairness/findings/t/";
inline constexpr char kFindingsPrefix[] = "fairness/findings/";
inline constexpr char kFindingsPrefixEnd[] = "fairness/findings0";
inline constexpr char kPrefix[] = "fairness/";
inline constexpr char kPrefixEnd[] = "fairness0";  // '0' follows '/'

// The table options of the checkpoint's RocksDB, with a block cache of
// `block_cache_bytes`. Each file has a bloom filter: a case read back (or a
// subject or entry looked for) is read from the one file that holds it.
// Without one, every newer file whose key range spans the key is searched,
// and the block searched is the one that would hold the key: in a file a
// checkpoint wrote, often the block of the one large case it holds (a day's
// access records of a busy principal reach megabytes), read in full and
// decompressed for every other case read back, since a block that large
// does not stay in the block cache. At 10M events that made a report as of
// a past position read 20 GB of blocks for 30,000 cases (1.1 ms each).
rocksdb::BlockBasedTableOptions CheckpointTableOptions(size_t block_cache_bytes);

// A RocksDB status as the runner reports it, naming `what`: DataLoss for
// damage RocksDB found (the checkpoint is replaced), otherwise Internal.
absl::Status FromRocks(const rocksdb::Status& s, absl::string_view what);

// An entry's key, not withdrawn: kind ('f' finding, 'o' obligation), 'a',
// its date or due time (order-preserving), its id: a report's period is
// one range per kind.
std::string FindingKey(bool obligation, int64_t when, uint32_t id);

// A withdrawn entry's key: kind, 'w', then the smallest aligned block of
// positions that holds every position it was alive at ([appeared,
// withdrawn): a level L, one byte, and the block's index, positions
// [index << L, (index + 1) << L)), then its date, id, and the positions it
// appeared and was withdrawn at. A report as of a past position P reads,
// at each of the 65 levels, the one block holding P, within it the range
// of its period's dates, and skips by the key alone those not alive at P:
// what it passes over are the entries of those blocks alive at some of
// their other positions, not every entry of its period withdrawn since
// (nearly all of a period's obligations, once it is over: each is
// withdrawn when met).
std::string WithdrawnKey(const state::FindingEntryRecord& entry);
// That level: the bit width of the first and last positions alive, XORed.
int WithdrawnLevel(uint64_t appeared, uint64_t withdrawn);

// The key of one checkpoint's changes to the group figures of one day (or
// of a run of its positions: GroupFigures::ForEachUnsaved): the UTC day of
// the contributions (order-preserving), then the last position whose
// folding made one (each checkpoint's positions follow the last's, and
// runs do not share a position, so it is unique): a report as of a past
// position P reads, per day of its period, from the first record whose
// last position is after P.
std::string FigureChangeKey(int64_t day, uint64_t last_position);
// The key of the same changes summed (FigureSumsRecord): the same day and
// last position under another prefix. A checkpoint writes both or neither.
std::string FigureSumsKey(int64_t day, uint64_t last_position);

// The checkpointed findings index in `db` (which must outlive it), read
// back for reports and to withdraw an entry.
std::unique_ptr<StoredFindings> NewRocksStoredFindings(rocksdb::DB* db);

// The checkpointed cases' bodies in `db` (which must outlive it), read back
// when the projection has let them go (FairnessProjection::KeepCasesIn).
// `fault` (tests) may fail a read before it is made.
std::unique_ptr<StoredCases> NewRocksStoredCases(
    rocksdb::DB* db, std::function<absl::Status(const std::string&)> fault = nullptr);

}  // namespace evenhand::projections::internal

#endif  // EVENHAND_PROJECTIONS_INTERNAL_CHECKPOINT_STORE_H_
