#include "bench/bench_process.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

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

Child::Child(const std::string& data_dir, std::vector<std::string> extra) {
  ready_ = data_dir + ".ready";
  log_ = data_dir + ".log";
  fs::remove(ready_);
  pid_ = fork();
  if (pid_ == 0) {
    FILE* log = std::fopen(log_.c_str(), "w");
    if (log != nullptr) {
      dup2(fileno(log), STDOUT_FILENO);
      dup2(fileno(log), STDERR_FILENO);
    }
    std::vector<std::string> args = {EVENHANDD_PATH, "--listen=127.0.0.1:0",
                                     "--data_dir=" + data_dir, "--ready_file=" + ready_};
    for (std::string& a : extra) args.push_back(std::move(a));
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(EVENHANDD_PATH, argv.data());
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
