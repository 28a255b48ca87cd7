// The docker-compose writer: one service per replica from the ExportPlan, the gateway last.
// Compose interpolates `$` in every string, so each string written goes through Escape().
#include "src/export/docker_compose.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "src/common/strings.h"
#include "src/config/deployment_spec.h"
#include "src/export/names.h"
#include "src/export/plan.h"
#include "src/export/yaml_writer.h"

namespace shoal::exporter {
namespace {

// The gateway container writes the Flow from its environment to this file, then loads it.
constexpr char kGatewayFlowFile[] = "/tmp/flow.yml";

std::string Escape(std::string_view text) {
  return absl::StrReplaceAll(AsAbsl(text), {{"$", "$$"}});
}

YamlNode EscapedList(const std::vector<std::string>& items) {
  YamlNode list = YamlNode::EmptyList();
  for (const std::string& item : items) list.Add(Escape(item));
  return list;
}

// One replica's service, as Jina names them.
std::string ServiceName(const NodePlan& node, int shard, int replica) {
  std::string name = node.label;
  if (node.spec->shards > 1) absl::StrAppend(&name, "-", shard);
  if (node.spec->replicas > 1) absl::StrAppend(&name, "-rep-", replica);
  return name;
}

// The replica's name in logs and `served_by`, as a local run names it.
std::string ReplicaName(const config::DeploymentSpec& spec, int shard, int replica) {
  if (spec.shards > 1) return absl::StrCat(spec.name, "/shard-", shard, "/rep-", replica);
  return absl::StrCat(spec.name, "/rep-", replica);
}

YamlNode HealthCheck(int port) {
  std::vector<std::string> test = {"CMD"};
  for (std::string& part : PingCommand(port)) test.push_back(std::move(part));
  YamlNode check;
  check.Set("test", EscapedList(test));
  check.Set("interval", "2s");
  check.Set("timeout", "5s");
  check.Set("retries", 3);
  return check;
}

YamlNode GpuReservation(const GpuRequest& gpus) {
  YamlNode device;
  device.Set("driver", "nvidia");
  if (gpus.all) {
    device.Set("count", "all");
  } else {
    device.Set("count", gpus.count);
  }
  device.Set("capabilities", YamlNode::StringList({"gpu"}));
  YamlNode devices = YamlNode::EmptyList();
  devices.Add(std::move(device));
  YamlNode reservations;
  reservations.Set("devices", std::move(devices));
  YamlNode resources;
  resources.Set("reservations", std::move(reservations));
  YamlNode deploy;
  deploy.Set("resources", std::move(resources));
  return deploy;
}

class Writer {
 public:
  Writer(const ExportPlan& plan, const ComposeOptions& options) : plan_(plan), options_(options) {}

  StatusOr<std::string> Write();

 private:
  Status AddNode(const NodePlan& node);
  Status AddGateway();
  // SHOAL_AUTH_TOKEN from the environment of `docker compose up`, when the Flow has a token.
  void AddToken(YamlNode& environment) const;
  // The secret `files` (ExportPlan::secrets) mounted read-only from where they were read.
  void MountSecrets(YamlNode& volumes, const std::vector<std::string>& files) const;
  YamlNode Service(std::vector<std::string> command) const;

  const ExportPlan& plan_;
  const ComposeOptions& options_;
  NameRegistry names_;
  YamlNode services_;
  YamlNode volumes_;
  std::vector<std::string> replica_services_;  // what the gateway depends on
};

YamlNode Writer::Service(std::vector<std::string> command) const {
  YamlNode service;
  service.Set("image", Escape(options_.image));
  service.Set("command", EscapedList(command));
  return service;
}

void Writer::AddToken(YamlNode& environment) const {
  // The token comes from the environment `docker compose up` runs in, never from this file.
  if (plan_.secrets.contains("token")) {
    environment.Set("SHOAL_AUTH_TOKEN",
                    "${SHOAL_AUTH_TOKEN:?set SHOAL_AUTH_TOKEN to the Flow's auth_token}");
  }
}

void Writer::MountSecrets(YamlNode& volumes, const std::vector<std::string>& files) const {
  for (const std::string& file : files) {
    auto it = plan_.secrets.find(file);
    if (it == plan_.secrets.end()) continue;
    volumes.Add(Escape(absl::StrCat(it->second.source, ":", SecretPath(file), ":ro")));
  }
}

Status Writer::AddNode(const NodePlan& node) {
  const config::DeploymentSpec& spec = *node.spec;
  for (int shard = 0; shard < spec.shards; ++shard) {
    std::vector<std::string> peers;
    if (spec.stateful) {
      for (int replica = 0; replica < spec.replicas; ++replica) {
        const std::string service = ServiceName(node, shard, replica);
        peers.push_back(absl::StrCat(service, "=", service, ":", node.raft_ports[shard][replica]));
      }
    }
    for (int replica = 0; replica < spec.replicas; ++replica) {
      const std::string name = ServiceName(node, shard, replica);
      SHOAL_RETURN_IF_ERROR(names_.Claim(
          name, absl::StrCat(Describe(spec), " (shard ", shard, ", replica ", replica, ")")));
      ReplicaArgs args{.name = ReplicaName(spec, shard, replica),
                       .workspace = spec.stateful || !spec.workspace.empty()};
      if (spec.stateful) {
        args.raft_id = name;
        args.raft_port = node.raft_ports[shard][replica];
        args.raft_advertise = absl::StrCat(name, ":", args.raft_port);
        args.raft_peers = absl::StrJoin(peers, ",");
      }
      std::vector<std::string> command = {"shoal"};
      for (std::string& arg : ExecutorArgs(node, args)) command.push_back(std::move(arg));
      YamlNode service = Service(std::move(command));
      YamlNode environment;
      for (const auto& [key, value] : spec.env) environment.Set(key, Escape(value));
      for (const auto& [key, value] : config::ReplicaEnvDefaults(spec.env, /*inherited=*/false)) {
        environment.Set(key, Escape(value));
      }
      AddToken(environment);
      service.Set("environment", std::move(environment));
      YamlNode volumes = YamlNode::EmptyList();
      if (args.workspace) {
        const std::string volume = absl::StrCat(name, "-workspace");
        SHOAL_RETURN_IF_ERROR(names_.Claim(volume, absl::StrCat("the workspace of ", name)));
        volumes_.Set(volume, YamlNode());
        volumes.Add(absl::StrCat(volume, ":", kWorkspaceDir));
      }
      MountSecrets(volumes, {node.label + ".crt", node.label + ".key", node.label + ".ca.crt"});
      if (!volumes.empty_collection()) service.Set("volumes", std::move(volumes));
      // A TLS replica's certificate names its service, not 127.0.0.1: no `shoal ping` check.
      if (!NodeServesTls(node)) service.Set("healthcheck", HealthCheck(kReplicaPort));
      if (node.gpus.all || node.gpus.count > 0) service.Set("deploy", GpuReservation(node.gpus));
      service.Set("networks", YamlNode::StringList({options_.network}));
      services_.Set(name, std::move(service));
      replica_services_.push_back(name);
    }
  }
  return absl::OkStatus();
}

Status Writer::AddGateway() {
  const std::string& name = plan_.gateway;
  SHOAL_RETURN_IF_ERROR(names_.Claim(name, "the gateway"));
  const std::string addresses = AddressesJson(plan_, [&](const NodePlan& node) {
    std::vector<std::vector<std::string>> shards(node.spec->shards);
    for (int shard = 0; shard < node.spec->shards; ++shard) {
      for (int replica = 0; replica < node.spec->replicas; ++replica) {
        shards[shard].push_back(absl::StrCat(ServiceName(node, shard, replica), ":", kReplicaPort));
      }
    }
    return shards;
  });
  // The Flow travels in the environment (a compose file holds no other files); a shell writes it
  // out for `shoal gateway --uses`. `$$` is compose's escape for the shell's `$`.
  std::vector<std::string> args = GatewayArgs(plan_, kGatewayFlowFile, "");
  args.erase(args.begin(), args.begin() + 5);  // the TLS flags after the addresses
  const std::string script = absl::StrCat(
      "printenv SHOAL_FLOW_YAML > ", kGatewayFlowFile, " && exec shoal gateway --uses ",
      kGatewayFlowFile, " --deployments-addresses \"$$SHOAL_DEPLOYMENTS_ADDRESSES\"",
      args.empty() ? "" : " ", absl::StrJoin(args, " "));
  YamlNode service;
  service.Set("image", Escape(options_.image));
  service.Set("command", YamlNode::StringList({"sh", "-c", script}));
  YamlNode environment;
  environment.Set("SHOAL_FLOW_YAML", Escape(GatewayFlowYaml(plan_)));
  environment.Set("SHOAL_DEPLOYMENTS_ADDRESSES", Escape(addresses));
  AddToken(environment);
  service.Set("environment", std::move(environment));
  YamlNode volumes = YamlNode::EmptyList();
  MountSecrets(volumes, {"gateway.crt", "gateway.key"});
  for (const NodePlan& node : plan_.nodes) {
    // The gateway dials TLS replicas with their Deployment's certificate.
    if (NodeServesTls(node)) {
      MountSecrets(volumes, {node.label + ".crt", node.label + ".key", node.label + ".ca.crt"});
    }
  }
  if (!volumes.empty_collection()) service.Set("volumes", std::move(volumes));
  YamlNode ports = YamlNode::EmptyList();
  for (int port : plan_.gateway_ports) ports.Add(absl::StrCat(port, ":", port));
  service.Set("ports", std::move(ports));
  const std::vector<std::string>& protocols = plan_.flow->protocols;
  auto grpc = std::find(protocols.begin(), protocols.end(), "grpc");
  if (grpc != protocols.end() && !GatewayServesTls(plan_)) {
    service.Set("healthcheck", HealthCheck(plan_.gateway_ports[grpc - protocols.begin()]));
  }
  if (!replica_services_.empty()) {
    service.Set("depends_on", YamlNode::StringList(replica_services_));
  }
  service.Set("networks", YamlNode::StringList({options_.network}));
  services_.Set(name, std::move(service));
  return absl::OkStatus();
}

StatusOr<std::string> Writer::Write() {
  if (!IsDnsLabel(options_.network)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "network '%s' is not a valid name (lowercase letters, digits and '-')", options_.network));
  }
  if (options_.image.empty()) return absl::InvalidArgumentError("the image name is empty");
  for (const NodePlan& node : plan_.nodes) {
    if (!node.spec->external) SHOAL_RETURN_IF_ERROR(AddNode(node));
  }
  SHOAL_RETURN_IF_ERROR(AddGateway());
  YamlNode driver;
  driver.Set("driver", "bridge");
  YamlNode networks;
  networks.Set(options_.network, std::move(driver));
  YamlNode root;
  // 3.8: the first file format with GPU device reservations.
  root.Set("version", "3.8");
  root.Set("services", std::move(services_));
  root.Set("networks", std::move(networks));
  if (!volumes_.empty_collection()) root.Set("volumes", std::move(volumes_));
  return root.Emit();
}

StatusOr<std::string> Export(const config::FlowSpec& flow, std::string gateway,
                             const ComposeOptions& options) {
  SHOAL_ASSIGN_OR_RETURN(ExportPlan plan, PlanExport(flow, std::move(gateway)));
  return Writer(plan, options).Write();
}

}  // namespace

StatusOr<std::string> ToDockerCompose(const config::FlowSpec& flow, const ComposeOptions& options) {
  return Export(flow, "gateway", options);
}

StatusOr<std::string> ToDockerCompose(const config::DeploymentSpec& deployment,
                                      const ComposeOptions& options) {
  SHOAL_ASSIGN_OR_RETURN(std::string label, DnsLabelFor(deployment.name, Describe(deployment)));
  return Export(FlowOfDeployment(deployment), GatewayNameOfDeployment(label), options);
}

}  // namespace shoal::exporter
