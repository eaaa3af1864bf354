// SocketPoller: a completion queue registered with the gRPC server only so
// that one thread of ours is always polling the server's sockets.
//
// Why it exists (gRPC 1.51, as Debian ships it): a server with any callback
// method (EventLog.Append, AppendStream, ReadAll, Subscribe) makes its
// synchronous methods' queues non-polling, so reading every socket is left
// to the two "nexting" threads of gRPC's shared callback queue. Each waits
// at most a second for a callback event and then sleeps 100 ms
// (src/cpp/common/completion_queue_cc.cc). While only synchronous calls
// come in (reports, proofs, status), neither ever gets one: both time out
// together, both sleep, and nobody reads a socket for 100 ms, every 1.1 s.
// Measured on a 10M-event log: one report in 50-70 took 100-120 ms against
// 12-15 ms for the rest, whatever the report's size, and the server was
// idle meanwhile. With this queue polled by a thread that never sleeps
// (its deadline is infinite and no call ever completes on it), a socket
// is read as soon as data arrives.
//
// What it does not do: take any call. No service requests calls on this
// queue (gRPC posts its own request for unknown methods only on servers
// without callback methods, and evenhandd has them), so Next() returns
// only once the queue is shut down. Nor does it hurry callback methods
// (Append, AppendStream, Subscribe): their callbacks still run on gRPC's
// two threads, so the first after an idle second may still wait for one to
// wake; their socket is read at once.
//
// Thread-compatible: Start() and Stop() from the thread that owns it.
#ifndef EVENHAND_SERVER_SOCKET_POLLER_H_
#define EVENHAND_SERVER_SOCKET_POLLER_H_

#include <memory>
#include <thread>

#include "grpcpp/grpcpp.h"

namespace evenhand::server {

class SocketPoller {
 public:
  // Registers the queue with `builder`: before BuildAndStart().
  explicit SocketPoller(grpc::ServerBuilder& builder);
  // Stop(), if not yet: destroy it after the server's Shutdown().
  ~SocketPoller();
  SocketPoller(const SocketPoller&) = delete;
  SocketPoller& operator=(const SocketPoller&) = delete;

  // Starts the polling thread (named "eh-poller" before this returns):
  // after BuildAndStart() succeeded; once, and not after Stop().
  void Start();
  // Shuts the queue down and joins the thread: after the server's
  // Shutdown() (gRPC wants a server's queues shut down after it).
  void Stop();

 private:
  std::unique_ptr<grpc::ServerCompletionQueue> cq_;
  std::thread thread_;
  bool stopped_ = false;
};

}  // namespace evenhand::server

#endif  // EVENHAND_SERVER_SOCKET_POLLER_H_
