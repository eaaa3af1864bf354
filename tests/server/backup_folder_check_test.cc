// A backup folder whose files are not what its backups' descriptions record
// (outside probe): each such backup is listed as damaged, saying why, before
// a restore would fail on it; a description that disagrees with another on
// a shared file no longer aborts the server (Debian's RocksDB asserts on
// it); a backup that lost its description keeps its id; a journal that lost
// a line is not restored as if whole, and one changed in any way, or a
// signing key not the one that signed, is listed as damage; and a log whose
// own table files are damaged is not backed up.
#include <algorithm>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "integrity/backup_seal.h"
#include "integrity/backups.h"
#include "integrity/signing.h"
#include "tests/server/backup_fixture.h"
#include "tests/testing/log_files.h"

namespace evenhand {
namespace {

namespace fs = std::filesystem;
using ::evenhand::testing::ReadFile;
using ::evenhand::testing::WriteFile;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

// Flips one bit of the byte at `offset` of `path`.
void FlipBit(const fs::path& path, size_t offset) {
  std::string bytes = ReadFile(path);
  ASSERT_LT(offset, bytes.size());
  bytes[offset] = static_cast<char>(bytes[offset] ^ 1);
  WriteFile(path, bytes);
}

// The lines of meta/<id> that name files: "<path> crc32 <n>".
std::vector<std::vector<std::string>> FileLines(const fs::path& meta) {
  std::vector<std::vector<std::string>> out;
  for (absl::string_view line : absl::StrSplit(ReadFile(meta), '\n')) {
    std::vector<std::string> words = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (!words.empty() && absl::StrContains(words[0], "/")) out.push_back(words);
  }
  return out;
}

// Rewrites the Even Hand manifest kept in `meta` (a backup's description,
// meta/<id>) as `edit` says, as someone who can write the folder could.
void EditManifest(const fs::path& meta, const std::function<void(v1::BackupManifest*)>& edit) {
  std::vector<std::string> lines = absl::StrSplit(ReadFile(meta), '\n');
  bool found = false;
  for (std::string& line : lines) {
    if (!absl::StartsWith(line, "metadata ")) continue;
    absl::StatusOr<v1::BackupManifest> manifest =
        integrity::ParseManifest(absl::HexStringToBytes(line.substr(9)));
    ASSERT_TRUE(manifest.ok()) << manifest.status();
    edit(&*manifest);
    line = "metadata " + absl::BytesToHexString(integrity::ManifestJson(*manifest));
    found = true;
  }
  ASSERT_TRUE(found) << meta;
  WriteFile(meta, absl::StrJoin(lines, "\n"));
}

class BackupFolderCheckTest : public BackupTest {
 protected:
  // Two backups of a growing log into `dir`; the server is left running.
  void TwoBackups(const std::string& dir) {
    AppendSome(absl::StrCat(fs::path(dir).filename().string(), "-a-"), 10);
    EXPECT_TRUE(Backup(dir).complete());
    AppendSome(absl::StrCat(fs::path(dir).filename().string(), "-b-"), 10);
    EXPECT_TRUE(Backup(dir).complete());
  }

  std::string List(const std::string& dir) {
    CliResult listed = RunCli({"restore", "--from=" + dir, "--list"});
    EXPECT_EQ(listed.exit_code, 0) << listed.output;
    return listed.output;
  }
};

// Debian's RocksDB stops on assert(false) when two descriptions record
// different checksums for one shared file: one changed digit in meta/2
// aborted the server at every backup into, or listing of, the folder.
TEST_F(BackupFolderCheckTest, DescriptionsThatDisagreeOnASharedFileAbortNothing) {
  StartServer();
  const std::string backups = dir_.Sub("backups");
  TwoBackups(backups);
  const fs::path meta2 = fs::path(backups) / "meta" / "2";
  std::string shared;
  for (const auto& words : FileLines(fs::path(backups) / "meta" / "1")) {
    if (absl::StartsWith(words[0], "shared_checksum/")) shared = words[0];
  }
  ASSERT_FALSE(shared.empty());
  std::string text = ReadFile(meta2);
  const size_t at = text.find(shared + " crc32 ");
  ASSERT_NE(at, std::string::npos) << "backup 2 shares " << shared;
  const size_t digit = text.find('\n', at) - 1;
  text[digit] = text[digit] == '0' ? '1' : '0';
  WriteFile(meta2, text);

  EXPECT_THAT(List(backups),
              AllOf(HasSubstr("DAMAGED (not restorable): its description (meta/2) is damaged: it "
                              "records"),
                    HasSubstr("as the checksum of " + shared)));
  // The server lists it, and backs up into the folder, without stopping.
  auto stub = v1::Operations::NewStub(channel_);
  grpc::ClientContext context;
  v1::ListBackupsRequest request;
  request.set_dir(backups);
  v1::ListBackupsResponse response;
  ASSERT_TRUE(stub->ListBackups(&context, request, &response).ok());
  ASSERT_EQ(response.backups_size(), 2);
  EXPECT_TRUE(response.backups(0).complete());
  EXPECT_THAT(response.backups(1).damage(), HasSubstr("meta/2"));
  const v1::BackupInfo third = Backup(backups);
  EXPECT_EQ(third.backup_id(), 3u);
  EXPECT_TRUE(third.complete());
  StopServer();
  EXPECT_EQ(RunCli({"restore", "--from=" + backups, "--to=" + dir_.Sub("restored")}).exit_code, 0);
  CliResult two = RunCli({"restore", "--from=" + backups, "--backup=2", "--to=" + dir_.Sub("r2")});
  EXPECT_EQ(two.exit_code, 1) << two.output;
  EXPECT_FALSE(fs::exists(dir_.Sub("r2")));
}

// Each was listed complete and failed only at a restore.
TEST_F(BackupFolderCheckTest, FilesThatAreNotWhatWasRecordedAreListedAsDamage) {
  StartServer();
  const std::string original = dir_.Sub("backups");
  TwoBackups(original);
  StopServer();
  auto copy = [&](const std::string& name) {
    const std::string to = dir_.Sub(name);
    fs::copy(original, to, fs::copy_options::recursive);
    return to;
  };
  const auto meta2 = FileLines(fs::path(original) / "meta" / "2");
  auto first_of = [&](const std::string& prefix) {
    for (const auto& words : meta2) {
      if (absl::StartsWith(words[0], prefix)) return words[0];
    }
    return std::string();
  };

  const std::string cut = copy("cut");
  const std::string table = first_of("shared_checksum/");
  ASSERT_FALSE(table.empty());
  fs::resize_file(fs::path(cut) / table, 1000);
  EXPECT_THAT(List(cut), HasSubstr(table + ", one of its files, is 1000 bytes, not the "));

  const std::string flipped = copy("flipped");
  const std::string manifest = first_of("private/2/MANIFEST");
  ASSERT_FALSE(manifest.empty());
  FlipBit(fs::path(flipped) / manifest, 10);
  EXPECT_THAT(List(flipped),
              HasSubstr(manifest + ", one of its files, is damaged: its checksum is "));

  const std::string keyless = copy("keyless");
  ASSERT_TRUE(fs::remove(fs::path(keyless) / "evenhand/2/signing-key.pem"));
  EXPECT_THAT(List(keyless), HasSubstr("evenhand/2/signing-key.pem, its copy of the signing key, "
                                       "is missing"));

  const std::string journalless = copy("journalless");
  ASSERT_TRUE(fs::remove(fs::path(journalless) / "evenhand/2/checkpoints.jsonl"));
  EXPECT_THAT(List(journalless), HasSubstr("evenhand/2/checkpoints.jsonl, its checkpoint journal, "
                                           "is missing"));

  // A link to /dev/zero, which reads for ever: a restore hung on it.
  const std::string endless = copy("endless");
  fs::remove(fs::path(endless) / table);
  fs::create_symlink("/dev/zero", fs::path(endless) / table);
  EXPECT_THAT(List(endless), HasSubstr(table + ", one of its files, is not a regular file"));
  const std::string endless_journal = copy("endless-journal");
  fs::remove(fs::path(endless_journal) / "evenhand/2/checkpoints.jsonl");
  fs::create_symlink("/dev/zero", fs::path(endless_journal) / "evenhand/2/checkpoints.jsonl");
  EXPECT_THAT(List(endless_journal), HasSubstr("checkpoints.jsonl is not a regular file"));

  // The checkpoint's tree size in the manifest (hex JSON in meta/2) edited.
  const std::string edited = copy("edited");
  {
    const fs::path meta = fs::path(edited) / "meta" / "2";
    std::vector<std::string> lines = absl::StrSplit(ReadFile(meta), '\n');
    bool changed = false;
    for (std::string& line : lines) {
      if (!absl::StartsWith(line, "metadata ")) continue;
      std::string json = absl::HexStringToBytes(line.substr(9));
      const size_t at = json.find("\"treeSize\": \"");
      ASSERT_NE(at, std::string::npos) << json;
      json[at + 13] = json[at + 13] == '9' ? '8' : static_cast<char>(json[at + 13] + 1);
      line = "metadata " + absl::AsciiStrToUpper(absl::BytesToHexString(json));
      changed = true;
    }
    ASSERT_TRUE(changed);
    WriteFile(meta, absl::StrJoin(lines, "\n"));
  }
  EXPECT_THAT(List(edited), HasSubstr("meta/2, is damaged: its checkpoint does not verify"));

  // A file's line repeated, and the count of files raised to match: RocksDB
  // counted the file twice (its size too).
  const std::string doubled = copy("doubled");
  {
    const fs::path meta = fs::path(doubled) / "meta" / "2";
    std::vector<std::string> lines = absl::StrSplit(ReadFile(meta), '\n');
    const std::string count = std::to_string(meta2.size());
    auto count_line = std::find(lines.begin(), lines.end(), count);
    ASSERT_NE(count_line, lines.end()) << ReadFile(meta);
    *count_line = std::to_string(meta2.size() + 1);
    auto file_line = std::find_if(lines.begin(), lines.end(), [&](const std::string& line) {
      return absl::StartsWith(line, table + " ");
    });
    ASSERT_NE(file_line, lines.end());
    lines.insert(file_line, *file_line);
    WriteFile(meta, absl::StrJoin(lines, "\n"));
  }
  EXPECT_THAT(List(doubled),
              HasSubstr("its description (meta/2) lists " + table + " more than once"));

  for (const std::string& dir :
       {cut, flipped, keyless, journalless, endless, endless_journal, edited, doubled}) {
    CliResult newest = RunCli({"restore", "--from=" + dir, "--to=" + dir + "-restored"});
    EXPECT_FALSE(fs::exists(dir + "-restored")) << dir;
    // A device where a file belongs refuses the folder as a whole (exit 4);
    // the rest is the newest backup's damage (exit 1).
    if (dir == endless) {
      EXPECT_EQ(newest.exit_code, 4) << dir << ": " << newest.output;
      EXPECT_THAT(newest.output, HasSubstr("nothing restored: " + dir + "/shared_checksum/"));
      continue;
    }
    EXPECT_EQ(newest.exit_code, 1) << dir << ": " << newest.output;
    EXPECT_THAT(newest.output, HasSubstr("the newest backup, 2, in " + dir + " is damaged"));
  }
  EXPECT_THAT(List(original), Not(HasSubstr("DAMAGED")));
  // No backup is taken through such a file.
  StartServer();
  v1::BackupInfo info;
  grpc::Status refused = TryBackup(endless, &info);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(refused.error_message(), HasSubstr("is not what a backup makes there"));
}

// A file name in meta/2 with an escape sequence and a byte that is not
// UTF-8: the server's reply carried it raw, so it was not sent at all
// ("No message returned"), and the CLI put it on the terminal.
TEST_F(BackupFolderCheckTest, WhatADescriptionSaysIsQuotedNotEchoed) {
  StartServer();
  const std::string backups = dir_.Sub("backups");
  TwoBackups(backups);
  const fs::path meta2 = fs::path(backups) / "meta" / "2";
  std::string text = ReadFile(meta2);
  const size_t files = text.find("\nprivate/2/");
  ASSERT_NE(files, std::string::npos) << text;
  text.insert(files + 1, "private/2/\x1b]0;PWNED\x07\xff crc32 1\n");
  WriteFile(meta2, text);
  auto stub = v1::Operations::NewStub(channel_);
  grpc::ClientContext context;
  v1::ListBackupsRequest request;
  request.set_dir(backups);
  v1::ListBackupsResponse response;
  grpc::Status listed = stub->ListBackups(&context, request, &response);
  ASSERT_TRUE(listed.ok()) << listed.error_message();
  ASSERT_EQ(response.backups_size(), 2);
  EXPECT_THAT(response.backups(1).damage(),
              AllOf(HasSubstr("\\x1b]0;PWNED"), Not(HasSubstr("\x1b"))));
  const std::string cli = List(backups);
  EXPECT_THAT(cli, AllOf(HasSubstr("DAMAGED"), Not(HasSubstr("\x1b"))));
}

// meta/2 gone: backup 2 was left out of the list, "the newest" restored
// backup 1 with exit 0, and the next backup took id 2 and wrote over what
// was left of it.
TEST_F(BackupFolderCheckTest, ABackupThatLostItsDescriptionIsListedAndItsIdIsNotTaken) {
  StartServer();
  const std::string backups = dir_.Sub("backups");
  TwoBackups(backups);
  const std::string description = ReadFile(fs::path(backups) / "meta" / "2");
  ASSERT_TRUE(fs::remove(fs::path(backups) / "meta" / "2"));
  EXPECT_THAT(List(backups),
              HasSubstr("its description (meta/2) is missing, though its Even Hand part "
                        "(evenhand/2) is there"));
  CliResult newest = RunCli({"restore", "--from=" + backups, "--to=" + dir_.Sub("restored")});
  EXPECT_EQ(newest.exit_code, 1) << newest.output;
  EXPECT_THAT(newest.output, HasSubstr("Complete backups: 1"));
  const std::string manifest = ReadFile(fs::path(backups) / "evenhand/2/manifest.json");
  v1::BackupInfo info;
  grpc::Status refused = TryBackup(backups, &info);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(refused.error_message(),
              AllOf(HasSubstr("backup 2 in " + backups + " has lost its description"),
                    HasSubstr("Move " + backups + "/evenhand/2")));
  EXPECT_EQ(ReadFile(fs::path(backups) / "evenhand/2/manifest.json"), manifest);
  // Renamed where RocksDB does not read it as backup 2's, it is as gone
  // (the re-probe's build read "03" as 3, and wrote over evenhand/3).
  for (const char* name : {"02", "+2", " 2"}) {
    const fs::path renamed = fs::path(backups) / "meta" / name;
    WriteFile(renamed, description);
    v1::BackupInfo again;
    grpc::Status refused_again = TryBackup(backups, &again);
    EXPECT_EQ(refused_again.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << name;
    EXPECT_THAT(refused_again.error_message(), HasSubstr("has lost its description")) << name;
    ASSERT_TRUE(fs::remove(renamed));
  }
  EXPECT_EQ(ReadFile(fs::path(backups) / "evenhand/2/manifest.json"), manifest);
}

// A journal one line short restored "RESTORED and VERIFIED ... (3
// checkpoints)" and wrote 2.
TEST_F(BackupFolderCheckTest, AJournalThatLostALineIsNotRestored) {
  StartServer();
  const std::string backups = dir_.Sub("backups");
  TwoBackups(backups);
  AppendSome("c-", 5);
  const v1::BackupInfo third = Backup(backups);
  StopServer();
  const fs::path journal = fs::path(backups) / "evenhand/3/checkpoints.jsonl";
  std::vector<std::string> lines = absl::StrSplit(ReadFile(journal), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), third.manifest().journal_checkpoints());
  ASSERT_GE(lines.size(), 3u);
  lines.erase(lines.begin() + 1);
  WriteFile(journal, absl::StrCat(absl::StrJoin(lines, "\n"), "\n"));
  CliResult restored = RunCli({"restore", "--from=" + backups, "--to=" + dir_.Sub("restored")});
  EXPECT_EQ(restored.exit_code, 1) << restored.output;
  // Found by the listing (the journal is not the one taken), before the
  // restore's own count of its checkpoints would.
  EXPECT_THAT(restored.output,
              AllOf(HasSubstr("the newest backup, 3, in " + backups + " is damaged"),
                    HasSubstr("evenhand/3/checkpoints.jsonl, its checkpoint journal, is not the "
                              "one it was taken with")));
  EXPECT_FALSE(fs::exists(dir_.Sub("restored")));
  EXPECT_FALSE(fs::exists(dir_.Sub("restored") + ".checkpoints.jsonl"));
}

// A bit flipped in a table file of the log: each backup was "taken" and
// listed complete, and none restored; retention would then have deleted
// the good ones, one a night.
TEST_F(BackupFolderCheckTest, ALogWhoseTableFilesAreDamagedIsNotBackedUp) {
  StartServer();
  const std::string backups = dir_.Sub("backups");
  AppendSome("a-", 200);
  EXPECT_TRUE(Backup(backups).complete());  // flushed: the events are in table files
  // Damaged under the running server (a start would read the tail and meet
  // it first).
  fs::path damaged;  // the largest table file: the events'
  for (const auto& entry : fs::directory_iterator(dir_.Sub("data"))) {
    if (entry.path().extension() == ".sst" &&
        (damaged.empty() || entry.file_size() > fs::file_size(damaged))) {
      damaged = entry.path();
    }
  }
  ASSERT_FALSE(damaged.empty());
  FlipBit(damaged, fs::file_size(damaged) / 4);
  v1::BackupInfo info;
  grpc::Status first = TryBackup(backups, &info);
  EXPECT_EQ(first.error_code(), grpc::StatusCode::DATA_LOSS);
  EXPECT_THAT(first.error_message(),
              AllOf(HasSubstr("no backup taken"), HasSubstr(damaged.filename().string()),
                    HasSubstr("the backups you have are kept")));
  // Now damage found: status says so, and the next backup is refused at once.
  v1::GetStatusResponse status;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->GetStatus(&context, v1::GetStatusRequest(), &status).ok());
  }
  EXPECT_THAT(absl::StrJoin(status.problems(), "\n"), HasSubstr(damaged.filename().string()));
  grpc::Status second = TryBackup(backups, &info);
  EXPECT_EQ(second.error_code(), grpc::StatusCode::DATA_LOSS);
  EXPECT_THAT(second.error_message(), HasSubstr("no backup taken: the log is damaged"));
  StopServer();
  const std::string listed = List(backups);
  EXPECT_THAT(listed, AllOf(HasSubstr("complete"), Not(HasSubstr("\n2 "))));
}

// Listed complete though restore refused them (re-probe): a journal's lines
// reordered or rewritten, and a signing key replaced by another valid key.
// The manifest records the journal's SHA-256, and the key's public half.
TEST_F(BackupFolderCheckTest, AJournalOrAKeyNotTheOneTakenIsListedAsDamage) {
  StartServer();
  const std::string backups = dir_.Sub("backups");
  TwoBackups(backups);
  AppendSome("c-", 5);
  const v1::BackupInfo third = Backup(backups);
  StopServer();
  ASSERT_EQ(third.manifest().journal_sha256().size(), 64u);
  EXPECT_THAT(List(backups), Not(HasSubstr("DAMAGED")));

  // Backup 3: two lines swapped.
  const fs::path journal3 = fs::path(backups) / "evenhand/3/checkpoints.jsonl";
  std::vector<std::string> lines = absl::StrSplit(ReadFile(journal3), '\n', absl::SkipEmpty());
  ASSERT_GE(lines.size(), 2u);
  std::swap(lines[0], lines[1]);
  WriteFile(journal3, absl::StrCat(absl::StrJoin(lines, "\n"), "\n"));
  // Backup 2: another Ed25519 key, valid, in place of the log's.
  bool created = false;
  ASSERT_TRUE(integrity::SigningKey::LoadOrCreate(dir_.Sub("other.pem"), &created).ok());
  ASSERT_TRUE(created);
  fs::copy_file(dir_.Sub("other.pem"), fs::path(backups) / "evenhand/2/signing-key.pem",
                fs::copy_options::overwrite_existing);
  // Backup 1: its line's JSON spaced out: its checkpoint still verifies.
  const fs::path journal1 = fs::path(backups) / "evenhand/1/checkpoints.jsonl";
  const std::string text = ReadFile(journal1);
  ASSERT_EQ(text.substr(0, 2), "{\"");
  WriteFile(journal1, "{ " + text.substr(1));

  const std::string listed = List(backups);
  EXPECT_THAT(listed, AllOf(HasSubstr("evenhand/1/checkpoints.jsonl, its checkpoint journal, is "
                                      "not the one it was taken with"),
                            HasSubstr("evenhand/3/checkpoints.jsonl, its checkpoint journal, is "
                                      "not the one it was taken with"),
                            HasSubstr("evenhand/2/signing-key.pem, its copy of the signing key, "
                                      "is key "),
                            HasSubstr("that signed its checkpoints")))
      << listed;
  // A restore agrees with the listing, even where each line verifies.
  CliResult restored =
      RunCli({"restore", "--from=" + backups, "--backup=1", "--to=" + dir_.Sub("restored")});
  EXPECT_EQ(restored.exit_code, 1) << restored.output;
  EXPECT_THAT(restored.output, AllOf(HasSubstr("backup 1, in " + backups + " is damaged"),
                                     HasSubstr("it cannot be restored")));
  EXPECT_FALSE(fs::exists(dir_.Sub("restored")));
}

// A damaged backup still says what it was, from its description: its row
// was "2  ?  0  0  DAMAGED" (outside probe), and without its manifest a
// damaged backup of another log let a second log into the folder.
TEST_F(BackupFolderCheckTest, ADamagedBackupStillSaysWhatItWas) {
  StartServer();
  const std::string backups = dir_.Sub("backups");
  TwoBackups(backups);
  StopServer();
  // A file of backup 2's own gone: RocksDB counts it corrupted and lists
  // nothing of it.
  std::string removed;
  for (const auto& entry : fs::directory_iterator(fs::path(backups) / "private" / "2")) {
    if (entry.path().filename().string().rfind("MANIFEST", 0) == 0) removed = entry.path();
  }
  ASSERT_FALSE(removed.empty());
  ASSERT_TRUE(fs::remove(removed));
  absl::StatusOr<v1::ListBackupsResponse> listed = integrity::ReadBackupFolder(backups);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->backups_size(), 2);
  const v1::BackupInfo& damaged = listed->backups(1);
  EXPECT_FALSE(damaged.damage().empty());
  EXPECT_FALSE(damaged.complete());
  ASSERT_TRUE(damaged.has_manifest()) << damaged.damage();
  EXPECT_EQ(damaged.manifest().log_id(), listed->backups(0).manifest().log_id());
  EXPECT_GT(damaged.manifest().checkpoint().checkpoint().tree_size(),
            listed->backups(0).manifest().checkpoint().checkpoint().tree_size());
  EXPECT_TRUE(damaged.manifest().has_started_at());
}

// A backup taken before manifests recorded the journal's digest: a listing
// counts its journal's lines against the manifest's count instead.
TEST_F(BackupFolderCheckTest, AnOlderBackupsJournalIsCountedWithoutADigest) {
  StartServer();
  const std::string backups = dir_.Sub("backups");
  TwoBackups(backups);
  StopServer();
  // meta/2's manifest without its digest or signature, as an older server
  // wrote it.
  EditManifest(fs::path(backups) / "meta/2", [](v1::BackupManifest* manifest) {
    ASSERT_FALSE(manifest->journal_sha256().empty());
    ASSERT_FALSE(manifest->signature().empty());
    manifest->clear_journal_sha256();
    manifest->clear_signature();
  });
  fs::remove(fs::path(backups) / "evenhand/2/seal");  // nor a seal
  EXPECT_THAT(List(backups), Not(HasSubstr("DAMAGED")));

  const fs::path journal = fs::path(backups) / "evenhand/2/checkpoints.jsonl";
  const std::string whole = ReadFile(journal);
  std::vector<std::string> lines = absl::StrSplit(whole, '\n', absl::SkipEmpty());
  ASSERT_GE(lines.size(), 2u);
  lines.pop_back();
  WriteFile(journal, absl::StrCat(absl::StrJoin(lines, "\n"), "\n"));
  const std::string listed = List(backups);
  EXPECT_THAT(listed, HasSubstr(absl::StrCat("evenhand/2/checkpoints.jsonl, its checkpoint "
                                             "journal, holds ",
                                             lines.size(), " line", lines.size() == 1 ? "" : "s",
                                             ", not the ", lines.size() + 1,
                                             " signed checkpoints it was taken with")))
      << listed;
  // Its lines reordered, as many as taken: only a restore can tell, and it
  // says so of the backup's journal (not of its own copy, gone by then),
  // as damage (exit 1), with what to do.
  std::vector<std::string> reordered = absl::StrSplit(whole, '\n', absl::SkipEmpty());
  std::swap(reordered.front(), reordered.back());
  WriteFile(journal, absl::StrCat(absl::StrJoin(reordered, "\n"), "\n"));
  EXPECT_THAT(List(backups), Not(HasSubstr("DAMAGED")));
  CliResult restored = RunCli({"restore", "--from=" + backups, "--backup=2",
                               "--to=" + dir_.Sub("restored"), "--allow-unsigned-manifest"});
  EXPECT_EQ(restored.exit_code, 1) << restored.output;
  EXPECT_THAT(restored.output,
              AllOf(HasSubstr("evenhand/2/checkpoints.jsonl) is damaged: the checkpoint journal " +
                              backups + "/evenhand/2/checkpoints.jsonl is damaged at line 2"),
                    HasSubstr("restore another backup with --backup=ID"),
                    Not(HasSubstr(".restoring-")), Not(HasSubstr("It is the record"))))
      << restored.output;
}

}  // namespace
}  // namespace evenhand

namespace evenhand {
namespace {

// Probe M7: the manifest's fields were not authenticated, so a journal cut
// to an earlier checkpoint, with the manifest's count and digest rewritten
// to match, was listed complete and restored "VERIFIED" with fewer
// checkpoints. The manifest is signed now: such an edit is damage.
TEST_F(BackupFolderCheckTest, AManifestRewrittenToMatchACutJournalIsDamage) {
  StartServer();
  const std::string backups = dir_.Sub("backups");
  TwoBackups(backups);
  StopServer();
  EXPECT_THAT(List(backups), Not(HasSubstr("unsigned")));
  const fs::path journal = fs::path(backups) / "evenhand/2/checkpoints.jsonl";
  std::vector<std::string> lines = absl::StrSplit(ReadFile(journal), '\n', absl::SkipEmpty());
  ASSERT_GE(lines.size(), 2u);
  lines.erase(lines.begin());  // the oldest checkpoint: the newest still matches the manifest's
  const std::string cut = absl::StrCat(absl::StrJoin(lines, "\n"), "\n");
  WriteFile(journal, cut);
  EditManifest(fs::path(backups) / "meta/2", [&](v1::BackupManifest* manifest) {
    manifest->set_journal_checkpoints(lines.size());
    manifest->set_journal_sha256(integrity::JournalDigest(cut));
  });
  const std::string listed = List(backups);
  EXPECT_THAT(listed, AllOf(HasSubstr("DAMAGED"),
                            HasSubstr("its manifest's signature does not verify with key"),
                            HasSubstr("was changed since it was taken")))
      << listed;
  CliResult restored =
      RunCli({"restore", "--from=" + backups, "--backup=2", "--to=" + dir_.Sub("restored")});
  EXPECT_EQ(restored.exit_code, 1) << restored.output;
  EXPECT_THAT(restored.output,
              AllOf(HasSubstr("is damaged: its Even Hand manifest"), Not(HasSubstr("RESTORED"))))
      << restored.output;
  EXPECT_FALSE(fs::exists(dir_.Sub("restored") + "/CURRENT"));
  // Whether the key is included, too.
  EditManifest(fs::path(backups) / "meta/1", [](v1::BackupManifest* manifest) {
    manifest->set_signing_key_included(!manifest->signing_key_included());
  });
  const std::vector<std::string> damaged = absl::StrSplit(List(backups), absl::ByString("DAMAGED"));
  EXPECT_EQ(damaged.size(), 3u);  // both backups
  CliResult first =
      RunCli({"restore", "--from=" + backups, "--backup=1", "--to=" + dir_.Sub("restored-1")});
  EXPECT_EQ(first.exit_code, 1) << first.output;
  EXPECT_THAT(first.output, HasSubstr("its manifest's signature does not verify")) << first.output;
}

// A backup taken before manifests were signed has none: it is listed
// complete, saying so, and restored only when asked for, its events still
// verified against its signed checkpoint. Its signature stripped from a
// newer backup looks the same: hence the refusal without the flag.
TEST_F(BackupFolderCheckTest, AnUnsignedManifestIsRestoredOnlyWhenAskedFor) {
  StartServer();
  const std::string backups = dir_.Sub("backups");
  TwoBackups(backups);
  StopServer();
  EditManifest(fs::path(backups) / "meta/2",
               [](v1::BackupManifest* manifest) { manifest->clear_signature(); });
  // Its seal still there, the signature was removed (re-probe: it read as
  // an older evenhand's backup).
  const std::string stripped = List(backups);
  EXPECT_THAT(stripped,
              HasSubstr("it is not signed, yet the backup has a seal (only a backup whose manifest "
                        "is signed has one): its signature was removed"))
      << stripped;
  // As an older evenhand left it: no seal either.
  fs::remove(fs::path(backups) / "evenhand/2/seal");
  const std::string listed = List(backups);
  EXPECT_THAT(listed, AllOf(HasSubstr("complete, manifest unsigned (taken by an older evenhand: "
                                      "restore it with --allow-unsigned-manifest)"),
                            Not(HasSubstr("DAMAGED"))))
      << listed;
  CliResult json = RunCli({"restore", "--from=" + backups, "--list", "--format=json"});
  EXPECT_THAT(json.output, HasSubstr("\"manifestUnsigned\":true")) << json.output;

  CliResult refused = RunCli({"restore", "--from=" + backups, "--to=" + dir_.Sub("restored")});
  EXPECT_NE(refused.exit_code, 0) << refused.output;
  EXPECT_THAT(
      refused.output,
      AllOf(HasSubstr("backup 2 in " + backups + ": its manifest is not signed"),
            HasSubstr("Restore it with --allow-unsigned-manifest"), Not(HasSubstr("RESTORED"))))
      << refused.output;
  EXPECT_FALSE(fs::exists(dir_.Sub("restored") + "/CURRENT"));

  CliResult restored = RunCli({"restore", "--from=" + backups, "--to=" + dir_.Sub("restored"),
                               "--allow-unsigned-manifest"});
  EXPECT_EQ(restored.exit_code, 0) << restored.output;
  EXPECT_THAT(restored.output,
              AllOf(HasSubstr("RESTORED and VERIFIED backup 2"),
                    HasSubstr("manifest     NOT SIGNED (--allow-unsigned-manifest)")))
      << restored.output;
}

// The manifest's key is said three ways; the tool checks with the raw key,
// a person by hand with the PEM. One PEM swapped for another key's is
// damage (outside probe: it verified an attacker's signature by hand).
TEST_F(BackupFolderCheckTest, AManifestWhoseKeyIsSaidTwoWaysIsDamage) {
  StartServer();
  const std::string backups = dir_.Sub("backups");
  TwoBackups(backups);
  StopServer();
  absl::StatusOr<integrity::SigningKey> other = integrity::SigningKey::Generate();
  ASSERT_TRUE(other.ok());
  EditManifest(fs::path(backups) / "meta/2", [&](v1::BackupManifest* manifest) {
    manifest->mutable_public_key()->set_pem(other->public_key().pem());
  });
  EditManifest(fs::path(backups) / "meta/1", [&](v1::BackupManifest* manifest) {
    manifest->mutable_public_key()->set_key_id(other->public_key().key_id());
  });
  const std::string listed = List(backups);
  const std::vector<std::string> damaged =
      absl::StrSplit(listed, absl::ByString("its public key's PEM, id or algorithm is not the key "
                                            "that signed"));
  EXPECT_EQ(damaged.size(), 3u) << listed;  // both backups
}

// A nightly job checks its backups by exit code (`--list --check`), from
// the server (backup) and offline (restore): 0 while the newest is complete
// and nothing is damaged, 1 saying why otherwise. Listings without --check
// answer 0 as before: they answered.
TEST_F(BackupFolderCheckTest, AListingWithCheckFailsOnADamagedOrUnsignedFolder) {
  StartServer();
  const std::string backups = dir_.Sub("backups");
  TwoBackups(backups);
  const std::string server = "--server=" + server_->address();
  for (const std::string& format : {"--format=table", "--format=json"}) {
    CliResult online = RunCli({server, "backup", "--to=" + backups, "--list", "--check", format});
    EXPECT_EQ(online.exit_code, 0) << online.output;
    CliResult offline = RunCli({"restore", "--from=" + backups, "--list", "--check", format});
    EXPECT_EQ(offline.exit_code, 0) << offline.output;
  }
  CliResult alone = RunCli({"restore", "--from=" + backups, "--check"});
  EXPECT_EQ(alone.exit_code, 2) << alone.output;
  EXPECT_THAT(alone.output, HasSubstr("--check goes with --list"));
  CliResult zero =
      RunCli({"restore", "--from=" + backups, "--backup=0", "--to=" + dir_.Sub("restored")});
  EXPECT_EQ(zero.exit_code, 2) << zero.output;
  EXPECT_THAT(zero.output, HasSubstr("their ids start at 1"));
  EXPECT_FALSE(fs::exists(dir_.Sub("restored")));

  // The older backup damaged: the newest is still complete, but retention
  // stops, and the check says which.
  EditManifest(fs::path(backups) / "meta/1",
               [](v1::BackupManifest* manifest) { manifest->set_last_position(1); });
  CliResult older = RunCli({server, "backup", "--to=" + backups, "--list", "--check"});
  EXPECT_EQ(older.exit_code, 1) << older.output;
  EXPECT_THAT(older.output, AllOf(HasSubstr("VERIFICATION FAILED: backups in " + backups +
                                            ": backup 1 is "
                                            "damaged"),
                                  HasSubstr("no older backup is deleted while it is there")))
      << older.output;
  EXPECT_EQ(RunCli({"restore", "--from=" + backups, "--list"}).exit_code, 0);

  // The newest unsigned (and unsealed, as an older evenhand's): a restore
  // would refuse it without a flag.
  EditManifest(fs::path(backups) / "meta/2",
               [](v1::BackupManifest* manifest) { manifest->clear_signature(); });
  fs::remove(fs::path(backups) / "evenhand/2/seal");
  CliResult newest = RunCli({"restore", "--from=" + backups, "--list", "--check"});
  EXPECT_EQ(newest.exit_code, 1) << newest.output;
  EXPECT_THAT(newest.output, HasSubstr("the newest backup, 2, has an unsigned manifest"))
      << newest.output;

  // A folder with no backup fails the check too, as such (probe: exit 3
  // and 4, as if the listing had failed).
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"restore", "--from=" + dir_.Sub("no-backups"), "--list",
                                 "--check"},
        std::vector<std::string>{server, "backup", "--to=" + dir_.Sub("no-backups"), "--list",
                                 "--check"}}) {
    CliResult empty = RunCli(args);
    EXPECT_EQ(empty.exit_code, 1) << empty.output;
    EXPECT_THAT(empty.output, HasSubstr("VERIFICATION FAILED")) << empty.output;
  }
  StopServer();
}

// Each part genuine, signed, and another backup's: backup 1's manifest and
// journal put in place of backup 2's restored "VERIFIED" with fewer
// checkpoints, and called the rest unsigned (outside probe). A seal ties
// the signed manifest to its backup's id and description.
TEST_F(BackupFolderCheckTest, AnotherBackupsManifestAndJournalPutInPlaceAreDamage) {
  StartServer();
  const std::string backups = dir_.Sub("backups");
  TwoBackups(backups);
  StopServer();
  const fs::path root(backups);
  absl::StatusOr<v1::ListBackupsResponse> before = integrity::ReadBackupFolder(backups);
  ASSERT_TRUE(before.ok()) << before.status();
  const v1::BackupManifest first = before->backups(0).manifest();
  EditManifest(root / "meta/2", [&](v1::BackupManifest* manifest) { *manifest = first; });
  fs::copy_file(root / "evenhand/1/checkpoints.jsonl", root / "evenhand/2/checkpoints.jsonl",
                fs::copy_options::overwrite_existing);
  std::string listed = List(backups);
  EXPECT_THAT(listed, HasSubstr("evenhand/2/seal, its seal, is not this backup's")) << listed;
  CliResult restored =
      RunCli({"restore", "--from=" + backups, "--backup=2", "--to=" + dir_.Sub("restored")});
  EXPECT_EQ(restored.exit_code, 1) << restored.output;
  EXPECT_THAT(restored.output, Not(HasSubstr("RESTORED"))) << restored.output;
  // Its seal too: it names backup 1.
  fs::copy_file(root / "evenhand/1/seal", root / "evenhand/2/seal",
                fs::copy_options::overwrite_existing);
  listed = List(backups);
  EXPECT_THAT(listed, HasSubstr("evenhand/2/seal, its seal, is not this backup's")) << listed;
  // No seal at all.
  fs::remove(root / "evenhand/2/seal");
  listed = List(backups);
  EXPECT_THAT(listed, HasSubstr("evenhand/2/seal, its seal, is missing")) << listed;
  // Backup 1 is untouched, sealed and complete.
  EXPECT_EQ(integrity::BackupFolderId(backups).size(), 36u);
  const CliResult one =
      RunCli({"restore", "--from=" + backups, "--backup=1", "--to=" + dir_.Sub("one")});
  EXPECT_EQ(one.exit_code, 0) << one.output;
}

// Another folder's backup of the same log and id, its every file copied
// in, restored "VERIFIED" with fewer checkpoints (re-probe): a seal names
// its folder (evenhand/folder, made by the folder's first backup).
TEST_F(BackupFolderCheckTest, AnotherFoldersBackupOfTheSameIdIsDamage) {
  StartServer();
  const std::string older = dir_.Sub("older");
  const std::string backups = dir_.Sub("backups");
  AppendSome("a-", 5);
  ASSERT_TRUE(Backup(older).complete());
  AppendSome("b-", 5);
  ASSERT_TRUE(Backup(backups).complete());
  StopServer();
  EXPECT_NE(integrity::BackupFolderId(older), integrity::BackupFolderId(backups));
  const fs::path from(older), to(backups);
  fs::remove_all(to / "private/1");
  fs::remove_all(to / "evenhand/1");
  fs::copy(from / "meta/1", to / "meta/1", fs::copy_options::overwrite_existing);
  fs::copy(from / "private/1", to / "private/1", fs::copy_options::recursive);
  fs::copy(from / "evenhand/1", to / "evenhand/1", fs::copy_options::recursive);
  fs::copy(from / "shared_checksum", to / "shared_checksum",
           fs::copy_options::recursive | fs::copy_options::skip_existing);
  const std::string listed = List(backups);
  EXPECT_THAT(listed, HasSubstr("its seal, is not this backup's")) << listed;
  // Refused as a whole: evenhand/folder is not the id its seal names.
  CliResult restored = RunCli({"restore", "--from=" + backups, "--to=" + dir_.Sub("restored")});
  EXPECT_EQ(restored.exit_code, 4) << restored.output;
  EXPECT_THAT(restored.output, AllOf(HasSubstr("nothing restored"), Not(HasSubstr("RESTORED"))))
      << restored.output;
}

}  // namespace
}  // namespace evenhand
