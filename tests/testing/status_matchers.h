// Status assertions for GoogleTest (Debian's abseil ships no matchers).
//
//   EXPECT_OK(store->Close());
//   ASSERT_OK_AND_ASSIGN(auto result, store->Append(...));
//   EXPECT_THAT(status, StatusIs(absl::StatusCode::kFailedPrecondition,
//                                HasSubstr("revision 3")));
#ifndef EVENHAND_TESTS_TESTING_STATUS_MATCHERS_H_
#define EVENHAND_TESTS_TESTING_STATUS_MATCHERS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace evenhand::testing {

inline const absl::Status& GetStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

MATCHER_P2(StatusIs, code, message_matcher,
           std::string("has code ") + absl::StatusCodeToString(code)) {
  const absl::Status& s = GetStatus(arg);
  if (s.code() != code) {
    *result_listener << "whose status is " << s.ToString();
    return false;
  }
  return ::testing::ExplainMatchResult(message_matcher, std::string(s.message()),
                                       result_listener);
}

}  // namespace evenhand::testing

#define EXPECT_OK(expr)                                                    \
  do {                                                                     \
    /* A copy: `expr` may be a temporary that dies with this line. */     \
    const ::absl::Status eh_s_ = ::evenhand::testing::GetStatus(expr);    \
    EXPECT_TRUE(eh_s_.ok()) << eh_s_.ToString();                           \
  } while (0)

#define ASSERT_OK(expr)                                                    \
  do {                                                                     \
    const ::absl::Status eh_s_ = ::evenhand::testing::GetStatus(expr);    \
    ASSERT_TRUE(eh_s_.ok()) << eh_s_.ToString();                           \
  } while (0)

#define EH_TEST_CONCAT_INNER_(a, b) a##b
#define EH_TEST_CONCAT_(a, b) EH_TEST_CONCAT_INNER_(a, b)
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  ASSERT_OK_AND_ASSIGN_IMPL_(EH_TEST_CONCAT_(eh_sor_, __LINE__), lhs, expr)
#define ASSERT_OK_AND_ASSIGN_IMPL_(sor, lhs, expr) \
  auto sor = (expr);                               \
  ASSERT_TRUE(sor.ok()) << sor.status().ToString(); \
  lhs = *std::move(sor)

#endif  // EVENHAND_TESTS_TESTING_STATUS_MATCHERS_H_
