// BackupCheck: see backup_check.h.
#include "storage/internal/backup_check.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/small_file.h"
#include "rocksdb/file_checksum.h"

namespace evenhand::storage::internal {
namespace fs = std::filesystem;
namespace {

// RocksDB's descriptions are a line per file: far below this.
constexpr uintmax_t kMaxDescriptionBytes = 64 << 20;

// One file a description lists.
struct Listed {
  uint32_t backup = 0;
  std::string path;  // relative to the folder
  bool has_crc = false;
  uint32_t crc = 0;
  bool has_size = false;
  uint64_t size = 0;
};

// The files meta/<id> lists ("<path> crc32 <n>" and, in later schemas,
// "size <n>"); lines that are not files (its time, sequence number,
// metadata, count) are passed over. Parsing it properly is RocksDB's: a
// description it cannot parse it lists as corrupted itself.
std::vector<Listed> ReadDescription(const fs::path& meta, uint32_t id) {
  std::vector<Listed> out;
  std::ifstream in(meta);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> words = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (words.empty() || words[0].find('/') == std::string::npos) continue;
    Listed f;
    f.backup = id;
    f.path = words[0];
    for (size_t i = 1; i + 1 < words.size(); i += 2) {
      if (words[i] == "crc32") f.has_crc = absl::SimpleAtoi(words[i + 1], &f.crc);
      if (words[i] == "size") f.has_size = absl::SimpleAtoi(words[i + 1], &f.size);
    }
    out.push_back(std::move(f));
  }
  return out;
}

// A shared table file's size, from its name ("<number>_<session>_<size>.sst"
// or "<number>_<crc>_<size>.sst"); false if the name holds none.
bool SizeInName(const std::string& path, uint64_t* size) {
  if (path.rfind("shared_checksum/", 0) != 0) return false;
  const std::string name = fs::path(path).stem().string();
  const size_t underscore = name.rfind('_');
  if (underscore == std::string::npos || name.find('_') == underscore) return false;
  return absl::SimpleAtoi(name.substr(underscore + 1), size);
}

class HidingFs final : public rocksdb::FileSystemWrapper {
 public:
  HidingFs(std::shared_ptr<rocksdb::FileSystem> base, absl::flat_hash_set<std::string> hidden)
      : rocksdb::FileSystemWrapper(std::move(base)), hidden_(std::move(hidden)) {}
  const char* Name() const override { return "EvenhandHidingDescriptions"; }

  rocksdb::IOStatus NewSequentialFile(const std::string& f, const rocksdb::FileOptions& o,
                                      std::unique_ptr<rocksdb::FSSequentialFile>* r,
                                      rocksdb::IODebugContext* d) override {
    if (hidden_.contains(fs::path(f).lexically_normal().string())) {
      return rocksdb::IOStatus::Corruption(
          "its description records a checksum for a shared file that other backups' "
          "descriptions and the file itself disagree with");
    }
    return target()->NewSequentialFile(f, o, r, d);
  }

 private:
  const absl::flat_hash_set<std::string> hidden_;
};

// A remembered path as a description names it ("./x" and "x\r" are "x").
std::string NormalPath(absl::string_view line) {
  line = absl::StripAsciiWhitespace(line);
  if (line.empty()) return "";
  return fs::path(std::string(line)).lexically_normal().string();
}

// The paths remembered in `dir`/kDamagedSharedFiles (none if it is not a
// regular file, or cannot be read).
absl::flat_hash_set<std::string> RememberedDamage(const fs::path& dir) {
  absl::flat_hash_set<std::string> out;
  std::string text;
  if (!ReadSmallRegularFile((dir / kDamagedSharedFiles).string(), kMaxDescriptionBytes, &text))
    return out;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (std::string path = NormalPath(line); !path.empty()) out.insert(std::move(path));
  }
  return out;
}

bool IsSharedPath(const std::string& path) {
  return (path.rfind("shared_checksum/", 0) == 0 || path.rfind("shared/", 0) == 0) &&
         path.find("..") == std::string::npos && path.find('\n') == std::string::npos;
}

}  // namespace

bool ReadDescriptionHeader(const std::string& dir, uint32_t id, int64_t* created_unix_seconds,
                           std::string* metadata) {
  std::string text;
  if (!ReadSmallRegularFile((fs::path(dir) / "meta" / std::to_string(id)).string(),
                            kMaxDescriptionBytes, &text)) {
    return false;
  }
  bool first = true;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (first) {
      first = false;
      if (!absl::SimpleAtoi(line, created_unix_seconds)) *created_unix_seconds = 0;
      continue;
    }
    if (absl::ConsumePrefix(&line, "metadata ")) {
      *metadata = absl::HexStringToBytes(line);
      break;
    }
    if (line.find('/') != absl::string_view::npos) break;  // the files: no metadata
  }
  return true;
}

bool RememberDamagedSharedFile(const std::string& dir, const std::string& relative_path) {
  if (!IsSharedPath(relative_path)) return false;
  if (RememberedDamage(dir).contains(relative_path)) return true;
  // Never through a link (the server wrote into its own journal through
  // one: outside probe), never waiting on a FIFO, owner-only.
  const std::string file = (fs::path(dir) / kDamagedSharedFiles).string();
  const int fd = ::open(file.c_str(),
                        O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  struct stat st;
  const std::string line = relative_path + "\n";
  // One name only: a hard link from elsewhere (a file of the server's own)
  // is written through as a symbolic one is (re-probe).
  const bool written = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1 &&
                       ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
                       ::fsync(fd) == 0;
  ::close(fd);
  return written;
}

bool FileCrc32c(const std::string& path, uint32_t* crc) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  rocksdb::FileChecksumGenContext context;
  context.file_name = path;
  std::unique_ptr<rocksdb::FileChecksumGenerator> gen =
      rocksdb::GetFileChecksumGenCrc32cFactory()->CreateFileChecksumGenerator(context);
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    if (in.gcount() > 0) gen->Update(buffer.data(), static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) return false;
  gen->Finalize();
  const std::string sum = gen->GetChecksum();  // big-endian
  if (sum.size() != 4) return false;
  *crc = 0;
  for (char c : sum) *crc = (*crc << 8) | static_cast<uint8_t>(c);
  return true;
}

namespace {

// The first entry of RocksDB's folders in `root` that is not what RocksDB
// keeps there: in meta/, shared_checksum/ and shared/ regular files; in
// private/ folders (one a backup) of regular files. "" if none.
std::string IrregularEntry(const fs::path& root) {
  std::error_code ec;
  for (const char* name : {"meta", "shared_checksum", "shared", "private"}) {
    const bool folders = name == std::string("private");
    if (!fs::is_directory(fs::symlink_status(root / name, ec))) continue;
    for (const auto& entry : fs::directory_iterator(root / name, ec)) {
      const fs::file_status st = fs::symlink_status(entry.path(), ec);
      if (!(folders ? fs::is_directory(st) : fs::is_regular_file(st))) {
        return entry.path().string();
      }
      if (!folders) continue;
      for (const auto& file : fs::directory_iterator(entry.path(), ec)) {
        if (!fs::is_regular_file(fs::symlink_status(file.path(), ec))) return file.path().string();
      }
    }
  }
  return "";
}

}  // namespace

BackupCheck CheckBackupFolder(const std::string& dir) {
  BackupCheck check;
  std::error_code ec;
  const fs::path root(dir);
  // RocksDB's folders, and the marker of damaged shared files, must be
  // what they seem: a link at shared_checksum/ made a backup write, and
  // retention delete, in another folder (outside probe).
  for (const char* name : {"meta", "private", "shared_checksum", "shared", kDamagedSharedFiles}) {
    const fs::file_status st = fs::symlink_status(root / name, ec);
    // The marker: a regular file of one name (a hard link to a file
    // elsewhere would be written through).
    const bool regular = name == std::string(kDamagedSharedFiles)
                             ? fs::is_regular_file(st) && fs::hard_link_count(root / name, ec) == 1
                             : fs::is_directory(st);
    if (fs::exists(st) && !regular && check.irregular.empty()) {
      check.irregular = (root / name).string();
    }
  }
  // What is in them too, whatever its name: RocksDB writes a new backup's
  // description as meta/.<id>.tmp, its own files under private/<id>.tmp/
  // and shared files as <name>.tmp, and a FIFO at any of those hung every
  // backup of the server, and its stop (outside probe).
  if (check.irregular.empty()) check.irregular = IrregularEntry(root);
  std::map<uint32_t, std::vector<Listed>> backups;
  for (const auto& entry : fs::directory_iterator(root / "meta", ec)) {
    // Named as RocksDB names them (it passes over "02" or "2x").
    const std::string name = entry.path().filename().string();
    uint32_t id = 0;
    if (!absl::SimpleAtoi(name, &id) || id == 0 || name != std::to_string(id)) continue;
    // Not read (by this or by RocksDB) unless a file of a description's
    // size: a folder, a device (a link to /dev/zero reads for ever) or a
    // huge file is damage.
    const fs::file_status st = fs::status(entry.path(), ec);
    const uintmax_t size = fs::is_regular_file(st) ? fs::file_size(entry.path(), ec) : 0;
    if (!fs::is_regular_file(st) || ec || size > kMaxDescriptionBytes) {
      if (!fs::is_regular_file(st) && check.irregular.empty()) {
        check.irregular = entry.path().string();
      }
      check.hidden.insert(id);
      check.damage.try_emplace(
          id, absl::StrCat("its description (meta/", id, ") is ",
                           !fs::is_regular_file(st)
                               ? "not a regular file"
                               : absl::StrCat(size, " bytes, too large to be one")));
      continue;
    }
    backups[id] = ReadDescription(entry.path(), id);
    // RocksDB takes a file listed twice as two (its size counted twice):
    // not a description RocksDB wrote.
    absl::flat_hash_set<std::string> seen;
    for (const Listed& f : backups[id]) {
      if (!seen.insert(f.path).second) {
        check.damage.try_emplace(
            id, absl::StrCat("its description (meta/", id, ") lists ", f.path, " more than once"));
        break;
      }
    }
  }
  auto damage = [&](uint32_t id, std::string why) { check.damage.try_emplace(id, std::move(why)); };
  // Shared files, by path: each description's record of it.
  std::map<std::string, std::vector<const Listed*>> shared;
  for (const auto& [id, files] : backups) {
    for (const Listed& f : files) {
      const fs::path path = root / f.path;
      const fs::file_status st = fs::status(path, ec);
      if (ec || !fs::exists(st)) continue;  // missing: RocksDB lists it as corrupted itself
      if (!fs::is_regular_file(st)) {
        // Never read: a link to a device reads for ever (a restore hung).
        if (check.irregular.empty()) check.irregular = path.string();
        check.hidden.insert(id);
        damage(id, absl::StrCat(f.path, ", one of its files, is not a regular file"));
        continue;
      }
      const uintmax_t actual = fs::file_size(path, ec);
      if (ec) continue;
      uint64_t expected = f.size;
      if (f.has_size || SizeInName(f.path, &expected)) {
        if (actual != expected) {
          damage(id, absl::StrCat(f.path, ", one of its files, is ", actual, " bytes, not the ",
                                  expected, " recorded when it was taken (cut short or "
                                            "overwritten)"));
          continue;
        }
      }
      if (!f.has_crc) continue;
      if (f.path.rfind("private/", 0) == 0) {
        uint32_t crc = 0;
        if (!FileCrc32c(path.string(), &crc)) {
          damage(id, absl::StrCat(f.path, ", one of its files, cannot be read"));
        } else if (crc != f.crc) {
          damage(id, absl::StrCat(f.path, ", one of its files, is damaged: its checksum is ", crc,
                                  ", not the ", f.crc, " recorded when it was taken"));
        }
      } else {
        shared[f.path].push_back(&f);
      }
    }
  }
  const absl::flat_hash_set<std::string> remembered = RememberedDamage(root);
  for (const auto& entry : shared) {
    const std::string& path = entry.first;
    const std::vector<const Listed*>& records = entry.second;
    const bool agree = std::all_of(records.begin(), records.end(), [&](const Listed* r) {
      return r->crc == records.front()->crc;
    });
    if (agree && remembered.contains(path)) {
      // Found damaged by a backup's read-back: read again, since it may
      // have been put right since (then it damages nothing).
      uint32_t crc = 0;
      const bool read = FileCrc32c((root / path).string(), &crc);
      if (read && crc == records.front()->crc) continue;
      for (const Listed* r : records) {
        damage(r->backup,
               !read ? absl::StrCat(path, ", one of its files, cannot be read")
                     : absl::StrCat(path, ", one of its files, is damaged: its checksum is ", crc,
                                    ", not the ", r->crc,
                                    " recorded when it was taken (as a later backup found "
                                    "reading it back)"));
      }
      continue;
    }
    if (agree) continue;
    uint32_t crc = 0;
    const bool read = FileCrc32c((root / path).string(), &crc);
    for (const Listed* r : records) {
      if (read && r->crc == crc) continue;
      check.hidden.insert(r->backup);
      // The damage of the first such file named (try_emplace keeps it).
      damage(r->backup,
             !read ? absl::StrCat(path, ", one of its files, cannot be read")
             : std::any_of(records.begin(), records.end(),
                           [&](const Listed* other) { return other->crc == crc; })
                 ? absl::StrCat(
                       "its description (meta/", r->backup, ") is damaged: it records ", r->crc,
                       " as the checksum of ", path, ", which is ", crc,
                       std::count_if(records.begin(), records.end(),
                                     [&](const Listed* other) { return other->crc == crc; }) == 1
                           ? " (as another backup's description records it)"
                           : " (as other backups' descriptions record it)")
                 : absl::StrCat(path, ", one of its files, is damaged: its checksum is ", crc,
                                ", not the ", r->crc, " recorded when it was taken"));
    }
  }
  return check;
}

std::shared_ptr<rocksdb::FileSystem> HidingDescriptions(std::shared_ptr<rocksdb::FileSystem> base,
                                                        const std::string& dir,
                                                        const BackupCheck& check) {
  if (check.hidden.empty()) return base;
  absl::flat_hash_set<std::string> hidden;
  for (uint32_t id : check.hidden) {
    hidden.insert((fs::path(dir) / "meta" / std::to_string(id)).lexically_normal().string());
  }
  return std::make_shared<HidingFs>(std::move(base), std::move(hidden));
}

}  // namespace evenhand::storage::internal
