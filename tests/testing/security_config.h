// A security section for tests, from the JSON an operator would write.
#ifndef EVENHAND_TESTS_TESTING_SECURITY_CONFIG_H_
#define EVENHAND_TESTS_TESTING_SECURITY_CONFIG_H_

#include <string>

#include "evenhand/v1/config.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace evenhand::testing {

inline v1::SecurityConfig SecurityConfigFromJson(const std::string& json) {
  v1::SecurityConfig c;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &c).ok()) << json;
  return c;
}

}  // namespace evenhand::testing

#endif  // EVENHAND_TESTS_TESTING_SECURITY_CONFIG_H_
