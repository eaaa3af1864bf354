// What the benchmark programs share for running evenhandd: temporary
// folders, percentiles, a child evenhandd on a free port, gRPC channels, a
// process's resident memory.
#ifndef EVENHAND_BENCH_BENCH_PROCESS_H_
#define EVENHAND_BENCH_BENCH_PROCESS_H_

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "evenhand/v1/events.pb.h"
#include "grpcpp/grpcpp.h"

namespace evenhand::bench {

// A new folder under $TMPDIR (or /tmp) named for `name`.
std::string TempDir(const std::string& name);

// The `p` quantile of `sorted` (0 if empty).
double Percentile(std::vector<double>& sorted, double p);

// Runs `path` instead of the evenhandd built with the benchmark (another
// build, to compare two in one run); "" keeps the built one.
void SetEvenhanddPath(const std::string& path);

// evenhandd (EVENHANDD_PATH, or SetEvenhanddPath's) as a child on a free port, with its data in
// `data_dir` and its output in "<data_dir>.log"; SIGTERM on destruction.
class Child {
 public:
  explicit Child(const std::string& data_dir, std::vector<std::string> extra = {});
  ~Child();
  const std::string& address() const { return address_; }
  // host:port of its /metrics listener.
  const std::string& metrics_address() const { return metrics_; }
  pid_t pid() const { return pid_; }
  size_t RssMiB() const;

 private:
  pid_t pid_ = -1;
  std::string ready_, log_, address_, metrics_;
};

// The samples of a Prometheus text page from GET /metrics at `address`
// (name, with its labels as the page writes them, -> value); empty if it
// cannot be read.
std::map<std::string, double> ScrapeMetrics(const std::string& address);

// A channel of its own (`id` keeps channels to one address apart).
std::shared_ptr<grpc::Channel> Channel(
    const std::string& address, int id = 0,
    std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials());

// A written query received, with a 200-byte subject: the event every
// append run writes (evenhandd, raw RocksDB and PostgreSQL alike).
v1::Event QueryEvent(const std::string& id);

// Resident memory of process `pid`, in MiB.
size_t RssMib(pid_t pid);

}  // namespace evenhand::bench

#endif  // EVENHAND_BENCH_BENCH_PROCESS_H_
