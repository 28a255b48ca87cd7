// Tests of the Kubernetes writer, reading its output back as YAML: object names from Jina names,
// headless Services per shard, StatefulSets for stateful shards with pod DNS names as Raft peers,
// probes, GPUs, env, the gateway and its Flow, and the errors for what cannot be exported.
#include "src/export/kubernetes.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

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
using ::testing::Not;
using ::testing::SizeIs;

config::FlowSpec Flow(std::string_view yaml) {
  absl::StatusOr<config::FlowSpec> spec = config::ParseFlowYaml(yaml, "f.yml");
  EXPECT_TRUE(spec.ok()) << spec.status();
  return spec.ok() ? *std::move(spec) : config::FlowSpec();
}

std::vector<Manifest> Export(std::string_view yaml, const KubernetesOptions& options = {}) {
  absl::StatusOr<std::vector<Manifest>> manifests = ToKubernetes(Flow(yaml), options);
  EXPECT_TRUE(manifests.ok()) << manifests.status();
  return manifests.ok() ? *std::move(manifests) : std::vector<Manifest>();
}

std::string ErrorOf(std::string_view yaml, const KubernetesOptions& options = {}) {
  absl::StatusOr<std::vector<Manifest>> manifests = ToKubernetes(Flow(yaml), options);
  EXPECT_FALSE(manifests.ok());
  return manifests.ok() ? "" : std::string(manifests.status().message());
}

// Every object of every file.
std::vector<YAML::Node> Objects(const std::vector<Manifest>& manifests) {
  std::vector<YAML::Node> objects;
  for (const Manifest& manifest : manifests) {
    for (const YAML::Node& doc : YAML::LoadAll(manifest.yaml)) objects.push_back(doc);
  }
  return objects;
}

YAML::Node Find(const std::vector<YAML::Node>& objects, std::string_view kind,
                std::string_view name) {
  for (const YAML::Node& object : objects) {
    if (object["kind"].as<std::string>() == kind &&
        object["metadata"]["name"].as<std::string>() == name) {
      return object;
    }
  }
  ADD_FAILURE() << "no " << kind << " " << name;
  return YAML::Node();
}

std::vector<std::string> Strings(const YAML::Node& list) {
  std::vector<std::string> out;
  for (const YAML::Node& item : list) out.push_back(item.as<std::string>());
  return out;
}

std::vector<std::string> Names(const std::vector<YAML::Node>& objects) {
  std::vector<std::string> out;
  for (const YAML::Node& object : objects) {
    out.push_back(object["kind"].as<std::string>() + "/" +
                  object["metadata"]["name"].as<std::string>());
  }
  return out;
}

// The value following `flag` in `args`.
std::string Flag(const YAML::Node& args, std::string_view flag) {
  std::vector<std::string> items = Strings(args);
  for (size_t i = 0; i + 1 < items.size(); ++i) {
    if (items[i] == flag) return items[i + 1];
  }
  ADD_FAILURE() << "no " << flag;
  return "";
}

YAML::Node Container(const YAML::Node& workload) {
  return workload["spec"]["template"]["spec"]["containers"][0];
}

constexpr char kEncoderFlow[] = R"(
jtype: Flow
executors:
  - name: my_Enc
    uses: Sleep
    uses_with: {ms: 5, label: fast}
    replicas: 2
    gpus: 1
    env: {THREADS: 4, DEBUG: true, NAME: x}
)";

TEST(KubernetesTest, OneFilePerDeploymentAndTheGateway) {
  std::vector<Manifest> manifests = Export(kEncoderFlow);
  ASSERT_THAT(manifests, SizeIs(2));
  EXPECT_EQ(manifests[0].file_name, "gateway.yml");
  EXPECT_EQ(manifests[1].file_name, "my-enc.yml");
  EXPECT_THAT(Names(Objects(manifests)),
              ElementsAre("ConfigMap/gateway-flow", "Service/gateway", "Deployment/gateway",
                          "Service/my-enc", "Deployment/my-enc"));
}

TEST(KubernetesTest, ReplicasBehindAHeadlessService) {
  std::vector<YAML::Node> objects = Objects(Export(kEncoderFlow));
  YAML::Node service = Find(objects, "Service", "my-enc");
  EXPECT_EQ(service["spec"]["clusterIP"].as<std::string>(), "None");
  EXPECT_EQ(service["spec"]["selector"]["app"].as<std::string>(), "my-enc");
  EXPECT_EQ(service["spec"]["ports"][0]["port"].as<int>(), 8080);
  EXPECT_FALSE(service["spec"]["publishNotReadyAddresses"].IsDefined());

  YAML::Node deployment = Find(objects, "Deployment", "my-enc");
  EXPECT_EQ(deployment["metadata"]["namespace"].as<std::string>(), "default");
  EXPECT_EQ(deployment["spec"]["replicas"].as<int>(), 2);
  EXPECT_EQ(deployment["spec"]["selector"]["matchLabels"]["app"].as<std::string>(), "my-enc");
  EXPECT_EQ(deployment["spec"]["template"]["metadata"]["labels"]["app"].as<std::string>(),
            "my-enc");
  YAML::Node container = Container(deployment);
  EXPECT_EQ(container["image"].as<std::string>(), "shoal:latest");
  EXPECT_THAT(Strings(container["command"]), ElementsAre("shoal"));
  EXPECT_THAT(
      Strings(container["args"]),
      ElementsAre("executor", "--uses", "Sleep", "--uses-with", R"({"label":"fast","ms":5})",
                  "--name", "$(POD_NAME)", "--host", "0.0.0.0", "--port", "8080"));
}

TEST(KubernetesTest, ProbesRunShoalPing) {
  YAML::Node container = Container(Find(Objects(Export(kEncoderFlow)), "Deployment", "my-enc"));
  for (const char* probe : {"startupProbe", "readinessProbe", "livenessProbe"}) {
    EXPECT_THAT(Strings(container[probe]["exec"]["command"]),
                ElementsAre("shoal", "ping", "127.0.0.1:8080"))
        << probe;
  }
  // timeout_ready (600 s by default) in periods of 5 s.
  EXPECT_EQ(container["startupProbe"]["failureThreshold"].as<int>(), 120);
  EXPECT_EQ(container["startupProbe"]["periodSeconds"].as<int>(), 5);
}

TEST(KubernetesTest, GpusBecomeLimitsAndEnvPassesThroughAsStrings) {
  YAML::Node container = Container(Find(Objects(Export(kEncoderFlow)), "Deployment", "my-enc"));
  EXPECT_EQ(container["resources"]["limits"]["nvidia.com/gpu"].as<int>(), 1);
  YAML::Node env = container["env"];
  ASSERT_EQ(env.size(), 6u);
  EXPECT_EQ(env[0]["name"].as<std::string>(), "POD_NAME");
  EXPECT_EQ(env[0]["valueFrom"]["fieldRef"]["fieldPath"].as<std::string>(), "metadata.name");
  EXPECT_EQ(env[1]["name"].as<std::string>(), "DEBUG");
  EXPECT_EQ(env[1]["value"].as<std::string>(), "True");  // as Python's str() writes it
  EXPECT_EQ(env[1]["value"].Tag(), "!");                 // quoted: a string, not a bool
  EXPECT_EQ(env[3]["name"].as<std::string>(), "THREADS");
  EXPECT_EQ(env[3]["value"].as<std::string>(), "4");
  EXPECT_EQ(env[3]["value"].Tag(), "!");
  // Replicas run one Go processor and one OpenBLAS thread unless the Deployment's env says
  // otherwise.
  EXPECT_EQ(env[4]["name"].as<std::string>(), "GOMAXPROCS");
  EXPECT_EQ(env[4]["value"].as<std::string>(), "1");
  EXPECT_EQ(env[5]["name"].as<std::string>(), "OPENBLAS_NUM_THREADS");
  EXPECT_EQ(env[5]["value"].as<std::string>(), "1");
}

TEST(KubernetesTest, NamespaceAndImage) {
  std::vector<YAML::Node> objects =
      Objects(Export(kEncoderFlow, {.k8s_namespace = "search", .image = "registry/shoal:1.0"}));
  for (const YAML::Node& object : objects) {
    EXPECT_EQ(object["metadata"]["namespace"].as<std::string>(), "search");
  }
  EXPECT_EQ(Container(Find(objects, "Deployment", "my-enc"))["image"].as<std::string>(),
            "registry/shoal:1.0");
  YAML::Node gateway = Container(Find(objects, "Deployment", "gateway"));
  EXPECT_EQ(Flag(gateway["args"], "--deployments-addresses"),
            R"({"my_Enc":["dns:///my-enc.search.svc.cluster.local:8080"]})");
}

constexpr char kStatefulFlow[] = R"(
jtype: Flow
with:
  protocols: [grpc, http]
  ports: [9000, 9001]
executors:
  - name: indexer
    uses: ExactNNIndexer
    replicas: 3
    shards: 2
    stateful: true
    workspace: /somewhere/local
    peer_ports: [[7000, 7001, 7002], [7100, 7101, 7102]]
    raft_configuration: {HeartbeatTimeout: 300, snapshot_threshold: 100}
    read_consistency: linearizable
    polling: {/search: ALL}
)";

TEST(KubernetesTest, StatefulShardsAreStatefulSetsWithPodDnsNamesAsPeers) {
  std::vector<YAML::Node> objects = Objects(Export(kStatefulFlow, {.k8s_namespace = "ns"}));
  EXPECT_THAT(Names(objects),
              ElementsAre("ConfigMap/gateway-flow", "Service/gateway", "Deployment/gateway",
                          "Service/indexer-0", "Service/indexer-0-peers", "StatefulSet/indexer-0",
                          "Service/indexer-1", "Service/indexer-1-peers", "StatefulSet/indexer-1"));
  YAML::Node peers = Find(objects, "Service", "indexer-1-peers");
  EXPECT_EQ(peers["spec"]["clusterIP"].as<std::string>(), "None");
  EXPECT_TRUE(peers["spec"]["publishNotReadyAddresses"].as<bool>());
  EXPECT_EQ(peers["spec"]["ports"][0]["port"].as<int>(), 7100);
  EXPECT_EQ(peers["spec"]["selector"]["app"].as<std::string>(), "indexer-1");

  YAML::Node set = Find(objects, "StatefulSet", "indexer-1");
  EXPECT_EQ(set["spec"]["serviceName"].as<std::string>(), "indexer-1-peers");
  EXPECT_EQ(set["spec"]["replicas"].as<int>(), 3);
  EXPECT_EQ(set["spec"]["podManagementPolicy"].as<std::string>(), "Parallel");
  YAML::Node claim = set["spec"]["volumeClaimTemplates"][0];
  EXPECT_EQ(claim["metadata"]["name"].as<std::string>(), "workspace");
  EXPECT_EQ(claim["spec"]["resources"]["requests"]["storage"].as<std::string>(), "1Gi");

  // The image's unprivileged user writes the volume through its group.
  EXPECT_EQ(set["spec"]["template"]["spec"]["securityContext"]["fsGroup"].as<int>(), 10001);
  YAML::Node container = Container(set);
  YAML::Node args = container["args"];
  EXPECT_THAT(Strings(args), Contains("--stateful"));
  EXPECT_EQ(Flag(args, "--workspace"), "/workspace");
  EXPECT_EQ(Flag(args, "--raft-id"), "$(POD_NAME)");
  EXPECT_EQ(Flag(args, "--raft-address"), "0.0.0.0:7100");
  EXPECT_EQ(Flag(args, "--raft-advertise"),
            "$(POD_NAME).indexer-1-peers.ns.svc.cluster.local:7100");
  EXPECT_EQ(Flag(args, "--raft-peers"),
            "indexer-1-0=indexer-1-0.indexer-1-peers.ns.svc.cluster.local:7100,"
            "indexer-1-1=indexer-1-1.indexer-1-peers.ns.svc.cluster.local:7100,"
            "indexer-1-2=indexer-1-2.indexer-1-peers.ns.svc.cluster.local:7100");
  EXPECT_EQ(Flag(args, "--raft-configuration"),
            R"({"HeartbeatTimeout":300,"snapshot_threshold":100})");
  EXPECT_EQ(Flag(args, "--read-consistency"), "linearizable");
  EXPECT_EQ(container["env"][0]["name"].as<std::string>(), "POD_NAME");
  EXPECT_EQ(container["volumeMounts"][0]["mountPath"].as<std::string>(), "/workspace");
  EXPECT_EQ(container["ports"][1]["containerPort"].as<int>(), 7100);
}

TEST(KubernetesTest, RaftPortDefaultsWithoutPeerPorts) {
  std::vector<YAML::Node> objects = Objects(Export(R"(
executors:
  - {name: idx, uses: Counter, replicas: 2, stateful: true, workspace: w}
)"));
  YAML::Node args = Container(Find(objects, "StatefulSet", "idx"))["args"];
  EXPECT_EQ(Flag(args, "--raft-address"), "0.0.0.0:8101");
  EXPECT_EQ(Flag(args, "--raft-peers"),
            "idx-0=idx-0.idx-peers.default.svc.cluster.local:8101,"
            "idx-1=idx-1.idx-peers.default.svc.cluster.local:8101");
}

TEST(KubernetesTest, GatewayServesTheFlowFromAConfigMap) {
  std::vector<YAML::Node> objects = Objects(Export(kStatefulFlow, {.k8s_namespace = "ns"}));
  YAML::Node map = Find(objects, "ConfigMap", "gateway-flow");
  absl::StatusOr<config::FlowSpec> flow =
      config::ParseFlowYaml(map["data"]["flow.yml"].as<std::string>(), "flow.yml");
  ASSERT_TRUE(flow.ok()) << flow.status();
  EXPECT_THAT(flow->ports, ElementsAre(9000, 9001));
  EXPECT_THAT(flow->protocols, ElementsAre("grpc", "http"));
  ASSERT_THAT(flow->executors, SizeIs(1));
  EXPECT_EQ(flow->executors[0].name, "indexer");
  EXPECT_EQ(flow->executors[0].shards, 2);
  EXPECT_EQ(flow->executors[0].polling.at("/search"), "ALL");
  EXPECT_FALSE(flow->executors[0].stateful);  // the gateway spawns nothing

  YAML::Node service = Find(objects, "Service", "gateway");
  EXPECT_EQ(service["spec"]["type"].as<std::string>(), "ClusterIP");
  EXPECT_EQ(service["spec"]["ports"][0]["name"].as<std::string>(), "grpc");
  EXPECT_EQ(service["spec"]["ports"][1]["port"].as<int>(), 9001);
  YAML::Node gateway = Container(Find(objects, "Deployment", "gateway"));
  EXPECT_THAT(Strings(gateway["args"]),
              ElementsAre("gateway", "--uses", "/etc/shoal/flow.yml", "--deployments-addresses",
                          R"({"indexer":[["dns:///indexer-0.ns.svc.cluster.local:8080"],)"
                          R"(["dns:///indexer-1.ns.svc.cluster.local:8080"]]})"));
  EXPECT_THAT(Strings(gateway["livenessProbe"]["exec"]["command"]),
              ElementsAre("shoal", "ping", "127.0.0.1:9000"));
  EXPECT_EQ(gateway["volumeMounts"][0]["mountPath"].as<std::string>(), "/etc/shoal");
}

TEST(KubernetesTest, ExternalDeploymentsAreOnlyAddresses) {
  std::vector<Manifest> manifests = Export(R"(
executors:
  - {name: enc, uses: Echo}
  - {name: remote, external: true, host: [grpcs://a.example.com:443, b.example.com:50051]}
)");
  ASSERT_THAT(manifests, SizeIs(2));
  EXPECT_EQ(manifests[1].file_name, "enc.yml");
  YAML::Node gateway = Container(Find(Objects(manifests), "Deployment", "gateway"));
  EXPECT_EQ(Flag(gateway["args"], "--deployments-addresses"),
            R"({"enc":["dns:///enc.default.svc.cluster.local:8080"],)"
            R"("remote":["grpcs://a.example.com:443","grpc://b.example.com:50051"]})");
}

TEST(KubernetesTest, ADeploymentIsExportedWithItsOwnGateway) {
  absl::StatusOr<config::DeploymentSpec> spec = config::ParseDeploymentYaml(
      "jtype: Deployment\nwith: {name: my_dep, uses: Counter, port: 12345, replicas: 2}\n",
      "d.yml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  absl::StatusOr<std::vector<Manifest>> manifests = ToKubernetes(*spec, {});
  ASSERT_TRUE(manifests.ok()) << manifests.status();
  EXPECT_EQ((*manifests)[0].file_name, "my-dep-gateway.yml");
  std::vector<YAML::Node> objects = Objects(*manifests);
  EXPECT_EQ(Find(objects, "Service", "my-dep-gateway")["spec"]["ports"][0]["port"].as<int>(),
            12345);
  EXPECT_EQ(Find(objects, "Deployment", "my-dep")["spec"]["replicas"].as<int>(), 2);
}

TEST(KubernetesTest, WorkspaceOfAStatelessDeploymentIsAnEmptyDir) {
  YAML::Node deployment =
      Find(Objects(Export("executors:\n  - {name: e, uses: Echo, workspace: /tmp/w}\n")),
           "Deployment", "e");
  EXPECT_EQ(deployment["spec"]["template"]["spec"]["volumes"][0]["name"].as<std::string>(),
            "workspace");
  EXPECT_TRUE(deployment["spec"]["template"]["spec"]["volumes"][0]["emptyDir"].IsMap());
  EXPECT_EQ(Flag(Container(deployment)["args"], "--workspace"), "/workspace");
}

TEST(KubernetesTest, NamesThatCannotBeLabelsAreErrors) {
  EXPECT_THAT(ErrorOf("executors:\n  - {name: _enc, uses: Echo}\n"),
              HasSubstr("Deployment '_enc': the name '_enc' cannot be a Kubernetes/compose name"));
  EXPECT_THAT(ErrorOf("executors:\n  - {name: enc-, uses: Echo}\n"), HasSubstr("'enc-'"));
  EXPECT_THAT(ErrorOf("executors:\n  - {name: " + std::string(64, 'a') + ", uses: Echo}\n"),
              HasSubstr("too long"));
  // A StatefulSet's name is limited further (its pods' labels carry it with a hash).
  EXPECT_THAT(ErrorOf("executors:\n  - {name: " + std::string(55, 'a') +
                      ", uses: Echo, stateful: true, workspace: w}\n"),
              HasSubstr("StatefulSet"));
  EXPECT_THAT(ErrorOf("with: {name: My Flow}\nexecutors:\n  - {name: e, uses: Echo}\n"),
              HasSubstr("Flow 'My Flow'"));
}

TEST(KubernetesTest, NamesThatCollideAreErrors) {
  EXPECT_THAT(
      ErrorOf("executors:\n  - {name: my_enc, uses: Echo}\n  - {name: my-enc, uses: Echo}\n"),
      HasSubstr("Deployment 'my_enc' (shard 0) and Deployment 'my-enc' (shard 0) would "
                "both be exported as 'my-enc'"));
  EXPECT_THAT(ErrorOf("executors:\n  - {name: idx, uses: Echo, shards: 2}\n"
                      "  - {name: idx-1, uses: Echo}\n"),
              HasSubstr("as 'idx-1'"));
}

TEST(KubernetesTest, WhatCannotRunInAPodIsAnError) {
  EXPECT_THAT(ErrorOf("executors:\n  - {name: e, uses: 'jinaai://jina-ai/Enc'}\n"),
              HasSubstr("Deployment 'e': uses:"));
  EXPECT_THAT(ErrorOf("executors:\n  - {name: e, uses: Echo, gpus: all}\n"), HasSubstr("all"));
  EXPECT_THAT(ErrorOf("executors:\n  - {name: e, uses: Echo, gpus: device=1}\n"),
              HasSubstr("Deployment 'e': gpus: expected a number of GPUs"));
  EXPECT_THAT(ErrorOf("executors:\n  - {name: e, uses: Echo, env: {CUDA_VISIBLE_DEVICES: RR}}\n"),
              HasSubstr("env.CUDA_VISIBLE_DEVICES"));
  EXPECT_THAT(ErrorOf("executors:\n  - {name: e, uses: Echo, env: {POD_NAME: x}}\n"),
              HasSubstr("POD_NAME"));
  EXPECT_THAT(ErrorOf(kEncoderFlow, {.k8s_namespace = "My_NS"}), HasSubstr("namespace 'My_NS'"));
  EXPECT_THAT(ErrorOf(R"(
executors:
  - {name: e, uses: Echo, stateful: true, workspace: w, replicas: 1, peer_ports: [8080]}
)"),
              HasSubstr("peer_ports"));
}

// A Flow with a token, a TLS gateway and internal mTLS, over PEM files in a fresh folder.
std::string SecureFlow() {
  static const testing::TempDir tmp("k8s-secrets");  // removed at exit
  const std::filesystem::path dir = tmp.path();
  std::ofstream(dir / "cert.pem")
      << "-----BEGIN CERTIFICATE-----\nQ0VSVA==\n-----END CERTIFICATE-----\n";
  std::ofstream(dir / "key.pem")
      << "-----BEGIN PRIVATE KEY-----\nS0VZ\n-----END PRIVATE KEY-----\n";
  const std::string d = dir.string();
  return "jtype: Flow\n"
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
         "  - {name: enc, uses: Echo}\n";
}

TEST(KubernetesTest, TokenAndCertificatesBecomeOneSecretMountedReadOnly) {
  std::vector<Manifest> manifests = Export(SecureFlow());
  for (const Manifest& manifest : manifests) {
    if (manifest.file_name == "flow-secrets.yml") continue;
    EXPECT_THAT(manifest.yaml, Not(HasSubstr("tok-123456"))) << manifest.file_name;
    EXPECT_THAT(manifest.yaml, Not(HasSubstr("BEGIN PRIVATE KEY"))) << manifest.file_name;
  }
  std::vector<YAML::Node> objects = Objects(manifests);
  YAML::Node secret = Find(objects, "Secret", "flow-secrets");
  EXPECT_EQ(secret["data"]["token"].as<std::string>(), "dG9rLTEyMzQ1Ng==");
  for (const char* file : {"gateway.crt", "gateway.key", "enc.crt", "enc.key", "enc.ca.crt"}) {
    EXPECT_TRUE(secret["data"][file].IsDefined()) << file;
  }
  YAML::Node executor = Container(Find(objects, "Deployment", "enc"));
  EXPECT_EQ(Flag(executor["args"], "--ssl-certfile"), "/etc/shoal/secrets/enc.crt");
  EXPECT_EQ(Flag(executor["args"], "--ssl-cafile"), "/etc/shoal/secrets/enc.ca.crt");
  EXPECT_EQ(executor["env"][3]["name"].as<std::string>(), "SHOAL_AUTH_TOKEN");
  EXPECT_EQ(executor["env"][3]["valueFrom"]["secretKeyRef"]["key"].as<std::string>(), "token");
  EXPECT_EQ(executor["volumeMounts"][0]["mountPath"].as<std::string>(), "/etc/shoal/secrets");
  EXPECT_TRUE(executor["volumeMounts"][0]["readOnly"].as<bool>());
  EXPECT_EQ(executor["readinessProbe"]["tcpSocket"]["port"].as<int>(), 8080);
  YAML::Node pod = Find(objects, "Deployment", "enc")["spec"]["template"]["spec"];
  EXPECT_EQ(pod["volumes"][0]["secret"]["secretName"].as<std::string>(), "flow-secrets");

  YAML::Node gateway = Container(Find(objects, "Deployment", "gateway"));
  EXPECT_EQ(Flag(gateway["args"], "--ssl-keyfile"), "/etc/shoal/secrets/gateway.key");
  EXPECT_EQ(gateway["env"][0]["valueFrom"]["secretKeyRef"]["name"].as<std::string>(),
            "flow-secrets");
  EXPECT_EQ(gateway["readinessProbe"]["tcpSocket"]["port"].as<int>(), 8080);
  // The gateway dials the replicas with the certificate from the Secret.
  YAML::Node map = Find(objects, "ConfigMap", "gateway-flow");
  EXPECT_THAT(map["data"]["flow.yml"].as<std::string>(),
              HasSubstr("certfile: /etc/shoal/secrets/enc.crt"));
}

TEST(KubernetesTest, OneTokenPerFlow) {
  EXPECT_THAT(ErrorOf("executors:\n  - {name: enc, uses: Echo, auth_token: own}\n"),
              HasSubstr("Deployment 'enc': auth_token: an export takes one token per Flow"));
}

}  // namespace
}  // namespace shoal::exporter

namespace shoal::exporter {
namespace {

TEST(KubernetesTest, RequestLimitsReachTheReplicasAndTheGateway) {
  std::vector<YAML::Node> objects =
      Objects(Export("jtype: Flow\n"
                     "with:\n"
                     "  grpc_server_options: {grpc.max_receive_message_length: 1048576}\n"
                     "executors:\n"
                     "  - name: enc\n"
                     "    uses: Echo\n"
                     "    max_docs_per_request: 50\n"
                     "    expose_internal_errors: true\n"
                     "    grpc_server_options: {grpc.max_receive_message_length: 2097152}\n"));
  YAML::Node map = Find(objects, "ConfigMap", "gateway-flow");
  absl::StatusOr<config::FlowSpec> flow =
      config::ParseFlowYaml(map["data"]["flow.yml"].as<std::string>(), "flow.yml");
  ASSERT_TRUE(flow.ok()) << flow.status();
  EXPECT_EQ(flow->grpc_server_limits.max_receive_message_bytes, 1048576);
  ASSERT_THAT(flow->executors, SizeIs(1));
  EXPECT_TRUE(flow->executors[0].expose_internal_errors);
  bool found = false;
  for (const YAML::Node& object : objects) {
    if (object["kind"].as<std::string>() != "Deployment" ||
        object["metadata"]["name"].as<std::string>() != "enc") {
      continue;
    }
    found = true;
    const std::string args =
        YAML::Dump(object["spec"]["template"]["spec"]["containers"][0]["args"]);
    EXPECT_THAT(args, HasSubstr("--max-docs-per-request"));
    EXPECT_THAT(args, HasSubstr("2097152"));
  }
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace shoal::exporter
