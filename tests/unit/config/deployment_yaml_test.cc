// Tests of Deployment YAML parsing: Jina's `with:` layout, the top-level layout of the scale-out
// docs (whose examples must parse), and errors that name the key and file:line:column.
#include "src/config/deployment_yaml.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/config/deployment_yaml_internal.h"
#include "src/config/yaml_value.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace shoal::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;

using ::shoal::testing::Message;

// The error of parsing `text` as "dep.yml"; fails the test if it parses.
std::string ErrorOf(std::string_view text) {
  absl::StatusOr<DeploymentSpec> spec = ParseDeploymentYaml(text, "dep.yml");
  EXPECT_FALSE(spec.ok()) << "parsed:\n" << text;
  if (spec.ok()) return "";
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  return Message(spec.status());
}

TEST(DeploymentYamlTest, ParsesJinaWithLayout) {
  absl::StatusOr<DeploymentSpec> spec = ParseDeploymentYaml(
      "jtype: Deployment\n"
      "with:\n"
      "  name: indexer\n"
      "  uses: Indexer\n"
      "  uses_with:\n    dim: 128\n"
      "  replicas: 2\n"
      "  shards: 3\n"
      "  polling: {'/custom': ALL, '/search': ANY, '*': any}\n"
      "  port: 5555\n"
      "  env: {MODE: fast, THREADS: 4, DEBUG: true}\n"
      "  timeout_ready: -1\n"
      "  timeout_send: 3000\n"
      "  retries: 0\n"
      "  port_monitoring: 9090\n"
      "  needs: [a, b]\n"
      "  floating: false\n"
      "  no_reduce: true\n"
      "  grpc_metadata: {authorization: token}\n",
      "dep.yml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->name, "indexer");
  EXPECT_EQ(spec->uses, "Indexer");
  EXPECT_EQ(spec->uses_with.fields().at("dim").number_value(), 128);
  EXPECT_EQ(spec->replicas, 2);
  EXPECT_EQ(spec->shards, 3);
  EXPECT_EQ(spec->polling_default, "any");
  EXPECT_THAT(spec->polling, UnorderedElementsAre(Pair("/custom", "ALL"), Pair("/search", "ANY")));
  EXPECT_EQ(spec->port, 5555);
  EXPECT_THAT(spec->env, UnorderedElementsAre(Pair("MODE", "fast"), Pair("THREADS", "4"),
                                              Pair("DEBUG", "True")));
  EXPECT_EQ(spec->timeout_ready_ms, -1);
  EXPECT_EQ(spec->timeout_send_ms, 3000);
  EXPECT_EQ(spec->retries, 0);
  EXPECT_EQ(spec->port_monitoring, 9090);
  EXPECT_THAT(spec->needs, ElementsAre("a", "b"));
  EXPECT_FALSE(spec->floating);
  EXPECT_TRUE(spec->no_reduce);
  EXPECT_THAT(spec->grpc_metadata, ElementsAre(Pair("authorization", "token")));
  EXPECT_THAT(spec->warnings, IsEmpty());
  EXPECT_EQ(spec->origin.at("name"), "dep.yml:3:9");
  EXPECT_EQ(spec->origin.at("replicas"), "dep.yml:7:13");
  EXPECT_EQ(spec->origin.at("env.THREADS"), "dep.yml:11:30");
}

TEST(DeploymentYamlTest, DefaultsMatchJina) {
  absl::StatusOr<DeploymentSpec> spec = ParseDeploymentYaml("jtype: Deployment\nwith:\n", "d.yml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->name, "executor");
  EXPECT_EQ(spec->replicas, 1);
  EXPECT_EQ(spec->shards, 1);
  EXPECT_EQ(spec->polling_default, "ANY");
  EXPECT_EQ(spec->timeout_ready_ms, 600000);
  EXPECT_FALSE(spec->timeout_send_ms.has_value());
  EXPECT_EQ(spec->retries, -1);
  EXPECT_FALSE(spec->port.has_value());
}

TEST(DeploymentYamlTest, SeedTopLevelExample) {
  // The first YAML of the scale-out docs: keys at top level next to `jtype`.
  absl::StatusOr<DeploymentSpec> spec = ParseDeploymentYaml(
      "jtype: Deployment\n"
      "uses: jinaai://jina-ai/CLIPEncoder\n"
      "install_requirements: True\n"
      "replicas: 5 \n",
      "seed.yml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->uses, "jinaai://jina-ai/CLIPEncoder");
  EXPECT_EQ(spec->replicas, 5);
  ASSERT_THAT(spec->warnings, SizeIs(1));
  EXPECT_THAT(spec->warnings[0], HasSubstr("seed.yml:3:1: 'install_requirements'"));
}

TEST(DeploymentYamlTest, SeedWithExample) {
  absl::StatusOr<DeploymentSpec> spec = ParseDeploymentYaml(
      "jtype: Deployment\n"
      "with:\n"
      "  uses: jinaai://jina-ai/CLIPEncoder\n"
      "  install_requirements: True\n"
      "  replicas: 5  \n",
      "seed.yml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->uses, "jinaai://jina-ai/CLIPEncoder");
  EXPECT_EQ(spec->replicas, 5);
  EXPECT_THAT(spec->warnings, ElementsAre(HasSubstr("seed.yml:4:3: 'install_requirements'")));
}

TEST(DeploymentYamlTest, SeedFlowExecutorItemsParseAsMaps) {
  absl::StatusOr<YAML::Node> flow = ParseYaml(
      "jtype: Flow\n"
      "executors:\n"
      "- uses: jinaai://jina-ai/CLIPEncoder\n"
      "  install_requirements: True\n"
      "  replicas: 5 \n"
      "  method: add\n",
      "flow.yml");
  ASSERT_TRUE(flow.ok()) << flow.status();
  absl::StatusOr<DeploymentSpec> spec =
      ParseDeploymentMap((*flow)["executors"][0], "flow.yml", {"method"});
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->replicas, 5);
  EXPECT_EQ(spec->origin.at("replicas"), "flow.yml:5:13");

  absl::StatusOr<DeploymentSpec> unskipped = ParseDeploymentMap((*flow)["executors"][0], "f.yml");
  ASSERT_FALSE(unskipped.ok());
  EXPECT_THAT(Message(unskipped.status()), HasSubstr("f.yml:6:3: method: unknown"));
}

TEST(DeploymentYamlTest, NoJtypeAtAll) {
  absl::StatusOr<DeploymentSpec> spec = ParseDeploymentYaml("uses: Echo\nreplicas: 2\n", "d.yml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->replicas, 2);
}

TEST(DeploymentYamlTest, DeploymentTagIsJtype) {
  absl::StatusOr<DeploymentSpec> spec =
      ParseDeploymentYaml("!Deployment\nwith:\n  replicas: 2\n", "d.yml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->replicas, 2);
}

TEST(DeploymentYamlTest, SeedStatefulExample) {
  absl::StatusOr<DeploymentSpec> spec = ParseDeploymentYaml(
      "jtype: Deployment\n"
      "with:\n"
      "  name: indexer\n"
      "  port: 5555\n"
      "  uses: ExactNNSearch\n"
      "  workspace: ./raft\n"
      "  replicas: 3\n"
      "  stateful: true\n"
      "  peer_ports: [12345, 12346, 12347]\n"
      "  raft_configuration: {snapshot_interval: 10, snapshot_threshold: 5, trailing_logs: 10,"
      " LogLevel: INFO}\n",
      "d.yml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_TRUE(spec->stateful);
  EXPECT_EQ(spec->workspace, "./raft");
  EXPECT_THAT(spec->peer_ports, ElementsAre(ElementsAre(12345, 12346, 12347)));
  EXPECT_EQ(spec->raft_configuration.fields().at("snapshot_interval").number_value(), 10);
  EXPECT_EQ(spec->read_consistency, "eventual");
}

TEST(DeploymentYamlTest, PeerPortsPerShardAsMapListOrJson) {
  const std::string head =
      "uses: Indexer\nworkspace: /ws\nstateful: true\nreplicas: 2\nshards: 2\n";
  for (const std::string& peer_ports :
       {std::string("peer_ports: {0: [5000, 5001], 1: [5002, 5003]}\n"),
        std::string("peer_ports: [[5000, 5001], [5002, 5003]]\n"),
        std::string("peer_ports: '{\"0\": [5000, 5001], \"1\": [5002, 5003]}'\n")}) {
    absl::StatusOr<DeploymentSpec> spec = ParseDeploymentYaml(head + peer_ports, "d.yml");
    ASSERT_TRUE(spec.ok()) << peer_ports << spec.status();
    EXPECT_THAT(spec->peer_ports, ElementsAre(ElementsAre(5000, 5001), ElementsAre(5002, 5003)))
        << peer_ports;
  }
}

TEST(DeploymentYamlTest, SeedExternalExamples) {
  absl::StatusOr<DeploymentSpec> inline_ports = ParseDeploymentYaml(
      "host: ['localhost:12345', '91.198.174.192:12346']\nexternal: true\n", "d.yml");
  ASSERT_TRUE(inline_ports.ok()) << inline_ports.status();
  EXPECT_EQ(inline_ports->replicas, 2);

  absl::StatusOr<DeploymentSpec> lists = ParseDeploymentYaml(
      "host: [localhost, 91.198.174.192]\nport: ['12345', '12346']\nexternal: true\n", "d.yml");
  ASSERT_TRUE(lists.ok()) << lists.status();
  EXPECT_EQ(lists->replicas, 2);
  absl::StatusOr<std::vector<ExternalAddress>> addresses = ResolveExternalAddresses(*lists);
  ASSERT_TRUE(addresses.ok()) << addresses.status();
  ASSERT_THAT(*addresses, SizeIs(2));
  EXPECT_EQ((*addresses)[0].Target(), "localhost:12345");
  EXPECT_EQ((*addresses)[1].Target(), "91.198.174.192:12346");
  EXPECT_FALSE((*addresses)[1].tls);
}

TEST(DeploymentYamlTest, ExternalCommaSeparatedHostsAndTls) {
  absl::StatusOr<DeploymentSpec> spec =
      ParseDeploymentYaml("host: 'a, grpcs://b'\nport: 7000\nexternal: true\ntls: true\n", "d.yml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_THAT(spec->host, ElementsAre("a", "grpcs://b"));
  absl::StatusOr<std::vector<ExternalAddress>> addresses = ResolveExternalAddresses(*spec);
  ASSERT_TRUE(addresses.ok()) << addresses.status();
  ASSERT_THAT(*addresses, SizeIs(2));
  EXPECT_TRUE((*addresses)[0].tls);
  EXPECT_EQ((*addresses)[1].Target(), "b:7000");
}

TEST(DeploymentYamlTest, PollingForms) {
  absl::StatusOr<DeploymentSpec> mixed_case = ParseDeploymentYaml("polling: AlL\n", "d.yml");
  ASSERT_TRUE(mixed_case.ok()) << mixed_case.status();
  EXPECT_EQ(mixed_case->polling_default, "AlL");

  absl::StatusOr<DeploymentSpec> numbers =
      ParseDeploymentYaml("polling: {'*': 2, /index: 1}\n", "d.yml");
  ASSERT_TRUE(numbers.ok()) << numbers.status();
  EXPECT_EQ(numbers->polling_default, "ALL");
  EXPECT_THAT(numbers->polling, ElementsAre(Pair("/index", "ANY")));

  absl::StatusOr<DeploymentSpec> json =
      ParseDeploymentYaml("polling: '{\"/custom\": \"ALL\"}'\n", "d.yml");
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_THAT(json->polling, ElementsAre(Pair("/custom", "ALL")));
}

TEST(DeploymentYamlTest, EnvironmentExpansionAndOrigins) {
  setenv("SHOAL_TEST_REPLICAS", "4", 1);
  absl::StatusOr<DeploymentSpec> spec = ParseDeploymentYaml(
      "jtype: Deployment\n"
      "with:\n"
      "  replicas: ${{ ENV.SHOAL_TEST_REPLICAS }}\n"
      "  env:\n"
      "    A: ${{ ENV.SHOAL_TEST_REPLICAS }}\n",
      "d.yml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->replicas, 4);
  EXPECT_EQ(spec->env.at("A"), "4");
  EXPECT_EQ(spec->origin.at("env.A"), "d.yml:5:8");

  std::string error = ErrorOf("replicas: ${{ ENV.SHOAL_TEST_SURELY_UNSET }}\n");
  EXPECT_THAT(error, HasSubstr("dep.yml:1:11"));
  EXPECT_THAT(error, HasSubstr("SHOAL_TEST_SURELY_UNSET"));
}

TEST(DeploymentYamlTest, UsesMetasWorkspaceIsTheDefaultWorkspace) {
  absl::StatusOr<DeploymentSpec> spec = ParseDeploymentYaml(
      "uses_metas: {name: idx, workspace: /data, py_modules: [x.py]}\n", "d.yml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->workspace, "/data");
  EXPECT_EQ(spec->uses_metas.fields().at("name").string_value(), "idx");
  EXPECT_THAT(spec->warnings, ElementsAre(HasSubstr("'uses_metas.py_modules'")));
}

TEST(DeploymentYamlTest, IgnoredJinaKeysWarnByName) {
  absl::StatusOr<DeploymentSpec> spec = ParseDeploymentYaml(
      "uses: Echo\n"
      "gpus: all\n"
      "protocol: grpc\n"
      "volumes: [/a:/b]\n"
      "when: {tags__x: {$eq: 1}}\n"
      "uses_before: Sorter\n",
      "d.yml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_THAT(spec->warnings,
              ElementsAre(HasSubstr("d.yml:2:1: 'gpus'"), HasSubstr("d.yml:4:1: 'volumes'"),
                          HasSubstr("d.yml:5:1: 'when'"), HasSubstr("d.yml:6:1: 'uses_before'")));
}

TEST(DeploymentYamlTest, GpusAreKeptForExports) {
  absl::StatusOr<DeploymentSpec> spec = ParseDeploymentYaml("uses: Echo\ngpus: 2\n", "d.yml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->gpus, "2");
  EXPECT_THAT(spec->warnings, ElementsAre(HasSubstr("`shoal export`")));
  spec = ParseDeploymentYaml("uses: Echo\n", "d.yml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->gpus, "");
}

TEST(DeploymentYamlTest, LoadsFromFile) {
  const testing::TempDir tmp("dep-yaml");
  const std::filesystem::path path = tmp.path() / "dep.yml";
  {
    std::ofstream file(path);
    file << "jtype: Deployment\nwith:\n  replicas: 0\n";
  }
  absl::StatusOr<DeploymentSpec> spec = LoadDeploymentYaml(path);
  std::filesystem::remove(path);
  ASSERT_FALSE(spec.ok());
  EXPECT_THAT(Message(spec.status()), HasSubstr(path.string() + ":3:13: replicas"));

  absl::StatusOr<DeploymentSpec> missing = LoadDeploymentYaml(path);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
}

// Errors: each names the key and where it was written.

TEST(DeploymentYamlErrorTest, UnknownKeySuggestsClosest) {
  EXPECT_EQ(ErrorOf("jtype: Deployment\nwith:\n  replica: 3\n"),
            "dep.yml:3:3: replica: unknown Deployment key (did you mean 'replicas'?)");
  EXPECT_THAT(ErrorOf("uses: Echo\nfrobnicate: 1\n"),
              HasSubstr("dep.yml:2:1: frobnicate: unknown Deployment key; Shoal reads name"));
}

TEST(DeploymentYamlErrorTest, WrongTypes) {
  EXPECT_EQ(ErrorOf("uses: Echo\nreplicas: three\n"),
            "dep.yml:2:11: replicas: expected an integer, got 'three'");
  EXPECT_EQ(ErrorOf("shards: 1.5\n"), "dep.yml:1:9: shards: expected an integer, got 1.5");
  EXPECT_EQ(ErrorOf("stateful: yes\n"),
            "dep.yml:1:11: stateful: expected true or false, got 'yes'");
  EXPECT_EQ(ErrorOf("uses: [a]\n"), "dep.yml:1:7: uses: expected a string, got a list");
  EXPECT_EQ(ErrorOf("env: {A: [1]}\n"), "dep.yml:1:10: env.A: expected a scalar value, got a list");
  EXPECT_THAT(ErrorOf("uses_with: 3\n"), HasSubstr("dep.yml:1:12"));
  EXPECT_THAT(ErrorOf("uses_with: 3\n"), HasSubstr("uses_with"));
}

TEST(DeploymentYamlErrorTest, MaxQueuedRequests) {
  EXPECT_EQ(ErrorOf("jtype: Deployment\nwith:\n  max_queued_requests: -1\n"),
            "dep.yml:3:24: max_queued_requests: must be >= 0, 0 for no limit (got -1)");
  EXPECT_EQ(ErrorOf("jtype: Deployment\nwith:\n  max_queued_requests: many\n"),
            "dep.yml:3:24: max_queued_requests: expected an integer, got 'many'");
}

TEST(DeploymentYamlErrorTest, ReplicasAndShardsAtLeastOne) {
  EXPECT_EQ(ErrorOf("jtype: Deployment\nuses: Echo\nname: dep\nreplicas: 0\n"),
            "dep.yml:4:11: replicas: must be at least 1 (got 0)");
  EXPECT_EQ(ErrorOf("jtype: Deployment\nwith:\n  shards: 0\n"),
            "dep.yml:3:11: shards: must be at least 1 (got 0)");
}

TEST(DeploymentYamlErrorTest, KeyBothAtTopLevelAndUnderWith) {
  EXPECT_EQ(ErrorOf("jtype: Deployment\nreplicas: 2\nwith:\n  replicas: 3\n"),
            "dep.yml:4:3: replicas: given twice (also at dep.yml:2:1); give it either at top "
            "level or under with:");
}

TEST(DeploymentYamlErrorTest, NotADeployment) {
  EXPECT_THAT(ErrorOf("jtype: Flow\nexecutors: []\n"),
              HasSubstr("dep.yml:1:8: jtype: expected 'Deployment', got 'Flow'"));
  EXPECT_THAT(ErrorOf("- a\n- b\n"), HasSubstr("dep.yml:1:1"));
  EXPECT_THAT(ErrorOf("with: [1]\n"), HasSubstr("dep.yml:1:7: with: expected a map"));
}

TEST(DeploymentYamlErrorTest, PollingValues) {
  EXPECT_EQ(ErrorOf("shards: 2\npolling: ANYY\n"),
            "dep.yml:2:10: polling: expected ANY or ALL, got 'ANYY'");
  EXPECT_EQ(ErrorOf("shards: 2\npolling:\n  /search: ALL\n  '*': ANYY\n"),
            "dep.yml:4:8: polling.*: expected ANY or ALL, got 'ANYY'");
  EXPECT_EQ(ErrorOf("polling: {/index: ONE}\n"),
            "dep.yml:1:19: polling./index: expected ANY or ALL, got 'ONE'");
  EXPECT_THAT(ErrorOf("polling: 3\n"), HasSubstr("dep.yml:1:10: polling: ALL_ASYNC"));
  EXPECT_EQ(ErrorOf("polling: 7\n"), "dep.yml:1:10: polling: expected ANY or ALL (or 1, 2), got 7");
}

TEST(DeploymentYamlErrorTest, ExternalHostPortMismatch) {
  EXPECT_EQ(ErrorOf("external: true\nhost: [a, b, c]\nport: [1, 2]\n"),
            "dep.yml:2:7: host: number of hosts (3) does not match the number of ports (2)");
}

TEST(DeploymentYamlErrorTest, ExternalAddressWithoutPort) {
  EXPECT_THAT(ErrorOf("external: true\nhost: ['a:1', b]\n"),
              HasSubstr("dep.yml:2:7: host: external address 'b' has no port"));
  EXPECT_THAT(ErrorOf("external: true\n"),
              HasSubstr("host: external: true needs at least one address in host"));
  EXPECT_THAT(ErrorOf("external: true\nhost: http://a:1\n"),
              HasSubstr("dep.yml:2:7: host: unsupported scheme in 'http://a:1'"));
}

TEST(DeploymentYamlErrorTest, ExternalReplicasMustMatchAddresses) {
  EXPECT_EQ(ErrorOf("external: true\nhost: ['a:1', 'b:2']\nreplicas: 3\n"),
            "dep.yml:3:11: replicas: the external Deployment has 2 addresses; replicas must be "
            "1 or 2 (got 3)");
}

TEST(DeploymentYamlErrorTest, PortListNeedsExternal) {
  EXPECT_EQ(ErrorOf("port: [1, 2]\n"), "dep.yml:1:7: port: a list of ports needs external: true");
  EXPECT_EQ(ErrorOf("port: 70000\n"),
            "dep.yml:1:7: port: must be between 1 and 65535, or 0 for any free port (got 70000)");
}

TEST(DeploymentYamlErrorTest, StatefulNeedsWorkspace) {
  EXPECT_EQ(ErrorOf("uses: Indexer\nreplicas: 3\nstateful: true\n"),
            "dep.yml:3:11: stateful: stateful: true needs a workspace");
}

TEST(DeploymentYamlErrorTest, PeerPortsShape) {
  const std::string head = "workspace: /ws\nstateful: true\nreplicas: 3\n";
  EXPECT_EQ(ErrorOf(head + "peer_ports: [5000, 5001]\n"),
            "dep.yml:4:13: peer_ports: needs one port per replica (replicas: 3), got 2");
  EXPECT_EQ(ErrorOf(head + "shards: 2\npeer_ports: [5000, 5001, 5002]\n"),
            "dep.yml:5:13: peer_ports: needs one list per shard (shards: 2), got 1");
  EXPECT_EQ(ErrorOf(head + "shards: 2\npeer_ports: {0: [1, 2, 3], 1: [4, 5]}\n"),
            "dep.yml:5:13: peer_ports[1]: needs one port per replica (replicas: 3), got 2");
  EXPECT_THAT(ErrorOf(head + "shards: 2\npeer_ports: {0: [1, 2, 3], 2: [4, 5, 6]}\n"),
              HasSubstr("dep.yml:5:13: peer_ports: shard 1 has no ports"));
  EXPECT_THAT(ErrorOf(head + "peer_ports: [5000, 5000, 5001]\n"),
              HasSubstr("dep.yml:4:13: peer_ports: port 5000 is given more than once"));
}

TEST(DeploymentYamlErrorTest, RaftConfiguration) {
  const std::string head = "workspace: /ws\nstateful: true\nraft_configuration:\n";
  EXPECT_THAT(ErrorOf(head + "  snapshot_intervall: 10\n"),
              HasSubstr("dep.yml:4:23: raft_configuration.snapshot_intervall: unknown key (did "
                        "you mean 'snapshot_interval'?)"));
  EXPECT_THAT(ErrorOf(head + "  loglevel: INFO\n"),
              HasSubstr("dep.yml:4:13: raft_configuration.loglevel: unknown key (did you mean "
                        "'LogLevel'?)"));
  EXPECT_EQ(ErrorOf(head + "  heartbeat_timeout: fast\n"),
            "dep.yml:4:22: raft_configuration.heartbeat_timeout: expected a whole number of "
            "milliseconds >= 0, got 'fast'");
  EXPECT_EQ(ErrorOf(head + "  ElectionTimeout: -5\n"),
            "dep.yml:4:20: raft_configuration.ElectionTimeout: expected a whole number of "
            "milliseconds >= 0, got -5");
  EXPECT_EQ(ErrorOf(head + "  batch_apply_ch: 1\n"),
            "dep.yml:4:19: raft_configuration.batch_apply_ch: expected true or false, got 1");
  EXPECT_THAT(ErrorOf(head + "  LogLevel: LOUD\n"),
              HasSubstr("dep.yml:4:13: raft_configuration.LogLevel: expected one of TRACE"));
  EXPECT_THAT(ErrorOf(head + "  LogLevel: INFO\n  log_level: DEBUG\n"),
              HasSubstr("dep.yml:5:14: raft_configuration.log_level: the same key as 'LogLevel'"));
}

TEST(DeploymentYamlErrorTest, ReadConsistency) {
  EXPECT_EQ(ErrorOf("workspace: /ws\nstateful: true\nread_consistency: strong\n"),
            "dep.yml:3:19: read_consistency: expected eventual or linearizable, got 'strong'");
  EXPECT_EQ(ErrorOf("read_consistency: linearizable\n"),
            "dep.yml:1:19: read_consistency: linearizable needs stateful: true");
  absl::StatusOr<DeploymentSpec> spec = ParseDeploymentYaml(
      "workspace: /ws\nstateful: true\nread_consistency: Linearizable\n", "d.yml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->read_consistency, "linearizable");
}

TEST(DeploymentYamlErrorTest, BadName) {
  EXPECT_EQ(ErrorOf("name: 'my exec'\n"),
            "dep.yml:1:7: name: must be letters, digits, '_' or '-' (got 'my exec')");
}

TEST(DeploymentYamlErrorTest, DuplicateKey) {
  EXPECT_THAT(ErrorOf("replicas: 1\nreplicas: 2\n"),
              HasSubstr("dep.yml:2:1: replicas: given twice (also at dep.yml:1:1)"));
}

// A billion laughs inside uses_with (10^9 scalars from nine levels of ten aliases each): refused
// with the limit named, before anything expands it.
TEST(DeploymentYamlErrorTest, AliasExpansionIsBounded) {
  std::string text = "uses: Echo\nuses_with:\n  l0: &l0 \"lol\"\n";
  for (int i = 1; i <= 9; ++i) {
    absl::StrAppend(&text, "  l", i, ": &l", i, " [");
    for (int j = 0; j < 10; ++j) absl::StrAppend(&text, j ? ", *l" : "*l", i - 1);
    absl::StrAppend(&text, "]\n");
  }
  text += "  lol: *l9\n";
  std::string error = ErrorOf(text);
  EXPECT_THAT(error, ::testing::ContainsRegex("^[a-z]+\\.yml:[0-9]+:[0-9]+: "));
  EXPECT_THAT(error, HasSubstr("more than 100000 nodes"));
}

}  // namespace
}  // namespace shoal::config

namespace shoal::config {
namespace {

TEST(DeploymentYamlTest, GrpcServerOptionsAndMaxDocsReachTheReplicas) {
  absl::StatusOr<DeploymentSpec> spec = ParseDeploymentYaml(
      "jtype: Deployment\n"
      "with:\n"
      "  max_docs_per_request: 500\n"
      "  grpc_server_options:\n"
      "    grpc.max_receive_message_length: 104857600\n"
      "    grpc.max_send_message_length: -1\n",
      "dep.yml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->max_docs_per_request, 500);
  EXPECT_EQ(spec->grpc_server_limits.max_receive_message_bytes, 104857600);
  EXPECT_EQ(spec->grpc_server_limits.max_send_message_bytes, -1);
  EXPECT_THAT(spec->warnings, IsEmpty());
  EXPECT_THAT(ReplicaLimitFlags(*spec),
              ElementsAre("--max-docs-per-request", "500", "--max-message-size", "104857600",
                          "--max-send-message-size", "-1"));
  absl::StatusOr<DeploymentSpec> plain = ParseDeploymentYaml("uses: Echo\n", "dep.yml");
  ASSERT_TRUE(plain.ok());
  EXPECT_THAT(ReplicaLimitFlags(*plain), IsEmpty());  // the replicas' defaults
  EXPECT_FALSE(plain->expose_internal_errors);
  absl::StatusOr<DeploymentSpec> exposed =
      ParseDeploymentYaml("expose_internal_errors: true\n", "dep.yml");
  ASSERT_TRUE(exposed.ok()) << exposed.status();
  EXPECT_TRUE(exposed->expose_internal_errors);
}

TEST(DeploymentYamlErrorTest, GrpcServerOptionsNameTheOption) {
  EXPECT_EQ(ErrorOf("grpc_server_options:\n  grpc.keepalive_time_ms: 100\n"),
            "dep.yml:2:3: grpc_server_options.grpc.keepalive_time_ms: unknown gRPC server "
            "option; Shoal reads grpc.max_receive_message_length and "
            "grpc.max_send_message_length");
  EXPECT_THAT(ErrorOf("grpc_server_options:\n  grpc.max_receive_message_length: lots\n"),
              HasSubstr("grpc_server_options.grpc.max_receive_message_length: expected a size "
                        "in bytes from 1 to 2147483647, or -1 for no limit; got 'lots'"));
  EXPECT_THAT(ErrorOf("grpc_server_options:\n  grpc.max_receive_message_length: 0\n"),
              HasSubstr("or -1 for no limit; got 0"));
  EXPECT_THAT(ErrorOf("grpc_server_options: 5\n"),
              HasSubstr("grpc_server_options: expected a map of gRPC options"));
  EXPECT_EQ(ErrorOf("max_docs_per_request: -2\n"),
            "dep.yml:1:23: max_docs_per_request: must be >= 0, 0 for no limit (got -2)");
}

// A PEM certificate and key in a fresh folder (contents checked for their PEM headers only).
std::filesystem::path PemFiles() {
  static const testing::TempDir tmp("dep-yaml-pem");  // removed at exit
  const std::filesystem::path dir = tmp.path();
  std::ofstream(dir / "cert.pem")
      << "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  std::ofstream(dir / "key.pem")
      << "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n";
  return dir;
}

TEST(DeploymentYamlTest, SecurityKeys) {
  const std::string dir = PemFiles().string();
  absl::StatusOr<DeploymentSpec> spec = ParseDeploymentYaml(
      "jtype: Deployment\n"
      "with:\n"
      "  uses: Echo\n"
      "  auth_token: abc\n"
      "  reflection: false\n"
      "  ssl_certfile: " +
          dir +
          "/cert.pem\n"
          "  ssl_keyfile: " +
          dir +
          "/key.pem\n"
          "  internal_tls:\n"
          "    certfile: " +
          dir +
          "/cert.pem\n"
          "    keyfile: " +
          dir +
          "/key.pem\n"
          "    cafile: " +
          dir + "/cert.pem\n",
      "dep.yml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->auth_token, "abc");
  EXPECT_FALSE(spec->reflection);
  EXPECT_EQ(spec->ssl_certfile, dir + "/cert.pem");
  EXPECT_EQ(spec->internal_tls.keyfile, dir + "/key.pem");
  EXPECT_EQ(spec->internal_tls.cafile, dir + "/cert.pem");
  EXPECT_THAT(spec->warnings, IsEmpty());  // ssl_* are served now, not ignored
}

TEST(DeploymentYamlErrorTest, TlsFiles) {
  const std::string dir = PemFiles().string();
  EXPECT_THAT(ErrorOf("uses: Echo\nssl_certfile: " + dir + "/cert.pem\n"),
              HasSubstr("dep.yml:2:15: ssl_certfile: is given without ssl_keyfile"));
  EXPECT_THAT(ErrorOf("uses: Echo\nssl_keyfile: " + dir + "/key.pem\n"),
              HasSubstr("ssl_keyfile: is given without ssl_certfile"));
  EXPECT_THAT(ErrorOf("uses: Echo\nssl_certfile: " + dir + "/missing.pem\nssl_keyfile: " + dir +
                      "/key.pem\n"),
              HasSubstr("dep.yml:2:15: ssl_certfile: '" + dir + "/missing.pem' cannot be read"));
  EXPECT_THAT(
      ErrorOf("uses: Echo\nssl_certfile: " + dir + "/key.pem\nssl_keyfile: " + dir + "/key.pem\n"),
      HasSubstr("ssl_certfile: '" + dir + "/key.pem' holds no PEM certificate"));
  EXPECT_THAT(ErrorOf("uses: Echo\nssl_certfile: " + dir + "/cert.pem\nssl_keyfile: " + dir +
                      "/cert.pem\n"),
              HasSubstr("ssl_keyfile: '" + dir + "/cert.pem' holds no PEM private key"));
  EXPECT_THAT(ErrorOf("uses: Echo\ninternal_tls:\n  certfile: " + dir +
                      "/cert.pem\n  keyfile: " + dir + "/key.pem\n"),
              HasSubstr("dep.yml:3:3: internal_tls.cafile: is missing"));
  EXPECT_THAT(ErrorOf("uses: Echo\ninternal_tls:\n  certfle: x\n"),
              HasSubstr("dep.yml:3:12: internal_tls.certfle: unknown key; internal_tls takes "
                        "certfile, keyfile and cafile (did you mean 'certfile'?)"));
  EXPECT_THAT(ErrorOf("uses: Echo\ninternal_tls: yes\n"),
              HasSubstr("dep.yml:2:15: key 'internal_tls': expected a map"));
}

// A relative file in `uses` is found next to the YAML, wherever the command runs; other forms,
// and files that are not there, stay as written.
TEST(DeploymentYamlTest, RelativeUsesFilesResolveAgainstTheYamlsFolder) {
  const testing::TempDir tmp("dep-uses-rel");
  tmp.Write("conf/enc.py", "");
  tmp.Write("conf/libenc.so", "");
  tmp.Write("conf/exec.yml", "jtype: Echo\n");
  const std::filesystem::path dir = tmp.path() / "conf";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"enc.py", (dir / "enc.py").string()},
      {"enc.py:Encoder", (dir / "enc.py").string() + ":Encoder"},
      {"libenc.so:Encoder", (dir / "libenc.so").string() + ":Encoder"},
      {"exec.yml", (dir / "exec.yml").string()},
      {"missing.py:Encoder", "missing.py:Encoder"},
      {"enc:Encoder", "enc:Encoder"},
      {"Echo", "Echo"},
  };
  for (const auto& [uses, expected] : cases) {
    std::filesystem::path yaml =
        tmp.Write("conf/dep.yml", "jtype: Deployment\nwith:\n  uses: " + uses + "\n");
    absl::StatusOr<DeploymentSpec> spec = LoadDeploymentYaml(yaml);
    ASSERT_TRUE(spec.ok()) << uses << ": " << spec.status();
    EXPECT_EQ(spec->uses, expected) << uses;
  }
}

}  // namespace
}  // namespace shoal::config

namespace shoal::config {
namespace {

TEST(DeploymentYamlInProcessTest, InProcessIsReadAndItsCombinationsChecked) {
  absl::StatusOr<DeploymentSpec> spec =
      ParseDeploymentYaml("uses: Echo\nreplicas: 2\ninprocess: true\n", "dep.yml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_TRUE(spec->inprocess);
  EXPECT_TRUE(ValidateDeploymentSpec(*spec).ok());
  EXPECT_FALSE(ParseDeploymentYaml("uses: Echo\n", "dep.yml")->inprocess);  // off by default

  for (const auto& [yaml, names] : std::vector<std::pair<std::string, std::string>>{
           {"inprocess: true\nstateful: true\nworkspace: /tmp/w\n", "stateful"},
           {"inprocess: true\nenv: {X: '1'}\n", "env"},
           {"inprocess: true\nautoscaling: {min_replicas: 1, max_replicas: 2}\n", "autoscaling"},
           {"inprocess: true\nexternal: true\nhost: 'a:1'\n", "external"},
       }) {
    absl::StatusOr<DeploymentSpec> parsed = ParseDeploymentYaml(yaml, "dep.yml");
    Status checked = parsed.ok() ? ValidateDeploymentSpec(*parsed) : parsed.status();
    EXPECT_EQ(checked.code(), absl::StatusCode::kInvalidArgument) << yaml;
    EXPECT_THAT(std::string(checked.message()), HasSubstr("dep.yml:1:12: inprocess:")) << yaml;
    EXPECT_THAT(std::string(checked.message()), HasSubstr(names)) << yaml;
  }
  EXPECT_THAT(ErrorOf("inprocess: maybe\n"), HasSubstr("inprocess"));
}

}  // namespace
}  // namespace shoal::config
