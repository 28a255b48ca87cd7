// A Flow's gateway over its Deployments' routers: the graph, its gRPC and/or HTTP servers and
// the Flow's metrics. Whoever runs the Deployments (LocalFlow, or a gateway alone over
// Deployments that run elsewhere) owns the routers; they outlive the FlowGateway.
#ifndef SHOAL_ORCHESTRATOR_FLOW_GATEWAY_H_
#define SHOAL_ORCHESTRATOR_FLOW_GATEWAY_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "src/config/flow_spec.h"
#include "src/gateway/gateway.h"
#include "src/gateway/gateway_server.h"
#include "src/gateway/http_server.h"
#include "src/metrics/exposer.h"
#include "src/routing/deployment_router.h"

namespace shoal::orchestrator {

// The gateway's graph over started Deployments (in spec order): needs -> node indices.
std::vector<gateway::GraphNode> BuildGraph(const config::FlowSpec& spec,
                                           const std::vector<routing::DeploymentRouter*>& routers);

// Thread-safe.
class FlowGateway {
 public:
  // `routers`: one per spec.executors, in that order.
  static StatusOr<std::unique_ptr<FlowGateway>> Start(
      const config::FlowSpec& spec, const std::vector<routing::DeploymentRouter*>& routers);

  // The port of each protocol, in the order of spec.protocols.
  const std::vector<int>& ports() const { return ports_; }
  int grpc_port() const { return grpc_ != nullptr ? grpc_->port() : 0; }
  int http_port() const { return http_ != nullptr ? http_->port() : 0; }
  // Stops taking requests, then waits up to `grace` for those routing (warns when some are
  // still routing then).
  void StopServing(absl::Duration grace);
  // Waits up to `timeout` for requests still routing; false when some still are.
  bool Drain(absl::Duration timeout) { return gateway_->Drain(timeout); }

 private:
  FlowGateway() = default;
  Status StartGrpc(const config::FlowSpec& spec, int port);
  Status StartHttp(const config::FlowSpec& spec, int port);

  std::string name_;
  std::unique_ptr<gateway::Gateway> gateway_;
  std::unique_ptr<gateway::GatewayServer> grpc_;
  std::unique_ptr<gateway::HttpServer> http_;
  std::unique_ptr<metrics::Exposer> metrics_;
  std::vector<int> ports_;
};

}  // namespace shoal::orchestrator

#endif  // SHOAL_ORCHESTRATOR_FLOW_GATEWAY_H_
