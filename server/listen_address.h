// The "host:port" addresses evenhandd listens on (gRPC's listen, the metrics
// listener's): split and checked before anything is opened, so that a config
// with an address no listener could take is refused by --print_config and
// by a SIGHUP as it is at start. Knows nothing of sockets.
#ifndef EVENHAND_SERVER_LISTEN_ADDRESS_H_
#define EVENHAND_SERVER_LISTEN_ADDRESS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace evenhand::server {

struct ListenAddress {
  std::string host;  // without an IPv6 address's brackets
  int port = 0;      // 0: a free port the kernel picks
};

// INVALID_ARGUMENT naming `field` unless `listen` is host:port with a port
// of 0 to 65535 in decimal digits (e.g. 127.0.0.1:9464, [::1]:50051,
// localhost:0; ":9464" is every address for the metrics listener, and gRPC
// refuses it when it binds).
absl::StatusOr<ListenAddress> ParseListenAddress(absl::string_view field,
                                                 const std::string& listen);

}  // namespace evenhand::server

#endif  // EVENHAND_SERVER_LISTEN_ADDRESS_H_
