#include "server/socket_poller.h"

#include <pthread.h>

namespace evenhand::server {

SocketPoller::SocketPoller(grpc::ServerBuilder& builder)
    : cq_(builder.AddCompletionQueue(/*is_frequently_polled=*/true)) {}

SocketPoller::~SocketPoller() { Stop(); }

void SocketPoller::Start() {
  if (stopped_ || thread_.joinable()) return;
  thread_ = std::thread([cq = cq_.get()] {
    void* tag;
    bool ok;
    // Returns only once the queue is shut down and drained: no call is
    // ever requested on it, so no event comes but the shutdown.
    while (cq->Next(&tag, &ok)) {
    }
  });
  // Named from here, so the name is there when Start() returns.
  pthread_setname_np(thread_.native_handle(), "eh-poller");
}

void SocketPoller::Stop() {
  if (stopped_) return;
  stopped_ = true;
  cq_->Shutdown();
  if (thread_.joinable()) {
    thread_.join();
  } else {
    // Never started: drained here (Next returns false once shut down).
    void* tag;
    bool ok;
    while (cq_->Next(&tag, &ok)) {
    }
  }
}

}  // namespace evenhand::server
