// What a Flow is: the gateway's settings and its Deployments with their `needs`, as parsed from
// YAML or built in C++. Plain data, validated once by ValidateFlowSpec.
#ifndef SHOAL_CONFIG_FLOW_SPEC_H_
#define SHOAL_CONFIG_FLOW_SPEC_H_

#include <optional>
#include <string>
#include <vector>

#include "shoal/status.h"
#include "src/config/deployment_spec.h"
#include "src/config/grpc_server_options.h"

namespace shoal::config {

// The name `needs` uses for the gateway (the start of the graph).
inline constexpr char kGatewayNode[] = "gateway";

struct FlowSpec {
  std::string name = "flow";
  // Gateway: one port per protocol ("grpc", "http"), in the order of `protocols`.
  std::vector<std::string> protocols = {"grpc"};
  std::vector<int> ports;  // empty: any free port for each protocol
  std::string host = "0.0.0.0";
  int prefetch = 1000;                 // requests in flight per client stream; 0: no limit
  std::optional<int> port_monitoring;  // Prometheus metrics of the gateway's process
  // The HTTP front end refuses (413) a request with more docs, matches and chunks included;
  // 0: no limit.
  int max_docs_per_request = kDefaultMaxDocsPerRequest;
  GrpcServerLimits grpc_server_limits;  // `grpc_server_options` of the gRPC gateway
  // Jina's ssl_certfile/ssl_keyfile: the gateway serves TLS to clients (both or neither).
  std::string ssl_certfile;
  std::string ssl_keyfile;
  std::string ssl_cafile;  // `shoal gateway --ssl-cafile` only: clients need a certificate
  // `with: auth_token` (also inherited by every Executor): the gateway's calls need it.
  std::string auth_token;
  bool reflection = true;  // `with: reflection` (also inherited)
  // The Deployments, in the order they were added. After parsing, every `needs` is filled:
  // a node without `needs` needs the previous non-floating node (or the gateway).
  std::vector<DeploymentSpec> executors;
  Origin origin;
  std::vector<std::string> warnings;
};

// Unique names (and not "gateway"), every `needs` names an earlier-or-later node or the
// gateway, no node needs itself, no cycle, at least one protocol, ports match protocols; a
// local Executor's `port` (where its replica listens) only with one replica and one shard, and
// no port pinned twice in the Flow. Errors name the node, the key and file:line when known.
Status ValidateFlowSpec(const FlowSpec& spec);

// The node whose answer is the Flow's answer: the last node added that is not floating.
// nullopt for a Flow without Executors.
std::optional<size_t> EndNode(const FlowSpec& spec);

}  // namespace shoal::config

#endif  // SHOAL_CONFIG_FLOW_SPEC_H_
