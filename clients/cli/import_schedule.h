// ImportSchedule: which of an import's streams sends what next, so that an
// event goes only once the streams it names that the file records have
// their first event recorded (the server refuses an event naming what is not
// recorded yet, and every such refusal counts as a refused append on the
// server's metrics, which monitoring alerts on).
//
// Each stream sends its events in file order, in turns of up to a batch. A
// turn ends before an event that names a stream with nothing recorded yet;
// the stream then waits for that one. Streams that are ready go in
// parallel, one turn each at a time. When nothing is ready and nothing is
// in flight, what is left is tried anyway: a stream the server refused
// (UNKNOWN_REFERENCE, naming a stream the file does not hold) once
// something was recorded since, then, if none, every waiting stream's next
// event (streams that name each other's first events), so that the server
// says what is missing. Nothing to try then: the import is over.
//
// What it does not know: the server, or what an event means (import_file.h
// says what it names). Thread-safe.
#ifndef EVENHAND_CLIENTS_CLI_IMPORT_SCHEDULE_H_
#define EVENHAND_CLIENTS_CLI_IMPORT_SCHEDULE_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "clients/cli/import_file.h"

namespace evenhand::cli {

class ImportSchedule {
 public:
  // `streams` must outlive this, unchanged.
  ImportSchedule(const std::vector<ImportStream>& streams, size_t batch);

  ImportSchedule(const ImportSchedule&) = delete;
  ImportSchedule& operator=(const ImportSchedule&) = delete;

  // Events [first, first + count) of streams[stream] to send. A batch ends
  // before an event that names a stream with nothing recorded yet, and
  // before a correction (the server corrects only what is recorded, not an
  // event of the same batch).
  struct Turn {
    size_t stream;
    size_t first;
    size_t count;
    bool forced = false;  // sent whatever its event names (see above)
  };
  // The next turn; waits while others are in flight and none is ready.
  // nullopt: nothing is left to try, or Stop() was called.
  std::optional<Turn> Next();
  // The turn's events are recorded (or were already).
  void Recorded(const Turn& turn);
  // The server refused the turn for naming what is not recorded (`why`;
  // `stream`, the stream it named, if the server said). A turn of several
  // events is tried again one event at a time (what precedes the refused
  // event still goes in); a single event waits for that stream's first
  // event if the file holds it (unless it was already sent whatever it
  // named: streams naming each other wait for nothing more), else until
  // something else is recorded.
  void Refused(const Turn& turn, std::string why, const std::string& stream);
  // No more turns (a failure): Next() returns nullopt from now on.
  void Stop();

  // Once Next() returned nullopt: the count of streams with events left,
  // and the first of them with why it stopped.
  size_t Unfinished(std::string* example) const;
  // Events recorded so far.
  uint64_t recorded() const;

 private:
  struct State {
    size_t done = 0;  // events recorded
    // One event at a time up to here: the end of a refused turn of several,
    // so that what precedes its refused event goes in; batches again after.
    size_t single_until = 0;
    bool forced = false;      // its next event goes whatever it names
    uint64_t refused_at = 0;  // recorded_ when the server refused it
    std::string why;          // the server's last refusal
  };
  // Moves the ready stream's next turn out; nullopt if it must wait.
  std::optional<Turn> TurnOf(size_t s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Nothing ready or in flight: what is left to try, if anything.
  bool RetryWhatIsLeft() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::vector<ImportStream>& streams_;
  const size_t batch_;
  absl::flat_hash_map<std::string, size_t> index_;  // of streams_, by id
  mutable absl::Mutex mu_;
  std::vector<State> state_ ABSL_GUARDED_BY(mu_);
  std::deque<size_t> ready_ ABSL_GUARDED_BY(mu_);
  // Streams waiting for a stream's first event, by that stream.
  absl::flat_hash_map<size_t, std::vector<size_t>> waiting_ ABSL_GUARDED_BY(mu_);
  std::vector<size_t> refused_ ABSL_GUARDED_BY(mu_);
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  bool over_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t recorded_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace evenhand::cli

#endif  // EVENHAND_CLIENTS_CLI_IMPORT_SCHEDULE_H_
