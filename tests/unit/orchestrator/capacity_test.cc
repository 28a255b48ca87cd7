// Tests of the capacity check made before replicas start: each bound of the machine refuses a plan
// that passes it, naming the bound and where it comes from; the limits read from this machine
// are usable.
#include "src/orchestrator/capacity.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace shoal::orchestrator {
namespace {

using ::testing::HasSubstr;

using ::shoal::testing::Message;

MachineLimits Roomy() {
  MachineLimits limits;
  limits.tasks = 1'000'000;
  limits.tasks_source = "kernel.pid_max 1000000 with 0 tasks running";
  limits.fds = 1'000'000;
  limits.fds_source = "RLIMIT_NOFILE 1000000 (hard limit) with 0 open";
  limits.memory = uint64_t{1} << 40;
  limits.memory_source = "MemAvailable 1024.0 GiB";
  return limits;
}

TEST(CapacityTest, AFittingPlanPasses) {
  EXPECT_TRUE(CheckMachineCapacity(256, "Deployment 'd'", Roomy()).ok());
  EXPECT_TRUE(CheckMachineCapacity(1, "Deployment 'd'", MachineLimits()).ok());
}

TEST(CapacityTest, TooManyTasks) {
  MachineLimits limits = Roomy();
  limits.tasks = 4000;
  limits.tasks_source = "RLIMIT_NPROC 4000";
  absl::Status status = CheckMachineCapacity(1000, "Deployment 'd'", limits);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(Message(status), HasSubstr("Deployment 'd' would start 1000 replica processes"));
  EXPECT_THAT(Message(status), HasSubstr("8000 tasks (8 each), RLIMIT_NPROC 4000 leaves 4000"));
  EXPECT_TRUE(CheckMachineCapacity(500, "Deployment 'd'", limits).ok());
}

TEST(CapacityTest, TooManyFileDescriptors) {
  MachineLimits limits = Roomy();
  limits.fds = 1000;
  limits.fds_source = "RLIMIT_NOFILE 1024 (hard limit) with 24 open";
  absl::Status status = CheckMachineCapacity(400, "Flow 'f' (a: 400 replicas x 1 shards)", limits);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(Message(status), HasSubstr("Flow 'f' (a: 400 replicas x 1 shards) would start 400"));
  EXPECT_THAT(Message(status),
              HasSubstr("1200 file descriptors (3 each), RLIMIT_NOFILE 1024 (hard limit) with 24 "
                        "open leaves 1000"));
}

TEST(CapacityTest, TooLittleMemory) {
  MachineLimits limits = Roomy();
  limits.memory = uint64_t{1} << 30;
  limits.memory_source = "cgroup memory.max 2.0 GiB with 1.0 GiB in use";
  absl::Status status = CheckMachineCapacity(100000, "Deployment 'big'", limits);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(Message(status),
              HasSubstr("at least 1562.5 GiB of memory (16.0 MiB each), cgroup memory.max 2.0 "
                        "GiB with 1.0 GiB in use"));
}

TEST(CapacityTest, ThisMachineHoldsAFewReplicasButNotAHundredThousand) {
  MachineLimits limits = ReadMachineLimits();
  EXPECT_TRUE(CheckMachineCapacity(2, "Deployment 'd'", limits).ok());
  absl::Status status = CheckMachineCapacity(100'000'000, "Deployment 'd'", limits);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
}

TEST(CapacityTest, CheckCanStartAppliesMaxReplicasBeforeTheMachine) {
  config::DeploymentSpec a{.name = "a"};
  config::DeploymentSpec b{.name = "b", .replicas = 300};
  absl::Status status = CheckCanStart({&a, &b}, config::kDefaultMaxReplicas, "Flow 'f'");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(status), HasSubstr("Deployment 'b': 300 replicas x 1 shards"));
  b.replicas = 2;
  EXPECT_TRUE(CheckCanStart({&a, &b}, config::kDefaultMaxReplicas, "Flow 'f'").ok());
}

}  // namespace
}  // namespace shoal::orchestrator
