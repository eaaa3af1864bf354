#include "server/listen_address.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace evenhand::server {

absl::StatusOr<ListenAddress> ParseListenAddress(absl::string_view field,
                                                 const std::string& listen) {
  const auto refuse = [&]() {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": \"", listen,
                     "\" is not host:port with a port from 0 to 65535 (e.g. 127.0.0.1:9464)"));
  };
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return refuse();
  const std::string digits = listen.substr(colon + 1);
  ListenAddress out;
  if (digits.empty() || digits.size() > 5 ||
      !std::all_of(digits.begin(), digits.end(), absl::ascii_isdigit) ||
      !absl::SimpleAtoi(digits, &out.port) || out.port > 65535) {
    return refuse();
  }
  out.host = listen.substr(0, colon);
  if (!out.host.empty() && out.host.front() == '[') {
    if (out.host.size() < 3 || out.host.back() != ']') return refuse();
    out.host = out.host.substr(1, out.host.size() - 2);
  }
  return out;
}

}  // namespace evenhand::server
