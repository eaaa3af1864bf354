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
// queue, so Next() returns only once the queue is shut down.
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
  // Stop(), if not yet.
  ~SocketPoller();
  SocketPoller(const SocketPoller&) = delete;
  SocketPoller& operator=(const SocketPoller&) = delete;

  // Starts the polling thread: after BuildAndStart() succeeded.
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
