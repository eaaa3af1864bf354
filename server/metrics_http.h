// MetricsHttp: the server's small HTTP listener for monitoring, on its own
// address (metrics.listen), apart from gRPC:
//   GET /metrics  Prometheus' text exposition format (base/prometheus_text.h)
//   GET /healthz  200 "SERVING" or 503 "NOT_SERVING: <why>", the same
//                 answer as gRPC health (grpc.health.v1) gives
// Anything else is 404; a method other than GET (or HEAD) is 405; /metrics
// for a certificate Handlers::metrics_refusal refuses, 403. The
// listener carries no event content. It speaks what the gRPC listener
// speaks: HTTPS with the server's certificate, and a client certificate
// from the council's CA required, when the server has TLS; plain HTTP
// otherwise, which the server allows on a loopback address only (it
// checks that, not this module).
//
// It is served here, on a few threads of its own, one request per
// connection, HTTP/1.0 or 1.1, no request body ever read: each connection
// must complete its TLS handshake and send its request head (at most
// 8 KiB, else 431, or 414 for a request line that long) within 2 s of a thread taking it up,
// whatever pace its bytes come at, and take its answer within 10 s, so a client trickling bytes
// holds a thread that long at most. Connections wait for a thread in a bounded queue, and beyond it
// in the kernel's backlog, so clients that connect and send nothing cannot take the process's file
// descriptors (which RocksDB and gRPC need). A Range header is not honoured (the whole answer,
// always). Stop() waits a bounded time for requests in progress. Thread-safe.
#ifndef EVENHAND_SERVER_METRICS_HTTP_H_
#define EVENHAND_SERVER_METRICS_HTTP_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "services/auth/client_certificate.h"

namespace evenhand::server {

class TlsFiles;

namespace internal {
struct MetricsPoolState;
}

class MetricsHttp {
 public:
  struct Handlers {
    // The exposition text.
    std::function<std::string()> metrics;
    // Whether the server is healthy, and if not why.
    std::function<std::pair<bool, std::string>()> health;
    // Over TLS, whether the holder of this client certificate (read as a
    // gRPC call's is: services/auth/client_certificate.h) may read
    // /metrics: "" if so, else why not (403 Forbidden). Unset: any
    // certificate of the CA. /healthz is anyone's with one.
    std::function<std::string(const services::auth::ClientCertificate& certificate)>
        metrics_refusal;
  };

  // Listens on "host:port" (port 0 picks one); HTTPS when `tls` is given:
  // the server's certificate and key as `tls` holds them at each
  // connection, and a client certificate of its CA required. `tls` must
  // outlive this.
  static absl::StatusOr<std::unique_ptr<MetricsHttp>> Start(const std::string& listen,
                                                            Handlers handlers,
                                                            const TlsFiles* tls = nullptr);
  ~MetricsHttp();

  // "host:port" actually listened on.
  const std::string& address() const { return address_; }
  // "https" or "http".
  const char* scheme() const { return tls_ ? "https" : "http"; }

  void Stop();

 private:
  MetricsHttp() = default;
  // Takes connections up to the queue's bound until Stop().
  void AcceptLoop();
  // Shared with the pool's threads, which may outlive a Stop() that gave up
  // waiting for them (see the .cc).
  std::shared_ptr<internal::MetricsPoolState> pool_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;
  std::thread thread_;  // the accept loop
  std::vector<std::thread> workers_;
  std::atomic<bool> stopped_{false};
  std::string address_;
  bool tls_ = false;
};

}  // namespace evenhand::server

#endif  // EVENHAND_SERVER_METRICS_HTTP_H_
