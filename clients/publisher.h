// Publisher: how a council system hands events to Even Hand and forgets
// about them, as it would hand messages to a Kafka producer.
//
//   clients::PublisherOptions options;
//   options.connection.address = "evenhand.council.example:50051";
//   options.outbox_dir = "/var/lib/case-system/evenhand-outbox";
//   auto publisher = clients::Publisher::Start(options, [](const clients::Outcome& o) {
//     if (!o.status.ok()) alert(o.event_id, o.status);
//   });
//   (*publisher)->Publish("query-Q-311", event);   // returns once it is the publisher's
//
// It gives each event an id (if it has none), batches each stream's events
// (up to batch_max_events, waiting at most `linger` for more), sends the
// batches over one EventLog.AppendStream call, and reports each event's
// outcome: durable with its position, or refused with Append's error (a
// refused batch is sent again event by event, so only the event at fault
// is refused). An outcome is reported once; only if the publisher's
// process dies between reporting it and removing the event from the outbox
// is it reported again by the next publisher, as a replay.
// A lost connection, an UNAVAILABLE server or a server restart is retried
// with the same event ids, so the log holds each event exactly once (the
// server answers a retry of what it already has as a replay); after a call
// the server answered nothing on, the publisher dials again, reading its
// certificate, key and token files again. A stream's
// events are sent one batch at a time, in the order they were handed over,
// and streams are taken by their oldest waiting event, so events go out in
// the order they were handed over (the server checks references: a group's
// founding councillors' registrations must be in the log before it), except
// that a stream with a batch in flight (or backing off) does not hold the
// others up: its waiting events may then follow later ones of other
// streams. An event refused for naming a stream whose earlier events this
// publisher still holds (UNKNOWN_REFERENCE) waits for them and goes again.
// Where the log's order across two streams matters beyond that, publish the
// second event once the first's outcome is reported.
//
// With `outbox_dir`, Publish first writes the event to an outbox (a RocksDB
// of its own, synced) and it leaves the outbox only with its outcome: events
// handed over while the server was unreachable, or before the publisher's
// own process was killed, are delivered by the next Publisher on that
// outbox. Events reloaded from an outbox are resent one per request, so a
// batch that was written before the crash is recognised as a replay.
//
// A call the server refuses as a whole (UNAUTHENTICATED, PERMISSION_DENIED,
// UNIMPLEMENTED, INVALID_ARGUMENT, FAILED_PRECONDITION: an expired token, a
// certificate without the publisher role, a server without AppendStream),
// or a request refused UNAUTHENTICATED (a token that expired during the
// call: that says nothing of the event), is a refusal of the publisher, not
// of its events. The publisher dials again, reading its certificate, key
// and token files again (a renewed token, a rotated certificate), and tries
// once more at once. Refused again:
//   - with an outbox, the events stay there and wait (an outbox gives an
//     event up only for the server's answer to that event): the publisher
//     tries again after max_backoff, then less and less often up to every
//     5 minutes (each refusal is on the server's record), and at once when
//     one of those files changes; it says why on stderr, and Blocked()
//     returns the refusal until the server takes a call (it says so as it
//     admits one). Publish goes on taking events within max_pending_events
//     and max_pending_bytes, then refuses them after max_block naming it.
//   - without one, every event waiting is reported with the refusal, as a
//     Kafka producer fails its sends, since it would die with the process;
//     and so, at each refusal (tried every max_backoff), are those handed
//     over since.
//
// Thread-safe. `on_outcome` is called from the publisher's own thread (and
// from Close()'s caller) and must not block for long (or call back into
// the publisher).
#ifndef EVENHAND_CLIENTS_PUBLISHER_H_
#define EVENHAND_CLIENTS_PUBLISHER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "clients/connection.h"
#include "evenhand/v1/log.grpc.pb.h"

namespace rocksdb {
class DB;
}

namespace evenhand::clients {

class OutboxMark;

struct PublisherOptions {
  // Its keepalive defaults to 20 s (Connection::keepalive).
  Connection connection;
  // One request holds at most this many events of one stream, and at most
  // about this many bytes of them (well below the server's maxRequestBytes).
  size_t batch_max_events = 100;
  size_t batch_max_bytes = 4 << 20;
  // The server's maxRequestBytes (its default): Publish refuses an event
  // that alone would make a larger request, which the server could only
  // answer by ending the call.
  size_t max_request_bytes = 64 << 20;
  // How long an event waits for others of its stream to fill a batch.
  absl::Duration linger = absl::Milliseconds(5);
  // Requests unanswered on the call at most.
  size_t max_unanswered = 256;
  // Events handed over and without an outcome at most, and their bytes:
  // Publish waits beyond either (back-pressure to the system; one event
  // larger than the bytes alone is let through once nothing else waits).
  size_t max_pending_events = 100000;
  size_t max_pending_bytes = 256 << 20;
  // How long Publish waits for that room at most (Kafka's max.block.ms),
  // then refuses the event with DEADLINE_EXCEEDED, so that a system's
  // request thread is not held while the server is away. Infinite: waits.
  absl::Duration max_block = absl::Seconds(60);
  // The outbox's folder; empty: none (events not yet delivered are lost
  // with the process). Made owner-only (0700): it holds whole events, the
  // confidential fields too, and delivered ones stay in its files until
  // RocksDB compacts them away.
  std::string outbox_dir;
  // While the outbox's file system has less than this free, Publish refuses
  // events (RESOURCE_EXHAUSTED, the event not taken) and Start refuses to
  // open the outbox: RocksDB writing to a full disk can abort the process
  // (Debian's build asserts), taking the council system with it. What the
  // outbox holds stays there and is delivered.
  uint64_t outbox_min_free_bytes = 64 << 20;
  // The free bytes of the outbox's file system (default: statvfs of it; a
  // test may fill the disk in words).
  std::function<absl::StatusOr<uint64_t>()> outbox_free_bytes;
  // Retries back off from 50 ms to this (per stream after an answer to
  // retry, per call after a lost connection), and never sooner than the
  // server's RetryInfo asks (honoured up to 60 s).
  absl::Duration max_backoff = absl::Seconds(2);
  // A call whose oldest request has had no answer for this long is
  // abandoned and its requests sent again on a new one (a server that
  // vanished without closing the connection).
  absl::Duration answer_timeout = absl::Seconds(30);
  // Fills an event's source_system if it has none.
  std::string source_system;
};

struct Outcome {
  std::string event_id;
  std::string stream_id;
  // OK: durable at `position`. Otherwise Append's error (not retryable:
  // validation, expected revision, permission).
  absl::Status status;
  uint64_t position = 0;
  bool idempotent_replay = false;
};

class Publisher {
 public:
  using OnOutcome = std::function<void(const Outcome&)>;

  // Opens the outbox (if any), loads what it holds, and starts sending.
  // The server need not be up: events wait until it is. DATA_LOSS if the
  // outbox is damaged: a checksum mismatch in its files (its write-ahead
  // log's too), a table cut short or missing, its state file (EVENHAND-STATE:
  // "open", or "closed N" after a clean Close()) missing or garbled, or,
  // after a clean Close(), files that hold another count than N (a MANIFEST
  // cut short), or files that end before the last event it took, as its
  // file EVENHAND-TAKEN records it (a write-ahead log cut short, deleted,
  // or damaged where RocksDB takes it for a crash's torn last write:
  // clients/outbox_mark.h). An existing outbox is read whole, read-only,
  // before it is opened to write, so a refused one is left exactly as it
  // was: RocksDB would otherwise drop, without a word, every event after
  // the damage. Move it aside (keep it), see what the log holds of its
  // events, and start on a new one.
  // FAILED_PRECONDITION if another publisher has it open;
  // RESOURCE_EXHAUSTED if its disk is nearly full.
  static absl::StatusOr<std::unique_ptr<Publisher>> Start(PublisherOptions options,
                                                          OnOutcome on_outcome);
  // Close().
  ~Publisher();

  // Hands `event` over for `stream_id`; returns its id (assigned if empty).
  // Once it returns (and the outbox, if any, has it) the event is the
  // publisher's to deliver. DEADLINE_EXCEEDED if there was no room for it
  // within max_block (the event is not taken: hand it over again later).
  // INVALID_ARGUMENT, the event not taken, if it has no occurred_at (as the
  // server refuses it: when it happened is the system's to say, not the
  // moment it was handed over) or names another stream than `stream_id`;
  // RESOURCE_EXHAUSTED if the outbox's disk is nearly full
  // (outbox_min_free_bytes); FAILED_PRECONDITION once closed.
  absl::StatusOr<std::string> Publish(const std::string& stream_id, v1::Event event);

  // Waits until every event handed over has its outcome; false on timeout.
  bool Flush(absl::Duration timeout);

  // Stops sending (at once: Flush first to wait for outcomes). Events
  // without an outcome stay in the outbox, if any, for the next publisher;
  // with none, each is reported CANCELLED (it may be in the log if it was
  // sent: publishing it again with the same id says where).
  void Close();

  // Events handed over and without an outcome.
  size_t pending() const;

  // Why the publisher cannot deliver: the server's refusal of its calls
  // (credentials, role, version) while the outbox keeps the events; OK
  // once a call is taken again. For a system's health check.
  absl::Status Blocked() const;

 private:
  struct Entry {
    uint64_t seq;  // the outbox key
    v1::Event event;
    bool alone = false;  // reloaded from the outbox: sent one per request
    size_t bytes = 0;    // its size, counted in pending_bytes_
    absl::Time handed;   // when Publish took it (its linger runs from then)
  };
  struct Batch {
    std::string stream_id;
    std::vector<Entry> entries;
  };
  struct StreamQueue {
    std::deque<Batch> retries;  // resent as they were, before new events
    std::deque<Entry> fresh;
    bool in_flight = false;
    // After an answer to retry: not sent again before `not_before`.
    absl::Duration backoff;
    absl::Time not_before = absl::InfinitePast();
  };
  struct Sent {
    Batch batch;
    absl::Time at;
  };

  explicit Publisher(PublisherOptions options, OnOutcome on_outcome);
  absl::Status OpenOutbox();
  void Run();
  struct CallEnd {
    // The server answered something on the call.
    bool answered = false;
    // The server took the call (said so, or answered).
    bool admitted = false;
    // The RetryInfo delay of the status the call ended with (zero if none).
    absl::Duration server_delay;
    // Not OK: the server refused the publisher (the call, or a request
    // UNAUTHENTICATED); what the call took waits again.
    absl::Status refused;
  };
  // One AppendStream call, until it breaks or the publisher closes.
  CallEnd ServeCall(v1::EventLog::Stub* stub);
  // After a refusal of the publisher by fresh credentials: with an outbox,
  // noted in Blocked() (and said on stderr when it changes, with
  // `next_try`); without one, every event waiting reported with it.
  void Refused(const absl::Status& refusal, absl::Duration next_try);
  // The server took a call: Blocked() is OK again (said on stderr).
  void Admitted() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ReadAnswers(grpc::ClientReaderWriter<v1::AppendRequest, v1::AppendStreamResponse>* call,
                   grpc::ClientContext* context);
  // The next batch to send (marking its stream in flight), or none: once
  // some stream's batch is ready (full, lingered, or flushing), the batch of
  // the stream whose oldest waiting event was handed over first, of those
  // neither in flight nor backing off.
  std::optional<Batch> NextBatch() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::optional<Batch> TakeBatch(std::map<std::string, StreamQueue>::iterator it)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether the refusal of `batch` (one event) names a stream (ErrorInfo's
  // "stream", UNKNOWN_REFERENCE) of which this publisher still holds an
  // event handed over before it, unanswered.
  bool WaitsForEarlierEvents(const Batch& batch, const v1::AppendStreamResponse& r) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A batch to send again as it was, before its stream's newer events;
  // `back_off` after an answer that asked for a retry, not before the
  // answer's RetryInfo `server_delay` either.
  void Requeue(Batch batch, bool back_off, absl::Duration server_delay = absl::ZeroDuration())
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A batch (in flight) to send again one event per request, before its
  // stream's newer events: a refused batch wrote nothing, and so only the
  // event at fault is refused.
  void RequeueOneByOne(Batch batch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The seq of the stream's first waiting event; 0 if none waits.
  static uint64_t FrontSeq(const StreamQueue& q);
  // Files stream `it` in `order_` by its first waiting event, after a
  // change to what waits; `before` is FrontSeq() before the change.
  void Reorder(std::map<std::string, StreamQueue>::iterator it, uint64_t before)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A batch's final outcomes: out of the outbox, then reported.
  void Finished(const Batch& batch, std::vector<Outcome> outcomes);
  // Every event not yet sent (and, after a call, not answered), one batch
  // per stream, taken out of the queues.
  std::vector<Batch> TakeAllWaiting() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Each of `batches`' events reported with `status`.
  void FailAll(std::vector<Batch> batches, const absl::Status& status);
  bool Awake() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return closing_ || call_broken_ || wake_;
  }

  const PublisherOptions options_;
  const OnOutcome on_outcome_;
  std::unique_ptr<rocksdb::DB> outbox_;
  // The outbox's own lock (EVENHAND-LOCK, flock), held while this
  // publisher lives: a second publisher is refused before RocksDB is
  // touched (which would rotate the first one's LOG on its way to its own
  // lock error). -1: none.
  int outbox_lock_ = -1;
  // The seq of the last event the outbox took, beside it (with an outbox).
  std::unique_ptr<OutboxMark> mark_;
  // RESOURCE_EXHAUSTED while the outbox's disk has less than
  // outbox_min_free_bytes free.
  absl::Status CheckOutboxRoom() const;
  // At a clean Close(): "closed N" (the events the outbox holds) written
  // (synced) in its state file, so that the next Start() can tell files
  // damaged since (a MANIFEST cut short reads as an empty outbox, and
  // RocksDB would then delete the table that held the events) from an
  // outbox emptied.
  void SaveClosedCount();

  mutable absl::Mutex mu_;
  std::map<std::string, StreamQueue> streams_ ABSL_GUARDED_BY(mu_);
  // The streams with events waiting, by the seq of the first (hand-over
  // order), so NextBatch finds the oldest without a pass over every stream.
  std::map<uint64_t, std::map<std::string, StreamQueue>::iterator> order_ ABSL_GUARDED_BY(mu_);
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 1;
  size_t pending_ ABSL_GUARDED_BY(mu_) = 0;
  size_t pending_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  // Publish calls writing to the outbox now (Close() waits for them).
  size_t writing_outbox_ ABSL_GUARDED_BY(mu_) = 0;
  bool flushing_ ABSL_GUARDED_BY(mu_) = false;
  bool wake_ ABSL_GUARDED_BY(mu_) = false;
  // The current call: its context (to cancel it), its requests without an
  // answer by request index, whether it broke, and whether it got answers.
  grpc::ClientContext* call_context_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::map<uint64_t, Sent> in_flight_ ABSL_GUARDED_BY(mu_);
  bool call_broken_ ABSL_GUARDED_BY(mu_) = false;
  bool call_answered_ ABSL_GUARDED_BY(mu_) = false;
  // The server said it took the current call (kAppendStreamAdmitted).
  bool call_admitted_ ABSL_GUARDED_BY(mu_) = false;
  // A request of the current call refused UNAUTHENTICATED.
  absl::Status call_unauthenticated_ ABSL_GUARDED_BY(mu_);
  // Blocked().
  absl::Status blocked_ ABSL_GUARDED_BY(mu_);
  // Only the sender's thread uses them once started (Run dials again
  // after a refusal): the channel, and a hash of the credentials' files
  // as they were just before it was dialled.
  std::shared_ptr<grpc::Channel> channel_;
  uint64_t dialled_files_ = 0;
  // Held by Close() while it joins `sender_` (two at once must not both).
  absl::Mutex close_mu_;
  std::thread sender_;
};

}  // namespace evenhand::clients

#endif  // EVENHAND_CLIENTS_PUBLISHER_H_
