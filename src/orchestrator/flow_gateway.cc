// FlowGateway: the graph of the routers, then the gateway's servers and metrics.
#include "src/orchestrator/flow_gateway.h"

#include <limits>
#include <map>
#include <utility>

#include "absl/strings/ascii.h"
#include "src/common/log.h"

namespace shoal::orchestrator {

std::vector<gateway::GraphNode> BuildGraph(const config::FlowSpec& spec,
                                           const std::vector<routing::DeploymentRouter*>& routers) {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < spec.executors.size(); ++i) index[spec.executors[i].name] = i;
  std::vector<gateway::GraphNode> nodes;
  for (size_t i = 0; i < spec.executors.size(); ++i) {
    const config::DeploymentSpec& d = spec.executors[i];
    gateway::GraphNode node{.name = d.name, .router = routers[i], .no_reduce = d.no_reduce};
    for (const std::string& need : d.needs) {
      if (need != config::kGatewayNode) node.needs.push_back(index.at(need));
    }
    // A node that needs the gateway and others waits for the others only.
    nodes.push_back(std::move(node));
  }
  return nodes;
}

StatusOr<std::unique_ptr<FlowGateway>> FlowGateway::Start(
    const config::FlowSpec& spec, const std::vector<routing::DeploymentRouter*>& routers) {
  std::unique_ptr<FlowGateway> flow(new FlowGateway());
  flow->name_ = spec.name;
  flow->gateway_ =
      std::make_unique<gateway::Gateway>(BuildGraph(spec, routers), config::EndNode(spec));
  flow->gateway_->Discover(std::chrono::seconds(10));
  for (size_t p = 0; p < spec.protocols.size(); ++p) {
    int port = p < spec.ports.size() ? spec.ports[p] : 0;
    if (absl::AsciiStrToLower(spec.protocols[p]) == "grpc") {
      SHOAL_RETURN_IF_ERROR(flow->StartGrpc(spec, port));
    } else {
      SHOAL_RETURN_IF_ERROR(flow->StartHttp(spec, port));
    }
  }
  if (spec.port_monitoring.has_value()) {
    SHOAL_ASSIGN_OR_RETURN(flow->metrics_, metrics::StartExposer(spec.host, *spec.port_monitoring));
    SHOAL_LOG_INFO("metrics on %s:%d", spec.host, flow->metrics_->port());
  }
  SHOAL_LOG_INFO("Flow '%s' serving %d Executor(s) on %s", spec.name,
                 static_cast<int>(spec.executors.size()), spec.host);
  return flow;
}

Status FlowGateway::StartGrpc(const config::FlowSpec& spec, int port) {
  gateway::GatewayServer::Options options;
  options.host = spec.host;
  options.port = port;
  options.prefetch = spec.prefetch;
  options.name = spec.name + "/gateway";
  const config::GrpcServerLimits& limits = spec.grpc_server_limits;
  options.max_receive_message_bytes =
      limits.max_receive_message_bytes.value_or(options.max_receive_message_bytes);
  options.max_send_message_bytes =
      limits.max_send_message_bytes.value_or(options.max_send_message_bytes);
  options.tls = {
      .certfile = spec.ssl_certfile, .keyfile = spec.ssl_keyfile, .cafile = spec.ssl_cafile};
  options.auth_token = spec.auth_token;
  options.reflection = spec.reflection;
  SHOAL_ASSIGN_OR_RETURN(grpc_, gateway::GatewayServer::Start(gateway_.get(), options));
  ports_.push_back(grpc_->port());
  return absl::OkStatus();
}

Status FlowGateway::StartHttp(const config::FlowSpec& spec, int port) {
  gateway::HttpServer::Options options;
  options.host = spec.host;
  options.port = port;
  options.ssl_certfile = spec.ssl_certfile;
  options.ssl_keyfile = spec.ssl_keyfile;
  options.auth_token = spec.auth_token;
  if (spec.max_docs_per_request > 0) {
    options.max_docs_per_request = static_cast<size_t>(spec.max_docs_per_request);
  } else {
    options.max_docs_per_request = std::numeric_limits<size_t>::max();
  }
  SHOAL_ASSIGN_OR_RETURN(http_, gateway::HttpServer::Start(gateway_.get(), options));
  ports_.push_back(http_->port());
  return absl::OkStatus();
}

void FlowGateway::StopServing(absl::Duration grace) {
  if (grpc_ != nullptr) grpc_->Shutdown(grace);
  if (http_ != nullptr) http_->Shutdown();
  // Floating branches may still be routing: they finish (or fail fast once the replicas are
  // gone) before the routers they use are destroyed.
  if (!gateway_->Drain(grace)) {
    SHOAL_LOG_WARNING("Flow '%s': requests still routing after %s; stopping anyway", name_,
                      absl::FormatDuration(grace));
  }
}

}  // namespace shoal::orchestrator
