// What integrity_log.cc and integrity_log_checkpoints.cc share: small
// helpers for messages and RocksDB statuses. Not for use elsewhere.
#ifndef EVENHAND_INTEGRITY_INTEGRITY_LOG_INTERNAL_H_
#define EVENHAND_INTEGRITY_INTEGRITY_LOG_INTERNAL_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "base/time_util.h"
#include "evenhand/v1/audit.pb.h"
#include "rocksdb/status.h"

namespace evenhand::integrity::log_internal {

inline constexpr char kComponent[] = "integrity";

inline absl::Status FromRocks(const rocksdb::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  if (s.IsCorruption()) return absl::DataLossError(absl::StrCat("integrity: ", what, ": ", s.ToString()));
  return absl::InternalError(absl::StrCat("integrity: ", what, ": ", s.ToString()));
}

inline std::string Hex(absl::string_view bytes) { return absl::BytesToHexString(bytes); }

inline std::string Describe(const v1::SignedCheckpoint& c) {
  return absl::StrCat("the checkpoint of tree size ", c.checkpoint().tree_size(), " signed at ",
                      absl::FormatTime("%Y-%m-%d %H:%M:%S UTC",
                                       FromProtoTime(c.checkpoint().timestamp()),
                                       absl::UTCTimeZone()),
                      " (key ", c.key_id(), ")");
}

}  // namespace evenhand::integrity::log_internal

#endif  // EVENHAND_INTEGRITY_INTEGRITY_LOG_INTERNAL_H_
