#include "bench/stream_appends.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "base/uuid.h"
#include "bench/bench_process.h"
#include "clients/publisher.h"
#include "evenhand/v1/log.grpc.pb.h"

namespace evenhand::bench {
namespace {

// The figures of a run of `seconds` from its answers' latencies.
StreamFigures Summarise(std::vector<double>& latencies_ms, uint64_t counted, uint64_t errors,
                        const std::string& note, absl::Duration seconds) {
  StreamFigures f;
  std::sort(latencies_ms.begin(), latencies_ms.end());
  f.events_per_s = counted / absl::ToDoubleSeconds(seconds);
  f.p50_ms = Percentile(latencies_ms, 0.5);
  f.p99_ms = Percentile(latencies_ms, 0.99);
  f.errors = errors;
  f.note = note;
  return f;
}

}  // namespace

StreamFigures StreamAppends(const std::string& address, int publishers, int window,
                            absl::Duration seconds) {
  const std::string run = NewUuid().substr(0, 6);
  const absl::Time start = absl::Now() + absl::Seconds(1);  // after warm-up
  const absl::Time end = start + seconds;
  absl::Mutex mu;
  std::vector<double> latencies_ms;
  uint64_t counted = 0, errors = 0;
  std::string note;
  std::vector<std::thread> threads;
  for (int p = 0; p < publishers; ++p) {
    threads.emplace_back([&, p] {
      auto stub = v1::EventLog::NewStub(Channel(address, p % 8));
      grpc::ClientContext context;
      auto call = stub->AppendStream(&context);
      absl::Mutex call_mu;
      std::map<uint64_t, absl::Time> sent;  // request index -> when written
      struct Room {
        const std::map<uint64_t, absl::Time>* sent;
        size_t window;
        bool Has() const { return sent->size() < window; }
      } room{&sent, static_cast<size_t>(window)};
      std::thread reader([&] {
        v1::AppendStreamResponse r;
        while (call->Read(&r)) {
          const absl::Time now = absl::Now();
          absl::Time at;
          {
            absl::MutexLock lock(&call_mu);
            at = sent[r.request_index()];
            sent.erase(r.request_index());
          }
          if (at < start || now > end) continue;
          absl::MutexLock lock(&mu);
          if (r.has_error()) {
            ++errors;
            if (note.empty()) note = r.error().message();
            continue;
          }
          ++counted;
          latencies_ms.push_back(absl::ToDoubleMilliseconds(now - at));
        }
      });
      for (uint64_t i = 0; absl::Now() < end; ++i) {
        v1::AppendRequest request;
        request.set_stream_id(absl::StrCat("query-", run, "-s", p, "-", i));
        *request.add_events() = QueryEvent(absl::StrCat(run, "-s", p, "-", i));
        {
          absl::MutexLock lock(&call_mu);
          call_mu.Await(absl::Condition(&room, &Room::Has));
          sent[i] = absl::Now();
        }
        if (!call->Write(request)) break;
      }
      call->WritesDone();
      reader.join();
      (void)call->Finish();
    });
  }
  for (auto& t : threads) t.join();
  return Summarise(latencies_ms, counted, errors, note, seconds);
}

StreamFigures PublisherAppends(const std::string& address, int publishers, int window,
                               absl::Duration seconds) {
  const std::string run = NewUuid().substr(0, 6);
  const absl::Time start = absl::Now() + absl::Seconds(1);
  const absl::Time end = start + seconds;
  absl::Mutex mu;
  std::map<std::string, std::pair<absl::Time, int>> published;  // id -> when, thread
  std::map<int, int> unsettled;                                 // thread -> events without outcome
  std::vector<double> latencies_ms;
  uint64_t counted = 0, errors = 0;
  std::string note;
  clients::PublisherOptions options;
  options.connection.address = address;
  options.source_system = "bench";
  options.linger = absl::Milliseconds(2);
  auto publisher = clients::Publisher::Start(options, [&](const clients::Outcome& o) {
    const absl::Time now = absl::Now();
    absl::MutexLock lock(&mu);
    auto it = published.find(o.event_id);
    if (it == published.end()) return;
    const absl::Time at = it->second.first;
    --unsettled[it->second.second];
    published.erase(it);
    if (at < start || now > end) return;
    if (!o.status.ok()) {
      ++errors;
      if (note.empty()) note = std::string(o.status.message());
      return;
    }
    ++counted;
    latencies_ms.push_back(absl::ToDoubleMilliseconds(now - at));
  });
  StreamFigures f;
  if (!publisher.ok()) {
    f.note = publisher.status().ToString();
    return f;
  }
  std::vector<std::thread> threads;
  for (int p = 0; p < publishers; ++p) {
    threads.emplace_back([&, p] {
      for (uint64_t i = 0; absl::Now() < end; ++i) {
        {
          absl::MutexLock lock(&mu);
          auto room = [&]() { return unsettled[p] < window; };
          mu.Await(absl::Condition(&room));
          ++unsettled[p];
        }
        // A case of its own per event, as the other rows (one event per
        // append): what the library adds is pipelining, not batching.
        const std::string id = absl::StrCat(run, "-p", p, "-", i);
        v1::Event e = QueryEvent(id);
        {
          absl::MutexLock lock(&mu);
          published[e.event_id()] = {absl::Now(), p};
        }
        const std::string stream = absl::StrCat("query-", id);
        if (!(*publisher)->Publish(stream, std::move(e)).ok()) break;
      }
    });
  }
  for (auto& t : threads) t.join();
  (*publisher)->Flush(absl::Seconds(30));
  (*publisher)->Close();
  return Summarise(latencies_ms, counted, errors, note, seconds);
}

}  // namespace evenhand::bench
