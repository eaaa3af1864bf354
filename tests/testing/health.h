// The standard gRPC health service (grpc.health.v1.Health) from a test,
// through a generic stub: Check once, or Watch and record every status.
// HealthCheckResponse is `ServingStatus status = 1`: 1 SERVING, 2 NOT_SERVING.
#ifndef EVENHAND_TESTS_TESTING_HEALTH_H_
#define EVENHAND_TESTS_TESTING_HEALTH_H_

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "base/grpc_deadline.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"

namespace evenhand::testing {

enum class Health { kUnknown = 0, kServing = 1, kNotServing = 2, kFailed = -1 };

inline Health ParseHealth(const grpc::ByteBuffer& reply) {
  std::vector<grpc::Slice> slices;
  if (!reply.Dump(&slices).ok()) return Health::kFailed;
  std::string bytes;
  for (auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  if (bytes.size() == 2 && bytes[0] == 0x08) return static_cast<Health>(bytes[1]);
  return bytes.empty() ? Health::kUnknown : Health::kFailed;
}

// Health/Check of the whole server ("").
inline Health CheckHealth(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::GenericStub generic(channel);
  grpc::ClientContext context;
  context.set_deadline(DeadlineAfter(absl::Seconds(5)));
  grpc::CompletionQueue cq;
  grpc::Slice empty;
  grpc::ByteBuffer request(&empty, 1);
  auto call = generic.PrepareUnaryCall(&context, "/grpc.health.v1.Health/Check", request, &cq);
  call->StartCall();
  grpc::ByteBuffer reply;
  grpc::Status status;
  call->Finish(&reply, &status, reinterpret_cast<void*>(1));
  void* tag;
  bool ok;
  cq.Next(&tag, &ok);
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  return status.ok() ? ParseHealth(reply) : Health::kFailed;
}

// Health/Watch of the whole server, on a thread of its own, recording every
// status it is told until the stream ends.
class HealthWatch {
 public:
  explicit HealthWatch(std::shared_ptr<grpc::Channel> channel) {
    thread_ = std::thread([this, channel] { Run(channel); });
  }
  ~HealthWatch() {
    context_.TryCancel();
    thread_.join();
  }
  std::vector<Health> seen() const {
    absl::MutexLock lock(&mu_);
    return seen_;
  }
  // Waits until `health` has been seen; false on timeout.
  bool WaitFor(Health health, absl::Duration timeout) const {
    absl::MutexLock lock(&mu_);
    auto seen = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      for (Health h : seen_) {
        if (h == health) return true;
      }
      return false;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&seen), timeout);
  }

 private:
  void Run(std::shared_ptr<grpc::Channel> channel) {
    grpc::GenericStub generic(channel);
    grpc::CompletionQueue cq;
    void* tag;
    bool ok;
    auto call = generic.PrepareCall(&context_, "/grpc.health.v1.Health/Watch", &cq);
    call->StartCall(reinterpret_cast<void*>(1));
    if (cq.Next(&tag, &ok) && ok) {
      grpc::Slice empty;
      grpc::ByteBuffer request(&empty, 1);
      call->Write(request, reinterpret_cast<void*>(2));
      if (cq.Next(&tag, &ok) && ok) {
        call->WritesDone(reinterpret_cast<void*>(3));
        cq.Next(&tag, &ok);
        for (;;) {
          grpc::ByteBuffer reply;
          call->Read(&reply, reinterpret_cast<void*>(4));
          if (!cq.Next(&tag, &ok) || !ok) break;
          absl::MutexLock lock(&mu_);
          seen_.push_back(ParseHealth(reply));
        }
      }
    }
    grpc::Status status;
    call->Finish(&status, reinterpret_cast<void*>(5));
    cq.Next(&tag, &ok);
    cq.Shutdown();
    while (cq.Next(&tag, &ok)) {
    }
  }

  grpc::ClientContext context_;
  mutable absl::Mutex mu_;
  std::vector<Health> seen_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace evenhand::testing

#endif  // EVENHAND_TESTS_TESTING_HEALTH_H_
