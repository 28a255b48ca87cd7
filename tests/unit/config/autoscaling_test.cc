// Tests of `autoscaling:`: Ray Serve's keys and defaults, the spellings without `_s`, the
// starting replica count, and errors naming file:line:column and the key.
#include "src/config/autoscaling.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/config/deployment_spec.h"
#include "src/config/deployment_yaml.h"
#include "src/config/flow_yaml.h"
#include "tests/testing/status_matchers.h"

namespace shoal::config {
namespace {

using ::shoal::testing::Message;
using ::testing::HasSubstr;

absl::StatusOr<DeploymentSpec> Parse(std::string_view text) {
  return ParseDeploymentYaml(text, "dep.yml");
}

std::string ErrorOf(std::string_view text) {
  absl::StatusOr<DeploymentSpec> spec = Parse(text);
  EXPECT_FALSE(spec.ok()) << "parsed:\n" << text;
  if (spec.ok()) return "";
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  return Message(spec.status());
}

TEST(AutoscalingTest, WithoutTheKeyTheDeploymentHasNone) {
  absl::StatusOr<DeploymentSpec> spec = Parse("uses: Sleep\nreplicas: 2\n");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_FALSE(spec->autoscaling.has_value());
  EXPECT_EQ(spec->replicas, 2);
}

TEST(AutoscalingTest, DefaultsAreRayServes) {
  absl::StatusOr<DeploymentSpec> spec = Parse("uses: Sleep\nautoscaling: {}\n");
  ASSERT_TRUE(spec.ok()) << spec.status();
  ASSERT_TRUE(spec->autoscaling.has_value());
  const AutoscalingConfig& a = *spec->autoscaling;
  EXPECT_EQ(a.min_replicas, 1);
  EXPECT_EQ(a.max_replicas, 1);
  EXPECT_FALSE(a.initial_replicas.has_value());
  EXPECT_EQ(a.target_ongoing_requests, 2);
  EXPECT_EQ(a.metrics_interval_s, 10);
  EXPECT_EQ(a.look_back_period_s, 30);
  EXPECT_EQ(a.upscale_delay_s, 30);
  EXPECT_EQ(a.downscale_delay_s, 600);
  EXPECT_EQ(a.upscaling_factor, 1);
  EXPECT_EQ(a.downscaling_factor, 1);
}

TEST(AutoscalingTest, ReadsRayKeysAndTheSpellingsWithoutS) {
  absl::StatusOr<DeploymentSpec> spec = Parse(R"(
uses: Sleep
autoscaling:
  min_replicas: 2
  max_replicas: 6
  target_ongoing_requests: 1.5
  upscale_delay: 0.5
  downscale_delay_s: 1
  metrics_interval: 0.1
  look_back_period_s: 2
  smoothing_factor: 0.5
  downscaling_factor: 0.25
)");
  ASSERT_TRUE(spec.ok()) << spec.status();
  const AutoscalingConfig& a = *spec->autoscaling;
  EXPECT_EQ(a.min_replicas, 2);
  EXPECT_EQ(a.max_replicas, 6);
  EXPECT_EQ(a.target_ongoing_requests, 1.5);
  EXPECT_EQ(a.upscale_delay_s, 0.5);
  EXPECT_EQ(a.downscale_delay_s, 1);
  EXPECT_EQ(a.metrics_interval_s, 0.1);
  EXPECT_EQ(a.look_back_period_s, 2);
  EXPECT_EQ(a.upscaling_factor, 0.5);     // from smoothing_factor
  EXPECT_EQ(a.downscaling_factor, 0.25);  // its own key wins
  // `replicas` (default 1) is raised to min_replicas.
  EXPECT_EQ(spec->replicas, 2);
}

TEST(AutoscalingTest, ReadsRaysOlderNames) {
  absl::StatusOr<DeploymentSpec> spec = Parse(
      "autoscaling: {target_num_ongoing_requests_per_replica: 3, "
      "upscale_smoothing_factor: 0.5, downscale_smoothing_factor: 0.25}\n");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->autoscaling->target_ongoing_requests, 3);
  EXPECT_EQ(spec->autoscaling->upscaling_factor, 0.5);
  EXPECT_EQ(spec->autoscaling->downscaling_factor, 0.25);
}

TEST(AutoscalingTest, StartsWithInitialReplicasElseReplicasClamped) {
  absl::StatusOr<DeploymentSpec> initial =
      Parse("replicas: 5\nautoscaling: {max_replicas: 4, initial_replicas: 3}\n");
  ASSERT_TRUE(initial.ok()) << initial.status();
  EXPECT_EQ(initial->replicas, 3);
  absl::StatusOr<DeploymentSpec> high = Parse("replicas: 9\nautoscaling: {max_replicas: 4}\n");
  ASSERT_TRUE(high.ok()) << high.status();
  EXPECT_EQ(high->replicas, 4);
  absl::StatusOr<DeploymentSpec> inside = Parse("replicas: 3\nautoscaling: {max_replicas: 4}\n");
  ASSERT_TRUE(inside.ok()) << inside.status();
  EXPECT_EQ(inside->replicas, 3);
}

TEST(AutoscalingTest, ErrorsNameTheLocationAndTheKey) {
  EXPECT_THAT(ErrorOf("autoscaling:\n  min_replicas: 3\n  max_replicas: 2\n"),
              HasSubstr("dep.yml:3:17: autoscaling.max_replicas: 2 is less than min_replicas (3)"));
  EXPECT_THAT(ErrorOf("autoscaling:\n  min_replicas: 0\n"),
              HasSubstr("dep.yml:2:17: autoscaling.min_replicas: must be at least 1"));
  EXPECT_THAT(ErrorOf("autoscaling:\n  max_replicas: 4\n  target_ongoing_requests: 0\n"),
              HasSubstr("dep.yml:3:28: autoscaling.target_ongoing_requests: must be positive"));
  EXPECT_THAT(ErrorOf("autoscaling:\n  upscale_delay_s: -1\n"),
              HasSubstr("autoscaling.upscale_delay_s: must be 0 or more"));
  EXPECT_THAT(ErrorOf("autoscaling:\n  downscale_delay: -2\n"),
              HasSubstr("dep.yml:2:20: autoscaling.downscale_delay: must be 0 or more"));
  EXPECT_THAT(ErrorOf("autoscaling:\n  metrics_interval_s: 0\n"),
              HasSubstr("autoscaling.metrics_interval_s: must be positive"));
  EXPECT_THAT(ErrorOf("autoscaling:\n  max_replicas: two\n"),
              HasSubstr("autoscaling.max_replicas: expected a number, got 'two'"));
  EXPECT_THAT(ErrorOf("autoscaling:\n  max_replicas: 2.5\n"),
              HasSubstr("autoscaling.max_replicas: expected a whole number of replicas"));
  EXPECT_THAT(ErrorOf("autoscaling:\n  max_replicas: 4\n  initial_replicas: 5\n"),
              HasSubstr("autoscaling.initial_replicas: 5 is outside [min_replicas, "
                        "max_replicas] = [1, 4]"));
  EXPECT_THAT(ErrorOf("autoscaling: 3\n"),
              HasSubstr("dep.yml:1:14: key 'autoscaling': expected a map"));
}

TEST(AutoscalingTest, UnknownAndUnsupportedKeysAreErrors) {
  EXPECT_THAT(ErrorOf("autoscaling:\n  max_replica: 2\n"),
              HasSubstr("dep.yml:2:16: autoscaling.max_replica: unknown key (did you mean "
                        "'max_replicas'?)"));
  EXPECT_THAT(ErrorOf("autoscaling:\n  policy: mine\n"),
              HasSubstr("autoscaling.policy: not supported by Shoal"));
  EXPECT_THAT(ErrorOf("autoscaling:\n  upscale_delay: 1\n  upscale_delay_s: 2\n"),
              HasSubstr("given twice"));
}

TEST(AutoscalingTest, NotWithStatefulOrExternal) {
  EXPECT_THAT(ErrorOf("stateful: true\nworkspace: /tmp/w\nreplicas: 3\n"
                      "autoscaling: {min_replicas: 3, max_replicas: 5}\n"),
              HasSubstr("dep.yml:4:14: autoscaling: not with stateful: true (a stateful "
                        "Deployment changes its Raft membership"));
  EXPECT_THAT(ErrorOf("external: true\nhost: [a:1, b:2]\nautoscaling: {max_replicas: 2}\n"),
              HasSubstr("autoscaling: not with external: true"));
}

TEST(AutoscalingTest, MaxReplicasCountsAgainstTheReplicaLimit) {
  absl::StatusOr<DeploymentSpec> spec = Parse("shards: 2\nautoscaling: {max_replicas: 5}\n");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_TRUE(CheckReplicaLimit(*spec, 10).ok());
  Status over = CheckReplicaLimit(*spec, 9);
  EXPECT_THAT(Message(over), HasSubstr("autoscaling.max_replicas: Deployment 'executor': 5 "
                                       "replicas x 2 shards = 10 replica processes at the most"));
}

TEST(AutoscalingTest, AFlowExecutorTakesItWithItsLocation) {
  absl::StatusOr<FlowSpec> flow = ParseFlowYaml(R"(jtype: Flow
executors:
  - name: enc
    uses: Sleep
    autoscaling: {min_replicas: 2, max_replicas: 4}
  - name: idx
    uses: Echo
)",
                                                "flow.yml");
  ASSERT_TRUE(flow.ok()) << flow.status();
  ASSERT_TRUE(flow->executors[0].autoscaling.has_value());
  EXPECT_EQ(flow->executors[0].autoscaling->max_replicas, 4);
  EXPECT_EQ(flow->executors[0].replicas, 2);
  EXPECT_FALSE(flow->executors[1].autoscaling.has_value());
  absl::StatusOr<FlowSpec> bad = ParseFlowYaml(R"(jtype: Flow
executors:
  - name: enc
    autoscaling: {max_replicas: 0}
)",
                                               "flow.yml");
  EXPECT_THAT(Message(bad.status()), HasSubstr("flow.yml:4:33: autoscaling.max_replicas"));
}

TEST(AutoscalingTest, ApiMapsHaveNoLocation) {
  google::protobuf::Struct fields;
  (*fields.mutable_fields())["max_replicas"].set_number_value(0);
  StatusOr<AutoscalingConfig> parsed = ParseAutoscaling(fields, {});
  EXPECT_EQ(Message(parsed.status()), "autoscaling.max_replicas: must be at least 1");
}

}  // namespace
}  // namespace shoal::config
