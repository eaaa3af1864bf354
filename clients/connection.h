// How a client reaches evenhandd: the address, and TLS with a client
// certificate and/or a bearer token (docs/SECURITY.md).
//
//   clients::Connection c = clients::Connection::FromEnvironment();
//   c.address = "evenhand.council.example:50051";
//   auto channel = clients::Dial(c);
//
// Without a CA file the channel is plain text (local mode, loopback only). A
// token is sent only over TLS: Dial refuses to send one in plain text.
// Thread-safe (pure functions).
#ifndef EVENHAND_CLIENTS_CONNECTION_H_
#define EVENHAND_CLIENTS_CONNECTION_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"

namespace evenhand::clients {

struct Connection {
  std::string address = "127.0.0.1:50051";
  // TLS: the CA that signed the server's certificate (PEM).
  std::string ca_file;
  // mTLS: this client's certificate and key (PEM), for systems.
  std::string cert_file;
  std::string key_file;
  // A file holding an OIDC access token (a JWT), for people.
  std::string token_file;
  // Overrides the name checked in the server's certificate (tests).
  std::string server_name;
  // While calls are open, pings the server after this long without news
  // and drops the connection if the ping is not answered within as long:
  // a server gone without closing it (a cable, a firewall's dropped state)
  // is noticed in seconds, not when TCP gives up. Zero: no pings. The
  // server accepts one every 10 s at most; more often, it drops the
  // connection.
  absl::Duration keepalive = absl::ZeroDuration();
  // The longest wait between attempts to connect while the server is
  // unreachable. Zero: gRPC's own (growing to 120 s, so a server back
  // after a long outage may wait two minutes to be noticed).
  absl::Duration max_reconnect_backoff = absl::ZeroDuration();

  // The defaults, from EVENHAND_SERVER, EVENHAND_CA, EVENHAND_CERT,
  // EVENHAND_KEY and EVENHAND_TOKEN_FILE.
  static Connection FromEnvironment();
  bool tls() const { return !ca_file.empty(); }
};

// A channel to `connection.address`. Errors name the file or setting at
// fault (a token without TLS, a missing certificate file, ...), as the
// CLI's flag and this struct's field ("--token-file (token_file)").
absl::StatusOr<std::shared_ptr<grpc::Channel>> Dial(const Connection& connection);

}  // namespace evenhand::clients

#endif  // EVENHAND_CLIENTS_CONNECTION_H_
