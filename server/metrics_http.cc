#include "server/metrics_http.h"

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "base/logging.h"
#include "base/prometheus_text.h"
#include "base/status_macros.h"
#include "server/listen_address.h"
#include "server/tls_files.h"

namespace evenhand::server {

namespace internal {

// What the listener's threads share with it; outlives the MetricsHttp if a
// thread is still busy with a client when Stop() stops waiting.
struct MetricsPoolState {
  absl::Mutex mu;
  std::deque<std::function<void()>> queue ABSL_GUARDED_BY(mu);
  // Threads not yet exited.
  size_t alive ABSL_GUARDED_BY(mu) = 0;
  // No more connections come: threads exit once the queue is empty.
  bool shutdown ABSL_GUARDED_BY(mu) = false;
  // Stop() was called: the queue takes what is accepted without waiting,
  // handlers answer 503 without touching the server, and shutdown waits
  // for the threads until `give_up`.
  bool closed ABSL_GUARDED_BY(mu) = false;
  absl::Time give_up ABSL_GUARDED_BY(mu) = absl::InfiniteFuture();
  // Handlers running (they read the server's state, which Stop()'s caller
  // then closes: Stop() waits for them, as they do no network I/O).
  size_t handling ABSL_GUARDED_BY(mu) = 0;
  // httplib's accept loop has ended (it then holds no listening socket,
  // and stop() must not close that number again).
  bool listening_over ABSL_GUARDED_BY(mu) = false;
};

}  // namespace internal

namespace {

using internal::MetricsPoolState;

// Threads serving connections, and connections accepted and waiting for
// one at most: beyond that the accept loop waits, and the kernel's backlog
// holds the rest (no descriptor of ours each).
constexpr int kThreads = 4;
constexpr size_t kMaxWaiting = 16;
// How long Stop() waits for requests in progress.
constexpr absl::Duration kStopWait = absl::Seconds(2);

class MetricsPool final : public httplib::TaskQueue {
 public:
  explicit MetricsPool(std::shared_ptr<MetricsPoolState> state) : state_(std::move(state)) {
    absl::MutexLock lock(&state_->mu);
    for (int i = 0; i < kThreads; ++i) {
      ++state_->alive;
      threads_.emplace_back([s = state_] { Work(*s); });
    }
  }

  void enqueue(std::function<void()> fn) override {
    MetricsPoolState& s = *state_;
    absl::MutexLock lock(&s.mu);
    auto room = [&s]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
      return s.queue.size() < kMaxWaiting || s.closed;
    };
    s.mu.Await(absl::Condition(&room));
    s.queue.push_back(std::move(fn));
  }

  void shutdown() override {
    MetricsPoolState& s = *state_;
    bool all_done;
    {
      absl::MutexLock lock(&s.mu);
      s.shutdown = true;
      s.listening_over = true;  // httplib's accept loop has ended
      auto done = [&s]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) { return s.alive == 0; };
      // `give_up` is re-read: a shutdown begun before Stop() (the listener
      // died) waits only as long as Stop() then allows.
      while (!(all_done = s.mu.AwaitWithTimeout(absl::Condition(&done), absl::Milliseconds(100))) &&
             absl::Now() < s.give_up) {
      }
    }
    // A thread still held by a client is left to finish on its own; it
    // holds the state, and Stop() leaves the httplib server to it.
    for (std::thread& t : threads_) {
      if (all_done) {
        t.join();
      } else {
        t.detach();
      }
    }
  }

 private:
  static void Work(MetricsPoolState& s) {
    for (;;) {
      std::function<void()> fn;
      {
        absl::MutexLock lock(&s.mu);
        auto ready = [&s]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
          return !s.queue.empty() || s.shutdown;
        };
        s.mu.Await(absl::Condition(&ready));
        if (s.queue.empty()) {
          --s.alive;
          return;
        }
        fn = std::move(s.queue.front());
        s.queue.pop_front();
      }
      fn();
    }
  }

  const std::shared_ptr<MetricsPoolState> state_;
  std::vector<std::thread> threads_;
};

// Runs a handler that reads the server's state, unless Stop() was called
// (then 503), counted so that Stop() can wait for it.
void Handle(MetricsPoolState& s, httplib::Response& res, const std::function<void()>& handle) {
  {
    absl::MutexLock lock(&s.mu);
    if (s.closed) {
      res.status = 503;
      res.set_content("NOT_SERVING: the server is stopping\n", "text/plain; charset=utf-8");
      return;
    }
    ++s.handling;
  }
  handle();
  absl::MutexLock lock(&s.mu);
  --s.handling;
}

}  // namespace

absl::StatusOr<std::unique_ptr<MetricsHttp>> MetricsHttp::Start(const std::string& listen,
                                                                Handlers handlers,
                                                                const TlsFiles* tls) {
  EH_ASSIGN_OR_RETURN(const ListenAddress address,
                      ParseListenAddress("metrics.listen (or \"off\")", listen));
  const std::string& host = address.host;
  const int port = address.port;
  std::unique_ptr<MetricsHttp> m(new MetricsHttp());
  if (tls != nullptr) {
    // The files as first served; each connection then takes them as they
    // are (ServeFrom). With a client CA, cpp-httplib verifies the peer and
    // refuses a handshake without a certificate
    // (SSL_VERIFY_FAIL_IF_NO_PEER_CERT).
    const std::string served = tls->ServedFolder();
    auto https = std::make_unique<httplib::SSLServer>((served + "/server.pem").c_str(),
                                                      (served + "/server.key").c_str(),
                                                      (served + "/ca.pem").c_str());
    if (!https->is_valid()) {
      return absl::InvalidArgumentError(
          absl::StrCat("the metrics listener cannot use security.tls (the files served from ",
                       served, "): OpenSSL would not take them"));
    }
    tls->ServeFrom(https->ssl_context());
    m->http_ = std::move(https);
    m->tls_ = true;
  } else {
    m->http_ = std::make_unique<httplib::Server>();
  }
  httplib::Server& http = *m->http_;
  m->pool_ = std::make_shared<MetricsPoolState>();
  http.new_task_queue = [pool = m->pool_] { return new MetricsPool(pool); };
  // SO_REUSEADDR only: httplib's default also sets SO_REUSEPORT, and a second
  // server would then share the port and answer for the first.
  http.set_socket_options([](auto sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  // One request per connection: what follows a refused request (a body
  // never read) is never parsed as the next, and a scraper's connection
  // every few seconds costs nothing.
  http.set_keep_alive_max_count(1);
  http.set_read_timeout(5, 0);
  http.set_write_timeout(5, 0);
  http.set_payload_max_length(4096);
  // Only GET and HEAD, refused before a body is read (httplib reads a
  // POST's body before routing, a chunked one without a limit), and the
  // connection closed behind the refusal.
  http.set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    if (req.method == "GET" || req.method == "HEAD") {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    res.status = 405;
    res.set_header("Allow", "GET, HEAD");
    res.set_header("Connection", "close");
    res.set_content("only GET /metrics and GET /healthz are served\n", "text/plain");
    return httplib::Server::HandlerResponse::Handled;
  });
  http.Get("/metrics",
           [h = handlers, pool = m->pool_](const httplib::Request&, httplib::Response& res) {
             Handle(*pool, res, [&] { res.set_content(h.metrics(), metrics::kTextContentType); });
           });
  http.Get("/healthz", [h = handlers, pool = m->pool_](const httplib::Request&,
                                                       httplib::Response& res) {
    Handle(*pool, res, [&] {
      auto [healthy, why] = h.health();
      res.status = healthy ? 200 : 503;
      res.set_content(healthy ? std::string("SERVING\n") : absl::StrCat("NOT_SERVING: ", why, "\n"),
                      "text/plain; charset=utf-8");
    });
  });
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
  m->address_ = absl::StrCat(listen.substr(0, listen.rfind(':')), ":", bound);
  m->thread_ = std::thread([&http, pool = m->pool_, listen] {
    // httplib gives up listening on an accept error it does not retry
    // (ENFILE, ENOBUFS, ...): said, as monitoring then loses the server.
    const bool ended_well = http.listen_after_bind();
    bool stopping;
    {
      absl::MutexLock lock(&pool->mu);
      stopping = pool->closed;
    }
    if (!ended_well && !stopping) {
      logging::Error("metrics",
                     absl::StrCat("the metrics listener on ", listen,
                                  " stopped accepting connections (an accept error); /metrics and "
                                  "/healthz are not served until evenhandd is restarted"));
    }
  });
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
  if (!http_) return;
  bool listening;
  {
    absl::MutexLock lock(&pool_->mu);
    pool_->closed = true;
    pool_->give_up = absl::Now() + kStopWait;
    // Handlers read the server's state: none runs once this returns.
    auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(pool_->mu) { return pool_->handling == 0; };
    pool_->mu.Await(absl::Condition(&idle));
    listening = !pool_->listening_over;
  }
  if (listening) http_->stop();
  if (thread_.joinable()) thread_.join();
  size_t busy;
  {
    absl::MutexLock lock(&pool_->mu);
    busy = pool_->alive;
  }
  if (busy == 0) {
    http_.reset();
    return;
  }
  // A client still holds a thread (trickling a request, or not reading
  // the answer): the server is not held up for it. Its thread finishes on
  // its own (the read and write timeouts bound each step) and uses the
  // httplib server meanwhile, so that is left to it.
  logging::Warning("metrics", absl::StrCat(busy,
                                           " metrics connections were still open at the "
                                           "stop; not waited for"));
  (void)http_.release();
}

}  // namespace evenhand::server
