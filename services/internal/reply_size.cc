#include "services/internal/reply_size.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/error_details.h"

namespace evenhand::services::internal {

absl::Status CheckReplySize(uint64_t bytes, uint64_t max_bytes, absl::string_view what,
                            absl::string_view narrow, bool at_least) {
  if (bytes <= max_bytes) return absl::OkStatus();
  // "268435456 bytes (256.0 MiB)"; small limits (tests) in bytes alone.
  auto size = [](uint64_t n) {
    return n < (1 << 20) ? absl::StrCat(n, " bytes")
                         : absl::StrFormat("%d bytes (%.1f MiB)", n, n / 1048576.0);
  };
  return WithoutRetry(WithErrorInfo(
      absl::ResourceExhaustedError(absl::StrCat("this ", what, " would be ",
                                                at_least ? "at least " : "", size(bytes),
                                                ", more than the ", size(max_bytes),
                                                " one reply may carry (maxReplyBytes): ", narrow)),
      "REPLY_TOO_LARGE",
      {{"reply_bytes", absl::StrCat(bytes)}, {"max_reply_bytes", absl::StrCat(max_bytes)}}));
}

}  // namespace evenhand::services::internal
