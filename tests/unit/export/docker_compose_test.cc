// Tests of the docker-compose writer, reading its output back as YAML: a service per replica
// named as Jina names them, health checks, GPU reservations, one network, stateful peers by
// service name, and a gateway that lists every replica and loads the Flow it carries.
#include "src/export/docker_compose.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/config/deployment_yaml.h"
#include "src/config/flow_yaml.h"
#include "tests/testing/temp_dir.h"
#include "yaml-cpp/yaml.h"

namespace shoal::exporter {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

YAML::Node Export(std::string_view yaml, const ComposeOptions& options = {}) {
  absl::StatusOr<config::FlowSpec> flow = config::ParseFlowYaml(yaml, "f.yml");
  EXPECT_TRUE(flow.ok()) << flow.status();
  if (!flow.ok()) return YAML::Node();
  absl::StatusOr<std::string> compose = ToDockerCompose(*flow, options);
  EXPECT_TRUE(compose.ok()) << compose.status();
  return compose.ok() ? YAML::Load(*compose) : YAML::Node();
}

std::vector<std::string> Strings(const YAML::Node& list) {
  std::vector<std::string> out;
  for (const YAML::Node& item : list) out.push_back(item.as<std::string>());
  return out;
}

std::vector<std::string> Keys(const YAML::Node& map) {
  std::vector<std::string> out;
  for (const auto& item : map) out.push_back(item.first.as<std::string>());
  return out;
}

std::string Flag(const YAML::Node& command, std::string_view flag) {
  std::vector<std::string> items = Strings(command);
  for (size_t i = 0; i + 1 < items.size(); ++i) {
    if (items[i] == flag) return items[i + 1];
  }
  ADD_FAILURE() << "no " << flag;
  return "";
}

constexpr char kFlow[] = R"(
jtype: Flow
with: {port: 12345}
executors:
  - {name: single, uses: Echo}
  - {name: my_enc, uses: Sleep, replicas: 2, gpus: 1, env: {PRICE: "$5"}}
  - {name: idx, uses: ExactNNIndexer, shards: 2, replicas: 2, polling: {/search: ALL}}
)";

TEST(DockerComposeTest, OneServicePerReplicaNamedAsJinaNamesThem) {
  YAML::Node compose = Export(kFlow);
  EXPECT_EQ(compose["version"].as<std::string>(), "3.8");
  EXPECT_THAT(Keys(compose["services"]),
              ElementsAre("single", "my-enc-rep-0", "my-enc-rep-1", "idx-0-rep-0", "idx-0-rep-1",
                          "idx-1-rep-0", "idx-1-rep-1", "gateway"));
  YAML::Node replica = compose["services"]["idx-1-rep-0"];
  EXPECT_EQ(replica["image"].as<std::string>(), "shoal:latest");
  EXPECT_THAT(Strings(replica["command"]),
              ElementsAre("shoal", "executor", "--uses", "ExactNNIndexer", "--name",
                          "idx/shard-1/rep-0", "--host", "0.0.0.0", "--port", "8080"));
  EXPECT_THAT(Strings(replica["healthcheck"]["test"]),
              ElementsAre("CMD", "shoal", "ping", "127.0.0.1:8080"));
}

TEST(DockerComposeTest, OneNetworkForEveryService) {
  YAML::Node compose = Export(kFlow, {.network = "search-net"});
  EXPECT_THAT(Keys(compose["networks"]), ElementsAre("search-net"));
  EXPECT_EQ(compose["networks"]["search-net"]["driver"].as<std::string>(), "bridge");
  for (const auto& service : compose["services"]) {
    EXPECT_THAT(Strings(service.second["networks"]), ElementsAre("search-net"));
  }
}

TEST(DockerComposeTest, GpusAreDeviceReservations) {
  YAML::Node compose = Export(kFlow);
  YAML::Node device =
      compose["services"]["my-enc-rep-1"]["deploy"]["resources"]["reservations"]["devices"][0];
  EXPECT_EQ(device["driver"].as<std::string>(), "nvidia");
  EXPECT_EQ(device["count"].as<int>(), 1);
  EXPECT_THAT(Strings(device["capabilities"]), ElementsAre("gpu"));
  EXPECT_FALSE(compose["services"]["single"]["deploy"].IsDefined());
  YAML::Node all = Export("executors:\n  - {name: e, uses: Echo, gpus: all}\n");
  EXPECT_EQ(all["services"]["e"]["deploy"]["resources"]["reservations"]["devices"][0]["count"]
                .as<std::string>(),
            "all");
}

TEST(DockerComposeTest, DollarSignsAreEscapedForCompose) {
  YAML::Node compose = Export(kFlow);
  EXPECT_EQ(compose["services"]["my-enc-rep-0"]["environment"]["PRICE"].as<std::string>(), "$$5");
}

TEST(DockerComposeTest, GatewayListsEveryReplicaAndDependsOnThem) {
  YAML::Node gateway = Export(kFlow)["services"]["gateway"];
  EXPECT_EQ(gateway["environment"]["SHOAL_DEPLOYMENTS_ADDRESSES"].as<std::string>(),
            R"({"single":["single:8080"],"my_enc":["my-enc-rep-0:8080","my-enc-rep-1:8080"],)"
            R"("idx":[["idx-0-rep-0:8080","idx-0-rep-1:8080"],["idx-1-rep-0:8080",)"
            R"("idx-1-rep-1:8080"]]})");
  EXPECT_THAT(Strings(gateway["ports"]), ElementsAre("12345:12345"));
  EXPECT_THAT(Strings(gateway["depends_on"]),
              ElementsAre("single", "my-enc-rep-0", "my-enc-rep-1", "idx-0-rep-0", "idx-0-rep-1",
                          "idx-1-rep-0", "idx-1-rep-1"));
  EXPECT_THAT(Strings(gateway["healthcheck"]["test"]),
              ElementsAre("CMD", "shoal", "ping", "127.0.0.1:12345"));
  std::vector<std::string> command = Strings(gateway["command"]);
  ASSERT_EQ(command.size(), 3u);
  EXPECT_EQ(command[0], "sh");
  EXPECT_THAT(command[2], HasSubstr("printenv SHOAL_FLOW_YAML > /tmp/flow.yml && exec shoal "
                                    "gateway --uses /tmp/flow.yml --deployments-addresses "
                                    "\"$$SHOAL_DEPLOYMENTS_ADDRESSES\""));
  // The Flow the gateway loads (compose turns `$$` back into `$`).
  const std::string flow_yaml = absl::StrReplaceAll(
      gateway["environment"]["SHOAL_FLOW_YAML"].as<std::string>(), {{"$$", "$"}});
  absl::StatusOr<config::FlowSpec> flow = config::ParseFlowYaml(flow_yaml, "flow.yml");
  ASSERT_TRUE(flow.ok()) << flow.status() << "\n" << flow_yaml;
  EXPECT_THAT(flow->ports, ElementsAre(12345));
  ASSERT_EQ(flow->executors.size(), 3u);
  EXPECT_EQ(flow->executors[2].name, "idx");
  EXPECT_EQ(flow->executors[2].shards, 2);
  EXPECT_THAT(flow->executors[2].needs, ElementsAre("my_enc"));
}

TEST(DockerComposeTest, StatefulReplicasFindTheirPeersByServiceName) {
  YAML::Node compose = Export(R"(
executors:
  - name: idx
    uses: Counter
    replicas: 3
    stateful: true
    workspace: /local/path
    peer_ports: [9100, 9101, 9102]
)");
  YAML::Node command = compose["services"]["idx-rep-1"]["command"];
  EXPECT_THAT(Strings(command), Contains("--stateful"));
  EXPECT_EQ(Flag(command, "--workspace"), "/workspace");
  EXPECT_EQ(Flag(command, "--raft-id"), "idx-rep-1");
  EXPECT_EQ(Flag(command, "--raft-address"), "0.0.0.0:9101");
  EXPECT_EQ(Flag(command, "--raft-advertise"), "idx-rep-1:9101");
  EXPECT_EQ(Flag(command, "--raft-peers"),
            "idx-rep-0=idx-rep-0:9100,idx-rep-1=idx-rep-1:9101,idx-rep-2=idx-rep-2:9102");
  EXPECT_THAT(Strings(compose["services"]["idx-rep-1"]["volumes"]),
              ElementsAre("idx-rep-1-workspace:/workspace"));
  EXPECT_THAT(Keys(compose["volumes"]),
              ElementsAre("idx-rep-0-workspace", "idx-rep-1-workspace", "idx-rep-2-workspace"));
}

TEST(DockerComposeTest, ADeploymentIsExportedWithItsOwnGateway) {
  absl::StatusOr<config::DeploymentSpec> spec =
      config::ParseDeploymentYaml("name: dep\nuses: Echo\nreplicas: 2\n", "d.yml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  absl::StatusOr<std::string> compose = ToDockerCompose(*spec, {});
  ASSERT_TRUE(compose.ok()) << compose.status();
  YAML::Node parsed = YAML::Load(*compose);
  EXPECT_THAT(Keys(parsed["services"]), ElementsAre("dep-rep-0", "dep-rep-1", "dep-gateway"));
  EXPECT_THAT(Strings(parsed["services"]["dep-gateway"]["ports"]), ElementsAre("8080:8080"));
}

TEST(DockerComposeTest, Errors) {
  absl::StatusOr<config::FlowSpec> flow =
      config::ParseFlowYaml("executors:\n  - {name: _x, uses: Echo}\n", "f.yml");
  ASSERT_TRUE(flow.ok());
  EXPECT_THAT(std::string(ToDockerCompose(*flow, {}).status().message()),
              HasSubstr("Deployment '_x'"));
  flow = config::ParseFlowYaml("executors:\n  - {name: x, uses: Echo}\n", "f.yml");
  ASSERT_TRUE(flow.ok());
  EXPECT_THAT(std::string(ToDockerCompose(*flow, {.network = "Bad Net"}).status().message()),
              HasSubstr("network 'Bad Net'"));
  EXPECT_THAT(std::string(ToDockerCompose(*flow, {.image = ""}).status().message()),
              HasSubstr("image"));
}

TEST(DockerComposeTest, CertificatesAreMountedReadOnlyAndTheTokenComesFromTheEnvironment) {
  const testing::TempDir tmp("compose-secrets");
  const std::filesystem::path dir = tmp.path();
  std::ofstream(dir / "cert.pem")
      << "-----BEGIN CERTIFICATE-----\nQ0VSVA==\n-----END CERTIFICATE-----\n";
  std::ofstream(dir / "key.pem")
      << "-----BEGIN PRIVATE KEY-----\nS0VZ\n-----END PRIVATE KEY-----\n";
  const std::string d = dir.string();
  YAML::Node compose = Export(
      "jtype: Flow\n"
      "with:\n"
      "  auth_token: tok-123456\n"
      "  ssl_certfile: " +
      d +
      "/cert.pem\n"
      "  ssl_keyfile: " +
      d +
      "/key.pem\n"
      "  internal_tls: {certfile: " +
      d + "/cert.pem, keyfile: " + d + "/key.pem, cafile: " + d +
      "/cert.pem}\n"
      "executors:\n"
      "  - {name: enc, uses: Echo}\n");
  YAML::Node enc = compose["services"]["enc"];
  EXPECT_EQ(Flag(enc["command"], "--ssl-certfile"), "/etc/shoal/secrets/enc.crt");
  EXPECT_THAT(Strings(enc["volumes"]),
              ::testing::Contains(d + "/key.pem:/etc/shoal/secrets/enc.key:ro"));
  EXPECT_EQ(enc["environment"]["SHOAL_AUTH_TOKEN"].as<std::string>(),
            "${SHOAL_AUTH_TOKEN:?set SHOAL_AUTH_TOKEN to the Flow's auth_token}");
  YAML::Node gateway = compose["services"]["gateway"];
  EXPECT_THAT(Strings(gateway["volumes"]),
              ::testing::Contains(d + "/cert.pem:/etc/shoal/secrets/gateway.crt:ro"));
  EXPECT_THAT(gateway["command"][2].as<std::string>(),
              HasSubstr("--ssl-certfile /etc/shoal/secrets/gateway.crt"));
  EXPECT_THAT(YAML::Dump(compose), ::testing::Not(HasSubstr("tok-123456")));
}

}  // namespace
}  // namespace shoal::exporter

namespace shoal::exporter {
namespace {

TEST(DockerComposeTest, UsesDynamicBatchingReachesTheReplicaCommand) {
  YAML::Node compose = Export(R"(
jtype: Flow
executors:
  - {name: enc, uses: Echo, uses_dynamic_batching: {/embed: {preferred_batch_size: 8}}}
)");
  EXPECT_EQ(Flag(compose["services"]["enc"]["command"], "--uses-dynamic-batching"),
            R"({"/embed":{"preferred_batch_size":8,"timeout":10000}})");
}

}  // namespace
}  // namespace shoal::exporter
