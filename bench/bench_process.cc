#include "bench/bench_process.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <httplib.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/time_util.h"
#include "base/uuid.h"

#ifndef EVENHANDD_PATH
#error "EVENHANDD_PATH must name the evenhandd binary"
#endif

namespace evenhand::bench {

namespace fs = std::filesystem;

std::string TempDir(const std::string& name) {
  const char* tmp = std::getenv("TMPDIR");
  std::string dir = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/evenhand-bench-", name, "-",
                                 NewUuid().substr(0, 8));
  fs::create_directories(dir);
  return dir;
}

double Percentile(std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  return sorted[std::min(sorted.size() - 1, static_cast<size_t>(sorted.size() * p))];
}

namespace {

// A port nobody listens on now.
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof(a);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  close(fd);
  return port;
}

}  // namespace

namespace {
std::string& EvenhanddPath() {
  static std::string path = EVENHANDD_PATH;
  return path;
}
}  // namespace

void SetEvenhanddPath(const std::string& path) {
  if (!path.empty()) EvenhanddPath() = path;
}

std::map<std::string, double> ScrapeMetrics(const std::string& address) {
  std::map<std::string, double> out;
  httplib::Client client(absl::StrCat("http://", address));
  client.set_connection_timeout(2);
  client.set_read_timeout(5);
  auto res = client.Get("/metrics");
  if (!res || res->status != 200) return out;
  std::istringstream in(res->body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    // A labelled sample's name ends at its closing brace.
    const size_t brace = line.find('}');
    const size_t space = line.find(' ', brace == std::string::npos ? 0 : brace);
    if (space == std::string::npos) continue;
    out[line.substr(0, space)] = std::strtod(line.c_str() + space + 1, nullptr);
  }
  return out;
}

Child::Child(const std::string& data_dir, std::vector<std::string> extra) {
  ready_ = data_dir + ".ready";
  bool metrics_given = false;
  for (const std::string& a : extra) metrics_given |= a.rfind("--metrics_listen=", 0) == 0;
  if (!metrics_given) {
    metrics_ = absl::StrCat("127.0.0.1:", FreePort());
    extra.push_back("--metrics_listen=" + metrics_);
  }
  log_ = data_dir + ".log";
  fs::remove(ready_);
  pid_ = fork();
  if (pid_ == 0) {
    FILE* log = std::fopen(log_.c_str(), "w");
    if (log != nullptr) {
      dup2(fileno(log), STDOUT_FILENO);
      dup2(fileno(log), STDERR_FILENO);
    }
    const std::string binary = EvenhanddPath();
    std::vector<std::string> args = {binary, "--listen=127.0.0.1:0",
                                     "--data_dir=" + data_dir, "--ready_file=" + ready_};
    for (std::string& a : extra) args.push_back(std::move(a));
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  for (int i = 0; i < 6000 && address_.empty(); ++i) {
    std::ifstream in(ready_);
    in >> address_;
    if (address_.empty()) absl::SleepFor(absl::Milliseconds(50));
  }
}

Child::~Child() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    int status;
    waitpid(pid_, &status, 0);
  }
}

size_t Child::RssMiB() const {
  std::ifstream in(absl::StrCat("/proc/", pid_, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      std::istringstream s(line.substr(6));
      size_t kb = 0;
      s >> kb;
      return kb / 1024;
    }
  }
  return 0;
}

std::shared_ptr<grpc::Channel> Channel(const std::string& address, int id,
                                       std::shared_ptr<grpc::ChannelCredentials> credentials) {
  grpc::ChannelArguments args;
  args.SetInt("evenhand.bench.channel", id);  // distinct args: distinct connections
  args.SetMaxReceiveMessageSize(256 << 20);
  return grpc::CreateCustomChannel(address, credentials, args);
}

size_t RssMib(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoul(line.substr(6)) / 1024;
  }
  return 0;
}

v1::Event QueryEvent(const std::string& id) {
  v1::Event e;
  e.set_event_id(NewUuid());
  e.set_type("WrittenQueryReceived");
  *e.mutable_occurred_at() = ToProtoTime(absl::Now());
  e.set_source_system("bench");
  auto* q = e.mutable_payload()->mutable_written_query_received();
  q->set_query_id(id);
  q->set_member_id("m-bench");
  q->set_addressed_to_officer_id("o-bench");
  q->set_subject(std::string(200, 's'));
  q->set_channel("email");
  return e;
}

}  // namespace evenhand::bench
