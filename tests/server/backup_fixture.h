// The fixture of the backup tests: a real server (testing::ServerTest) that
// takes backups through the Operations service and appends queries, and the
// `evenhand` command line run as a child (restore, --list).
#ifndef EVENHAND_TESTS_SERVER_BACKUP_FIXTURE_H_
#define EVENHAND_TESTS_SERVER_BACKUP_FIXTURE_H_

#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "evenhand/v1/operations.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/testing/events.h"
#include "tests/testing/run_program.h"
#include "tests/testing/server_fixture.h"

#ifndef EVENHAND_CLI_PATH
#error "EVENHAND_CLI_PATH must name the evenhand binary"
#endif

namespace evenhand {

using CliResult = testing::ProgramResult;

inline CliResult RunCli(const std::vector<std::string>& args) {
  return testing::RunProgram(EVENHAND_CLI_PATH, args);
}

class BackupTest : public testing::ServerTest {
 protected:
  // A backup into `to`, which may be refused.
  grpc::Status TryBackup(const std::string& to, v1::BackupInfo* info) {
    auto stub = v1::Operations::NewStub(channel_);
    grpc::ClientContext context;
    v1::BackupRequest request;
    request.set_to(to);
    return stub->Backup(&context, request, info);
  }

  // A backup into `to`, expected to be taken.
  v1::BackupInfo Backup(const std::string& to) {
    v1::BackupInfo info;
    grpc::Status s = TryBackup(to, &info);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return info;
  }

  // Moves the folder `path` to `elsewhere` and puts a symbolic link to it
  // in its place.
  static void MoveAndLinkBack(const std::string& path, const std::string& elsewhere) {
    std::filesystem::rename(path, elsewhere);
    std::filesystem::create_directory_symlink(elsewhere, path);
  }

  // Appends `n` events with query ids "<prefix><i>", one per call.
  void AppendSome(const std::string& prefix, int n) {
    for (int i = 0; i < n; ++i) {
      v1::AppendRequest request;
      request.set_stream_id(absl::StrCat("query-", prefix, i));
      *request.add_events() = testing::AnEvent(absl::StrCat(prefix, i));
      ASSERT_TRUE(client_->Append(request).ok());
    }
  }
};

}  // namespace evenhand

#endif  // EVENHAND_TESTS_SERVER_BACKUP_FIXTURE_H_
