#include "src/common/atomic_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shoal {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class AtomicFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "atomic-file-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  static std::string Read(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  size_t Entries() const {
    return static_cast<size_t>(std::distance(fs::directory_iterator(dir_), {}));
  }
  fs::path dir_;
};

TEST_F(AtomicFileTest, ReplacesTheFileByRenameAndLeavesNoTempFile) {
  const fs::path file = dir_ / "raft-ports";
  ASSERT_TRUE(WriteFileAtomically(file, "1,2\n3,4\n").ok());
  EXPECT_EQ(Read(file), "1,2\n3,4\n");
  struct stat before {};
  ASSERT_EQ(::stat(file.c_str(), &before), 0);
  // A reader that opened the old file keeps the old content: the new one is a new inode.
  std::ifstream reader(file, std::ios::binary);
  ASSERT_TRUE(WriteFileAtomically(file, "5\n").ok());
  std::stringstream old_text;
  old_text << reader.rdbuf();
  EXPECT_EQ(old_text.str(), "1,2\n3,4\n");
  struct stat after {};
  ASSERT_EQ(::stat(file.c_str(), &after), 0);
  EXPECT_NE(before.st_ino, after.st_ino);
  EXPECT_EQ(Read(file), "5\n");
  EXPECT_EQ(Entries(), 1u);
}

TEST_F(AtomicFileTest, AFailedWriteKeepsTheOldContentAndNamesTheFile) {
  const fs::path file = dir_ / "raft-generations";
  ASSERT_TRUE(WriteFileAtomically(file, "0,1\n").ok());
  // The file's place is taken by a non-empty folder: the rename fails.
  const fs::path blocked = dir_ / "blocked";
  fs::create_directories(blocked / "inside");
  Status failed = WriteFileAtomically(blocked, "2\n");
  EXPECT_FALSE(failed.ok());
  EXPECT_THAT(std::string(failed.message()), HasSubstr(blocked.string()));
  EXPECT_TRUE(fs::is_directory(blocked / "inside"));
  EXPECT_EQ(Read(file), "0,1\n");
  EXPECT_EQ(Entries(), 2u);  // no temp file left behind
}

TEST_F(AtomicFileTest, AMissingFolderIsNotFound) {
  Status failed = WriteFileAtomically(dir_ / "absent" / "raft-ports", "1\n");
  EXPECT_EQ(failed.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(failed.message()), HasSubstr("absent/raft-ports"));
}

}  // namespace
}  // namespace shoal
