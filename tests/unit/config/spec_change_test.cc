// Tests of DiffDeploymentSpecs: which keys a running Deployment refuses, restarts for, or
// applies in place, from YAML as `shoal deployment` reloads it, and errors naming the key.
#include "src/config/spec_change.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/config/deployment_yaml.h"
#include "tests/testing/status_matchers.h"

namespace shoal::config {
namespace {

using ::shoal::testing::Message;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

DeploymentSpec Parse(std::string_view text) {
  absl::StatusOr<DeploymentSpec> spec = ParseDeploymentYaml(text, "dep.yml");
  EXPECT_TRUE(spec.ok()) << spec.status();
  return spec.ok() ? *spec : DeploymentSpec();
}

constexpr char kBase[] = "name: e\nuses: Echo\nreplicas: 2\n";

SpecChange Diff(std::string_view to_extra) {
  absl::StatusOr<SpecChange> change =
      DiffDeploymentSpecs(Parse(kBase), Parse(std::string(kBase) + std::string(to_extra)));
  EXPECT_TRUE(change.ok()) << change.status();
  return change.ok() ? *change : SpecChange();
}

std::string Refusal(std::string_view to) {
  absl::StatusOr<SpecChange> change = DiffDeploymentSpecs(Parse(kBase), Parse(to));
  EXPECT_FALSE(change.ok());
  if (change.ok()) return "";
  EXPECT_EQ(change.status().code(), absl::StatusCode::kInvalidArgument);
  return Message(change.status());
}

TEST(SpecChangeTest, TheSameFileChangesNothing) {
  SpecChange change = Diff("");
  EXPECT_TRUE(change.empty());
  // Where keys were written is not a change.
  absl::StatusOr<SpecChange> moved =
      DiffDeploymentSpecs(Parse(kBase), Parse("\n\nreplicas: 2\nuses: Echo\nname: e\n"));
  ASSERT_TRUE(moved.ok());
  EXPECT_TRUE(moved->empty());
}

TEST(SpecChangeTest, ReplicaCommandLineKeysNeedARestart) {
  EXPECT_THAT(Diff("uses_with: {a: 1}\n").restart, ElementsAre("uses_with"));
  EXPECT_THAT(Diff("env: {A: b}\n").restart, ElementsAre("env"));
  EXPECT_THAT(Diff("uses_metas: {x: 1}\n").restart, ElementsAre("uses_metas"));
  EXPECT_THAT(Diff("max_queued_requests: 5\n").restart, ElementsAre("max_queued_requests"));
  EXPECT_THAT(Diff("max_docs_per_request: 5\n").restart, ElementsAre("max_docs_per_request"));
  EXPECT_THAT(Diff("gpus: 1\n").restart, ElementsAre("gpus"));
  EXPECT_THAT(Diff("uses_dynamic_batching: {/foo: {preferred_batch_size: 4}}\n").restart,
              ElementsAre("uses_dynamic_batching"));
  EXPECT_THAT(Diff("grpc_server_options: {grpc.max_receive_message_length: 1000}\n").restart,
              ElementsAre("grpc_server_options"));
  SpecChange change = Diff("uses_with: {a: 1}\nretries: 2\n");
  EXPECT_THAT(change.restart, ElementsAre("uses_with"));
  EXPECT_THAT(change.in_place, ElementsAre("retries"));
}

TEST(SpecChangeTest, UsesIsARestart) {
  absl::StatusOr<SpecChange> change =
      DiffDeploymentSpecs(Parse(kBase), Parse("name: e\nuses: Sleep\nreplicas: 2\n"));
  ASSERT_TRUE(change.ok()) << change.status();
  EXPECT_THAT(change->restart, ElementsAre("uses"));
  EXPECT_THAT(change->in_place, IsEmpty());
}

TEST(SpecChangeTest, RouterAndOrchestratorKeysApplyInPlace) {
  EXPECT_THAT(Diff("timeout_send: 500\n").in_place, ElementsAre("timeout_send"));
  EXPECT_THAT(Diff("timeout_ready: 500\n").in_place, ElementsAre("timeout_ready"));
  EXPECT_THAT(Diff("retries: 1\n").in_place, ElementsAre("retries"));
  EXPECT_THAT(Diff("polling: ALL\n").in_place, ElementsAre("polling"));
  EXPECT_THAT(Diff("polling: {/a: ALL}\n").in_place, ElementsAre("polling"));
  EXPECT_THAT(Diff("load_balancing: round_robin\n").in_place, ElementsAre("load_balancing"));
  EXPECT_THAT(Diff("autoscaling: {min_replicas: 1, max_replicas: 3}\n").in_place,
              ElementsAre("autoscaling"));
  SpecChange change = Diff("timeout_send: 500\nretries: 1\n");
  EXPECT_THAT(change.in_place, ElementsAre("timeout_send", "retries"));
  EXPECT_THAT(change.restart, IsEmpty());
}

TEST(SpecChangeTest, ReplicasApplyInPlace) {
  absl::StatusOr<SpecChange> change =
      DiffDeploymentSpecs(Parse(kBase), Parse("name: e\nuses: Echo\nreplicas: 3\n"));
  ASSERT_TRUE(change.ok()) << change.status();
  EXPECT_THAT(change->in_place, ElementsAre("replicas"));
  EXPECT_TRUE(change->InPlace("replicas"));
  EXPECT_FALSE(change->InPlace("retries"));
}

TEST(SpecChangeTest, RefusedKeysNameTheKeyAndWhereItIsWritten) {
  std::string error = Refusal("name: e\nuses: Echo\nreplicas: 2\nshards: 2\n");
  EXPECT_THAT(error, HasSubstr("dep.yml:4:9"));
  EXPECT_THAT(error, HasSubstr("'shards' cannot change while the Deployment runs"));
  EXPECT_THAT(Refusal("name: f\nuses: Echo\nreplicas: 2\n"), HasSubstr("'name'"));
  EXPECT_THAT(Refusal(std::string(kBase) + "port: 12345\n"), HasSubstr("'port'"));
  EXPECT_THAT(Refusal(std::string(kBase) + "workspace: /tmp/x\n"), HasSubstr("'workspace'"));
  EXPECT_THAT(Refusal(std::string(kBase) + "auth_token: secret\n"), HasSubstr("'auth_token'"));
  EXPECT_THAT(Refusal(std::string(kBase) + "port_monitoring: 9999\n"),
              HasSubstr("'port_monitoring'"));
  EXPECT_THAT(Refusal(std::string(kBase) + "reflection: false\n"), HasSubstr("'reflection'"));
}

TEST(SpecChangeTest, StatefulAndExternalAreRefused) {
  DeploymentSpec base = Parse(kBase);
  DeploymentSpec to = base;
  to.stateful = true;
  absl::StatusOr<SpecChange> change = DiffDeploymentSpecs(base, to);
  ASSERT_FALSE(change.ok());
  EXPECT_THAT(Message(change.status()), HasSubstr("'stateful'"));
  to = base;
  to.external = true;
  change = DiffDeploymentSpecs(base, to);
  ASSERT_FALSE(change.ok());
  EXPECT_THAT(Message(change.status()), HasSubstr("'external'"));
}

TEST(SpecChangeTest, ARefusedKeyWinsOverAllowedChanges) {
  EXPECT_THAT(Refusal("name: e\nuses: Sleep\nreplicas: 3\nshards: 2\n"), HasSubstr("'shards'"));
}

}  // namespace
}  // namespace shoal::config
