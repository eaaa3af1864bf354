// evenhandd's appends over EventLog.AppendStream: `publishers` calls, each
// keeping up to `window` one-event requests unanswered (a publisher's
// bounded buffer), for `seconds` after a second of warm-up. Latency is from
// a request's write to its answer.
#ifndef EVENHAND_BENCH_STREAM_APPENDS_H_
#define EVENHAND_BENCH_STREAM_APPENDS_H_

#include <cstdint>
#include <string>

#include "absl/time/time.h"

namespace evenhand::bench {

struct StreamFigures {
  double events_per_s = 0, p50_ms = 0, p99_ms = 0;
  uint64_t errors = 0;
  std::string note;
};

StreamFigures StreamAppends(const std::string& address, int publishers, int window,
                            absl::Duration seconds);

// The same one-event appends handed to the publisher library
// (clients/publisher.h, no outbox) by `publishers` threads, each with up to
// `window` events without an outcome; latency is from Publish to the
// outcome. Each event is a case of its own, as in the other rows, so the
// library pipelines but has nothing to batch.
StreamFigures PublisherAppends(const std::string& address, int publishers, int window,
                               absl::Duration seconds);

}  // namespace evenhand::bench

#endif  // EVENHAND_BENCH_STREAM_APPENDS_H_
