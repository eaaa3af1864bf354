#include "server/metrics_http.h"

#include <httplib.h>

#include <chrono>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/prometheus_text.h"

namespace evenhand::server {

absl::StatusOr<std::unique_ptr<MetricsHttp>> MetricsHttp::Start(const std::string& listen,
                                                                Handlers handlers,
                                                                const Tls* tls) {
  const size_t colon = listen.rfind(':');
  int port = -1;
  if (colon == std::string::npos || !absl::SimpleAtoi(listen.substr(colon + 1), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "metrics.listen: \"", listen, "\" is not host:port (e.g. 127.0.0.1:9464), or \"off\""));
  }
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  std::unique_ptr<MetricsHttp> m(new MetricsHttp());
  if (tls != nullptr) {
    // With a client CA, cpp-httplib verifies the peer and refuses a
    // handshake without a certificate (SSL_VERIFY_FAIL_IF_NO_PEER_CERT).
    auto https = std::make_unique<httplib::SSLServer>(
        tls->cert_file.c_str(), tls->key_file.c_str(), tls->client_ca_file.c_str());
    if (!https->is_valid()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the metrics listener cannot use security.tls (", tls->cert_file, ", ", tls->key_file,
          "): the certificate or key cannot be read or is not PEM, or the key does not match "
          "the certificate"));
    }
    m->http_ = std::move(https);
    m->tls_ = true;
  } else {
    m->http_ = std::make_unique<httplib::Server>();
  }
  httplib::Server& http = *m->http_;
  http.new_task_queue = [] { return new httplib::ThreadPool(2); };
  // SO_REUSEADDR only: httplib's default also sets SO_REUSEPORT, and a second
  // server would then share the port and answer for the first.
  http.set_socket_options([](auto sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  http.set_read_timeout(5, 0);
  http.set_write_timeout(5, 0);
  http.set_payload_max_length(4096);
  http.Get("/metrics", [h = handlers](const httplib::Request&, httplib::Response& res) {
    res.set_content(h.metrics(), metrics::kTextContentType);
  });
  http.Get("/healthz", [h = handlers](const httplib::Request&, httplib::Response& res) {
    auto [healthy, why] = h.health();
    res.status = healthy ? 200 : 503;
    res.set_content(healthy ? std::string("SERVING\n") : absl::StrCat("NOT_SERVING: ", why, "\n"),
                    "text/plain; charset=utf-8");
  });
  auto not_allowed = [](const httplib::Request&, httplib::Response& res) {
    res.status = 405;
    res.set_header("Allow", "GET, HEAD");
    res.set_content("only GET /metrics and GET /healthz are served\n", "text/plain");
  };
  http.Post(".*", not_allowed);
  http.Put(".*", not_allowed);
  http.Delete(".*", not_allowed);
  http.Patch(".*", not_allowed);
  http.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.status == 404) {
      res.set_content("not found: this listener serves GET /metrics and GET /healthz\n",
                      "text/plain");
    }
  });
  const int bound =
      port == 0 ? http.bind_to_any_port(host) : (http.bind_to_port(host, port) ? port : -1);
  if (bound <= 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen for metrics on ", listen,
        ": the address is invalid or in use (set metrics.listen, or --metrics_listen, to a "
        "free host:port, or \"off\")"));
  }
  m->address_ = absl::StrCat(colon == 0 ? "" : listen.substr(0, colon), ":", bound);
  m->thread_ = std::thread([&http] { http.listen_after_bind(); });
  // httplib's stop() does nothing until the listener runs: wait for it, so
  // that a Stop() straight after Start() cannot leave it running.
  for (int i = 0; i < 5000 && !http.is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!http.is_running()) {
    http.stop();
    m->thread_.join();
    return absl::InternalError(absl::StrCat("the metrics listener on ", listen, " did not start"));
  }
  return m;
}

MetricsHttp::~MetricsHttp() { Stop(); }

void MetricsHttp::Stop() {
  if (http_) http_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace evenhand::server
