// One evenhandd per data folder (server/data_dir_lock.h), in process: a
// second lock on a held folder is refused naming the holder as it starts,
// listens, and stops; a stopped holder's refusal says to try again shortly;
// the folder is free once the holder is gone. flock(2) refuses a second
// open of the file even within one process, as it refuses another process.
#include "server/data_dir_lock.h"

#include <unistd.h>

#include <fstream>
#include <iterator>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace evenhand::server {
namespace {

using ::evenhand::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

std::string LockFile(const std::string& data_dir) {
  std::ifstream in(data_dir + "/evenhandd.pid");
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(DataDirLockTest, ASecondServerIsToldWhoHoldsTheFolderAndWhetherItIsExiting) {
  testing::TempDir dir;
  const std::string data = dir.Sub("data");
  auto first = DataDirLock::Acquire(data);
  ASSERT_OK(first);
  const std::string pid = absl::StrCat("pid ", ::getpid());
  EXPECT_THAT(LockFile(data), AllOf(HasSubstr(pid + ", starting, since ")));
  EXPECT_THAT(DataDirLock::Acquire(data).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("is in use by another evenhandd (" + pid + ", starting"),
                             HasSubstr("stop that server first"))));

  (*first)->SetListening("127.0.0.1:50051");
  EXPECT_THAT(LockFile(data), HasSubstr(pid + ", listening on 127.0.0.1:50051, since "));
  EXPECT_THAT(DataDirLock::Acquire(data).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("(" + pid + ", listening on 127.0.0.1:50051, since ")));

  (*first)->SetStopped();
  EXPECT_THAT(LockFile(data), AllOf(HasSubstr(pid + ", stopped and exiting, since "),
                                    Not(HasSubstr("listening"))));
  EXPECT_THAT(DataDirLock::Acquire(data).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("is still held by an evenhandd that has stopped and is "
                                       "exiting (" + pid),
                             HasSubstr("try again in a few seconds"),
                             Not(HasSubstr("stop that server first")))));

  first->reset();
  auto second = DataDirLock::Acquire(data);
  EXPECT_TRUE(second.ok()) << "the holder is gone, so the folder is free: "
                           << second.status();
}

}  // namespace
}  // namespace evenhand::server
