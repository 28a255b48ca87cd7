// The Kubernetes writer: builds each object as a YamlNode (fields in the order `kubectl get -o
// yaml` shows them) from the ExportPlan, one file per Deployment plus the gateway's.
#include "src/export/kubernetes.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "src/common/strings.h"
#include "src/config/deployment_spec.h"
#include "src/export/names.h"
#include "src/export/plan.h"
#include "src/export/yaml_writer.h"

namespace shoal::exporter {
namespace {

constexpr char kConfigDir[] = "/etc/shoal";
constexpr char kFlowFileName[] = "flow.yml";
// Kubernetes adds "-<10-character hash>" to a StatefulSet's name in a pod label of at most 63.
constexpr size_t kMaxStatefulSetName = 52;
// The user the Dockerfile's image runs as.
constexpr int kImageUserId = 10001;
constexpr int kProbePeriodSeconds = 5;
constexpr int kProbeTimeoutSeconds = 5;  // `shoal ping` gives up after 3 s
// A startup probe with timeout_ready: -1 ("forever") waits a day.
constexpr int kForeverFailureThreshold = 24 * 3600 / kProbePeriodSeconds;
// The gauge an autoscaled shard's HPA averages over its pods (src/metrics/metrics.h).
constexpr char kInFlightMetric[] = "shoal_replica_in_flight";
constexpr int kMaxStabilizationSeconds = 3600;

class Writer {
 public:
  Writer(const ExportPlan& plan, const KubernetesOptions& options)
      : plan_(plan), options_(options) {}

  StatusOr<std::vector<Manifest>> Write();

 private:
  std::string Host(std::string_view service) const {
    return absl::StrCat(AsAbsl(service), ".", options_.k8s_namespace, ".svc.cluster.local");
  }
  static std::string ShardObject(const NodePlan& node, int shard) {
    return node.spec->shards == 1 ? node.label : absl::StrCat(node.label, "-", shard);
  }
  YamlNode Metadata(std::string_view name, YamlNode labels) const;
  YamlNode Labels(std::string_view app, std::string_view component) const;
  YamlNode ExecutorLabels(const NodePlan& node, int shard) const;
  YamlNode HeadlessService(std::string_view name, YamlNode labels, std::string_view app,
                           std::string_view port_name, int port, bool publish_not_ready) const;
  YamlNode Container(std::string_view name, const std::vector<std::string>& args) const;
  YamlNode ExecutorContainer(const NodePlan& node, int shard, const std::string& object) const;
  StatusOr<std::string> NodeManifest(const NodePlan& node);
  StatusOr<std::string> GatewayManifest();
  // The Flow's Secret (token, certificates, keys), mounted read-only at kSecretsDir.
  std::string SecretName() const { return absl::StrCat(plan_.flow_label, "-secrets"); }
  StatusOr<std::string> SecretManifest();
  // A container's use of the Secret: SHOAL_AUTH_TOKEN from it into `env`, its mount (read-only)
  // into `mounts`, its volume into `volumes` (lists); nothing when the Flow has no secrets.
  void UseSecrets(YamlNode& env, YamlNode& mounts, YamlNode& volumes) const;

  const ExportPlan& plan_;
  const KubernetesOptions& options_;
  NameRegistry names_;
};

std::string Document(const YamlNode& object) { return object.Emit(); }

YamlNode Object(std::string_view api_version, std::string_view kind, YamlNode metadata) {
  YamlNode object;
  object.Set("apiVersion", api_version);
  object.Set("kind", kind);
  object.Set("metadata", std::move(metadata));
  return object;
}

YamlNode Probe(const std::vector<std::string>& command, int period, int failure_threshold) {
  YamlNode exec;
  exec.Set("command", YamlNode::StringList(command));
  YamlNode probe;
  probe.Set("exec", std::move(exec));
  probe.Set("periodSeconds", period);
  probe.Set("timeoutSeconds", kProbeTimeoutSeconds);
  probe.Set("failureThreshold", failure_threshold);
  return probe;
}

// Jina's rule: the startup probe allows timeout_ready, in periods of 5 s, and at least 3 tries.
int StartupFailureThreshold(int timeout_ready_ms) {
  if (timeout_ready_ms < 0) return kForeverFailureThreshold;
  const int periods =
      (timeout_ready_ms + kProbePeriodSeconds * 1000 - 1) / (kProbePeriodSeconds * 1000);
  return std::max(periods, 3);
}

YamlNode TcpProbe(int port, int period, int failure_threshold) {
  YamlNode socket;
  socket.Set("port", port);
  YamlNode probe;
  probe.Set("tcpSocket", std::move(socket));
  probe.Set("periodSeconds", period);
  probe.Set("timeoutSeconds", kProbeTimeoutSeconds);
  probe.Set("failureThreshold", failure_threshold);
  return probe;
}

// Startup, readiness and liveness probes of a container serving gRPC on `port`. A TLS server's
// certificate names the pod or service, not 127.0.0.1, so it is probed by TCP: it listens only
// once it serves (a replica after catching up, the gateway once its Deployments answer).
void AddProbes(YamlNode& container, int port, int timeout_ready_ms, bool tls = false) {
  auto probe = [&](int period, int failure_threshold) {
    return tls ? TcpProbe(port, period, failure_threshold)
               : Probe(PingCommand(port), period, failure_threshold);
  };
  container.Set("startupProbe",
                probe(kProbePeriodSeconds, StartupFailureThreshold(timeout_ready_ms)));
  container.Set("readinessProbe", probe(kProbePeriodSeconds, 3));
  container.Set("livenessProbe", probe(2 * kProbePeriodSeconds, 3));
}

YamlNode ContainerPort(std::string_view name, int port) {
  YamlNode entry;
  entry.Set("name", name);
  entry.Set("containerPort", port);
  return entry;
}

YamlNode Selector(std::string_view app) {
  YamlNode labels;
  labels.Set("app", app);
  YamlNode selector;
  selector.Set("matchLabels", std::move(labels));
  return selector;
}

YamlNode EnvVar(std::string_view name, std::string_view value) {
  YamlNode var;
  var.Set("name", name);
  var.Set("value", value);
  return var;
}

// POD_NAME from the downward API: replicas name themselves (and their Raft ID) after their pod.
YamlNode PodNameVar() {
  YamlNode field;
  field.Set("fieldPath", "metadata.name");
  YamlNode from;
  from.Set("fieldRef", std::move(field));
  YamlNode var;
  var.Set("name", "POD_NAME");
  var.Set("valueFrom", std::move(from));
  return var;
}

YamlNode Volume(std::string_view name, std::string_view kind, YamlNode source) {
  YamlNode volume;
  volume.Set("name", name);
  volume.Set(kind, std::move(source));
  return volume;
}

YamlNode VolumeMount(std::string_view name, std::string_view path, bool read_only) {
  YamlNode mount;
  mount.Set("name", name);
  mount.Set("mountPath", path);
  if (read_only) mount.Set("readOnly", true);
  return mount;
}

// `workspace`: the pod writes a volume (or reads the Secret's files), which the image's
// unprivileged user (Dockerfile) may reach through its group.
YamlNode PodTemplate(YamlNode labels, YamlNode container, YamlNode volumes, bool workspace) {
  YamlNode metadata;
  metadata.Set("labels", std::move(labels));
  YamlNode containers = YamlNode::EmptyList();
  containers.Add(std::move(container));
  YamlNode spec;
  if (workspace) {
    YamlNode security;
    security.Set("fsGroup", kImageUserId);
    spec.Set("securityContext", std::move(security));
  }
  spec.Set("containers", std::move(containers));
  if (!volumes.empty_collection()) spec.Set("volumes", std::move(volumes));
  YamlNode pod;
  pod.Set("metadata", std::move(metadata));
  pod.Set("spec", std::move(spec));
  return pod;
}

YamlNode Writer::Metadata(std::string_view name, YamlNode labels) const {
  YamlNode metadata;
  metadata.Set("name", name);
  metadata.Set("namespace", options_.k8s_namespace);
  metadata.Set("labels", std::move(labels));
  return metadata;
}

// `app` selects an object's pods; the others say what the object is part of.
YamlNode Writer::Labels(std::string_view app, std::string_view component) const {
  YamlNode labels;
  labels.Set("app", app);
  labels.Set("app.kubernetes.io/name", "shoal");
  labels.Set("app.kubernetes.io/part-of", plan_.flow_label);
  labels.Set("app.kubernetes.io/component", component);
  return labels;
}

YamlNode Writer::ExecutorLabels(const NodePlan& node, int shard) const {
  YamlNode labels = Labels(ShardObject(node, shard), "executor");
  labels.Set("shoal/deployment", node.label);
  labels.Set("shoal/shard", std::to_string(shard));
  return labels;
}

YamlNode Writer::HeadlessService(std::string_view name, YamlNode labels, std::string_view app,
                                 std::string_view port_name, int port,
                                 bool publish_not_ready) const {
  YamlNode service_port;
  service_port.Set("name", port_name);
  service_port.Set("port", port);
  service_port.Set("targetPort", port);
  YamlNode ports = YamlNode::EmptyList();
  ports.Add(std::move(service_port));
  YamlNode selector;
  selector.Set("app", app);
  YamlNode spec;
  spec.Set("clusterIP", "None");
  if (publish_not_ready) spec.Set("publishNotReadyAddresses", true);
  spec.Set("selector", std::move(selector));
  spec.Set("ports", std::move(ports));
  YamlNode service = Object("v1", "Service", Metadata(name, std::move(labels)));
  service.Set("spec", std::move(spec));
  return service;
}

YamlNode Writer::Container(std::string_view name, const std::vector<std::string>& args) const {
  YamlNode container;
  container.Set("name", name);
  container.Set("image", options_.image);
  container.Set("command", YamlNode::StringList({"shoal"}));
  container.Set("args", YamlNode::StringList(args));
  return container;
}

YamlNode Writer::ExecutorContainer(const NodePlan& node, int shard,
                                   const std::string& object) const {
  const config::DeploymentSpec& spec = *node.spec;
  ReplicaArgs replica{.name = "$(POD_NAME)", .workspace = spec.stateful || !spec.workspace.empty()};
  YamlNode ports = YamlNode::EmptyList();
  ports.Add(ContainerPort("grpc", kReplicaPort));
  if (spec.stateful) {
    // Every pod of the StatefulSet runs the same container: the shard's first Raft port serves
    // them all (each pod has its own address).
    const int raft_port = node.raft_ports[shard].front();
    const std::string peers_service = absl::StrCat(object, "-peers");
    std::vector<std::string> peers, join;
    for (int i = 0; i < spec.replicas; ++i) {
      const std::string pod = absl::StrCat(object, "-", i);
      peers.push_back(absl::StrCat(pod, "=", pod, ".", Host(peers_service), ":", raft_port));
      join.push_back(absl::StrCat(pod, ".", Host(peers_service), ":", kReplicaPort));
    }
    // Pods past the first `replicas` (the StatefulSet scaled up) are not in the peers: they
    // join the running group through the first ones, whose leader adds them as voters.
    replica.raft_join = absl::StrJoin(join, ",");
    replica.raft_id = "$(POD_NAME)";
    replica.raft_port = raft_port;
    replica.raft_advertise = absl::StrCat("$(POD_NAME).", Host(peers_service), ":", raft_port);
    replica.raft_peers = absl::StrJoin(peers, ",");
    ports.Add(ContainerPort("raft", raft_port));
  }
  if (std::optional<int> port = ReplicaMonitoringPort(spec)) {
    ports.Add(ContainerPort("metrics", *port));
  }
  YamlNode container = Container("executor", ExecutorArgs(node, replica));
  YamlNode env = YamlNode::EmptyList();
  env.Add(PodNameVar());
  for (const auto& [name, value] : spec.env) env.Add(EnvVar(name, value));
  for (const auto& [name, value] : config::ReplicaEnvDefaults(spec.env, /*inherited=*/false)) {
    env.Add(EnvVar(name, value));
  }
  YamlNode mounts = YamlNode::EmptyList();
  if (replica.workspace) mounts.Add(VolumeMount("workspace", kWorkspaceDir, false));
  YamlNode unused_volumes = YamlNode::EmptyList();  // the pod template adds the Secret's volume
  UseSecrets(env, mounts, unused_volumes);
  container.Set("env", std::move(env));
  container.Set("ports", std::move(ports));
  AddProbes(container, kReplicaPort, spec.timeout_ready_ms, NodeServesTls(node));
  if (node.gpus.count > 0) {
    YamlNode limits;
    limits.Set("nvidia.com/gpu", node.gpus.count);
    YamlNode resources;
    resources.Set("limits", std::move(limits));
    container.Set("resources", std::move(resources));
  }
  if (!mounts.empty_collection()) container.Set("volumeMounts", std::move(mounts));
  return container;
}

void Writer::UseSecrets(YamlNode& env, YamlNode& mounts, YamlNode& volumes) const {
  if (plan_.secrets.empty()) return;
  if (plan_.secrets.contains("token")) {
    YamlNode key;
    key.Set("name", SecretName());
    key.Set("key", "token");
    YamlNode from;
    from.Set("secretKeyRef", std::move(key));
    YamlNode var;
    var.Set("name", "SHOAL_AUTH_TOKEN");
    var.Set("valueFrom", std::move(from));
    env.Add(std::move(var));
  }
  mounts.Add(VolumeMount("secrets", kSecretsDir, true));
  YamlNode source;
  source.Set("secretName", SecretName());
  source.Set("defaultMode", 0440);  // the image's user reads them through its group
  volumes.Add(Volume("secrets", "secret", std::move(source)));
}

StatusOr<std::string> Writer::SecretManifest() {
  SHOAL_RETURN_IF_ERROR(names_.Claim(SecretName(), "the Flow's Secret"));
  YamlNode data;
  for (const auto& [file, secret] : plan_.secrets) {
    data.Set(file, absl::Base64Escape(secret.contents));
  }
  YamlNode secret = Object("v1", "Secret", Metadata(SecretName(), Labels(SecretName(), "secrets")));
  secret.Set("type", "Opaque");
  secret.Set("data", std::move(data));
  return Document(secret);
}

YamlNode VolumeClaimTemplate(const KubernetesOptions& options) {
  YamlNode requests;
  requests.Set("storage", options.storage);
  YamlNode resources;
  resources.Set("requests", std::move(requests));
  YamlNode spec;
  spec.Set("accessModes", YamlNode::StringList({"ReadWriteOnce"}));
  if (!options.storage_class.empty()) spec.Set("storageClassName", options.storage_class);
  spec.Set("resources", std::move(resources));
  YamlNode metadata;
  metadata.Set("name", "workspace");
  YamlNode claim;
  claim.Set("metadata", std::move(metadata));
  claim.Set("spec", std::move(spec));
  return claim;
}

// What a pod cannot express although a compose file can.
// A Kubernetes quantity for `value`: "2", or in thousandths ("1500m").
std::string Quantity(double value) {
  const int64_t milli = static_cast<int64_t>(std::llround(value * 1000));
  return milli % 1000 == 0 ? absl::StrCat(milli / 1000) : absl::StrCat(milli, "m");
}

// A delay as an HPA stabilization window: whole seconds, at most the hour Kubernetes allows.
int StabilizationSeconds(double seconds) {
  return static_cast<int>(std::min(std::ceil(seconds), double{kMaxStabilizationSeconds}));
}

// The autoscaling policy of one shard's Deployment `object` as an autoscaling/v2 HPA on the
// replicas' own in-flight gauge (a Pods metric: needs a metrics adapter, see docs/export.md).
YamlNode Autoscaler(const config::AutoscalingConfig& policy, std::string_view object,
                    YamlNode metadata) {
  YamlNode target_ref;
  target_ref.Set("apiVersion", "apps/v1");
  target_ref.Set("kind", "Deployment");
  target_ref.Set("name", object);
  YamlNode metric_name;
  metric_name.Set("name", kInFlightMetric);
  YamlNode target;
  target.Set("type", "AverageValue");
  target.Set("averageValue", Quantity(policy.target_ongoing_requests));
  YamlNode pods;
  pods.Set("metric", std::move(metric_name));
  pods.Set("target", std::move(target));
  YamlNode metric;
  metric.Set("type", "Pods");
  metric.Set("pods", std::move(pods));
  YamlNode metrics = YamlNode::EmptyList();
  metrics.Add(std::move(metric));
  YamlNode up, down;
  up.Set("stabilizationWindowSeconds", StabilizationSeconds(policy.upscale_delay_s));
  down.Set("stabilizationWindowSeconds", StabilizationSeconds(policy.downscale_delay_s));
  YamlNode behavior;
  behavior.Set("scaleUp", std::move(up));
  behavior.Set("scaleDown", std::move(down));
  YamlNode spec;
  spec.Set("scaleTargetRef", std::move(target_ref));
  spec.Set("minReplicas", policy.min_replicas);
  spec.Set("maxReplicas", policy.max_replicas);
  spec.Set("metrics", std::move(metrics));
  spec.Set("behavior", std::move(behavior));
  YamlNode hpa = Object("autoscaling/v2", "HorizontalPodAutoscaler", std::move(metadata));
  hpa.Set("spec", std::move(spec));
  return hpa;
}

Status CheckForKubernetes(const NodePlan& node) {
  const config::DeploymentSpec& spec = *node.spec;
  if (node.gpus.all) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: gpus: Kubernetes needs a number of GPUs per replica ('all' is not a resource limit)",
        Describe(spec)));
  }
  if (spec.env.contains("POD_NAME")) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: env.POD_NAME: set by the export (each pod's name, from the downward API)",
        Describe(spec)));
  }
  return absl::OkStatus();
}

StatusOr<std::string> Writer::NodeManifest(const NodePlan& node) {
  const config::DeploymentSpec& spec = *node.spec;
  SHOAL_RETURN_IF_ERROR(CheckForKubernetes(node));
  std::vector<std::string> documents;
  for (int shard = 0; shard < spec.shards; ++shard) {
    const std::string object = ShardObject(node, shard);
    const std::string what = absl::StrCat(Describe(spec), " (shard ", shard, ")");
    if (object.size() > (spec.stateful ? kMaxStatefulSetName : kMaxLabelLength)) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: the object name '%s' is longer than Kubernetes allows (%d characters for a %s); "
          "shorten the Deployment's name",
          what, object, spec.stateful ? kMaxStatefulSetName : kMaxLabelLength,
          spec.stateful ? "StatefulSet" : "Service"));
    }
    SHOAL_RETURN_IF_ERROR(names_.Claim(object, what));
    documents.push_back(Document(
        HeadlessService(object, ExecutorLabels(node, shard), object, "grpc", kReplicaPort, false)));
    YamlNode volumes = YamlNode::EmptyList();
    YamlNode workload_spec;
    if (spec.stateful) {
      const std::string peers = absl::StrCat(object, "-peers");
      SHOAL_RETURN_IF_ERROR(names_.Claim(peers, what));
      documents.push_back(Document(HeadlessService(peers, ExecutorLabels(node, shard), object,
                                                   "raft", node.raft_ports[shard].front(), true)));
      workload_spec.Set("serviceName", peers);
      workload_spec.Set("replicas", spec.replicas);
      // Every pod starts at once: Raft bootstrap needs a quorum, not an order.
      workload_spec.Set("podManagementPolicy", "Parallel");
    } else {
      workload_spec.Set("replicas", spec.replicas);
      if (!spec.workspace.empty()) volumes.Add(Volume("workspace", "emptyDir", YamlNode()));
    }
    if (!plan_.secrets.empty()) {
      YamlNode unused_env = YamlNode::EmptyList();
      YamlNode unused_mounts = YamlNode::EmptyList();
      UseSecrets(unused_env, unused_mounts, volumes);
    }
    workload_spec.Set("selector", Selector(object));
    workload_spec.Set(
        "template",
        PodTemplate(ExecutorLabels(node, shard), ExecutorContainer(node, shard, object),
                    std::move(volumes),
                    spec.stateful || !spec.workspace.empty() || !plan_.secrets.empty()));
    if (spec.stateful) {
      YamlNode claims = YamlNode::EmptyList();
      claims.Add(VolumeClaimTemplate(options_));
      workload_spec.Set("volumeClaimTemplates", std::move(claims));
    }
    YamlNode workload = Object("apps/v1", spec.stateful ? "StatefulSet" : "Deployment",
                               Metadata(object, ExecutorLabels(node, shard)));
    workload.Set("spec", std::move(workload_spec));
    documents.push_back(Document(workload));
    if (spec.autoscaling && !spec.stateful) {
      documents.push_back(Document(
          Autoscaler(*spec.autoscaling, object, Metadata(object, ExecutorLabels(node, shard)))));
    }
  }
  return absl::StrJoin(documents, "---\n");
}

StatusOr<std::string> Writer::GatewayManifest() {
  const std::string& name = plan_.gateway;
  const std::string config_map = absl::StrCat(name, "-flow");
  SHOAL_RETURN_IF_ERROR(names_.Claim(name, "the gateway"));
  SHOAL_RETURN_IF_ERROR(names_.Claim(config_map, "the gateway's Flow ConfigMap"));
  const std::string addresses = AddressesJson(plan_, [&](const NodePlan& node) {
    std::vector<std::vector<std::string>> shards;
    for (int shard = 0; shard < node.spec->shards; ++shard) {
      shards.push_back(
          {absl::StrCat("dns:///", Host(ShardObject(node, shard)), ":", kReplicaPort)});
    }
    return shards;
  });

  YamlNode data;
  data.Set(kFlowFileName, GatewayFlowYaml(plan_));
  YamlNode map = Object("v1", "ConfigMap", Metadata(config_map, Labels(name, "gateway")));
  map.Set("data", std::move(data));

  const std::vector<std::string>& protocols = plan_.flow->protocols;
  YamlNode service_ports = YamlNode::EmptyList();
  YamlNode container_ports = YamlNode::EmptyList();
  for (size_t i = 0; i < protocols.size(); ++i) {
    YamlNode port;
    port.Set("name", protocols[i]);
    port.Set("port", plan_.gateway_ports[i]);
    port.Set("targetPort", plan_.gateway_ports[i]);
    service_ports.Add(std::move(port));
    container_ports.Add(ContainerPort(protocols[i], plan_.gateway_ports[i]));
  }
  YamlNode service_spec;
  service_spec.Set("type", "ClusterIP");
  YamlNode selector;
  selector.Set("app", name);
  service_spec.Set("selector", std::move(selector));
  service_spec.Set("ports", std::move(service_ports));
  YamlNode service = Object("v1", "Service", Metadata(name, Labels(name, "gateway")));
  service.Set("spec", std::move(service_spec));

  YamlNode container = Container(
      "gateway", GatewayArgs(plan_, absl::StrCat(kConfigDir, "/", kFlowFileName), addresses));
  YamlNode env = YamlNode::EmptyList();
  YamlNode mounts = YamlNode::EmptyList();
  mounts.Add(VolumeMount("flow", kConfigDir, true));
  YamlNode config_source;
  config_source.Set("name", config_map);
  YamlNode volumes = YamlNode::EmptyList();
  volumes.Add(Volume("flow", "configMap", std::move(config_source)));
  UseSecrets(env, mounts, volumes);
  if (!env.empty_collection()) container.Set("env", std::move(env));
  container.Set("ports", std::move(container_ports));
  auto grpc = std::find(protocols.begin(), protocols.end(), "grpc");
  if (grpc != protocols.end()) {
    AddProbes(container, plan_.gateway_ports[grpc - protocols.begin()],
              config::DeploymentSpec().timeout_ready_ms, GatewayServesTls(plan_));
  }
  container.Set("volumeMounts", std::move(mounts));
  YamlNode deployment_spec;
  deployment_spec.Set("replicas", 1);
  deployment_spec.Set("selector", Selector(name));
  deployment_spec.Set("template", PodTemplate(Labels(name, "gateway"), std::move(container),
                                              std::move(volumes), !plan_.secrets.empty()));
  YamlNode deployment = Object("apps/v1", "Deployment", Metadata(name, Labels(name, "gateway")));
  deployment.Set("spec", std::move(deployment_spec));
  return absl::StrJoin({Document(map), Document(service), Document(deployment)}, "---\n");
}

StatusOr<std::vector<Manifest>> Writer::Write() {
  if (!IsDnsLabel(options_.k8s_namespace)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "namespace '%s' is not a DNS-1123 label (lowercase letters, digits and '-')",
        options_.k8s_namespace));
  }
  if (options_.image.empty()) return absl::InvalidArgumentError("the image name is empty");
  std::vector<Manifest> manifests;
  if (!plan_.secrets.empty()) {
    SHOAL_ASSIGN_OR_RETURN(std::string secret, SecretManifest());
    manifests.push_back({absl::StrCat(SecretName(), ".yml"), std::move(secret)});
  }
  SHOAL_ASSIGN_OR_RETURN(std::string gateway, GatewayManifest());
  manifests.push_back({absl::StrCat(plan_.gateway, ".yml"), std::move(gateway)});
  for (const NodePlan& node : plan_.nodes) {
    if (node.spec->external) continue;
    SHOAL_ASSIGN_OR_RETURN(std::string yaml, NodeManifest(node));
    manifests.push_back({absl::StrCat(node.label, ".yml"), std::move(yaml)});
  }
  return manifests;
}

StatusOr<std::vector<Manifest>> Export(const config::FlowSpec& flow, std::string gateway,
                                       const KubernetesOptions& options) {
  SHOAL_ASSIGN_OR_RETURN(ExportPlan plan, PlanExport(flow, std::move(gateway)));
  return Writer(plan, options).Write();
}

}  // namespace

StatusOr<std::vector<Manifest>> ToKubernetes(const config::FlowSpec& flow,
                                             const KubernetesOptions& options) {
  return Export(flow, "gateway", options);
}

StatusOr<std::vector<Manifest>> ToKubernetes(const config::DeploymentSpec& deployment,
                                             const KubernetesOptions& options) {
  SHOAL_ASSIGN_OR_RETURN(std::string label, DnsLabelFor(deployment.name, Describe(deployment)));
  return Export(FlowOfDeployment(deployment), GatewayNameOfDeployment(label), options);
}

std::string JoinManifests(const std::vector<Manifest>& manifests) {
  std::vector<std::string> yaml;
  for (const Manifest& manifest : manifests) yaml.push_back(manifest.yaml);
  return absl::StrJoin(yaml, "---\n");
}

}  // namespace shoal::exporter
