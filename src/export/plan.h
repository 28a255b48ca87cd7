// What the Kubernetes and docker-compose writers share: a Flow checked for what an export needs
// (names that can be DNS labels, GPU counts, ports, `uses` a container can load), and the command
// lines and gateway configuration both write. Pure functions of the specs.
#ifndef SHOAL_EXPORT_PLAN_H_
#define SHOAL_EXPORT_PLAN_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "shoal/status.h"
#include "src/config/deployment_spec.h"
#include "src/config/flow_spec.h"

namespace shoal::exporter {

// Every replica serves gRPC on this port inside its pod or container (each has its own address).
inline constexpr int kReplicaPort = 8080;
// A stateful shard's Raft port when `peer_ports` does not give one.
inline constexpr int kDefaultRaftPort = 8101;
// The gateway's first protocol when the Flow gives no port; the next protocols take the next.
inline constexpr int kDefaultGatewayPort = 8080;
// A metrics port asked for as 0 ("any free port") becomes this one.
inline constexpr int kDefaultMonitoringPort = 9090;
// Where a replica's workspace is mounted, whatever path the YAML gave for local runs.
inline constexpr char kWorkspaceDir[] = "/workspace";
// Where the Flow's secret files (token, certificates, keys) are mounted, read-only.
inline constexpr char kSecretsDir[] = "/etc/shoal/secrets";

struct GpuRequest {
  int count = 0;     // GPUs per replica
  bool all = false;  // `gpus: all`
};

// One Deployment of the Flow, as the writers need it.
struct NodePlan {
  const config::DeploymentSpec* spec = nullptr;
  std::string label;  // spec->name as a DNS-1123 label ("my_enc" -> "my-enc")
  GpuRequest gpus;
  // Stateful: the Raft port of each shard's replicas, one list per shard (peer_ports, else
  // kDefaultRaftPort for every replica).
  std::vector<std::vector<int>> raft_ports;
  // External: the addresses the gateway dials (nothing is deployed for them).
  std::vector<std::string> external_addresses;
};

// One file of the Flow's secret material.
struct SecretFile {
  std::string contents;
  std::string source;  // the absolute path it was read from; empty for the token
};

struct ExportPlan {
  const config::FlowSpec* flow = nullptr;
  // The Flow's secret material, by file name under kSecretsDir (one Secret per Flow): "token"
  // (the Flow's auth_token, which every process reads from env SHOAL_AUTH_TOKEN), and the files
  // "gateway.crt"/"gateway.key" (ssl_certfile/keyfile) and per Deployment with internal_tls
  // "<label>.crt", "<label>.key", "<label>.ca.crt". Empty: nothing secret.
  std::map<std::string, SecretFile> secrets;
  std::string flow_label;          // the Flow's name as a DNS-1123 label
  std::string gateway;             // the gateway's object / service name
  std::vector<int> gateway_ports;  // one per protocol, in the order of flow->protocols
  std::vector<NodePlan> nodes;     // in the Flow's order
};

// Checks `flow` (ValidateFlowSpec, then what an export needs) and plans it. `gateway` names the
// gateway's objects. Errors name the Deployment and the key.
StatusOr<ExportPlan> PlanExport(const config::FlowSpec& flow, std::string gateway);

// A Deployment alone, as a Flow of that one node behind a gateway that serves the Deployment's
// port (kDefaultGatewayPort when it has none). The gateway is named "<deployment>-gateway".
config::FlowSpec FlowOfDeployment(const config::DeploymentSpec& spec);
std::string GatewayNameOfDeployment(std::string_view label);

// A file under kSecretsDir ("/etc/shoal/secrets/token").
std::string SecretPath(std::string_view file);
// Whether the container serving this node / the gateway speaks TLS (probes cannot `shoal ping`
// it by 127.0.0.1 against a certificate issued for the pod's names).
bool NodeServesTls(const NodePlan& node);
bool GatewayServesTls(const ExportPlan& plan);

// One replica's `shoal executor` arguments (after the program name).
struct ReplicaArgs {
  std::string name;        // --name
  bool workspace = false;  // --workspace kWorkspaceDir
  // Stateful replicas only.
  std::string raft_id;
  int raft_port = 0;           // listens on 0.0.0.0:raft_port
  std::string raft_advertise;  // host:port the other members dial
  std::string raft_peers;      // id=host:port,...
  std::string raft_join;       // gRPC host:port of the first members, for members added later
};
std::vector<std::string> ExecutorArgs(const NodePlan& node, const ReplicaArgs& replica);
// The port a replica serves its metrics on: port_monitoring (0: the default), else the
// default for an autoscaled Deployment (its HPA reads shoal_replica_in_flight); else none.
std::optional<int> ReplicaMonitoringPort(const config::DeploymentSpec& spec);

// The gateway's `shoal gateway` arguments (after the program name).
std::vector<std::string> GatewayArgs(const ExportPlan& plan, std::string_view flow_file,
                                     std::string_view addresses_json);

// The gateway's --deployments-addresses: {"name": ["addr", ...]} per Deployment of one shard,
// {"name": [["addr", ...], ...]} (one list per shard) for a sharded one; external Deployments
// list their own addresses. `addresses(node)` gives the addresses of a deployed node per shard.
std::string AddressesJson(
    const ExportPlan& plan,
    const std::function<std::vector<std::vector<std::string>>(const NodePlan&)>& addresses);

// The Flow YAML the gateway loads: its protocols and ports, and per Deployment the keys the
// gateway routes with (needs, polling, shards, retries, timeouts, ...) but nothing it would spawn.
std::string GatewayFlowYaml(const ExportPlan& plan);

// `shoal ping 127.0.0.1:<port>`: every health check and probe.
std::vector<std::string> PingCommand(int port);

// "the Deployment 'x'", for errors.
std::string Describe(const config::DeploymentSpec& spec);

}  // namespace shoal::exporter

#endif  // SHOAL_EXPORT_PLAN_H_
