#include "server/metrics_http.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "base/logging.h"
#include "base/prometheus_text.h"
#include "base/status_macros.h"
#include "server/listen_address.h"
#include "server/tls_files.h"

namespace evenhand::server {

namespace {

// Threads serving connections, and connections accepted and waiting for
// one at most: beyond that the accept loop waits, and the kernel's backlog
// holds the rest (no descriptor of ours each).
constexpr int kThreads = 8;
constexpr size_t kMaxWaiting = 16;
// A connection's TLS handshake and request head must be in within this of
// a thread taking it up, whatever pace the bytes come at: a client that
// trickles them holds a thread this long at most. A scraper sends its
// request at once.
constexpr absl::Duration kRequestDeadline = absl::Seconds(2);
// The answer must be taken within this.
constexpr absl::Duration kAnswerDeadline = absl::Seconds(10);
// A request head (request line and headers) of more is refused (431).
constexpr size_t kMaxHead = 8 << 10;
// How long Stop() waits for requests in progress.
constexpr absl::Duration kStopWait = absl::Seconds(2);

}  // namespace

namespace internal {

// What the listener's threads share with it; outlives the MetricsHttp if a
// thread is still busy with a client when Stop() stops waiting.
struct MetricsPoolState {
  ~MetricsPoolState() {
    if (ssl_ctx != nullptr) SSL_CTX_free(ssl_ctx);
  }
  MetricsHttp::Handlers handlers;
  SSL_CTX* ssl_ctx = nullptr;  // TLS, or plain HTTP

  absl::Mutex mu;
  std::deque<int> queue ABSL_GUARDED_BY(mu);  // accepted, not yet taken up
  // Threads not yet exited.
  size_t alive ABSL_GUARDED_BY(mu) = 0;
  // Stop() was called: no more connections are taken up, handlers answer
  // 503 without touching the server, and threads exit.
  bool closed ABSL_GUARDED_BY(mu) = false;
  // Handlers running (they read the server's state, which Stop()'s caller
  // then closes: Stop() waits for them, as they do no network I/O).
  size_t handling ABSL_GUARDED_BY(mu) = 0;
};

}  // namespace internal

namespace {

using internal::MetricsPoolState;

// One connection, plain or TLS, non-blocking, every step bounded by a
// deadline.
class Connection {
 public:
  Connection(int fd, SSL_CTX* ctx) : fd_(fd) {
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
    if (ctx != nullptr) {
      ssl_ = SSL_new(ctx);
      if (ssl_ != nullptr) SSL_set_fd(ssl_, fd_);
    }
  }
  ~Connection() {
    if (ssl_ != nullptr) {
      if (handshaken_) SSL_shutdown(ssl_);  // one try: the client may be gone
      SSL_free(ssl_);
    }
    // What the client still sends (a body never read) is taken briefly and
    // dropped, so that the close is a FIN after the answer, not a reset
    // that can take the answer with it.
    ::shutdown(fd_, SHUT_WR);
    const absl::Time until = absl::Now() + absl::Milliseconds(200);
    char sink[4096];
    for (size_t drained = 0; drained < (64 << 10);) {
      const ssize_t r = ::recv(fd_, sink, sizeof(sink), 0);
      if (r > 0) {
        drained += static_cast<size_t>(r);
      } else if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) ||
                 !Wait(POLLIN, until)) {
        break;
      }
    }
    ::close(fd_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  bool tls() const { return ssl_ != nullptr; }

  // The verified client certificate, after the handshake.
  services::auth::ClientCertificate PeerCertificate() const {
    if (ssl_ == nullptr) return {};
    X509* peer = SSL_get1_peer_certificate(ssl_);
    services::auth::ClientCertificate out = services::auth::ClientCertificateOf(peer);
    X509_free(peer);
    return out;
  }

  // The TLS handshake (a client certificate of the CA required); true for
  // plain HTTP.
  bool Handshake(absl::Time deadline) {
    if (ssl_ == nullptr) return true;
    for (;;) {
      ERR_clear_error();
      const int r = SSL_accept(ssl_);
      if (r == 1) return handshaken_ = true;
      if (!WaitFor(SSL_get_error(ssl_, r), deadline)) return false;
    }
  }

  // Reads into `out` what comes, up to `max` bytes: 0 at the end of the
  // stream, -1 on an error or the deadline.
  ssize_t Read(char* out, size_t max, absl::Time deadline) {
    for (;;) {
      if (ssl_ != nullptr) {
        ERR_clear_error();
        const int r = SSL_read(ssl_, out, static_cast<int>(max));
        if (r > 0) return r;
        const int err = SSL_get_error(ssl_, r);
        if (err == SSL_ERROR_ZERO_RETURN) return 0;
        if (!WaitFor(err, deadline)) return -1;
      } else {
        const ssize_t r = ::recv(fd_, out, max, 0);
        if (r >= 0) return r;
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
        if (!Wait(POLLIN, deadline)) return -1;
      }
    }
  }

  bool WriteAll(absl::string_view data, absl::Time deadline) {
    while (!data.empty()) {
      if (ssl_ != nullptr) {
        ERR_clear_error();
        const int r = SSL_write(ssl_, data.data(), static_cast<int>(data.size()));
        if (r > 0) {
          data.remove_prefix(r);
          continue;
        }
        if (!WaitFor(SSL_get_error(ssl_, r), deadline)) return false;
      } else {
        const ssize_t r = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
        if (r >= 0) {
          data.remove_prefix(r);
          continue;
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return false;
        if (!Wait(POLLOUT, deadline)) return false;
      }
    }
    return true;
  }

 private:
  bool WaitFor(int ssl_error, absl::Time deadline) {
    if (ssl_error == SSL_ERROR_WANT_READ) return Wait(POLLIN, deadline);
    if (ssl_error == SSL_ERROR_WANT_WRITE) return Wait(POLLOUT, deadline);
    return false;  // refused handshake, or the connection failed
  }
  bool Wait(short events, absl::Time deadline) {
    for (;;) {
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) return false;
      pollfd p{fd_, events, 0};
      const int r = ::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
      if (r > 0) return true;
      if (r < 0 && errno != EINTR) return false;
    }
  }

  const int fd_;
  SSL* ssl_ = nullptr;
  bool handshaken_ = false;
};

std::string Answer(int status, absl::string_view reason, absl::string_view content_type,
                   absl::string_view body, bool head, absl::string_view extra = "") {
  return absl::StrCat("HTTP/1.1 ", status, " ", reason, "\r\nContent-Type: ", content_type,
                      "\r\nContent-Length: ", body.size(), "\r\n", extra,
                      "Connection: close\r\n\r\n", head ? "" : body);
}

constexpr char kPlain[] = "text/plain; charset=utf-8";

// Runs a handler that reads the server's state, unless Stop() was called
// (then 503), counted so that Stop() can wait for it.
std::string Handle(MetricsPoolState& s, bool head, const std::function<std::string()>& handle) {
  {
    absl::MutexLock lock(&s.mu);
    if (s.closed) {
      return Answer(503, "Service Unavailable", kPlain, "NOT_SERVING: the server is stopping\n",
                    head);
    }
    ++s.handling;
  }
  std::string answer = handle();
  absl::MutexLock lock(&s.mu);
  --s.handling;
  return answer;
}

// The answer to a request head (without its blank line).
std::string Respond(MetricsPoolState& s, absl::string_view head_text, const Connection& c) {
  absl::string_view line = head_text.substr(0, head_text.find('\n'));
  line = absl::StripSuffix(line, "\r");
  std::vector<absl::string_view> parts = absl::StrSplit(line, ' ');
  if (parts.size() != 3 || parts[0].empty() || !absl::StartsWith(parts[2], "HTTP/1.")) {
    return Answer(400, "Bad Request", kPlain, "a request line was expected: GET /metrics HTTP/1.1\n",
                  false);
  }
  const absl::string_view method = parts[0];
  const bool head = method == "HEAD";
  if (method != "GET" && !head) {
    // Refused before any body is read (none ever is).
    return Answer(405, "Method Not Allowed", "text/plain",
                  "only GET /metrics and GET /healthz are served\n", false,
                  "Allow: GET, HEAD\r\n");
  }
  absl::string_view path = parts[1];
  for (absl::string_view scheme : {"http://", "https://"}) {
    if (absl::StartsWith(path, scheme)) {  // an absolute form: its path
      path.remove_prefix(scheme.size());
      const size_t slash = path.find('/');
      path = slash == absl::string_view::npos ? "/" : path.substr(slash);
    }
  }
  path = path.substr(0, path.find('?'));
  // A Range header is not honoured: the whole answer, 200, always.
  if (path == "/metrics") {
    if (c.tls() && s.handlers.metrics_refusal) {
      // Counts of the log's work, whose timing a group should not read
      // (outside probe: any council certificate read them).
      if (std::string why = s.handlers.metrics_refusal(c.PeerCertificate()); !why.empty()) {
        return Answer(403, "Forbidden", kPlain, absl::StrCat(why, "\n"), head);
      }
    }
    return Handle(s, head, [&] {
      return Answer(200, "OK", metrics::kTextContentType, s.handlers.metrics(), head);
    });
  }
  if (path == "/healthz") {
    return Handle(s, head, [&] {
      auto [healthy, why] = s.handlers.health();
      return healthy ? Answer(200, "OK", kPlain, "SERVING\n", head)
                     : Answer(503, "Service Unavailable", kPlain,
                              absl::StrCat("NOT_SERVING: ", why, "\n"), head);
    });
  }
  return Answer(404, "Not Found", "text/plain",
                "not found: this listener serves GET /metrics and GET /healthz\n", head);
}

void Serve(MetricsPoolState& s, int fd) {
  Connection c(fd, s.ssl_ctx);
  if (c.tls() != (s.ssl_ctx != nullptr)) return;  // SSL_new failed
  const absl::Time deadline = absl::Now() + kRequestDeadline;
  if (!c.Handshake(deadline)) return;
  std::string head;
  char buf[2048];
  // The head ends at a blank line: CRLF as HTTP says, or bare LF as a
  // hand-typed request (printf | nc) sends.
  auto head_end = [&head] {
    const size_t crlf = head.find("\r\n\r\n");
    const size_t lf = head.find("\n\n");
    return std::min(crlf, lf);
  };
  size_t end = std::string::npos;
  while ((end = head_end()) == std::string::npos) {
    if (head.size() >= kMaxHead) {
      // The request line alone too long is a target too long (414): no
      // path this listener serves is more than a few bytes.
      const bool line_too_long = head.find('\n') == std::string::npos;
      c.WriteAll(
          line_too_long
              ? Answer(414, "URI Too Long", kPlain,
                       absl::StrCat("the request line is over ", kMaxHead,
                                    " bytes; this listener serves /metrics and "
                                    "/healthz\n"),
                       false)
              : Answer(431, "Request Header Fields Too Large", kPlain,
                       absl::StrCat("the request head is over ", kMaxHead, " bytes\n"), false),
          absl::Now() + kAnswerDeadline);
      return;
    }
    const ssize_t n = c.Read(buf, std::min(sizeof(buf), kMaxHead + 4 - head.size()), deadline);
    if (n <= 0) return;  // gone, failed, or too slow: no answer
    head.append(buf, static_cast<size_t>(n));
  }
  c.WriteAll(Respond(s, absl::string_view(head).substr(0, end), c), absl::Now() + kAnswerDeadline);
}

void Work(std::shared_ptr<MetricsPoolState> state) {
  // OpenSSL writes with write(), not send(MSG_NOSIGNAL): a client gone
  // must not end the process with SIGPIPE, whatever embeds the server.
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
  MetricsPoolState& s = *state;
  for (;;) {
    int fd;
    {
      absl::MutexLock lock(&s.mu);
      auto ready = [&s]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
        return !s.queue.empty() || s.closed;
      };
      s.mu.Await(absl::Condition(&ready));
      if (s.closed) {
        --s.alive;
        return;
      }
      fd = s.queue.front();
      s.queue.pop_front();
    }
    Serve(s, fd);
  }
}

// A listening socket on `host`:`port` (0: any free port), and the port.
absl::StatusOr<std::pair<int, int>> Listen(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = absl::StrCat(port);
  if (::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &found) != 0 ||
      found == nullptr) {
    return absl::UnavailableError(absl::StrCat("cannot resolve ", host));
  }
  int fd = -1;
  for (addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) continue;
    // SO_REUSEADDR only, not SO_REUSEPORT: a second server must not share
    // the port and answer for the first.
    int yes = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0 || ::listen(fd, 64) != 0) {
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(found);
  if (fd < 0) return absl::UnavailableError("bind failed");
  sockaddr_storage bound{};
  socklen_t len = sizeof(bound);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  const int bound_port = bound.ss_family == AF_INET6
                             ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                             : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  return std::make_pair(fd, bound_port);
}

}  // namespace

absl::StatusOr<std::unique_ptr<MetricsHttp>> MetricsHttp::Start(const std::string& listen,
                                                                Handlers handlers,
                                                                const TlsFiles* tls) {
  EH_ASSIGN_OR_RETURN(const ListenAddress address,
                      ParseListenAddress("metrics.listen (or \"off\")", listen));
  std::unique_ptr<MetricsHttp> m(new MetricsHttp());
  m->pool_ = std::make_shared<MetricsPoolState>();
  m->pool_->handlers = std::move(handlers);
  if (tls != nullptr) {
    // A client certificate of the CA required; each connection takes the
    // certificate, key and CA as `tls` holds them then (ServeFrom), and no
    // session is resumed. The files as first served must load.
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    m->pool_->ssl_ctx = ctx;
    const std::string served = tls->ServedFolder();
    if (ctx == nullptr || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
        SSL_CTX_use_certificate_chain_file(ctx, (served + "/server.pem").c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, (served + "/server.key").c_str(), SSL_FILETYPE_PEM) !=
            1 ||
        SSL_CTX_load_verify_locations(ctx, (served + "/ca.pem").c_str(), nullptr) != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("the metrics listener cannot use security.tls (the files served from ",
                       served, "): OpenSSL would not take them"));
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
    // TLS 1.2 with forward secrecy and AEAD only, as the gRPC port serves
    // (outside probe: OpenSSL's default list took CBC and RSA key exchange
    // here); TLS 1.3's suites are all so.
    if (SSL_CTX_set_cipher_list(ctx,
                                "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                                "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                                "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305") != 1) {
      return absl::InternalError("the metrics listener: OpenSSL took none of its cipher suites");
    }
    tls->ServeFrom(ctx);
    m->tls_ = true;
  }
  absl::StatusOr<std::pair<int, int>> bound = Listen(address.host, address.port);
  if (!bound.ok()) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen for metrics on ", listen,
        ": the address is invalid or in use (set metrics.listen, or --metrics_listen, to a "
        "free host:port, or \"off\")"));
  }
  m->listen_fd_ = bound->first;
  m->wake_fd_ = ::eventfd(0, EFD_CLOEXEC);
  if (m->wake_fd_ < 0) {
    ::close(m->listen_fd_);
    return absl::UnavailableError(
        absl::StrCat("the metrics listener on ", listen, " cannot start: ", std::strerror(errno)));
  }
  // ":9464" is every address: named so.
  const std::string host = listen.substr(0, listen.rfind(':'));
  m->address_ = absl::StrCat(host.empty() ? "0.0.0.0" : host, ":", bound->second);
  {
    absl::MutexLock lock(&m->pool_->mu);
    m->pool_->alive = kThreads;
  }
  for (int i = 0; i < kThreads; ++i) m->workers_.emplace_back(Work, m->pool_);
  m->thread_ = std::thread([raw = m.get()] { raw->AcceptLoop(); });
  return m;
}

void MetricsHttp::AcceptLoop() {
  MetricsPoolState& s = *pool_;
  bool said = false;
  for (;;) {
    {
      absl::MutexLock lock(&s.mu);
      auto room = [&s]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
        return s.queue.size() < kMaxWaiting || s.closed;
      };
      s.mu.Await(absl::Condition(&room));
      if (s.closed) return;
    }
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) {
      logging::Error("metrics", absl::StrCat("the metrics listener stopped accepting connections ",
                                             "(", std::strerror(errno),
                                             "); /metrics and /healthz are not served until "
                                             "evenhandd is restarted"));
      return;
    }
    if (fds[1].revents != 0) return;  // Stop()
    if ((fds[0].revents & POLLIN) == 0) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0 &&
        (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED)) {
      continue;
    }
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors or memory: said once, tried again shortly.
        if (!said) {
          logging::Error("metrics", absl::StrCat("the metrics listener cannot accept "
                                                 "connections: ",
                                                 std::strerror(errno), "; retrying"));
          said = true;
        }
        absl::SleepFor(absl::Milliseconds(100));
      }
      continue;
    }
    said = false;
    absl::MutexLock lock(&s.mu);
    if (s.closed) {  // Stop() has taken the queue already
      ::close(fd);
      return;
    }
    s.queue.push_back(fd);
  }
}

MetricsHttp::~MetricsHttp() { Stop(); }

void MetricsHttp::Stop() {
  if (!pool_ || stopped_.exchange(true)) return;
  MetricsPoolState& s = *pool_;
  std::deque<int> waiting;
  {
    absl::MutexLock lock(&s.mu);
    s.closed = true;
    // Handlers read the server's state: none runs once this returns.
    auto idle = [&s]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) { return s.handling == 0; };
    s.mu.Await(absl::Condition(&idle));
    waiting.swap(s.queue);
  }
  const uint64_t one = 1;
  (void)::write(wake_fd_, &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
  ::close(listen_fd_);
  ::close(wake_fd_);
  for (int fd : waiting) ::close(fd);
  // Threads serving a client finish within its deadlines; waited for a
  // bounded time, then left to finish on their own with the state.
  bool all_done;
  {
    absl::MutexLock lock(&s.mu);
    auto done = [&s]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) { return s.alive == 0; };
    all_done = s.mu.AwaitWithTimeout(absl::Condition(&done), kStopWait);
  }
  for (std::thread& t : workers_) {
    if (all_done) {
      t.join();
    } else {
      t.detach();
    }
  }
  if (!all_done) {
    logging::Warning("metrics", "metrics connections were still open at the stop; not waited for");
  }
}

}  // namespace evenhand::server
