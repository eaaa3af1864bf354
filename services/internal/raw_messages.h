// Messages built from and parsed out of raw gRPC byte buffers, for the
// methods that stream stored records without re-serialising them (ReadAll,
// Subscribe). Internal to services/.
#ifndef EVENHAND_SERVICES_INTERNAL_RAW_MESSAGES_H_
#define EVENHAND_SERVICES_INTERNAL_RAW_MESSAGES_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "google/protobuf/message.h"
#include "grpcpp/grpcpp.h"

namespace evenhand::services::internal {

// Appends field `number` (length-delimited) holding `bytes`: a protobuf
// message's repeated message field, or an embedded message.
void AppendLengthDelimited(std::string* out, int number, std::string_view bytes);

// Parses `buffer` as `*message`; InvalidArgument naming the message type if
// the bytes are not one (e.g. a string field holding invalid UTF-8).
absl::Status ParseRequest(const grpc::ByteBuffer& buffer, google::protobuf::Message* message);

// `bytes` as a buffer to send.
grpc::ByteBuffer ToByteBuffer(const std::string& bytes);

// What a request that cannot be parsed is told.
absl::Status UnparseableRequest(const std::string& message_type);

}  // namespace evenhand::services::internal

#endif  // EVENHAND_SERVICES_INTERNAL_RAW_MESSAGES_H_
