// Metadata the server and its clients agree on, beyond gRPC's own.
#ifndef EVENHAND_BASE_CALL_METADATA_H_
#define EVENHAND_BASE_CALL_METADATA_H_

namespace evenhand {

// Sent by the server as the initial metadata of an EventLog.AppendStream
// call it has admitted (the caller's credentials and role taken), before
// any answer: a publisher whose call is idle learns at once that it is
// taken, and a call refused has none (its status comes alone).
inline constexpr char kAppendStreamAdmitted[] = "evenhand-admitted";

}  // namespace evenhand

#endif  // EVENHAND_BASE_CALL_METADATA_H_
