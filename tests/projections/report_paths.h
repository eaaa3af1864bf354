// The three ways a report is built, for tests that hold each to the same
// answers: served from the findings index held in memory, from the index
// checkpointed and read back, and derived from the cases.
#ifndef EVENHAND_TESTS_PROJECTIONS_REPORT_PATHS_H_
#define EVENHAND_TESTS_PROJECTIONS_REPORT_PATHS_H_

#include <string>

#include "gtest/gtest.h"

namespace evenhand::projections {

enum class Path { kIndexInMemory, kIndexStored, kDerived };

inline const auto kAllPaths =
    ::testing::Values(Path::kIndexInMemory, Path::kIndexStored, Path::kDerived);

inline std::string PathName(const ::testing::TestParamInfo<Path>& info) {
  switch (info.param) {
    case Path::kIndexInMemory:
      return "IndexInMemory";
    case Path::kIndexStored:
      return "IndexStored";
    case Path::kDerived:
      return "Derived";
  }
  return "";
}

}  // namespace evenhand::projections

#endif  // EVENHAND_TESTS_PROJECTIONS_REPORT_PATHS_H_
