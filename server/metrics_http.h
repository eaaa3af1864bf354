// MetricsHttp: the server's small HTTP listener for monitoring, on its own
// address (metrics.listen), apart from gRPC:
//   GET /metrics  Prometheus' text exposition format (base/prometheus_text.h)
//   GET /healthz  200 "SERVING" or 503 "NOT_SERVING: <why>", the same
//                 answer as gRPC health (grpc.health.v1) gives
// Anything else is 404; a method other than GET (or HEAD) is 405. The
// listener carries no event content, so it needs no authentication; keep
// it on a loopback or management address.
//
// cpp-httplib (Debian's libcpp-httplib-dev) serves it on a few threads of
// its own. Thread-safe.
#ifndef EVENHAND_SERVER_METRICS_HTTP_H_
#define EVENHAND_SERVER_METRICS_HTTP_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/status/statusor.h"

namespace httplib {
class Server;
}

namespace evenhand::server {

class MetricsHttp {
 public:
  struct Handlers {
    // The exposition text.
    std::function<std::string()> metrics;
    // Whether the server is healthy, and if not why.
    std::function<std::pair<bool, std::string>()> health;
  };

  // Listens on "host:port" (port 0 picks one).
  static absl::StatusOr<std::unique_ptr<MetricsHttp>> Start(const std::string& listen,
                                                            Handlers handlers);
  ~MetricsHttp();

  // "host:port" actually listened on.
  const std::string& address() const { return address_; }

  void Stop();

 private:
  MetricsHttp() = default;
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  std::string address_;
};

}  // namespace evenhand::server

#endif  // EVENHAND_SERVER_METRICS_HTTP_H_
