// Tests of GPU round robin: every case of jina-semantics.md §6.5, the configuration errors Shoal
// reports where Jina crashes, and counting GPUs from `nvidia-smi -L` or CUDA_TOTAL_DEVICES.
#include "src/orchestrator/gpu_assignment.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace shoal::orchestrator {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The per-replica devices, failing the test when there is no assignment.
std::vector<std::string> Assign(std::string_view value, int replicas, int device_count = 3) {
  absl::StatusOr<std::optional<std::vector<std::string>>> result =
      AssignCudaDevices(value, replicas, device_count);
  EXPECT_TRUE(result.ok()) << value << ": " << result.status();
  if (!result.ok()) return {};
  EXPECT_TRUE(result->has_value()) << value;
  return result->value_or(std::vector<std::string>{});
}

// The error message, failing the test unless the value is rejected as InvalidArgument and the
// message quotes it.
std::string Reject(std::string_view value, int replicas, int device_count = 3) {
  absl::StatusOr<std::optional<std::vector<std::string>>> result =
      AssignCudaDevices(value, replicas, device_count);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << value;
  std::string message(result.status().message());
  EXPECT_THAT(message, HasSubstr("\"" + std::string(value) + "\"")) << value;
  return message;
}

// §6.5 rows, count 3 unless noted.

TEST(AssignCudaDevicesTest, ValueWithoutRrPrefixIsInherited) {
  for (std::string_view value : {"1", "1,2", "", "0:2", "rr"}) {
    for (int replicas : {1, 2, 5}) {
      absl::StatusOr<std::optional<std::vector<std::string>>> result =
          AssignCudaDevices(value, replicas, 3);
      ASSERT_TRUE(result.ok()) << value << ": " << result.status();
      EXPECT_EQ(*result, std::nullopt) << value;
    }
  }
}

TEST(AssignCudaDevicesTest, RrTwoReplicasGetTheFirstTwoDevices) {
  EXPECT_THAT(Assign("RR", 2), ElementsAre("0", "1"));
}

TEST(AssignCudaDevicesTest, RrFiveReplicasCycleOverAllDevices) {
  EXPECT_THAT(Assign("RR", 5), ElementsAre("0", "1", "2", "0", "1"));
}

TEST(AssignCudaDevicesTest, OpenEndedSliceCyclesFromStart) {
  EXPECT_THAT(Assign("RR1:", 5), ElementsAre("1", "2", "1", "2", "1"));
}

TEST(AssignCudaDevicesTest, BoundedSliceCycles) {
  EXPECT_THAT(Assign("RR0:2", 5), ElementsAre("0", "1", "0", "1", "0"));
}

TEST(AssignCudaDevicesTest, OneDeviceSliceGivesEveryReplicaThatDevice) {
  EXPECT_THAT(Assign("RR1:2", 2), ElementsAre("1", "1"));
}

TEST(AssignCudaDevicesTest, SingleIndexGivesEveryReplicaThatDevice) {
  EXPECT_THAT(Assign("RR2", 2), ElementsAre("2", "2"));
}

TEST(AssignCudaDevicesTest, SingleUuidGivesEveryReplicaThatDevice) {
  EXPECT_THAT(Assign("RRUUID1", 2), ElementsAre("UUID1", "UUID1"));
}

TEST(AssignCudaDevicesTest, IndexListCycles) {
  EXPECT_THAT(Assign("RR0,2,3", 5, /*device_count=*/4), ElementsAre("0", "2", "3", "0", "2"));
}

TEST(AssignCudaDevicesTest, UuidListCycles) {
  EXPECT_THAT(Assign("RRGPU-a,GPU-b,GPU-c,GPU-d", 5),
              ElementsAre("GPU-a", "GPU-b", "GPU-c", "GPU-d", "GPU-a"));
}

// Python slice and index semantics beyond the table.

TEST(AssignCudaDevicesTest, BracketWrapperIsStripped) {
  EXPECT_THAT(Assign("RR[1:]", 3), ElementsAre("1", "2", "1"));
  EXPECT_THAT(Assign("RR[2]", 2), ElementsAre("2", "2"));
  EXPECT_THAT(Assign("RR[0,2]", 3), ElementsAre("0", "2", "0"));
}

TEST(AssignCudaDevicesTest, SliceWithNegativeBounds) {
  EXPECT_THAT(Assign("RR-2:", 3), ElementsAre("1", "2", "1"));
  EXPECT_THAT(Assign("RR:-1", 3), ElementsAre("0", "1", "0"));
  EXPECT_THAT(Assign("RR-100:100", 4), ElementsAre("0", "1", "2", "0"));
}

TEST(AssignCudaDevicesTest, SliceWithSteps) {
  EXPECT_THAT(Assign("RR::2", 3, /*device_count=*/4), ElementsAre("0", "2", "0"));
  EXPECT_THAT(Assign("RR::-1", 4), ElementsAre("2", "1", "0", "2"));
  EXPECT_THAT(Assign("RR2:0:-1", 3), ElementsAre("2", "1", "2"));
  EXPECT_THAT(Assign("RR1::1000", 2), ElementsAre("1", "1"));
}

TEST(AssignCudaDevicesTest, NegativeSingleIndexCountsFromTheEnd) {
  // Jina computes range(count)[n:n+1]: -2 and -3 work there; -1 selects nothing and crashes.
  EXPECT_THAT(Assign("RR-2", 2), ElementsAre("1", "1"));
  EXPECT_THAT(Assign("RR-3", 1), ElementsAre("0"));
  EXPECT_THAT(Assign("RR-1", 2), ElementsAre("2", "2"));
}

TEST(AssignCudaDevicesTest, WhitespaceAroundItemsIsIgnored) {
  EXPECT_THAT(Assign("RR0, 2", 2), ElementsAre("0", "2"));
}

TEST(AssignCudaDevicesTest, UuidsMayBeMigDevices) {
  EXPECT_THAT(Assign("RRMIG-GPU-5a3b/1/0,MIG-e2e6", 2),
              ElementsAre("MIG-GPU-5a3b/1/0", "MIG-e2e6"));
}

TEST(AssignCudaDevicesTest, UuidsAreNotBoundedByTheCount) {
  EXPECT_THAT(Assign("RRGPU-a,GPU-b", 2, /*device_count=*/1), ElementsAre("GPU-a", "GPU-b"));
}

// Configuration errors.

TEST(AssignCudaDevicesTest, NoGpusIsAnError) {
  for (std::string_view value : {"RR", "RR0", "RR0:2", "RR0,1", "RRGPU-a"}) {
    EXPECT_THAT(Reject(value, 2, /*device_count=*/0), HasSubstr("no GPUs found")) << value;
  }
}

TEST(AssignCudaDevicesTest, SingleIndexOutOfRangeIsAnError) {
  EXPECT_THAT(Reject("RR3", 2), HasSubstr("device index 3 is out of range"));
  EXPECT_THAT(Reject("RR-4", 2), HasSubstr("device index -4 is out of range"));
  EXPECT_THAT(Reject("RR99999999999999999999", 2), HasSubstr("out of range"));
}

TEST(AssignCudaDevicesTest, ListIndexOutOfRangeIsAnError) {
  EXPECT_THAT(Reject("RR0,3", 2), HasSubstr("device index 3 is out of range"));
  EXPECT_THAT(Reject("RR0,2,3", 5), HasSubstr("3 GPUs found"));
}

TEST(AssignCudaDevicesTest, NegativeListIndexIsAnError) {
  EXPECT_THAT(Reject("RR0,-1", 2), HasSubstr("device index -1 is out of range"));
}

TEST(AssignCudaDevicesTest, SliceSelectingNothingIsAnError) {
  for (std::string_view value : {"RR3:", "RR2:1", "RR5:9", "RR:0", "RR0:2:-1"}) {
    EXPECT_THAT(Reject(value, 2), HasSubstr("selects none of the 3 GPUs")) << value;
  }
}

TEST(AssignCudaDevicesTest, MixOfIndicesAndUuidsIsAnError) {
  EXPECT_THAT(Reject("RR1,GPU-x", 2), HasSubstr("mixes device indices and GPU UUIDs"));
  EXPECT_THAT(Reject("RRGPU-x,1", 2), HasSubstr("mixes device indices and GPU UUIDs"));
}

TEST(AssignCudaDevicesTest, EmptyItemIsAnError) {
  for (std::string_view value : {"RR1,,2", "RR,1", "RR1,", "RRGPU-a, ,GPU-b"}) {
    EXPECT_THAT(Reject(value, 2), HasSubstr("empty item")) << value;
  }
}

TEST(AssignCudaDevicesTest, SliceStepZeroIsAnError) {
  EXPECT_THAT(Reject("RR::0", 2), HasSubstr("slice step cannot be 0"));
  EXPECT_THAT(Reject("RR0:2:0", 2), HasSubstr("slice step cannot be 0"));
}

TEST(AssignCudaDevicesTest, ReplicasBelowOneIsAnError) {
  EXPECT_THAT(Reject("RR", 0), HasSubstr("replicas must be at least 1, got 0"));
  EXPECT_THAT(Reject("RR0,1", -1), HasSubstr("replicas must be at least 1, got -1"));
}

TEST(AssignCudaDevicesTest, MalformedSliceIsAnError) {
  EXPECT_THAT(Reject("RRx:y", 2), HasSubstr("slice part \"x\" is not an integer"));
  EXPECT_THAT(Reject("RR1:2:3:4", 2), HasSubstr("at most three parts"));
  EXPECT_THAT(Reject("RR0:1,2", 2), HasSubstr("cannot be part of a list"));
}

TEST(AssignCudaDevicesTest, MalformedDeviceIsAnError) {
  EXPECT_THAT(Reject("RRGPU a", 2), HasSubstr("neither a device index nor a GPU UUID"));
  EXPECT_THAT(Reject("RR0;2", 2), HasSubstr("neither a device index nor a GPU UUID"));
  EXPECT_THAT(Reject("RR1.5", 2), HasSubstr("neither a device index nor a GPU UUID"));
  EXPECT_THAT(Reject("RR ", 2), HasSubstr("no device after RR"));
}

TEST(AssignCudaDevicesTest, UnbalancedOrEmptyBracketsAreAnError) {
  EXPECT_THAT(Reject("RR[1:2", 2), HasSubstr("unbalanced"));
  EXPECT_THAT(Reject("RR1:2]", 2), HasSubstr("unbalanced"));
  EXPECT_THAT(Reject("RR[]", 2), HasSubstr("nothing inside [ ]"));
}

// Counting devices.

TEST(CountUuidsTest, CountsEachGpuOfNvidiaSmiList) {
  const std::string output =
      "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-8932f937-d72c-4106-c12f-20bd9faed9f6)\n"
      "GPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d)\n"
      "GPU 2: NVIDIA H100 80GB HBM3 (UUID: GPU-0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0)\n";
  EXPECT_EQ(CountUuids(output), 3);
}

TEST(CountUuidsTest, CountsMigDevicesToo) {
  const std::string output =
      "GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-5a3b0c1d-2e3f-4a5b-6c7d-8e9f0a1b2c3d)\n"
      "  MIG 3g.20gb     Device  0: (UUID: MIG-e2e6b3a0-1f2d-5c4b-8a9e-0d1c2b3a4f5e)\n";
  EXPECT_EQ(CountUuids(output), 2);
}

TEST(CountUuidsTest, NoGpus) {
  EXPECT_EQ(CountUuids(""), 0);
  EXPECT_EQ(CountUuids("No devices found.\n"), 0);
}

// Sets (or unsets, for nullopt) an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = getenv(name)) old_ = old;
    if (value.has_value()) {
      setenv(name, value->c_str(), 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_.has_value()) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// Each test gets PATH = a fresh directory, into which it may write a fake `nvidia-smi`.
class DetectCudaDeviceCountTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tmp_.emplace("gpu-assignment-test");
    dir_ = tmp_->str();
    path_.emplace("PATH", dir_);
  }
  void TearDown() override {
    path_.reset();
    tmp_.reset();
  }

  void WriteFakeNvidiaSmi(const std::string& script) {
    const std::string file = dir_ + "/nvidia-smi";
    std::ofstream(file) << "#!/bin/sh\n" << script << "\n";
    ASSERT_EQ(chmod(file.c_str(), 0755), 0);
  }

  std::optional<testing::TempDir> tmp_;
  std::string dir_;
  std::optional<ScopedEnv> path_;
};

TEST_F(DetectCudaDeviceCountTest, CountsUuidsListedByNvidiaSmi) {
  ScopedEnv total("CUDA_TOTAL_DEVICES", "7");
  WriteFakeNvidiaSmi(
      "[ \"$1\" = -L ] || exit 2\n"
      "echo 'GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-8932f937-d72c-4106-c12f-20bd9faed9f6)'\n"
      "echo 'GPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d)'");
  absl::StatusOr<int> count = DetectCudaDeviceCount();
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_EQ(*count, 2);
}

TEST_F(DetectCudaDeviceCountTest, FallsBackToCudaTotalDevicesWithoutNvidiaSmi) {
  ScopedEnv total("CUDA_TOTAL_DEVICES", "4");
  absl::StatusOr<int> count = DetectCudaDeviceCount();
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_EQ(*count, 4);
}

TEST_F(DetectCudaDeviceCountTest, FallsBackToCudaTotalDevicesWhenNvidiaSmiFails) {
  ScopedEnv total("CUDA_TOTAL_DEVICES", "3");
  WriteFakeNvidiaSmi("echo 'GPU 0: (UUID: GPU-a)'\nexit 9");
  absl::StatusOr<int> count = DetectCudaDeviceCount();
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_EQ(*count, 3);
}

TEST_F(DetectCudaDeviceCountTest, FallsBackToCudaTotalDevicesWhenNvidiaSmiHangs) {
  ScopedEnv total("CUDA_TOTAL_DEVICES", "5");
  WriteFakeNvidiaSmi("echo 'GPU 0: (UUID: GPU-a)'\nexec /bin/sleep 600");
  absl::StatusOr<int> count = DetectCudaDeviceCount(absl::Milliseconds(200));
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_EQ(*count, 5);
}

TEST_F(DetectCudaDeviceCountTest, ZeroWithoutNvidiaSmiOrCudaTotalDevices) {
  ScopedEnv total("CUDA_TOTAL_DEVICES", std::nullopt);
  absl::StatusOr<int> count = DetectCudaDeviceCount();
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_EQ(*count, 0);
}

TEST_F(DetectCudaDeviceCountTest, NonIntegerCudaTotalDevicesIsAnError) {
  for (const char* bad : {"four", "", "2x", "-1"}) {
    ScopedEnv total("CUDA_TOTAL_DEVICES", bad);
    absl::StatusOr<int> count = DetectCudaDeviceCount();
    EXPECT_EQ(count.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(std::string(count.status().message()),
                HasSubstr("CUDA_TOTAL_DEVICES \"" + std::string(bad) + "\""));
  }
}

TEST_F(DetectCudaDeviceCountTest, CudaTotalDevicesIsIgnoredWhenNvidiaSmiAnswers) {
  ScopedEnv total("CUDA_TOTAL_DEVICES", "four");
  WriteFakeNvidiaSmi("echo 'No devices found.'");
  absl::StatusOr<int> count = DetectCudaDeviceCount();
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_EQ(*count, 0);
}

}  // namespace
}  // namespace shoal::orchestrator
