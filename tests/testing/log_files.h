// Small helpers for tests that run evenhandd as a child over a data folder
// of their own: whole files read and written, a configuration that accepts
// any well-formed event, and an append request from events.
#ifndef EVENHAND_TESTS_TESTING_LOG_FILES_H_
#define EVENHAND_TESTS_TESTING_LOG_FILES_H_

#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "evenhand/v1/log.pb.h"
#include "tests/testing/temp_dir.h"

namespace evenhand::testing {

inline void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// "--config=<file>" for tests of the log itself: any well-formed event is
// accepted (no domain validation); `extra` adds fields (",\"a\": 1").
inline std::string LogOnlyConfig(const TempDir& dir, const std::string& extra = "") {
  const std::string path = dir.Sub("config.json");
  WriteFile(path, absl::StrCat("{\"skipDomainValidation\": true", extra, "}"));
  return "--config=" + path;
}

inline v1::AppendRequest AppendRequestOf(const std::string& stream,
                                         std::vector<v1::Event> events) {
  v1::AppendRequest r;
  r.set_stream_id(stream);
  for (auto& e : events) *r.add_events() = std::move(e);
  return r;
}

}  // namespace evenhand::testing

#endif  // EVENHAND_TESTS_TESTING_LOG_FILES_H_
