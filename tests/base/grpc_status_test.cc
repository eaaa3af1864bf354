// ToGrpcStatus: the details a refusal carries leave in type order (an
// absl::Status keeps its payloads in no fixed order), and come back whole.
#include "base/grpc_status.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "base/error_details.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"

namespace evenhand {
namespace {

// (absl iterates a status's payloads forwards or backwards depending on
// where they sit in memory: many statuses, kept alive, sit in many places.)
TEST(GrpcStatusTest, DetailsLeaveInTypeOrderWhateverOrderTheyWereAddedIn) {
  std::vector<absl::Status> kept;
  for (int i = 0; i < 64; ++i) {
    const bool retry_first = i % 2 == 0;
    absl::Status s = absl::ResourceExhaustedError("over a limit");
    if (retry_first) s = WithRetryDelay(std::move(s), absl::Milliseconds(200));
    s = WithErrorInfo(std::move(s), "SOME_LIMIT", {{"setting", "someSetting"}});
    if (!retry_first) s = WithRetryDelay(std::move(s), absl::Milliseconds(200));
    kept.push_back(s);
    const grpc::Status wire = ToGrpcStatus(s);
    google::rpc::Status details;
    ASSERT_TRUE(details.ParseFromString(wire.error_details()));
    std::vector<std::string> types;
    for (const auto& any : details.details()) types.push_back(any.type_url());
    EXPECT_EQ(types, (std::vector<std::string>{"type.googleapis.com/google.rpc.ErrorInfo",
                                               "type.googleapis.com/google.rpc.RetryInfo"}));
    const absl::Status back = FromGrpcStatus(wire);
    ASSERT_TRUE(GetErrorInfo(back).has_value());
    EXPECT_EQ(GetErrorInfo(back)->reason(), "SOME_LIMIT");
    ASSERT_TRUE(GetRetryInfo(back).has_value());
    EXPECT_EQ(GetRetryInfo(back)->retry_delay().nanos(), 200'000'000);
  }
}

}  // namespace
}  // namespace evenhand
