// Tests of the autoscaling decisions on a fake clock and fake loads (no sleeps), and of the
// autoscaler thread against a fake Deployment.
#include "src/orchestrator/autoscaler.h"

#include <vector>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "src/metrics/metrics.h"
#include "tests/testing/wait.h"

namespace shoal::orchestrator {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1000);

absl::Time At(double seconds) { return kStart + absl::Seconds(seconds); }

config::AutoscalingConfig Config() {
  config::AutoscalingConfig config;
  config.min_replicas = 1;
  config.max_replicas = 8;
  config.target_ongoing_requests = 2;
  config.metrics_interval_s = 0.1;
  config.look_back_period_s = 1;
  config.upscale_delay_s = 0.5;
  config.downscale_delay_s = 1;
  return config;
}

// Records `ongoing` every 0.1 s from `from` to `to` (inclusive) and decides after each
// sample; the first decision, with its time.
struct Step {
  double at = -1;
  int replicas = 0;
};
Step Drive(AutoscalingPolicy& policy, double from, double to, std::vector<int> ongoing,
           int current) {
  for (int tick = 0; from + tick * 0.1 <= to + 1e-9; ++tick) {
    const double t = from + tick * 0.1;
    policy.Record(At(t), ongoing);
    if (auto decision = policy.Decide(At(t), current)) return {t, decision->replicas};
  }
  return {};
}

TEST(AutoscalingPolicyTest, NothingBeforeTheFirstSample) {
  AutoscalingPolicy policy(Config());
  EXPECT_FALSE(policy.Desired(1).has_value());
  EXPECT_FALSE(policy.Decide(At(0), 1).has_value());
}

TEST(AutoscalingPolicyTest, DesiredIsOngoingOverTargetRoundedUpAndClamped) {
  for (auto [ongoing, want] : std::vector<std::pair<int, int>>{
           {0, 1}, {1, 1}, {2, 1}, {3, 2}, {4, 2}, {5, 3}, {16, 8}, {100, 8}}) {
    AutoscalingPolicy policy(Config());
    policy.Record(At(0), {ongoing});
    EXPECT_EQ(policy.Desired(1)->replicas, want) << ongoing << " in flight";
    EXPECT_EQ(policy.Desired(3)->replicas, want) << ongoing << " in flight, 3 replicas";
  }
  config::AutoscalingConfig high_floor = Config();
  high_floor.min_replicas = 2;
  AutoscalingPolicy policy(high_floor);
  policy.Record(At(0), {0});
  EXPECT_EQ(policy.Desired(4)->replicas, 2);
}

TEST(AutoscalingPolicyTest, TheBusiestShardDecides) {
  AutoscalingPolicy policy(Config());
  policy.Record(At(0), {2, 9, 1});
  AutoscalingPolicy::Decision desired = *policy.Desired(1);
  EXPECT_EQ(desired.replicas, 5);
  EXPECT_EQ(desired.ongoing, 9);
}

TEST(AutoscalingPolicyTest, AveragesOverTheLookBackPeriod) {
  AutoscalingPolicy policy(Config());
  for (int tick = 0; tick < 10; ++tick) policy.Record(At(tick * 0.1), {0});
  policy.Record(At(1.0), {20});  // (9 x 0 + 20) / 10 samples in the last second
  EXPECT_EQ(policy.Desired(1)->ongoing, 2);
  EXPECT_EQ(policy.Desired(1)->replicas, 1);
  for (int tick = 11; tick <= 20; ++tick) policy.Record(At(tick * 0.1), {20});
  EXPECT_EQ(policy.Desired(1)->ongoing, 20);  // the zeros left the window
  EXPECT_EQ(policy.Desired(1)->replicas, 8);
}

TEST(AutoscalingPolicyTest, ScalesUpOnlyAfterTheUpscaleDelay) {
  config::AutoscalingConfig config = Config();
  config.look_back_period_s = 0.1;  // one sample: the load step shows at once
  AutoscalingPolicy policy(config);
  EXPECT_EQ(Drive(policy, 0, 1, {1}, 1).at, -1);  // 1 in flight: nothing to do
  Step up = Drive(policy, 1.1, 3, {16}, 1);
  EXPECT_EQ(up.replicas, 8);
  EXPECT_NEAR(up.at, 1.1 + 0.5, 1e-6);  // wanted from 1.1 on, applied 0.5 s later
}

TEST(AutoscalingPolicyTest, ScalesDownOnlyAfterTheDownscaleDelay) {
  config::AutoscalingConfig config = Config();
  config.look_back_period_s = 0.1;
  AutoscalingPolicy policy(config);
  Step down = Drive(policy, 0, 5, {0}, 8);
  EXPECT_EQ(down.replicas, 1);
  EXPECT_NEAR(down.at, 1.0, 1e-6);
}

TEST(AutoscalingPolicyTest, ABreakInTheConditionRestartsTheDelay) {
  config::AutoscalingConfig config = Config();
  config.look_back_period_s = 0.1;
  AutoscalingPolicy policy(config);
  EXPECT_EQ(Drive(policy, 0, 0.4, {16}, 1).at, -1);   // wanted for 0.4 s: not yet
  EXPECT_EQ(Drive(policy, 0.5, 0.5, {2}, 1).at, -1);  // back to what runs
  Step up = Drive(policy, 0.6, 3, {16}, 1);
  EXPECT_NEAR(up.at, 1.1, 1e-6);  // a full delay from 0.6
  // A load between the two directions holds the count.
  EXPECT_EQ(Drive(policy, 3.1, 10, {4}, 2).at, -1);
}

TEST(AutoscalingPolicyTest, ZeroDelayActsOnTheFirstSample) {
  config::AutoscalingConfig config = Config();
  config.upscale_delay_s = 0;
  AutoscalingPolicy policy(config);
  policy.Record(At(0), {6});
  std::optional<AutoscalingPolicy::Decision> decision = policy.Decide(At(0), 1);
  ASSERT_TRUE(decision.has_value());
  EXPECT_EQ(decision->replicas, 3);
}

TEST(AutoscalingPolicyTest, FactorsTakePartOfTheStep) {
  config::AutoscalingConfig config = Config();
  config.upscaling_factor = 0.5;
  config.downscaling_factor = 0.5;
  AutoscalingPolicy policy(config);
  policy.Record(At(0), {12});  // ratio 12 / (2 x 2) = 3; half the step: 2 x (1 + 1) = 4
  EXPECT_EQ(policy.Desired(2)->replicas, 4);
  AutoscalingPolicy idle(config);
  idle.Record(At(0), {0});  // ratio 0; half the step down: 8 x 0.5 = 4
  EXPECT_EQ(idle.Desired(8)->replicas, 4);
}

TEST(AutoscalingPolicyTest, KeepsABoundedNumberOfSamples) {
  config::AutoscalingConfig config = Config();
  config.look_back_period_s = 1e6;
  AutoscalingPolicy policy(config);
  for (size_t i = 0; i < AutoscalingPolicy::kMaxSamples + 50; ++i) {
    policy.Record(At(static_cast<double>(i) * 0.001), {i < 50 ? 1000 : 0});
  }
  // The first 50 (busy) samples were dropped: only idle ones remain.
  EXPECT_EQ(policy.Desired(1)->ongoing, 0);
}

// A Deployment whose load the test sets and whose Scale() it records.
class FakeDeployment {
 public:
  void SetLoad(int ongoing) {
    absl::MutexLock lock(&mu_);
    ongoing_ = ongoing;
  }
  int replicas() const {
    absl::MutexLock lock(&mu_);
    return replicas_;
  }
  Autoscaler::Target Target(std::string name) {
    return {.deployment = std::move(name),
            .ongoing_per_shard =
                [this] {
                  absl::MutexLock lock(&mu_);
                  return std::vector<int>{ongoing_};
                },
            .replicas = [this] { return replicas(); },
            .scale =
                [this](int replicas) {
                  absl::MutexLock lock(&mu_);
                  replicas_ = replicas;
                  return absl::OkStatus();
                }};
  }

 private:
  mutable absl::Mutex mu_;
  int ongoing_ ABSL_GUARDED_BY(mu_) = 0;
  int replicas_ ABSL_GUARDED_BY(mu_) = 1;
};

TEST(AutoscalerTest, ScalesAFakeDeploymentUpAndDownAndCountsDecisions) {
  config::AutoscalingConfig config = Config();
  config.metrics_interval_s = 0.01;
  config.look_back_period_s = 0.05;
  config.upscale_delay_s = 0.05;
  config.downscale_delay_s = 0.05;
  config.max_replicas = 4;
  FakeDeployment deployment;
  Autoscaler autoscaler(config, deployment.Target("fake-autoscaled"));
  deployment.SetLoad(16);
  EXPECT_TRUE(testing::WaitFor([&] { return deployment.replicas() == 4; }));
  EXPECT_EQ(metrics::AutoscalerDecisions("fake-autoscaled", "up").Value(), 1);
  EXPECT_TRUE(testing::WaitFor([] {
    return metrics::RenderText().find(
               "shoal_deployment_replicas{deployment=\"fake-autoscaled\"} 4") != std::string::npos;
  })) << metrics::RenderText();
  deployment.SetLoad(0);
  EXPECT_TRUE(testing::WaitFor([&] { return deployment.replicas() == 1; }));
  EXPECT_EQ(metrics::AutoscalerDecisions("fake-autoscaled", "down").Value(), 1);
}

}  // namespace
}  // namespace shoal::orchestrator
