// Reading an import file, and what its events name (import_file.h).
#include "clients/cli/import_file.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "base/status_macros.h"
#include "clients/cli/common.h"
#include "projections/stream_references.h"

namespace evenhand::cli {

absl::StatusOr<std::vector<ImportStream>> ReadImportFile(const std::string& path, size_t* total,
                                                         size_t* repeated) {
  EH_RETURN_IF_ERROR(CheckReadableFile("import", path));
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::map<std::string, size_t> index;
  // Each event id's first line, and where its event is kept.
  struct Seen {
    int line;
    size_t stream;
    size_t index;
  };
  absl::flat_hash_map<std::string, Seen> ids;
  std::vector<ImportStream> streams;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    // A byte order mark (a file saved by some Windows editors) is no event.
    if (number == 1 && absl::StartsWith(line, "\xEF\xBB\xBF")) line.erase(0, 3);
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    v1::Event e;
    if (absl::Status s = ParseJson(line, &e, absl::StrCat(path, ":", number)); !s.ok()) {
      if (absl::StrContains(line, "\"position\"") && absl::StrContains(line, "\"event\"")) {
        return absl::InvalidArgumentError(absl::StrCat(
            s.message(),
            " (this looks like the output of evenhand read, a position and an event per line: "
            "import takes the events themselves, one per line, e.g. jq -c .event)"));
      }
      return s;
    }
    if (e.stream_id().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ":", number, ": streamId is required (the stream each event goes in)"));
    }
    if (e.event_id().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ":", number,
          ": eventId is required, so that running the import again adds nothing twice"));
    }
    // The same event twice (a file concatenated with itself) goes once;
    // an id reused for other content is the file's mistake, said here
    // rather than as whatever the server makes of the second.
    auto [it, inserted] = index.try_emplace(e.stream_id(), streams.size());
    if (inserted) streams.push_back({e.stream_id(), {}, {}, {}});
    ImportStream& stream = streams[it->second];
    auto [seen, first] =
        ids.try_emplace(e.event_id(), Seen{number, it->second, stream.events.size()});
    if (!first) {
      const v1::Event& before = streams[seen->second.stream].events[seen->second.index];
      if (before.SerializeAsString() == e.SerializeAsString()) {
        if (repeated != nullptr) ++*repeated;
        continue;
      }
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", number, ": eventId ", e.event_id(), " is line ",
                       seen->second.line, "'s with other content: an event id names one event"));
    }
    stream.events.push_back(std::move(e));
    stream.lines.push_back(number);
    ++*total;
  }
  // What each event names, once every stream of the file is known.
  for (size_t s = 0; s < streams.size(); ++s) {
    ImportStream& stream = streams[s];
    stream.names.resize(stream.events.size());
    for (size_t i = 0; i < stream.events.size(); ++i) {
      for (const std::string& id : projections::NamedStreams(stream.events[i].payload())) {
        auto it = index.find(id);
        if (it == index.end() || it->second == s) continue;
        stream.names[i].push_back(it->second);
      }
      std::sort(stream.names[i].begin(), stream.names[i].end());
      stream.names[i].erase(std::unique(stream.names[i].begin(), stream.names[i].end()),
                            stream.names[i].end());
    }
  }
  return streams;
}

}  // namespace evenhand::cli
