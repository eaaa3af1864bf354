#include "services/internal/raw_messages.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "base/error_details.h"

namespace evenhand::services::internal {

void AppendLengthDelimited(std::string* out, int number, std::string_view bytes) {
  uint64_t tag = (static_cast<uint64_t>(number) << 3) | 2;
  auto varint = [out](uint64_t n) {
    while (n >= 0x80) {
      out->push_back(static_cast<char>((n & 0x7F) | 0x80));
      n >>= 7;
    }
    out->push_back(static_cast<char>(n));
  };
  varint(tag);
  varint(bytes.size());
  out->append(bytes);
}

absl::Status UnparseableRequest(const std::string& message_type) {
  return WithErrorInfo(
      absl::InvalidArgumentError(absl::StrCat(
          "the request cannot be parsed as ", message_type,
          ": its bytes are not a valid protobuf encoding of it (for example a string field "
          "holding invalid UTF-8, or a field of the wrong type); check the client's .proto "
          "files against proto/evenhand/v1")),
      "UNPARSEABLE_REQUEST", {{"message_type", message_type}});
}

absl::Status ParseRequest(const grpc::ByteBuffer& buffer, google::protobuf::Message* message) {
  std::vector<grpc::Slice> slices;
  if (!buffer.Dump(&slices).ok()) return UnparseableRequest(message->GetTypeName());
  std::string bytes;
  for (const grpc::Slice& s : slices) {
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  if (!message->ParseFromString(bytes)) return UnparseableRequest(message->GetTypeName());
  return absl::OkStatus();
}

grpc::ByteBuffer ToByteBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

}  // namespace evenhand::services::internal
