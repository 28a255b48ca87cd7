// Planning an export: the checks both writers need before they write a line, and the replica and
// gateway command lines they both emit.
#include "src/export/plan.h"

#include <filesystem>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "src/common/strings.h"
#include "src/common/tls_files.h"
#include "src/config/uses.h"
#include "src/export/names.h"
#include "src/export/yaml_writer.h"

namespace shoal::exporter {
namespace {

Status NodeError(const config::DeploymentSpec& spec, std::string_view key,
                 std::string_view message) {
  return absl::InvalidArgumentError(
      absl::StrFormat("%s: %s: %s", Describe(spec), AsAbsl(key), AsAbsl(message)));
}

StatusOr<GpuRequest> ParseGpus(const config::DeploymentSpec& spec) {
  GpuRequest gpus;
  if (spec.gpus.empty()) return gpus;
  if (spec.gpus == "all") {
    gpus.all = true;
    return gpus;
  }
  if (!absl::SimpleAtoi(AsAbsl(spec.gpus), &gpus.count) || gpus.count < 0) {
    return NodeError(
        spec, "gpus",
        absl::StrFormat("expected a number of GPUs per replica or 'all', got '%s'", spec.gpus));
  }
  return gpus;
}

Status CheckUses(const config::DeploymentSpec& spec) {
  if (spec.external) return absl::OkStatus();
  StatusOr<config::UsesSpec> uses = config::ParseUses(spec.uses);
  if (!uses.ok()) return NodeError(spec, "uses", AsStd(uses.status().message()));
  return absl::OkStatus();
}

Status CheckEnv(const config::DeploymentSpec& spec) {
  auto cuda = spec.env.find("CUDA_VISIBLE_DEVICES");
  if (cuda != spec.env.end() && cuda->second.starts_with("RR")) {
    return NodeError(spec, "env.CUDA_VISIBLE_DEVICES",
                     "RR assigns this machine's GPUs round robin and has no meaning in a pod or "
                     "container; give `gpus: N` (GPUs per replica) instead");
  }
  return absl::OkStatus();
}

// Raft ports per shard: `peer_ports` when given, else kDefaultRaftPort for every replica.
StatusOr<std::vector<std::vector<int>>> RaftPorts(const config::DeploymentSpec& spec) {
  std::vector<std::vector<int>> ports;
  for (int shard = 0; shard < spec.shards; ++shard) {
    if (!spec.peer_ports.empty()) {
      ports.push_back(spec.peer_ports[shard]);
    } else {
      ports.emplace_back(spec.replicas, kDefaultRaftPort);
    }
    for (int port : ports.back()) {
      if (port == kReplicaPort) {
        return NodeError(spec, "peer_ports",
                         absl::StrFormat("port %d is the replicas' gRPC port in an export; pick "
                                         "another Raft port",
                                         kReplicaPort));
      }
    }
  }
  return ports;
}

// The token and certificates of the Flow as secret files (ExportPlan::secrets). One token per
// Flow: the gateway checks it and sends it to every Deployment.
Status PlanSecrets(const config::FlowSpec& flow, const std::vector<NodePlan>& nodes,
                   std::map<std::string, SecretFile>& secrets) {
  auto read = [&](const std::string& name, const std::string& path, PemKind kind) -> Status {
    SHOAL_ASSIGN_OR_RETURN(secrets[name].contents, ReadPemFile(path, kind));
    secrets[name].source = std::filesystem::absolute(path).string();
    return absl::OkStatus();
  };
  if (!flow.auth_token.empty()) secrets["token"].contents = flow.auth_token;
  if (!flow.ssl_certfile.empty()) {
    SHOAL_RETURN_IF_ERROR(read("gateway.crt", flow.ssl_certfile, PemKind::kCertificate));
    SHOAL_RETURN_IF_ERROR(read("gateway.key", flow.ssl_keyfile, PemKind::kPrivateKey));
  }
  for (const NodePlan& node : nodes) {
    const config::DeploymentSpec& spec = *node.spec;
    if (spec.auth_token != flow.auth_token) {
      return NodeError(spec, "auth_token",
                       "an export takes one token per Flow: set auth_token under the Flow's "
                       "`with:` (every Executor inherits it) and not per Executor");
    }
    const TlsFiles& tls = spec.internal_tls;
    if (!tls.enabled()) continue;
    if (spec.external) {
      return NodeError(spec, "internal_tls",
                       "an external Executor is not deployed; reach it over grpcs:// instead");
    }
    SHOAL_RETURN_IF_ERROR(read(node.label + ".crt", tls.certfile, PemKind::kCertificate));
    SHOAL_RETURN_IF_ERROR(read(node.label + ".key", tls.keyfile, PemKind::kPrivateKey));
    SHOAL_RETURN_IF_ERROR(read(node.label + ".ca.crt", tls.cafile, PemKind::kCertificate));
  }
  return absl::OkStatus();
}

StatusOr<NodePlan> PlanNode(const config::DeploymentSpec& spec) {
  NodePlan node;
  node.spec = &spec;
  SHOAL_ASSIGN_OR_RETURN(node.label, DnsLabelFor(spec.name, Describe(spec)));
  SHOAL_RETURN_IF_ERROR(CheckUses(spec));
  SHOAL_RETURN_IF_ERROR(CheckEnv(spec));
  SHOAL_ASSIGN_OR_RETURN(node.gpus, ParseGpus(spec));
  if (spec.external) {
    if (!spec.tls_ca_file.empty()) {
      return NodeError(spec, "tls_ca_file",
                       "a local CA file cannot be exported; trust the external Executor's "
                       "certificate through the image's system roots instead");
    }
    SHOAL_ASSIGN_OR_RETURN(std::vector<config::ExternalAddress> addresses,
                           config::ResolveExternalAddresses(spec));
    for (const config::ExternalAddress& address : addresses) {
      node.external_addresses.push_back(
          absl::StrCat(address.tls ? "grpcs://" : "grpc://", address.Target()));
    }
    return node;
  }
  if (spec.stateful) {
    SHOAL_ASSIGN_OR_RETURN(node.raft_ports, RaftPorts(spec));
  }
  return node;
}

StatusOr<std::vector<int>> GatewayPorts(const config::FlowSpec& flow) {
  std::vector<int> ports;
  std::set<int> seen;
  for (size_t i = 0; i < flow.protocols.size(); ++i) {
    int port = i < flow.ports.size() ? flow.ports[i] : 0;
    if (port == 0) port = kDefaultGatewayPort + static_cast<int>(i);
    if (!seen.insert(port).second) {
      return absl::InvalidArgumentError(
          absl::StrFormat("the gateway's port %d is given to two protocols", port));
    }
    ports.push_back(port);
  }
  return ports;
}

}  // namespace

std::string Describe(const config::DeploymentSpec& spec) {
  return absl::StrFormat("Deployment '%s'", spec.name);
}

StatusOr<ExportPlan> PlanExport(const config::FlowSpec& flow, std::string gateway) {
  SHOAL_RETURN_IF_ERROR(config::ValidateFlowSpec(flow));
  ExportPlan plan;
  plan.flow = &flow;
  plan.gateway = std::move(gateway);
  SHOAL_ASSIGN_OR_RETURN(plan.flow_label,
                         DnsLabelFor(flow.name, absl::StrFormat("Flow '%s'", flow.name)));
  SHOAL_ASSIGN_OR_RETURN(plan.gateway_ports, GatewayPorts(flow));
  for (const config::DeploymentSpec& spec : flow.executors) {
    SHOAL_RETURN_IF_ERROR(config::ValidateDeploymentSpec(spec));
    SHOAL_ASSIGN_OR_RETURN(plan.nodes.emplace_back(), PlanNode(spec));
  }
  SHOAL_RETURN_IF_ERROR(PlanSecrets(flow, plan.nodes, plan.secrets));
  return plan;
}

std::string SecretPath(std::string_view file) {
  return absl::StrCat(kSecretsDir, "/", AsAbsl(file));
}

bool NodeServesTls(const NodePlan& node) { return node.spec->internal_tls.enabled(); }

bool GatewayServesTls(const ExportPlan& plan) { return !plan.flow->ssl_certfile.empty(); }

config::FlowSpec FlowOfDeployment(const config::DeploymentSpec& spec) {
  config::FlowSpec flow;
  flow.name = spec.name;
  flow.protocols = {"grpc"};
  flow.ports = {spec.port.value_or(0)};
  // The Deployment's port is the gateway's: its TLS, token and reflection are the gateway's.
  flow.ssl_certfile = spec.ssl_certfile;
  flow.ssl_keyfile = spec.ssl_keyfile;
  flow.auth_token = spec.auth_token;
  flow.reflection = spec.reflection;
  config::DeploymentSpec node = spec;
  node.needs = {config::kGatewayNode};
  node.port.reset();  // the gateway serves it
  flow.executors.push_back(std::move(node));
  return flow;
}

std::string GatewayNameOfDeployment(std::string_view label) {
  return absl::StrCat(AsAbsl(label), "-gateway");
}

std::optional<int> ReplicaMonitoringPort(const config::DeploymentSpec& spec) {
  if (spec.port_monitoring.has_value()) {
    return *spec.port_monitoring != 0 ? *spec.port_monitoring : kDefaultMonitoringPort;
  }
  if (spec.autoscaling && !spec.stateful) return kDefaultMonitoringPort;
  return std::nullopt;
}

std::vector<std::string> ExecutorArgs(const NodePlan& node, const ReplicaArgs& replica) {
  const config::DeploymentSpec& spec = *node.spec;
  std::vector<std::string> args = {"executor", "--uses", spec.uses};
  if (!spec.uses_with.fields().empty()) {
    args.insert(args.end(), {"--uses-with", StructToJson(spec.uses_with)});
  }
  args.insert(args.end(), {"--name", replica.name, "--host", "0.0.0.0", "--port",
                           std::to_string(kReplicaPort)});
  if (replica.workspace) args.insert(args.end(), {"--workspace", kWorkspaceDir});
  if (spec.max_queued_requests > 0) {
    args.insert(args.end(), {"--max-queued-requests", std::to_string(spec.max_queued_requests)});
  }
  for (std::string& flag : config::ReplicaLimitFlags(spec)) args.push_back(std::move(flag));
  if (std::optional<int> port = ReplicaMonitoringPort(spec)) {
    args.insert(args.end(), {"--port-monitoring", std::to_string(*port)});
  }
  if (NodeServesTls(node)) {
    args.insert(args.end(), {"--ssl-certfile", SecretPath(node.label + ".crt"), "--ssl-keyfile",
                             SecretPath(node.label + ".key"), "--ssl-cafile",
                             SecretPath(node.label + ".ca.crt")});
  }
  if (!spec.reflection) args.push_back("--no-reflection");
  if (!spec.stateful) return args;
  args.insert(args.end(), {"--stateful", "--raft-id", replica.raft_id, "--raft-address",
                           absl::StrCat("0.0.0.0:", replica.raft_port), "--raft-advertise",
                           replica.raft_advertise, "--raft-peers", replica.raft_peers});
  if (!replica.raft_join.empty()) args.insert(args.end(), {"--raft-join", replica.raft_join});
  if (NodeServesTls(node)) {  // the Raft members' own connections: mutual TLS, same files
    args.insert(args.end(), {"--raft-tls-certfile", SecretPath(node.label + ".crt"),
                             "--raft-tls-keyfile", SecretPath(node.label + ".key"),
                             "--raft-tls-cafile", SecretPath(node.label + ".ca.crt")});
  }
  if (!spec.raft_configuration.fields().empty()) {
    args.insert(args.end(), {"--raft-configuration", StructToJson(spec.raft_configuration)});
  }
  args.insert(args.end(), {"--read-consistency", spec.read_consistency});
  if (spec.timeout_ready_ms >= 0 &&
      spec.timeout_ready_ms != config::DeploymentSpec().timeout_ready_ms) {
    args.insert(args.end(), {"--timeout-ready", std::to_string(spec.timeout_ready_ms)});
  }
  return args;
}

std::vector<std::string> GatewayArgs(const ExportPlan& plan, std::string_view flow_file,
                                     std::string_view addresses_json) {
  std::vector<std::string> args = {"gateway", "--uses", std::string(flow_file),
                                   "--deployments-addresses", std::string(addresses_json)};
  if (GatewayServesTls(plan)) {
    args.insert(args.end(), {"--ssl-certfile", SecretPath("gateway.crt"), "--ssl-keyfile",
                             SecretPath("gateway.key")});
  }
  if (!plan.flow->reflection) args.push_back("--no-reflection");
  return args;
}

std::string AddressesJson(
    const ExportPlan& plan,
    const std::function<std::vector<std::vector<std::string>>(const NodePlan&)>& addresses) {
  auto list = [](const std::vector<std::string>& items) {
    std::vector<std::string> quoted;
    for (const std::string& item : items) quoted.push_back(JsonString(item));
    return absl::StrCat("[", absl::StrJoin(quoted, ","), "]");
  };
  std::vector<std::string> entries;
  for (const NodePlan& node : plan.nodes) {
    std::string value;
    if (node.spec->external) {
      value = list(node.external_addresses);
    } else {
      std::vector<std::vector<std::string>> shards = addresses(node);
      if (shards.size() == 1) {
        value = list(shards[0]);
      } else {
        std::vector<std::string> lists;
        for (const std::vector<std::string>& shard : shards) lists.push_back(list(shard));
        value = absl::StrCat("[", absl::StrJoin(lists, ","), "]");
      }
    }
    entries.push_back(absl::StrCat(JsonString(node.spec->name), ":", value));
  }
  return absl::StrCat("{", absl::StrJoin(entries, ","), "}");
}

namespace {

// The routing keys of one Deployment, as a Flow YAML item.
YamlNode GatewayNode(const NodePlan& node) {
  const config::DeploymentSpec& spec = *node.spec;
  const config::DeploymentSpec defaults;
  YamlNode item;
  item.Set("name", spec.name);
  if (!spec.external) item.Set("uses", spec.uses);
  item.Set("needs", YamlNode::StringList(spec.needs));
  if (spec.shards != 1) item.Set("shards", spec.shards);
  if (spec.polling_default != defaults.polling_default || !spec.polling.empty()) {
    YamlNode polling;
    polling.Set("*", spec.polling_default);
    for (const auto& [endpoint, value] : spec.polling) polling.Set(endpoint, value);
    item.Set("polling", std::move(polling));
  }
  if (spec.floating) item.Set("floating", true);
  if (spec.no_reduce) item.Set("no_reduce", true);
  if (spec.expose_internal_errors) item.Set("expose_internal_errors", true);
  if (spec.retries != defaults.retries) item.Set("retries", spec.retries);
  if (spec.timeout_send_ms.has_value()) item.Set("timeout_send", *spec.timeout_send_ms);
  if (spec.load_balancing != defaults.load_balancing) {
    item.Set("load_balancing", spec.load_balancing);
  }
  if (!spec.grpc_metadata.empty()) {
    YamlNode metadata;
    for (const auto& [key, value] : spec.grpc_metadata) metadata.Set(key, value);
    item.Set("grpc_metadata", std::move(metadata));
  }
  if (NodeServesTls(node)) {
    // The gateway dials the replicas with the Deployment's certificate, from the Secret.
    YamlNode tls;
    tls.Set("certfile", SecretPath(node.label + ".crt"));
    tls.Set("keyfile", SecretPath(node.label + ".key"));
    tls.Set("cafile", SecretPath(node.label + ".ca.crt"));
    item.Set("internal_tls", std::move(tls));
  }
  return item;
}

}  // namespace

std::string GatewayFlowYaml(const ExportPlan& plan) {
  const config::FlowSpec& flow = *plan.flow;
  YamlNode with;
  with.Set("name", flow.name);
  with.Set("protocols", YamlNode::StringList(flow.protocols));
  YamlNode ports = YamlNode::EmptyList();
  for (int port : plan.gateway_ports) ports.Add(port);
  with.Set("ports", std::move(ports));
  with.Set("host", "0.0.0.0");
  with.Set("prefetch", flow.prefetch);
  if (flow.max_docs_per_request != config::kDefaultMaxDocsPerRequest) {
    with.Set("max_docs_per_request", flow.max_docs_per_request);
  }
  const config::GrpcServerLimits& limits = flow.grpc_server_limits;
  if (limits.max_receive_message_bytes.has_value() || limits.max_send_message_bytes.has_value()) {
    YamlNode options;
    if (limits.max_receive_message_bytes.has_value()) {
      options.Set("grpc.max_receive_message_length", *limits.max_receive_message_bytes);
    }
    if (limits.max_send_message_bytes.has_value()) {
      options.Set("grpc.max_send_message_length", *limits.max_send_message_bytes);
    }
    with.Set("grpc_server_options", std::move(options));
  }
  if (flow.port_monitoring.has_value()) {
    with.Set("port_monitoring",
             *flow.port_monitoring != 0 ? *flow.port_monitoring : kDefaultMonitoringPort);
  }
  YamlNode executors = YamlNode::EmptyList();
  for (const NodePlan& node : plan.nodes) executors.Add(GatewayNode(node));
  YamlNode root;
  root.Set("jtype", "Flow");
  root.Set("with", std::move(with));
  root.Set("executors", std::move(executors));
  return root.Emit();
}

std::vector<std::string> PingCommand(int port) {
  return {"shoal", "ping", absl::StrCat("127.0.0.1:", port)};
}

}  // namespace shoal::exporter
