// scripts/make-certs run for a test: a demo CA, a server certificate for
// localhost and 127.0.0.1, a certificate per demo role, an intruder's from
// another CA, the identity provider's keys and evenhandd.tls.json using
// them all, in a folder of the test's.
//
//   ASSERT_TRUE(testing::MakeCerts(dir_.Sub("certs")));
#ifndef EVENHAND_TESTS_TESTING_MAKE_CERTS_H_
#define EVENHAND_TESTS_TESTING_MAKE_CERTS_H_

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

#ifndef MAKE_CERTS_PATH
#error "MAKE_CERTS_PATH must name scripts/make-certs"
#endif

namespace evenhand::testing {

inline ::testing::AssertionResult MakeCerts(const std::string& dir) {
  const std::string command =
      absl::StrCat(MAKE_CERTS_PATH, " ", dir, " localhost 127.0.0.1 >/dev/null");
  if (std::system(command.c_str()) != 0) {
    return ::testing::AssertionFailure() << command << " failed";
  }
  return ::testing::AssertionSuccess();
}

}  // namespace evenhand::testing

#endif  // EVENHAND_TESTS_TESTING_MAKE_CERTS_H_
