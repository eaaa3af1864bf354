// gRPC's own log lines (a failed TLS handshake, a file its certificate
// watcher could not read) written as the server's: in its format (JSON by
// default, which gRPC's "E1204 12:00:00 file.cc:12] ..." lines broke) and
// with its minimum level, component "grpc", and each kind (where in gRPC it
// was written) at most a few times a window (base/log_repeats.h), since a
// scanner's connections would otherwise each write one.
#ifndef EVENHAND_SERVER_GRPC_LOG_H_
#define EVENHAND_SERVER_GRPC_LOG_H_

namespace evenhand::server {

// From now on, for the process (once is enough; again does nothing).
void RouteGrpcLogs();

}  // namespace evenhand::server

#endif  // EVENHAND_SERVER_GRPC_LOG_H_
