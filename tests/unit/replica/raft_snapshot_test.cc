// Tests of a stateful replica's Raft snapshot files: round trip, checksum, atomic replacement,
// and files of the previous format.
#include "src/replica/raft_snapshot.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shoal::replica {
namespace {

using ::testing::HasSubstr;

class RaftSnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("shoal_raft_snapshot_test_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "snap").string();
    executor_ = (dir_ / "snap.executor").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static void Put(const std::string& file, const std::string& bytes) {
    std::ofstream(file, std::ios::binary) << bytes;
  }
  static std::string Get(const std::string& file) {
    std::ifstream in(file, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  Status Write(const std::vector<RememberedId>& ids) {
    return WriteRaftSnapshot(path_, executor_, [&](SnapshotWriter& writer) {
      writer.WriteU64(ids.size());
      for (const auto& [id, digest] : ids) WriteRememberedId(writer, id, digest);
    });
  }

  std::filesystem::path dir_;
  std::string path_;
  std::string executor_;
};

TEST_F(RaftSnapshotTest, RoundTripsTheIdsAndTheExecutorsState) {
  Put(executor_, "executor state");
  ASSERT_TRUE(Write({{"a", "d1"}, {"b", ""}}).ok());
  std::filesystem::remove(executor_);
  std::vector<RememberedId> ids;
  ASSERT_TRUE(ReadRaftSnapshot(path_, executor_, 10, &ids).ok());
  EXPECT_EQ(ids, (std::vector<RememberedId>{{"a", "d1"}, {"b", ""}}));
  EXPECT_EQ(Get(executor_), "executor state");
  EXPECT_FALSE(std::filesystem::exists(path_ + ".tmp"));
}

TEST_F(RaftSnapshotTest, AFlippedByteIsDataLoss) {
  Put(executor_, "executor state");
  ASSERT_TRUE(Write({{"a", "d1"}}).ok());
  std::string bytes = Get(path_);
  bytes[bytes.size() - 12] ^= 0x01;  // inside the Executor's state
  Put(path_, bytes);
  std::vector<RememberedId> ids;
  Status read = ReadRaftSnapshot(path_, executor_, 10, &ids);
  EXPECT_EQ(read.code(), absl::StatusCode::kDataLoss) << read;
  EXPECT_THAT(std::string(read.message()), HasSubstr(path_));
}

TEST_F(RaftSnapshotTest, AMissingExecutorSnapshotIsAnErrorAndLeavesTheOldFile) {
  Put(path_, "the previous snapshot");
  Status written = Write({});
  EXPECT_EQ(written.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(written.message()), HasSubstr(executor_));
  EXPECT_EQ(Get(path_), "the previous snapshot");
}

TEST_F(RaftSnapshotTest, AVersion2FileStillReads) {
  std::string v2("SHOALRSN", 8);
  auto u32 = [&v2](uint32_t v) { v2.append(reinterpret_cast<const char*>(&v), sizeof(v)); };
  auto u64 = [&v2](uint64_t v) { v2.append(reinterpret_cast<const char*>(&v), sizeof(v)); };
  u32(2);
  u64(1);
  u32(2);
  v2 += "id";
  u32(3);
  v2 += "dig";
  u64(5);
  v2 += "state";
  Put(path_, v2);
  std::vector<RememberedId> ids;
  Status read = ReadRaftSnapshot(path_, executor_, 10, &ids);
  ASSERT_TRUE(read.ok()) << read;
  EXPECT_EQ(ids, (std::vector<RememberedId>{{"id", "dig"}}));
  EXPECT_EQ(Get(executor_), "state");
}

TEST_F(RaftSnapshotTest, TooManyIdsIsDataLoss) {
  Put(executor_, "");
  ASSERT_TRUE(Write({{"a", ""}, {"b", ""}}).ok());
  std::vector<RememberedId> ids;
  EXPECT_EQ(ReadRaftSnapshot(path_, executor_, 1, &ids).code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace shoal::replica
