#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"
#include "storage/internal/keys.h"

namespace evenhand::storage::internal {
namespace {

using google::protobuf::internal::WireFormatLite;

// The length-delimited field `number` of the message in `in`, or false.
bool FindBytes(std::string_view message, int number, std::string_view* out) {
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(message.data()),
                                            static_cast<int>(message.size()));
  for (;;) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0) return false;
    if (WireFormatLite::GetTagFieldNumber(tag) == number &&
        WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      uint32_t length;
      if (!in.ReadVarint32(&length)) return false;
      const int at = in.CurrentPosition();
      if (static_cast<size_t>(at) + length > message.size()) return false;
      *out = message.substr(static_cast<size_t>(at), length);
      return true;
    }
    if (!WireFormatLite::SkipField(&in, tag)) return false;
  }
}

}  // namespace
}  // namespace evenhand::storage::internal

namespace evenhand::storage {

// RecordedEvent field 3 is the Event, whose fields 2 and 9 are type and
// stream_id (proto/evenhand/v1/events.proto).
bool PeekEnvelope(std::string_view record, std::string_view* stream_id, std::string_view* type) {
  using internal::FindBytes;
  std::string_view event;
  if (!FindBytes(record, 3, &event)) return false;
  *stream_id = std::string_view();
  *type = std::string_view();
  FindBytes(event, 9, stream_id);
  FindBytes(event, 2, type);
  return true;
}

}  // namespace evenhand::storage
