// The file `evenhand import` reads: events of many streams, one per line
// (protobuf's JSON mapping with its `streamId` and its `eventId`), grouped
// by stream in file order, with what each event names.
//
// An event names councillors, groups, officers and briefings
// (projections/stream_references.h). The server refuses an event that names
// what is not recorded yet (UNKNOWN_REFERENCE); the import sends an event
// only once the streams it names that the file records have their first
// event recorded (import_schedule.h). What it does not know: whether a
// stream the file does not hold is recorded on the server (the server says).
#ifndef EVENHAND_CLIENTS_CLI_IMPORT_FILE_H_
#define EVENHAND_CLIENTS_CLI_IMPORT_FILE_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "evenhand/v1/events.pb.h"

namespace evenhand::cli {

struct ImportStream {
  std::string id;
  std::vector<v1::Event> events;  // file order
  std::vector<int> lines;         // each event's line in the file
  // For each event, the other streams of the file it names (their indexes
  // in the file's streams).
  std::vector<std::vector<size_t>> names;
};

// The file's streams, in the order of their first lines; `total` is the
// count of their events. The same event twice goes once (`repeated`, if
// given, counts the lines left out so); an event id reused
// for other content, a line without a stream or an id, or one that is not
// an event are InvalidArgument, naming the line; a file that cannot be read
// is NotFound.
absl::StatusOr<std::vector<ImportStream>> ReadImportFile(const std::string& path, size_t* total,
                                                         size_t* repeated = nullptr);

}  // namespace evenhand::cli

#endif  // EVENHAND_CLIENTS_CLI_IMPORT_FILE_H_
