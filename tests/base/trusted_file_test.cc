// Files that decide whom the server trusts (base/trusted_file.h): read only
// if nobody else can change them, or read them for a key. Real files, modes
// and owners (the owner cases need root, as the tests run here).
#include "base/trusted_file.h"

#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace evenhand {
namespace {

using ::evenhand::testing::StatusIs;
using ::evenhand::testing::TempDir;
using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr gid_t kNogroup = 65534;
constexpr uid_t kNobody = 65534;

std::string Write(const std::string& path, mode_t mode) {
  std::ofstream(path) << "trusted";
  ::chmod(path.c_str(), mode);
  return path;
}

TEST(TrustedFile, AFileOnlyItsOwnerCanChangeIsRead) {
  TempDir dir;
  absl::StatusOr<std::string> text =
      ReadTrustedFile(Write(dir.Sub("a.pem"), 0644), "setting", FileSecrecy::kPublic);
  ASSERT_OK(text);
  EXPECT_EQ(*text, "trusted");
  // A key its group may read (Debian's ssl-cert), and one only its owner.
  EXPECT_OK(CheckTrustedFile(Write(dir.Sub("g.key"), 0640), "setting", FileSecrecy::kSecret));
  EXPECT_OK(CheckTrustedFile(Write(dir.Sub("o.key"), 0600), "setting", FileSecrecy::kSecret));
  // A link is followed (certbot's live/ files are links), and what it
  // names is what is checked.
  std::filesystem::create_symlink(dir.Sub("a.pem"), dir.Sub("link.pem"));
  EXPECT_OK(CheckTrustedFile(dir.Sub("link.pem"), "setting", FileSecrecy::kPublic));
  Write(dir.Sub("open.pem"), 0666);
  std::filesystem::create_symlink(dir.Sub("open.pem"), dir.Sub("link-to-open.pem"));
  EXPECT_THAT(CheckTrustedFile(dir.Sub("link-to-open.pem"), "setting", FileSecrecy::kPublic),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("(mode 0666)")));
  EXPECT_THAT(CheckTrustedFile(dir.Sub("missing.pem"), "setting", FileSecrecy::kPublic),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("cannot read")));
}

TEST(TrustedFile, AFileOthersCanChangeIsRefusedSayingWhatToRun) {
  TempDir dir;
  const std::string path = Write(dir.Sub("ca.pem"), 0666);
  EXPECT_THAT(ReadTrustedFile(path, "security.tls.clientCaFile", FileSecrecy::kPublic),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("security.tls.clientCaFile: " + path),
                             HasSubstr("can be changed by its group or others (mode 0666)"),
                             HasSubstr("chmod go-w " + path))));
  Write(path, 0646);
  EXPECT_FALSE(CheckTrustedFile(path, "s", FileSecrecy::kPublic).ok());
}

TEST(TrustedFile, AGroupThatIsNotItsOwnersOwnMayNotChangeIt) {
  TempDir dir;
  const std::string path = Write(dir.Sub("jwks.json"), 0664);
  // root's group is no private group (users whose primary group it is are
  // not listed as its members): outside probe, a root:root 0664 file and
  // 0775 folder were taken.
  EXPECT_THAT(CheckTrustedFile(path, "security.oidc.jwksFile", FileSecrecy::kPublic),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("can be changed by its group or others (mode 0664)")));
  if (::chown(path.c_str(), ::geteuid(), kNogroup) != 0) GTEST_SKIP() << "not root";
  EXPECT_THAT(CheckTrustedFile(path, "security.oidc.jwksFile", FileSecrecy::kPublic),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("can be changed by its group or others (mode 0664)")));
}

// A POSIX ACL can let another user write what the mode bits give only its
// group: its mask shows as the group bits, so group write with an ACL is
// someone else's write (outside probe: `nobody` given rw by an ACL
// appended its own CA). Written as setfacl would, through the xattr.
TEST(TrustedFile, AnAclThatLetsAnotherUserWriteIsRefused) {
  TempDir dir;
  const std::string path = Write(dir.Sub("ca.pem"), 0600);
  // posix_acl_xattr: version 2, then {tag, perm, id}: user::rw-,
  // user:nobody:rw-, group::---, mask::rw-, other::---.
  auto entry = [](uint16_t tag, uint16_t perm, uint32_t id) {
    std::string e(8, '\0');
    std::memcpy(&e[0], &tag, 2);
    std::memcpy(&e[2], &perm, 2);
    std::memcpy(&e[4], &id, 4);
    return e;
  };
  const uint32_t version = 2;
  std::string acl(reinterpret_cast<const char*>(&version), 4);
  acl += entry(0x01, 6, 0xffffffff) + entry(0x02, 6, kNobody) + entry(0x04, 0, 0xffffffff) +
         entry(0x10, 6, 0xffffffff) + entry(0x20, 0, 0xffffffff);
  if (::setxattr(path.c_str(), "system.posix_acl_access", acl.data(), acl.size(), 0) != 0) {
    GTEST_SKIP() << "no POSIX ACLs here";
  }
  EXPECT_THAT(CheckTrustedFile(path, "security.tls.clientCaFile", FileSecrecy::kPublic),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("can be changed by its group or others (mode 0660)")));
  // A key someone an ACL names may read: group read is then theirs.
  const std::string key = Write(dir.Sub("server.key"), 0600);
  std::string read_only(reinterpret_cast<const char*>(&version), 4);
  read_only += entry(0x01, 6, 0xffffffff) + entry(0x02, 4, kNobody) + entry(0x04, 0, 0xffffffff) +
               entry(0x10, 4, 0xffffffff) + entry(0x20, 0, 0xffffffff);
  ASSERT_EQ(
      ::setxattr(key.c_str(), "system.posix_acl_access", read_only.data(), read_only.size(), 0), 0);
  EXPECT_THAT(CheckTrustedFile(key, "security.tls.keyFile", FileSecrecy::kSecret),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("a private key others can read (mode 0640)")));
  EXPECT_OK(CheckTrustedFile(key, "security.tls.certFile", FileSecrecy::kPublic));
}

TEST(TrustedFile, APrivateKeyOthersCanReadIsRefused) {
  TempDir dir;
  const std::string path = Write(dir.Sub("server.key"), 0644);
  EXPECT_THAT(CheckTrustedFile(path, "security.tls.keyFile", FileSecrecy::kSecret),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("a private key others can read (mode 0644)"),
                             HasSubstr("chmod 600 " + path))));
  // The same file as a certificate is fine.
  EXPECT_OK(CheckTrustedFile(path, "security.tls.certFile", FileSecrecy::kPublic));
}

TEST(TrustedFile, AFileOfAnotherUserIsRefused) {
  TempDir dir;
  const std::string path = Write(dir.Sub("evenhandd.json"), 0600);
  if (::geteuid() != 0 || ::chown(path.c_str(), kNobody, kNogroup) != 0) GTEST_SKIP() << "not root";
  EXPECT_THAT(CheckTrustedFile(path, "config", FileSecrecy::kPublic),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("owned by user id 65534"), HasSubstr("chown root"))));
}

TEST(TrustedFile, AFolderOthersCanWriteIsRefusedUnlessSticky) {
  TempDir dir;
  std::filesystem::create_directory(dir.Sub("open"));
  ::chmod(dir.Sub("open").c_str(), 0777);
  const std::string path = Write(dir.Sub("open") + "/ca.pem", 0644);
  EXPECT_THAT(CheckTrustedFile(path, "security.tls.clientCaFile", FileSecrecy::kPublic),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("which its group or others can write (mode 0777)"),
                             HasSubstr("could replace what is in it"))));
  // Sticky, as /tmp is: others can replace only their own files.
  ::chmod(dir.Sub("open").c_str(), 01777);
  EXPECT_OK(CheckTrustedFile(path, "security.tls.clientCaFile", FileSecrecy::kPublic));
  // Any folder on the way counts, not only the file's own.
  ::chmod(dir.Sub("open").c_str(), 0777);
  std::filesystem::create_directory(dir.Sub("open") + "/sub");
  const std::string deeper = Write(dir.Sub("open") + "/sub/ca.pem", 0644);
  EXPECT_THAT(CheckTrustedFile(deeper, "s", FileSecrecy::kPublic),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("is reached through " + dir.Sub("open") + ", which")));
}

// A link is as trustworthy as the folders it sits in and its owner: one in
// a folder others can write can be pointed elsewhere (outside probe: by
// `nobody`, at the system's CA bundle, while the server ran).
TEST(TrustedFile, ALinkOthersCanPointElsewhereIsRefused) {
  TempDir dir;
  std::filesystem::create_directory(dir.Sub("good"));
  std::filesystem::create_directory(dir.Sub("open"));
  ::chmod(dir.Sub("open").c_str(), 0777);
  const std::string ca = Write(dir.Sub("good") + "/ca.pem", 0644);
  std::filesystem::create_symlink(ca, dir.Sub("open") + "/ca-link.pem");
  EXPECT_THAT(CheckTrustedFile(dir.Sub("open") + "/ca-link.pem", "s", FileSecrecy::kPublic),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("is reached through " + dir.Sub("open") + ", which")));
  // A chain through such a folder, back to a good one.
  std::filesystem::create_symlink(ca, dir.Sub("open") + "/l2");
  std::filesystem::create_symlink(dir.Sub("open") + "/l2", dir.Sub("good") + "/l1");
  EXPECT_FALSE(CheckTrustedFile(dir.Sub("good") + "/l1", "s", FileSecrecy::kPublic).ok());
  // A link someone else owns, in a sticky folder (theirs to replace).
  ::chmod(dir.Sub("open").c_str(), 01777);
  EXPECT_OK(CheckTrustedFile(dir.Sub("open") + "/ca-link.pem", "s", FileSecrecy::kPublic));
  if (::geteuid() != 0 ||
      ::lchown((dir.Sub("open") + "/ca-link.pem").c_str(), kNobody, kNogroup) != 0) {
    GTEST_SKIP() << "not root";
  }
  EXPECT_THAT(
      CheckTrustedFile(dir.Sub("open") + "/ca-link.pem", "s", FileSecrecy::kPublic),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("the link " + dir.Sub("open") +
                                                                "/ca-link.pem, owned by user id "
                                                                "65534")));
}

TEST(TrustedFile, AFifoIsRefusedWithoutWaiting) {
  TempDir dir;
  const std::string path = dir.Sub("signing-key.pem");
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  // (Before, a FIFO as the signing key hung the start, deaf to SIGTERM.)
  EXPECT_THAT(ReadTrustedFile(path, "audit.signingKeyFile", FileSecrecy::kSecret),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not a regular file")));
}

}  // namespace
}  // namespace evenhand
