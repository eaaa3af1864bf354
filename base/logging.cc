#include "base/logging.h"

#include <unistd.h>

#include <atomic>
#include <limits>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/quoted.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace evenhand::logging {
namespace {

std::atomic<Severity> min_severity{Severity::kInfo};
std::atomic<Format> line_format{Format::kText};
std::atomic<Observer> observer{nullptr};
thread_local std::string thread_request_id;

const char* SeverityName(Severity s, Format f) {
  switch (s) {
    case Severity::kInfo:
      return f == Format::kJson ? "info" : "INFO";
    case Severity::kWarning:
      return f == Format::kJson ? "warning" : "WARN";
    case Severity::kError:
      return f == Format::kJson ? "error" : "ERROR";
  }
  return "?";
}

// A JSON string's contents (RFC 8259): quotes, backslashes and control
// characters escaped; bytes that are not valid UTF-8 become U+FFFD, so every
// line parses.
void AppendJsonString(std::string* out, absl::string_view s) {
  out->push_back('"');
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(static_cast<char>(c));
      ++i;
    } else if (c == '\n') {
      *out += "\\n";
      ++i;
    } else if (c == '\t') {
      *out += "\\t";
      ++i;
    } else if (c == '\r') {
      *out += "\\r";
      ++i;
    } else if (c < 0x20 || c == 0x7f) {
      absl::StrAppendFormat(out, "\\u%04x", c);
      ++i;
    } else if (c < 0x80) {
      out->push_back(static_cast<char>(c));
      ++i;
    } else {
      // The length of a well-formed UTF-8 sequence starting here, or 0.
      size_t n = 0;
      if (c >= 0xc2 && c <= 0xdf) n = 2;
      else if (c >= 0xe0 && c <= 0xef) n = 3;
      else if (c >= 0xf0 && c <= 0xf4) n = 4;
      bool ok = n > 0 && i + n <= s.size();
      for (size_t k = 1; ok && k < n; ++k) {
        ok = (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
      }
      if (ok && n == 3) {
        const unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
        ok = !(c == 0xe0 && c1 < 0xa0) && !(c == 0xed && c1 >= 0xa0);
      } else if (ok && n == 4) {
        const unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
        ok = !(c == 0xf0 && c1 < 0x90) && !(c == 0xf4 && c1 >= 0x90);
      }
      if (ok) {
        out->append(s.data() + i, n);
        i += n;
      } else {
        *out += "\xef\xbf\xbd";
        ++i;
      }
    }
  }
  out->push_back('"');
}

}  // namespace

void SetMinimumSeverity(Severity severity) { min_severity.store(severity); }
void SetFormat(Format format) { line_format.store(format); }
void SetObserverForTest(Observer o) { observer.store(o); }

bool ParseSeverity(absl::string_view text, Severity* severity) {
  if (text == "info") *severity = Severity::kInfo;
  else if (text == "warning") *severity = Severity::kWarning;
  else if (text == "error") *severity = Severity::kError;
  else return false;
  return true;
}

bool ParseFormat(absl::string_view text, Format* format) {
  if (text == "text") *format = Format::kText;
  else if (text == "json") *format = Format::kJson;
  else return false;
  return true;
}

RequestScope::RequestScope(std::string request_id)
    : previous_(std::exchange(thread_request_id, std::move(request_id))) {}
RequestScope::~RequestScope() { thread_request_id = std::move(previous_); }

void SetThreadRequestId(std::string request_id) { thread_request_id = std::move(request_id); }
const std::string& ThreadRequestId() { return thread_request_id; }

std::string FormatLine(Format format, Severity severity, absl::string_view component,
                       absl::string_view message, absl::string_view request_id) {
  const std::string time =
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
  if (format == Format::kText) {
    // One line per message: a caller's value with a newline in it would
    // otherwise forge the next line.
    return absl::StrCat(time, " ", SeverityName(severity, format), " ", component, ": ",
                        OneLine(message, std::numeric_limits<size_t>::max()),
                        request_id.empty() ? "" : absl::StrCat(" request_id=", request_id));
  }
  std::string line = absl::StrCat("{\"time\":\"", time, "\",\"level\":\"",
                                  SeverityName(severity, format), "\",\"component\":");
  AppendJsonString(&line, component);
  line += ",\"message\":";
  AppendJsonString(&line, message);
  if (!request_id.empty()) {
    line += ",\"request_id\":";
    AppendJsonString(&line, request_id);
  }
  line += "}";
  return line;
}

void Log(Severity severity, absl::string_view component, absl::string_view message) {
  if (Observer o = observer.load(); o != nullptr && severity != Severity::kInfo) {
    o(severity, component, message);
  }
  if (static_cast<int>(severity) < static_cast<int>(min_severity.load())) return;
  std::string line =
      FormatLine(line_format.load(), severity, component, message, thread_request_id);
  line.push_back('\n');
  // One write per line: concurrent lines do not interleave. A failed write to
  // stderr has nowhere better to be reported.
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace evenhand::logging
