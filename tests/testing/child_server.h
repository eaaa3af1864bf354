// evenhandd as a child process of the test: started with a data folder and
// flags, talked to through real gRPC channels, and stopped by signals, so
// tests can kill it, damage its files and restart it as an operator would.
#ifndef EVENHAND_TESTS_TESTING_CHILD_SERVER_H_
#define EVENHAND_TESTS_TESTING_CHILD_SERVER_H_

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "clients/audit_client.h"
#include "clients/event_log_client.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

#ifndef EVENHANDD_PATH
#error "EVENHANDD_PATH must name the evenhandd binary"
#endif

namespace evenhand::testing {

class ChildServer {
 public:
  // The data folder is dir/data; each generation has its own log file.
  ChildServer(const TempDir& dir, int generation, std::vector<std::string> flags = {})
      : data_dir_(dir.Sub("data")),
        ready_file_(dir.Sub(absl::StrCat("ready-", generation))),
        log_file_(dir.Sub(absl::StrCat("log-", generation))),
        flags_(std::move(flags)) {}

  ~ChildServer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      Wait();
    }
  }

  // Starts it (listening on a free port unless a --listen flag says
  // otherwise) and waits until it serves; fails the test if it does not.
  void Start() {
    StartProcess();
    for (int i = 0; i < 2400 && address_.empty(); ++i) {  // up to a minute on a busy machine
      std::ifstream in(ready_file_);
      if (in >> address_) break;
      int status;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        FAIL() << "evenhandd exited at start; log: " << Log();
      }
      absl::SleepFor(absl::Milliseconds(25));
    }
    ASSERT_FALSE(address_.empty()) << "evenhandd did not become ready; log: " << Log();
    client_ = clients::EventLogClient::Connect(address_);
    audit_ = clients::AuditClient::Connect(address_);
  }

  // Starts it expecting it to refuse to start: returns its exit status
  // (from waitpid) once it has exited.
  int StartExpectingFailure() {
    StartProcess();
    return Wait();
  }

  void Signal(int sig) { ::kill(pid_, sig); }

  // The child's exit status as from waitpid.
  int Wait() {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }

  std::string Log() const {
    std::ifstream in(log_file_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  // Resident memory of the process, in bytes (from /proc).
  uint64_t RssBytes() const {
    std::ifstream in(absl::StrCat("/proc/", pid_, "/status"));
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("VmRSS:", 0) == 0) {
        uint64_t kib = 0;
        std::istringstream fields(line.substr(6));
        fields >> kib;
        return kib << 10;
      }
    }
    return 0;
  }
  // Threads of the process.
  int Threads() const {
    std::ifstream in(absl::StrCat("/proc/", pid_, "/status"));
    std::string line;
    while (std::getline(in, line)) {
      int n = 0;
      if (line.rfind("Threads:", 0) == 0 && absl::SimpleAtoi(line.substr(8), &n)) return n;
    }
    return 0;
  }

  const std::string& address() const { return address_; }
  const std::string& data_dir() const { return data_dir_; }
  pid_t pid() const { return pid_; }
  clients::EventLogClient& client() { return *client_; }
  clients::AuditClient& audit() { return *audit_; }

 private:
  void StartProcess() {
    ::unlink(ready_file_.c_str());
    address_.clear();
    pid_ = ::fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      FILE* log = std::fopen(log_file_.c_str(), "w");
      if (log != nullptr) {
        ::dup2(fileno(log), STDOUT_FILENO);
        ::dup2(fileno(log), STDERR_FILENO);
      }
      std::vector<std::string> args = {EVENHANDD_PATH, "--data_dir=" + data_dir_,
                                       "--ready_file=" + ready_file_};
      bool listen = false;
      for (const std::string& f : flags_) {
        if (f.rfind("--listen=", 0) == 0) listen = true;
        args.push_back(f);
      }
      if (!listen) args.push_back("--listen=127.0.0.1:0");
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(EVENHANDD_PATH, argv.data());
      ::_exit(127);
    }
  }

  std::string data_dir_, ready_file_, log_file_, address_;
  std::vector<std::string> flags_;
  pid_t pid_ = -1;
  std::unique_ptr<clients::EventLogClient> client_;
  std::unique_ptr<clients::AuditClient> audit_;
};

}  // namespace evenhand::testing

#endif  // EVENHAND_TESTS_TESTING_CHILD_SERVER_H_
